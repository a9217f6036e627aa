package gcp

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/burstdev/burst/internal/catalog"
	"github.com/burstdev/burst/internal/plan"
	"github.com/burstdev/burst/internal/provider"
	"github.com/burstdev/burst/internal/provision"
	"github.com/burstdev/burst/pkg/spec"
)

// engineFor drives the real provision engine against the simulator, with
// plans made by the real planner over the provider's live catalog.
func engineFor(t testing.TB, e *simEnv) (*provision.Engine, *catalog.Catalog) {
	t.Helper()
	cat, err := e.p.Catalog(ctxT(t))
	if err != nil {
		t.Fatalf("Catalog: %v", err)
	}
	eng := &provision.Engine{
		Provider:     func(context.Context, string) (provider.Provider, error) { return e.p, nil },
		Owner:        "ana",
		Now:          e.clock.Now,
		Sleep:        func(ctx context.Context, d time.Duration) error { e.clock.Advance(d); return ctx.Err() },
		PollInterval: time.Second,
		Unavailable:  &plan.Unavailable{},
	}
	eng.Replan = func(c *spec.Cluster, site plan.Site) (*plan.Plan, error) {
		return plan.Make(c, cat, plan.Options{Unavailable: eng.Unavailable, Now: e.clock.Now(), Site: site})
	}
	return eng, cat
}

func cluster(name string, workers int, policy spec.SpotPolicy) *spec.Cluster {
	c := spec.Default(name)
	c.Providers = []string{Name}
	c.Workers.Count = workers
	c.Workers.Spot = policy
	c.Workers.Resources.CPU = spec.IntBound{Value: 4, OrMore: true}
	c.Workload = spec.Workload{Name: "none"}
	return &c
}

func TestEngineUpAndDown(t *testing.T) {
	e := newSim(t)
	eng, cat := engineFor(t, e)
	c := cluster("etl", 20, spec.SpotWithFallback)
	pl, err := plan.Make(c, cat, plan.Options{Now: e.clock.Now()})
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	// The cheapest spot worker type is out of stock in its region: the
	// engine fails over and remembers the offering as unavailable.
	first := pl.Workers()[0].Offerings[0]
	e.setRegionCapacity(first.InstanceType, first.Region, first.Capacity, 0)
	res, err := eng.Up(ctxT(t), c, pl, provision.WaitMachines)
	if err != nil {
		t.Fatalf("Up: %v", err)
	}
	if res.Head == nil || res.Workers() != 20 {
		t.Fatalf("Up: head %v, %d workers", res.Head, res.Workers())
	}
	for _, m := range res.Machines {
		if m.Role == spec.RoleWorker && (m.InstanceType == first.InstanceType && m.Region == first.Region) {
			t.Errorf("worker %s launched on the stocked-out offering", m.ID)
		}
	}
	if !eng.Unavailable.Blocked(first.Key(), e.clock.Now()) {
		t.Errorf("the stocked-out offering %s was not marked unavailable: %+v", first, eng.Unavailable.Entries)
	}
	if _, ok := e.srv.Firewall("burst-etl-client"); !ok {
		t.Error("up did not create the firewall rules")
	}
	// Running up again changes nothing.
	again, err := eng.Up(ctxT(t), c, pl, provision.WaitMachines)
	if err != nil || again.Launched != 0 || again.Workers() != 20 {
		t.Fatalf("second Up launched %d (%d workers), %v", again.Launched, again.Workers(), err)
	}
	// A worker shut itself down from inside: GCE keeps it stopped; down
	// must delete it too.
	var victim string
	for _, m := range res.Machines {
		if m.Role == spec.RoleWorker {
			victim = m.ID
			break
		}
	}
	if !e.srv.GuestShutdown(victim) {
		t.Fatal("GuestShutdown failed")
	}
	down, err := eng.Down(ctxT(t), "etl", []string{Name})
	if err != nil {
		t.Fatalf("Down: %v", err)
	}
	if down.Terminated != 21 {
		t.Errorf("Down terminated %d machines, want 21 (the stopped one included)", down.Terminated)
	}
	if leaks := e.model.Leaks(provider.TagCluster); len(leaks) != 0 {
		t.Fatalf("down left %v", leaks)
	}
	if n := e.model.Count("compute.instances.delete"); n != 21 {
		t.Errorf("%d instance deletes, want 21", n)
	}
}

func TestEngineQuotaFailsBeforeSpending(t *testing.T) {
	e := newSim(t)
	eng, cat := engineFor(t, e)
	c := cluster("gpus", 4, spec.OnDemand)
	c.Workers.Resources.GPU = spec.GPU{Model: "A100", Count: 8}
	pl, err := plan.Make(c, cat, plan.Options{Now: e.clock.Now()})
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	setQuota(e, "", "GPUS_ALL_REGIONS", 16)
	_, err = eng.Up(ctxT(t), c, pl, provision.WaitMachines)
	if err == nil || !strings.Contains(err.Error(), "GPUS_ALL_REGIONS") || !errors.Is(provider.KindOf(err), provider.ErrQuota) {
		t.Fatalf("Up with 32 GPUs against a global quota of 16: %v", err)
	}
	if n := e.model.Count("compute.regionInstances.bulkInsert") + e.model.Count("compute.firewalls.insert"); n != 0 {
		t.Errorf("%d create calls before the quota error", n)
	}
}

// TestEngineNetworkFailsBeforeSpending: the provider prepares beside the
// head's launch (Independent), so what Prepare must read first is read by
// preflight: a missing network or an address that cannot be detected
// stops up before any create call.
func TestEngineNetworkFailsBeforeSpending(t *testing.T) {
	for _, tt := range []struct {
		name    string
		breakIt func(*simEnv)
		want    string
	}{
		{"no network", func(e *simEnv) { e.srv.RemoveNetwork("default") }, "gcp.network"},
		{"no address", func(e *simEnv) { e.p.opts.IPDetectURL = "http://127.0.0.1:1/nothing-listens-here" }, "gcp.allowed_cidrs"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newSim(t)
			eng, cat := engineFor(t, e)
			c := cluster("nonet", 2, spec.OnDemand)
			pl, err := plan.Make(c, cat, plan.Options{Now: e.clock.Now()})
			if err != nil {
				t.Fatal(err)
			}
			tt.breakIt(e)
			_, err = eng.Up(ctxT(t), c, pl, provision.WaitMachines)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !errors.Is(provider.KindOf(err), provider.ErrInvalid) {
				t.Fatalf("Up: %v, want an invalid-request error naming %s", err, tt.want)
			}
			if n := e.model.Count("compute.regionInstances.bulkInsert") + e.model.Count("compute.firewalls.insert") + e.model.Count("compute.firewalls.delete"); n != 0 {
				t.Errorf("%d write calls before the error", n)
			}
		})
	}
}

// TestEnginePreparesBesideTheHead: the firewall rules are written while
// the head's launch runs (the engine prepares an independent preparer
// beside it), and the workers go only after the rules exist. The rules'
// inserts are held until the head's bulkInsert has arrived (two seconds
// at most): a provider that prepares before the head fails the test.
func TestEnginePreparesBesideTheHead(t *testing.T) {
	e := newSim(t)
	eng, cat := engineFor(t, e)
	c := cluster("beside", 3, spec.OnDemand)
	pl, err := plan.Make(c, cat, plan.Options{Now: e.clock.Now()})
	if err != nil {
		t.Fatal(err)
	}
	head := make(chan struct{})
	var once sync.Once
	var mu sync.Mutex
	heldInVain := 0
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/instances/bulkInsert"):
			once.Do(func() { close(head) })
		case strings.HasSuffix(r.URL.Path, "/global/firewalls") && r.Method == http.MethodPost:
			select {
			case <-head:
			case <-time.After(2 * time.Second):
				mu.Lock()
				heldInVain++
				mu.Unlock()
			}
		}
		e.srv.ServeHTTP(w, r)
	}))
	t.Cleanup(proxy.Close)
	opts := e.opts
	opts.Endpoint = proxy.URL
	e.p = New(opts)
	if _, err := eng.Up(ctxT(t), c, pl, provision.WaitMachines); err != nil {
		t.Fatalf("Up: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if heldInVain != 0 {
		t.Errorf("%d firewall inserts waited in vain for the head's bulkInsert: the head waits for the rules", heldInVain)
	}
	// The workers' bulkInsert came after both rules' operations: the
	// log is in the order calls ended.
	lastRuleWait, workers, seenBulk := -1, -1, 0
	for i, r := range e.model.Requests() {
		switch r.Action {
		case "compute.globalOperations.wait":
			lastRuleWait = i
		case "compute.regionInstances.bulkInsert":
			if seenBulk++; seenBulk == 2 {
				workers = i
			}
		}
	}
	if workers < 0 || lastRuleWait < 0 || workers < lastRuleWait {
		t.Errorf("the workers' bulkInsert (call %d) ended before the rules' last operation wait (call %d)", workers, lastRuleWait)
	}
}
