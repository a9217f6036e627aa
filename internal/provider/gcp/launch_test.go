package gcp

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/burstdev/burst/internal/catalog"
	"github.com/burstdev/burst/internal/cloudsim"
	"github.com/burstdev/burst/internal/cloudsim/gce"
	"github.com/burstdev/burst/internal/provider"
)

func TestLaunchSpotAttributes(t *testing.T) {
	e := newSim(t)
	req := launchRequest("spotty", 3, offering(t, "n2-standard-4", "us-east1", catalog.Spot))
	req.Boot.ExpiresAt = e.clock.Now().Add(2 * time.Hour)
	res, err := e.p.Launch(ctxT(t), req)
	if err != nil || len(res.Machines) != 3 || len(res.Failures) != 0 {
		t.Fatalf("Launch = %d machines, failures %v, err %v", len(res.Machines), res.Failures, err)
	}
	if n := e.model.Count("compute.regionInstances.bulkInsert"); n != 1 {
		t.Errorf("%d bulkInsert calls for one offering, want 1", n)
	}
	for _, m := range res.Machines {
		if m.Capacity != catalog.Spot || m.Region != "us-east1" || !strings.HasPrefix(m.Zone, "us-east1-") || m.InstanceType != "n2-standard-4" {
			t.Errorf("machine %+v", m)
		}
		if !strings.HasPrefix(m.ID, "spotty-w-") || m.PrivateIP == "" || m.PublicIP == "" {
			t.Errorf("machine %s: name or addresses wrong: %+v", m.ID, m)
		}
		v, in, ok := e.srv.Instance(m.ID)
		if !ok {
			t.Fatalf("the simulator does not know %s", m.ID)
		}
		want := map[string]string{
			gce.AttrProvisioningModel: "SPOT", gce.AttrTerminationAction: "DELETE", gce.AttrMaxRunDuration: "7200",
			gce.AttrOnHostMaintenance: "TERMINATE", gce.AttrAutomaticRestart: "false", gce.AttrNetworkTags: "burst-spotty",
			gce.AttrImage: DefaultImage, gce.AttrDiskType: "pd-balanced", gce.AttrDiskSizeGb: "50", gce.AttrNetwork: "default",
			gce.AttrServiceAccount: "default", gce.AttrScopes: "https://www.googleapis.com/auth/compute",
		}
		for k, w := range want {
			if got := in.Attrs[k]; got != w {
				t.Errorf("%s: %s = %q, want %q", m.ID, k, got, w)
			}
		}
		if in.Attrs[gce.AttrRequestID] == "" {
			t.Errorf("%s was created without a requestId", m.ID)
		}
		if in.Tags[provider.TagCluster] != "spotty" || in.Tags[provider.TagOwner] != "ana" || in.Tags["name"] != "spotty-worker" {
			t.Errorf("labels %v lack burst's tags", in.Tags)
		}
		if !strings.Contains(in.UserData, "BURST_TARGET='gcp'") || !strings.HasPrefix(in.UserData, "#!/bin/sh") {
			t.Errorf("startup-script is not the gcp bootstrap: %.80q", in.UserData)
		}
		if v.GetStatus() != "RUNNING" {
			t.Errorf("status %s", v.GetStatus())
		}
	}
}

func TestLaunchZonesOfOfferings(t *testing.T) {
	e := newSim(t)
	a := offering(t, "n2d-standard-8", "europe-west4", catalog.OnDemand)
	a.Zone = "europe-west4-b"
	b := a
	b.Zone = "europe-west4-c"
	res, err := e.p.Launch(ctxT(t), launchRequest("zoned", 6, a, b))
	if err != nil || len(res.Machines) != 6 {
		t.Fatalf("Launch = %d, %v", len(res.Machines), err)
	}
	if n := e.model.Count("compute.regionInstances.bulkInsert"); n != 1 {
		t.Errorf("two zonal offerings of one type took %d bulkInserts, want 1", n)
	}
	for _, m := range res.Machines {
		if m.Zone != "europe-west4-b" && m.Zone != "europe-west4-c" {
			t.Errorf("machine %s in %s, outside the offerings' zones", m.ID, m.Zone)
		}
	}
}

func TestLaunchGPU(t *testing.T) {
	e := newSim(t)
	tests := []struct {
		typ, accel string
	}{
		{"n1-standard-8+nvidia-tesla-t4x1", "nvidia-tesla-t4x1"},
		{"a2-highgpu-1g", ""},
		{"g2-standard-8", ""},
		{"a3-highgpu-8g", ""},
	}
	for _, tt := range tests {
		t.Run(tt.typ, func(t *testing.T) {
			cluster := "gpu-" + strings.NewReplacer("+", "", ".", "").Replace(tt.typ)[:8]
			res, err := e.p.Launch(ctxT(t), launchRequest(cluster, 1, offering(t, tt.typ, "us-central1", catalog.OnDemand)))
			if err != nil || len(res.Machines) != 1 {
				t.Fatalf("Launch = %v, failures %v, err %v", res.Machines, res.Failures, err)
			}
			m := res.Machines[0]
			if m.InstanceType != tt.typ {
				t.Errorf("machine type %q, want %q", m.InstanceType, tt.typ)
			}
			_, in, _ := e.srv.Instance(m.ID)
			if in.Attrs[gce.AttrAccelerators] != tt.accel {
				t.Errorf("guestAccelerators %q, want %q", in.Attrs[gce.AttrAccelerators], tt.accel)
			}
			if in.Attrs[gce.AttrOnHostMaintenance] != "TERMINATE" || in.Attrs[gce.AttrImage] != DefaultGPUImage || in.Attrs[gce.AttrDiskSizeGb] != "100" {
				t.Errorf("GPU machine attrs %v", in.Attrs)
			}
		})
	}
}

func TestLaunchHyperdiskAndArm(t *testing.T) {
	e := newSim(t)
	res, err := e.p.Launch(ctxT(t), launchRequest("armed", 2, offering(t, "c4a-standard-4", "us-central1", catalog.OnDemand)))
	if err != nil || len(res.Machines) != 2 {
		t.Fatalf("Launch = %d, %v %v", len(res.Machines), res.Failures, err)
	}
	_, in, _ := e.srv.Instance(res.Machines[0].ID)
	if in.Attrs[gce.AttrImage] != DefaultARMImage || in.Attrs[gce.AttrDiskType] != "hyperdisk-balanced" {
		t.Errorf("c4a machine attrs %v", in.Attrs)
	}
}

func TestStockOutFailsOverToNextOffering(t *testing.T) {
	e := newSim(t)
	first := offering(t, "n2-standard-4", "us-central1", catalog.Spot)
	second := offering(t, "n2d-standard-4", "us-central1", catalog.Spot)
	third := offering(t, "n2-standard-4", "us-east1", catalog.Spot)
	e.setRegionCapacity(first.InstanceType, first.Region, catalog.Spot, 0)
	e.setRegionCapacity(second.InstanceType, second.Region, catalog.Spot, 4)
	res, err := e.p.Launch(ctxT(t), launchRequest("stock", 10, first, second, third))
	if err != nil {
		t.Fatalf("Launch: %v", err)
	}
	if len(res.Machines) != 10 {
		t.Fatalf("got %d machines, want 10 (failures %v)", len(res.Machines), res.Failures)
	}
	byType := map[string]int{}
	for _, m := range res.Machines {
		byType[m.InstanceType+"/"+m.Region]++
	}
	if byType["n2d-standard-4/us-central1"] != 4 || byType["n2-standard-4/us-east1"] != 6 {
		t.Errorf("machines by type %v, want 4 n2d in us-central1 and 6 n2 in us-east1", byType)
	}
	if len(res.Failures) != 2 {
		t.Fatalf("failures %v, want the stock-out of the first and the shortfall of the second", res.Failures)
	}
	for i, f := range res.Failures {
		if !errors.Is(f.Err, provider.ErrNoCapacity) || provider.ScopeOf(f.Err) != provider.ScopeOffering {
			t.Errorf("failure %d: %v (scope %v), want no capacity for the offering", i, f.Err, provider.ScopeOf(f.Err))
		}
	}
	if res.Failures[0].Offering != first || res.Failures[1].Offering != second {
		t.Errorf("failures name %v and %v", res.Failures[0].Offering, res.Failures[1].Offering)
	}
	var pe *provider.Error
	if !errors.As(res.Failures[0].Err, &pe) || !strings.Contains(pe.Code+pe.Msg, "insufficientCapacity") && !strings.Contains(pe.Code+pe.Msg, "RESOURCE_POOL_EXHAUSTED") {
		t.Errorf("stock-out error %v does not carry GCE's code", res.Failures[0].Err)
	}
	if n := e.model.Count("compute.regionInstances.bulkInsert"); n != 3 {
		t.Errorf("%d bulkInserts, want one per offering tried (3)", n)
	}
}

func TestAllOrNothing(t *testing.T) {
	e := newSim(t)
	o := offering(t, "c3-standard-8", "us-central1", catalog.OnDemand)
	e.setRegionCapacity(o.InstanceType, o.Region, o.Capacity, 2)
	req := launchRequest("aon", 3, o)
	req.AllOrNothing = true
	res, err := e.p.Launch(ctxT(t), req)
	if err != nil {
		t.Fatalf("Launch: %v", err)
	}
	if len(res.Machines) != 0 || len(res.Failures) != 1 || !errors.Is(res.Failures[0].Err, provider.ErrNoCapacity) {
		t.Fatalf("all-or-nothing of 3 with room for 2: %d machines, failures %v", len(res.Machines), res.Failures)
	}
	if leaks := e.model.Leaks(provider.TagCluster); len(leaks) != 0 {
		t.Errorf("left behind %v", leaks)
	}
}

func TestQuotaExceededAtLaunch(t *testing.T) {
	e := newSim(t)
	gce.SetQuota(e.model, "us-central1", "N2_CPUS", 16)
	a := offering(t, "n2-standard-8", "us-central1", catalog.OnDemand)
	b := offering(t, "n2-standard-4", "us-central1", catalog.OnDemand)
	c := offering(t, "n2-standard-8", "us-west1", catalog.OnDemand)
	res, err := e.p.Launch(ctxT(t), launchRequest("quota", 4, a, b, c))
	if err != nil {
		t.Fatalf("Launch: %v", err)
	}
	if len(res.Machines) != 4 || res.Machines[0].Region != "us-west1" {
		t.Fatalf("machines %v, want 4 in us-west1", res.Machines)
	}
	if len(res.Failures) != 1 || !errors.Is(res.Failures[0].Err, provider.ErrQuota) || provider.ScopeOf(res.Failures[0].Err) != provider.ScopeRegion {
		t.Fatalf("failures %v, want one regional quota failure", res.Failures)
	}
	if !strings.Contains(res.Failures[0].Err.Error(), "N2_CPUS") {
		t.Errorf("quota error %q does not name the quota", res.Failures[0].Err)
	}
	// The regional quota rules out the region: the n2-standard-4 offering
	// in us-central1 is not tried.
	if n := e.model.Count("compute.regionInstances.bulkInsert"); n != 2 {
		t.Errorf("%d bulkInserts, want 2 (the second us-central1 offering is skipped)", n)
	}
}

func TestGlobalGPUQuotaAtLaunch(t *testing.T) {
	e := newSim(t)
	gce.SetQuota(e.model, "", "GPUS_ALL_REGIONS", 0)
	res, err := e.p.Launch(ctxT(t), launchRequest("gq", 1, offering(t, "g2-standard-4", "us-central1", catalog.OnDemand), offering(t, "g2-standard-4", "us-east1", catalog.OnDemand)))
	if err != nil {
		t.Fatalf("Launch: %v", err)
	}
	if len(res.Machines) != 0 || len(res.Failures) != 1 || provider.ScopeOf(res.Failures[0].Err) != provider.ScopeProvider ||
		!strings.Contains(res.Failures[0].Err.Error(), "GPUS_ALL_REGIONS") {
		t.Fatalf("failures %v, want one global GPUS_ALL_REGIONS failure and no second try", res.Failures)
	}
}

func TestFailedOperationRollsBack(t *testing.T) {
	for _, tt := range []struct {
		kind cloudsim.Kind
		want error
	}{
		{cloudsim.KindCapacity, provider.ErrNoCapacity},
		{cloudsim.KindQuota, provider.ErrQuota},
		{cloudsim.KindAuth, provider.ErrAuth},
	} {
		t.Run(string(tt.kind), func(t *testing.T) {
			e := newSim(t)
			e.model.Inject(cloudsim.Fault{Service: gce.Service, Action: "compute.regionInstances.bulkInsert" + gce.OperationSuffix, Kind: tt.kind, Times: 1})
			o := offering(t, "e2-standard-4", "us-central1", catalog.OnDemand)
			res, err := e.p.Launch(ctxT(t), launchRequest("opfail", 3, o))
			got := errors.Is(err, tt.want)
			for _, f := range res.Failures {
				got = got || errors.Is(f.Err, tt.want)
			}
			if !got || len(res.Machines) != 0 {
				t.Fatalf("operation failing with %s: machines %v, failures %v, err %v", tt.kind, res.Machines, res.Failures, err)
			}
			if leaks := e.model.Leaks(provider.TagCluster); len(leaks) != 0 {
				t.Errorf("the rolled-back operation left %v", leaks)
			}
		})
	}
}

func TestThrottledCallsAreRetried(t *testing.T) {
	e := newSim(t)
	// Two throttled answers, then success: within the retry budget.
	e.model.Inject(cloudsim.Fault{Service: gce.Service, Action: "compute.regionInstances.bulkInsert", Kind: cloudsim.KindThrottle, Times: 2})
	e.model.Inject(cloudsim.Fault{Service: gce.Service, Action: "compute.instances.aggregatedList", Kind: cloudsim.KindThrottle, Times: 2})
	start := e.clock.Now()
	res, err := e.p.Launch(ctxT(t), launchRequest("slow", 2, offering(t, "e2-standard-2", "us-central1", catalog.OnDemand)))
	if err != nil || len(res.Machines) != 2 {
		t.Fatalf("Launch = %d machines, %v", len(res.Machines), err)
	}
	throttled := 0
	for _, r := range e.model.Requests() {
		if r.Code == "rateLimitExceeded" {
			throttled++
		}
	}
	if throttled != 4 {
		t.Errorf("%d throttled requests logged, want 4", throttled)
	}
	if waited := e.clock.Now().Sub(start); waited < time.Second {
		t.Errorf("backed off only %s over four throttles", waited)
	}
}

func TestRateLimitBuckets(t *testing.T) {
	e := newSim(t)
	// GCE's documented limits on a frozen clock: the API bucket allows 5
	// calls, so the sixth is throttled until the provider's backoff
	// (which advances the clock) refills it.
	e.model.SetBucket(gce.BucketAPI, 5, 1500.0/60)
	e.model.SetBucket(gce.BucketBulk, 20, 20)
	res, err := e.p.Launch(ctxT(t), launchRequest("bucket", 2, offering(t, "e2-standard-2", "us-central1", catalog.OnDemand)))
	if err != nil || len(res.Machines) != 2 {
		t.Fatalf("Launch = %d, %v", len(res.Machines), err)
	}
	for i := 0; i < 3; i++ {
		if _, err := e.p.Machines(ctxT(t), provider.Filter{Cluster: "bucket"}); err != nil {
			t.Fatalf("Machines #%d: %v", i, err)
		}
	}
	// With the bucket empty and the clock frozen for the provider too,
	// retries run out: ErrThrottled.
	e.model.SetBucket(gce.BucketAPI, 1, 0)
	e.model.Take(gce.BucketAPI, 1)
	if _, err := e.p.Machines(ctxT(t), provider.Filter{Cluster: "bucket"}); !errors.Is(err, provider.ErrThrottled) {
		t.Fatalf("Machines with an empty bucket: %v, want ErrThrottled", err)
	}
}

// countBulk counts bulkInsert requests in flight, holding each a little.
type countBulk struct {
	now, peak atomic.Int32
}

func (c *countBulk) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.HasSuffix(r.URL.Path, "/bulkInsert") {
		n := c.now.Add(1)
		defer c.now.Add(-1)
		for {
			p := c.peak.Load()
			if n <= p || c.peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return http.DefaultTransport.RoundTrip(r)
}

func TestAtMostTenBulkOperations(t *testing.T) {
	count := &countBulk{}
	e := newSim(t, func(_ *cloudsim.Config, o *Options) { o.HTTPClient = &http.Client{Transport: count} })
	var wg sync.WaitGroup
	errs := make([]error, 25)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = e.p.Launch(ctxT(t), launchRequest("many"+strconv.Itoa(i), 1, offering(t, "e2-standard-2", "us-central1", catalog.OnDemand)))
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Launch %d: %v", i, err)
		}
	}
	if p := count.peak.Load(); p > 10 || p < 2 {
		t.Errorf("peak of %d bulkInserts in flight, want 2..10", p)
	}
	if n := len(e.model.Instances(nil)); n != 25 {
		t.Errorf("%d instances, want 25", n)
	}
}

// dropFirst loses the answer to the first request whose path ends in
// suffix after the server has handled it, as a broken connection does.
type dropFirst struct {
	suffix  string
	dropped atomic.Bool
}

func (d *dropFirst) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err == nil && strings.HasSuffix(r.URL.Path, d.suffix) && d.dropped.CompareAndSwap(false, true) {
		_ = resp.Body.Close()
		return nil, errors.New("connection reset by peer")
	}
	return resp, err
}

func TestRetriedBulkInsertDoesNotDuplicate(t *testing.T) {
	drop := &dropFirst{suffix: "/bulkInsert"}
	e := newSim(t, func(_ *cloudsim.Config, o *Options) { o.HTTPClient = &http.Client{Transport: drop} })
	res, err := e.p.Launch(ctxT(t), launchRequest("retry", 5, offering(t, "e2-standard-2", "us-central1", catalog.OnDemand)))
	if err != nil || len(res.Machines) != 5 {
		t.Fatalf("Launch = %d, %v", len(res.Machines), err)
	}
	if !drop.dropped.Load() {
		t.Fatal("no answer was dropped")
	}
	if n := e.model.Count("compute.regionInstances.bulkInsert"); n != 2 {
		t.Errorf("%d bulkInsert requests, want 2 (the lost one and its retry)", n)
	}
	if n := len(e.model.Instances(nil)); n != 5 {
		t.Errorf("the simulator holds %d instances, want 5: the requestId did not deduplicate", n)
	}
}

func TestLaunchAgainReturnsSameMachines(t *testing.T) {
	e := newSim(t)
	req := launchRequest("again", 3, offering(t, "e2-standard-2", "us-central1", catalog.OnDemand))
	first, err := e.p.Launch(ctxT(t), req)
	if err != nil {
		t.Fatal(err)
	}
	second, err := e.p.Launch(ctxT(t), req)
	if err != nil {
		t.Fatal(err)
	}
	if len(second.Machines) != 3 || second.Machines[0].ID != first.Machines[0].ID {
		t.Fatalf("second Launch gave %v, first %v", second.Machines, first.Machines)
	}
	// The second call is answered by the first's operation (its
	// requestId): nothing new is made.
	if n := len(e.model.Instances(nil)); n != 3 {
		t.Errorf("the simulator holds %d instances after two launches with one token, want 3", n)
	}
}

func TestMachinesPaginatesAndStates(t *testing.T) {
	e := newSim(t)
	res, err := e.p.Launch(ctxT(t), launchRequest("big", 1100, offering(t, "e2-standard-2", "us-central1", catalog.Spot)))
	if err != nil || len(res.Machines) != 1100 {
		t.Fatalf("Launch = %d, %v", len(res.Machines), err)
	}
	e.model.ResetRequests()
	ms := e.machines(t, "big")
	if len(ms) != 1100 {
		t.Fatalf("Machines = %d, want 1100", len(ms))
	}
	if n := e.model.Count("compute.instances.aggregatedList"); n != 4 {
		t.Errorf("%d aggregatedList calls for 1100 machines, want 3 parts of a page and the canary", n)
	}
	if ms, err := e.p.Machines(ctxT(t), provider.Filter{Cluster: "big", Regions: []string{"us-east1"}}); err != nil || len(ms) != 0 {
		t.Errorf("Machines in us-east1 = %d, %v", len(ms), err)
	}
	// A guest shutdown leaves a stopped VM; a preempted Spot VM is deleted.
	if !e.srv.GuestShutdown(ms[0].ID) || !e.srv.Preempt(ms[1].ID) {
		t.Fatal("hooks failed")
	}
	after := map[string]provider.State{}
	for _, m := range e.machines(t, "big") {
		after[m.ID] = m.State
	}
	if after[ms[0].ID] != provider.Stopped {
		t.Errorf("guest-shut-down machine is %q, want stopped", after[ms[0].ID])
	}
	if _, ok := after[ms[1].ID]; ok || len(after) != 1099 {
		t.Errorf("preempted machine still listed (%d listed)", len(after))
	}
}

func TestMaxRunDurationDeletesOnTime(t *testing.T) {
	e := newSim(t)
	req := launchRequest("ttl", 2, offering(t, "e2-standard-2", "us-central1", catalog.OnDemand))
	req.Boot.ExpiresAt = e.clock.Now().Add(time.Hour)
	if _, err := e.p.Launch(ctxT(t), req); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(59 * time.Minute)
	if n := len(e.machines(t, "ttl")); n != 2 {
		t.Fatalf("%d machines before the deadline", n)
	}
	e.clock.Advance(2 * time.Minute)
	if ms := e.machines(t, "ttl"); len(ms) != 0 {
		t.Fatalf("machines %v outlived maxRunDuration", ms)
	}
}

func TestTerminateUnderLimiter(t *testing.T) {
	e := newSim(t, func(_ *cloudsim.Config, o *Options) { o.MutationsPerMinute = 60 })
	res, err := e.p.Launch(ctxT(t), launchRequest("limited", 70, offering(t, "e2-standard-2", "us-central1", catalog.OnDemand)))
	if err != nil || len(res.Machines) != 70 {
		t.Fatalf("Launch = %d, %v", len(res.Machines), err)
	}
	start := e.clock.Now()
	if err := e.p.Terminate(ctxT(t), res.Machines); err != nil {
		t.Fatalf("Terminate: %v", err)
	}
	// The burst is 90% of a minute's quota (54), which also caps a batch:
	// the 70 deletes go as two batches of 35. The bulkInsert took one
	// token, so the second batch waits for 17 more at 1/s.
	if waited := e.clock.Now().Sub(start); waited < 15*time.Second || waited > 25*time.Second {
		t.Errorf("70 deletes at 60/min (burst 54) waited %s, want about 17s", waited)
	}
	if n, b := e.model.Count("compute.instances.delete"), e.model.Count(gce.BatchAction); n != 70 || b != 2 {
		t.Errorf("%d deletes in %d batches, want 70 in 2", n, b)
	}
	if ms := e.machines(t, "limited"); len(ms) != 0 {
		t.Errorf("%d machines left", len(ms))
	}
}

// TestListAsksForPartialResponse checks that every listing carries the
// field mask, and that the machines a masked listing returns are the ones
// an unmasked one would make: nothing machineOf reads is masked away.
func TestListAsksForPartialResponse(t *testing.T) {
	e := newSim(t)
	var mu sync.Mutex
	masks := map[string]int{}
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/aggregated/instances") {
			mu.Lock()
			masks[r.Header.Get("X-Goog-FieldMask")]++
			mu.Unlock()
		}
		e.srv.ServeHTTP(w, r)
	}))
	t.Cleanup(proxy.Close)
	opts := e.opts
	opts.Endpoint = proxy.URL
	p := New(opts)
	req := launchRequest("masked", 3, offering(t, "n1-standard-4", "us-east1", catalog.Spot))
	req.Tags[provider.TagRole] = "worker"
	if _, err := p.Launch(ctxT(t), req); err != nil {
		t.Fatal(err)
	}
	got, err := p.Machines(ctxT(t), provider.Filter{Cluster: "masked"})
	if err != nil || len(got) != 3 {
		t.Fatalf("Machines = %v, %v", got, err)
	}
	mu.Lock()
	if len(masks) != 1 || masks[listMask] == 0 {
		t.Errorf("listings were sent with masks %v, want only %q", masks, listMask)
	}
	mu.Unlock()
	for _, m := range got {
		v, _, ok := e.srv.Instance(m.ID)
		if !ok {
			t.Fatalf("the simulator does not know %s", m.ID)
		}
		if want := machineOf(v); !reflect.DeepEqual(m, want) {
			t.Errorf("masked listing gave\n%+v\nthe full instance gives\n%+v", m, want)
		}
	}
}
