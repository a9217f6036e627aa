package reliability

import (
	"fmt"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/burstdev/burst/internal/testenv"
)

// killPoint is when a crash test SIGKILLs `burst up`: after the simulator
// has served Requests API requests, or, when Requests is 0, After a delay
// (which lands in the middle of requests, not between them).
type killPoint struct {
	Requests int
	After    time.Duration
}

func (k killPoint) String() string {
	if k.Requests > 0 {
		return fmt.Sprintf("after request %d", k.Requests)
	}
	return fmt.Sprintf("at %s", k.After.Round(time.Millisecond))
}

// crashSize is how many workers a crash test launches: 200 on a simulator,
// fewer processes on this host.
func crashSize(cloud string) int {
	if cloud == "local" {
		return 20
	}
	return 200
}

func upArgs(n int) []string {
	return []string{"up", "crash", "-n", strconv.Itoa(n), "--yes", "--wait", "machines", "--workload", "none", "--timeout", "3m"}
}

// TestCrashSafety kills `burst up` at many points of a launch, on every
// provider; each time `burst up` again must converge to exactly the asked
// count, with no duplicates, and `burst down` must leave nothing behind.
func TestCrashSafety(t *testing.T) {
	for _, cloud := range testenv.Clouds() {
		t.Run(cloud, func(t *testing.T) { crashSuite(t, cloud) })
	}
}

func crashSuite(t *testing.T, cloud string) {
	n := crashSize(cloud)
	opts := testenv.CloudOptions{Latency: 15 * time.Millisecond}

	// Calibrate: a launch without a crash, to spread the kill points over.
	s := testenv.NewSandbox(t)
	c := testenv.StartCloud(t, s, cloud, opts)
	r := s.Run(upArgs(n)...)
	if r.Code != 0 {
		t.Fatalf("calibration up: exit %d\n%s", r.Code, r.Stderr)
	}
	total, took := c.Requests(), r.Took
	if r := s.Run("down", "crash", "--yes"); r.Code != 0 {
		t.Fatalf("calibration down: exit %d\n%s", r.Code, r.Stderr)
	}
	t.Logf("%s: an uninterrupted launch of 1+%d took %s and %d API requests", cloud, n, took.Round(time.Millisecond), total)

	var points []killPoint
	if total > 1 {
		step := max(1, total/8)
		for k := 1; k < total; k += step {
			points = append(points, killPoint{Requests: k})
		}
	}
	for i := 1; i <= 6; i++ {
		points = append(points, killPoint{After: took * time.Duration(i) / 7})
	}

	var rows []string
	for _, kp := range points {
		s := testenv.NewSandbox(t)
		c := testenv.StartCloud(t, s, cloud, opts)
		cmd, _ := s.Start(upArgs(n)...)
		start := time.Now()
		for kp.Requests <= 0 || c.Requests() < kp.Requests {
			if kp.Requests == 0 && time.Since(start) >= kp.After {
				break
			}
			if time.Since(start) > time.Minute {
				t.Fatalf("%s: kill point %s never came", cloud, kp)
			}
			time.Sleep(time.Millisecond)
		}
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
		heads, workers := c.Count("crash")
		atKill := fmt.Sprintf("%d heads, %d workers", heads, workers)

		r := s.Run(upArgs(n)...)
		if r.Code != 0 {
			t.Fatalf("%s, killed %s: up again: exit %d\n%s", cloud, kp, r.Code, r.Stderr)
		}
		heads, workers = c.Count("crash")
		if heads != 1 || workers != n {
			t.Fatalf("%s, killed %s (then %s): up again left %d heads and %d workers, want 1 and %d", cloud, kp, atKill, heads, workers, n)
		}
		if r := s.Run("down", "crash", "--yes"); r.Code != 0 {
			t.Fatalf("%s, killed %s: down: exit %d\n%s", cloud, kp, r.Code, r.Stderr)
		}
		if leaks := c.Leaks(); len(leaks) > 0 {
			t.Fatalf("%s, killed %s: down left %d resources: %v", cloud, kp, len(leaks), first(leaks, 5))
		}
		rows = append(rows, fmt.Sprintf("| %s | %s | %s | 1 + %d | 0 |", cloud, kp, atKill, n))
	}
	t.Logf("kill points on %s:\n| provider | killed | existing at kill | after up again | leaked after down |\n|---|---|---|---|---|\n%s", cloud, strings.Join(rows, "\n"))
}

func first(ss []string, n int) []string { return ss[:min(n, len(ss))] }
