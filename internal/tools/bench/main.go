// Command bench measures burst side by side on every cloud simulator and
// writes the figures, tables and a chart for docs/benchmarks.md:
//
//	go run ./internal/tools/bench [-latency 100ms] [-n 10,100,1000,5000] [-clouds aws,gcp,azure] [-baseline] [-out docs/benchmarks]
//
// For each cloud and N it scales a cluster 0 -> N -> 0 through the real
// engine and providers against the cloud's simulator, with the per-call
// latency and the cloud's documented throttles, and does the same with a
// per-machine baseline (one machine per call, 10 calls in flight); then it
// times the built binary's cold start, measures the peak RSS of
// `burst up -n 5000` against each simulator, and times the planner over the
// full embedded catalog. Figures go to OUT/results.json (runs of parts of
// the matrix merge into it), OUT/results.md and OUT/scale.png.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/burstdev/burst/internal/cloudsim/simenv"
)

type options struct {
	latency  time.Duration
	ns       []int
	clouds   []string
	burst    bool
	baseline bool
	parts    []string
	out      string
	bin      string
	runs     int
	rssN     int
	trace    string
}

var allParts = []string{"scale", "start", "rss", "plan"}

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	var o options
	var ns, clouds, parts string
	fs.DurationVar(&o.latency, "latency", 100*time.Millisecond, "latency the simulators add to every API call")
	fs.StringVar(&ns, "n", "10,100,1000,5000", "worker counts to scale to, comma-separated")
	fs.StringVar(&clouds, "clouds", strings.Join(simenv.Clouds(), ","), "clouds to measure, comma-separated")
	fs.BoolVar(&o.burst, "burst", true, "scale with burst's own bulk calls")
	fs.BoolVar(&o.baseline, "baseline", true, "scale with the per-machine baseline too (one machine per call, 10 in flight)")
	fs.StringVar(&parts, "parts", strings.Join(allParts, ","), "what to measure: scale (the cycles), start (cold start), rss (peak RSS of up), plan (the planner); none just renders")
	fs.StringVar(&o.out, "out", "docs/benchmarks", "directory for results.json, results.md and scale.png")
	fs.StringVar(&o.bin, "bin", "", "burst binary for start and rss (default: build ./cmd/burst as `make build` does)")
	fs.IntVar(&o.runs, "runs", 20, "runs per cold-start command (the median is reported)")
	fs.IntVar(&o.rssN, "rss-n", 5000, "workers of the `burst up` whose peak RSS is measured")
	fs.StringVar(&o.trace, "trace", "", "directory to write each phase's request log to (one file a cloud, client, N and phase)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	var err error
	if o.ns, err = ints(ns); err != nil {
		fmt.Fprintln(os.Stderr, "bench: -n:", err)
		return 2
	}
	o.clouds = list(clouds)
	o.parts = list(parts)
	for _, p := range o.parts {
		if !slices.Contains(allParts, p) && p != "none" {
			fmt.Fprintf(os.Stderr, "bench: unknown part %q (want %s or none)\n", p, strings.Join(allParts, ","))
			return 2
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := measure(ctx, o, strings.Join(args, " ")); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	return 0
}

func measure(ctx context.Context, o options, args string) error {
	if _, err := update(o.out, func(r *Results) { r.Machine = machine() }); err != nil {
		return err
	}
	if slices.Contains(o.parts, "scale") {
		start := time.Now()
		for _, cloud := range o.clouds {
			for _, n := range o.ns {
				for _, client := range clients(o) {
					fmt.Fprintf(os.Stderr, "bench: %s %s 0 -> %d -> 0 (latency %s) ...\n", cloud, client, n, o.latency)
					run := scaleCycle(ctx, cloud, n, client, o.latency, o.trace)
					fmt.Fprintln(os.Stderr, "bench:  ", runLine(run))
					if _, err := update(o.out, func(r *Results) { r.putScale(run) }); err != nil {
						return err
					}
					if err := ctx.Err(); err != nil {
						return err
					}
				}
			}
		}
		mt := MatrixTime{Args: args, Start: start.UTC().Format(time.RFC3339), Wall: time.Since(start).Seconds(), Load: loadavg()}
		if _, err := update(o.out, func(r *Results) { r.Matrix = append(r.Matrix, mt) }); err != nil {
			return err
		}
	}
	if slices.Contains(o.parts, "start") || slices.Contains(o.parts, "rss") {
		bin := o.bin
		if bin == "" {
			dir, err := os.MkdirTemp("", "burst-bench-bin-")
			if err != nil {
				return err
			}
			defer func() { _ = os.RemoveAll(dir) }()
			bin = filepath.Join(dir, "burst")
			cmd := exec.CommandContext(ctx, "make", "build", "BIN="+bin)
			cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
			if err := cmd.Run(); err != nil {
				return fmt.Errorf("make build: %w", err)
			}
		}
		if slices.Contains(o.parts, "start") {
			cs, err := coldStarts(ctx, bin, o.runs)
			if err != nil {
				return err
			}
			if _, err := update(o.out, func(r *Results) { r.ColdStart = cs }); err != nil {
				return err
			}
		}
		if slices.Contains(o.parts, "rss") {
			for _, cloud := range o.clouds {
				rss, err := peakRSS(ctx, bin, cloud, o.rssN)
				if err != nil {
					return err
				}
				if _, err := update(o.out, func(r *Results) { r.putRSS(rss) }); err != nil {
					return err
				}
			}
		}
	}
	if slices.Contains(o.parts, "plan") {
		pf, err := planner(1000)
		if err != nil {
			return err
		}
		if _, err := update(o.out, func(r *Results) { r.Planner = pf }); err != nil {
			return err
		}
	}
	r, err := update(o.out, func(*Results) {})
	if err != nil {
		return err
	}
	md := report(r)
	if err := os.WriteFile(filepath.Join(o.out, "results.md"), []byte(md), 0o644); err != nil {
		return err
	}
	if err := chart(r, filepath.Join(o.out, "scale.png")); err != nil {
		return err
	}
	fmt.Print(md)
	return nil
}

func clients(o options) []string {
	var out []string
	if o.burst {
		out = append(out, clientBurst)
	}
	if o.baseline {
		out = append(out, clientBaseline)
	}
	return out
}

func runLine(r ScaleRun) string {
	if r.Err != "" {
		return "FAILED: " + r.Err
	}
	var parts []string
	for _, p := range r.Phases {
		parts = append(parts, fmt.Sprintf("%s %.2fs %d calls (%d throttled, bound %.2fs)", p.Name, p.Wall, p.Calls, p.Throttled, p.Bound.Seconds()))
	}
	return strings.Join(parts, "; ")
}

func ints(s string) ([]int, error) {
	var out []int
	for _, f := range list(s) {
		n, err := strconv.Atoi(f)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("bad count %q", f)
		}
		out = append(out, n)
	}
	return out, nil
}

func list(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// machine describes where the figures were taken.
func machine() string {
	cpu := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	gover := "go"
	if out, err := exec.Command("go", "env", "GOVERSION").Output(); err == nil {
		gover = strings.TrimSpace(string(out))
	}
	return fmt.Sprintf("%d x %s, %s", numCPU(), cpu, gover)
}

// loadavg is the 1, 5 and 15 minute load average.
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
