package gcp

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/burstdev/burst/internal/cloudsim"
	"github.com/burstdev/burst/internal/cloudsim/gce"
	"github.com/burstdev/burst/internal/plan"
	"github.com/burstdev/burst/internal/provider"
	"github.com/burstdev/burst/internal/provision"
	"github.com/burstdev/burst/pkg/spec"
)

// BenchmarkScale0To1000To0 scales a cluster from nothing to 1000 workers
// and back through the real provision engine and planner, against the GCE
// simulator on a real clock with 100 ms per API call and GCE's documented
// limits as token buckets (1500 requests a minute; bulk inserts 20 a
// second; at most 10 bulk operations at once). It reports wall time per
// phase, calls by method, and the lower bounds the limits and the latency
// set. Run:
//
//	go test ./internal/provider/gcp -run '^$' -bench Scale0To1000To0 -benchtime 1x
func BenchmarkScale0To1000To0(b *testing.B) {
	for i := 0; i < b.N; i++ {
		benchScale(b, 1000)
	}
}

func benchScale(b *testing.B, workers int) {
	const latency = 100 * time.Millisecond
	cfg := gce.ModelConfig()
	cfg.Latency = latency
	m := cloudsim.New(cfg)
	gce.SetRateLimits(m)
	srv := gce.Start(m, gce.Options{Project: "burst-sim"})
	defer srv.Close()
	ip := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(callerIP)) }))
	defer ip.Close()
	p := New(Options{Project: "burst-sim", Endpoint: srv.URL(), IPDetectURL: ip.URL, Getenv: func(string) string { return "" }})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	cat, err := p.Catalog(ctx)
	if err != nil {
		b.Fatal(err)
	}
	c := spec.Default("bench")
	c.Providers = []string{Name}
	c.Workers.Count = workers
	c.Workers.Spot = spec.SpotWithFallback
	c.Workers.Resources.CPU = spec.IntBound{Value: 4, OrMore: true}
	c.Workload = spec.Workload{Name: "none"}
	eng := &provision.Engine{
		Provider: func(context.Context, string) (provider.Provider, error) { return p, nil },
		Owner:    "bench", PollInterval: time.Second, Unavailable: &plan.Unavailable{},
	}
	pl, err := plan.Make(&c, cat, plan.Options{Now: time.Now()})
	if err != nil {
		b.Fatal(err)
	}
	m.ResetRequests()
	b.ResetTimer()

	start := time.Now()
	res, err := eng.Up(ctx, &c, pl, provision.WaitMachines)
	if err != nil {
		b.Fatalf("Up: %v", err)
	}
	up := time.Since(start)
	if res.Workers() != workers {
		b.Fatalf("Up gave %d workers", res.Workers())
	}
	upCalls := m.Requests()
	m.ResetRequests()

	start = time.Now()
	down, err := eng.Down(ctx, "bench", []string{Name})
	if err != nil {
		b.Fatalf("Down: %v", err)
	}
	dn := time.Since(start)
	downCalls := m.Requests()
	b.StopTimer()
	if down.Terminated != workers+1 {
		b.Fatalf("Down terminated %d", down.Terminated)
	}
	if leaks := m.Leaks(provider.TagCluster); len(leaks) != 0 {
		b.Fatalf("left behind: %v", leaks[:min(5, len(leaks))])
	}

	b.ReportMetric(up.Seconds(), "up-s")
	b.ReportMetric(dn.Seconds(), "down-s")
	b.ReportMetric(float64(len(upCalls)), "up-calls")
	b.ReportMetric(float64(len(downCalls)), "down-calls")
	first := pl.Workers()[0].Offerings[0]
	b.Logf("workers: %d x %s %s in %s; latency %s per call; GCE limits: 1500 req/min, bulk 20/s, 10 bulk ops", workers, first.InstanceType, first.Capacity, first.Region, latency)
	b.Logf("up:   %6.2fs wall, %4d calls, %s", up.Seconds(), len(upCalls), byMethod(upCalls))
	b.Logf("      lower bound: GCE limits %.2fs (%d calls within the 1500 burst), latency %.2fs (%d calls on the critical path)",
		throttleBound(len(upCalls)), len(upCalls), criticalPath(upCalls, latency).Seconds(), int(criticalPath(upCalls, latency)/latency))
	deletes := countOf(downCalls, "compute.instances.delete")
	burst := mutationBurst(DefaultMutationsPerMinute)
	limiterBound := math.Max(0, float64(deletes-burst)) / (DefaultMutationsPerMinute / 60.0)
	latencyBound := time.Duration(math.Ceil(float64(deletes)/(maxPerBatch*batchesInFlight))) * latency
	b.Logf("down: %6.2fs wall, %4d calls, %s", dn.Seconds(), len(downCalls), byMethod(downCalls))
	b.Logf("      lower bound: GCE limits %.2fs, burst's write limiter %.2fs (%d deletes, burst %d, 25/s), latency %.2fs (%d batches of %d in flight)",
		throttleBound(len(downCalls)-countOf(downCalls, gce.BatchAction)), limiterBound, deletes, burst, latencyBound.Seconds(), batchesInFlight, maxPerBatch)
	throttled := 0
	for _, r := range append(upCalls, downCalls...) {
		if r.Code == "rateLimitExceeded" {
			throttled++
		}
	}
	b.Logf("throttled answers: %d", throttled)
}

// throttleBound is the least time GCE's 1500-a-minute bucket (full at
// the start, refilling 25 a second) needs to admit n calls.
func throttleBound(n int) float64 { return math.Max(0, float64(n-1500)) / 25 }

// criticalPath estimates the calls made one after another: every call
// that did not overlap an earlier one.
func criticalPath(rs []cloudsim.Request, latency time.Duration) time.Duration {
	sort.Slice(rs, func(i, j int) bool { return rs[i].Time.Before(rs[j].Time) })
	var n int
	var until time.Time
	for _, r := range rs {
		if r.Time.After(until) {
			n++
			until = r.Time.Add(latency / 2)
		}
	}
	return time.Duration(n) * latency
}

func countOf(rs []cloudsim.Request, action string) int {
	n := 0
	for _, r := range rs {
		if r.Action == action {
			n++
		}
	}
	return n
}

func byMethod(rs []cloudsim.Request) string {
	counts := map[string]int{}
	for _, r := range rs {
		counts[strings.TrimPrefix(r.Action, "compute.")]++
	}
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %d", k, counts[k]))
	}
	return strings.Join(parts, ", ")
}
