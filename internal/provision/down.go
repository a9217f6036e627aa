package provision

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/burstdev/burst/internal/progress"
	"github.com/burstdev/burst/internal/provider"
	"github.com/burstdev/burst/pkg/spec"
)

// Down terminates every machine of the cluster on the providers, waits
// until they are gone, and removes the cluster's shared resources. A
// provider that can remove a whole cluster in one operation
// (provider.ClusterRemover) does that instead, once an observation has
// said what it removes. An independent preparer's shared resources
// (provider.IndependentPreparer) are removed from the start, beside the
// observation and the termination of its machines; an early cleaner's
// (provider.EarlyCleaner) early part runs there too, and its Cleanup
// after.
func (e *Engine) Down(ctx context.Context, cluster string, providers []string) (*Result, error) {
	e.defaults()
	res := &Result{Cluster: cluster, Providers: providers}
	var removers, rest, early, ahead []string
	for _, name := range providers {
		p, err := e.Provider(ctx, name)
		if err != nil {
			return res, err
		}
		if _, ok := p.(provider.ClusterRemover); ok {
			removers = append(removers, name)
			continue
		}
		rest = append(rest, name)
		if ip, ok := p.(provider.IndependentPreparer); ok && ip.Independent() {
			early = append(early, name)
		} else if _, ok := p.(provider.EarlyCleaner); ok {
			ahead = append(ahead, name)
		}
	}
	cleanupErr := make(chan error, 1)
	go func() {
		cleanupErr <- provider.Parallel(len(early), 0, func(i int) error {
			p, err := e.Provider(ctx, early[i])
			if err != nil {
				return err
			}
			return e.cleanup(ctx, cluster, early[i], p.(provider.Preparer))
		})
	}()
	aheadErr := make(chan error, 1)
	go func() {
		aheadErr <- provider.Parallel(len(ahead), 0, func(i int) error {
			p, err := e.Provider(ctx, ahead[i])
			if err != nil {
				return err
			}
			if err := e.retry(ctx, cluster, "starting the clean-up on "+ahead[i], func() error {
				return p.(provider.EarlyCleaner).CleanupEarly(ctx, cluster, nil)
			}); err != nil {
				return fmt.Errorf("%s: starting the clean-up of the cluster's network and keys: %w", ahead[i], err)
			}
			return nil
		})
	}()
	// The early parts end before any Cleanup starts; a failed one stops
	// the clean-ups, not the termination.
	waitAhead := sync.OnceValue(func() error { return <-aheadErr })
	// Whatever happens below, the clean-ups started above have ended when
	// Down returns; the first failure is the answer.
	err := e.downObserved(ctx, res, cluster, providers, removers, rest, early, waitAhead)
	if aerr := waitAhead(); err == nil {
		err = aerr
	}
	if cerr := <-cleanupErr; err == nil {
		err = cerr
	}
	return res, err
}

// downObserved observes the cluster, then removes it from the removers
// beside the termination of the other providers' machines, and counts in
// res.Terminated the machines of what succeeded. The shared resources of
// the providers named in cleaned are removed elsewhere; the others' once
// ahead (the early clean-ups) has returned nil.
func (e *Engine) downObserved(ctx context.Context, res *Result, cluster string, providers, removers, rest, cleaned []string, ahead func() error) error {
	// What is removed or terminated needs only the machines' IDs and
	// whether they have ended.
	obs, err := e.observeFilter(ctx, cluster, providers, provider.Filter{Live: true, Brief: true})
	if err != nil {
		return err
	}
	var targets []provider.Machine
	removed := map[string][]provider.Machine{}
	for _, m := range obs.all {
		if m.State == provider.Terminated {
			continue
		}
		if slices.Contains(removers, m.Provider) {
			removed[m.Provider] = append(removed[m.Provider], m)
		} else {
			targets = append(targets, m)
		}
	}
	removeErr := make(chan error, 1)
	go func() { removeErr <- e.removeClusters(ctx, cluster, removers, removed) }()
	restErr := e.downRest(ctx, cluster, rest, targets, cleaned, ahead)
	if restErr == nil {
		res.Terminated += len(targets)
	}
	err = <-removeErr
	if err == nil {
		for _, ms := range removed {
			res.Terminated += len(ms)
		}
	}
	if restErr != nil {
		return restErr
	}
	return err
}

// removeClusters removes the cluster from each provider that can in one
// operation, side by side; the first failure, in provider order, is the
// answer.
func (e *Engine) removeClusters(ctx context.Context, cluster string, names []string, machines map[string][]provider.Machine) error {
	return provider.Parallel(len(names), 0, func(i int) error {
		name := names[i]
		p, err := e.Provider(ctx, name)
		if err != nil {
			return err
		}
		ms := machines[name]
		e.emit(progress.Event{Type: progress.TypeTerminate, Cluster: cluster, Provider: name, Count: len(ms), IDs: machineIDs(ms),
			Message: fmt.Sprintf("removing cluster %s from %s (%s)", cluster, name, plural(len(ms), "machine"))})
		rm := p.(provider.ClusterRemover)
		if err := e.retry(ctx, cluster, "removing the cluster from "+name, func() error { return rm.RemoveCluster(ctx, cluster, nil) }); err != nil {
			return fmt.Errorf("%s: removing the cluster: %w", name, err)
		}
		return nil
	})
}

// cleanup removes one provider's shared resources of the cluster.
func (e *Engine) cleanup(ctx context.Context, cluster, name string, pr provider.Preparer) error {
	if err := e.retry(ctx, cluster, "removing the cluster's network on "+name, func() error { return pr.Cleanup(ctx, cluster, nil) }); err != nil {
		return fmt.Errorf("%s: removing the cluster's network and keys: %w", name, err)
	}
	return nil
}

// downRest terminates the machines of providers that cannot remove a
// cluster in one operation, waits until they are gone, and cleans up once
// ahead (the early clean-ups) has returned nil. The shared resources of
// the providers named in cleaned are removed elsewhere.
func (e *Engine) downRest(ctx context.Context, cluster string, providers []string, targets []provider.Machine, cleaned []string, ahead func() error) error {
	if len(providers) == 0 {
		return nil
	}
	if err := e.terminate(ctx, cluster, targets, "down"); err != nil {
		return err
	}
	deadline := e.Now().Add(e.WaitTimeout)
	for len(targets) > 0 {
		obs, err := e.observe(ctx, cluster, providers)
		if err != nil {
			return err
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
			return fmt.Errorf("%d machines still shutting down after %s; run burst down again", left, e.WaitTimeout)
		}
		if err := e.Sleep(ctx, e.PollInterval); err != nil {
			return err
		}
	}
	if err := ahead(); err != nil {
		return err
	}
	for _, name := range providers {
		p, err := e.Provider(ctx, name)
		if err != nil {
			return err
		}
		if pr, ok := p.(provider.Preparer); ok && !slices.Contains(cleaned, name) {
			if err := e.cleanup(ctx, cluster, name, pr); err != nil {
				return err
			}
		}
	}
	return nil
}

// Status observes the cluster.
func (e *Engine) Status(ctx context.Context, cluster string, providers []string) (*Result, error) {
	e.defaults()
	res := &Result{Cluster: cluster, Providers: providers}
	// Status shows ended machines too (a reclaimed spot worker, say).
	obs, err := e.observeFilter(ctx, cluster, providers, provider.Filter{})
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
		e.emit(progress.Event{Type: progress.TypeTerminate, Cluster: cluster, Provider: name, Count: len(batch), IDs: machineIDs(batch),
			Message: fmt.Sprintf("terminating %s on %s (%s)", plural(len(batch), "machine"), name, why)})
		if err := e.retry(ctx, cluster, "terminating on "+name, func() error { return p.Terminate(ctx, batch) }); err != nil {
			return fmt.Errorf("%s: terminate: %w", name, err)
		}
	}
	return nil
}

// machineIDs returns the machines' IDs, in order.
func machineIDs(ms []provider.Machine) []string {
	ids := make([]string, len(ms))
	for i, m := range ms {
		ids[i] = m.ID
	}
	return ids
}
