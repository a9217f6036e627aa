package main

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"syscall"
	"time"
)

// Results are every figure the program has measured into an output
// directory. Runs of the program that measure parts of the matrix (the
// long N = 5000 cycles in the background, say) merge into one file.
type Results struct {
	Machine   string       `json:"machine"`
	Scale     []ScaleRun   `json:"scale"`
	ColdStart []ColdStart  `json:"cold_start,omitempty"`
	RSS       []RSS        `json:"rss,omitempty"`
	Planner   *PlannerFig  `json:"planner,omitempty"`
	Matrix    []MatrixTime `json:"matrix,omitempty"`
}

// MatrixTime is how long one invocation's scale matrix took.
type MatrixTime struct {
	Args  string  `json:"args"`
	Start string  `json:"start"`
	Wall  float64 `json:"wall_s"`
	Load  string  `json:"load"`
}

// update applies fn to the results in dir/results.json under an exclusive
// lock, writes them back, and returns them.
func update(dir string, fn func(r *Results)) (*Results, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	lock, err := os.OpenFile(filepath.Join(dir, ".results.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	defer func() { _ = lock.Close() }()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return nil, err
	}
	defer func() { _ = syscall.Flock(int(lock.Fd()), syscall.LOCK_UN) }()
	path := filepath.Join(dir, "results.json")
	r := &Results{}
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, err
	default:
		if err := json.Unmarshal(b, r); err != nil {
			return nil, err
		}
	}
	fn(r)
	r.refreshBounds()
	sort.SliceStable(r.Scale, func(i, j int) bool {
		a, b := r.Scale[i], r.Scale[j]
		if a.Cloud != b.Cloud {
			return cloudOrder(a.Cloud) < cloudOrder(b.Cloud)
		}
		if a.N != b.N {
			return a.N < b.N
		}
		return a.Client > b.Client // burst before baseline
	})
	out, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(out, '\n'), 0o644); err != nil {
		return nil, err
	}
	return r, os.Rename(tmp, path)
}

// refreshBounds recomputes every phase's lower bound from its cloud, N and
// latency, so that runs measured before a change to the bounds' model are
// compared with the bound as it is now. A run whose latency cannot be read
// keeps the bound it was stored with.
func (r *Results) refreshBounds() {
	for i := range r.Scale {
		run := &r.Scale[i]
		lat, err := time.ParseDuration(run.Latency)
		if err != nil {
			continue
		}
		for j := range run.Phases {
			run.Phases[j].Bound = lowerBound(run.Cloud, run.Phases[j].Name, run.N, lat)
		}
	}
}

// putScale replaces the run of the same cloud, N and client.
func (r *Results) putScale(run ScaleRun) {
	for i, o := range r.Scale {
		if o.Cloud == run.Cloud && o.N == run.N && o.Client == run.Client {
			r.Scale[i] = run
			return
		}
	}
	r.Scale = append(r.Scale, run)
}

// scale returns the run of a cloud, N and client, or nil.
func (r *Results) scale(cloud string, n int, client string) *ScaleRun {
	for i, o := range r.Scale {
		if o.Cloud == cloud && o.N == n && o.Client == client && o.Err == "" {
			return &r.Scale[i]
		}
	}
	return nil
}

func cloudOrder(c string) int {
	switch c {
	case "aws":
		return 0
	case "gcp":
		return 1
	case "azure":
		return 2
	}
	return 3
}
