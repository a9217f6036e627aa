package provision

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

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
	// Existing says the caller knows of machines of the cluster (it brought
	// the cluster up and has not taken it down since). Up then checks
	// quotas once it has observed the cluster; otherwise it checks them
	// while it observes, guessing the cluster is new, and checks again if
	// the guess was wrong. Either way is correct; the hint saves calls.
	Existing bool
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
		e.Sleep = provider.Sleep
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

// observe lists the cluster's live machines on each provider (ended ones
// may come too, from providers that ignore Filter.Live).
func (e *Engine) observe(ctx context.Context, cluster string, providers []string) (observation, error) {
	return e.observeFilter(ctx, cluster, providers, provider.Filter{Live: true})
}

// observeFilter lists the cluster's machines on each provider as how asks
// (Live, Brief); the cluster and each provider's regions are the engine's.
func (e *Engine) observeFilter(ctx context.Context, cluster string, providers []string, how provider.Filter) (observation, error) {
	var obs observation
	// Providers are listed side by side; the first failure, in provider
	// order, is the answer.
	found := make([][]provider.Machine, len(providers))
	errs := make([]error, len(providers))
	var wg sync.WaitGroup
	for i, name := range providers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p, err := e.Provider(ctx, name)
			if err != nil {
				errs[i] = err
				return
			}
			err = e.retry(ctx, cluster, "listing machines on "+name, func() (err error) {
				f := how
				f.Cluster, f.Regions = cluster, e.Regions[name]
				found[i], err = p.Machines(ctx, f)
				return err
			})
			if err != nil {
				errs[i] = fmt.Errorf("%s: listing machines: %w", name, err)
			}
		}()
	}
	wg.Wait()
	for i := range providers {
		if errs[i] != nil {
			return obs, errs[i]
		}
		obs.all = append(obs.all, found[i]...)
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
		"Name":               c.Name,
	}
	if role != "" {
		tags["Name"] = c.Name + "-" + string(role)
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
