package local_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/burstdev/burst/internal/bootstrap"
	"github.com/burstdev/burst/internal/provider"
	"github.com/burstdev/burst/pkg/spec"

	"github.com/burstdev/burst/internal/plan"
	"github.com/burstdev/burst/internal/provider/local"
	"github.com/burstdev/burst/internal/provider/providertest"
)

func TestConformance(t *testing.T) {
	providertest.Run(t, func(t *testing.T) *providertest.Harness {
		p, err := local.New(local.Options{Dir: t.TempDir(), Tick: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		return &providertest.Harness{
			Provider:    p,
			SetCapacity: func(o plan.Offering, n int) { p.SetMaxMachines(n) },
		}
	})
}

// A machine whose process group burst never recorded (killed between
// starting it and writing meta.json) is still found through the pgid file
// its script writes, and still ended by Terminate; one that never started
// counts as terminated once the start grace has passed.
func TestUnrecordedProcessGroup(t *testing.T) {
	now := time.Now()
	p, err := local.New(local.Options{Dir: t.TempDir(), Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	res, err := p.Launch(ctx, provider.LaunchRequest{Cluster: "c1", Role: spec.RoleWorker, Count: 2, Token: "c1-w-tok",
		Offerings: []plan.Offering{{Provider: "local", InstanceType: "local", Region: "local", Zone: "local", Capacity: "on-demand"}},
		Boot:      bootstrap.Config{Cluster: "c1", Role: spec.RoleWorker, Workload: spec.Workload{Name: "none"}}})
	if err != nil || len(res.Machines) != 2 {
		t.Fatalf("launch: %v %v", res, err)
	}
	t.Cleanup(func() {
		if err := p.Terminate(ctx, res.Machines); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	dirOf := func(id string) string { return filepath.Join(p.Dir(), "c1", id) }
	// Wait for the scripts to record their groups, then forget the first
	// machine's group in meta.json, and make the second a never-started
	// machine.
	for _, m := range res.Machines {
		for i := 0; i < 100; i++ {
			if _, err := os.Stat(filepath.Join(dirOf(m.ID), "pgid")); err == nil {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	pgidOf := func(id string) int {
		b, _ := os.ReadFile(filepath.Join(dirOf(id), "pgid"))
		n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		return n
	}
	running, ghost := res.Machines[0], res.Machines[1]
	ghostPGID := pgidOf(ghost.ID)
	setPGID0 := func(id string) {
		path := filepath.Join(dirOf(id), "meta.json")
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		m["pgid"] = 0
		b, _ = json.Marshal(m)
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	setPGID0(running.ID)
	// A group of 0 would signal this test's own process group.
	if ghostPGID <= 1 {
		t.Fatalf("machine %s recorded no process group", ghost.ID)
	}
	if err := syscall.Kill(-ghostPGID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	setPGID0(ghost.ID)
	if err := os.Remove(filepath.Join(dirOf(ghost.ID), "pgid")); err != nil {
		t.Fatal(err)
	}

	state := func() map[string]provider.State {
		ms, err := p.Machines(ctx, provider.Filter{Cluster: "c1"})
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]provider.State{}
		for _, m := range ms {
			out[m.ID] = m.State
		}
		return out
	}
	if st := state(); st[running.ID] != provider.Running || st[ghost.ID] != provider.Pending {
		t.Fatalf("states %v: want the unrecorded machine running and the unstarted one pending", st)
	}
	now = now.Add(time.Minute)
	if st := state(); st[running.ID] != provider.Running || st[ghost.ID] != provider.Terminated {
		t.Fatalf("after the start grace, states %v", st)
	}
	pg := pgidOf(running.ID)
	if err := p.Terminate(ctx, res.Machines); err != nil {
		t.Fatal(err)
	}
	if syscall.Kill(-pg, 0) == nil {
		t.Fatal("Terminate left the unrecorded machine's processes running")
	}
	if st := state(); len(st) != 0 {
		t.Fatalf("machines after Terminate: %v", st)
	}
}

// A machine directory without meta.json (burst died while creating it) is
// reported terminated once past the start grace, so down and gc remove it.
func TestHalfMadeMachineDirIsCollected(t *testing.T) {
	now := time.Now()
	p, err := local.New(local.Options{Dir: t.TempDir(), Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(p.Dir(), "c1", "c1-w-deadbeef")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ms, _ := p.Machines(ctx, provider.Filter{Cluster: "c1"})
	if len(ms) != 0 {
		t.Fatalf("a directory being created is listed: %v", ms)
	}
	now = now.Add(time.Minute)
	ms, _ = p.Machines(ctx, provider.Filter{Cluster: "c1"})
	if len(ms) != 1 || ms[0].State != provider.Terminated || ms[0].Role != spec.RoleWorker || ms[0].ID != "c1-w-deadbeef" {
		t.Fatalf("half-made machine: %+v", ms)
	}
	if err := p.Terminate(ctx, ms); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatal("Terminate left the half-made directory")
	}
}
