package provision

import (
	"context"
	"fmt"

	"github.com/burstdev/burst/internal/progress"
	"github.com/burstdev/burst/internal/provider"
	"github.com/burstdev/burst/pkg/spec"
)

// Down terminates every machine of the cluster on the providers, waits
// until they are gone, and removes the cluster's shared resources.
func (e *Engine) Down(ctx context.Context, cluster string, providers []string) (*Result, error) {
	e.defaults()
	res := &Result{Cluster: cluster, Providers: providers}
	obs, err := e.observe(ctx, cluster, providers)
	if err != nil {
		return res, err
	}
	var targets []provider.Machine
	for _, m := range obs.all {
		if m.State != provider.Terminated {
			targets = append(targets, m)
		}
	}
	if err := e.terminate(ctx, cluster, targets, "down"); err != nil {
		return res, err
	}
	res.Terminated = len(targets)
	deadline := e.Now().Add(e.WaitTimeout)
	for len(targets) > 0 {
		obs, err = e.observe(ctx, cluster, providers)
		if err != nil {
			return res, err
		}
		left := 0
		for _, m := range obs.all {
			if m.State != provider.Terminated && m.State != provider.Stopped {
				left++
			}
		}
		e.emit(progress.Event{Type: progress.TypeWait, Cluster: cluster, Ready: len(targets) - left, Total: len(targets), Message: "machines terminated"})
		if left == 0 {
			break
		}
		if e.Now().After(deadline) {
			return res, fmt.Errorf("%d machines still shutting down after %s; run burst down again", left, e.WaitTimeout)
		}
		if err := e.Sleep(ctx, e.PollInterval); err != nil {
			return res, err
		}
	}
	for _, name := range providers {
		p, err := e.Provider(ctx, name)
		if err != nil {
			return res, err
		}
		if pr, ok := p.(provider.Preparer); ok {
			if err := e.retry(ctx, cluster, "removing the cluster's network on "+name, func() error { return pr.Cleanup(ctx, cluster, nil) }); err != nil {
				return res, fmt.Errorf("%s: removing the cluster's network and keys: %w", name, err)
			}
		}
	}
	return res, nil
}

// Status observes the cluster.
func (e *Engine) Status(ctx context.Context, cluster string, providers []string) (*Result, error) {
	e.defaults()
	res := &Result{Cluster: cluster, Providers: providers}
	obs, err := e.observe(ctx, cluster, providers)
	if err != nil {
		return res, err
	}
	res.Machines = obs.all
	if heads := obs.live(spec.RoleHead); len(heads) > 0 {
		res.Head = &heads[0]
		res.SchedulerAddress, res.DashboardAddress = Addresses(heads[0])
	}
	return res, nil
}

func (e *Engine) terminate(ctx context.Context, cluster string, ms []provider.Machine, why string) error {
	byProvider := map[string][]provider.Machine{}
	var names []string
	for _, m := range ms {
		if _, ok := byProvider[m.Provider]; !ok {
			names = append(names, m.Provider)
		}
		byProvider[m.Provider] = append(byProvider[m.Provider], m)
	}
	for _, name := range names {
		p, err := e.Provider(ctx, name)
		if err != nil {
			return err
		}
		batch := byProvider[name]
		ids := make([]string, len(batch))
		for i, m := range batch {
			ids[i] = m.ID
		}
		e.emit(progress.Event{Type: progress.TypeTerminate, Cluster: cluster, Provider: name, Count: len(batch), IDs: ids,
			Message: fmt.Sprintf("terminating %s on %s (%s)", plural(len(batch), "machine"), name, why)})
		if err := e.retry(ctx, cluster, "terminating on "+name, func() error { return p.Terminate(ctx, batch) }); err != nil {
			return fmt.Errorf("%s: terminate: %w", name, err)
		}
	}
	return nil
}
