package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/burstdev/burst/internal/iostreams"
	"github.com/burstdev/burst/internal/provider"
	"github.com/burstdev/burst/internal/provider/fake"
	"github.com/burstdev/burst/internal/provider/local"
)

// env is a test environment: a fake provider that keeps its state across
// burst invocations, temp XDG dirs, and captured streams.
type env struct {
	t    *testing.T
	fake *fake.Provider
	vars map[string]string
	home string
	now  time.Time
}

func newEnv(t *testing.T) *env {
	home := t.TempDir()
	e := &env{t: t, home: home, now: time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)}
	e.fake = fake.New(fake.WithNow(func() time.Time { return e.now }))
	e.vars = map[string]string{
		"HOME":            home,
		"XDG_CONFIG_HOME": filepath.Join(home, "config"),
		"XDG_STATE_HOME":  filepath.Join(home, "state"),
		"XDG_CACHE_HOME":  filepath.Join(home, "cache"),
		"BURST_PROVIDER":  "fake",
		"USER":            "tester",
	}
	return e
}

func (e *env) registry() *provider.Registry {
	return provider.NewRegistry(
		provider.Entry{Name: fake.Name, New: func(ctx context.Context, _ provider.Env) (provider.Provider, error) { return e.fake, nil }},
		local.Entry,
	)
}

type result struct {
	code        int
	out, errOut string
}

func (e *env) run(tty bool, stdin string, args ...string) result {
	e.t.Helper()
	ios, in, out, errOut := iostreams.Test()
	ios.SetTTY(tty)
	in.WriteString(stdin)
	f := NewFactory(ios, e.registry(), BuildInfo{Version: "v0.0.0-test", Commit: "abc", Date: "today"})
	f.Getenv = func(k string) string { return e.vars[k] }
	f.Now = func() time.Time { return e.now }
	code := Run(context.Background(), f, args)
	return result{code, out.String(), errOut.String()}
}

func TestUpStatusDownJSON(t *testing.T) {
	e := newEnv(t)
	r := e.run(false, "", "up", "demo", "-n", "3", "-o", "json", "--wait", "machines")
	if r.code != 0 {
		t.Fatalf("up: exit %d\n%s", r.code, r.errOut)
	}
	var last map[string]any
	sc := bufio.NewScanner(strings.NewReader(r.out))
	lines := 0
	for sc.Scan() {
		lines++
		var ev map[string]any
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("stdout line %d is not JSON: %q", lines, sc.Text())
		}
		if ev["type"] == nil {
			t.Fatalf("event without type: %s", sc.Text())
		}
		last = ev
	}
	if last["type"] != "summary" || last["machines"] != 4.0 || last["workers"] != 3.0 || !strings.HasPrefix(last["scheduler_address"].(string), "tcp://") {
		t.Fatalf("last event %v", last)
	}

	r = e.run(false, "", "status", "demo", "-o", "json")
	if r.code != 0 {
		t.Fatalf("status: exit %d %s", r.code, r.errOut)
	}
	var st struct {
		Cluster          string           `json:"cluster"`
		Provider         string           `json:"provider"`
		SchedulerAddress string           `json:"scheduler_address"`
		Machines         []map[string]any `json:"machines"`
	}
	if err := json.Unmarshal([]byte(r.out), &st); err != nil {
		t.Fatalf("status JSON: %v\n%s", err, r.out)
	}
	if st.Cluster != "demo" || st.Provider != "fake" || st.SchedulerAddress == "" || len(st.Machines) != 4 {
		t.Fatalf("status %+v", st)
	}
	for _, key := range []string{"id", "role", "state", "provider", "region", "zone", "instance_type", "capacity", "private_ip", "launched_at"} {
		if _, ok := st.Machines[0][key]; !ok {
			t.Errorf("machine JSON lacks %q: %v", key, st.Machines[0])
		}
	}

	r = e.run(false, "", "ls", "-o", "json")
	var ls []ClusterJSON
	if err := json.Unmarshal([]byte(r.out), &ls); err != nil || len(ls) != 1 || ls[0].Cluster != "demo" || ls[0].Workers != 3 || !ls[0].Head {
		t.Fatalf("ls: %v %s", err, r.out)
	}

	// Scale uses the remembered spec.
	r = e.run(false, "", "scale", "demo", "1", "--wait", "machines")
	if r.code != 0 || len(e.fake.Live("demo", "worker")) != 1 {
		t.Fatalf("scale: exit %d, %d workers\n%s", r.code, len(e.fake.Live("demo", "worker")), r.errOut)
	}

	r = e.run(false, "", "down", "demo")
	if r.code != ExitUsage || !strings.Contains(r.errOut, "--yes") {
		t.Fatalf("down without --yes and no terminal: exit %d %q", r.code, r.errOut)
	}
	r = e.run(false, "", "down", "demo", "--yes", "-o", "json")
	if r.code != 0 || len(e.fake.Live("demo", "")) != 0 {
		t.Fatalf("down: exit %d, live %d\n%s", r.code, len(e.fake.Live("demo", "")), r.errOut)
	}
	if !strings.Contains(r.out, `"type":"summary"`) || !strings.Contains(r.out, `"terminated":2`) {
		t.Fatalf("down JSON: %s", r.out)
	}
	if _, err := os.Stat(filepath.Join(e.vars["XDG_STATE_HOME"], "burst", "clusters", "demo.json")); !os.IsNotExist(err) {
		t.Fatal("down left the cluster's cached spec")
	}
}

func TestUpTextOutput(t *testing.T) {
	e := newEnv(t)
	r := e.run(false, "", "up", "-n", "2")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.errOut)
	}
	for _, want := range []string{"Cluster burst is up on fake: 1 head + 2 workers", "scheduler  tcp://", "dashboard  http://", "burst down burst"} {
		if !strings.Contains(r.out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, r.out)
		}
	}
	if !strings.Contains(r.errOut, "launching 2 workers on fake") {
		t.Errorf("stderr lacks progress:\n%s", r.errOut)
	}
	r = e.run(false, "", "status")
	if !strings.Contains(r.out, "\tworker\trunning\tfake\t") {
		t.Errorf("piped status is not tab-separated:\n%s", r.out)
	}
}

func TestPromptOnTerminal(t *testing.T) {
	e := newEnv(t)
	r := e.run(true, "n\n", "up", "-n", "2")
	if r.code != ExitError || e.fake.CallCount("Launch") != 0 {
		t.Fatalf("answering no: exit %d, launches %d\n%s", r.code, e.fake.CallCount("Launch"), r.errOut)
	}
	if !strings.Contains(r.errOut, "+ 2 workers") || !strings.Contains(r.errOut, "Create these machines? [y/N]") || !strings.Contains(r.errOut, "/h") {
		t.Fatalf("prompt did not show what and the price:\n%s", r.errOut)
	}
	r = e.run(true, "y\n", "up", "-n", "2")
	if r.code != 0 || len(e.fake.Live("burst", "")) != 3 {
		t.Fatalf("answering yes: exit %d, live %d\n%s", r.code, len(e.fake.Live("burst", "")), r.errOut)
	}
	// Nothing to create: no question.
	r = e.run(true, "", "up", "-n", "2")
	if r.code != 0 || strings.Contains(r.errOut, "[y/N]") {
		t.Fatalf("no-op up asked: exit %d\n%s", r.code, r.errOut)
	}
	r = e.run(true, "n\n", "down")
	if r.code != ExitError || len(e.fake.Live("burst", "")) != 3 {
		t.Fatalf("down answered no: exit %d, live %d", r.code, len(e.fake.Live("burst", "")))
	}
	r = e.run(true, "yes\n", "down")
	if r.code != 0 || len(e.fake.Live("burst", "")) != 0 {
		t.Fatalf("down answered yes: exit %d, live %d", r.code, len(e.fake.Live("burst", "")))
	}
}

func TestBadInput(t *testing.T) {
	tests := []struct {
		name string
		args []string
		vars map[string]string
		file string // config file body
		want string
	}{
		{"negative count", []string{"up", "-n", "-1"}, nil, "", "out of range"},
		{"non-numeric count", []string{"up", "-n", "three"}, nil, "", "invalid count"},
		{"huge count", []string{"up", "-n", "99999999"}, nil, "", "out of range"},
		{"unknown provider", []string{"up", "--provider", "digitalocean"}, nil, "", "unknown provider"},
		{"unknown provider env", []string{"up"}, map[string]string{"BURST_PROVIDER": "ibm"}, "", "unknown provider"},
		{"unknown workload", []string{"up", "--workload", "spark"}, nil, "", "unknown workload"},
		{"bad duration", []string{"up", "--idle-timeout", "5x"}, nil, "", "invalid duration"},
		{"negative duration", []string{"up", "--max-lifetime", "-1h"}, nil, "", "must not be negative"},
		{"bad size", []string{"up", "--memory", "12XB"}, nil, "", "unknown unit"},
		{"bad cpu", []string{"up", "--cpu", "many"}, nil, "", "invalid cpu"},
		{"bad gpu", []string{"up", "--gpu", "A100:0"}, nil, "", "invalid gpu count"},
		{"bad arch", []string{"up", "--arch", "sparc"}, nil, "", "invalid arch"},
		{"bad spot policy", []string{"up", "--spot-policy", "cheap"}, nil, "", "invalid spot policy"},
		{"bad price", []string{"up", "--max-price", "free"}, nil, "", "invalid price"},
		{"unknown flag", []string{"up", "--colour"}, nil, "", "unknown flag"},
		{"unknown command", []string{"upp"}, nil, "", "unknown command"},
		{"bad name", []string{"up", "My_Cluster"}, nil, "", "invalid cluster name"},
		{"path name", []string{"up", "../etc"}, nil, "", "invalid cluster name"},
		{"unicode name", []string{"status", "clüster"}, nil, "", "invalid cluster name"},
		{"too many args", []string{"up", "a", "b"}, nil, "", "accepts at most 1 arg"},
		{"scale count", []string{"scale", "x"}, nil, "", "invalid count"},
		{"bad output", []string{"ls", "-o", "yaml"}, nil, "", "invalid output"},
		{"bad wait", []string{"up", "--wait", "forever"}, nil, "", "invalid --wait"},
		{"unparsable config", []string{"ls"}, nil, "provider: [fake\n", "config file"},
		{"unknown config key", []string{"ls"}, nil, "provder: fake\n", "provder"},
		{"bad pip", []string{"up", "--pip", "pandas; rm -rf /"}, nil, "", "invalid pip"},
		{"missing cluster file", []string{"up", "-f", "/nonexistent.yaml"}, nil, "", "cluster file"},
		{"gpu memory without gpu", []string{"up", "--gpu", "none", "--gpu-memory", "40GiB+"}, nil, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			for k, v := range tt.vars {
				e.vars[k] = v
			}
			if tt.file != "" {
				p := filepath.Join(e.vars["XDG_CONFIG_HOME"], "burst", "config.yaml")
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(tt.file), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			r := e.run(false, "", tt.args...)
			if tt.want == "" { // accepted input: just no panic and no usage error
				if r.code == ExitUsage {
					t.Fatalf("valid input refused: %s", r.errOut)
				}
				return
			}
			if r.code != ExitUsage {
				t.Fatalf("exit %d, want 2; stderr %q", r.code, r.errOut)
			}
			first := strings.SplitN(strings.TrimSpace(r.errOut), "\n", 2)[0]
			if !strings.HasPrefix(first, "burst: ") || !strings.Contains(first, tt.want) {
				t.Fatalf("first stderr line %q, want burst: ...%s...", first, tt.want)
			}
			for _, m := range []string{"Launch", "Prepare", "Terminate"} {
				if n := e.fake.CallCount(m); n != 0 {
					t.Fatalf("bad input made %d %s calls", n, m)
				}
			}
			if r.out != "" {
				t.Fatalf("bad input printed data: %q", r.out)
			}
		})
	}
}

func TestInfeasibleExit3(t *testing.T) {
	e := newEnv(t)
	r := e.run(false, "", "up", "-n", "1", "--cpu", "64")
	if r.code != ExitInfeasible || !strings.Contains(r.errOut, "no offering fits the worker") || !strings.Contains(r.errOut, "nearest") {
		t.Fatalf("exit %d: %s", r.code, r.errOut)
	}
	r = e.run(false, "", "up", "-n", "1", "--gpu", "H100")
	if r.code != ExitInfeasible || !strings.Contains(r.errOut, "T4") {
		t.Fatalf("unknown GPU model: exit %d: %s", r.code, r.errOut)
	}
	if e.fake.CallCount("Launch") != 0 {
		t.Fatal("infeasible plan launched")
	}
}

func TestNoCapacityAndPartialExitCodes(t *testing.T) {
	e := newEnv(t)
	e.fake.Fail("Launch", &provider.Error{Kind: provider.ErrAuth, Code: "AuthFailure", Msg: "bad keys"})
	r := e.run(false, "", "up", "-n", "1")
	if r.code != ExitAuth || !strings.Contains(r.errOut, "not authorized") {
		t.Fatalf("auth: exit %d %s", r.code, r.errOut)
	}
	e.fake.Fail("Preflight", &provider.Error{Kind: provider.ErrQuota, Code: "VcpuLimitExceeded", Msg: "need 8 vCPUs, have 4"})
	r = e.run(false, "", "up", "-n", "1")
	if r.code != ExitInfeasible || !strings.Contains(r.errOut, "VcpuLimitExceeded") {
		t.Fatalf("quota: exit %d %s", r.code, r.errOut)
	}
}

func TestNoProviderNotice(t *testing.T) {
	e := newEnv(t)
	delete(e.vars, "BURST_PROVIDER")
	r := e.run(false, "", "ls")
	if r.code != 0 || !strings.Contains(r.errOut, "no provider configured; using local") {
		t.Fatalf("exit %d, stderr %q", r.code, r.errOut)
	}
	if strings.Count(r.errOut, "no provider configured") != 1 {
		t.Fatalf("notice printed more than once: %q", r.errOut)
	}
}

func TestHelpAndVersion(t *testing.T) {
	e := newEnv(t)
	r := e.run(false, "", "help", "exit-codes")
	for _, want := range []string{"0 ", "2 ", "3 ", "4 ", "5 ", "130"} {
		if !strings.Contains(r.out, want) {
			t.Errorf("exit-codes help lacks %q", want)
		}
	}
	r = e.run(false, "", "version", "-o", "json")
	var v map[string]string
	if err := json.Unmarshal([]byte(r.out), &v); err != nil || v["version"] != "v0.0.0-test" {
		t.Fatalf("version JSON %q: %v", r.out, err)
	}
	r = e.run(false, "", "completion", "bash")
	if r.code != 0 || !strings.Contains(r.out, "bash completion") {
		t.Fatalf("completion: exit %d", r.code)
	}
	// --help touches nothing.
	r = e.run(false, "", "up", "--help")
	if r.code != 0 || !strings.Contains(r.out, "--idle-timeout") || e.fake.CallCount("Catalog") != 0 {
		t.Fatalf("help: exit %d", r.code)
	}
}

// Parsing argv into options, without running (gh's two-tests-per-command).
func TestParseUp(t *testing.T) {
	e := newEnv(t)
	ios, _, _, _ := iostreams.Test()
	f := NewFactory(ios, e.registry(), BuildInfo{})
	var got *UpOptions
	cmd := NewCmdUp(f, func(_ context.Context, o *UpOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"etl", "-n", "10", "--cpu", "8+", "--memory", "32GiB+", "--spot", "--gpu=any", "--region", "us-east-1,us-west-2", "--pip", "pandas", "--pip", "s3fs", "-y", "--wait", "machines"})
	cmd.SetOut(&bytes.Buffer{})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got.Name != "etl" || !got.Yes || got.Wait != "machines" {
		t.Fatalf("options %+v", got)
	}
	in, err := got.Spec.input()
	if err != nil {
		t.Fatal(err)
	}
	if *in.Workers.Count != 10 || in.Workers.CPU != "8+" || in.Workers.Memory != "32GiB+" || in.Workers.Spot != "spot-with-fallback" || in.Workers.GPU != "any" {
		t.Fatalf("input %+v", in.Workers)
	}
	if len(in.Regions) != 2 || len(in.Workload.Pip) != 2 || in.Head.CPU != "" {
		t.Fatalf("input %+v", in)
	}
}

func TestParseScale(t *testing.T) {
	e := newEnv(t)
	ios, _, _, _ := iostreams.Test()
	f := NewFactory(ios, e.registry(), BuildInfo{})
	for _, tt := range []struct {
		args  []string
		name  string
		count int
	}{{[]string{"20"}, "", 20}, {[]string{"etl", "0"}, "etl", 0}} {
		var got *ScaleOptions
		cmd := NewCmdScale(f, func(_ context.Context, o *ScaleOptions) error { got = o; return nil })
		cmd.SetArgs(tt.args)
		if err := cmd.Execute(); err != nil {
			t.Fatal(err)
		}
		if got.Name != tt.name || got.Count != tt.count {
			t.Fatalf("%v -> %+v", tt.args, got)
		}
	}
}

func TestGPUArgs(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"up --gpu", "up --gpu=any"},
		{"up --gpu -n 2", "up --gpu=any -n 2"},
		{"up --gpu A100:8 -n 2", "up --gpu=A100:8 -n 2"},
		{"up --gpu h100", "up --gpu=h100"},
		{"up etl --gpu", "up etl --gpu=any"},
		{"up --gpu etl", "up --gpu=any etl"},
		{"up --gpu=L4 etl", "up --gpu=L4 etl"},
		{"up --gpu foo:2", "up --gpu=foo:2"},
		{"up -- --gpu", "up -- --gpu"},
	} {
		if got := strings.Join(normalizeGPUArgs(strings.Fields(tt.in)), " "); got != tt.want {
			t.Errorf("%q -> %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestScaleUnknownCluster(t *testing.T) {
	e := newEnv(t)
	r := e.run(false, "", "scale", "ghost", "3")
	if r.code != ExitError || !strings.Contains(r.errOut, "burst up ghost") || e.fake.CallCount("Launch") != 0 {
		t.Fatalf("exit %d: %s", r.code, r.errOut)
	}
}

func TestClusterFileAndFlagsPrecedence(t *testing.T) {
	e := newEnv(t)
	p := filepath.Join(e.home, "cluster.yaml")
	err := os.WriteFile(p, []byte(`apiVersion: burst.dev/v1alpha1
kind: Cluster
metadata:
  name: fromfile
spec:
  idleTimeout: 30m
  workers:
    count: 2
    cpu: "8+"
`), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	r := e.run(false, "", "up", "-f", p, "-n", "1", "-o", "json", "--wait", "none")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.errOut)
	}
	ws := e.fake.Live("fromfile", "worker")
	if len(ws) != 1 || (ws[0].InstanceType != "f1.large" && ws[0].InstanceType != "a1.large") {
		t.Fatalf("workers %v: want 1 (flag beats file) of an 8-vCPU type (file's cpu)", ws)
	}
}

func TestGC(t *testing.T) {
	e := newEnv(t)
	if r := e.run(false, "", "up", "keep", "-n", "1"); r.code != 0 {
		t.Fatal(r.errOut)
	}
	if r := e.run(false, "", "up", "lost", "-n", "2"); r.code != 0 {
		t.Fatal(r.errOut)
	}
	if err := e.fake.Terminate(context.Background(), e.fake.Live("lost", "head")); err != nil {
		t.Fatal(err)
	}
	r := e.run(false, "", "gc")
	if r.code != 0 || !strings.Contains(r.out, "Nothing left behind") {
		t.Fatalf("young clusters collected: exit %d\n%s", r.code, r.out)
	}
	e.now = e.now.Add(time.Hour)
	r = e.run(false, "", "gc", "-o", "json")
	var doc GCJSON
	if err := json.Unmarshal([]byte(r.out), &doc); err != nil || r.code != 0 {
		t.Fatalf("gc json: exit %d %v\n%s", r.code, err, r.out)
	}
	if len(doc.Orphans) != 3 || doc.Deleted || doc.PricePerHour <= 0 {
		t.Fatalf("gc found %+v", doc)
	}
	for _, o := range doc.Orphans {
		if o.Cluster != "lost" || (o.Kind == "machine") != (o.Reason == "cluster has no head") {
			t.Fatalf("orphan %+v", o)
		}
	}
	if len(e.fake.Live("lost", "")) != 2 {
		t.Fatal("gc without --yes deleted something")
	}
	r = e.run(false, "", "gc", "--yes")
	if r.code != 0 || !strings.Contains(r.errOut, "Deleted 3 orphans") || len(e.fake.Live("lost", "")) != 0 || len(e.fake.Live("keep", "")) != 2 {
		t.Fatalf("gc --yes: exit %d, lost %d, keep %d\n%s", r.code, len(e.fake.Live("lost", "")), len(e.fake.Live("keep", "")), r.errOut)
	}
	if r := e.run(false, "", "gc", "--region", "a", "--all-regions"); r.code != ExitUsage {
		t.Fatalf("conflicting flags: exit %d", r.code)
	}
}

// failWriter fails every write, as a full disk or a closed stdout does.
type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("no space left on device") }

// TestOutputWriteErrorFails: output that cannot be written fails the
// command, in text as in JSON, on a terminal (tables) or not.
func TestOutputWriteErrorFails(t *testing.T) {
	e := newEnv(t)
	for _, tty := range []bool{false, true} {
		for _, args := range [][]string{
			{"version"}, {"version", "-o", "json"}, {"plan", "-n", "3", "--provider", "fake"},
			{"types", "--cpu", "16", "--provider", "aws"}, {"catalog", "info", "--provider", "aws"},
		} {
			ios, _, _, errOut := iostreams.Test()
			ios.SetTTY(tty)
			ios.Out = failWriter{}
			f := NewFactory(ios, e.registry(), BuildInfo{Version: "v0.0.0-test", Commit: "abc", Date: "today"})
			f.Getenv = func(k string) string { return e.vars[k] }
			f.Now = func() time.Time { return e.now }
			if code := Run(context.Background(), f, args); code == ExitOK || !strings.Contains(errOut.String(), "no space left on device") {
				t.Errorf("burst %v (tty %v) into a failing stdout: exit %d, stderr %q", args, tty, code, errOut.String())
			}
		}
	}
}
