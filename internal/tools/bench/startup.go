package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/burstdev/burst/internal/catalog"
	"github.com/burstdev/burst/internal/cloudsim/simenv"
	"github.com/burstdev/burst/internal/plan"
	"github.com/burstdev/burst/pkg/spec"
)

// ColdStart is the wall time of one command of the built binary, from
// fork to exit, over several runs.
type ColdStart struct {
	Command string  `json:"command"`
	Date    string  `json:"date"`
	Runs    int     `json:"runs"`
	Median  float64 `json:"median_ms"`
	Min     float64 `json:"min_ms"`
	Max     float64 `json:"max_ms"`
	Load    string  `json:"load"`
}

// coldStartCommands are timed as a user runs them: a fresh home, so the
// plan reads the embedded catalog snapshot.
var coldStartCommands = [][]string{
	{"plan", "-n", "100", "--provider", "aws,gcp"},
	{"--help"},
}

// coldStarts times each command runs times (after two warm-up runs that
// put the binary in the page cache) and keeps the median.
func coldStarts(ctx context.Context, bin string, runs int) ([]ColdStart, error) {
	home, err := os.MkdirTemp("", "burst-bench-home-")
	if err != nil {
		return nil, err
	}
	defer func() { _ = os.RemoveAll(home) }()
	env := sandboxEnv(home)
	var out []ColdStart
	for _, args := range coldStartCommands {
		cs := ColdStart{Command: "burst " + strings.Join(args, " "), Date: today(), Runs: runs}
		var ds []float64
		for i := -2; i < runs; i++ {
			cmd := exec.CommandContext(ctx, bin, args...)
			cmd.Env = env
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			start := time.Now()
			err := cmd.Run()
			d := time.Since(start)
			if err != nil {
				return nil, fmt.Errorf("%s: %w\n%s", cs.Command, err, stderr.String())
			}
			if i >= 0 {
				ds = append(ds, float64(d.Microseconds())/1000)
			}
		}
		sort.Float64s(ds)
		cs.Median, cs.Min, cs.Max, cs.Load = median(ds), ds[0], ds[len(ds)-1], loadavg()
		out = append(out, cs)
	}
	return out, nil
}

// RSS is the peak resident set of one `burst up` against a simulator.
type RSS struct {
	Cloud   string  `json:"cloud"`
	Command string  `json:"command"`
	Date    string  `json:"date"`
	MaxRSS  float64 `json:"max_rss_mib"`
	Wall    float64 `json:"wall_s"`
}

func (r *Results) putRSS(x RSS) {
	for i, o := range r.RSS {
		if o.Cloud == x.Cloud {
			r.RSS[i] = x
			return
		}
	}
	r.RSS = append(r.RSS, x)
}

// peakRSS runs the built binary's `burst up -n N` against the cloud's
// simulator with no latency and no throttles, after a catalog refresh from
// it, and reports its peak RSS. burst's own client-side limiters still pace
// it (on AWS, EC2's 2 launches a second beyond the first 1000), hence the
// long --timeout.
//
// The figure comes from GNU time, not from the rusage this process gets
// for its child: Go starts a child by vfork, so the child runs in this
// process's memory until it execs, and Linux carries that memory's
// high-water mark into the child's ru_maxrss at exec. This process holds
// the simulators, so that figure measured the bench, not burst (seen:
// the same run reading 92 MiB or 230 MiB). time forks from its own small
// image.
func peakRSS(ctx context.Context, bin, cloud string, n int) (RSS, error) {
	gnuTime, err := exec.LookPath("time")
	if _, serr := os.Stat("/usr/bin/time"); serr == nil {
		gnuTime, err = "/usr/bin/time", nil
	}
	if err != nil {
		return RSS{}, fmt.Errorf("peak RSS needs GNU time (apt-get install -y time)")
	}
	sim, err := simenv.Start(cloud, simenv.Options{})
	if err != nil {
		return RSS{}, err
	}
	defer sim.Close()
	home, err := os.MkdirTemp("", "burst-bench-home-")
	if err != nil {
		return RSS{}, err
	}
	defer func() { _ = os.RemoveAll(home) }()
	env := append(sandboxEnv(home), sim.Env...)
	maxRSS := filepath.Join(home, "maxrss")
	burst := func(args ...string) (time.Duration, error) {
		cmd := exec.CommandContext(ctx, gnuTime, append([]string{"-f", "%M", "-o", maxRSS, bin}, args...)...)
		cmd.Env = env
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		start := time.Now()
		err := cmd.Run()
		if err != nil {
			err = fmt.Errorf("burst %s: %w\n%s", strings.Join(args, " "), err, tail(stderr.String(), 2000))
		}
		return time.Since(start), err
	}
	if _, err := burst("catalog", "refresh", "--provider", cloud); err != nil {
		return RSS{}, err
	}
	args := []string{"up", "bench", "-n", strconv.Itoa(n), "--provider", cloud, "--spot-policy", "on-demand", "--wait", "machines", "--yes", "--timeout", "90m"}
	wall, err := burst(args...)
	if err != nil {
		return RSS{}, err
	}
	b, err := os.ReadFile(maxRSS)
	if err != nil {
		return RSS{}, err
	}
	kib, err := strconv.ParseFloat(strings.TrimSpace(string(b)), 64)
	if err != nil {
		return RSS{}, fmt.Errorf("GNU time wrote %q: %w", b, err)
	}
	return RSS{Cloud: cloud, Command: "burst " + strings.Join(args, " "), Date: today(), MaxRSS: kib / 1024, Wall: wall.Seconds()}, nil
}

// PlannerFig is the planner's time over the full embedded catalog.
type PlannerFig struct {
	Spec   string  `json:"spec"`
	Date   string  `json:"date"`
	Plans  int     `json:"plans"`
	Median float64 `json:"median_ms"`
	P99    float64 `json:"p99_ms"`
	// Index is the first plan's time, which also indexes the catalog.
	Index     float64 `json:"first_ms"`
	Offerings int     `json:"offerings"`
	Load      string  `json:"load"`
}

// planner plans `burst plan -n 100` over the three clouds' embedded
// snapshots, merged, n times.
func planner(n int) (*PlannerFig, error) {
	cat, err := catalog.EmbeddedAll()
	if err != nil {
		return nil, err
	}
	c := spec.Default("bench")
	c.Workers.Count = 100
	offerings := 0
	for _, t := range cat.Types {
		offerings += len(t.Offerings)
	}
	pf := &PlannerFig{Spec: "spec.Default with 100 workers (`burst plan -n 100`), every provider", Date: today(), Plans: n, Offerings: offerings}
	var ds []float64
	for i := 0; i <= n; i++ {
		start := time.Now()
		if _, err := plan.Make(&c, cat, plan.Options{}); err != nil {
			return nil, err
		}
		d := float64(time.Since(start).Microseconds()) / 1000
		if i == 0 {
			pf.Index = d
			continue
		}
		ds = append(ds, d)
	}
	sort.Float64s(ds)
	pf.Median, pf.P99, pf.Load = median(ds), ds[len(ds)*99/100], loadavg()
	return pf, nil
}

// sandboxEnv is this process's environment minus BURST_*, XDG_* and HOME,
// with a fresh home: no user config, cache or keys.
func sandboxEnv(home string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "BURST_") && !strings.HasPrefix(kv, "XDG_") && !strings.HasPrefix(kv, "HOME=") && !strings.HasPrefix(kv, "AWS_") {
			env = append(env, kv)
		}
	}
	return append(env, homeEnv(home)...)
}

// homeEnv points HOME and the XDG directories (config, cache, state,
// keys) into home.
func homeEnv(home string) []string {
	return []string{"HOME=" + home, "XDG_CONFIG_HOME=" + filepath.Join(home, "config"), "XDG_CACHE_HOME=" + filepath.Join(home, "cache"),
		"XDG_STATE_HOME=" + filepath.Join(home, "state"), "XDG_DATA_HOME=" + filepath.Join(home, "data")}
}

func median(sorted []float64) float64 {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}

func today() string { return time.Now().UTC().Format("2006-01-02") }

func numCPU() int { return runtime.NumCPU() }

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}
