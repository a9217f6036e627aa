package aws_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/burstdev/burst/internal/catalog"
	"github.com/burstdev/burst/internal/cloudsim"
	simec2 "github.com/burstdev/burst/internal/cloudsim/ec2"
	"github.com/burstdev/burst/internal/plan"
	"github.com/burstdev/burst/internal/provider"
	"github.com/burstdev/burst/internal/provider/aws"
	"github.com/burstdev/burst/internal/provision"
	"github.com/burstdev/burst/pkg/spec"
)

// gcEngine is engineFor on the env's manual clock: tags, grace and
// deadlines all read it, and waiting advances it.
func gcEngine(e *env, cat *catalog.Catalog) *provision.Engine {
	eng := engineFor(e, cat, &plan.Unavailable{})
	eng.Now = e.clock.Now
	eng.Sleep = func(ctx context.Context, d time.Duration) error { e.clock.Advance(d); return ctx.Err() }
	eng.Replan = func(c *spec.Cluster, site plan.Site) (*plan.Plan, error) {
		return plan.Make(c, cat, plan.Options{Unavailable: eng.Unavailable, Now: e.clock.Now(), Site: site})
	}
	return eng
}

// up runs `burst up` for a cluster through the engine.
func up(t *testing.T, e *env, eng *provision.Engine, cat *catalog.Catalog, c *spec.Cluster) *provision.Result {
	t.Helper()
	pl, err := plan.Make(c, cat, plan.Options{Unavailable: eng.Unavailable, Now: e.clock.Now()})
	if err != nil {
		t.Fatal(err)
	}
	res, err := eng.Up(ctx(t), c, pl, provision.WaitMachines)
	if err != nil || res.Head == nil {
		t.Fatalf("Up %s: %v", c.Name, err)
	}
	return res
}

// orphanKey is what a test expects of an orphan.
type orphanKey struct{ cluster, kind, reason string }

func orphanCounts(os []provision.Orphan) map[orphanKey]int {
	out := map[orphanKey]int{}
	for _, o := range os {
		out[orphanKey{o.Cluster, o.Kind, o.Reason}]++
	}
	return out
}

// clusterLeaks lists what the simulator still has of a cluster that bills
// or lingers: instances not terminated and tagged resources.
func clusterLeaks(m *cloudsim.Model, cluster string) []string {
	var out []string
	for _, l := range m.Leaks(provider.TagCluster) {
		id := l[strings.Index(l, "/")+1:]
		id = strings.Fields(id)[0]
		if in, ok := m.Instance(id); ok && in.Tags[provider.TagCluster] == cluster {
			out = append(out, l)
			continue
		}
		for _, k := range []string{simec2.KindSecurityGroup, simec2.KindKeyPair, simec2.KindLaunchTemplate} {
			if r, ok := m.Resource(k, id); ok && r.Tags[provider.TagCluster] == cluster {
				out = append(out, l)
			}
		}
	}
	return out
}

// TestGC runs `burst gc`'s engine (Orphans, then Collect) over the wire
// against clusters in every state an AWS account can hold:
//
//   - healthy: head and workers running, an hour old: never touched;
//   - headless: its head is gone, its workers run on: the workers go (no
//     head), then its security group, key pair and launch templates (all
//     its machines collected);
//   - expired: past burst-expires: every machine goes, then the rest;
//   - stopped: a worker someone stopped (aws ec2 stop-instances; burst's
//     own shutdown terminates): that worker goes, its running cluster stays;
//   - leftover: every machine removed itself (guest shutdown terminates)
//     and no down ran: the group, key pair and templates go (no machines);
//   - young: being created (resources and workers, no head yet), and
//     starting (resources, no machine yet), 9 minutes ago: untouched, inside
//     the 10-minute grace.
//
// After Collect the simulator holds nothing of the collected clusters,
// their private key files are gone, the others' are kept, and a second
// pass finds nothing.
func TestGC(t *testing.T) {
	t0 := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	clock := cloudsim.NewClock(t0)
	e := newEnv(t, withClock(clock), withModel(func(c *cloudsim.Config) { c.TerminateDelay = 200 * time.Millisecond }))
	cat, err := e.p.Catalog(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	eng := gcEngine(e, cat)
	res := map[string]*provision.Result{}
	for _, name := range []string{"healthy", "headless", "expired", "stopped", "leftover"} {
		c := cluster(name, 2, spec.OnDemand)
		if name == "expired" {
			c.MaxLifetime = 30 * time.Minute
		}
		res[name] = up(t, e, eng, cat, c)
	}
	// The headless cluster's head ends (its watchdog, an interruption, a
	// user); its workers do not notice.
	if got := e.model.Terminate([]string{res["headless"].Head.ID}, "user"); len(got) != 1 {
		t.Fatal("cannot end the head")
	}
	// Every machine of the leftover cluster shuts itself down.
	for _, m := range res["leftover"].Machines {
		if st, _ := e.sim.GuestShutdown(m.ID); st == cloudsim.Running {
			t.Fatalf("guest shutdown left %s running", m.ID)
		}
	}
	var stoppedID string
	for _, m := range res["stopped"].Machines {
		if m.Role == spec.RoleWorker {
			stoppedID = m.ID
		}
	}
	e.model.Stop([]string{stoppedID}, "user")

	clock.Advance(time.Hour)
	// The young cluster: prepared and launching, head not up yet.
	young := cluster("young", 2, spec.OnDemand)
	if err := e.p.Prepare(ctx(t), provider.PrepareRequest{Cluster: "young", Regions: []string{"us-east-1"}, Tags: eng.Tags(young, "")}); err != nil {
		t.Fatal(err)
	}
	req := launchReq("young", 2, "young-w-1", offering("us-east-1", "m7i.large", "on-demand"))
	req.Tags = eng.Tags(young, spec.RoleWorker)
	if _, err := e.p.Launch(ctx(t), req); err != nil {
		t.Fatal(err)
	}
	// The starting cluster: prepared, no machine launched yet.
	starting := cluster("starting", 2, spec.OnDemand)
	if err := e.p.Prepare(ctx(t), provider.PrepareRequest{Cluster: "starting", Regions: []string{"us-east-1"}, Tags: eng.Tags(starting, "")}); err != nil {
		t.Fatal(err)
	}
	clock.Advance(9 * time.Minute)

	rs, err := e.p.Resources(ctx(t), provider.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		want := t0
		if r.Cluster == "young" || r.Cluster == "starting" {
			want = t0.Add(time.Hour)
		}
		// EC2's own creation time, a few simulated milliseconds after the
		// tag's second, where there is one.
		if r.CreatedAt.Before(want) || r.CreatedAt.After(want.Add(time.Second)) || r.Provider != aws.Name || r.Region != "us-east-1" || r.ID == "" || r.Name == "" {
			t.Errorf("resource %+v: want created at %s, provider, region, ID and name", r, want)
		}
	}

	orphans, err := eng.Orphans(ctx(t), []string{aws.Name}, provider.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[orphanKey]int{
		{"headless", "machine", provision.ReasonNoHead}:                  2,
		{"headless", aws.KindSecurityGroup, provision.ReasonCollected}:   1,
		{"headless", aws.KindKeyPair, provision.ReasonCollected}:         1,
		{"headless", aws.KindLaunchTemplate, provision.ReasonCollected}:  2, // head's and workers'
		{"expired", "machine", provision.ReasonPastDeadline}:             3,
		{"expired", aws.KindSecurityGroup, provision.ReasonCollected}:    1,
		{"expired", aws.KindKeyPair, provision.ReasonCollected}:          1,
		{"expired", aws.KindLaunchTemplate, provision.ReasonCollected}:   2,
		{"stopped", "machine", provision.ReasonStopped}:                  1,
		{"leftover", aws.KindSecurityGroup, provision.ReasonNoMachines}:  1,
		{"leftover", aws.KindKeyPair, provision.ReasonNoMachines}:        1,
		{"leftover", aws.KindLaunchTemplate, provision.ReasonNoMachines}: 2,
	}
	if got := orphanCounts(orphans); !mapsEqual(got, want) {
		t.Fatalf("orphans:\n got %v\nwant %v", got, want)
	}
	for _, o := range orphans {
		if o.Machine != nil && o.Kind == "machine" && o.Reason == provision.ReasonStopped && o.ID != stoppedID {
			t.Errorf("stopped orphan %s, want %s", o.ID, stoppedID)
		}
	}

	keys := map[string]string{}
	for _, c := range []string{"healthy", "headless", "expired", "stopped", "leftover", "young", "starting"} {
		keys[c] = e.p.KeyPath(c, "us-east-1")
		if _, err := os.Stat(keys[c]); err != nil {
			t.Fatalf("key of %s: %v", c, err)
		}
	}
	e.model.ResetRequests()
	if err := eng.Collect(ctx(t), orphans); err != nil {
		t.Fatalf("Collect: %v", err)
	}
	if _, dv := e.count("DeleteSecurityGroup", "DependencyViolation"); dv == 0 {
		t.Errorf("no DeleteSecurityGroup met DependencyViolation: the wait for terminating instances was not exercised")
	}
	for _, c := range []string{"headless", "expired", "leftover"} {
		if l := clusterLeaks(e.model, c); len(l) != 0 {
			t.Errorf("after Collect, %s still has %v", c, l)
		}
		if _, err := os.Stat(keys[c]); !os.IsNotExist(err) {
			t.Errorf("the private key of %s is still on disk: %v", c, err)
		}
	}
	for c, n := range map[string]int{"healthy": 3 + 4, "stopped": 2 + 4, "young": 2 + 3, "starting": 2} {
		if l := clusterLeaks(e.model, c); len(l) != n {
			t.Errorf("%s has %d live things after Collect, want %d untouched: %v", c, len(l), n, l)
		}
		if _, err := os.Stat(keys[c]); err != nil {
			t.Errorf("the private key of %s was removed: %v", c, err)
		}
	}
	if in, _ := e.model.Instance(stoppedID); in.State != cloudsim.Terminated {
		t.Errorf("stopped worker is %s after Collect", in.State)
	}

	again, err := eng.Orphans(ctx(t), []string{aws.Name}, provider.Filter{})
	if err != nil || len(again) != 0 {
		t.Errorf("second pass: %v, %v; want nothing", orphanCounts(again), err)
	}
	// Deleting what is already gone is no error.
	var gone []provider.Resource
	for _, o := range orphans {
		if o.Resource != nil {
			gone = append(gone, *o.Resource)
		}
	}
	if err := e.p.DeleteResources(ctx(t), gone); err != nil {
		t.Errorf("DeleteResources of deleted resources: %v", err)
	}
}

func mapsEqual[K comparable](a, b map[K]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestGCCluster: Resources honours Filter.Cluster and Filter.Regions.
func TestGCCluster(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct{ name, region string }{{"a", "us-east-1"}, {"b", "us-east-1"}, {"a", "us-west-2"}} {
		if err := e.p.Prepare(ctx(t), provider.PrepareRequest{Cluster: c.name, Regions: []string{c.region}, Tags: map[string]string{provider.TagCluster: c.name}}); err != nil {
			t.Fatal(err)
		}
	}
	count := func(f provider.Filter) string {
		rs, err := e.p.Resources(ctx(t), f)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range rs {
			out = append(out, r.Cluster+"/"+r.Region+"/"+r.Kind)
		}
		sort.Strings(out)
		return strings.Join(out, " ")
	}
	if got := count(provider.Filter{Cluster: "a"}); got != "a/us-east-1/key-pair a/us-east-1/security-group a/us-west-2/key-pair a/us-west-2/security-group" {
		t.Errorf("cluster a: %s", got)
	}
	if got := count(provider.Filter{Regions: []string{"us-east-1"}}); got != "a/us-east-1/key-pair a/us-east-1/security-group b/us-east-1/key-pair b/us-east-1/security-group" {
		t.Errorf("us-east-1: %s", got)
	}
}

// defaultRegions are the regions an AWS account has enabled by default.
var defaultRegions = []string{"ap-northeast-1", "ap-northeast-2", "ap-northeast-3", "ap-south-1", "ap-southeast-1", "ap-southeast-2",
	"ca-central-1", "eu-central-1", "eu-north-1", "eu-west-1", "eu-west-2", "eu-west-3", "sa-east-1", "us-east-1", "us-east-2", "us-west-1", "us-west-2"}

// TestAllRegions: with AllRegions, Machines and Resources ask EC2 which
// regions the account has enabled (once per provider), skip the disabled
// ones, and list the rest in parallel, at most MaxRegionsInFlight at a
// time. Without it they list the configured regions only.
func TestAllRegions(t *testing.T) {
	var inFlight, peak atomic.Int32
	var mu sync.Mutex
	regions := map[string][]string{}
	for _, r := range append(slices.Clone(defaultRegions), "af-south-1") {
		regions[r] = []string{r + "a", r + "b"}
	}
	e := newEnv(t,
		withModel(func(c *cloudsim.Config) { c.Regions = regions; c.Latency = 20 * time.Millisecond }),
		withHandler(func(h http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				n := inFlight.Add(1)
				mu.Lock()
				if n > peak.Load() {
					peak.Store(n)
				}
				mu.Unlock()
				defer inFlight.Add(-1)
				h.ServeHTTP(w, r)
			})
		}))
	e.sim.DisableRegion("af-south-1") // an opt-in region not opted into
	// A leftover group and key in ap-south-1, and a machine in us-west-1,
	// made by a provider configured for them.
	other := aws.New(e.opts)
	if err := other.Prepare(ctx(t), provider.PrepareRequest{Cluster: "far", Regions: []string{"ap-south-1"}, Tags: map[string]string{provider.TagCluster: "far"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.model.Launch(cloudsim.LaunchSpec{Region: "us-west-1", Zone: "us-west-1a", Type: "m7i.large", Count: 1,
		Tags: map[string]string{provider.TagCluster: "far"}, Name: func(seq int) (string, string) { return fmt.Sprintf("i-%017x", seq), "" }}); err != nil {
		t.Fatal(err)
	}

	p := aws.New(e.opts) // configured for us-east-1 only (AWS_REGION)
	if ms, err := p.Machines(ctx(t), provider.Filter{}); err != nil || len(ms) != 0 {
		t.Fatalf("Machines in the configured region: %d, %v; want none", len(ms), err)
	}
	if rs, err := p.Resources(ctx(t), provider.Filter{}); err != nil || len(rs) != 0 {
		t.Fatalf("Resources in the configured region: %d, %v; want none", len(rs), err)
	}

	e.model.ResetRequests()
	peak.Store(0)
	ms, err := p.Machines(ctx(t), provider.Filter{AllRegions: true})
	if err != nil || len(ms) != 1 || ms[0].Region != "us-west-1" || ms[0].Cluster != "far" {
		t.Fatalf("Machines in all regions: %+v, %v", ms, err)
	}
	if got := peak.Load(); got > aws.MaxRegionsInFlight || got < 2 {
		t.Errorf("%d calls in flight at most, want 2 to %d", got, aws.MaxRegionsInFlight)
	}
	rs, err := p.Resources(ctx(t), provider.Filter{AllRegions: true})
	if err != nil || len(rs) != 2 {
		t.Fatalf("Resources in all regions: %+v, %v", rs, err)
	}
	for _, r := range rs {
		if r.Region != "ap-south-1" || r.Cluster != "far" {
			t.Errorf("resource %+v, want far's in ap-south-1", r)
		}
	}
	perAction := map[string]map[string]int{}
	for _, r := range e.model.Requests() {
		if perAction[r.Action] == nil {
			perAction[r.Action] = map[string]int{}
		}
		perAction[r.Action][r.Region]++
		if r.Region == "af-south-1" {
			t.Errorf("%s called in the disabled region", r.Action)
		}
	}
	if n := perAction["DescribeRegions"]["us-east-1"]; n != 1 || len(perAction["DescribeRegions"]) != 1 {
		t.Errorf("DescribeRegions calls %v, want one in the SDK's region for both listings", perAction["DescribeRegions"])
	}
	for _, a := range []string{"DescribeInstances", "DescribeSecurityGroups", "DescribeKeyPairs", "DescribeLaunchTemplates"} {
		if len(perAction[a]) != len(defaultRegions) {
			t.Errorf("%s in %d regions, want %d", a, len(perAction[a]), len(defaultRegions))
		}
		for r, n := range perAction[a] {
			if n != 1 {
				t.Errorf("%s called %d times in %s, want 1", a, n, r)
			}
		}
	}
	total := len(e.model.Requests())
	if want := 1 + 4*len(defaultRegions); total != want {
		t.Errorf("%d calls for Machines and Resources in all regions, want %d", total, want)
	}
	t.Logf("all regions: %d enabled regions, %d calls, peak %d in flight", len(defaultRegions), total, peak.Load())

	// A region that fails fails the search: gc must not act on half a
	// picture.
	e.model.Inject(cloudsim.Fault{Kind: cloudsim.KindAuth, Service: simec2.ServiceEC2, Action: "DescribeInstances", Times: 1})
	if _, err := p.Machines(ctx(t), provider.Filter{AllRegions: true}); err == nil {
		t.Errorf("Machines with one region failing: no error")
	}
}

// TestDeleteResourcesHeldGroup: a security group that a running instance
// holds (one gc is not terminating) fails at once, naming the instance,
// rather than waiting for something that will not happen; one whose
// instances are shutting down is retried until ctx ends.
func TestDeleteResourcesHeldGroup(t *testing.T) {
	clock := cloudsim.NewClock(time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC))
	e := newEnv(t, withClock(clock), withModel(func(c *cloudsim.Config) { c.TerminateDelay = time.Hour }))
	res, err := e.p.Launch(ctx(t), launchReq("held", 1, "held-w-1", offering("us-east-1", "m7i.large", "on-demand")))
	if err != nil || len(res.Machines) != 1 {
		t.Fatalf("Launch: %v", err)
	}
	rs, err := e.p.Resources(ctx(t), provider.Filter{Cluster: "held"})
	if err != nil || len(rs) != 3 {
		t.Fatalf("Resources: %+v, %v", rs, err)
	}
	err = e.p.DeleteResources(ctx(t), rs)
	if err == nil || !strings.Contains(err.Error(), res.Machines[0].ID+" (running)") || !strings.Contains(err.Error(), "not shutting down") {
		t.Fatalf("DeleteResources with a running holder: %v", err)
	}
	if n, _ := e.count("DeleteSecurityGroup", ""); n != 1 {
		t.Errorf("DeleteSecurityGroup called %d times, want 1 (no wait)", n)
	}
	if _, err := os.Stat(e.p.KeyPath("held", "us-east-1")); !os.IsNotExist(err) {
		t.Errorf("the key pair went but its private key file stayed: %v", err)
	}

	// Shutting down for an hour: retried until the context ends.
	if err := e.p.Terminate(ctx(t), res.Machines); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx(t), 300*time.Millisecond)
	defer cancel()
	err = e.p.DeleteResources(short, rs)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("DeleteResources while the holder shuts down: %v, want the context's deadline", err)
	}
	if n, dv := e.count("DeleteSecurityGroup", "DependencyViolation"); n < 3 || dv != n {
		t.Errorf("DeleteSecurityGroup: %d calls, %d DependencyViolation; want it retried", n, dv)
	}
}
