package gcp

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"cloud.google.com/go/compute/apiv1/computepb"
	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"

	"github.com/burstdev/burst/internal/provider"
)

// Terminate implements provider.Provider. GCE has no bulk delete, so each
// machine is one instances.delete, run by a pool of workers under a
// client-side limiter sized to the project's per-minute write quota
// (Options.MutationsPerMinute). Running and stopped (TERMINATED) machines
// are deleted alike; a machine already gone (404) is not an error. It
// returns once GCE accepted every delete; the machines show STOPPING until
// they are gone.
func (p *Provider) Terminate(ctx context.Context, ms []provider.Machine) error {
	if len(ms) == 0 {
		return nil
	}
	if err := p.init(ctx); err != nil {
		return err
	}
	targets, err := p.resolveZones(ctx, ms)
	if err != nil {
		return err
	}
	jobs := make(chan provider.Machine)
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	for w := 0; w < min(p.opts.DeleteWorkers, len(targets)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for m := range jobs {
				if err := p.deleteOne(ctx, m); err != nil {
					mu.Lock()
					errs = append(errs, fmt.Errorf("%s: %w", m.ID, err))
					mu.Unlock()
				}
			}
		}()
	}
	for _, m := range targets {
		select {
		case jobs <- m:
		case <-ctx.Done():
		}
	}
	close(jobs)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	return errors.Join(errs...)
}

// deleteOne deletes one machine. Its requestId is random but kept across
// retries, so a repeated call is the same request; a fixed one per name
// could make GCE ignore the delete of a later machine of the same name.
func (p *Provider) deleteOne(ctx context.Context, m provider.Machine) error {
	rid := uuid.NewString()
	if err := p.waitMutation(ctx); err != nil {
		return err
	}
	err := p.do(ctx, "instances.delete", func(ctx context.Context) error {
		_, err := p.c.instances.Delete(ctx, &computepb.DeleteInstanceRequest{
			Project: p.project, Zone: m.Zone, Instance: m.ID, RequestId: proto.String(rid),
		}, noRetry)
		return err
	})
	if errors.Is(err, provider.ErrNotFound) {
		return nil
	}
	return err
}

// resolveZones fills in the zone of machines that lack one (an ID from
// elsewhere) by name; machines that cannot be found are gone already.
func (p *Provider) resolveZones(ctx context.Context, ms []provider.Machine) ([]provider.Machine, error) {
	var out []provider.Machine
	for _, m := range ms {
		if m.Zone != "" {
			out = append(out, m)
			continue
		}
		if !validName(m.ID) {
			continue // not a GCE instance name, so not a GCE instance
		}
		found, err := p.list(ctx, fmt.Sprintf(`name = "%s"`, m.ID))
		if err != nil {
			return nil, err
		}
		out = append(out, found...)
	}
	return out, nil
}

func validName(s string) bool {
	if s == "" || len(s) > 63 || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for _, r := range s {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '-' {
			return false
		}
	}
	return s[len(s)-1] != '-'
}

// waitMutation takes a token from the client-side write limiter, waiting
// on the injected clock.
func (p *Provider) waitMutation(ctx context.Context) error {
	now := p.opts.Now()
	r := p.mutations.ReserveN(now, 1)
	if !r.OK() {
		return fmt.Errorf("gcp: write limiter refuses a request")
	}
	if d := r.DelayFrom(now); d > 0 {
		return p.opts.Sleep(ctx, d)
	}
	return nil
}
