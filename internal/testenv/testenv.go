// Package testenv runs the built burst binary in tests: it builds it once,
// gives each test a sandboxed HOME, runs commands with captured output and
// exit codes, starts cloud simulators with the environment that points
// burst at them, and finds processes a test left behind.
//
// It is test support: only _test.go files import it.
package testenv

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/burstdev/burst/internal/provider/local"
)

// DisallowSkip reports whether tests must fail instead of skipping for a
// missing tool (CI sets BURST_TEST_DISALLOW_SKIP=1).
func DisallowSkip() bool { return os.Getenv("BURST_TEST_DISALLOW_SKIP") != "" }

// Skip skips t, or fails it when skipping is disallowed.
func Skip(t testing.TB, format string, args ...any) {
	t.Helper()
	if DisallowSkip() {
		t.Fatalf("required here (BURST_TEST_DISALLOW_SKIP): "+format, args...)
	}
	t.Skipf(format, args...)
}

// NeedDask returns a Python that has Dask, or skips (fails in CI).
func NeedDask(t testing.TB) string {
	t.Helper()
	py, version, err := local.FindPython(context.Background(), "")
	if err != nil {
		Skip(t, "no Dask: %v", err)
	}
	t.Logf("using %s (distributed %s)", py, version)
	return py
}

// GoTool returns the go command to build and list packages with: the one
// on PATH (go test puts its own GOROOT/bin first), else $GOROOT/bin/go.
func GoTool() (string, error) {
	if p, err := exec.LookPath("go"); err == nil {
		return p, nil
	}
	if root := os.Getenv("GOROOT"); root != "" {
		p := filepath.Join(root, "bin", "go")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", errors.New("no go command on PATH or in $GOROOT/bin")
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// Binary builds cmd/burst once per test process and returns its path.
func Binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "burst-test-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "burst")
		goTool, err := GoTool()
		if err != nil {
			buildErr = err
			return
		}
		cmd := exec.Command(goTool, "build", "-o", binPath, "github.com/burstdev/burst/cmd/burst")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = errors.New(err.Error() + "\n" + string(out))
		}
	})
	if buildErr != nil {
		t.Fatalf("building burst: %v", buildErr)
	}
	return binPath
}

// Sandbox is an isolated HOME (and XDG dirs) for running burst.
type Sandbox struct {
	T     testing.TB
	Bin   string
	Home  string
	State string
	Env   []string
}

// NewSandbox returns a sandbox whose environment is this process's minus
// BURST_*, XDG_* and HOME, plus env.
func NewSandbox(t testing.TB, env ...string) *Sandbox {
	t.Helper()
	home := t.TempDir()
	s := &Sandbox{T: t, Bin: Binary(t), Home: home, State: filepath.Join(home, "state")}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "BURST_") && !strings.HasPrefix(kv, "XDG_") && !strings.HasPrefix(kv, "HOME=") {
			s.Env = append(s.Env, kv)
		}
	}
	s.Env = append(s.Env, "HOME="+home, "XDG_STATE_HOME="+s.State, "XDG_CACHE_HOME="+filepath.Join(home, "cache"),
		"XDG_CONFIG_HOME="+filepath.Join(home, "config"), "XDG_DATA_HOME="+filepath.Join(home, "data"))
	s.Env = append(s.Env, env...)
	return s
}

// Result is a finished command.
type Result struct {
	Stdout, Stderr string
	Code           int
	Took           time.Duration
}

// Run runs burst to completion (at most 5 minutes).
func (s *Sandbox) Run(args ...string) Result {
	s.T.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.Bin, args...)
	cmd.Env = s.Env
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	start := time.Now()
	err := cmd.Run()
	r := Result{Stdout: out.String(), Stderr: errOut.String(), Took: time.Since(start)}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.Code = ee.ExitCode()
	case err != nil:
		s.T.Fatalf("burst %v: %v", args, err)
	}
	return r
}

// Start starts burst without waiting; stderr goes to the returned buffer.
func (s *Sandbox) Start(args ...string) (*exec.Cmd, *bytes.Buffer) {
	s.T.Helper()
	cmd := exec.Command(s.Bin, args...)
	cmd.Env = s.Env
	var errOut bytes.Buffer
	cmd.Stderr = &errOut
	if err := cmd.Start(); err != nil {
		s.T.Fatal(err)
	}
	return cmd, &errOut
}

// Processes lists live processes whose command line mentions the sandbox's
// state dir (every local machine runs a script under it). Zombies are not
// running and are left out.
func (s *Sandbox) Processes() []string {
	entries, _ := os.ReadDir("/proc")
	var out []string
	for _, e := range entries {
		if !e.IsDir() || e.Name()[0] < '0' || e.Name()[0] > '9' {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		stat, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if bytes.Contains(stat, []byte(") Z ")) {
			continue
		}
		if bytes.Contains(cmdline, []byte(s.State)) {
			out = append(out, e.Name()+": "+strings.ReplaceAll(string(cmdline), "\x00", " "))
		}
	}
	return out
}

// LocalMachineDirs lists a cluster's local machine directories.
func (s *Sandbox) LocalMachineDirs(cluster string) []string {
	entries, _ := os.ReadDir(filepath.Join(s.State, "burst", "local", cluster))
	var out []string
	for _, e := range entries {
		if e.IsDir() {
			out = append(out, e.Name())
		}
	}
	return out
}
