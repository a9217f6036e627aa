package azure_test

import (
	"errors"
	"io"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/burstdev/burst/internal/catalog"
	"github.com/burstdev/burst/internal/cloudsim"
	"github.com/burstdev/burst/internal/cloudsim/arm"
	"github.com/burstdev/burst/internal/plan"
	"github.com/burstdev/burst/internal/provider"
	"github.com/burstdev/burst/internal/provider/azure"
)

const (
	setWrite  = "Microsoft.Compute/virtualMachineScaleSets/write"
	setRead   = "Microsoft.Compute/virtualMachineScaleSets/read"
	setDelete = "Microsoft.Compute/virtualMachineScaleSets/delete/action"
	vmWrite   = "Microsoft.Compute/virtualMachines/write"
	vmDelete  = "Microsoft.Compute/virtualMachines/delete"
)

func launch(t *testing.T, e *env, req provider.LaunchRequest) *provider.LaunchResult {
	t.Helper()
	res, err := e.p.Launch(ctx(t), req)
	if err != nil {
		t.Fatalf("Launch: %v", err)
	}
	return res
}

func byType(ms []provider.Machine) map[string]int {
	out := map[string]int{}
	for _, m := range ms {
		out[m.InstanceType]++
	}
	return out
}

func failureKinds(res *provider.LaunchResult) map[string]error {
	out := map[string]error{}
	for _, f := range res.Failures {
		out[f.Offering.InstanceType+"/"+f.Offering.Region] = f.Err
	}
	return out
}

// TestWorkersOneScaleSet: 250 workers are one scale set, made by one PUT,
// whose VMs carry what self-removal and a clean teardown rely on.
func TestWorkersOneScaleSet(t *testing.T) {
	e := newEnv(t)
	res := launch(t, e, workers("etl", 250, "etl-w-1", offer(t, "Standard_D2s_v5", "eastus", catalog.OnDemand)))
	if len(res.Machines) != 250 || len(res.Failures) != 0 {
		t.Fatalf("got %d machines, failures %v", len(res.Machines), res.Failures)
	}
	if n := e.count(setWrite); n != 1 {
		t.Errorf("%d scale set writes for 250 workers, want 1", n)
	}
	sets := e.sim.ScaleSets()
	if len(sets) != 1 {
		t.Fatalf("scale sets %v", sets)
	}
	if c, _ := e.sim.ScaleSetCapacity(sets[0]); c != 250 {
		t.Errorf("capacity %d, want 250", c)
	}
	m := res.Machines[0]
	if m.Role != "worker" || m.Cluster != "etl" || m.Capacity != catalog.OnDemand || m.InstanceType != "Standard_D2s_v5" || m.Region != "eastus" || m.State != provider.Running {
		t.Errorf("machine %+v", m)
	}
	if !strings.HasPrefix(m.ID, "burst-etl-eastus/etl-w-") {
		t.Errorf("machine ID %q", m.ID)
	}
	in := e.instance(m)
	identity := strings.ToLower("/subscriptions/" + e.sim.Subscription() + "/resourceGroups/burst-etl-eastus/providers/Microsoft.ManagedIdentity/userAssignedIdentities/etl-identity")
	for k, want := range map[string]string{
		"osDiskDeleteOption": "Delete", "nicDeleteOption": "Delete", "priority": "Regular", "identity": identity,
		"image": azure.DefaultImage, "adminUsername": "burst",
	} {
		if in.Attrs[k] != want {
			t.Errorf("VM %s = %q, want %q", k, in.Attrs[k], want)
		}
	}
	for _, want := range []string{"BURST_ROLE='worker'", "BURST_TARGET='azure'", "BURST_ARM_API='" + e.url + "'", "tcp://10.0.0.4:8786"} {
		if !strings.Contains(in.UserData, want) {
			t.Errorf("custom data lacks %q", want)
		}
	}
}

// TestInstanceMix: a location's mixable sizes of one architecture share a
// set, the cheapest with capacity first; a shortfall scales the set down to
// what it got and fails its offerings; the rest spills onto the next batch.
func TestInstanceMix(t *testing.T) {
	e := newEnv(t)
	offs := []plan.Offering{
		offer(t, "Standard_F2s_v2", "eastus", catalog.OnDemand),
		offer(t, "Standard_D2as_v5", "eastus", catalog.OnDemand),
		offer(t, "Standard_D2ps_v5", "eastus", catalog.OnDemand),
		offer(t, "Standard_D2s_v5", "eastus", catalog.OnDemand),
	}
	e.sim.SetRegionCapacity("Standard_F2s_v2", "eastus", cloudsim.OnDemand, 0)
	e.sim.SetRegionCapacity("Standard_D2as_v5", "eastus", cloudsim.OnDemand, 10)
	e.sim.SetRegionCapacity("Standard_D2s_v5", "eastus", cloudsim.OnDemand, 5)
	res := launch(t, e, workers("mix", 30, "mix-w-1", offs...))
	if len(res.Machines) != 30 {
		t.Fatalf("got %d machines (failures %v)", len(res.Machines), res.Failures)
	}
	want := map[string]int{"Standard_D2as_v5": 10, "Standard_D2s_v5": 5, "Standard_D2ps_v5": 15}
	if got := byType(res.Machines); !equalCounts(got, want) {
		t.Errorf("sizes %v, want %v", got, want)
	}
	fails := failureKinds(res)
	for _, s := range []string{"Standard_F2s_v2", "Standard_D2as_v5", "Standard_D2s_v5"} {
		if !errors.Is(fails[s+"/eastus"], provider.ErrNoCapacity) {
			t.Errorf("failure of %s = %v, want no capacity", s, fails[s+"/eastus"])
		}
	}
	if _, ok := fails["Standard_D2ps_v5/eastus"]; ok {
		t.Errorf("the arm64 batch filled its share but failed: %v", res.Failures)
	}
	sets := e.sim.ScaleSets()
	sort.Strings(sets)
	if len(sets) != 2 {
		t.Fatalf("scale sets %v", sets)
	}
	for _, s := range sets {
		if c, _ := e.sim.ScaleSetCapacity(s); c != 15 {
			t.Errorf("set %s capacity %d, want 15 (a short set is scaled to what it got)", s, c)
		}
	}
	// Two creates and one scale-down.
	if n := e.count(setWrite); n != 3 {
		t.Errorf("%d scale set writes, want 3", n)
	}
}

func equalCounts(a, b map[string]int) bool {
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

// TestSpot: Spot VMs are deleted on eviction with their disk and NIC, pay
// up to the on-demand price, and leave the set's capacity smaller.
func TestSpot(t *testing.T) {
	e := newEnv(t)
	res := launch(t, e, workers("sp", 20, "sp-w-1", offer(t, "Standard_D4s_v5", "eastus", catalog.Spot)))
	if len(res.Machines) != 20 {
		t.Fatalf("got %d machines", len(res.Machines))
	}
	m := res.Machines[0]
	if m.Capacity != catalog.Spot {
		t.Errorf("capacity %s", m.Capacity)
	}
	in := e.instance(m)
	for k, want := range map[string]string{"priority": "Spot", "evictionPolicy": "Delete", "maxPrice": "-1"} {
		if in.Attrs[k] != want {
			t.Errorf("VM %s = %q, want %q", k, in.Attrs[k], want)
		}
	}
	if !e.sim.Evict(e.vmID(m)) {
		t.Fatal("Evict refused")
	}
	e.clock.Advance(time.Minute)
	ms, err := e.p.Machines(ctx(t), provider.Filter{Cluster: "sp"})
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 19 || slices.ContainsFunc(ms, func(x provider.Machine) bool { return x.ID == m.ID }) {
		t.Errorf("after eviction Machines has %d (evicted one listed: %v)", len(ms), slices.ContainsFunc(ms, func(x provider.Machine) bool { return x.ID == m.ID }))
	}
	if o := e.sim.Orphans(); len(o) != 0 {
		t.Errorf("eviction left %v", o)
	}
	if c, _ := e.sim.ScaleSetCapacity(e.sim.ScaleSets()[0]); c != 19 {
		t.Errorf("capacity after eviction %d, want 19", c)
	}
}

// TestLargeLaunchesSplit: past 1000 VMs, and past 200 of an N-series size,
// a launch spreads over several sets; GPU sizes get the driver image and
// never join a mix.
func TestLargeLaunchesSplit(t *testing.T) {
	e := newEnv(t)
	res := launch(t, e, workers("big", 1001, "big-w-1", offer(t, "Standard_D2s_v5", "eastus", catalog.OnDemand)))
	if len(res.Machines) != 1001 {
		t.Fatalf("got %d machines", len(res.Machines))
	}
	caps := setCapacities(e)
	if !slices.Equal(caps, []int64{200, 200, 200, 200, 201}) {
		t.Errorf("set capacities %v, want 201 and four of 200", caps)
	}
	// Each set's VMs are listed on their own (filtered by the set), so
	// every machine came back once, and with its set's tags.
	seen := map[string]bool{}
	for _, m := range res.Machines {
		if seen[m.ID] || m.State != provider.Running || m.Cluster != "big" {
			t.Fatalf("machine %+v (twice: %v)", m, seen[m.ID])
		}
		seen[m.ID] = true
	}
	e2 := newEnv(t)
	gpu := []plan.Offering{offer(t, "Standard_NC4as_T4_v3", "eastus", catalog.OnDemand), offer(t, "Standard_NC8as_T4_v3", "eastus", catalog.OnDemand)}
	res = launch(t, e2, workers("gpu", 450, "gpu-w-1", gpu...))
	if len(res.Machines) != 450 {
		t.Fatalf("got %d GPU machines (failures %v)", len(res.Machines), res.Failures)
	}
	if caps := setCapacities(e2); !slices.Equal(caps, []int64{150, 150, 150}) {
		t.Errorf("GPU set capacities %v, want three of 150 (200 at most a set)", caps)
	}
	if got := byType(res.Machines); got["Standard_NC4as_T4_v3"] != 450 {
		t.Errorf("GPU sizes %v: the first size alone should fill it", got)
	}
	if img := e2.instance(res.Machines[0]).Attrs["image"]; img != azure.DefaultGPUImage {
		t.Errorf("GPU image %q, want %q", img, azure.DefaultGPUImage)
	}
}

func setCapacities(e *env) []int64 {
	var out []int64
	for _, s := range e.sim.ScaleSets() {
		c, _ := e.sim.ScaleSetCapacity(s)
		out = append(out, c)
	}
	slices.Sort(out)
	return out
}

// TestQuotaErrors: a family quota fails the offerings drawing on it and
// names the quota; the regional quota rules out the location.
func TestQuotaErrors(t *testing.T) {
	e := newEnv(t)
	e.model.SetQuota(cloudsim.QuotaKey{Region: "eastus", Name: "standardDSv5Family"}, 8)
	d2s := offer(t, "Standard_D2s_v5", "eastus", catalog.OnDemand)
	d2sWest := offer(t, "Standard_D2s_v5", "westus2", catalog.OnDemand)
	res := launch(t, e, workers("q", 10, "q-w-1", d2s, d2sWest))
	if len(res.Machines) != 10 || byType(res.Machines)["Standard_D2s_v5"] != 10 || res.Machines[0].Region != "westus2" {
		t.Fatalf("got %v in %v; failures %v", byType(res.Machines), res.Machines[0].Region, res.Failures)
	}
	err := failureKinds(res)["Standard_D2s_v5/eastus"]
	var pe *provider.Error
	if !errors.As(err, &pe) || !errors.Is(pe.Kind, provider.ErrQuota) || pe.Scope != provider.ScopeOffering || !strings.Contains(pe.Msg, "standardDSv5Family") {
		t.Fatalf("eastus failure %v, want a family quota error naming standardDSv5Family", err)
	}
	if !strings.Contains(pe.Msg, "limit 8") || !strings.Contains(pe.Msg, "20 more needed") {
		t.Errorf("quota message %q lacks the limit and need", pe.Msg)
	}

	e = newEnv(t)
	e.model.SetQuota(cloudsim.QuotaKey{Region: "eastus", Name: "cores"}, 4)
	offs := []plan.Offering{
		offer(t, "Standard_D2s_v5", "eastus", catalog.OnDemand), offer(t, "Standard_NC4as_T4_v3", "eastus", catalog.OnDemand),
		offer(t, "Standard_D2s_v5", "westus2", catalog.OnDemand),
	}
	res = launch(t, e, workers("q", 10, "q-w-2", offs...))
	if len(res.Machines) != 10 {
		t.Fatalf("got %d machines; failures %v", len(res.Machines), res.Failures)
	}
	fails := failureKinds(res)
	if !errors.As(fails["Standard_D2s_v5/eastus"], &pe) || pe.Scope != provider.ScopeRegion || !strings.Contains(pe.Msg, "Total Regional Cores") {
		t.Errorf("regional quota failure %v", fails["Standard_D2s_v5/eastus"])
	}
	if !errors.Is(fails["Standard_NC4as_T4_v3/eastus"], provider.ErrQuota) {
		t.Errorf("the rest of the location was not ruled out: %v", res.Failures)
	}
	if n := e.count(setWrite); n != 2 {
		t.Errorf("%d set writes: the quota-blocked location was tried again", n)
	}
}

// TestSkuNotAvailable: a size restricted for the subscription fails at
// once with no capacity, and the launch moves on.
func TestSkuNotAvailable(t *testing.T) {
	e := newEnv(t)
	e.sim.Restrict("Standard_D2s_v5", "eastus")
	res := launch(t, e, workers("r", 3, "r-w-1", offer(t, "Standard_D2s_v5", "eastus", catalog.OnDemand), offer(t, "Standard_D2s_v5", "westus2", catalog.OnDemand)))
	if len(res.Machines) != 3 || res.Machines[0].Region != "westus2" {
		t.Fatalf("got %d machines; failures %v", len(res.Machines), res.Failures)
	}
	var pe *provider.Error
	if err := failureKinds(res)["Standard_D2s_v5/eastus"]; !errors.As(err, &pe) || !errors.Is(pe.Kind, provider.ErrNoCapacity) || pe.Code != "SkuNotAvailable" {
		t.Errorf("failure %v, want SkuNotAvailable as no capacity", err)
	}
}

// TestThrottling: a 429 is retried after Retry-After (by the provider's
// clock), and when retries run out the launch fails with ErrThrottled.
func TestThrottling(t *testing.T) {
	e := newEnv(t)
	e.sim.SetARMThrottles()
	e.model.SetBucket(arm.BucketWrites, 2, 1.0/3)
	res := launch(t, e, workers("th", 5, "th-w-1", offer(t, "Standard_D2s_v5", "eastus", catalog.OnDemand)))
	if len(res.Machines) != 5 {
		t.Fatalf("got %d machines", len(res.Machines))
	}
	throttled := 0
	for _, r := range e.model.Requests() {
		if r.Status == 429 {
			throttled++
		}
	}
	// A write token every 3 s: Retry-After says 3 (polls sleep 0.05, 0.1,
	// 0.2, 0.4, 0.8, 1.6, 3.2 and 5 s).
	if throttled == 0 || !slices.Contains(e.slept, 3*time.Second) {
		t.Errorf("%d throttled requests, sleeps %v: want throttling and 3s waits (Retry-After)", throttled, e.slept)
	}

	// The Compute RP's VM budget: 1500 burst, 500 a minute.
	e = newEnv(t)
	e.sim.SetARMThrottles()
	launch(t, e, workers("vm", 1000, "vm-w-1", offer(t, "Standard_D2s_v5", "eastus", catalog.OnDemand)))
	e.slept = nil
	res = launch(t, e, workers("vm", 1000, "vm-w-2", offer(t, "Standard_D2s_v5", "eastus", catalog.OnDemand)))
	if len(res.Machines) != 1000 {
		t.Fatalf("second 1000: %d machines", len(res.Machines))
	}
	// What the budget lacked when the second 1000 came, at 500 a minute.
	if !slices.ContainsFunc(e.slept, func(d time.Duration) bool { return d >= 20*time.Second && d <= 60*time.Second }) ||
		!slices.ContainsFunc(e.model.Requests(), func(r cloudsim.Request) bool { return r.Status == 429 && r.Code == "OperationNotAllowed" }) {
		t.Errorf("sleeps %v: want the Compute RP's 429 and a wait of tens of seconds for the VM budget", e.slept)
	}

	e = newEnv(t)
	e.sim.SetARMThrottles()
	e.model.SetBucket(arm.BucketWrites, 1, 0.0001)
	_, err := e.p.Launch(ctx(t), workers("th", 1, "th-w-2", offer(t, "Standard_D2s_v5", "eastus", catalog.OnDemand)))
	if !errors.Is(err, provider.ErrThrottled) {
		t.Fatalf("exhausted writes: %v, want throttled", err)
	}
	for _, d := range e.slept {
		if d > 2*time.Minute {
			t.Errorf("slept %s, over MaxRetryDelay", d)
		}
	}
}

// TestIdempotentAcrossRuns: a Launch retried by a new process with the same
// token returns the machines of the first and creates nothing.
func TestIdempotentAcrossRuns(t *testing.T) {
	e := newEnv(t)
	req := workers("idem", 7, "idem-w-1", offer(t, "Standard_D2s_v5", "eastus", catalog.OnDemand))
	first := launch(t, e, req)
	p2, err := azure.New(e.opts)
	if err != nil {
		t.Fatal(err)
	}
	writes := e.count(setWrite)
	second, err := p2.Launch(ctx(t), req)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids(first.Machines), ids(second.Machines)) || e.count(setWrite) != writes {
		t.Fatalf("retry gave %v (was %v); set writes %d -> %d", ids(second.Machines), ids(first.Machines), writes, e.count(setWrite))
	}
	h := head("idem", "idem-h-1", offer(t, "Standard_D2s_v5", "eastus", catalog.OnDemand))
	a := launch(t, e, h)
	b, err := p2.Launch(ctx(t), h)
	if err != nil || !slices.Equal(ids(a.Machines), ids(b.Machines)) || e.count(vmWrite) != 1 {
		t.Fatalf("head retry gave %v (was %v), %d VM writes, %v", ids(b.Machines), ids(a.Machines), e.count(vmWrite), err)
	}
}

// TestLaunchInFreshGroup: in a group this provider created (ARM answered
// its PUT 201 Created), a Launch does not list the group for its token
// first, unless this provider launched with the token before; a provider
// that finds the group there (200 OK), as after a crash, lists it and
// gets the earlier launch's machines.
func TestLaunchInFreshGroup(t *testing.T) {
	e := newEnv(t)
	o := offer(t, "Standard_D2s_v5", "eastus", catalog.OnDemand)
	prepare(t, e, "fg", "eastus")
	e.model.ResetRequests()
	h := launch(t, e, head("fg", "fg-h-1", o))
	w := launch(t, e, workers("fg", 4, "fg-w-1", o))
	if n, m := e.count(vmRead), e.count(setRead); n != 1 || m != 0 {
		t.Errorf("launches into a fresh group made %d VM reads and %d set reads, want 1 (the new set's VMs) and none", n, m)
	}
	// The same token again in this process: listed, nothing made.
	e.model.ResetRequests()
	again := launch(t, e, workers("fg", 4, "fg-w-1", o))
	if !slices.Equal(ids(again.Machines), ids(w.Machines)) || e.count(setRead) != 1 || e.count(setWrite) != 0 {
		t.Errorf("the token again gave %v (was %v), %d set reads, %d set writes", ids(again.Machines), ids(w.Machines), e.count(setRead), e.count(setWrite))
	}
	// A new run (after a crash) prepares the group that is there (200)
	// and lists it for each token.
	p2, err := azure.New(e.opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := p2.Prepare(ctx(t), provider.PrepareRequest{Cluster: "fg", Regions: []string{"eastus"}, Tags: map[string]string{provider.TagOwner: "tester"}}); err != nil {
		t.Fatal(err)
	}
	e.model.ResetRequests()
	h2, err := p2.Launch(ctx(t), head("fg", "fg-h-1", o))
	if err != nil || !slices.Equal(ids(h2.Machines), ids(h.Machines)) || e.count(vmWrite) != 0 || e.count(vmRead) == 0 {
		t.Errorf("after a crash the head's token gave %v (was %v), %d VM writes, %d VM reads, %v", ids(h2.Machines), ids(h.Machines), e.count(vmWrite), e.count(vmRead), err)
	}
	w2, err := p2.Launch(ctx(t), workers("fg", 4, "fg-w-1", o))
	if err != nil || !slices.Equal(ids(w2.Machines), ids(w.Machines)) || e.count(setWrite) != 0 {
		t.Errorf("after a crash the workers' token gave %v (was %v), %d set writes, %v", ids(w2.Machines), ids(w.Machines), e.count(setWrite), err)
	}
}

// TestHeadAddressesFromLaunch: Launch returns the head with its private
// and public addresses, read while its operation ran (one NIC list, one
// public IP list), so the engine need not list the cluster for them; when
// that early read misses the NIC (on ARM it is made during the VM's
// operation), they are read again once the operation succeeded.
func TestHeadAddressesFromLaunch(t *testing.T) {
	o := offer(t, "Standard_D2s_v5", "eastus", catalog.OnDemand)
	check := func(e *env, got provider.Machine) {
		t.Helper()
		ms, err := e.p.Machines(ctx(t), provider.Filter{Cluster: "ha"})
		if err != nil {
			t.Fatal(err)
		}
		if len(ms) != 1 || ms[0].ID != got.ID || got.PrivateIP == "" || got.PublicIP == "" ||
			ms[0].PrivateIP != got.PrivateIP || ms[0].PublicIP != got.PublicIP || got.State != provider.Running {
			t.Fatalf("Launch gave %+v, Machines lists %+v", got, ms)
		}
	}
	e := newEnv(t)
	prepare(t, e, "ha", "eastus")
	e.model.ResetRequests()
	h := launch(t, e, head("ha", "ha-h-1", o))
	if n, m := e.count("Microsoft.Network/networkInterfaces/read"), e.count("Microsoft.Network/publicIPAddresses/read"); n != 1 || m != 1 {
		t.Errorf("the head's launch listed NICs %d times and public IPs %d times, want once each", n, m)
	}
	check(e, h.Machines[0])

	// The first NIC list finds nothing yet.
	var mu sync.Mutex
	nicLists := 0
	e = newEnv(t, func(_ *cloudsim.Config, o *azure.Options) {
		o.Transport = transportFunc(func(r *http.Request) (*http.Response, error) {
			if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/networkInterfaces") {
				mu.Lock()
				nicLists++
				first := nicLists == 1
				mu.Unlock()
				if first {
					return &http.Response{StatusCode: http.StatusOK, Header: http.Header{"Content-Type": {"application/json"}},
						Body: io.NopCloser(strings.NewReader(`{"value":[]}`)), Request: r}, nil
				}
			}
			return http.DefaultTransport.RoundTrip(r)
		})
	})
	prepare(t, e, "ha", "eastus")
	h = launch(t, e, head("ha", "ha-h-1", o))
	if nicLists != 2 {
		t.Errorf("%d NIC lists, want 2 (one while the operation ran, one after)", nicLists)
	}
	check(e, h.Machines[0])
}

type transportFunc func(*http.Request) (*http.Response, error)

func (f transportFunc) Do(r *http.Request) (*http.Response, error) { return f(r) }

func ids(ms []provider.Machine) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.ID
	}
	sort.Strings(out)
	return out
}

// TestHeadAndTerminate: the head is one VM with a public address, failing
// over across offerings; Terminate deletes set members in one call per set
// and the head in one call, leaving no NIC, disk or address behind.
func TestHeadAndTerminate(t *testing.T) {
	e := newEnv(t)
	e.sim.SetRegionCapacity("Standard_D2s_v5", "eastus", cloudsim.OnDemand, 0)
	hr := launch(t, e, head("ht", "ht-h-1", offer(t, "Standard_D2s_v5", "eastus", catalog.OnDemand), offer(t, "Standard_D2as_v5", "eastus", catalog.OnDemand)))
	if len(hr.Machines) != 1 || hr.Machines[0].InstanceType != "Standard_D2as_v5" {
		t.Fatalf("head %v; failures %v", hr.Machines, hr.Failures)
	}
	if err := failureKinds(hr)["Standard_D2s_v5/eastus"]; !errors.Is(err, provider.ErrNoCapacity) {
		t.Errorf("head failure %v", err)
	}
	in := e.instance(hr.Machines[0])
	if in.Attrs["publicIPDeleteOption"] != "Delete" || in.Attrs["nicDeleteOption"] != "Delete" || in.Attrs["osDiskDeleteOption"] != "Delete" {
		t.Errorf("head delete options %v", in.Attrs)
	}
	wr := launch(t, e, workers("ht", 5, "ht-w-1", offer(t, "Standard_D2as_v5", "eastus", catalog.OnDemand)))
	ms, err := e.p.Machines(ctx(t), provider.Filter{Cluster: "ht"})
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 6 {
		t.Fatalf("Machines: %d", len(ms))
	}
	for _, m := range ms {
		if m.PrivateIP == "" || m.Tags[provider.TagOwner] != "tester" || m.LaunchedAt.IsZero() {
			t.Errorf("machine %+v lacks an address, the set's tags or a launch time", m)
		}
		if (m.Role == "head") != (m.PublicIP != "") {
			t.Errorf("machine %s (%s) public IP %q: only the head has one", m.ID, m.Role, m.PublicIP)
		}
	}
	victims := append([]provider.Machine{hr.Machines[0]}, wr.Machines[:2]...)
	e.model.ResetRequests()
	if err := e.p.Terminate(ctx(t), victims); err != nil {
		t.Fatal(err)
	}
	if e.count(setDelete) != 1 || e.count(vmDelete) != 1 {
		t.Errorf("%d delete-instances and %d VM deletes, want 1 and 1", e.count(setDelete), e.count(vmDelete))
	}
	if err := e.p.Terminate(ctx(t), victims); err != nil {
		t.Fatalf("second Terminate: %v", err)
	}
	e.clock.Advance(time.Minute)
	ms, err = e.p.Machines(ctx(t), provider.Filter{Cluster: "ht"})
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 3 {
		t.Errorf("after terminate %d machines, want 3", len(ms))
	}
	if o := e.sim.Orphans(); len(o) != 0 {
		t.Errorf("terminate left %v", o)
	}
	if c, _ := e.sim.ScaleSetCapacity(e.sim.ScaleSets()[0]); c != 3 {
		t.Errorf("set capacity %d, want 3", c)
	}
	for _, r := range e.sim.Live() {
		if strings.HasPrefix(r, arm.KindPublicIP) {
			t.Errorf("public address %s outlived the head", r)
		}
	}
}

// TestZonalOffering: an offering that names a zone pins its set there; a
// stock-out in that zone is ZonalAllocationFailed, no capacity.
func TestZonalOffering(t *testing.T) {
	e := newEnv(t)
	o := offer(t, "Standard_D4s_v5", "eastus", catalog.OnDemand)
	o.Zone = "2"
	e.model.SetCapacity(cloudsim.PoolKey{Type: o.InstanceType, Zone: arm.ZoneName("eastus", "2"), Capacity: cloudsim.OnDemand}, 3)
	res := launch(t, e, workers("z", 5, "z-w-1", o))
	if len(res.Machines) != 3 {
		t.Fatalf("got %d machines", len(res.Machines))
	}
	for _, m := range res.Machines {
		if m.Zone != "2" {
			t.Errorf("machine %s in zone %q", m.ID, m.Zone)
		}
	}
	var pe *provider.Error
	if err := failureKinds(res)["Standard_D4s_v5/eastus"]; !errors.As(err, &pe) || !errors.Is(pe.Kind, provider.ErrNoCapacity) || pe.Code != "ZonalAllocationFailed" {
		t.Errorf("failure %v, want ZonalAllocationFailed", err)
	}
}
