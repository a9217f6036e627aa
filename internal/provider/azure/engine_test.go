package azure_test

import (
	"context"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources"

	"github.com/burstdev/burst/internal/catalog"
	"github.com/burstdev/burst/internal/cloudsim"
	"github.com/burstdev/burst/internal/plan"
	"github.com/burstdev/burst/internal/provider"
	"github.com/burstdev/burst/internal/provider/azure"
	"github.com/burstdev/burst/internal/provision"
	"github.com/burstdev/burst/pkg/spec"
)

// engine drives the provider through the provision engine on the
// simulator's clock, planning over the provider's live catalog.
func (e *env) engine(t *testing.T) (*provision.Engine, *catalog.Catalog) {
	t.Helper()
	cat, err := e.p.Catalog(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	eng := &provision.Engine{
		Provider: func(context.Context, string) (provider.Provider, error) { return e.p, nil },
		Owner:    "tester",
		Now:      e.clock.Now,
		Sleep: func(ctx context.Context, d time.Duration) error {
			e.clock.Advance(d)
			return ctx.Err()
		},
		PollInterval: 5 * time.Second,
		WaitTimeout:  30 * time.Minute,
	}
	eng.Replan = func(c *spec.Cluster, site plan.Site) (*plan.Plan, error) {
		return plan.Make(c, cat, plan.Options{Unavailable: eng.Unavailable, Now: e.clock.Now(), Site: site})
	}
	return eng, cat
}

func cluster(name string, n int) *spec.Cluster {
	c := spec.Default(name)
	c.Providers, c.Regions = []string{azure.Name}, []string{"eastus"}
	c.Workers.Count = n
	c.Workers.Resources = spec.Resources{CPU: spec.IntBound{Value: 2}, Memory: spec.SizeBound{Value: 8 * spec.GiB}, Arch: spec.ArchX8664}
	c.Workers.Spot = spec.SpotWithFallback
	return &c
}

// TestEngineUpScaleDown runs a spot-with-fallback cluster through the
// engine: the Spot leg takes what Spot capacity there is, the on-demand leg
// the rest; scaling down deletes instances set by set; down leaves nothing
// in the subscription.
func TestEngineUpScaleDown(t *testing.T) {
	e := newEnv(t)
	eng, cat := e.engine(t)
	c := cluster("flow", 50)
	pl, err := plan.Make(c, cat, plan.Options{Now: e.clock.Now()})
	if err != nil {
		t.Fatal(err)
	}
	var spotSizes []string
	for _, g := range pl.Workers() {
		if g.Capacity == catalog.Spot {
			for _, o := range g.Offerings {
				spotSizes = append(spotSizes, o.InstanceType)
				e.sim.SetRegionCapacity(o.InstanceType, o.Region, cloudsim.Spot, 10)
			}
		}
	}
	if len(spotSizes) != 2 {
		t.Fatalf("spot leg %v, want the two x86 2-vCPU 8-GiB sizes", spotSizes)
	}
	res, err := eng.Up(ctx(t), c, pl, provision.WaitMachines)
	if err != nil {
		t.Fatalf("Up: %v", err)
	}
	spot, od := 0, 0
	for _, m := range res.Machines {
		if m.Role == spec.RoleWorker && m.Capacity == catalog.Spot {
			spot++
		} else if m.Role == spec.RoleWorker {
			od++
		}
	}
	if res.Head == nil || res.Head.PublicIP == "" || res.Workers() != 50 || spot != 20 || od != 30 {
		t.Fatalf("head %v, %d workers (%d spot, %d on demand)", res.Head, res.Workers(), spot, od)
	}
	if !strings.HasPrefix(res.SchedulerAddress, "tcp://"+res.Head.PublicIP+":") {
		t.Errorf("scheduler address %s", res.SchedulerAddress)
	}
	if got := setCapacities(e); !slices.Equal(got, []int64{20, 30}) {
		t.Errorf("sets %v, want a Spot set of 20 and an on-demand set of 30", got)
	}

	c.Workers.Count = 10
	e.model.ResetRequests()
	res, err = eng.Up(ctx(t), c, pl, provision.WaitMachines)
	if err != nil {
		t.Fatalf("scale down: %v", err)
	}
	if res.Workers() != 10 || res.Terminated != 40 {
		t.Fatalf("after scale down %d workers, %d terminated", res.Workers(), res.Terminated)
	}
	var total int64
	for _, c := range setCapacities(e) {
		total += c
	}
	if total != 10 || e.count(setDelete) > 2 {
		t.Errorf("set capacities sum to %d; %d delete-instances calls", total, e.count(setDelete))
	}

	e.model.ResetRequests()
	res, err = eng.Down(ctx(t), c.Name, []string{azure.Name})
	if err != nil {
		t.Fatalf("Down: %v", err)
	}
	if live := e.sim.Live(); len(live) != 0 {
		t.Errorf("down left %v", live)
	}
	if leaks := e.model.Leaks(provider.TagCluster); len(leaks) != 0 {
		t.Errorf("tagged leftovers %v", leaks)
	}
	// Down removes the cluster by deleting its group (ClusterRemover): no
	// VM or scale set is deleted on its own first.
	if res.Terminated < 11 || e.count(setDelete) != 0 || e.count("Microsoft.Compute/virtualMachines/delete") != 0 || e.count("Microsoft.Resources/subscriptions/resourceGroups/delete") != 1 {
		t.Errorf("down: terminated %d; %d scale set deletes, %d VM deletes, %d group deletes", res.Terminated,
			e.count(setDelete), e.count("Microsoft.Compute/virtualMachines/delete"), e.count("Microsoft.Resources/subscriptions/resourceGroups/delete"))
	}
}

// TestPolicyCoversOperations: every ARM operation burst performs in a full
// life (catalog, preflight, prepare, head, Spot and on-demand workers, scale
// down, a self-made failure, down, and a gc of a leftover group that lost
// its burst-created tag) and every linked check ARM makes on its behalf is
// in the custom role, and the role holds nothing unused but the reads
// kept for the SDK's fallback (azure.FallbackActions).
func TestPolicyCoversOperations(t *testing.T) {
	e := newEnv(t)
	eng, cat := e.engine(t)
	c := cluster("pol", 6)
	pl, err := plan.Make(c, cat, plan.Options{Now: e.clock.Now()})
	if err != nil {
		t.Fatal(err)
	}
	// Spot runs short, so a set is scaled down and the fallback leg runs.
	for _, g := range pl.Workers() {
		for _, o := range g.Offerings {
			if o.Capacity == catalog.Spot {
				e.sim.SetRegionCapacity(o.InstanceType, o.Region, cloudsim.Spot, 1)
			}
		}
	}
	// The head's first size has no capacity: its failed VM is deleted.
	e.sim.SetRegionCapacity(pl.Head().Offerings[0].InstanceType, "eastus", cloudsim.OnDemand, 0)
	if _, err := eng.Up(ctx(t), c, pl, provision.WaitMachines); err != nil {
		t.Fatalf("Up: %v", err)
	}
	c.Workers.Count = 2
	if _, err := eng.Up(ctx(t), c, pl, provision.WaitMachines); err != nil {
		t.Fatalf("scale down: %v", err)
	}
	if _, err := eng.Down(ctx(t), c.Name, []string{azure.Name}); err != nil {
		t.Fatalf("Down: %v", err)
	}
	prepareNow(t, e, "left", "eastus")
	groups, _ := armresources.NewResourceGroupsClient(e.sim.Subscription(), testCred{}, e.armOptions())
	if _, err := groups.Update(ctx(t), "burst-left-eastus", armresources.ResourceGroupPatchable{
		Tags: map[string]*string{provider.TagCluster: to.Ptr("left")}}, nil); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Hour)
	orphans, err := eng.Orphans(ctx(t), []string{azure.Name}, provider.Filter{AllRegions: true})
	if err != nil || len(orphans) != 1 {
		t.Fatalf("gc found %+v (%v), want the leftover group", orphans, err)
	}
	if err := eng.Collect(ctx(t), orphans); err != nil {
		t.Fatalf("Collect: %v", err)
	}
	used := map[string]bool{}
	for _, r := range e.model.Requests() {
		if r.Service == "prices" {
			continue // the Retail Prices API is public
		}
		used[r.Action] = true
	}
	for _, a := range e.sim.Linked() {
		used[a] = true
	}
	var missing, unused []string
	for a := range used {
		if !slices.Contains(azure.Actions, a) {
			missing = append(missing, a)
		}
	}
	for _, a := range azure.Actions {
		if !used[a] && !slices.Contains(azure.FallbackActions, a) {
			unused = append(unused, a)
		}
	}
	for _, a := range azure.FallbackActions {
		if !slices.Contains(azure.Actions, a) {
			t.Errorf("fallback action %s is not in the role", a)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("operations burst performs that the role lacks: %v", missing)
	}
	if len(unused) > 0 {
		t.Errorf("role actions never used: %v", unused)
	}
	if !strings.Contains(azure.Policy(), `"Microsoft.Compute/virtualMachineScaleSets/write"`) {
		t.Error("Policy() does not list the actions")
	}
}
