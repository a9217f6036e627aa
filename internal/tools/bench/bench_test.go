package main

import (
	"context"
	"math"
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
	}{
		// 5001 launches from EC2's bucket of 1000 refilled at 2/s.
		{"aws", "up", 5000, 2000.5, 8},
		{"aws", "up", 999, 0, 8},
		{"aws", "down", 5000, 200.05, 4},
		// 5001 deletes and two listings from 1500 a minute.
		{"gcp", "down", 5000, (5003.0 - 1500) / 25, 3},
		{"gcp", "up", 5000, 0, 4},
		// 5001 VM creations from 1500 refilled at 500 a minute.
		{"azure", "up", 5000, 3501 / (500.0 / 60), 7},
		{"azure", "down", 5000, 0, 2},
	}
	for _, tt := range tests {
		t.Run(tt.cloud+"-"+tt.phase, func(t *testing.T) {
			b := lowerBound(tt.cloud, tt.phase, tt.n, 100*time.Millisecond)
			if math.Abs(b.Throttle-tt.throttle) > 1e-6 || len(b.Chain) != tt.chain {
				t.Errorf("bound %+v, want throttle %g s and a chain of %d", b, tt.throttle, tt.chain)
			}
			if want := math.Max(tt.throttle, float64(tt.chain)/10); math.Abs(b.Seconds()-want) > 1e-6 {
				t.Errorf("Seconds() = %g, want %g", b.Seconds(), want)
			}
		})
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
