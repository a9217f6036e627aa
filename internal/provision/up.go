package provision

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/burstdev/burst/internal/bootstrap"
	"github.com/burstdev/burst/internal/plan"
	"github.com/burstdev/burst/internal/progress"
	"github.com/burstdev/burst/internal/provider"
	"github.com/burstdev/burst/pkg/spec"
)

// upRounds bounds how often Up reconciles again when machines ended while
// it waited for them (a spot reclaim, a machine that never started).
const upRounds = 3

// Up reconciles the cluster to the plan: one head, c.Workers.Count workers.
// When it waits and machines end while it does, it reconciles again, so it
// returns with the asked count or an error saying what is missing.
func (e *Engine) Up(ctx context.Context, c *spec.Cluster, pl *plan.Plan, wait WaitMode) (*Result, error) {
	e.defaults()
	launched, terminated := 0, 0
	for round := 1; ; round++ {
		res, err := e.upOnce(ctx, c, pl, wait, round == 1)
		launched += res.Launched
		terminated += res.Terminated
		res.Launched, res.Terminated = launched, terminated
		if err != nil || wait == WaitNone || (res.Head != nil && res.Workers() == c.Workers.Count) {
			return res, err
		}
		missing := c.Workers.Count - res.Workers()
		if res.Head == nil {
			missing++
		}
		if round == upRounds {
			return res, fmt.Errorf("%s ended while starting, %d rounds in a row; run burst up again or see burst status", plural(missing, "machine"), upRounds)
		}
		e.emit(progress.Event{Type: progress.TypeWarning, Cluster: c.Name, Count: missing,
			Message: fmt.Sprintf("%s ended while starting; launching replacements", plural(missing, "machine"))})
	}
}

func (e *Engine) upOnce(ctx context.Context, c *spec.Cluster, pl *plan.Plan, wait WaitMode, first bool) (*Result, error) {
	providers := pl.Providers()
	e.lookIn(pl)
	res := &Result{Cluster: c.Name, Providers: providers}
	// Up from nothing is the common case: unless the caller knows of
	// machines, check quotas while observing, as if the cluster were empty,
	// and keep the answer if it is. Preflight only reads, so a guess that
	// turns out wrong costs nothing but calls.
	var guess *pendingPreflight
	if !e.Existing && first {
		guess = e.startPreflight(ctx, c, pl, true, c.Workers.Count)
		defer guess.discard()
	}
	obs, err := e.observe(ctx, c.Name, providers)
	if err != nil {
		return res, err
	}

	// Extra heads can only come from a crash between launch and tag
	// visibility; keep the oldest.
	heads := obs.live(spec.RoleHead)
	if len(heads) > 1 {
		if err := e.terminate(ctx, c.Name, heads[1:], "extra head"); err != nil {
			return res, err
		}
		res.Terminated += len(heads) - 1
		heads = heads[:1]
	}
	workers := obs.live(spec.RoleWorker)
	delta := c.Workers.Count - len(workers)
	if stale := countStale(obs.live(""), c.Hash()); stale > 0 {
		e.emit(progress.Event{Type: progress.TypeWarning, Cluster: c.Name, Count: stale,
			Message: fmt.Sprintf("%s of cluster %s were made from an earlier spec and stay as they are; new machines follow the new one (scale to 0 and back to replace workers)", plural(stale, "machine"), c.Name)})
	}
	// Preflight what will be launched, before anything is created.
	if guess != nil && len(heads) == 0 && len(workers) == 0 {
		err = e.waitPreflight(guess)
	} else {
		if guess != nil {
			guess.discard()
		}
		if len(heads) > 0 {
			if pl, err = e.pin(c, pl, heads[0]); err != nil {
				return res, err
			}
		}
		err = e.preflight(ctx, c, pl, len(heads) == 0, max(delta, 0), e.emit)
	}
	if err != nil {
		return res, err
	}
	prepCtx, stopPrepare := context.WithCancel(ctx)
	prepared, err := e.prepare(prepCtx, c, pl, providers)
	if err != nil {
		stopPrepare()
		return res, err
	}
	// However up ends, nothing it started runs on after it: a preparation
	// still running when the head's launch failed is stopped.
	defer func() {
		stopPrepare()
		_ = prepared()
	}()

	var head provider.Machine
	if len(heads) > 0 {
		head = heads[0]
	}
	// A head that ends before it runs (reclaimed while starting, or left
	// half-started by a burst that was killed) is replaced, a few times at
	// most.
	for try := 0; ; try++ {
		if head.ID == "" {
			g := pl.Head()
			if g == nil {
				return res, fmt.Errorf("plan has no head group")
			}
			key := e.launchKey(obs, spec.RoleHead, 1)
			if try > 0 {
				key += fmt.Sprintf("/again-%d", try)
			}
			got, _, causes, err := e.fill(ctx, c, *g, 1, key, bootstrap.Config{}, plan.Site{})
			res.Launched += len(got)
			if err != nil {
				return res, err
			}
			if len(got) == 0 {
				return res, &NoCapacityError{Role: spec.RoleHead, Causes: causes}
			}
			head = got[0]
			// A head that failed over to another site takes the cluster there.
			if pl, err = e.pin(c, pl, head); err != nil {
				return res, err
			}
		}
		head, err = e.waitHead(ctx, c, head)
		var ended *headEndedError
		if err == nil || !errors.As(err, &ended) || try+1 >= upRounds {
			break
		}
		e.emit(progress.Event{Type: progress.TypeWarning, Cluster: c.Name, Message: err.Error() + " before it ran; launching another head"})
		head = provider.Machine{}
	}
	if err != nil {
		return res, err
	}
	// Workers are launched only into a prepared network.
	if err := prepared(); err != nil {
		return res, err
	}
	res.Head = &head
	res.SchedulerAddress, res.DashboardAddress = Addresses(head)

	var partial error
	// What the engine knows of the cluster now: the head, the workers it
	// observed and those it launches (less those it ends). If every one of
	// them is known to run, waiting needs no listing.
	known := append([]provider.Machine{head}, workers...)
	switch {
	case delta > 0:
		boot := e.bootConfig(c, spec.RoleWorker, head)
		launched := 0
		var causes []string
		key := e.launchKey(obs, spec.RoleWorker, c.Workers.Count)
		for i, g := range pl.Workers() {
			if launched == delta {
				break
			}
			got, _, cs, err := e.fill(ctx, c, g, delta-launched, fmt.Sprintf("%s/%d/%d", key, i, launched), boot, pl.Site)
			launched += len(got)
			res.Launched += len(got)
			known = append(known, got...)
			causes = append(causes, cs...)
			if err != nil {
				return e.finish(ctx, c, res, providers, wait, err, nil)
			}
		}
		if launched < delta {
			res.Shortfall = delta - launched
			if launched == 0 {
				partial = &NoCapacityError{Role: spec.RoleWorker, Causes: dedupe(causes)}
			} else {
				partial = &PartialError{Asked: delta, Got: launched, Causes: dedupe(causes)}
			}
		}
	case delta < 0:
		victims := pickVictims(workers, -delta)
		if err := e.terminate(ctx, c.Name, victims, "scale down"); err != nil {
			return res, err
		}
		res.Terminated += len(victims)
		known = slices.DeleteFunc(known, func(m provider.Machine) bool {
			return slices.ContainsFunc(victims, func(v provider.Machine) bool { return v.ID == m.ID })
		})
	}
	return e.finish(ctx, c, res, providers, wait, partial, known)
}

// prepare makes each provider's shared resources, one provider after
// another. Those of an independent preparer (provider.IndependentPreparer)
// are made in the background, beside the head's launch; the function
// returned waits for them and returns the first failure, in provider order
// (each call returns the same answer).
func (e *Engine) prepare(ctx context.Context, c *spec.Cluster, pl *plan.Plan, providers []string) (func() error, error) {
	var later []func() error
	for _, name := range providers {
		p, err := e.Provider(ctx, name)
		if err != nil {
			return nil, err
		}
		pr, ok := p.(provider.Preparer)
		if !ok {
			continue
		}
		req := provider.PrepareRequest{Cluster: c.Name, Regions: regionsOf(pl, name), Tags: e.Tags(c, "")}
		run := func() error {
			if err := e.retry(ctx, c.Name, "preparing the network on "+name, func() error { return pr.Prepare(ctx, req) }); err != nil {
				return fmt.Errorf("%s: preparing the cluster's network: %w", name, err)
			}
			e.emit(progress.Event{Type: progress.TypePrepare, Cluster: c.Name, Provider: name, Message: fmt.Sprintf("prepared %s network and access for %s", name, c.Name)})
			return nil
		}
		if ip, ok := p.(provider.IndependentPreparer); ok && ip.Independent() {
			later = append(later, run)
			continue
		}
		if err := run(); err != nil {
			return nil, err
		}
	}
	if len(later) == 0 {
		return func() error { return nil }, nil
	}
	done := make(chan struct{})
	var err error
	go func() {
		defer close(done)
		err = provider.Parallel(len(later), 0, func(i int) error { return later[i]() })
	}()
	return func() error {
		<-done
		return err
	}, nil
}

// finish waits as asked, fills the result from a last observation and
// returns err (a partial or no-capacity error, or a launch failure).
// known, if not nil, is every machine the cluster has by what up saw and
// did: when they are all running (a provider's Launch may say so, having
// read them after the launch finished) and as many as the spec asks for,
// they are the wait's answer without another listing.
func (e *Engine) finish(ctx context.Context, c *spec.Cluster, res *Result, providers []string, wait WaitMode, err error, known []provider.Machine) (*Result, error) {
	// The wait's last observation is the result, unless time passed
	// after it (waiting for the scheduler) or there was none.
	var obs *observation
	if wait != WaitNone && err == nil && allRunning(known, 1+c.Workers.Count) {
		e.emit(progress.Event{Type: progress.TypeWait, Cluster: c.Name, Ready: len(known), Total: len(known), Message: "machines running"})
		e.emit(progress.Event{Type: progress.TypeReady, Cluster: c.Name, Count: len(known), Message: fmt.Sprintf("%s running", plural(len(known), "machine"))})
		// In the order an observation gives, oldest first.
		all := slices.Clone(known)
		sort.SliceStable(all, func(i, j int) bool { return all[i].LaunchedAt.Before(all[j].LaunchedAt) })
		obs = &observation{all: all}
	} else if wait != WaitNone {
		o, werr := e.waitRunning(ctx, c.Name, providers)
		if werr != nil && err == nil {
			err = werr
		}
		if werr == nil {
			obs = &o
		}
	}
	if wait == WaitScheduler && res.SchedulerAddress != "" && c.Workload.Name == "dask" && err == nil {
		obs = nil
		if werr := e.waitScheduler(ctx, c.Name, res.SchedulerAddress); werr != nil {
			err = werr
		}
	}
	if obs == nil {
		o, oerr := e.observe(ctx, c.Name, providers)
		if oerr != nil && err == nil {
			err = oerr
		}
		obs = &o
	}
	res.Machines = obs.live("")
	return res, err
}

// allRunning reports whether ms are n machines, each running.
func allRunning(ms []provider.Machine, n int) bool {
	if len(ms) != n {
		return false
	}
	for _, m := range ms {
		if m.State != provider.Running {
			return false
		}
	}
	return true
}

// pendingPreflight is a preflight running beside the first observation.
type pendingPreflight struct {
	cancel context.CancelFunc
	done   chan struct{}
	err    error
	notes  []progress.Event
}

// startPreflight runs preflight in the background, holding back its notes
// until waitPreflight takes the answer.
func (e *Engine) startPreflight(ctx context.Context, c *spec.Cluster, pl *plan.Plan, needHead bool, workers int) *pendingPreflight {
	ctx, cancel := context.WithCancel(ctx)
	pf := &pendingPreflight{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(pf.done)
		pf.err = e.preflight(ctx, c, pl, needHead, workers, func(ev progress.Event) { pf.notes = append(pf.notes, ev) })
	}()
	return pf
}

// waitPreflight returns the preflight's answer and reports its notes.
func (e *Engine) waitPreflight(pf *pendingPreflight) error {
	<-pf.done
	pf.cancel()
	for _, ev := range pf.notes {
		e.emit(ev)
	}
	return pf.err
}

// discard stops the preflight, if it still runs, and waits for it to end.
// After waitPreflight it does nothing.
func (pf *pendingPreflight) discard() {
	pf.cancel()
	<-pf.done
}

// preflight checks with each provider that what will be launched can be:
// needHead and workers say how many machines. Notes go to note.
func (e *Engine) preflight(ctx context.Context, c *spec.Cluster, pl *plan.Plan, needHead bool, workers int, note func(progress.Event)) error {
	byProvider := map[string][]plan.Group{}
	for _, g := range pl.Groups {
		n := workers
		if g.Role == spec.RoleHead {
			n = 0
			if needHead {
				n = 1
			}
		}
		if n == 0 {
			continue
		}
		for _, name := range groupProviders(g) {
			sub := g
			sub.Count = n
			sub.Offerings = offeringsOf(g, name)
			byProvider[name] = append(byProvider[name], sub)
		}
	}
	for _, name := range pl.Providers() {
		groups := byProvider[name]
		if len(groups) == 0 {
			continue
		}
		p, err := e.Provider(ctx, name)
		if err != nil {
			return err
		}
		if pf, ok := p.(provider.Preflighter); ok {
			req := provider.PreflightRequest{Cluster: c.Name, Workload: c.Workload, Groups: groups, Note: func(msg string) {
				note(progress.Event{Type: progress.TypeNote, Cluster: c.Name, Provider: name, Message: name + ": " + msg, Time: e.Now().UTC()})
			}}
			if err := e.retry(ctx, c.Name, "checking quotas on "+name, func() error { return pf.Preflight(ctx, req) }); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
		}
	}
	return nil
}

// bootConfig is what machines of a role run.
func (e *Engine) bootConfig(c *spec.Cluster, role spec.Role, head provider.Machine) bootstrap.Config {
	b := bootstrap.Config{
		Cluster:     c.Name,
		Role:        role,
		Workload:    c.Workload,
		IdleTimeout: c.IdleTimeout,
	}
	if c.MaxLifetime > 0 {
		b.ExpiresAt = e.Now().Add(c.MaxLifetime)
	}
	if role == spec.RoleWorker && head.ID != "" {
		sp, _ := ports(head)
		b.SchedulerAddress = fmt.Sprintf("tcp://%s:%d", head.PrivateIP, sp)
	}
	return b
}

// fill launches n machines of group g, failing over across its offerings
// (and re-planned ones) on capacity errors. key identifies this launch (see
// launchKey); with the attempt and chunk number it makes each call's
// idempotency token. It returns the machines launched, how many are
// missing, and the failure causes seen.
// Re-plans are pinned to site unless it is zero.
func (e *Engine) fill(ctx context.Context, c *spec.Cluster, g plan.Group, n int, key string, boot bootstrap.Config, site plan.Site) ([]provider.Machine, int, []string, error) {
	if g.Role == spec.RoleHead {
		boot = e.bootConfig(c, spec.RoleHead, provider.Machine{})
	}
	var got []provider.Machine
	var causes []string
	offs := g.Offerings
	for attempt := 0; len(got) < n && attempt < e.MaxAttempts; attempt++ {
		offs = e.usable(offs)
		if len(offs) == 0 && e.Replan != nil {
			if np, err := e.Replan(c, site); err == nil {
				offs = e.usable(matchingGroup(np, g).Offerings)
			}
		}
		if len(offs) == 0 {
			break
		}
		name := offs[0].Provider
		p, err := e.Provider(ctx, name)
		if err != nil {
			return got, n - len(got), causes, err
		}
		provOffs := offeringsOf(plan.Group{Offerings: offs}, name)
		lim := provider.LimitsOf(p)
		want := n - len(got)
		chunks := chunk(want, lim.MaxPerLaunch)
		results := make([]*provider.LaunchResult, len(chunks))
		errs := make([]error, len(chunks))
		sem := make(chan struct{}, lim.MaxInFlight)
		var wg sync.WaitGroup
		for i, cn := range chunks {
			req := provider.LaunchRequest{
				Cluster: c.Name, Role: g.Role, Count: cn, Offerings: provOffs,
				Token: token(c, g, key+"/"+offeringsKey(provOffs), attempt, i), Tags: e.Tags(c, g.Role), Boot: boot, Disk: poolOf(c, g.Role).Disk,
			}
			e.emit(progress.Event{Type: progress.TypeLaunch, Cluster: c.Name, Role: string(g.Role), Provider: name, Count: cn,
				InstanceType: provOffs[0].InstanceType, Region: provOffs[0].Region, Capacity: string(g.Capacity),
				Message: fmt.Sprintf("launching %s on %s (%s, %s first)", plural(cn, string(g.Role)), name, g.Capacity, provOffs[0].InstanceType)})
			wg.Add(1)
			go func() {
				defer wg.Done()
				sem <- struct{}{}
				defer func() { <-sem }()
				results[i], errs[i] = p.Launch(ctx, req)
			}()
		}
		wg.Wait()
		var fatal error
		throttled := false
		for i := range chunks {
			r := results[i]
			if r != nil {
				// A token seen before returns that launch's machines as
				// they are now; ones that have since ended do not count,
				// and the next attempt (a new token) replaces them.
				var alive []provider.Machine
				for _, m := range r.Machines {
					if m.State.Live() || m.State == "" {
						alive = append(alive, m)
					}
				}
				got = append(got, alive...)
				e.reportLaunched(c.Name, g, name, alive)
				for _, f := range r.Failures {
					if errors.Is(f.Err, provider.ErrThrottled) {
						throttled = true
						causes = append(causes, fmt.Sprintf("%s: %v", f.Offering, f.Err))
						continue
					}
					causes = append(causes, e.markUnavailable(c.Name, f.Offering, f.Err))
				}
			}
			if err := errs[i]; err != nil {
				if ctx.Err() != nil {
					return got, n - len(got), causes, ctx.Err()
				}
				switch {
				case errors.Is(err, provider.ErrThrottled):
					// Throttling says nothing about the offerings: back
					// off and try the same ones again.
					throttled = true
					causes = append(causes, fmt.Sprintf("%s: %v", name, err))
				case provider.Retryable(err):
					// The call failed as a whole with a capacity or quota
					// error: rule out its scope and try what is left.
					causes = append(causes, e.markUnavailable(c.Name, provOffs[0], err))
				default:
					fatal = fmt.Errorf("%s: launch: %w", name, err)
				}
			}
		}
		if fatal != nil {
			return got, n - len(got), causes, fatal
		}
		if throttled && len(got) < n {
			wait := min(time.Duration(1<<attempt)*time.Second, 30*time.Second)
			e.emit(progress.Event{Type: progress.TypeWarning, Cluster: c.Name, Provider: name,
				Message: fmt.Sprintf("%s is throttling launches; retrying in %s", name, wait)})
			if err := e.Sleep(ctx, wait); err != nil {
				return got, n - len(got), causes, err
			}
		}
	}
	return got, n - len(got), causes, nil
}

func (e *Engine) reportLaunched(cluster string, g plan.Group, name string, ms []provider.Machine) {
	if len(ms) == 0 {
		return
	}
	e.emit(progress.Event{Type: progress.TypeLaunched, Cluster: cluster, Role: string(g.Role), Provider: name, Count: len(ms), IDs: machineIDs(ms),
		InstanceType: ms[0].InstanceType, Zone: ms[0].Zone, Capacity: string(ms[0].Capacity),
		Message: fmt.Sprintf("launched %s (%s in %s)", plural(len(ms), string(g.Role)), ms[0].InstanceType, orRegion(ms[0]))})
}

// markUnavailable rules out the failure's scope for the TTL and returns a
// one-line cause.
func (e *Engine) markUnavailable(cluster string, o plan.Offering, err error) string {
	// Capacity pools and quotas are per capacity type (a spot quota says
	// nothing of on-demand), so zone and region scopes keep it.
	k := o.Key()
	switch provider.ScopeOf(err) {
	case provider.ScopeZone:
		k = plan.Key{Provider: o.Provider, Region: o.Region, Zone: o.Zone, Capacity: o.Capacity}
	case provider.ScopeRegion:
		k = plan.Key{Provider: o.Provider, Region: o.Region, Capacity: o.Capacity}
	case provider.ScopeProvider:
		k = plan.Key{Provider: o.Provider}
	}
	e.Unavailable.Mark(k, e.Now().Add(e.UnavailableTTL), err.Error())
	cause := fmt.Sprintf("%s: %v", o, err)
	e.emit(progress.Event{Type: progress.TypeUnavailable, Cluster: cluster, Provider: o.Provider, Region: o.Region, Zone: o.Zone,
		InstanceType: o.InstanceType, Capacity: string(o.Capacity), Error: err.Error(),
		Message: fmt.Sprintf("%s unavailable, trying elsewhere: %v", o, err)})
	return cause
}

func (e *Engine) usable(offs []plan.Offering) []plan.Offering {
	now := e.Now()
	return slices.DeleteFunc(slices.Clone(offs), func(o plan.Offering) bool { return e.Unavailable.Blocked(o.Key(), now) })
}

// lookIn adds a plan's regions to the ones observations search.
func (e *Engine) lookIn(pl *plan.Plan) {
	if e.Regions == nil {
		e.Regions = map[string][]string{}
	}
	for _, name := range pl.Providers() {
		for _, r := range regionsOf(pl, name) {
			if !slices.Contains(e.Regions[name], r) {
				e.Regions[name] = append(e.Regions[name], r)
			}
		}
	}
}

// pin returns a plan whose site is the head's: pl itself if it already is,
// else a re-plan pinned there.
func (e *Engine) pin(c *spec.Cluster, pl *plan.Plan, head provider.Machine) (*plan.Plan, error) {
	site := plan.Site{Provider: head.Provider, Region: head.Region}
	if pl.Site == site || pl.Site.IsZero() || e.Replan == nil {
		return pl, nil
	}
	np, err := e.Replan(c, site)
	if err != nil {
		return pl, fmt.Errorf("the cluster's head runs in %s: %w", site, err)
	}
	e.lookIn(np)
	return np, nil
}

// headEndedError says the head ended while up waited for it to run.
type headEndedError struct {
	ID    string
	State provider.State
}

func (e *headEndedError) Error() string { return fmt.Sprintf("the head %s is %s", e.ID, e.State) }

// waitHead waits until the head runs and has an address.
func (e *Engine) waitHead(ctx context.Context, c *spec.Cluster, head provider.Machine) (provider.Machine, error) {
	if head.State == provider.Running && head.PrivateIP != "" {
		return head, nil
	}
	p, err := e.Provider(ctx, head.Provider)
	if err != nil {
		return head, err
	}
	deadline := e.Now().Add(e.WaitTimeout)
	for {
		var ms []provider.Machine
		err := e.retry(ctx, c.Name, "listing machines on "+head.Provider, func() (err error) {
			// Ended machines too: a head that ends is seen ending.
			ms, err = p.Machines(ctx, provider.Filter{Cluster: c.Name, Regions: []string{head.Region}})
			return err
		})
		if err != nil {
			return head, fmt.Errorf("%s: waiting for the head: %w", head.Provider, err)
		}
		for _, m := range ms {
			if m.ID == head.ID {
				if m.State == provider.Running && m.PrivateIP != "" {
					return m, nil
				}
				if !m.State.Live() && m.State != "" {
					return m, &headEndedError{ID: m.ID, State: m.State}
				}
			}
		}
		e.emit(progress.Event{Type: progress.TypeWait, Cluster: c.Name, Ready: 0, Total: 1, Message: "waiting for the head"})
		if e.Now().After(deadline) {
			return head, fmt.Errorf("the head %s is not running after %s", head.ID, e.WaitTimeout)
		}
		if err := e.Sleep(ctx, e.PollInterval); err != nil {
			return head, err
		}
	}
}

// waitRunning waits until no machine of the cluster is pending and
// returns the observation that showed it.
func (e *Engine) waitRunning(ctx context.Context, cluster string, providers []string) (observation, error) {
	deadline := e.Now().Add(e.WaitTimeout)
	for {
		obs, err := e.observe(ctx, cluster, providers)
		if err != nil {
			return obs, err
		}
		live := obs.live("")
		ready := 0
		for _, m := range live {
			if m.State == provider.Running {
				ready++
			}
		}
		e.emit(progress.Event{Type: progress.TypeWait, Cluster: cluster, Ready: ready, Total: len(live), Message: "machines running"})
		if ready == len(live) {
			e.emit(progress.Event{Type: progress.TypeReady, Cluster: cluster, Count: ready, Message: fmt.Sprintf("%s running", plural(ready, "machine"))})
			return obs, nil
		}
		if e.Now().After(deadline) {
			return obs, fmt.Errorf("%d of %d machines still pending after %s", len(live)-ready, len(live), e.WaitTimeout)
		}
		if err := e.Sleep(ctx, e.PollInterval); err != nil {
			return obs, err
		}
	}
}

func (e *Engine) waitScheduler(ctx context.Context, cluster, addr string) error {
	deadline := e.Now().Add(e.WaitTimeout)
	for {
		dctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		err := e.Dial(dctx, addr)
		cancel()
		if err == nil {
			e.emit(progress.Event{Type: progress.TypeReady, Cluster: cluster, Message: "scheduler ready at " + addr})
			return nil
		}
		e.emit(progress.Event{Type: progress.TypeWait, Cluster: cluster, Ready: 0, Total: 1, Message: "waiting for the scheduler"})
		if e.Now().After(deadline) {
			// The last dial's error is reported, not wrapped: its own
			// 3-second timeout would otherwise read as the caller's
			// context.DeadlineExceeded.
			return fmt.Errorf("the scheduler at %s does not answer after %s: %s", addr, e.WaitTimeout, err.Error())
		}
		if err := e.Sleep(ctx, e.PollInterval); err != nil {
			return err
		}
	}
}

// pickVictims chooses n workers to remove: pending ones first (they have
// done no work), then the newest.
func pickVictims(workers []provider.Machine, n int) []provider.Machine {
	ws := slices.Clone(workers)
	sort.SliceStable(ws, func(i, j int) bool {
		pi, pj := ws[i].State == provider.Pending, ws[j].State == provider.Pending
		if pi != pj {
			return pi
		}
		return ws[i].LaunchedAt.After(ws[j].LaunchedAt)
	})
	return ws[:min(n, len(ws))]
}

func chunk(n, size int) []int {
	var out []int
	for n > 0 {
		c := min(n, size)
		out = append(out, c)
		n -= c
	}
	return out
}

func orRegion(m provider.Machine) string {
	if m.Zone != "" {
		return m.Zone
	}
	return m.Region
}

func poolOf(c *spec.Cluster, role spec.Role) spec.Pool {
	if role == spec.RoleHead {
		return c.Head
	}
	return c.Workers
}

func groupProviders(g plan.Group) []string {
	var out []string
	for _, o := range g.Offerings {
		if !slices.Contains(out, o.Provider) {
			out = append(out, o.Provider)
		}
	}
	return out
}

func offeringsOf(g plan.Group, name string) []plan.Offering {
	var out []plan.Offering
	for _, o := range g.Offerings {
		if o.Provider == name {
			out = append(out, o)
		}
	}
	return out
}

func regionsOf(pl *plan.Plan, name string) []string {
	var out []string
	for _, g := range pl.Groups {
		for _, o := range g.Offerings {
			if o.Provider == name && !slices.Contains(out, o.Region) {
				out = append(out, o.Region)
			}
		}
	}
	return out
}

func matchingGroup(pl *plan.Plan, g plan.Group) plan.Group {
	for _, ng := range pl.Groups {
		if ng.Role == g.Role && ng.Capacity == g.Capacity {
			return ng
		}
	}
	return plan.Group{}
}

func dedupe(ss []string) []string {
	var out []string
	for _, s := range ss {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	if len(out) > 5 {
		out = append(out[:5], fmt.Sprintf("and %d more", len(out)-5))
	}
	return out
}

// Diff is what Up would change.
type Diff struct {
	Head          bool // a head would be launched
	AddWorkers    int
	RemoveWorkers int
}

// Launches reports whether the diff creates machines.
func (d Diff) Launches() bool { return d.Head || d.AddWorkers > 0 }

// Preview observes the cluster and returns what Up would change, creating
// nothing.
func (e *Engine) Preview(ctx context.Context, c *spec.Cluster, pl *plan.Plan) (Diff, error) {
	e.defaults()
	e.lookIn(pl)
	obs, err := e.observe(ctx, c.Name, pl.Providers())
	if err != nil {
		return Diff{}, err
	}
	d := Diff{Head: len(obs.live(spec.RoleHead)) == 0}
	delta := c.Workers.Count - len(obs.live(spec.RoleWorker))
	if delta > 0 {
		d.AddWorkers = delta
	} else {
		d.RemoveWorkers = -delta
	}
	return d, nil
}

// countStale counts machines whose burst-spec tag names another spec.
func countStale(ms []provider.Machine, hash string) int {
	n := 0
	for _, m := range ms {
		if h, ok := m.Tags[provider.TagSpec]; ok && h != hash {
			n++
		}
	}
	return n
}
