package gcp

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/burstdev/burst/internal/bootstrap"
	"github.com/burstdev/burst/internal/catalog"
	"github.com/burstdev/burst/internal/cloudsim"
	"github.com/burstdev/burst/internal/cloudsim/gce"
	"github.com/burstdev/burst/internal/plan"
	"github.com/burstdev/burst/internal/provider"
	"github.com/burstdev/burst/pkg/spec"
)

// The tests run the provider over HTTP against the GCE simulator with a
// manual clock: the provider's sleeps advance the simulator's time, so
// operations, deadlines and backoffs happen without waiting.

// callerIP is what the fake address-detection endpoint answers.
const callerIP = "203.0.113.7"

// logged collects the GCE methods every test's simulator served, for the
// policy check (see policy_test.go).
var (
	loggedMu sync.Mutex
	logged   = map[string]bool{}
)

type simEnv struct {
	clock *cloudsim.Clock
	model *cloudsim.Model
	srv   *gce.Server
	p     *Provider
	opts  Options
}

type simOption func(*cloudsim.Config, *Options)

func newSim(t testing.TB, sopts ...simOption) *simEnv {
	t.Helper()
	return newSimServer(t, gce.Options{}, sopts...)
}

// newSimServer is newSim with server options (an operation delay).
func newSimServer(t testing.TB, so gce.Options, sopts ...simOption) *simEnv {
	t.Helper()
	clock := cloudsim.NewClock(time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC))
	cfg := gce.ModelConfig()
	cfg.Now, cfg.Sleep = clock.Now, clock.Sleep
	ip := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(callerIP + "\n")) }))
	t.Cleanup(ip.Close)
	opts := Options{
		Project: "burst-sim", IPDetectURL: ip.URL, Now: clock.Now, Retries: 3,
		Sleep:  func(ctx context.Context, d time.Duration) error { clock.Advance(d); return ctx.Err() },
		Getenv: func(string) string { return "" },
	}
	for _, o := range sopts {
		o(&cfg, &opts)
	}
	m := cloudsim.New(cfg)
	so.Project = "burst-sim"
	srv := gce.Start(m, so)
	t.Cleanup(srv.Close)
	opts.Endpoint = srv.URL()
	t.Cleanup(func() {
		loggedMu.Lock()
		defer loggedMu.Unlock()
		for _, a := range m.Actions() {
			logged[a] = true
		}
	})
	return &simEnv{clock: clock, model: m, srv: srv, p: New(opts), opts: opts}
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// offering returns a plan offering of a simulated type in a region.
func offering(t testing.TB, typ, region string, capacity catalog.Capacity) plan.Offering {
	t.Helper()
	for _, ct := range gce.Types() {
		if ct.Name != typ {
			continue
		}
		for _, o := range ct.Offerings {
			if o.Region == region && o.Capacity == capacity {
				return plan.Offering{Provider: Name, Region: region, InstanceType: typ, VCPUs: ct.VCPUs, MemoryGiB: ct.MemoryGiB,
					GPUs: ct.GPUs, GPUModel: ct.GPUModel, Arch: ct.Arch, Capacity: capacity, Price: o.Price}
			}
		}
	}
	t.Fatalf("the simulator has no %s %s offering in %s", capacity, typ, region)
	return plan.Offering{}
}

func launchRequest(cluster string, n int, offs ...plan.Offering) provider.LaunchRequest {
	return provider.LaunchRequest{
		Cluster: cluster, Role: spec.RoleWorker, Count: n, Offerings: offs, Token: cluster + "-w-0123456789abcdef",
		Tags: map[string]string{provider.TagCluster: cluster, provider.TagRole: "worker", provider.TagOwner: "ana", "Name": cluster + "-worker"},
		Boot: bootstrap.Config{Cluster: cluster, Role: spec.RoleWorker, Workload: spec.Workload{Name: "none"}},
	}
}

// setRegionCapacity limits a type's pool in a region: n in its first zone,
// none in the others.
func (e *simEnv) setRegionCapacity(typ, region string, capacity catalog.Capacity, n int) {
	for i, z := range e.model.Zones(region) {
		c := 0
		if i == 0 {
			c = n
		}
		if n < 0 {
			c = -1
		}
		e.model.SetCapacity(cloudsim.PoolKey{Type: typ, Zone: z, Capacity: string(capacity)}, c)
	}
}

// live returns the machines GCE still shows for a cluster.
func (e *simEnv) machines(t testing.TB, cluster string) []provider.Machine {
	t.Helper()
	ms, err := e.p.Machines(ctxT(t), provider.Filter{Cluster: cluster})
	if err != nil {
		t.Fatalf("Machines: %v", err)
	}
	return ms
}

func setQuota(e *simEnv, region, metric string, limit float64) {
	gce.SetQuota(e.model, region, metric, limit)
}
