package main

import (
	"context"
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/burstdev/burst/internal/plan"
	"github.com/burstdev/burst/internal/provider"
	"github.com/burstdev/burst/internal/provider/fake"
	"github.com/burstdev/burst/internal/provision"
	"github.com/burstdev/burst/pkg/spec"
)

func TestLowerBound(t *testing.T) {
	tests := []struct {
		cloud, phase string
		n            int
		throttle     float64
		chain        int
		paced        float64
	}{
		// 5001 launches from EC2's bucket of 1000 refilled at 2/s; the
		// workers' launch starts after 0.6 s of chain and takes 2000.2 s
		// of refill, then two calls.
		{"aws", "up", 5000, 2000.5, 8, 0.6 + (5000-999.6)/2 + 0.2},
		{"aws", "up", 999, 0, 8, 0.8},
		// 1001 launches: the head's token at 0.3 s leaves 999.6 at 0.6 s,
		// so the workers' launch waits 0.2 s; no bound of its own sees it.
		{"aws", "up", 1000, 0.5, 8, 1.0},
		{"aws", "down", 5000, 200.05, 4, 0.1 + 4001.0/20 + 0.3},
		// 1001 terminations at 0.1 s: one token 0.05 s later.
		{"aws", "down", 1000, 0.05, 4, 0.45},
		// 5001 deletes and two listings from 1500 a minute.
		{"gcp", "down", 5000, (5003.0 - 1500) / 25, 3, 0.1 + 3501.0/25 + 0.2},
		{"gcp", "down", 1000, 0, 3, 0.3},
		{"gcp", "up", 5000, 0, 4, 0.4},
		// 5001 VM creations from 1500 refilled at 500 a minute.
		{"azure", "up", 5000, 3501 / (500.0 / 60), 6, 0.4 + 3500/(500.0/60) + 0.2},
		{"azure", "up", 1000, 0, 6, 0.6},
		{"azure", "down", 5000, 0, 2, 0.2},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s-%s-%d", tt.cloud, tt.phase, tt.n), func(t *testing.T) {
			b := lowerBound(tt.cloud, tt.phase, tt.n, 100*time.Millisecond)
			if math.Abs(b.Throttle-tt.throttle) > 1e-6 || len(b.Chain) != tt.chain || math.Abs(b.Paced-tt.paced) > 1e-6 {
				t.Errorf("bound %+v, want throttle %g s, a chain of %d and paced %g s", b, tt.throttle, tt.chain, tt.paced)
			}
			if want := math.Max(tt.paced, math.Max(tt.throttle, float64(tt.chain)/10)); math.Abs(b.Seconds()-want) > 1e-6 {
				t.Errorf("Seconds() = %g, want %g", b.Seconds(), want)
			}
		})
	}
}

// TestSpendNamesChainCalls: every call a bound's bucket charges is on its
// chain, so a renamed call cannot drop out of the paced bound unseen.
func TestSpendNamesChainCalls(t *testing.T) {
	for cloud, phases := range chains {
		for phase, chain := range phases {
			for call := range spends(cloud, phase, 10) {
				if !slices.Contains(chain, call) {
					t.Errorf("%s %s: %q spends tokens but is not on the chain %v", cloud, phase, call, chain)
				}
			}
		}
	}
}

// TestPerMachine: through the real engine, the baseline launches and
// terminates one machine per provider call.
func TestPerMachine(t *testing.T) {
	f := fake.New()
	p := perMachine{f}
	ctx := context.Background()
	cat, err := p.Catalog(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c := spec.Default("base")
	c.Providers = []string{fake.Name}
	c.Workers.Count = 25
	pl, err := plan.Make(&c, cat, plan.Options{Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	eng := &provision.Engine{Provider: func(context.Context, string) (provider.Provider, error) { return p, nil }, Owner: "test"}
	if _, err := eng.Up(ctx, &c, pl, provision.WaitMachines); err != nil {
		t.Fatal(err)
	}
	if got := f.CallCount("Launch"); got != 26 {
		t.Errorf("%d launches for a head and 25 workers, want 26", got)
	}
	if !f.Prepared("base") {
		t.Error("Prepare did not reach the provider")
	}
	if _, err := eng.Down(ctx, "base", []string{fake.Name}); err != nil {
		t.Fatal(err)
	}
	if got := f.CallCount("Terminate"); got != 26 {
		t.Errorf("%d terminate calls for 26 machines, want 26", got)
	}
	if live := f.Live("base", ""); len(live) != 0 {
		t.Errorf("%d machines live after down", len(live))
	}
}
