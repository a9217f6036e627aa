package fake

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/burstdev/burst/internal/catalog"
	"github.com/burstdev/burst/internal/plan"
	"github.com/burstdev/burst/internal/provider"
	"github.com/burstdev/burst/pkg/spec"
)

// Name is the fake provider's registry name.
const Name = "fake"

// Call is one recorded call.
type Call struct {
	Method string
	// Count and Token are set for Launch; IDs for Terminate.
	Count int
	Token string
	IDs   []string
}

// Provider is the fake. The zero value is not usable; call New.
type Provider struct {
	mu       sync.Mutex
	cat      *catalog.Catalog
	machines map[string]*provider.Machine
	order    []string
	tokens   map[string][]string
	capacity map[plan.Key]int
	faults   map[string][]error
	calls    []Call
	seq      int
	// bootPolls is how many Machines calls a new machine stays pending.
	bootPolls int
	polls     map[string]int
	limits    provider.Limits
	now       func() time.Time
	prepared  map[string]time.Time
}

var (
	_ provider.Provider    = (*Provider)(nil)
	_ provider.Preparer    = (*Provider)(nil)
	_ provider.Limiter     = (*Provider)(nil)
	_ provider.Preflighter = (*Provider)(nil)
	_ provider.Collector   = (*Provider)(nil)
)

// Option configures a fake.
type Option func(*Provider)

// WithCatalog replaces the default catalog.
func WithCatalog(c *catalog.Catalog) Option { return func(p *Provider) { p.cat = c } }

// WithBootPolls keeps new machines pending for n Machines calls.
func WithBootPolls(n int) Option { return func(p *Provider) { p.bootPolls = n } }

// WithLimits sets the provider's launch limits.
func WithLimits(l provider.Limits) Option { return func(p *Provider) { p.limits = l } }

// WithNow injects the clock.
func WithNow(now func() time.Time) Option { return func(p *Provider) { p.now = now } }

// New returns a fake with a small default catalog (see Catalog) and
// unlimited capacity.
func New(opts ...Option) *Provider {
	p := &Provider{
		cat:      DefaultCatalog(),
		machines: map[string]*provider.Machine{},
		tokens:   map[string][]string{},
		capacity: map[plan.Key]int{},
		faults:   map[string][]error{},
		polls:    map[string]int{},
		limits:   provider.Limits{MaxPerLaunch: 1000, MaxInFlight: 4},
		now:      time.Now,
		prepared: map[string]time.Time{},
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

// DefaultCatalog is the fake's catalog: three x86 types and one ARM and one
// GPU type in two regions of two zones each, on demand and spot.
func DefaultCatalog() *catalog.Catalog {
	type t struct {
		name   string
		cpu    int
		mem    float64
		gpus   int
		model  string
		arch   string
		price  float64
		family string
	}
	types := []t{
		{"f1.small", 2, 4, 0, "", "x86_64", 0.05, "f1"},
		{"f1.large", 8, 32, 0, "", "x86_64", 0.30, "f1"},
		{"f1.xlarge", 16, 64, 0, "", "x86_64", 0.60, "f1"},
		{"a1.large", 8, 32, 0, "", "arm64", 0.24, "a1"},
		{"g1.xlarge", 8, 64, 1, "T4", "x86_64", 0.90, "g1"},
	}
	zones := map[string][]string{"fake-1": {"fake-1a", "fake-1b"}, "fake-2": {"fake-2a", "fake-2b"}}
	c := &catalog.Catalog{Date: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), Source: "fake", Zones: zones}
	for _, x := range types {
		ct := catalog.Type{Provider: Name, Name: x.name, Family: x.family, VCPUs: x.cpu, MemoryGiB: x.mem, GPUs: x.gpus, GPUModel: x.model, Arch: x.arch, Generation: 1}
		if x.gpus > 0 {
			ct.GPUMemoryGiB = 16
		}
		for _, r := range []string{"fake-1", "fake-2"} {
			for _, z := range zones[r] {
				ct.Offerings = append(ct.Offerings,
					catalog.Offering{Region: r, Zone: z, Capacity: catalog.OnDemand, Price: x.price},
					catalog.Offering{Region: r, Zone: z, Capacity: catalog.Spot, Price: x.price * 0.3})
			}
		}
		c.Types = append(c.Types, ct)
	}
	return c
}

// SetCapacity limits how many more machines the offering's pool can give;
// a negative n removes the limit.
func (p *Provider) SetCapacity(k plan.Key, n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n < 0 {
		delete(p.capacity, k)
		return
	}
	p.capacity[k] = n
}

// Fail makes the next call of method return err (queued: each call takes
// one). Method is "Catalog", "Launch", "Machines", "Terminate", "Prepare",
// "Cleanup" or "Preflight".
func (p *Provider) Fail(method string, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.faults[method] = append(p.faults[method], err)
}

// Calls returns the calls made so far.
func (p *Provider) Calls() []Call {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.calls)
}

// CallCount returns how many times method was called.
func (p *Provider) CallCount(method string) int {
	n := 0
	for _, c := range p.Calls() {
		if c.Method == method {
			n++
		}
	}
	return n
}

// Interrupt marks a machine terminated by the cloud (a spot interruption).
func (p *Provider) Interrupt(id string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if m, ok := p.machines[id]; ok {
		m.State = provider.Terminated
	}
}

// Prepared reports whether Prepare ran for the cluster and Cleanup did not
// (the cluster's "network" exists).
func (p *Provider) Prepared(cluster string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, ok := p.prepared[cluster]
	return ok
}

// Stop stops a machine, as a guest shutdown does on clouds that stop
// rather than delete.
func (p *Provider) Stop(id string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if m, ok := p.machines[id]; ok {
		m.State = provider.Stopped
	}
}

// Resources implements provider.Collector: each prepared cluster has one
// "network".
func (p *Provider) Resources(ctx context.Context, f provider.Filter) ([]provider.Resource, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.record(Call{Method: "Resources"}); err != nil {
		return nil, err
	}
	var out []provider.Resource
	for c, at := range p.prepared {
		if f.Cluster == "" || f.Cluster == c {
			out = append(out, provider.Resource{Kind: "network", ID: "net-" + c, Provider: Name, Cluster: c, CreatedAt: at,
				Tags: map[string]string{provider.TagCluster: c}})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// DeleteResources implements provider.Collector.
func (p *Provider) DeleteResources(ctx context.Context, rs []provider.Resource) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.record(Call{Method: "DeleteResources"}); err != nil {
		return err
	}
	for _, r := range rs {
		delete(p.prepared, r.Cluster)
	}
	return nil
}

func (p *Provider) record(c Call) error {
	p.calls = append(p.calls, c)
	if q := p.faults[c.Method]; len(q) > 0 {
		p.faults[c.Method] = q[1:]
		return q[0]
	}
	return nil
}

// Name implements provider.Provider.
func (p *Provider) Name() string { return Name }

// Limits implements provider.Limiter.
func (p *Provider) Limits() provider.Limits { return p.limits }

// Catalog implements provider.Provider.
func (p *Provider) Catalog(ctx context.Context) (*catalog.Catalog, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.record(Call{Method: "Catalog"}); err != nil {
		return nil, err
	}
	c := *p.cat
	return &c, nil
}

// Launch implements provider.Provider.
func (p *Provider) Launch(ctx context.Context, req provider.LaunchRequest) (*provider.LaunchResult, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.record(Call{Method: "Launch", Count: req.Count, Token: req.Token}); err != nil {
		return &provider.LaunchResult{}, err
	}
	if err := ctx.Err(); err != nil {
		return &provider.LaunchResult{}, err
	}
	if req.Count <= 0 || len(req.Offerings) == 0 || req.Token == "" || req.Cluster == "" {
		return &provider.LaunchResult{}, provider.Errorf(provider.ErrInvalid, provider.ScopeOffering, "fake: launch needs a cluster, a count, offerings and a token")
	}
	if ids, ok := p.tokens[req.Token]; ok {
		res := &provider.LaunchResult{}
		for _, id := range ids {
			res.Machines = append(res.Machines, *p.machines[id])
		}
		return res, nil
	}
	res := &provider.LaunchResult{}
	var ids []string
	left := req.Count
	for _, o := range req.Offerings {
		if left == 0 {
			break
		}
		if o.Provider != Name {
			return res, provider.Errorf(provider.ErrInvalid, provider.ScopeOffering, "fake: offering of provider %q", o.Provider)
		}
		n := left
		if capLeft, limited := p.capacity[o.Key()]; limited {
			n = min(n, capLeft)
			p.capacity[o.Key()] = capLeft - n
		}
		for i := 0; i < n; i++ {
			p.seq++
			zone := o.Zone
			if zone == "" {
				zone = o.Region + "a"
			}
			m := &provider.Machine{
				ID: fmt.Sprintf("fm-%06d", p.seq), Cluster: req.Cluster, Role: req.Role, State: provider.Running,
				Provider: Name, Region: o.Region, Zone: zone, InstanceType: o.InstanceType, Capacity: o.Capacity,
				PrivateIP: fmt.Sprintf("10.0.%d.%d", p.seq/250, p.seq%250+2), LaunchedAt: p.now(),
				Tags: maps.Clone(req.Tags),
			}
			if p.bootPolls > 0 {
				m.State = provider.Pending
				p.polls[m.ID] = p.bootPolls
			}
			p.machines[m.ID] = m
			p.order = append(p.order, m.ID)
			ids = append(ids, m.ID)
			res.Machines = append(res.Machines, *m)
		}
		left -= n
		if left > 0 {
			res.Failures = append(res.Failures, provider.OfferingError{Offering: o, Err: &provider.Error{
				Kind: provider.ErrNoCapacity, Scope: provider.ScopeOffering, Op: "Launch", Code: "FakeNoCapacity",
				Msg: fmt.Sprintf("no more %s capacity for %s in %s", o.Capacity, o.InstanceType, o.Zone)}})
		}
	}
	p.tokens[req.Token] = ids
	return res, nil
}

// Machines implements provider.Provider.
func (p *Provider) Machines(ctx context.Context, f provider.Filter) ([]provider.Machine, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.record(Call{Method: "Machines"}); err != nil {
		return nil, err
	}
	var out []provider.Machine
	for _, id := range p.order {
		m := p.machines[id]
		if f.Cluster != "" && m.Cluster != f.Cluster {
			continue
		}
		if len(f.Regions) > 0 && !slices.Contains(f.Regions, m.Region) {
			continue
		}
		if m.State == provider.Pending {
			if p.polls[id]--; p.polls[id] <= 0 {
				m.State = provider.Running
			}
		}
		out = append(out, *m)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// Terminate implements provider.Provider.
func (p *Provider) Terminate(ctx context.Context, ms []provider.Machine) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	ids := make([]string, len(ms))
	for i, m := range ms {
		ids[i] = m.ID
	}
	if err := p.record(Call{Method: "Terminate", IDs: ids}); err != nil {
		return err
	}
	for _, id := range ids {
		if m, ok := p.machines[id]; ok {
			m.State = provider.Terminated
		}
	}
	return nil
}

// Prepare implements provider.Preparer.
func (p *Provider) Prepare(ctx context.Context, req provider.PrepareRequest) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.record(Call{Method: "Prepare"}); err != nil {
		return err
	}
	if _, ok := p.prepared[req.Cluster]; !ok {
		p.prepared[req.Cluster] = p.now()
	}
	return nil
}

// Cleanup implements provider.Preparer.
func (p *Provider) Cleanup(ctx context.Context, cluster string, regions []string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.record(Call{Method: "Cleanup"}); err != nil {
		return err
	}
	delete(p.prepared, cluster)
	return nil
}

// Preflight implements provider.Preflighter: it fails with the error given
// to Fail("Preflight", ...), if any.
func (p *Provider) Preflight(ctx context.Context, req provider.PreflightRequest) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.record(Call{Method: "Preflight"})
}

// Role helpers for tests.

// Live returns the live machines of a cluster with the given role ("" for
// any).
func (p *Provider) Live(cluster string, role spec.Role) []provider.Machine {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []provider.Machine
	for _, id := range p.order {
		m := p.machines[id]
		if m.Cluster == cluster && m.State.Live() && (role == "" || m.Role == role) {
			out = append(out, *m)
		}
	}
	return out
}
