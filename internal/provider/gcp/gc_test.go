package gcp

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"

	"github.com/burstdev/burst/internal/catalog"
	"github.com/burstdev/burst/internal/cloudsim"
	"github.com/burstdev/burst/internal/cloudsim/gce"
	"github.com/burstdev/burst/internal/plan"
	"github.com/burstdev/burst/internal/provider"
	"github.com/burstdev/burst/internal/provision"
	"github.com/burstdev/burst/pkg/spec"
)

// The gc tests drive the real engine's Orphans and Collect against the
// simulator, with clusters left behind in every way GCE can leave them.

// upCluster brings a cluster up through the engine: a head and n
// on-demand workers, in the given regions (any when none).
func upCluster(t *testing.T, e *simEnv, eng *provision.Engine, cat *catalog.Catalog, name string, workers int, mod func(*spec.Cluster)) *provision.Result {
	t.Helper()
	c := cluster(name, workers, spec.OnDemand)
	if mod != nil {
		mod(c)
	}
	pl, err := plan.Make(c, cat, plan.Options{Now: e.clock.Now()})
	if err != nil {
		t.Fatalf("plan %s: %v", name, err)
	}
	res, err := eng.Up(ctxT(t), c, pl, provision.WaitMachines)
	if err != nil || res.Head == nil || res.Workers() != workers {
		t.Fatalf("up %s: %v (head %v, %d workers)", name, err, res.Head, res.Workers())
	}
	return res
}

func inRegion(r string) func(*spec.Cluster) { return func(c *spec.Cluster) { c.Regions = []string{r} } }

// prepare makes a cluster's firewall rules as up does, and nothing else.
func prepare(t *testing.T, e *simEnv, name string) {
	t.Helper()
	if err := e.p.Prepare(ctxT(t), provider.PrepareRequest{Cluster: name, Tags: map[string]string{provider.TagCluster: name, provider.TagOwner: "ana"}}); err != nil {
		t.Fatalf("prepare %s: %v", name, err)
	}
}

// launchDirect launches machines of a role with the given extra tags
// straight through the provider (not the engine).
func launchDirect(t *testing.T, e *simEnv, name string, role spec.Role, n int, tags map[string]string) []provider.Machine {
	t.Helper()
	req := launchRequest(name, n, offering(t, "e2-standard-4", "us-central1", catalog.OnDemand))
	req.Role, req.Token = role, name+"-"+string(role)+"-0123456789abcdef"
	req.Tags[provider.TagRole] = string(role)
	for k, v := range tags {
		req.Tags[k] = v
	}
	res, err := e.p.Launch(ctxT(t), req)
	if err != nil || len(res.Machines) != n {
		t.Fatalf("launch %s %s: %v, %d machines", name, role, err, len(res.Machines))
	}
	return res.Machines
}

// rawRule creates a firewall rule the way a user or another tool would,
// not through Prepare.
func rawRule(t *testing.T, e *simEnv, name, description string) {
	t.Helper()
	ctx := ctxT(t)
	if err := e.p.init(ctx); err != nil {
		t.Fatal(err)
	}
	op, err := e.p.c.firewalls.Insert(ctx, &computepb.InsertFirewallRequest{Project: e.p.project, FirewallResource: &computepb.Firewall{
		Name: proto.String(name), Description: proto.String(description), Network: proto.String("global/networks/default"),
		SourceRanges: []string{"10.0.0.0/8"}, Allowed: []*computepb.Allowed{{IPProtocol: proto.String("tcp"), Ports: []string{"22"}}},
	}})
	if err != nil {
		t.Fatalf("insert %s: %v", name, err)
	}
	if err := e.p.finishGlobal(ctx, "firewalls.insert", op.Proto()); err != nil {
		t.Fatal(err)
	}
}

// summary renders orphans as "cluster kind reason" lines with counts.
func summary(os []provision.Orphan) []string {
	n := map[string]int{}
	for _, o := range os {
		n[fmt.Sprintf("%s %s %s", o.Cluster, o.Kind, o.Reason)]++
	}
	var out []string
	for k, c := range n {
		out = append(out, fmt.Sprintf("%s x%d", k, c))
	}
	sort.Strings(out)
	return out
}

// leaksOf returns the simulator's leaks (live instances and resources
// tagged burst-cluster) by cluster.
func leaksOf(e *simEnv) map[string][]string {
	clusterOf := map[string]string{}
	for _, in := range e.model.Instances(nil) {
		clusterOf["instance/"+in.ID] = in.Tags[provider.TagCluster]
	}
	for _, r := range e.model.Resources("", nil) {
		clusterOf[r.Kind+"/"+r.ID] = r.Tags[provider.TagCluster]
	}
	out := map[string][]string{}
	for _, l := range e.model.Leaks(provider.TagCluster) {
		key, _, _ := strings.Cut(l, " ")
		out[clusterOf[key]] = append(out[clusterOf[key]], l)
	}
	return out
}

func TestGCOrphansAndCollect(t *testing.T) {
	e := newSim(t)
	eng, cat := engineFor(t, e)
	ctx := ctxT(t)
	t0 := e.clock.Now()

	// Healthy: never touched.
	upCluster(t, e, eng, cat, "keep", 2, nil)
	// Its head is gone: the workers wait for a scheduler that never comes.
	headless := upCluster(t, e, eng, cat, "headless", 2, nil)
	if err := e.p.Terminate(ctx, []provider.Machine{*headless.Head}); err != nil {
		t.Fatal(err)
	}
	// Every machine shut itself down and could not delete itself: GCE
	// keeps them TERMINATED, disks billing.
	halted := upCluster(t, e, eng, cat, "halted", 1, nil)
	for _, m := range halted.Machines {
		if !e.srv.GuestShutdown(m.ID) {
			t.Fatalf("guest shutdown of %s", m.ID)
		}
	}
	// One stopped worker in an otherwise healthy cluster: the worker goes,
	// the cluster's firewall rules stay.
	stray := upCluster(t, e, eng, cat, "stray", 2, nil)
	var strayWorker string
	for _, m := range stray.Machines {
		if m.Role == spec.RoleWorker {
			strayWorker = m.ID
			break
		}
	}
	e.srv.GuestShutdown(strayWorker)
	// A max lifetime of 30 minutes: GCE's maxRunDuration deletes the
	// machines itself; gc finds only their firewall rules.
	upCluster(t, e, eng, cat, "expiring", 1, func(c *spec.Cluster) { c.MaxLifetime = 30 * time.Minute })
	// Machines labelled with a deadline but launched without
	// maxRunDuration (by an older burst, or by hand): past burst-expires
	// they are gc's to delete.
	prepare(t, e, "late")
	deadline := map[string]string{provider.TagExpires: strconv.FormatInt(t0.Add(30*time.Minute).Unix(), 10)}
	launchDirect(t, e, "late", spec.RoleHead, 1, deadline)
	launchDirect(t, e, "late", spec.RoleWorker, 2, deadline)
	// Only the firewall rules are left (up died before launching, or down
	// died after terminating).
	prepare(t, e, "gone")
	// Rules that look like burst's but are not: not listed, not deleted.
	lookalikes := map[string]string{
		"burst-gone-extra":      "burst-cluster=gone burst-owner=ana managed by burst", // not a name Prepare derives
		"burst-other-internal":  "burst-cluster=other-prod burst-owner=x",              // names another cluster
		"burst-nodesc-client":   "",                                                    // no description
		"burst-twice-internal":  "burst-cluster=twice burst-cluster=keep",              // two clusters
		"burst-quoted-internal": "owner notes: burst-cluster=quoted",                   // not at the start
		"burst-Bad-internal":    "burst-cluster=Bad",                                   // not a valid cluster name
		"allow-ssh-from-office": "burst-cluster=keep",                                  // no burst- prefix
	}
	for name, desc := range lookalikes {
		if strings.ToLower(name) != name {
			continue // GCE refuses upper case names; ruleOwner is tested on it below
		}
		rawRule(t, e, name, desc)
	}

	e.clock.Advance(time.Hour)
	// Young things: a cluster starting right now (rules, workers, head on
	// its way) and rules just made are within the grace.
	prepare(t, e, "young")
	launchDirect(t, e, "young", spec.RoleWorker, 2, nil)
	prepare(t, e, "fresh")
	e.clock.Advance(5 * time.Minute)

	e.model.ResetRequests()
	orphans, err := eng.Orphans(ctx, []string{Name}, provider.Filter{})
	if err != nil {
		t.Fatalf("Orphans: %v", err)
	}
	t.Logf("Orphans: %d found with %d calls (%d aggregatedList, %d firewalls.list)", len(orphans), len(e.model.Requests()),
		e.model.Count("compute.instances.aggregatedList"), e.model.Count("compute.firewalls.list"))
	want := []string{
		"expiring firewall " + provision.ReasonNoMachines + " x2",
		"gone firewall " + provision.ReasonNoMachines + " x2",
		"halted firewall " + provision.ReasonCollected + " x2",
		"halted machine " + provision.ReasonStopped + " x2",
		"headless firewall " + provision.ReasonCollected + " x2",
		"headless machine " + provision.ReasonNoHead + " x2",
		"late firewall " + provision.ReasonCollected + " x2",
		"late machine " + provision.ReasonPastDeadline + " x3",
		"stray machine " + provision.ReasonStopped + " x1",
	}
	if got := summary(orphans); !slices.Equal(got, want) {
		t.Fatalf("orphans:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	for _, o := range orphans {
		if o.Kind == KindFirewall && (o.Region != "" || o.CreatedAt.Before(t0) || o.CreatedAt.After(t0.Add(time.Minute)) || o.Resource.Name != o.ID) {
			t.Errorf("firewall orphan %+v: want a global rule created about %v", o, t0)
		}
		if o.Cluster == "stray" && o.ID != strayWorker {
			t.Errorf("stray orphan %s, want the stopped worker %s", o.ID, strayWorker)
		}
	}
	if n := len(e.model.Requests()); n != 2 {
		t.Errorf("Orphans made %d calls, want 2 (one aggregatedList, one firewalls.list)", n)
	}

	if err := eng.Collect(ctx, orphans); err != nil {
		t.Fatalf("Collect: %v", err)
	}
	leaks := leaksOf(e)
	for c, ls := range leaks {
		// The look-alikes carry burst-cluster= in their descriptions, so
		// the simulator counts them; they are checked apart.
		leaks[c] = slices.DeleteFunc(ls, func(l string) bool { _, ok := lookalikes[strings.TrimPrefix(l, "firewall/")]; return ok })
	}
	for _, c := range []string{"headless", "halted", "expiring", "late", "gone"} {
		if len(leaks[c]) != 0 {
			t.Errorf("after Collect, cluster %s still has %v", c, leaks[c])
		}
	}
	// What must stay: the healthy clusters, what is young, the stray
	// cluster's live machines and rules, and every look-alike rule.
	for c, n := range map[string]int{"keep": 5, "stray": 4, "young": 4, "fresh": 2} {
		if len(leaks[c]) != n {
			t.Errorf("cluster %s: %d resources left, want %d: %v", c, len(leaks[c]), n, leaks[c])
		}
	}
	for name := range lookalikes {
		if _, ok := e.srv.Firewall(name); !ok && strings.ToLower(name) == name {
			t.Errorf("look-alike rule %s was deleted", name)
		}
	}
	if ms := e.machines(t, "keep"); len(ms) != 3 || !ms[0].State.Live() {
		t.Errorf("keep after gc: %v", ms)
	}

	// Nothing more to find now; once the grace has passed, the headless
	// young cluster and the fresh rules are orphans too.
	again, err := eng.Orphans(ctx, []string{Name}, provider.Filter{})
	if err != nil || len(again) != 0 {
		t.Fatalf("Orphans after Collect: %v, %v", summary(again), err)
	}
	e.clock.Advance(provision.GCGrace)
	later, err := eng.Orphans(ctx, []string{Name}, provider.Filter{})
	want = []string{
		"fresh firewall " + provision.ReasonNoMachines + " x2",
		"young firewall " + provision.ReasonCollected + " x2",
		"young machine " + provision.ReasonNoHead + " x2",
	}
	if got := summary(later); err != nil || !slices.Equal(got, want) {
		t.Fatalf("orphans after the grace: %v, %v; want %v", got, err, want)
	}
}

// TestGCRegions: firewall rules are global. gc limited to a region lists
// a cluster's rules only if the cluster has no machines elsewhere, so a
// cluster running in another region keeps its rules; --all-regions sees
// everything through the same one aggregatedList.
func TestGCRegions(t *testing.T) {
	e := newSim(t)
	eng, cat := engineFor(t, e)
	ctx := ctxT(t)
	far := upCluster(t, e, eng, cat, "far", 2, inRegion("europe-west1"))
	upCluster(t, e, eng, cat, "near", 1, inRegion("us-central1"))
	prepare(t, e, "bare")
	if err := e.p.Terminate(ctx, []provider.Machine{*far.Head}); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Hour)

	us := provider.Filter{Regions: []string{"us-central1"}}
	rs, err := e.p.Resources(ctx, us)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range rs {
		names = append(names, r.ID)
	}
	if want := []string{"burst-bare-client", "burst-bare-internal", "burst-near-client", "burst-near-internal"}; !slices.Equal(names, want) {
		t.Errorf("Resources in us-central1: %v, want %v", names, want)
	}
	orphans, err := eng.Orphans(ctx, []string{Name}, us)
	if got, want := summary(orphans), []string{"bare firewall " + provision.ReasonNoMachines + " x2"}; err != nil || !slices.Equal(got, want) {
		t.Errorf("orphans in us-central1: %v, %v; want %v", got, err, want)
	}
	eu := provider.Filter{Regions: []string{"europe-west1"}}
	want := []string{
		"bare firewall " + provision.ReasonNoMachines + " x2",
		"far firewall " + provision.ReasonCollected + " x2",
		"far machine " + provision.ReasonNoHead + " x2",
	}
	for _, f := range []provider.Filter{eu, {AllRegions: true}, {AllRegions: true, Regions: []string{"us-central1"}}} {
		e.model.ResetRequests()
		orphans, err = eng.Orphans(ctx, []string{Name}, f)
		if got := summary(orphans); err != nil || !slices.Equal(got, want) {
			t.Errorf("orphans with %+v: %v, %v; want %v", f, got, err, want)
		}
		t.Logf("Orphans %+v: %d calls", f, len(e.model.Requests()))
	}
	ms, err := e.p.Machines(ctx, provider.Filter{AllRegions: true, Regions: []string{"us-central1"}})
	if err != nil || len(ms) != 4 {
		t.Errorf("Machines with AllRegions: %d, %v; want the 4 of far and near", len(ms), err)
	}
	if err := eng.Collect(ctx, orphans); err != nil {
		t.Fatal(err)
	}
	leaks := leaksOf(e)
	if len(leaks["far"]) != 0 || len(leaks["bare"]) != 0 || len(leaks["near"]) != 4 {
		t.Errorf("after gc: %v", leaks)
	}
}

// TestDeleteResourcesWaitsForBusyRule: GCE refuses to delete a rule while
// another operation on it runs (resourceNotReady); DeleteResources retries
// until it goes, and gives up only when ctx ends.
func TestDeleteResourcesWaitsForBusyRule(t *testing.T) {
	e := newSimServer(t, gce.Options{OperationDelay: 20 * time.Second})
	ctx := ctxT(t)
	prepare(t, e, "busy")
	e.clock.Advance(time.Hour)
	rs, err := e.p.Resources(ctx, provider.Filter{Cluster: "busy"})
	if err != nil || len(rs) != 2 {
		t.Fatalf("Resources: %v, %v", rs, err)
	}
	// Another burst up patches the client rule; its operation runs 20 s.
	if err := e.p.init(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := e.p.c.firewalls.Patch(ctx, &computepb.PatchFirewallRequest{Project: e.p.project, Firewall: "burst-busy-client",
		FirewallResource: &computepb.Firewall{SourceRanges: []string{"198.51.100.1/32"}}}); err != nil {
		t.Fatal(err)
	}
	e.model.ResetRequests()
	start := e.clock.Now()
	if err := e.p.DeleteResources(ctx, rs); err != nil {
		t.Fatalf("DeleteResources: %v", err)
	}
	if e.model.Count("compute.firewalls.delete") < 3 || e.clock.Now().Sub(start) < 20*time.Second {
		t.Errorf("%d deletes over %v: the busy rule was not retried", e.model.Count("compute.firewalls.delete"), e.clock.Now().Sub(start))
	}
	if leaks := e.model.Leaks(provider.TagCluster); len(leaks) != 0 {
		t.Errorf("left %v", leaks)
	}
	// Idempotent: gone already is fine.
	if err := e.p.DeleteResources(ctx, rs); err != nil {
		t.Errorf("second DeleteResources: %v", err)
	}

	// The delete is accepted but its operation fails: the rule is in use.
	prepare(t, e, "inuse")
	e.model.Inject(cloudsim.Fault{Kind: cloudsim.KindInvalid, Code: "RESOURCE_IN_USE_BY_ANOTHER_RESOURCE", Service: gce.Service,
		Action: "compute.firewalls.delete" + gce.OperationSuffix, Times: 2})
	if err := e.p.Cleanup(ctx, "inuse", nil); err != nil {
		t.Fatalf("Cleanup through two failed operations: %v", err)
	}
	if _, ok := e.srv.Firewall("burst-inuse-client"); ok {
		t.Error("the rule whose delete operations failed is still there")
	}

	// A rule that never becomes deletable: retried until ctx ends.
	prepare(t, e, "stuck")
	e.model.Inject(cloudsim.Fault{Kind: cloudsim.KindInvalid, Code: "resourceInUseByAnotherResource", Service: gce.Service, Action: "compute.firewalls.delete",
		Message: "The firewall resource 'projects/burst-sim/global/firewalls/burst-stuck-client' is already being used by 'x'"})
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	e.p.opts.Sleep = func(ctx context.Context, d time.Duration) error {
		e.clock.Advance(d)
		if e.clock.Now().Sub(start) > 2*time.Hour {
			cancel()
		}
		return ctx.Err()
	}
	err = e.p.DeleteResources(cctx, []provider.Resource{{Kind: KindFirewall, ID: "burst-stuck-client", Provider: Name, Cluster: "stuck"}})
	if err == nil || !strings.Contains(err.Error(), "resourceInUseByAnotherResource") || cctx.Err() == nil {
		t.Errorf("DeleteResources of a stuck rule: %v", err)
	}
	if n := e.model.Count("compute.firewalls.delete"); n < 10 {
		t.Errorf("only %d tries before ctx ended", n)
	}
	if err := e.p.DeleteResources(ctx, []provider.Resource{{Kind: "network", ID: "default", Provider: Name}}); err == nil {
		t.Error("DeleteResources deleted a kind gcp never creates")
	}
}

func TestRuleOwner(t *testing.T) {
	long := strings.Repeat("abcdefgh", 4) // 32, the longest cluster name
	for _, tt := range []struct {
		name, desc, cluster string
	}{
		{"burst-etl-internal", "burst-cluster=etl burst-owner=ana managed by burst: traffic inside the cluster", "etl"},
		{"burst-etl-client", "burst-cluster=etl burst-owner=ana managed by burst: SSH and Dask from the caller", "etl"},
		{"burst-" + long + "-client", "burst-cluster=" + long + " burst-owner=unknown managed by burst", long},
		{"burst-a-b-internal", "burst-cluster=a-b burst-owner=x", "a-b"},
		{"burst-etl-internal", "burst-cluster=etl-prod burst-owner=ana", ""},
		{"burst-etl-prod-internal", "burst-cluster=etl burst-owner=ana", ""},
		{"burst-etl-extra", "burst-cluster=etl", ""},
		{"burst-etl-internal", "", ""},
		{"burst-etl-internal", "managed by burst burst-cluster=etl", ""},
		{"burst-etl-internal", "burst-cluster=etl burst-cluster=etl", ""},
		{"burst-etl-internal", "xburst-cluster=etl", ""},
		{"burst--internal", "burst-cluster=", ""},
		{"burst-" + long + "x-client", "burst-cluster=" + long + "x", ""}, // 33 characters
		{"etl-internal", "burst-cluster=etl", ""},
	} {
		got, tags, ok := ruleOwner(tt.name, tt.desc)
		if got != tt.cluster || ok != (tt.cluster != "") {
			t.Errorf("ruleOwner(%q, %q) = %q, %v; want %q", tt.name, tt.desc, got, ok, tt.cluster)
		}
		if ok && tags[provider.TagCluster] != tt.cluster {
			t.Errorf("ruleOwner(%q): tags %v", tt.name, tags)
		}
	}
}
