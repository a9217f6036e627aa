package aws_test

import (
	"context"
	"fmt"
	"math"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/smithy-go/logging"

	"github.com/burstdev/burst/internal/cloudsim"
	simec2 "github.com/burstdev/burst/internal/cloudsim/ec2"
	"github.com/burstdev/burst/internal/plan"
	"github.com/burstdev/burst/internal/provider"
	"github.com/burstdev/burst/internal/provider/aws"
	"github.com/burstdev/burst/internal/provision"
	"github.com/burstdev/burst/pkg/spec"
)

// BenchmarkScale1000 measures what `burst up -n 1000` then `burst down`
// do against the EC2 simulator with 100 ms per call and EC2's documented
// throttles as model buckets (burst's client-side buckets mirror them):
// the wall time of each API phase, the calls by action, and the lower bound
// the throttles alone allow. The plan comes from plan.Make over the
// simulator's live catalog; the engine is internal/provision, as in the
// CLI. Run it with:
//
//	go test ./internal/provider/aws/ -run '^$' -bench BenchmarkScale1000 -benchtime 1x -v
func BenchmarkScale1000(b *testing.B) {
	for i := 0; i < b.N; i++ {
		benchScale(b, 1000)
	}
}

func benchScale(b *testing.B, workers int) {
	b.StopTimer()
	m := simec2.NewModel(cloudsim.Config{})
	e := &env{model: m, sim: simec2.New(m)}
	srv := httptest.NewServer(e.sim)
	b.Cleanup(srv.Close)
	awsEnv(b, srv.URL)
	// Throttles nil: burst's client-side buckets mirror EC2's documented ones.
	e.p = aws.New(aws.Options{AllowedCIDRs: []string{"203.0.113.7/32"}, DataDir: b.TempDir(),
		ConfigOptions: []func(*config.LoadOptions) error{config.WithLogger(logging.Nop{})}})
	ctx := context.Background()

	cat, err := e.p.Catalog(ctx)
	if err != nil {
		b.Fatal(err)
	}
	c := cluster("bench", workers, spec.OnDemand)
	un := &plan.Unavailable{}
	pl, err := plan.Make(c, cat, plan.Options{Unavailable: un, Now: time.Now()})
	if err != nil {
		b.Fatal(err)
	}
	// The API phase starts now: latency and EC2's buckets on.
	m.ResetRequests()
	m.SetLatency(100 * time.Millisecond)
	simec2.SetDocumentedThrottles(m)
	eng := &provision.Engine{
		Provider:    func(ctx context.Context, name string) (provider.Provider, error) { return e.p, nil },
		Unavailable: un, Owner: "bench", PollInterval: time.Second, WaitTimeout: 10 * time.Minute,
		Replan: func(c *spec.Cluster, site plan.Site) (*plan.Plan, error) {
			return plan.Make(c, cat, plan.Options{Unavailable: un, Now: time.Now(), Site: site})
		},
	}

	b.StartTimer()
	start := time.Now()
	res, err := eng.Up(ctx, c, pl, provision.WaitMachines)
	up := time.Since(start)
	if err != nil || res.Workers() != workers {
		b.Fatalf("up: %d workers, %v", res.Workers(), err)
	}
	upReqs := m.Requests()
	m.ResetRequests()
	start = time.Now()
	if _, err := eng.Down(ctx, c.Name, []string{aws.Name}); err != nil {
		b.Fatalf("down: %v", err)
	}
	down := time.Since(start)
	b.StopTimer()
	downReqs := m.Requests()
	if leaks := m.Leaks(provider.TagCluster); len(leaks) != 0 {
		b.Fatalf("leaks after down: %v", leaks)
	}
	b.ReportMetric(up.Seconds(), "s-up")
	b.ReportMetric(down.Seconds(), "s-down")
	b.ReportMetric(float64(len(upReqs)), "calls-up")
	b.ReportMetric(float64(len(downReqs)), "calls-down")
	b.Log("\n" + benchReport("up 0 -> "+fmt.Sprint(workers)+" workers (+1 head)", up, upReqs, workers+1, 0) +
		benchReport("down "+fmt.Sprint(workers)+" -> 0", down, downReqs, 0, workers+1))
}

// benchReport formats one phase: wall time, calls by action, throttled
// calls, and the throttle lower bound: for each of EC2's buckets, the time
// to refill what the phase took beyond the bucket's size.
func benchReport(title string, wall time.Duration, reqs []cloudsim.Request, launched, terminated int) string {
	by := map[string]int{}
	throttled := 0
	for _, r := range reqs {
		by[r.Action]++
		if r.Code == "RequestLimitExceeded" {
			throttled++
		}
	}
	fam := map[string]float64{}
	for a, n := range by {
		switch {
		case a == "RunInstances":
			fam[simec2.BucketRunInstances] += float64(n)
		case strings.HasPrefix(a, "Describe"):
			fam[simec2.BucketDescribe] += float64(n)
		case a == "GetServiceQuota" || a == "GetProducts":
		default:
			fam[simec2.BucketMutate] += float64(n)
		}
	}
	fam[simec2.BucketLaunchResource] = float64(launched)
	fam[simec2.BucketTerminateResource] = float64(terminated)
	bound, boundBy := 0.0, "none"
	var fams []string
	for f := range fam {
		fams = append(fams, f)
	}
	sort.Strings(fams)
	var detail []string
	for _, f := range fams {
		bk := simec2.DocumentedThrottles[f]
		need := fam[f]
		lb := math.Max(0, (need-bk[0])/bk[1])
		detail = append(detail, fmt.Sprintf("%s %g of %g+%g/s -> %.2fs", f, need, bk[0], bk[1], lb))
		if lb > bound {
			bound, boundBy = lb, f
		}
	}
	var acts []string
	for a := range by {
		acts = append(acts, a)
	}
	sort.Strings(acts)
	var sb strings.Builder
	if len(reqs) > 0 && testing.Verbose() {
		t0 := reqs[0].Time
		for _, r := range reqs {
			fmt.Fprintf(&sb, "  +%5.2fs %s %s\n", r.Time.Sub(t0).Seconds(), r.Action, r.Code)
		}
	}
	fmt.Fprintf(&sb, "### %s\nwall %.2fs, %d calls (%d throttled), throttle lower bound %.2fs (%s)\n", title, wall.Seconds(), len(reqs), throttled, bound, boundBy)
	fmt.Fprintf(&sb, "buckets: %s\n", strings.Join(detail, "; "))
	for _, a := range acts {
		fmt.Fprintf(&sb, "| %s | %d |\n", a, by[a])
	}
	return sb.String()
}
