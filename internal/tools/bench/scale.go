package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/burstdev/burst/internal/cloudsim"
	"github.com/burstdev/burst/internal/cloudsim/simenv"
	"github.com/burstdev/burst/internal/config"
	"github.com/burstdev/burst/internal/plan"
	"github.com/burstdev/burst/internal/provider"
	"github.com/burstdev/burst/internal/provider/all"
	"github.com/burstdev/burst/internal/provision"
	"github.com/burstdev/burst/pkg/spec"
)

// Clients compared.
const (
	clientBurst    = "burst"
	clientBaseline = "baseline"
)

// ScaleRun is one scale cycle 0 -> N -> 0 of one client on one cloud.
type ScaleRun struct {
	Cloud   string `json:"cloud"`
	N       int    `json:"n"`
	Client  string `json:"client"`
	Latency string `json:"latency"`
	// Date is when the run started (UTC).
	Date string `json:"date"`
	// Plan says what the planner chose for the workers.
	Plan   string  `json:"plan"`
	Phases []Phase `json:"phases"`
	Err    string  `json:"error,omitempty"`
}

// Phase is what one of up and down cost.
type Phase struct {
	Name string  `json:"name"`
	Wall float64 `json:"wall_s"`
	// Calls counts the simulator's request log; ByAction splits it.
	Calls     int            `json:"calls"`
	ByAction  map[string]int `json:"by_action"`
	Throttled int            `json:"throttled"`
	Bound     Bound          `json:"bound"`
}

// phase returns the named phase, or nil.
func (r *ScaleRun) phase(name string) *Phase {
	for i := range r.Phases {
		if r.Phases[i].Name == name {
			return &r.Phases[i]
		}
	}
	return nil
}

// scaleCycle starts the cloud's simulator, plans one head and n workers
// over the provider's live catalog of it, and then, with the per-call
// latency and the cloud's documented throttles on, runs the real engine's
// Up (until the machines run) and Down on a real clock. Each phase gets a
// new provider from the registry, as each `burst` command builds its own,
// and buckets refilled, as between two commands minutes apart.
//
// With trace set, each phase's request log is written to
// trace/CLOUD-CLIENT-N-PHASE.txt: each call's start, relative to the
// phase's, its duration, action and error code.
func scaleCycle(ctx context.Context, cloud string, n int, client string, latency time.Duration, trace string) (run ScaleRun) {
	run = ScaleRun{Cloud: cloud, N: n, Client: client, Latency: latency.String(), Date: time.Now().UTC().Format(time.RFC3339)}
	fail := func(format string, args ...any) ScaleRun {
		run.Err = fmt.Sprintf(format, args...)
		return run
	}
	sim, err := simenv.Start(cloud, simenv.Options{})
	if err != nil {
		return fail("%v", err)
	}
	defer sim.Close()
	home, err := os.MkdirTemp("", "burst-bench-")
	if err != nil {
		return fail("%v", err)
	}
	defer func() { _ = os.RemoveAll(home) }()
	// The environment burst reads: the simulator's, and a home of its own
	// (config, cache, keys). The AWS SDK reads its variables from the
	// process environment itself.
	env := append(sim.Env, homeEnv(home)...)
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		if err := os.Setenv(k, v); err != nil {
			return fail("%v", err)
		}
	}
	getenv := func(k string) string {
		for _, kv := range env {
			if key, v, _ := strings.Cut(kv, "="); key == k {
				return v
			}
		}
		return ""
	}
	cfg, err := config.Load(config.Options{Getenv: getenv, Providers: all.Registry().Names()})
	if err != nil {
		return fail("config: %v", err)
	}
	newProvider := func(ctx context.Context) (provider.Provider, error) {
		p, err := all.Registry().New(ctx, cloud, provider.Env{Config: cfg, Now: time.Now})
		if err != nil || client == clientBurst {
			return p, err
		}
		return perMachine{p}, nil
	}

	p, err := newProvider(ctx)
	if err != nil {
		return fail("provider: %v", err)
	}
	cat, err := p.Catalog(ctx)
	if err != nil {
		return fail("catalog: %v", err)
	}
	c := spec.Default("bench")
	c.Providers, c.Regions = []string{cloud}, []string{sim.Region}
	c.Workers.Count = n
	un := &plan.Unavailable{}
	pl, err := plan.Make(&c, cat, plan.Options{Unavailable: un, Now: time.Now()})
	if err != nil {
		return fail("plan: %v", err)
	}
	if ws := pl.Workers(); len(ws) > 0 && len(ws[0].Offerings) > 0 {
		o := ws[0].Offerings[0]
		run.Plan = fmt.Sprintf("%s %s in %s (%d offerings)", o.InstanceType, o.Capacity, o.Region, len(ws[0].Offerings))
	}

	// The API phase: latency and the documented buckets on.
	sim.Model.SetLatency(latency)
	phase := func(name string, fn func(eng *provision.Engine) error) error {
		// One provider a phase, as the CLI's factory keeps one a process;
		// the engine asks for it from several goroutines at once.
		var cur provider.Provider
		var curMu sync.Mutex
		eng := &provision.Engine{
			Provider: func(ctx context.Context, _ string) (provider.Provider, error) {
				curMu.Lock()
				defer curMu.Unlock()
				if cur == nil {
					var err error
					if cur, err = newProvider(ctx); err != nil {
						return nil, err
					}
				}
				return cur, nil
			},
			Unavailable: un, Owner: "bench",
			// As the CLI's: the spec's regions for up, the regions it
			// remembers the cluster in for down; both are the one region
			// the cluster is planned in.
			Regions: map[string][]string{cloud: c.Regions},
			Replan: func(c *spec.Cluster, site plan.Site) (*plan.Plan, error) {
				return plan.Make(c, cat, plan.Options{Unavailable: un, Now: time.Now(), Site: site})
			},
		}
		sim.Throttle()
		sim.Model.ResetRequests()
		start := time.Now()
		err := fn(eng)
		wall := time.Since(start)
		reqs := sim.Model.Requests()
		run.Phases = append(run.Phases, summarize(name, wall, reqs, lowerBound(cloud, name, n, latency)))
		if trace != "" {
			if terr := writeTrace(filepath.Join(trace, fmt.Sprintf("%s-%s-%d-%s.txt", cloud, client, n, name)), start, latency, reqs); terr != nil && err == nil {
				err = terr
			}
		}
		return err
	}
	err = phase("up", func(eng *provision.Engine) error {
		res, err := eng.Up(ctx, &c, pl, provision.WaitMachines)
		if err == nil && (res.Workers() != n || res.Head == nil) {
			err = fmt.Errorf("%d workers and head %v after up", res.Workers(), res.Head != nil)
		}
		return err
	})
	if err != nil {
		return fail("up: %v", err)
	}
	err = phase("down", func(eng *provision.Engine) error {
		_, err := eng.Down(ctx, c.Name, []string{cloud})
		return err
	})
	if err != nil {
		return fail("down: %v", err)
	}
	if leaks := sim.Model.Leaks(provider.TagCluster); len(leaks) > 0 {
		return fail("down left %d things, e.g. %v", len(leaks), leaks[:min(3, len(leaks))])
	}
	return run
}

func writeTrace(path string, start time.Time, latency time.Duration, reqs []cloudsim.Request) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	var b strings.Builder
	for _, r := range reqs {
		// Time is when the call's latency ended.
		began := r.Time.Add(-latency).Sub(start)
		fmt.Fprintf(&b, "+%8.3fs %7.3fs %s %s\n", began.Seconds(), r.Duration.Seconds(), r.Action, r.Code)
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// throttleCodes are the clouds' answers to a throttled call.
var throttleCodes = map[string]bool{"RequestLimitExceeded": true, "rateLimitExceeded": true, "TooManyRequests": true}

func summarize(name string, wall time.Duration, reqs []cloudsim.Request, b Bound) Phase {
	p := Phase{Name: name, Wall: wall.Seconds(), Calls: len(reqs), ByAction: map[string]int{}, Bound: b}
	for _, r := range reqs {
		p.ByAction[r.Action]++
		if r.Status == 429 || throttleCodes[r.Code] {
			p.Throttled++
		}
	}
	return p
}

// actions returns a phase's actions, most called first.
func (p Phase) actions() []string {
	out := make([]string, 0, len(p.ByAction))
	for a := range p.ByAction {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool {
		if p.ByAction[out[i]] != p.ByAction[out[j]] {
			return p.ByAction[out[i]] > p.ByAction[out[j]]
		}
		return out[i] < out[j]
	})
	return out
}
