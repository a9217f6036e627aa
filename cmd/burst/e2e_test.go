package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/burstdev/burst/internal/testenv"
)

// The end-to-end tests run the built binary on the local provider with a
// real Dask (Debian's python3-distributed) and a real Dask client. CI sets
// BURST_TEST_DISALLOW_SKIP=1, so there they fail instead of skipping when
// Dask is missing.

// sandbox adapts testenv.Sandbox to these tests.
type sandbox struct {
	*testenv.Sandbox
	t *testing.T
}

func needDask(t *testing.T) string { return testenv.NeedDask(t) }

func newSandbox(t *testing.T) *sandbox {
	s := &sandbox{Sandbox: testenv.NewSandbox(t), t: t}
	t.Cleanup(func() {
		// Whatever a test leaves, take it down, then check nothing lives.
		s.burst("down", "--yes", "e2e")
		s.burst("down", "--yes", "life")
		if procs := s.Processes(); len(procs) > 0 {
			t.Errorf("processes left running: %v", procs)
		}
	})
	return s
}

func (s *sandbox) burst(args ...string) (stdout, stderr string, code int) {
	s.t.Helper()
	r := s.Run(args...)
	return r.Stdout, r.Stderr, r.Code
}

func (s *sandbox) processes() []string                 { return s.Processes() }
func (s *sandbox) machineDirs(cluster string) []string { return s.LocalMachineDirs(cluster) }

type statusJSON struct {
	Cluster          string `json:"cluster"`
	SchedulerAddress string `json:"scheduler_address"`
	Machines         []struct {
		ID    string `json:"id"`
		Role  string `json:"role"`
		State string `json:"state"`
	} `json:"machines"`
}

func (s *sandbox) status(cluster string) statusJSON {
	s.t.Helper()
	out, errOut, code := s.burst("status", cluster, "-o", "json")
	if code != 0 {
		s.t.Fatalf("status: exit %d: %s", code, errOut)
	}
	var st statusJSON
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		s.t.Fatalf("status JSON: %v\n%s", err, out)
	}
	return st
}

const clientScript = `
import sys
from dask.distributed import Client
import dask.array as da
client = Client(sys.argv[1], timeout=60)
client.wait_for_workers(int(sys.argv[2]), timeout=120)
print("workers", len(client.scheduler_info()["workers"]))
print("mean", float(da.ones((1000, 1000, 100)).mean().compute()))
client.close()
`

func TestLocalDaskEndToEnd(t *testing.T) {
	py := needDask(t)
	s := newSandbox(t)

	out, errOut, code := s.burst("up", "e2e", "-n", "3", "--yes", "-o", "json")
	if code != 0 {
		t.Fatalf("up: exit %d\n%s\n%s", code, out, errOut)
	}
	if !strings.Contains(errOut, "no provider configured; using local") {
		t.Errorf("no local-provider notice on stderr: %q", errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var summary struct {
		Type             string `json:"type"`
		SchedulerAddress string `json:"scheduler_address"`
		Machines         int    `json:"machines"`
		Workers          int    `json:"workers"`
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &summary); err != nil || summary.Type != "summary" {
		t.Fatalf("last stdout line is not the summary: %q (%v)", lines[len(lines)-1], err)
	}
	if summary.Machines != 4 || summary.Workers != 3 || !strings.HasPrefix(summary.SchedulerAddress, "tcp://127.0.0.1:") {
		t.Fatalf("summary %+v", summary)
	}

	// Running up again changes nothing.
	out, errOut, code = s.burst("up", "e2e", "-n", "3", "--yes", "-o", "json")
	if code != 0 || !strings.Contains(out, `"launched":0`) {
		t.Fatalf("second up: exit %d\n%s\n%s", code, out, errOut)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	client := exec.CommandContext(ctx, py, "-c", clientScript, summary.SchedulerAddress, "3")
	client.Env = append(os.Environ(), "PYTHONWARNINGS=ignore")
	res, err := client.CombinedOutput()
	if err != nil {
		t.Fatalf("dask client: %v\n%s", err, res)
	}
	if !strings.Contains(string(res), "workers 3") || !strings.Contains(string(res), "mean 1.0") {
		t.Fatalf("dask client output:\n%s", res)
	}

	st := s.status("e2e")
	if len(st.Machines) != 4 || st.SchedulerAddress != summary.SchedulerAddress {
		t.Fatalf("status %+v", st)
	}
	for _, m := range st.Machines {
		if m.State != "running" {
			t.Fatalf("machine %s is %s", m.ID, m.State)
		}
	}

	out, errOut, code = s.burst("down", "e2e", "--yes")
	if code != 0 || !strings.Contains(out, "4 machines terminated") {
		t.Fatalf("down: exit %d\n%s\n%s", code, out, errOut)
	}
	if procs := s.processes(); len(procs) > 0 {
		t.Fatalf("processes after down: %v", procs)
	}
	if dirs := s.machineDirs("e2e"); len(dirs) > 0 {
		t.Fatalf("machine state after down: %v", dirs)
	}
	if _, err := os.Stat(filepath.Join(s.State, "burst", "clusters", "e2e.json")); !os.IsNotExist(err) {
		t.Fatalf("cluster cache after down: %v", err)
	}
	if st := s.status("e2e"); len(st.Machines) != 0 {
		t.Fatalf("status after down: %+v", st)
	}
}

// waitGone polls until the cluster has no machines and no processes.
func waitGone(t *testing.T, s *sandbox, cluster string, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		if len(s.machineDirs(cluster)) == 0 && len(s.processes()) == 0 {
			return time.Since(start)
		}
		if time.Since(start) > within {
			t.Fatalf("cluster %s still has machines %v and processes %v after %s", cluster, s.machineDirs(cluster), s.processes(), within)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// TestIdleTimeoutRemovesCluster: with no tasks and no clients the scheduler
// closes itself, the workers follow, and every machine removes itself,
// while no burst process runs.
func TestIdleTimeoutRemovesCluster(t *testing.T) {
	needDask(t)
	s := newSandbox(t)
	_, errOut, code := s.burst("up", "life", "-n", "2", "--yes", "--idle-timeout", "3s", "--death-timeout", "2s")
	if code != 0 {
		t.Fatalf("up: exit %d: %s", code, errOut)
	}
	if n := len(s.machineDirs("life")); n != 3 {
		t.Fatalf("%d machines after up, want 3", n)
	}
	took := waitGone(t, s, "life", 60*time.Second)
	t.Logf("idle cluster removed itself %s after up returned", took.Round(100*time.Millisecond))
	if st := s.status("life"); len(st.Machines) != 0 {
		t.Fatalf("status still lists %v", st.Machines)
	}
}

// TestMaxLifetimeRemovesBusyCluster: a connected client keeps the cluster
// busy, and the deadline removes it anyway.
func TestMaxLifetimeRemovesBusyCluster(t *testing.T) {
	py := needDask(t)
	s := newSandbox(t)
	out, errOut, code := s.burst("up", "life", "-n", "1", "--yes", "--idle-timeout", "0", "--max-lifetime", "6s", "-o", "json")
	if code != 0 {
		t.Fatalf("up: exit %d: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var summary struct {
		SchedulerAddress string `json:"scheduler_address"`
	}
	_ = json.Unmarshal([]byte(lines[len(lines)-1]), &summary)
	// A client that stays connected well past the deadline.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	client := exec.CommandContext(ctx, py, "-c", `
import sys, time
from dask.distributed import Client
c = Client(sys.argv[1], timeout=30)
time.sleep(120)
`, summary.SchedulerAddress)
	client.Env = append(os.Environ(), "PYTHONWARNINGS=ignore")
	if err := client.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); _ = client.Wait() }()
	took := waitGone(t, s, "life", 60*time.Second)
	t.Logf("busy cluster removed at its deadline, %s after up returned", took.Round(100*time.Millisecond))
}

// TestMissingDaskFailsCleanly: with no Python that has Dask, up exits 1
// naming what to install and starts nothing.
func TestMissingDaskFailsCleanly(t *testing.T) {
	s := newSandbox(t)
	fakePy := filepath.Join(s.Home, "python-without-dask")
	if err := os.WriteFile(fakePy, []byte("#!/bin/sh\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	s.Env = append(s.Env, "BURST_LOCAL_PYTHON="+fakePy)
	_, errOut, code := s.burst("up", "e2e", "-n", "2", "--yes")
	if code != 1 || !strings.Contains(errOut, "python3-distributed") || strings.Count(strings.TrimSpace(errOut), "\n") > 1 {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	if dirs := s.machineDirs("e2e"); len(dirs) > 0 {
		t.Fatalf("machines were started: %v", dirs)
	}
}

// TestInterruptedUp: Ctrl-C during up stops it, says what exists, exits
// 130; up again finishes the job, down removes everything.
func TestInterruptedUp(t *testing.T) {
	needDask(t)
	s := newSandbox(t)
	cmd := exec.Command(s.Bin, "up", "e2e", "-n", "4", "--yes")
	cmd.Env = s.Env
	var errOut bytes.Buffer
	cmd.Stderr = &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Interrupt once the head exists, while the rest is under way.
	deadline := time.Now().Add(30 * time.Second)
	for len(s.machineDirs("e2e")) == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 130 {
		t.Fatalf("interrupted up: %v, want exit 130\n%s", err, errOut.String())
	}
	last := strings.TrimSpace(errOut.String())
	if i := strings.LastIndex(last, "\n"); i >= 0 {
		last = last[i+1:]
	}
	if !strings.Contains(last, "interrupted; cluster e2e has") || !strings.Contains(last, "burst down e2e") {
		t.Fatalf("last stderr line %q does not say what exists", last)
	}
	if strings.Count(errOut.String(), "interrupted") != 1 {
		t.Fatalf("interruption reported more than once:\n%s", errOut.String())
	}
	out, errS, code := s.burst("up", "e2e", "-n", "4", "--yes", "-o", "json")
	if code != 0 || !strings.Contains(out, `"machines":5`) {
		t.Fatalf("up after interrupt: exit %d\n%s\n%s", code, out, errS)
	}
	if _, _, code := s.burst("down", "e2e", "--yes"); code != 0 {
		t.Fatalf("down: exit %d", code)
	}
}
