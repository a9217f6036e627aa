package provision

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/burstdev/burst/internal/bootstrap"
	"github.com/burstdev/burst/internal/plan"
	"github.com/burstdev/burst/internal/progress"
	"github.com/burstdev/burst/internal/provider"
	"github.com/burstdev/burst/pkg/spec"
)

// WaitMode says how long up waits.
type WaitMode string

// Wait modes.
const (
	// WaitNone returns once the launch calls returned.
	WaitNone WaitMode = "none"
	// WaitMachines waits until every machine is running.
	WaitMachines WaitMode = "machines"
	// WaitScheduler also waits until the Dask scheduler accepts connections.
	WaitScheduler WaitMode = "scheduler"
)

// Engine executes plans through providers.
type Engine struct {
	// Provider returns the provider of a name; it is called lazily, only for
	// providers a plan or command needs.
	Provider func(ctx context.Context, name string) (provider.Provider, error)
	// Report receives progress events; nil means discard.
	Report progress.Reporter
	// Unavailable is read by planning and updated on capacity errors; the
	// caller persists it.
	Unavailable *plan.Unavailable
	// UnavailableTTL is how long a failed offering stays out (default 3m).
	UnavailableTTL time.Duration
	// Replan re-plans a cluster after offerings were marked unavailable,
	// pinned to a site (provider and region) unless site is zero. Workers
	// reach the scheduler on the head's private address, so once a head
	// exists every re-plan stays in its site; only a head that cannot be
	// launched may move the whole cluster elsewhere.
	Replan func(c *spec.Cluster, site plan.Site) (*plan.Plan, error)
	// Owner goes in the burst-owner tag.
	Owner string
	// Now is the clock; Sleep waits (both injectable for tests).
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
	// PollInterval is the pause between observations while waiting.
	PollInterval time.Duration
	// WaitTimeout bounds each wait (machines running, scheduler reachable).
	WaitTimeout time.Duration
	// Dial probes the scheduler; nil means a TCP dial.
	Dial func(ctx context.Context, addr string) error
	// MaxAttempts bounds failover rounds per group (default 8).
	MaxAttempts int
	// Regions are, per provider, the regions to look for machines in: the
	// ones a cluster is known to use (and Up adds its plan's). A provider
	// with none listed searches its configured regions.
	Regions map[string][]string
}

func (e *Engine) defaults() {
	if e.Report == nil {
		e.Report = progress.Discard{}
	}
	if e.Unavailable == nil {
		e.Unavailable = &plan.Unavailable{}
	}
	if e.UnavailableTTL == 0 {
		e.UnavailableTTL = plan.DefaultUnavailableTTL
	}
	if e.Now == nil {
		e.Now = time.Now
	}
	if e.Sleep == nil {
		e.Sleep = func(ctx context.Context, d time.Duration) error {
			t := time.NewTimer(d)
			defer t.Stop()
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-t.C:
				return nil
			}
		}
	}
	if e.PollInterval == 0 {
		e.PollInterval = time.Second
	}
	if e.WaitTimeout == 0 {
		e.WaitTimeout = 10 * time.Minute
	}
	if e.Dial == nil {
		e.Dial = func(ctx context.Context, addr string) error {
			var d net.Dialer
			c, err := d.DialContext(ctx, "tcp", strings.TrimPrefix(addr, "tcp://"))
			if err != nil {
				return err
			}
			return c.Close()
		}
	}
	if e.MaxAttempts == 0 {
		e.MaxAttempts = 8
	}
}

func (e *Engine) emit(ev progress.Event) {
	if ev.Time.IsZero() {
		ev.Time = e.Now().UTC()
	}
	e.Report.Event(ev)
}

// Result is the state of a cluster after an operation.
type Result struct {
	Cluster   string
	Providers []string
	// Head is the live head, if any.
	Head *provider.Machine
	// SchedulerAddress is where a client connects; DashboardAddress is the
	// Dask dashboard. Both are empty without a head or without Dask.
	SchedulerAddress string
	DashboardAddress string
	// Machines are the live machines after the operation.
	Machines []provider.Machine
	// Launched and Terminated count what this operation did.
	Launched   int
	Terminated int
	// Shortfall is how many asked-for workers could not be launched.
	Shortfall int
	// PricePerHour is the current cost of the live machines, by the plan's
	// prices.
	PricePerHour float64
}

// Workers counts the live workers.
func (r *Result) Workers() int {
	n := 0
	for _, m := range r.Machines {
		if m.Role == spec.RoleWorker {
			n++
		}
	}
	return n
}

// PartialError says an operation achieved part of what was asked. The CLI
// maps it to exit code 5; the Result says what exists.
type PartialError struct {
	Asked, Got int
	Causes     []string
}

func (e *PartialError) Error() string {
	msg := fmt.Sprintf("launched %d of %d workers", e.Got, e.Asked)
	if len(e.Causes) > 0 {
		msg += ": " + strings.Join(e.Causes, "; ")
	}
	return msg
}

// NoCapacityError says nothing could be launched for a group. The CLI maps
// it to exit code 3.
type NoCapacityError struct {
	Role   spec.Role
	Causes []string
}

func (e *NoCapacityError) Error() string {
	msg := fmt.Sprintf("no capacity for the %s", e.Role)
	if len(e.Causes) > 0 {
		msg += ": " + strings.Join(e.Causes, "; ")
	}
	return msg
}

// Is lets errors.Is(err, provider.ErrNoCapacity) hold.
func (e *NoCapacityError) Is(target error) bool { return target == provider.ErrNoCapacity }

// observation is the machines of a cluster across providers.
type observation struct {
	all []provider.Machine
}

func (o observation) live(role spec.Role) []provider.Machine {
	var out []provider.Machine
	for _, m := range o.all {
		if m.State.Live() && (role == "" || m.Role == role) {
			out = append(out, m)
		}
	}
	return out
}

// observe lists the cluster's machines on each provider.
func (e *Engine) observe(ctx context.Context, cluster string, providers []string) (observation, error) {
	var obs observation
	for _, name := range providers {
		p, err := e.Provider(ctx, name)
		if err != nil {
			return obs, err
		}
		ms, err := p.Machines(ctx, provider.Filter{Cluster: cluster, Regions: e.Regions[name]})
		if err != nil {
			return obs, fmt.Errorf("%s: listing machines: %w", name, err)
		}
		obs.all = append(obs.all, ms...)
	}
	sort.SliceStable(obs.all, func(i, j int) bool { return obs.all[i].LaunchedAt.Before(obs.all[j].LaunchedAt) })
	e.emit(progress.Event{Type: progress.TypeObserve, Cluster: cluster, Count: len(obs.live("")),
		Message: fmt.Sprintf("found %d live machines of cluster %s", len(obs.live("")), cluster)})
	return obs, nil
}

// Tags returns the tags of a cluster's machines of a role.
func (e *Engine) Tags(c *spec.Cluster, role spec.Role) map[string]string {
	now := e.Now()
	tags := map[string]string{
		provider.TagCluster:  c.Name,
		provider.TagRole:     string(role),
		provider.TagOwner:    TagValue(e.Owner),
		provider.TagCreated:  strconv.FormatInt(now.Unix(), 10),
		provider.TagSpec:     c.Hash(),
		provider.TagWorkload: c.Workload.Name,
		"Name":               c.Name + "-" + string(role),
	}
	if c.MaxLifetime > 0 {
		tags[provider.TagExpires] = strconv.FormatInt(now.Add(c.MaxLifetime).Unix(), 10)
	}
	return tags
}

// TagValue makes s a valid value under every cloud's rules (GCE labels are
// the strictest: lower case, digits, "-" and "_", at most 63 characters).
func TagValue(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '_':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	out := b.String()
	if len(out) > 63 {
		out = out[:63]
	}
	if out == "" {
		out = "unknown"
	}
	return out
}

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
		res, err := e.upOnce(ctx, c, pl, wait)
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

func (e *Engine) upOnce(ctx context.Context, c *spec.Cluster, pl *plan.Plan, wait WaitMode) (*Result, error) {
	providers := pl.Providers()
	e.lookIn(pl)
	res := &Result{Cluster: c.Name, Providers: providers}
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
	if len(heads) > 0 {
		if pl, err = e.pin(c, pl, heads[0]); err != nil {
			return res, err
		}
	}

	// Preflight what will be launched, before anything is created.
	if err := e.preflight(ctx, c, pl, len(heads) == 0, max(delta, 0)); err != nil {
		return res, err
	}
	for _, name := range providers {
		p, err := e.Provider(ctx, name)
		if err != nil {
			return res, err
		}
		if pr, ok := p.(provider.Preparer); ok {
			if err := pr.Prepare(ctx, provider.PrepareRequest{Cluster: c.Name, Regions: regionsOf(pl, name), Tags: e.Tags(c, "")}); err != nil {
				return res, fmt.Errorf("%s: preparing the cluster's network: %w", name, err)
			}
			e.emit(progress.Event{Type: progress.TypePrepare, Cluster: c.Name, Provider: name, Message: fmt.Sprintf("prepared %s network and access for %s", name, c.Name)})
		}
	}

	var head provider.Machine
	if len(heads) == 0 {
		g := pl.Head()
		if g == nil {
			return res, fmt.Errorf("plan has no head group")
		}
		got, _, causes, err := e.fill(ctx, c, *g, 1, e.launchKey(obs, spec.RoleHead, 1), bootstrap.Config{}, plan.Site{})
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
	} else {
		head = heads[0]
	}
	head, err = e.waitHead(ctx, c, head)
	if err != nil {
		return res, err
	}
	res.Head = &head
	res.SchedulerAddress, res.DashboardAddress = Addresses(head)

	var partial error
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
			causes = append(causes, cs...)
			if err != nil {
				return e.finish(ctx, c, res, providers, wait, err)
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
	}
	return e.finish(ctx, c, res, providers, wait, partial)
}

// finish waits as asked, fills the result from a last observation and
// returns err (a partial or no-capacity error, or a launch failure).
func (e *Engine) finish(ctx context.Context, c *spec.Cluster, res *Result, providers []string, wait WaitMode, err error) (*Result, error) {
	if wait != WaitNone {
		if werr := e.waitRunning(ctx, c.Name, providers); werr != nil && err == nil {
			err = werr
		}
	}
	if wait == WaitScheduler && res.SchedulerAddress != "" && c.Workload.Name == "dask" && err == nil {
		if werr := e.waitScheduler(ctx, c.Name, res.SchedulerAddress); werr != nil {
			err = werr
		}
	}
	obs, oerr := e.observe(ctx, c.Name, providers)
	if oerr != nil && err == nil {
		err = oerr
	}
	res.Machines = obs.live("")
	return res, err
}

func (e *Engine) preflight(ctx context.Context, c *spec.Cluster, pl *plan.Plan, needHead bool, workers int) error {
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
			note := func(msg string) {
				e.emit(progress.Event{Type: progress.TypeNote, Cluster: c.Name, Provider: name, Message: name + ": " + msg})
			}
			if err := pf.Preflight(ctx, provider.PreflightRequest{Cluster: c.Name, Workload: c.Workload, Groups: groups, Note: note}); err != nil {
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
	ids := make([]string, len(ms))
	for i, m := range ms {
		ids[i] = m.ID
	}
	e.emit(progress.Event{Type: progress.TypeLaunched, Cluster: cluster, Role: string(g.Role), Provider: name, Count: len(ms), IDs: ids,
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
		ms, err := p.Machines(ctx, provider.Filter{Cluster: c.Name, Regions: []string{head.Region}})
		if err != nil {
			return head, fmt.Errorf("%s: waiting for the head: %w", head.Provider, err)
		}
		for _, m := range ms {
			if m.ID == head.ID {
				if m.State == provider.Running && m.PrivateIP != "" {
					return m, nil
				}
				if !m.State.Live() && m.State != "" {
					return m, fmt.Errorf("the head %s is %s", m.ID, m.State)
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

// waitRunning waits until no machine of the cluster is pending.
func (e *Engine) waitRunning(ctx context.Context, cluster string, providers []string) error {
	deadline := e.Now().Add(e.WaitTimeout)
	for {
		obs, err := e.observe(ctx, cluster, providers)
		if err != nil {
			return err
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
			return nil
		}
		if e.Now().After(deadline) {
			return fmt.Errorf("%d of %d machines still pending after %s", len(live)-ready, len(live), e.WaitTimeout)
		}
		if err := e.Sleep(ctx, e.PollInterval); err != nil {
			return err
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
			return fmt.Errorf("the scheduler at %s does not answer after %s: %v", addr, e.WaitTimeout, err)
		}
		if err := e.Sleep(ctx, e.PollInterval); err != nil {
			return err
		}
	}
}

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
			if err := pr.Cleanup(ctx, cluster, nil); err != nil {
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
		if err := p.Terminate(ctx, batch); err != nil {
			return fmt.Errorf("%s: terminate: %w", name, err)
		}
	}
	return nil
}

// Addresses returns the scheduler and dashboard addresses of a head: the
// public IP when it has one (that is what a laptop reaches), else the
// private IP. A head whose burst-workload tag is not dask has none.
func Addresses(head provider.Machine) (scheduler, dashboard string) {
	if w, ok := head.Tags[provider.TagWorkload]; ok && w != "dask" {
		return "", ""
	}
	ip := head.PublicIP
	if ip == "" {
		ip = head.PrivateIP
	}
	if ip == "" {
		return "", ""
	}
	sp, dp := ports(head)
	return fmt.Sprintf("tcp://%s:%d", ip, sp), fmt.Sprintf("http://%s:%d/status", ip, dp)
}

func ports(head provider.Machine) (scheduler, dashboard int) {
	scheduler, dashboard = bootstrap.SchedulerPort, bootstrap.DashboardPort
	if v, err := strconv.Atoi(head.Tags[provider.TagSchedulerPort]); err == nil && v > 0 {
		scheduler = v
	}
	if v, err := strconv.Atoi(head.Tags[provider.TagDashboardPort]); err == nil && v > 0 {
		dashboard = v
	}
	return scheduler, dashboard
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

// launchKey identifies a launch by what it starts from: the machines of the
// role seen alive, the target count, and a 15-minute time bucket. A run
// that crashed after a launch call but before the machines were visible
// computes the same key on retry, so its tokens return the machines that
// call made instead of making more. Once the machines are visible the
// observation, and so the key, differs; the bucket keeps a token from
// returning machines of a long-gone launch that started from the same state.
func (e *Engine) launchKey(obs observation, role spec.Role, target int) string {
	ids := []string{}
	for _, m := range obs.live(role) {
		ids = append(ids, m.ID)
	}
	sort.Strings(ids)
	return fmt.Sprintf("%s/%d/%d", strings.Join(ids, ","), target, e.Now().Unix()/900)
}

// offeringsKey identifies a list of offerings, so a launch whose offerings
// changed (the unavailable set moved on) gets a new token: EC2 refuses a
// ClientToken reused with other parameters (IdempotentParameterMismatch).
func offeringsKey(offs []plan.Offering) string {
	var b strings.Builder
	for _, o := range offs {
		fmt.Fprintf(&b, "%s/%s/%s/%s;", o.InstanceType, o.Region, o.Zone, o.Capacity)
	}
	return shortHash(b.String())
}

func orRegion(m provider.Machine) string {
	if m.Zone != "" {
		return m.Zone
	}
	return m.Region
}

// token is a launch call's idempotency token: [a-z0-9-], at most 52
// characters.
func token(c *spec.Cluster, g plan.Group, key string, attempt, i int) string {
	r := "w"
	if g.Role == spec.RoleHead {
		r = "h"
	}
	k := fmt.Sprintf("%s/%s/%s/%s/%s/%d/%d", c.Name, c.Hash(), g.Role, g.Capacity, key, attempt, i)
	return c.Name + "-" + r + "-" + shortHash(k)
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

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// IsPartial reports whether err is a partial-success error.
func IsPartial(err error) bool {
	var p *PartialError
	return errors.As(err, &p)
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
