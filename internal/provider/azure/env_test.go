package azure_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/burstdev/burst/internal/bootstrap"
	"github.com/burstdev/burst/internal/catalog"
	"github.com/burstdev/burst/internal/cloudsim"
	"github.com/burstdev/burst/internal/cloudsim/arm"
	"github.com/burstdev/burst/internal/plan"
	"github.com/burstdev/burst/internal/provider"
	"github.com/burstdev/burst/internal/provider/azure"
	"github.com/burstdev/burst/pkg/spec"
)

// env is a provider talking HTTP to a fresh ARM simulator on a manual
// clock: the provider's sleeps (polls, throttle backoff) advance the clock
// instead of waiting.
type env struct {
	t     *testing.T
	clock *cloudsim.Clock
	model *cloudsim.Model
	sim   *arm.Server
	url   string
	opts  azure.Options
	p     *azure.Provider
	// slept records the provider's sleeps.
	mu    sync.Mutex
	slept []time.Duration
}

type envOption func(*cloudsim.Config, *azure.Options)

func newEnv(t *testing.T, mods ...envOption) *env {
	t.Helper()
	e := &env{t: t, clock: cloudsim.NewClock(time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC))}
	cfg := cloudsim.Config{Now: e.clock.Now, Sleep: e.clock.Sleep, BootDelay: 20 * time.Second, TerminateDelay: 10 * time.Second}
	e.opts = azure.Options{
		DataDir: t.TempDir(), Now: e.clock.Now, PollInterval: 5 * time.Second, MaxRetries: 2,
		Sleep: func(ctx context.Context, d time.Duration) error {
			e.mu.Lock()
			e.slept = append(e.slept, d)
			e.mu.Unlock()
			e.clock.Advance(d)
			return ctx.Err()
		},
		HTTPClient: &http.Client{Timeout: 30 * time.Second},
	}
	for _, m := range mods {
		m(&cfg, &e.opts)
	}
	e.model = arm.NewModel(cfg)
	e.sim = arm.New(arm.Options{Model: e.model})
	e.url = e.sim.Start()
	t.Cleanup(e.sim.Close)
	e.opts.Subscription = e.sim.Subscription()
	e.opts.Endpoint = e.url
	p, err := azure.New(e.opts)
	if err != nil {
		t.Fatal(err)
	}
	e.p = p
	return e
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return c
}

// offer builds a plan offering of a simulated size.
func offer(t *testing.T, size, region string, c catalog.Capacity) plan.Offering {
	t.Helper()
	for _, ty := range arm.Types() {
		if ty.Name != size {
			continue
		}
		for _, o := range ty.Offerings {
			if o.Region == region && o.Capacity == c {
				return plan.Offering{Provider: azure.Name, Region: region, InstanceType: size, VCPUs: ty.VCPUs, MemoryGiB: ty.MemoryGiB,
					GPUs: ty.GPUs, GPUModel: ty.GPUModel, Arch: ty.Arch, Capacity: c, Price: o.Price}
			}
		}
	}
	t.Fatalf("the simulator has no %s %s offering of %s", region, c, size)
	return plan.Offering{}
}

func workers(cluster string, n int, token string, offs ...plan.Offering) provider.LaunchRequest {
	return provider.LaunchRequest{
		Cluster: cluster, Role: spec.RoleWorker, Count: n, Offerings: offs, Token: token,
		Tags: map[string]string{provider.TagCluster: cluster, provider.TagRole: "worker", provider.TagOwner: "tester"},
		Boot: bootstrap.Config{Cluster: cluster, Role: spec.RoleWorker, Workload: spec.Workload{Name: "dask", Image: "ghcr.io/dask/dask:2024.12.1"},
			SchedulerAddress: "tcp://10.0.0.4:8786", IdleTimeout: 20 * time.Minute},
	}
}

func head(cluster, token string, offs ...plan.Offering) provider.LaunchRequest {
	return provider.LaunchRequest{
		Cluster: cluster, Role: spec.RoleHead, Count: 1, Offerings: offs, Token: token,
		Tags: map[string]string{provider.TagCluster: cluster, provider.TagRole: "head", provider.TagOwner: "tester"},
		Boot: bootstrap.Config{Cluster: cluster, Role: spec.RoleHead, Workload: spec.Workload{Name: "dask", Image: "ghcr.io/dask/dask:2024.12.1"}, IdleTimeout: 20 * time.Minute},
	}
}

// vmID is the ARM ID of a machine.
func (e *env) vmID(m provider.Machine) string {
	rg, vm, _ := strings.Cut(m.ID, "/")
	return "/subscriptions/" + e.sim.Subscription() + "/resourceGroups/" + rg + "/providers/Microsoft.Compute/virtualMachines/" + vm
}

// instance is the model's record of a machine.
func (e *env) instance(m provider.Machine) cloudsim.Instance {
	e.t.Helper()
	in, ok := e.model.Instance(strings.ToLower(e.vmID(m)))
	if !ok {
		e.t.Fatalf("no VM %s in the simulator", m.ID)
	}
	return in
}

// count returns how many logged requests had the action.
func (e *env) count(action string) int { return e.model.Count(action) }
