package provision

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/burstdev/burst/internal/catalog"
	"github.com/burstdev/burst/internal/plan"
	"github.com/burstdev/burst/internal/progress"
	"github.com/burstdev/burst/internal/provider"
	"github.com/burstdev/burst/internal/provider/fake"
	"github.com/burstdev/burst/pkg/spec"
)

type recorder struct {
	mu     sync.Mutex
	events []progress.Event
}

func (r *recorder) Event(e progress.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}
func (r *recorder) Close() {}

func (r *recorder) count(typ string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, e := range r.events {
		if e.Type == typ {
			n++
		}
	}
	return n
}

type harness struct {
	fake *fake.Provider
	eng  *Engine
	rep  *recorder
	now  time.Time
	cat  *catalog.Catalog
}

func newHarness(t *testing.T, opts ...fake.Option) *harness {
	t.Helper()
	h := &harness{now: time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC), rep: &recorder{}}
	h.fake = fake.New(append([]fake.Option{fake.WithNow(func() time.Time { return h.now })}, opts...)...)
	h.cat, _ = h.fake.Catalog(context.Background())
	h.eng = &Engine{
		Provider: func(ctx context.Context, name string) (provider.Provider, error) {
			if name != fake.Name {
				return nil, fmt.Errorf("no provider %s", name)
			}
			return h.fake, nil
		},
		Report: h.rep,
		Owner:  "tester",
		Now:    func() time.Time { return h.now },
		Sleep:  func(ctx context.Context, d time.Duration) error { h.now = h.now.Add(d); return ctx.Err() },
		Dial:   func(ctx context.Context, addr string) error { return nil },
	}
	h.eng.Replan = func(c *spec.Cluster, site plan.Site) (*plan.Plan, error) {
		return plan.Make(c, h.cat, plan.Options{Unavailable: h.eng.Unavailable, Now: h.now, Site: site})
	}
	return h
}

func (h *harness) plan(c *spec.Cluster) (*plan.Plan, error) {
	return plan.Make(c, h.cat, plan.Options{Unavailable: h.eng.Unavailable, Now: h.now})
}

func cluster(workers int, mods ...func(*spec.Cluster)) *spec.Cluster {
	c := spec.Default("test")
	c.Providers = []string{fake.Name}
	c.Workers.Count = workers
	for _, m := range mods {
		m(&c)
	}
	return &c
}

func (h *harness) up(t *testing.T, c *spec.Cluster) (*Result, error) {
	t.Helper()
	h.eng.defaults()
	pl, err := h.plan(c)
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	return h.eng.Up(context.Background(), c, pl, WaitScheduler)
}

func mustUp(t *testing.T, h *harness, c *spec.Cluster) *Result {
	t.Helper()
	res, err := h.up(t, c)
	if err != nil {
		t.Fatalf("Up: %v", err)
	}
	return res
}

func TestUpFromZero(t *testing.T) {
	h := newHarness(t)
	res := mustUp(t, h, cluster(3))
	if res.Head == nil || res.Workers() != 3 || len(res.Machines) != 4 || res.Launched != 4 {
		t.Fatalf("result: head %v, %d workers, %d machines, launched %d", res.Head, res.Workers(), len(res.Machines), res.Launched)
	}
	if res.SchedulerAddress != "tcp://"+res.Head.PrivateIP+":8786" || res.DashboardAddress == "" {
		t.Fatalf("addresses %q %q", res.SchedulerAddress, res.DashboardAddress)
	}
	if !h.fake.Prepared("test") {
		t.Fatal("Prepare was not called")
	}
	for _, m := range h.fake.Live("test", "") {
		if m.Tags[provider.TagCluster] != "test" || m.Tags[provider.TagOwner] != "tester" || m.Tags[provider.TagRole] != string(m.Role) {
			t.Errorf("machine %s tags %v", m.ID, m.Tags)
		}
		if m.Tags[provider.TagExpires] == "" || m.Tags[provider.TagSpec] == "" {
			t.Errorf("machine %s lacks expiry or spec tags: %v", m.ID, m.Tags)
		}
	}
	if h.rep.count(progress.TypeLaunched) != 2 || h.rep.count(progress.TypeReady) == 0 {
		t.Errorf("events: %d launched, %d ready", h.rep.count(progress.TypeLaunched), h.rep.count(progress.TypeReady))
	}
	// Workers get the head's address.
	if calls := h.fake.CallCount("Preflight"); calls != 1 {
		t.Errorf("Preflight called %d times", calls)
	}
}

func TestUpIsIdempotentAndScales(t *testing.T) {
	h := newHarness(t)
	mustUp(t, h, cluster(3))
	launches := h.fake.CallCount("Launch")
	res := mustUp(t, h, cluster(3))
	if h.fake.CallCount("Launch") != launches || res.Launched != 0 || res.Workers() != 3 {
		t.Fatalf("second up launched: calls %d -> %d, result %+v", launches, h.fake.CallCount("Launch"), res)
	}
	res = mustUp(t, h, cluster(5))
	if res.Launched != 2 || res.Workers() != 5 {
		t.Fatalf("up -n 5 launched %d, workers %d", res.Launched, res.Workers())
	}
	head := res.Head.ID
	h.now = h.now.Add(time.Minute)
	res = mustUp(t, h, cluster(1))
	if res.Terminated != 4 || res.Workers() != 1 || res.Head == nil || res.Head.ID != head {
		t.Fatalf("scale 1: terminated %d, workers %d, head %v (was %s)", res.Terminated, res.Workers(), res.Head, head)
	}
	res = mustUp(t, h, cluster(0))
	if res.Workers() != 0 || res.Head == nil {
		t.Fatalf("scale 0 must keep the head: %+v", res)
	}
}

func TestScaleDownRemovesNewestFirst(t *testing.T) {
	h := newHarness(t)
	mustUp(t, h, cluster(1))
	first := h.fake.Live("test", spec.RoleWorker)[0].ID
	h.now = h.now.Add(time.Minute)
	mustUp(t, h, cluster(3))
	h.now = h.now.Add(time.Minute)
	mustUp(t, h, cluster(1))
	left := h.fake.Live("test", spec.RoleWorker)
	if len(left) != 1 || left[0].ID != first {
		t.Fatalf("after scale down, workers %v; want the oldest %s", left, first)
	}
}

func TestFailoverOnPartialCapacity(t *testing.T) {
	h := newHarness(t)
	c := cluster(6)
	pl, _ := h.plan(c)
	first := pl.Workers()[0].Offerings[0]
	h.fake.SetCapacity(first.Key(), 2)
	res := mustUp(t, h, c)
	if res.Workers() != 6 {
		t.Fatalf("workers %d, want 6 via failover", res.Workers())
	}
	if !h.eng.Unavailable.Blocked(first.Key(), h.now) {
		t.Fatalf("the exhausted offering %v is not marked unavailable", first)
	}
	if h.rep.count(progress.TypeUnavailable) == 0 {
		t.Fatal("no unavailable event")
	}
	n := 0
	for _, m := range h.fake.Live("test", "") {
		if m.InstanceType == first.InstanceType && m.Zone == first.Zone && m.Capacity == first.Capacity {
			n++
		}
	}
	if n != 2 {
		t.Fatalf("%d machines (head included) on the exhausted pool, want its capacity of 2", n)
	}
}

func TestPartialAndNoCapacity(t *testing.T) {
	h := newHarness(t)
	c := cluster(4, func(c *spec.Cluster) { c.Workers.InstanceTypes = []string{"f1.large"}; c.Regions = []string{"fake-1"} })
	pl, _ := h.plan(c)
	for _, o := range pl.Workers()[0].Offerings {
		h.fake.SetCapacity(o.Key(), 0)
	}
	h.fake.SetCapacity(pl.Workers()[0].Offerings[0].Key(), 1)
	res, err := h.up(t, c)
	var pe *PartialError
	if !errors.As(err, &pe) || pe.Got != 1 || pe.Asked != 4 || res.Shortfall != 3 || res.Workers() != 1 {
		t.Fatalf("err %v, shortfall %d, workers %d; want a partial error 1 of 4", err, res.Shortfall, res.Workers())
	}
	h2 := newHarness(t)
	pl, _ = h2.plan(c)
	for _, o := range pl.Workers()[0].Offerings {
		h2.fake.SetCapacity(o.Key(), 0)
	}
	_, err = h2.up(t, c)
	var nc *NoCapacityError
	if !errors.As(err, &nc) || nc.Role != spec.RoleWorker || !errors.Is(err, provider.ErrNoCapacity) {
		t.Fatalf("err %v, want no capacity for workers", err)
	}
}

func TestSpotFallsBackToOnDemand(t *testing.T) {
	h := newHarness(t)
	c := cluster(3, func(c *spec.Cluster) { c.Workers.Spot = spec.SpotWithFallback })
	pl, _ := h.plan(c)
	for _, g := range pl.Workers() {
		if g.Capacity == catalog.Spot {
			for _, o := range g.Offerings {
				h.fake.SetCapacity(o.Key(), 0)
			}
		}
	}
	res := mustUp(t, h, c)
	if res.Workers() != 3 {
		t.Fatalf("workers %d, want 3 on demand", res.Workers())
	}
	for _, m := range h.fake.Live("test", spec.RoleWorker) {
		if m.Capacity != catalog.OnDemand {
			t.Fatalf("worker %s is %s", m.ID, m.Capacity)
		}
	}
}

func TestHeadWithoutCapacityLaunchesNoWorkers(t *testing.T) {
	h := newHarness(t)
	c := cluster(3)
	pl, _ := h.plan(c)
	for _, o := range pl.Head().Offerings {
		h.fake.SetCapacity(o.Key(), 0)
	}
	h.eng.Replan = nil
	_, err := h.up(t, c)
	var nc *NoCapacityError
	if !errors.As(err, &nc) || nc.Role != spec.RoleHead {
		t.Fatalf("err = %v, want no capacity for the head", err)
	}
	if n := len(h.fake.Live("test", "")); n != 0 {
		t.Fatalf("%d machines exist after a failed head", n)
	}
}

func TestAuthErrorStopsWithoutFailover(t *testing.T) {
	h := newHarness(t)
	h.fake.Fail("Launch", &provider.Error{Kind: provider.ErrAuth, Code: "AuthFailure"})
	_, err := h.up(t, cluster(2))
	if !errors.Is(err, provider.ErrAuth) {
		t.Fatalf("err = %v, want auth", err)
	}
	if h.fake.CallCount("Launch") != 1 {
		t.Fatalf("Launch called %d times after an auth error", h.fake.CallCount("Launch"))
	}
}

func TestPreflightFailureCreatesNothing(t *testing.T) {
	h := newHarness(t)
	h.fake.Fail("Preflight", &provider.Error{Kind: provider.ErrQuota, Code: "VcpuLimitExceeded", Msg: "need 24 vCPUs"})
	_, err := h.up(t, cluster(3))
	if !errors.Is(err, provider.ErrQuota) {
		t.Fatalf("err = %v", err)
	}
	if h.fake.CallCount("Launch") != 0 || h.fake.CallCount("Prepare") != 0 {
		t.Fatal("something was created after a failed preflight")
	}
}

func TestChunksByProviderLimits(t *testing.T) {
	h := newHarness(t, fake.WithLimits(provider.Limits{MaxPerLaunch: 4, MaxInFlight: 2}))
	res := mustUp(t, h, cluster(10))
	if res.Workers() != 10 {
		t.Fatalf("workers %d", res.Workers())
	}
	// 1 head call + ceil(10/4) worker calls.
	if got := h.fake.CallCount("Launch"); got != 4 {
		t.Fatalf("Launch calls %d, want 4", got)
	}
	tokens := map[string]bool{}
	for _, c := range h.fake.Calls() {
		if c.Method == "Launch" {
			if tokens[c.Token] {
				t.Fatalf("token %s reused across chunks", c.Token)
			}
			tokens[c.Token] = true
		}
	}
}

func TestInterruptedWorkersAreReplaced(t *testing.T) {
	h := newHarness(t)
	mustUp(t, h, cluster(3))
	w := h.fake.Live("test", spec.RoleWorker)
	h.fake.Interrupt(w[0].ID)
	h.now = h.now.Add(time.Minute)
	res := mustUp(t, h, cluster(3))
	if res.Launched != 1 || res.Workers() != 3 {
		t.Fatalf("after an interruption, launched %d, workers %d", res.Launched, res.Workers())
	}
}

func TestExtraHeadsAreTrimmed(t *testing.T) {
	h := newHarness(t)
	c := cluster(0)
	mustUp(t, h, c)
	// A second head, as a crashed run racing tag visibility could leave.
	pl, _ := h.plan(c)
	_, err := h.fake.Launch(context.Background(), provider.LaunchRequest{Cluster: "test", Role: spec.RoleHead, Count: 1,
		Offerings: pl.Head().Offerings, Token: "dup", Tags: map[string]string{provider.TagCluster: "test"}})
	if err != nil {
		t.Fatal(err)
	}
	h.now = h.now.Add(time.Minute)
	res := mustUp(t, h, c)
	if res.Terminated != 1 || len(h.fake.Live("test", spec.RoleHead)) != 1 {
		t.Fatalf("terminated %d, heads %d", res.Terminated, len(h.fake.Live("test", spec.RoleHead)))
	}
}

func TestWaitsForPendingMachines(t *testing.T) {
	h := newHarness(t, fake.WithBootPolls(3))
	res := mustUp(t, h, cluster(2))
	for _, m := range res.Machines {
		if m.State != provider.Running {
			t.Fatalf("machine %s is %s after up", m.ID, m.State)
		}
	}
	if h.rep.count(progress.TypeWait) == 0 {
		t.Fatal("no wait events while machines were pending")
	}
}

func TestWaitTimesOut(t *testing.T) {
	h := newHarness(t, fake.WithBootPolls(1000))
	h.eng.WaitTimeout = 5 * time.Second
	h.eng.PollInterval = time.Second
	_, err := h.up(t, cluster(1))
	if err == nil {
		t.Fatal("up returned without machines running")
	}
}

func TestDown(t *testing.T) {
	h := newHarness(t)
	mustUp(t, h, cluster(3))
	res, err := h.eng.Down(context.Background(), "test", []string{fake.Name})
	if err != nil {
		t.Fatal(err)
	}
	if res.Terminated != 4 || len(h.fake.Live("test", "")) != 0 || h.fake.Prepared("test") {
		t.Fatalf("down: terminated %d, live %d, prepared %v", res.Terminated, len(h.fake.Live("test", "")), h.fake.Prepared("test"))
	}
	res, err = h.eng.Down(context.Background(), "test", []string{fake.Name})
	if err != nil || res.Terminated != 0 {
		t.Fatalf("second down: %v, %d", err, res.Terminated)
	}
}

func TestCancelledUpReturnsContextError(t *testing.T) {
	h := newHarness(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c := cluster(2)
	pl, _ := h.plan(c)
	h.eng.defaults()
	_, err := h.eng.Up(ctx, c, pl, WaitMachines)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
}

func TestTagValue(t *testing.T) {
	for in, want := range map[string]string{"alice": "alice", "Bob.Smith@corp": "bob_smith_corp", "": "unknown"} {
		if got := TagValue(in); got != want {
			t.Errorf("TagValue(%q) = %q, want %q", in, got, want)
		}
	}
}

func countByRegion(ms []provider.Machine) map[string]int {
	out := map[string]int{}
	for _, m := range ms {
		out[m.Region]++
	}
	return out
}

func TestHeadFailoverTakesTheClusterToItsSite(t *testing.T) {
	h := newHarness(t)
	c := cluster(3)
	pl, _ := h.plan(c)
	site := pl.Site
	// The planned site has no head capacity at all.
	for _, o := range pl.Head().Offerings {
		h.fake.SetCapacity(o.Key(), 0)
	}
	for _, ty := range h.cat.Types {
		for _, o := range ty.Offerings {
			if o.Region == site.Region {
				h.fake.SetCapacity(plan.Key{Provider: fake.Name, InstanceType: ty.Name, Region: o.Region, Zone: o.Zone, Capacity: o.Capacity}, 0)
			}
		}
	}
	res := mustUp(t, h, c)
	regions := countByRegion(h.fake.Live("test", ""))
	if len(regions) != 1 || regions[site.Region] != 0 || res.Workers() != 3 {
		t.Fatalf("machines by region %v (planned %s): the whole cluster must move with its head", regions, site)
	}
}

func TestReupPinsToTheHeadsSite(t *testing.T) {
	h := newHarness(t)
	// A cluster whose head runs in fake-2, although fake-1 is as cheap.
	c := cluster(1, func(c *spec.Cluster) { c.Regions = []string{"fake-2"} })
	mustUp(t, h, c)
	c2 := cluster(4) // no region limit now: the plan's own choice may differ
	res := mustUp(t, h, c2)
	if regions := countByRegion(h.fake.Live("test", "")); len(regions) != 1 || regions["fake-2"] != 5 || res.Workers() != 4 {
		t.Fatalf("machines by region %v: new workers must join the head's region", regions)
	}
}

// A launch token reused after a crash may return machines that have ended
// since; they are not counted, and the shortfall is launched anew.
func TestEndedMachinesFromAReusedTokenAreReplaced(t *testing.T) {
	h := newHarness(t)
	c := cluster(3)
	mustUp(t, h, c)
	// Simulate the earlier run: terminate every worker, then make the
	// clock and observation match so the same token comes back.
	if err := h.fake.Terminate(context.Background(), h.fake.Live("test", spec.RoleWorker)); err != nil {
		t.Fatal(err)
	}
	res := mustUp(t, h, c)
	if res.Workers() != 3 {
		t.Fatalf("workers %d after re-up, want 3", res.Workers())
	}
}

// Machines that end while up waits for them (here: the fake reclaims a
// pending worker) are replaced in another round.
func TestMachinesEndingDuringWaitAreReplaced(t *testing.T) {
	h := newHarness(t, fake.WithBootPolls(2))
	reclaimed := false
	h.eng.Sleep = func(ctx context.Context, d time.Duration) error {
		h.now = h.now.Add(d)
		if !reclaimed {
			if ws := h.fake.Live("test", spec.RoleWorker); len(ws) == 3 {
				h.fake.Interrupt(ws[1].ID)
				reclaimed = true
			}
		}
		return nil
	}
	res := mustUp(t, h, cluster(3))
	if !reclaimed || res.Workers() != 3 || res.Launched != 5 {
		t.Fatalf("reclaimed %v, workers %d, launched %d; want 3 workers after one replacement (1 head + 3 + 1)", reclaimed, res.Workers(), res.Launched)
	}
}

func TestThrottledLaunchBacksOffWithoutRulingOutOfferings(t *testing.T) {
	h := newHarness(t)
	mustUp(t, h, cluster(0))
	for i := 0; i < 3; i++ {
		h.fake.Fail("Launch", &provider.Error{Kind: provider.ErrThrottled, Code: "RequestLimitExceeded"})
	}
	before := h.now
	res := mustUp(t, h, cluster(2))
	if res.Workers() != 2 {
		t.Fatalf("workers %d after a throttle storm", res.Workers())
	}
	if len(h.eng.Unavailable.Entries) != 0 {
		t.Fatalf("throttling ruled out offerings: %+v", h.eng.Unavailable.Entries)
	}
	if waited := h.now.Sub(before); waited < 7*time.Second {
		t.Fatalf("waited %s across 3 throttled attempts, want backoff (1s+2s+4s)", waited)
	}
}

func TestSpotQuotaDoesNotBlockOnDemandFallback(t *testing.T) {
	h := newHarness(t)
	c := cluster(2, func(c *spec.Cluster) { c.Workers.Spot = spec.SpotWithFallback })
	mustUp(t, h, cluster(0, func(c *spec.Cluster) { c.Workers.Spot = spec.SpotWithFallback }))
	h.fake.Fail("Launch", &provider.Error{Kind: provider.ErrQuota, Scope: provider.ScopeRegion, Code: "MaxSpotInstanceCountExceeded"})
	res := mustUp(t, h, c)
	if res.Workers() != 2 {
		t.Fatalf("workers %d: a spot quota must leave the on-demand leg free", res.Workers())
	}
	for _, m := range h.fake.Live("test", spec.RoleWorker) {
		if m.Capacity != catalog.OnDemand {
			t.Fatalf("worker %s is %s; the spot leg was over quota", m.ID, m.Capacity)
		}
	}
}

func TestTokensChangeWithOfferings(t *testing.T) {
	a := []plan.Offering{{InstanceType: "m.large", Region: "r1", Capacity: "spot"}}
	b := []plan.Offering{{InstanceType: "m.xlarge", Region: "r1", Capacity: "spot"}}
	if offeringsKey(a) == offeringsKey(b) || offeringsKey(a) != offeringsKey(append([]plan.Offering(nil), a...)) {
		t.Fatal("offeringsKey must identify the offering list")
	}
}

func TestUpWarnsAboutMachinesOfAnEarlierSpec(t *testing.T) {
	h := newHarness(t)
	mustUp(t, h, cluster(2))
	before := h.rep.count(progress.TypeWarning)
	mustUp(t, h, cluster(3, func(c *spec.Cluster) { c.Workers.Resources.CPU = spec.IntBound{Value: 8, OrMore: true} }))
	if h.rep.count(progress.TypeWarning) == before {
		t.Fatal("no warning that existing machines follow an earlier spec")
	}
	mustUp(t, h, cluster(3, func(c *spec.Cluster) { c.Workers.Resources.CPU = spec.IntBound{Value: 8, OrMore: true} }))
}

// overlapFake blocks the first listing until a preflight has started, and
// notes what each preflight was asked for, so a test sees whether quotas
// are checked while the cluster is observed and which answer is used.
type overlapFake struct {
	*fake.Provider
	mu        sync.Mutex
	started   chan struct{}
	startOnce sync.Once
	listOnce  sync.Once
	block     bool
	order     []string
}

func (p *overlapFake) log(s string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.order = append(p.order, s)
}

func (p *overlapFake) Machines(ctx context.Context, f provider.Filter) ([]provider.Machine, error) {
	p.listOnce.Do(func() {
		if p.block {
			select {
			case <-p.started:
			case <-time.After(20 * time.Second):
			}
		}
		p.log("Machines")
	})
	return p.Provider.Machines(ctx, f)
}

func (p *overlapFake) Preflight(ctx context.Context, req provider.PreflightRequest) error {
	n := 0
	for _, g := range req.Groups {
		n += g.Count
	}
	p.log(fmt.Sprintf("Preflight %d", n))
	p.startOnce.Do(func() { close(p.started) })
	req.Note(fmt.Sprintf("checked %d machines", n))
	return p.Provider.Preflight(ctx, req)
}

func overlapHarness(t *testing.T, block bool) (*harness, *overlapFake) {
	h := newHarness(t)
	of := &overlapFake{Provider: h.fake, started: make(chan struct{}), block: block}
	h.eng.Provider = func(ctx context.Context, name string) (provider.Provider, error) { return of, nil }
	return h, of
}

func (h *harness) notes() []string {
	h.rep.mu.Lock()
	defer h.rep.mu.Unlock()
	var out []string
	for _, e := range h.rep.events {
		if e.Type == progress.TypeNote {
			out = append(out, e.Message)
		}
	}
	return out
}

func TestNewClusterChecksQuotasWhileObserving(t *testing.T) {
	h, of := overlapHarness(t, true)
	mustUp(t, h, cluster(3))
	// The first listing returns only once a preflight has started: had
	// they run one after the other, the listing would have given up
	// waiting after 20 s and the preflight would come after it.
	if len(of.order) != 2 || of.order[1] != "Machines" || of.order[0] != "Preflight 4" {
		t.Fatalf("calls %v: want the preflight for 1 head + 3 workers started before the first listing returned", of.order)
	}
	if got := h.notes(); !slices.Equal(got, []string{"fake: checked 4 machines"}) {
		t.Fatalf("notes %q", got)
	}
}

func TestWrongGuessIsCheckedAgainAndItsNotesDropped(t *testing.T) {
	h, of := overlapHarness(t, false)
	mustUp(t, h, cluster(3))
	h.rep.events = nil
	of.order = nil
	of.listOnce = sync.Once{}
	res := mustUp(t, h, cluster(5))
	if res.Workers() != 5 {
		t.Fatalf("workers %d", res.Workers())
	}
	// The guess (a new cluster: 6 machines) ran and was thrown away; the
	// answer used is for the 2 workers to add.
	if !slices.Contains(of.order, "Preflight 6") || of.order[len(of.order)-1] != "Preflight 2" {
		t.Fatalf("calls %v", of.order)
	}
	if got := h.notes(); !slices.Equal(got, []string{"fake: checked 2 machines"}) {
		t.Fatalf("notes %q: a discarded guess must not speak", got)
	}
}

func TestExistingClusterDoesNotGuess(t *testing.T) {
	h, of := overlapHarness(t, false)
	mustUp(t, h, cluster(3))
	of.order = nil
	of.listOnce = sync.Once{}
	h.eng.Existing = true
	mustUp(t, h, cluster(4))
	if !slices.Equal(of.order, []string{"Machines", "Preflight 1"}) {
		t.Fatalf("calls %v: with Existing, one preflight after observing", of.order)
	}
}

// upMachines brings up a cluster of n workers, waiting for machines only.
func upMachines(t *testing.T, h *harness, n int) (*Result, *plan.Plan) {
	t.Helper()
	h.eng.defaults()
	c := cluster(n)
	pl, err := h.plan(c)
	if err != nil {
		t.Fatal(err)
	}
	res, err := h.eng.Up(context.Background(), c, pl, WaitMachines)
	if err != nil {
		t.Fatal(err)
	}
	return res, pl
}

func TestUpDoesNotListAgainAfterTheWait(t *testing.T) {
	h := newHarness(t, fake.WithBootPolls(1))
	res, _ := upMachines(t, h, 3)
	// The workers launch pending: one observation before launching, the
	// head's wait, one that sees everything running; the result is that
	// last one.
	if n := h.fake.CallCount("Machines"); n != 3 || len(res.Machines) != 4 {
		t.Fatalf("%d listings, %d machines in the result", n, len(res.Machines))
	}
}

func TestUpTrustsLaunchesThatSayRunning(t *testing.T) {
	h := newHarness(t)
	res, pl := upMachines(t, h, 3)
	// Launch answered with running machines: after the first observation
	// nothing is listed, and the result is what up launched.
	if n := h.fake.CallCount("Machines"); n != 1 || len(res.Machines) != 4 || h.rep.count(progress.TypeReady) == 0 {
		t.Fatalf("%d listings, %d machines in the result, %d ready events", n, len(res.Machines), h.rep.count(progress.TypeReady))
	}
	for _, m := range res.Machines {
		if m.State != provider.Running {
			t.Fatalf("machine %s is %s", m.ID, m.State)
		}
	}
	// Scaling down: the victims are not in the result.
	res, err := h.eng.Up(context.Background(), cluster(1), pl, WaitMachines)
	if err != nil || len(res.Machines) != 2 || res.Workers() != 1 {
		t.Fatalf("scale down: %v, %d machines", err, len(res.Machines))
	}
}

// removerFake removes a whole cluster in one call, as Azure does by
// deleting the cluster's resource groups.
type removerFake struct {
	*fake.Provider
	removes atomic.Int32
	fail    error
}

func (p *removerFake) RemoveCluster(ctx context.Context, cluster string, regions []string) error {
	p.removes.Add(1)
	if p.fail != nil {
		return p.fail
	}
	if err := p.Terminate(ctx, p.Live(cluster, "")); err != nil {
		return err
	}
	return p.Cleanup(ctx, cluster, regions)
}

func TestDownRemovesAClusterInOneOperation(t *testing.T) {
	h := newHarness(t)
	rf := &removerFake{Provider: h.fake}
	h.eng.Provider = func(ctx context.Context, name string) (provider.Provider, error) { return rf, nil }
	mustUp(t, h, cluster(3))
	lists := h.fake.CallCount("Machines")
	res, err := h.eng.Down(context.Background(), "test", []string{fake.Name})
	if err != nil {
		t.Fatal(err)
	}
	if rf.removes.Load() != 1 || res.Terminated != 4 || len(h.fake.Live("test", "")) != 0 || h.fake.Prepared("test") {
		t.Fatalf("down: %d removes, terminated %d, live %d, prepared %v", rf.removes.Load(), res.Terminated, len(h.fake.Live("test", "")), h.fake.Prepared("test"))
	}
	// One listing to say what goes; no waiting loop of its own.
	if n := h.fake.CallCount("Machines") - lists; n != 1 {
		t.Fatalf("down listed %d times", n)
	}

	mustUp(t, h, cluster(1))
	rf.fail = &provider.Error{Kind: provider.ErrAuth, Code: "AuthorizationFailed"}
	res, err = h.eng.Down(context.Background(), "test", []string{fake.Name})
	if !errors.Is(err, provider.ErrAuth) || res.Terminated != 0 || len(h.fake.Live("test", "")) != 2 {
		t.Fatalf("failed removal: %v, terminated %d, live %d", err, res.Terminated, len(h.fake.Live("test", "")))
	}
}

// headKiller ends the first head it sees pending, as a reclaim while it
// starts (or a crashed burst's half-started head) would.
type headKiller struct {
	*fake.Provider
	killed atomic.Bool
}

func (p *headKiller) Machines(ctx context.Context, f provider.Filter) ([]provider.Machine, error) {
	ms, err := p.Provider.Machines(ctx, f)
	if err != nil || p.killed.Load() {
		return ms, err
	}
	for _, m := range ms {
		if m.Role == spec.RoleHead && m.State == provider.Pending {
			p.killed.Store(true)
			p.Interrupt(m.ID)
			return p.Provider.Machines(ctx, f)
		}
	}
	return ms, err
}

func TestHeadThatEndsWhileStartingIsReplaced(t *testing.T) {
	h := newHarness(t, fake.WithBootPolls(2))
	hk := &headKiller{Provider: h.fake}
	h.eng.Provider = func(ctx context.Context, name string) (provider.Provider, error) { return hk, nil }
	res := mustUp(t, h, cluster(2))
	if !hk.killed.Load() {
		t.Fatal("the test never ended a head")
	}
	heads := 0
	for _, c := range h.fake.Calls() {
		if c.Method == "Launch" && strings.Contains(c.Token, "-h-") {
			heads++
		}
	}
	if heads != 2 || res.Head == nil || res.Workers() != 2 || len(h.fake.Live("test", spec.RoleHead)) != 1 || h.rep.count(progress.TypeWarning) == 0 {
		t.Fatalf("%d head launches, head %v, %d workers, %d live heads, %d warnings", heads, res.Head, res.Workers(), len(h.fake.Live("test", spec.RoleHead)), h.rep.count(progress.TypeWarning))
	}
}

// independentFake is a preparer whose shared resources no machine names
// (as GCE's firewall rules). Its Prepare waits, up to 20 s, for the
// head's launch to begin, its Terminate for Cleanup to begin, and it notes
// the order of calls: run one after another, the calls come in another
// order.
type independentFake struct {
	*fake.Provider
	mu          sync.Mutex
	order       []string
	headLaunch  chan struct{}
	cleaning    chan struct{}
	headOnce    sync.Once
	cleanOnce   sync.Once
	prepareFail error
}

func newIndependentFake(p *fake.Provider) *independentFake {
	return &independentFake{Provider: p, headLaunch: make(chan struct{}), cleaning: make(chan struct{})}
}

func (p *independentFake) Independent() bool { return true }

func (p *independentFake) log(s string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.order = append(p.order, s)
}

func waitUpTo20s(ch chan struct{}) {
	select {
	case <-ch:
	case <-time.After(20 * time.Second):
	}
}

func (p *independentFake) Launch(ctx context.Context, req provider.LaunchRequest) (*provider.LaunchResult, error) {
	p.log("Launch " + string(req.Role))
	if req.Role == spec.RoleHead {
		p.headOnce.Do(func() { close(p.headLaunch) })
	}
	return p.Provider.Launch(ctx, req)
}

func (p *independentFake) Prepare(ctx context.Context, req provider.PrepareRequest) error {
	waitUpTo20s(p.headLaunch)
	if p.prepareFail != nil {
		p.log("Prepare failed")
		return p.prepareFail
	}
	p.log("Prepared")
	return p.Provider.Prepare(ctx, req)
}

func (p *independentFake) Cleanup(ctx context.Context, cluster string, regions []string) error {
	p.log("Cleanup")
	p.cleanOnce.Do(func() { close(p.cleaning) })
	return p.Provider.Cleanup(ctx, cluster, regions)
}

func (p *independentFake) Terminate(ctx context.Context, ms []provider.Machine) error {
	waitUpTo20s(p.cleaning)
	p.log("Terminate")
	return p.Provider.Terminate(ctx, ms)
}

func TestIndependentPrepareRunsBesideTheHeadLaunch(t *testing.T) {
	h := newHarness(t)
	ip := newIndependentFake(h.fake)
	h.eng.Provider = func(ctx context.Context, name string) (provider.Provider, error) { return ip, nil }
	res := mustUp(t, h, cluster(3))
	// Prepare returns only once the head's launch has begun: had it run
	// first, it would have waited 20 s and come before the head.
	if !slices.Equal(ip.order, []string{"Launch head", "Prepared", "Launch worker"}) {
		t.Fatalf("calls %v: want the head launched while preparing, workers after", ip.order)
	}
	if res.Workers() != 3 || !h.fake.Prepared("test") || h.rep.count(progress.TypePrepare) != 1 {
		t.Fatalf("workers %d, prepared %v, %d prepare events", res.Workers(), h.fake.Prepared("test"), h.rep.count(progress.TypePrepare))
	}
}

func TestFailedIndependentPrepareLaunchesNoWorkers(t *testing.T) {
	h := newHarness(t)
	ip := newIndependentFake(h.fake)
	ip.prepareFail = &provider.Error{Kind: provider.ErrAuth, Code: "Forbidden"}
	h.eng.Provider = func(ctx context.Context, name string) (provider.Provider, error) { return ip, nil }
	_, err := h.up(t, cluster(3))
	if !errors.Is(err, provider.ErrAuth) || !strings.Contains(err.Error(), "preparing the cluster's network") {
		t.Fatalf("err %v", err)
	}
	if slices.Contains(ip.order, "Launch worker") || len(h.fake.Live("test", spec.RoleWorker)) != 0 {
		t.Fatalf("calls %v: no worker may launch into an unprepared network", ip.order)
	}
}

func TestDownCleansUpAnIndependentPreparerBesideTermination(t *testing.T) {
	h := newHarness(t)
	ip := newIndependentFake(h.fake)
	h.eng.Provider = func(ctx context.Context, name string) (provider.Provider, error) { return ip, nil }
	mustUp(t, h, cluster(3))
	ip.order = nil
	res, err := h.eng.Down(context.Background(), "test", []string{fake.Name})
	if err != nil {
		t.Fatal(err)
	}
	// Terminate waits for clean-up to begin: had clean-up waited for the
	// machines to be gone, Terminate would have given up after 20 s and
	// come first.
	if !slices.Equal(ip.order, []string{"Cleanup", "Terminate"}) {
		t.Fatalf("calls %v", ip.order)
	}
	if res.Terminated != 4 || len(h.fake.Live("test", "")) != 0 || h.fake.Prepared("test") {
		t.Fatalf("terminated %d, live %d, prepared %v", res.Terminated, len(h.fake.Live("test", "")), h.fake.Prepared("test"))
	}
}

// filterRecorder notes the filters the engine lists with.
type filterRecorder struct {
	*fake.Provider
	mu      sync.Mutex
	live    []bool
	brief   []bool
	regions [][]string
}

func (p *filterRecorder) Machines(ctx context.Context, f provider.Filter) ([]provider.Machine, error) {
	p.mu.Lock()
	p.live = append(p.live, f.Live)
	p.brief = append(p.brief, f.Brief)
	p.regions = append(p.regions, f.Regions)
	p.mu.Unlock()
	return p.Provider.Machines(ctx, f)
}

// TestObservationsAskForLiveMachinesStatusForAll: up's and down's
// listings ask only for live machines (the head's wait excepted), down's
// first one briefly; status asks for every machine, in full.
func TestObservationsAskForLiveMachinesStatusForAll(t *testing.T) {
	h := newHarness(t, fake.WithBootPolls(1))
	fr := &filterRecorder{Provider: h.fake}
	h.eng.Provider = func(ctx context.Context, name string) (provider.Provider, error) { return fr, nil }
	mustUp(t, h, cluster(2))
	ups := len(fr.live)
	if _, err := h.eng.Down(context.Background(), "test", []string{fake.Name}); err != nil {
		t.Fatal(err)
	}
	// Only down's first observation, which says what is terminated, is
	// brief; up's and the wait for the machines to go need states.
	for i, brief := range fr.brief {
		if brief != (i == ups) {
			t.Fatalf("listings brief: %v, want only the first of down (%d)", fr.brief, ups)
		}
	}
	if len(fr.brief) < ups+2 {
		t.Fatalf("down listed %d times, want its observation and a wait", len(fr.brief)-ups)
	}
	headWaits := 0
	for i, live := range fr.live {
		switch {
		case !live && len(fr.regions[i]) == 1:
			// The head's wait lists its region with ended machines: a
			// head that ends must be seen ending, not just vanish.
			headWaits++
		case !live:
			t.Fatalf("listing %d of up or down asked for ended machines too", i)
		}
	}
	if headWaits == 0 {
		t.Fatal("the head was never waited for; the test did not see its listing")
	}
	n := len(fr.live)
	res, err := h.eng.Status(context.Background(), "test", []string{fake.Name})
	if err != nil || len(fr.live) != n+1 || fr.live[n] || fr.brief[n] {
		t.Fatalf("status: %v, filters %v: want one listing with ended machines", err, fr.live[n:])
	}
	// The fake keeps ended machines listed; status shows them.
	if len(res.Machines) != 3 {
		t.Fatalf("status shows %d machines, want the 3 terminated", len(res.Machines))
	}
}

// earlyFake is a preparer with an early clean-up (as AWS's). Its
// CleanupEarly waits, up to 20 s, for Terminate to begin, then 100 ms
// more, and it notes the order of calls.
type earlyFake struct {
	*fake.Provider
	mu          sync.Mutex
	order       []string
	terminating chan struct{}
	termOnce    sync.Once
	earlyFail   error
}

func (p *earlyFake) log(s string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.order = append(p.order, s)
}

func (p *earlyFake) CleanupEarly(ctx context.Context, cluster string, regions []string) error {
	waitUpTo20s(p.terminating)
	time.Sleep(100 * time.Millisecond)
	if p.earlyFail != nil {
		p.log("CleanupEarly failed")
		return p.earlyFail
	}
	p.log("CleanupEarly")
	return nil
}

func (p *earlyFake) Cleanup(ctx context.Context, cluster string, regions []string) error {
	p.log("Cleanup")
	return p.Provider.Cleanup(ctx, cluster, regions)
}

func (p *earlyFake) Terminate(ctx context.Context, ms []provider.Machine) error {
	p.log("Terminate")
	p.termOnce.Do(func() { close(p.terminating) })
	return p.Provider.Terminate(ctx, ms)
}

func TestDownCleansUpEarlyBesideTerminationAndCleanupAfter(t *testing.T) {
	h := newHarness(t)
	ep := &earlyFake{Provider: h.fake, terminating: make(chan struct{})}
	h.eng.Provider = func(ctx context.Context, name string) (provider.Provider, error) { return ep, nil }
	mustUp(t, h, cluster(3))
	res, err := h.eng.Down(context.Background(), "test", []string{fake.Name})
	if err != nil {
		t.Fatal(err)
	}
	// CleanupEarly waits for Terminate to begin: run before the
	// termination, it would have come first after 20 s. Cleanup waits for
	// it: the fake's machines are gone at once, so without that wait
	// Cleanup would come 100 ms before it.
	if !slices.Equal(ep.order, []string{"Terminate", "CleanupEarly", "Cleanup"}) {
		t.Fatalf("calls %v", ep.order)
	}
	if res.Terminated != 4 || len(h.fake.Live("test", "")) != 0 || h.fake.Prepared("test") {
		t.Fatalf("terminated %d, live %d, prepared %v", res.Terminated, len(h.fake.Live("test", "")), h.fake.Prepared("test"))
	}
}

func TestFailedEarlyCleanupStillTerminatesButDoesNotCleanUp(t *testing.T) {
	h := newHarness(t)
	ep := &earlyFake{Provider: h.fake, terminating: make(chan struct{}), earlyFail: &provider.Error{Kind: provider.ErrAuth, Code: "UnauthorizedOperation"}}
	h.eng.Provider = func(ctx context.Context, name string) (provider.Provider, error) { return ep, nil }
	mustUp(t, h, cluster(3))
	_, err := h.eng.Down(context.Background(), "test", []string{fake.Name})
	if !errors.Is(err, provider.ErrAuth) {
		t.Fatalf("err %v, want the early clean-up's", err)
	}
	if slices.Contains(ep.order, "Cleanup") || len(h.fake.Live("test", "")) != 0 || !h.fake.Prepared("test") {
		t.Fatalf("calls %v, live %d, prepared %v: want the machines gone and the network left for the next down", ep.order, len(h.fake.Live("test", "")), h.fake.Prepared("test"))
	}
}
