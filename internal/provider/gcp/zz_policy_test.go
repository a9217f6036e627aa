package gcp

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/burstdev/burst/internal/catalog"
	"github.com/burstdev/burst/internal/cloudsim/gce"
	"github.com/burstdev/burst/internal/plan"
	"github.com/burstdev/burst/internal/provider"
)

// TestPolicyMatchesRequestLog checks `burst policy gcp` against what the
// provider really calls: the IAM permissions of every GCE method logged by
// the simulators of this package's tests (it runs last, in file order) must
// be exactly the role's. A method the permission table does not know fails
// the test, so a new call cannot slip past the policy.
//
// Run alone, it first drives one full lifecycle so the log is complete.
func TestPolicyMatchesRequestLog(t *testing.T) {
	loggedMu.Lock()
	complete := logged["compute.regionInstances.bulkInsert"] && logged["compute.firewalls.patch"] && logged["compute.firewalls.list"]
	loggedMu.Unlock()
	if !complete {
		t.Run("lifecycle", lifecycle) // a subtest, so its simulator's log is collected when it ends
	}
	loggedMu.Lock()
	methods := make([]string, 0, len(logged))
	for m := range logged {
		methods = append(methods, m)
	}
	loggedMu.Unlock()
	need, unknown := gce.PermissionsFor(methods)
	if len(unknown) > 0 {
		t.Fatalf("the simulator logged methods with no known permissions: %v", unknown)
	}
	for _, p := range need {
		if !slices.Contains(Permissions, p) {
			t.Errorf("policy lacks %s, which a logged method needs", p)
		}
	}
	for _, p := range Permissions {
		if !slices.Contains(need, p) {
			t.Errorf("policy grants %s, which no logged method needs", p)
		}
	}
	if !slices.IsSorted(Permissions) {
		t.Error("Permissions is not sorted")
	}
	out := Policy()
	for _, p := range Permissions {
		if !strings.Contains(out, "\n- "+p+"\n") {
			t.Errorf("Policy() does not list %s", p)
		}
	}
	t.Logf("%d methods logged, %d permissions", len(methods), len(need))
}

// lifecycle calls every method burst uses once: catalog, preflight,
// prepare (twice, the second patching), launch, list, terminate, cleanup,
// and gc's listing and deleting of firewall rules.
func lifecycle(t *testing.T) {
	e := newSim(t)
	ctx := ctxT(t)
	if _, err := e.p.Catalog(ctx); err != nil {
		t.Fatal(err)
	}
	o := offering(t, "e2-standard-2", "us-central1", catalog.OnDemand)
	if err := e.p.Preflight(ctx, provider.PreflightRequest{Groups: []plan.Group{group(1, o)}}); err != nil {
		t.Fatal(err)
	}
	req := provider.PrepareRequest{Cluster: "pol", Tags: map[string]string{}}
	if err := e.p.Prepare(ctx, req); err != nil {
		t.Fatal(err)
	}
	e.p.opts.AllowedCIDRs = []string{"192.0.2.0/24"}
	if err := e.p.Prepare(ctx, req); err != nil {
		t.Fatal(err)
	}
	res, err := e.p.Launch(ctx, launchRequest("pol", 1, o))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.p.Terminate(ctx, res.Machines); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Hour)
	rs, err := e.p.Resources(ctx, provider.Filter{Regions: []string{"us-central1"}})
	if err != nil || len(rs) != 2 {
		t.Fatalf("Resources: %v, %v", rs, err)
	}
	if err := e.p.DeleteResources(ctx, rs[:1]); err != nil {
		t.Fatal(err)
	}
	if err := e.p.Cleanup(ctx, "pol", nil); err != nil {
		t.Fatal(err)
	}
}
