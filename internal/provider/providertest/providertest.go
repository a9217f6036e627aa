package providertest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/burstdev/burst/internal/bootstrap"
	"github.com/burstdev/burst/internal/catalog"
	"github.com/burstdev/burst/internal/plan"
	"github.com/burstdev/burst/internal/provider"
	"github.com/burstdev/burst/pkg/spec"
)

// Harness is one provider under test, fresh for each subtest.
type Harness struct {
	Provider provider.Provider
	// Offerings are valid launch offerings, preferred first; nil means the
	// cheapest on-demand offerings of the provider's catalog.
	Offerings []plan.Offering
	// SetCapacity limits how many more machines the offering's pool gives;
	// nil when the provider under test cannot model it.
	SetCapacity func(o plan.Offering, n int)
	// Fail makes the provider's next call of the named API family
	// ("Launch", "Machines", "Terminate") fail with a cloud error that must
	// map to kind; nil when the provider cannot inject faults.
	Fail func(method string, kind error)
	// Timeout bounds waits for eventual consistency (default 20s).
	Timeout time.Duration
}

// Run runs the suite. newHarness is called once per subtest.
func Run(t *testing.T, newHarness func(t *testing.T) *Harness) {
	tests := []struct {
		name string
		fn   func(*testing.T, *Harness)
	}{
		{"Catalog", testCatalog},
		{"LaunchAndList", testLaunchAndList},
		{"IdempotentToken", testIdempotentToken},
		{"TerminateTwice", testTerminateTwice},
		{"TerminateUnknown", testTerminateUnknown},
		{"PartialCapacity", testPartialCapacity},
		{"ErrorMapping", testErrorMapping},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			if h.Timeout == 0 {
				h.Timeout = 20 * time.Second
			}
			tt.fn(t, h)
		})
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return c
}

// ClusterName returns a random cluster name, so runs never collide.
func ClusterName() string { return fmt.Sprintf("pt-%08x", rand.Uint32()) }

func offerings(t *testing.T, h *Harness) []plan.Offering {
	t.Helper()
	if len(h.Offerings) > 0 {
		return h.Offerings
	}
	cat, err := h.Provider.Catalog(ctx(t))
	if err != nil {
		t.Fatalf("Catalog: %v", err)
	}
	var out []plan.Offering
	for _, ty := range cat.Types {
		if ty.GPUs > 0 || ty.Burstable || ty.Exotic {
			continue
		}
		if o, ok := ty.Cheapest(catalog.OnDemand); ok {
			out = append(out, plan.Offering{Provider: ty.Provider, Region: o.Region, Zone: o.Zone, InstanceType: ty.Name,
				VCPUs: ty.VCPUs, MemoryGiB: ty.MemoryGiB, Arch: ty.Arch, Capacity: o.Capacity, Price: o.Price})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Price < out[j].Price })
	if len(out) == 0 {
		t.Fatal("catalog has no on-demand offering to launch")
	}
	return out[:min(3, len(out))]
}

func request(cluster string, n int, offs []plan.Offering) provider.LaunchRequest {
	token := fmt.Sprintf("%s-w-%d-%08x", cluster, n, rand.Uint32())
	return provider.LaunchRequest{
		Cluster: cluster, Role: spec.RoleWorker, Count: n, Offerings: offs, Token: token,
		Tags: map[string]string{provider.TagCluster: cluster, provider.TagRole: string(spec.RoleWorker), provider.TagOwner: "providertest"},
		Boot: bootstrap.Config{Cluster: cluster, Role: spec.RoleWorker, Workload: spec.Workload{Name: "none"}},
	}
}

func ids(ms []provider.Machine) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.ID
	}
	sort.Strings(out)
	return out
}

func live(ms []provider.Machine) []provider.Machine {
	var out []provider.Machine
	for _, m := range ms {
		if m.State.Live() {
			out = append(out, m)
		}
	}
	return out
}

// eventually polls Machines until cond holds or the timeout passes.
func eventually(t *testing.T, h *Harness, f provider.Filter, what string, cond func([]provider.Machine) bool) []provider.Machine {
	t.Helper()
	deadline := time.Now().Add(h.Timeout)
	for {
		ms, err := h.Provider.Machines(ctx(t), f)
		if err != nil {
			t.Fatalf("Machines: %v", err)
		}
		if cond(ms) {
			return ms
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; Machines returned %d: %v", what, len(ms), ids(ms))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func launch(t *testing.T, h *Harness, req provider.LaunchRequest) *provider.LaunchResult {
	t.Helper()
	res, err := h.Provider.Launch(ctx(t), req)
	if err != nil {
		t.Fatalf("Launch: %v", err)
	}
	if res == nil {
		t.Fatal("Launch returned a nil result")
	}
	t.Cleanup(func() { _ = h.Provider.Terminate(context.Background(), res.Machines) })
	return res
}

func testCatalog(t *testing.T, h *Harness) {
	cat, err := h.Provider.Catalog(ctx(t))
	if err != nil {
		t.Fatalf("Catalog: %v", err)
	}
	if len(cat.Types) == 0 {
		t.Fatal("Catalog has no types")
	}
	for _, ty := range cat.Types {
		if ty.Provider != h.Provider.Name() {
			t.Errorf("type %s has provider %q, want %q", ty.Name, ty.Provider, h.Provider.Name())
		}
		if ty.Name == "" || ty.VCPUs <= 0 || ty.MemoryGiB <= 0 {
			t.Errorf("type %+v lacks a name, vCPUs or memory", ty)
		}
		if ty.Arch != "x86_64" && ty.Arch != "arm64" {
			t.Errorf("type %s has arch %q", ty.Name, ty.Arch)
		}
		if (ty.GPUs > 0) != (ty.GPUModel != "") {
			t.Errorf("type %s: %d GPUs of model %q", ty.Name, ty.GPUs, ty.GPUModel)
		}
		for _, o := range ty.Offerings {
			if o.Region == "" || o.Price < 0 || (o.Capacity != catalog.OnDemand && o.Capacity != catalog.Spot) {
				t.Errorf("type %s has a bad offering %+v", ty.Name, o)
			}
		}
	}
}

func testLaunchAndList(t *testing.T, h *Harness) {
	cluster := ClusterName()
	offs := offerings(t, h)
	res := launch(t, h, request(cluster, 2, offs))
	if len(res.Machines) != 2 {
		t.Fatalf("Launch gave %d machines, want 2 (failures: %v)", len(res.Machines), res.Failures)
	}
	if got := ids(res.Machines); got[0] == got[1] || got[0] == "" {
		t.Fatalf("machine IDs %v are not distinct", got)
	}
	for _, m := range res.Machines {
		if m.Cluster != cluster || m.Role != spec.RoleWorker || m.Provider != h.Provider.Name() {
			t.Errorf("launched machine %+v: want cluster %s, role worker, provider %s", m, cluster, h.Provider.Name())
		}
		if !slices.ContainsFunc(offs, func(o plan.Offering) bool { return o.InstanceType == m.InstanceType }) {
			t.Errorf("machine %s has type %s, not one of the offerings", m.ID, m.InstanceType)
		}
	}
	want := ids(res.Machines)
	ms := eventually(t, h, provider.Filter{Cluster: cluster}, "2 live machines", func(ms []provider.Machine) bool {
		return slices.Equal(ids(live(ms)), want)
	})
	for _, m := range ms {
		if m.Tags[provider.TagCluster] != cluster || m.Tags[provider.TagOwner] != "providertest" {
			t.Errorf("machine %s tags %v lack the request's tags", m.ID, m.Tags)
		}
		if m.Role != spec.RoleWorker || m.Region == "" || m.InstanceType == "" || m.LaunchedAt.IsZero() {
			t.Errorf("machine %+v lacks role, region, type or launch time", m)
		}
	}
	other, err := h.Provider.Machines(ctx(t), provider.Filter{Cluster: ClusterName()})
	if err != nil {
		t.Fatalf("Machines(other cluster): %v", err)
	}
	if len(other) != 0 {
		t.Errorf("Machines of another cluster returned %v", ids(other))
	}
	all, err := h.Provider.Machines(ctx(t), provider.Filter{})
	if err != nil {
		t.Fatalf("Machines(all): %v", err)
	}
	for _, id := range want {
		if !slices.Contains(ids(all), id) {
			t.Errorf("Machines with no cluster filter misses %s", id)
		}
	}
}

func testIdempotentToken(t *testing.T, h *Harness) {
	cluster := ClusterName()
	req := request(cluster, 2, offerings(t, h))
	first := launch(t, h, req)
	second := launch(t, h, req)
	if !slices.Equal(ids(first.Machines), ids(second.Machines)) {
		t.Fatalf("same token gave machines %v then %v", ids(first.Machines), ids(second.Machines))
	}
	eventually(t, h, provider.Filter{Cluster: cluster}, "exactly 2 live machines", func(ms []provider.Machine) bool {
		return len(live(ms)) == 2
	})
}

func testTerminateTwice(t *testing.T, h *Harness) {
	cluster := ClusterName()
	res := launch(t, h, request(cluster, 2, offerings(t, h)))
	for i := 0; i < 2; i++ {
		if err := h.Provider.Terminate(ctx(t), res.Machines); err != nil {
			t.Fatalf("Terminate #%d: %v", i+1, err)
		}
	}
	eventually(t, h, provider.Filter{Cluster: cluster}, "no live machines", func(ms []provider.Machine) bool {
		return len(live(ms)) == 0
	})
}

func testTerminateUnknown(t *testing.T, h *Harness) {
	offs := offerings(t, h)
	ghost := provider.Machine{ID: "i-0123456789abcdef0", Cluster: ClusterName(), Provider: h.Provider.Name(), Region: offs[0].Region, Zone: offs[0].Zone}
	if err := h.Provider.Terminate(ctx(t), []provider.Machine{ghost}); err != nil {
		t.Fatalf("Terminate of an unknown machine: %v (want nil: already gone is not an error)", err)
	}
}

func testPartialCapacity(t *testing.T, h *Harness) {
	if h.SetCapacity == nil {
		t.Skip("provider cannot model capacity")
	}
	cluster := ClusterName()
	offs := offerings(t, h)
	h.SetCapacity(offs[0], 1)
	res := launch(t, h, request(cluster, 3, offs[:1]))
	if len(res.Machines) != 1 {
		t.Fatalf("with capacity for 1, Launch of 3 gave %d machines, want 1", len(res.Machines))
	}
	if !slices.ContainsFunc(res.Failures, func(f provider.OfferingError) bool { return errors.Is(f.Err, provider.ErrNoCapacity) }) {
		t.Fatalf("partial launch failures %v: want one with ErrNoCapacity", res.Failures)
	}
	if len(offs) < 2 {
		return
	}
	// With a second offering, the shortfall spills onto it.
	cluster = ClusterName()
	h.SetCapacity(offs[0], 1)
	res = launch(t, h, request(cluster, 3, offs[:2]))
	if len(res.Machines) != 3 {
		t.Fatalf("with a second offering, Launch of 3 gave %d machines (failures %v), want 3", len(res.Machines), res.Failures)
	}
}

func testErrorMapping(t *testing.T, h *Harness) {
	if h.Fail == nil {
		t.Skip("provider cannot inject faults")
	}
	offs := offerings(t, h)
	for _, kind := range []error{provider.ErrNoCapacity, provider.ErrQuota, provider.ErrThrottled, provider.ErrAuth, provider.ErrInvalid} {
		t.Run(kind.Error(), func(t *testing.T) {
			h.Fail("Launch", kind)
			res, err := h.Provider.Launch(ctx(t), request(ClusterName(), 1, offs[:1]))
			if res != nil {
				t.Cleanup(func() { _ = h.Provider.Terminate(context.Background(), res.Machines) })
			}
			got := errors.Is(err, kind)
			if res != nil {
				for _, f := range res.Failures {
					got = got || errors.Is(f.Err, kind)
				}
			}
			if !got {
				var fails []provider.OfferingError
				if res != nil {
					fails = res.Failures
				}
				t.Fatalf("injected %v: Launch returned err %v and failures %v; want the kind", kind, err, fails)
			}
		})
	}
	h.Fail("Machines", provider.ErrAuth)
	if _, err := h.Provider.Machines(ctx(t), provider.Filter{Cluster: ClusterName()}); !errors.Is(err, provider.ErrAuth) {
		t.Fatalf("injected auth failure: Machines returned %v", err)
	}
}
