package azure_test

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/burstdev/burst/internal/cloudsim"
	"github.com/burstdev/burst/internal/cloudsim/arm"
	"github.com/burstdev/burst/internal/plan"
	"github.com/burstdev/burst/internal/provider"
	"github.com/burstdev/burst/internal/provider/azure"
	"github.com/burstdev/burst/internal/provision"
	"github.com/burstdev/burst/pkg/spec"
)

// benchLatency is added to every simulated ARM call.
const benchLatency = 100 * time.Millisecond

// phase is what one step of the benchmark cost.
type phase struct {
	name  string
	wall  time.Duration
	calls map[string]int
	total int
	// bound is the least time ARM's token buckets allow for these calls,
	// starting from full buckets.
	bound time.Duration
	// latency is the calls' summed server time (latency included).
	latency time.Duration
}

// throttleBound is the time the documented buckets need for a phase's
// calls: for each bucket, what exceeds its burst at its refill rate.
func throttleBound(reqs []cloudsim.Request, vms int) time.Duration {
	var reads, writes, deletes float64
	for _, r := range reqs {
		if r.Service != "arm" {
			continue
		}
		switch {
		case strings.HasSuffix(r.Action, "/read"):
			reads++
		case strings.HasSuffix(r.Action, "/delete"):
			deletes++
		default:
			writes++
		}
	}
	b := func(n, burst, rate float64) float64 { return math.Max(0, (n-burst)/rate) }
	s := math.Max(math.Max(b(reads, 250, 25), b(writes, 200, 10)), math.Max(b(deletes, 200, 10), b(float64(vms), 1500, 500.0/60)))
	return time.Duration(s * float64(time.Second))
}

func measure(name string, m *cloudsim.Model, vms int, fn func() error) (phase, error) {
	m.ResetRequests()
	start := time.Now()
	err := fn()
	p := phase{name: name, wall: time.Since(start), calls: map[string]int{}}
	reqs := m.Requests()
	for _, r := range reqs {
		p.calls[r.Action]++
		p.total++
		p.latency += r.Duration
	}
	p.bound = throttleBound(reqs, vms)
	return p, err
}

// BenchmarkScale0To1000To0 drives the provider through the provision engine
// against the ARM simulator with 100 ms per call and ARM's documented
// throttles: up from nothing to a head and 1000 workers (a plan from
// plan.Make over the provider's live catalog of the simulator), scale to 0
// workers, and down, each phase by a new provider as a new run of burst
// would. Polls of long-running operations and of the engine are
// 100 ms apart; VMs boot and delete at once, so the figures are the API
// phase alone.
func BenchmarkScale0To1000To0(b *testing.B) {
	for i := 0; i < b.N; i++ {
		phases, err := scaleCycle(b, 1000)
		if err != nil {
			b.Fatal(err)
		}
		for _, p := range phases {
			b.ReportMetric(p.wall.Seconds(), p.name+"-s")
			b.ReportMetric(float64(p.total), p.name+"-calls")
		}
		if i == 0 {
			b.Log("\n" + report(phases))
		}
	}
}

func scaleCycle(b *testing.B, n int) ([]phase, error) {
	model := arm.NewModel(cloudsim.Config{Latency: benchLatency})
	sim := arm.New(arm.Options{Model: model})
	url := sim.Start()
	defer sim.Close()
	sim.SetARMThrottles()
	dataDir := b.TempDir()
	// Each phase is a new run of burst, as `burst up`, `burst scale` and
	// `burst down` are: a new provider with nothing remembered.
	newProvider := func() (*azure.Provider, error) {
		return azure.New(azure.Options{
			Subscription: sim.Subscription(), Endpoint: url, DataDir: dataDir, PollInterval: benchLatency,
			HTTPClient: &http.Client{Timeout: time.Minute},
		})
	}
	p, err := newProvider()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cat, err := p.Catalog(ctx)
	if err != nil {
		return nil, err
	}
	eng := &provision.Engine{
		Provider:     func(context.Context, string) (provider.Provider, error) { return p, nil },
		Owner:        "bench",
		PollInterval: benchLatency,
		WaitTimeout:  5 * time.Minute,
	}
	eng.Replan = func(c *spec.Cluster, site plan.Site) (*plan.Plan, error) {
		return plan.Make(c, cat, plan.Options{Unavailable: eng.Unavailable, Now: time.Now(), Site: site})
	}
	fresh := func() error {
		np, err := newProvider()
		p = np
		return err
	}
	c := spec.Default("bench")
	c.Providers, c.Regions = []string{azure.Name}, []string{"eastus"}
	c.Workers.Count = n
	c.Workers.Resources = spec.Resources{CPU: spec.IntBound{Value: 2}, Memory: spec.SizeBound{Value: 8 * spec.GiB}}
	pl, err := plan.Make(&c, cat, plan.Options{Now: time.Now()})
	if err != nil {
		return nil, err
	}
	if err := fresh(); err != nil {
		return nil, err
	}
	var phases []phase
	up, err := measure(fmt.Sprintf("up-0-to-%d", n), model, n+1, func() error {
		res, err := eng.Up(ctx, &c, pl, provision.WaitMachines)
		if err == nil && res.Workers() != n {
			err = fmt.Errorf("up: %d workers", res.Workers())
		}
		return err
	})
	phases = append(phases, up)
	if err != nil {
		return phases, err
	}
	c.Workers.Count = 0
	if err := fresh(); err != nil {
		return phases, err
	}
	scale, err := measure(fmt.Sprintf("scale-%d-to-0", n), model, 0, func() error {
		res, err := eng.Up(ctx, &c, pl, provision.WaitMachines)
		if err == nil && res.Workers() != 0 {
			err = fmt.Errorf("scale to 0: %d workers", res.Workers())
		}
		return err
	})
	phases = append(phases, scale)
	if err != nil {
		return phases, err
	}
	if err := fresh(); err != nil {
		return phases, err
	}
	down, err := measure("down", model, 0, func() error {
		_, err := eng.Down(ctx, c.Name, []string{azure.Name})
		if live := sim.Live(); err == nil && len(live) > 0 {
			err = fmt.Errorf("down left %v", live)
		}
		return err
	})
	return append(phases, down), err
}

func report(phases []phase) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "%-16s %8s %6s %12s %14s\n", "phase", "wall", "calls", "server time", "throttle bound")
	for _, p := range phases {
		fmt.Fprintf(&sb, "%-16s %7.2fs %6d %11.2fs %13.2fs\n", p.name, p.wall.Seconds(), p.total, p.latency.Seconds(), p.bound.Seconds())
	}
	for _, p := range phases {
		fmt.Fprintf(&sb, "\n%s calls by operation:\n", p.name)
		ops := make([]string, 0, len(p.calls))
		for op := range p.calls {
			ops = append(ops, op)
		}
		sort.Strings(ops)
		for _, op := range ops {
			fmt.Fprintf(&sb, "  %4d  %s\n", p.calls[op], op)
		}
	}
	return sb.String()
}
