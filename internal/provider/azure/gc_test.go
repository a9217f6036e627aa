package azure_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources"

	"github.com/burstdev/burst/internal/catalog"
	"github.com/burstdev/burst/internal/cloudsim"
	"github.com/burstdev/burst/internal/cloudsim/arm"
	"github.com/burstdev/burst/internal/plan"
	"github.com/burstdev/burst/internal/provider"
	"github.com/burstdev/burst/internal/provider/azure"
	"github.com/burstdev/burst/internal/provision"
	"github.com/burstdev/burst/pkg/spec"
)

const (
	groupList   = "Microsoft.Resources/subscriptions/resourceGroups/read"
	groupDelete = "Microsoft.Resources/subscriptions/resourceGroups/delete"
	vmRead      = "Microsoft.Compute/virtualMachines/read"
)

// up starts a cluster of n on-demand workers through the engine.
func up(t *testing.T, e *env, eng *provision.Engine, cat *catalog.Catalog, name string, n int, mods ...func(*spec.Cluster)) *provision.Result {
	t.Helper()
	c := cluster(name, n)
	c.Workers.Spot = spec.OnDemand
	for _, m := range mods {
		m(c)
	}
	pl, err := plan.Make(c, cat, plan.Options{Now: e.clock.Now()})
	if err != nil {
		t.Fatal(err)
	}
	res, err := eng.Up(ctx(t), c, pl, provision.WaitMachines)
	if err != nil {
		t.Fatalf("Up %s: %v", name, err)
	}
	return res
}

func workersOf(res *provision.Result) []provider.Machine {
	var out []provider.Machine
	for _, m := range res.Machines {
		if m.Role == spec.RoleWorker {
			out = append(out, m)
		}
	}
	return out
}

// prepareNow prepares a cluster as the engine does, dated by the clock.
func prepareNow(t *testing.T, e *env, cluster string, regions ...string) {
	t.Helper()
	err := e.p.Prepare(ctx(t), provider.PrepareRequest{Cluster: cluster, Regions: regions,
		Tags: map[string]string{provider.TagCluster: cluster, provider.TagOwner: "tester"}})
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}
}

func (e *env) keyDir(cluster string) string { return filepath.Join(e.opts.DataDir, "azure", cluster) }

// TestMachinesPowerStates: a VM shut down from inside (stopped, still
// allocated and billed) and a deallocated one (its disk bills) are
// Stopped, whether in a scale set or the head; Terminate deletes them with
// their disks. The power states cost one list per scale set and one GET
// per standalone VM.
func TestMachinesPowerStates(t *testing.T) {
	e := newEnv(t)
	prepare(t, e, "pw", "eastus")
	h := launch(t, e, head("pw", "pw-h", offer(t, "Standard_D2s_v5", "eastus", catalog.OnDemand))).Machines[0]
	ws := launch(t, e, workers("pw", 3, "pw-w", offer(t, "Standard_D2s_v5", "eastus", catalog.OnDemand))).Machines
	e.clock.Advance(time.Minute)
	if !e.sim.PowerOff(e.vmID(ws[0])) || !e.sim.Deallocate(e.vmID(ws[1])) || !e.sim.PowerOff(e.vmID(h)) {
		t.Fatal("the simulator refused to stop running VMs")
	}
	e.clock.Advance(time.Minute)
	e.model.ResetRequests()
	ms, err := e.p.Machines(ctx(t), provider.Filter{Cluster: "pw"})
	if err != nil {
		t.Fatal(err)
	}
	state := map[string]provider.State{}
	for _, m := range ms {
		state[m.ID] = m.State
	}
	want := map[string]provider.State{h.ID: provider.Stopped, ws[0].ID: provider.Stopped, ws[1].ID: provider.Stopped, ws[2].ID: provider.Running}
	for id, st := range want {
		if state[id] != st {
			t.Errorf("%s: %s, want %s", id, state[id], st)
		}
	}
	// Group list, VM list, the set's expanded list and the head's GET.
	if n, m := e.count(groupList), e.count(vmRead); n != 1 || m != 3 {
		t.Errorf("%d group lists and %d VM reads, want 1 and 3", n, m)
	}
	// A brief listing (down's) has the same machines from the group, VM
	// and set lists alone, though the process knows the set and head
	// whose power states it would otherwise ask for at once.
	e.model.ResetRequests()
	brief, err := e.p.Machines(ctx(t), provider.Filter{Cluster: "pw", Live: true, Brief: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(brief) != len(ms) {
		t.Fatalf("brief listing: %d machines, want %d", len(brief), len(ms))
	}
	for i, m := range brief {
		if m.ID != ms[i].ID || m.Role != ms[i].Role || m.Cluster != "pw" || !m.State.Live() {
			t.Errorf("brief %+v, full %+v", m, ms[i])
		}
	}
	for _, a := range []string{"Microsoft.Network/networkInterfaces/read", "Microsoft.Network/publicIPAddresses/read"} {
		if n := e.count(a); n != 0 {
			t.Errorf("brief listing: %d calls of %s", n, a)
		}
	}
	if n, m, s := e.count(groupList), e.count(vmRead), e.count(setRead); n != 1 || m != 1 || s != 1 {
		t.Errorf("brief listing: %d group lists, %d VM reads, %d set reads, want 1 each", n, m, s)
	}
	if err := e.p.Terminate(ctx(t), []provider.Machine{h, ws[0], ws[1]}); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Minute)
	if ids := e.sim.VMIDs(); len(ids) != 1 || !strings.EqualFold(ids[0], e.vmID(ws[2])) {
		t.Errorf("after Terminate: %v", ids)
	}
	if o := e.sim.Orphans(); len(o) != 0 {
		t.Errorf("stopped VMs left %v", o)
	}
}

// TestAllRegions: Machines and Resources see the filter's locations, or
// every location with AllRegions, from one subscription-wide group list.
func TestAllRegions(t *testing.T) {
	e := newEnv(t)
	prepare(t, e, "east", "eastus")
	prepare(t, e, "west", "westus2")
	launch(t, e, workers("east", 1, "e-w", offer(t, "Standard_D2s_v5", "eastus", catalog.OnDemand)))
	launch(t, e, workers("west", 1, "w-w", offer(t, "Standard_D2s_v5", "westus2", catalog.OnDemand)))
	regionsOf := func(f provider.Filter) (ms, rs []string) {
		t.Helper()
		e.model.ResetRequests()
		machines, err := e.p.Machines(ctx(t), f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range machines {
			ms = append(ms, m.Region)
		}
		resources, err := e.p.Resources(ctx(t), f)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range resources {
			rs = append(rs, r.Region)
		}
		slices.Sort(ms)
		slices.Sort(rs)
		if n := e.count(groupList); n != 2 {
			t.Errorf("%+v: %d group lists, want one each", f, n)
		}
		return ms, rs
	}
	ms, rs := regionsOf(provider.Filter{Regions: []string{"eastus"}})
	if !slices.Equal(ms, []string{"eastus"}) || !slices.Equal(rs, []string{"eastus"}) {
		t.Errorf("eastus only: machines %v, resources %v", ms, rs)
	}
	both := []string{"eastus", "westus2"}
	for _, f := range []provider.Filter{{AllRegions: true, Regions: []string{"eastus"}}, {}} {
		ms, rs = regionsOf(f)
		if !slices.Equal(ms, both) || !slices.Equal(rs, both) {
			t.Errorf("%+v: machines %v, resources %v", f, ms, rs)
		}
	}
}

// TestGC runs `burst gc`'s engine (Orphans, then Collect) with the real
// provider against the simulator: each reason Azure can produce, the
// grace for young resources, a healthy cluster untouched, and nothing of
// the collected clusters left in the subscription or the data dir.
func TestGC(t *testing.T) {
	e := newEnv(t)
	eng, cat := e.engine(t)
	healthy := up(t, e, eng, cat, "healthy", 2)
	headless := up(t, e, eng, cat, "headless", 2)
	expired := up(t, e, eng, cat, "expired", 2, func(c *spec.Cluster) { c.MaxLifetime = time.Hour })
	stopped := up(t, e, eng, cat, "stopped", 2)
	empty := up(t, e, eng, cat, "empty", 1)
	prepareNow(t, e, "keyonly", "eastus")

	// The head of headless is gone (it deleted itself, say); both workers
	// of stopped powered off from inside, one of them then deallocated by
	// hand; every machine of empty went; keyonly's group was deleted
	// outside burst, leaving its key.
	if err := e.p.Terminate(ctx(t), []provider.Machine{*headless.Head}); err != nil {
		t.Fatal(err)
	}
	sw := workersOf(stopped)
	e.sim.PowerOff(e.vmID(sw[0]))
	e.sim.Deallocate(e.vmID(sw[1]))
	if err := e.p.Terminate(ctx(t), empty.Machines); err != nil {
		t.Fatal(err)
	}
	groups, _ := armresources.NewResourceGroupsClient(e.sim.Subscription(), testCred{}, e.armOptions())
	poller, err := groups.BeginDelete(ctx(t), "burst-keyonly-eastus", nil)
	for err == nil && !poller.Done() {
		var resp *http.Response
		if resp, err = poller.Poll(ctx(t)); err == nil {
			_ = resp.Body.Close()
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Minute)

	orphans := func() map[string]string {
		t.Helper()
		found, err := eng.Orphans(ctx(t), []string{azure.Name}, provider.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, o := range found {
			if o.Cluster == "healthy" {
				t.Errorf("healthy cluster collected: %+v", o)
			}
			if o.Resource != nil && e.clock.Now().Sub(o.Resource.CreatedAt) < provision.GCGrace {
				t.Errorf("young resource collected: %+v", o)
			}
			got[o.ID] = o.Reason
		}
		return got
	}
	// Within the grace only stopped machines are orphans: everything else
	// may be a cluster on its way up.
	got := orphans()
	want := map[string]string{sw[0].ID: provision.ReasonStopped, sw[1].ID: provision.ReasonStopped}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("within the grace:\n%v\nwant\n%v", got, want)
	}

	e.clock.Advance(2 * time.Hour) // past the grace and expired's deadline, not healthy's
	// A cluster being made now: its group is young, its head not there yet.
	prepareNow(t, e, "young", "eastus")
	got = orphans()
	want = map[string]string{
		sw[0].ID:                            provision.ReasonStopped,
		sw[1].ID:                            provision.ReasonStopped,
		"burst-headless-eastus":             provision.ReasonCollected,
		"burst-expired-eastus":              provision.ReasonCollected,
		"burst-empty-eastus":                provision.ReasonNoMachines,
		e.keyDir("keyonly") + "/id_ed25519": provision.ReasonNoMachines,
	}
	for _, m := range workersOf(headless) {
		want[m.ID] = provision.ReasonNoHead
	}
	for _, m := range expired.Machines {
		want[m.ID] = provision.ReasonPastDeadline
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("after two hours:\n%v\nwant\n%v", got, want)
	}

	found, err := eng.Orphans(ctx(t), []string{azure.Name}, provider.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.Collect(ctx(t), found); err != nil {
		t.Fatalf("Collect: %v", err)
	}
	collected := []string{"headless", "expired", "empty", "keyonly"}
	for _, leak := range e.model.Leaks(provider.TagCluster) {
		for _, c := range collected {
			if strings.Contains(leak, "burst-"+c+"-") {
				t.Errorf("%s's %s survived gc", c, leak)
			}
		}
		for _, m := range sw {
			if strings.Contains(leak, strings.ToLower(e.vmID(m))) {
				t.Errorf("stopped VM %s survived gc", leak)
			}
		}
	}
	for _, r := range e.sim.Live() {
		for _, c := range collected {
			if strings.Contains(r, c) {
				t.Errorf("%s survived gc", r)
			}
		}
	}
	// Role assignments carry no tags; only the remaining clusters' are left.
	if n := len(e.model.Resources(arm.KindRoleAssignment, nil)); n != 3 {
		t.Errorf("%d role assignments left, want 3 (healthy, stopped, young)", n)
	}
	for _, c := range collected {
		if _, err := os.Stat(e.keyDir(c)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s's key survived gc: %v", c, err)
		}
	}
	for _, c := range []string{"healthy", "stopped", "young"} {
		if _, err := os.Stat(filepath.Join(e.keyDir(c), "id_ed25519")); err != nil {
			t.Errorf("%s's key is gone: %v", c, err)
		}
	}
	ms, err := e.p.Machines(ctx(t), provider.Filter{Cluster: "healthy"})
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != len(healthy.Machines) {
		t.Errorf("healthy has %d machines, had %d", len(ms), len(healthy.Machines))
	}
	for _, m := range ms {
		if m.State != provider.Running {
			t.Errorf("healthy %s is %s", m.ID, m.State)
		}
	}
	if got := orphans(); len(got) != 0 {
		t.Errorf("a second gc finds %v", got)
	}
}

// TestDeleteResources: a blocked group delete is retried, backing off,
// until it passes or ctx ends; a lock is not retried; deleting what is
// gone is not an error.
func TestDeleteResources(t *testing.T) {
	cancelAfter := 0
	var cancel context.CancelFunc
	e := newEnv(t, func(_ *cloudsim.Config, o *azure.Options) {
		sleep := o.Sleep
		o.Sleep = func(ctx context.Context, d time.Duration) error {
			if cancelAfter--; cancelAfter == 0 && cancel != nil {
				cancel()
			}
			return sleep(ctx, d)
		}
	})
	prepare(t, e, "blk", "eastus")
	launch(t, e, workers("blk", 2, "blk-w", offer(t, "Standard_D2s_v5", "eastus", catalog.OnDemand)))
	rs, err := e.p.Resources(ctx(t), provider.Filter{Cluster: "blk"})
	if err != nil || len(rs) != 1 || rs[0].Kind != azure.KindResourceGroup || rs[0].ID != "burst-blk-eastus" || rs[0].Region != "eastus" ||
		rs[0].Cluster != "blk" || !rs[0].CreatedAt.Equal(time.Unix(1800000000, 0)) {
		t.Fatalf("Resources: %+v %v", rs, err)
	}

	// A lock needs a person: no retry.
	e.model.Inject(cloudsim.Fault{Kind: cloudsim.KindInvalid, Action: groupDelete, Code: "ScopeLocked", Times: 1})
	if err := e.p.DeleteResources(ctx(t), rs); err == nil || e.count(groupDelete) != 1 {
		t.Fatalf("locked: %v after %d deletes", err, e.count(groupDelete))
	}

	// Blocked for good: tried until ctx ends.
	e.model.Inject(cloudsim.Fault{Kind: cloudsim.KindInvalid, Action: groupDelete, Code: "AnotherOperationInProgress"})
	c, cc := context.WithCancel(ctx(t))
	cancel, cancelAfter = cc, 5
	e.model.ResetRequests()
	err = e.p.DeleteResources(c, rs)
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "AnotherOperationInProgress") || e.count(groupDelete) != 5 {
		t.Fatalf("blocked until cancelled: %v after %d deletes", err, e.count(groupDelete))
	}
	e.model.ClearFaults()

	// Blocked twice, then it passes.
	e.model.Inject(cloudsim.Fault{Kind: cloudsim.KindInvalid, Action: groupDelete, Code: "Conflict", Times: 2})
	e.model.ResetRequests()
	e.mu.Lock()
	e.slept = nil
	e.mu.Unlock()
	if err := e.p.DeleteResources(ctx(t), rs); err != nil {
		t.Fatalf("DeleteResources: %v", err)
	}
	if n := e.count(groupDelete); n != 3 {
		t.Errorf("%d group deletes, want 3", n)
	}
	if !slices.Contains(e.slept, 2*time.Second) || !slices.Contains(e.slept, 4*time.Second) {
		t.Errorf("slept %v, want the 2s and 4s backoff", e.slept)
	}
	if live := e.sim.Live(); len(live) != 0 {
		t.Errorf("left %v", live)
	}
	if _, err := os.Stat(e.keyDir("blk")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the key survived: %v", err)
	}
	if err := e.p.DeleteResources(ctx(t), rs); err != nil {
		t.Errorf("deleting again: %v", err)
	}
	if err := e.p.DeleteResources(ctx(t), []provider.Resource{{Kind: "security-group", ID: "sg-1", Cluster: "blk"}}); !errors.Is(err, provider.ErrInvalid) {
		t.Errorf("a foreign kind: %v", err)
	}
}

// TestResourceDates: a group is dated by its burst-created tag; without
// one, by its identity's creation; with neither, by now (gc leaves it).
func TestResourceDates(t *testing.T) {
	e := newEnv(t)
	before := e.clock.Now()
	prepare(t, e, "dated", "eastus")
	after := e.clock.Now()
	e.clock.Advance(time.Hour)
	groups, _ := armresources.NewResourceGroupsClient(e.sim.Subscription(), testCred{}, e.armOptions())
	if _, err := groups.Update(ctx(t), "burst-dated-eastus", armresources.ResourceGroupPatchable{
		Tags: map[string]*string{provider.TagCluster: to.Ptr("dated")}}, nil); err != nil {
		t.Fatal(err)
	}
	date := func() time.Time {
		t.Helper()
		rs, err := e.p.Resources(ctx(t), provider.Filter{Cluster: "dated"})
		if err != nil || len(rs) != 1 {
			t.Fatalf("Resources: %+v %v", rs, err)
		}
		return rs[0].CreatedAt
	}
	if d := date(); d.Before(before) || d.After(after) {
		t.Errorf("without the tag: %s, want the identity's creation, between %s and %s", d, before, after)
	}
	e.model.DeleteResource(arm.KindIdentity, strings.ToLower("/subscriptions/"+e.sim.Subscription()+"/resourceGroups/burst-dated-eastus/providers/Microsoft.ManagedIdentity/userAssignedIdentities/dated-identity"))
	if d := date(); !d.Equal(e.clock.Now()) {
		t.Errorf("with neither: %s, want now %s", d, e.clock.Now())
	}
	// Prepare without a burst-created tag still writes one.
	e.clock.Advance(time.Hour)
	p2, err := azure.New(e.opts)
	if err != nil {
		t.Fatal(err)
	}
	e.p = p2
	before = e.clock.Now()
	if err := e.p.Prepare(ctx(t), provider.PrepareRequest{Cluster: "dated", Regions: []string{"eastus"}, Tags: map[string]string{provider.TagOwner: "x"}}); err != nil {
		t.Fatal(err)
	}
	if d := date(); d.Before(before.Truncate(time.Second)) || d.After(e.clock.Now()) {
		t.Errorf("after a Prepare: %s, want the time of the Prepare (%s to %s)", d, before, e.clock.Now())
	}
}
