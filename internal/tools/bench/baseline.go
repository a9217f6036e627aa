package main

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/burstdev/burst/internal/provider"
)

// baselineInFlight is how many calls the per-machine baseline keeps in
// flight, as per-VM tools do with a thread pool.
const baselineInFlight = 10

// perMachine is the baseline client: the same provider, but every Launch
// asks for one machine (Limits{MaxPerLaunch: 1, MaxInFlight: 10}) and
// Terminate ends one machine per call with 10 calls in flight. That is how
// per-VM tools work (dask-cloudprovider's VMCluster creates one VM per
// worker; Ray's cluster launcher calls the cloud per node). Everything
// else (prepare, preflight, observation) is the provider's own, so the
// difference to burst is the bulk calls alone.
type perMachine struct {
	provider.Provider
}

var (
	_ provider.Limiter     = perMachine{}
	_ provider.Preparer    = perMachine{}
	_ provider.Preflighter = perMachine{}
)

// Limits implements provider.Limiter.
func (p perMachine) Limits() provider.Limits {
	return provider.Limits{MaxPerLaunch: 1, MaxInFlight: baselineInFlight}
}

// Terminate implements provider.Provider: one call per machine. A call the
// cloud throttled past the provider's own retries is tried again after a
// pause (1 s, doubling to 30 s), as a per-VM tool's retry loop would:
// handing the throttle up would make the engine terminate every machine
// again.
func (p perMachine) Terminate(ctx context.Context, ms []provider.Machine) error {
	errs := make([]error, len(ms))
	sem := make(chan struct{}, baselineInFlight)
	var wg sync.WaitGroup
	for i, m := range ms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			for pause := time.Second; ; pause = min(2*pause, 30*time.Second) {
				errs[i] = p.Provider.Terminate(ctx, []provider.Machine{m})
				if !errors.Is(errs[i], provider.ErrThrottled) || ctx.Err() != nil {
					return
				}
				select {
				case <-ctx.Done():
					return
				case <-time.After(pause):
				}
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Prepare implements provider.Preparer when the provider does.
func (p perMachine) Prepare(ctx context.Context, req provider.PrepareRequest) error {
	if pr, ok := p.Provider.(provider.Preparer); ok {
		return pr.Prepare(ctx, req)
	}
	return nil
}

// Cleanup implements provider.Preparer when the provider does.
func (p perMachine) Cleanup(ctx context.Context, cluster string, regions []string) error {
	if pr, ok := p.Provider.(provider.Preparer); ok {
		return pr.Cleanup(ctx, cluster, regions)
	}
	return nil
}

// Preflight implements provider.Preflighter when the provider does.
func (p perMachine) Preflight(ctx context.Context, req provider.PreflightRequest) error {
	if pf, ok := p.Provider.(provider.Preflighter); ok {
		return pf.Preflight(ctx, req)
	}
	return nil
}
