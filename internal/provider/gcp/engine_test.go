package gcp

import (
	"context"
	"errors"
	"strings"
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
