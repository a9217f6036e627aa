package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/burstdev/burst/internal/catalog"
	"github.com/burstdev/burst/internal/iostreams"
	"github.com/burstdev/burst/internal/plan"
	"github.com/burstdev/burst/internal/provider"
	"github.com/burstdev/burst/internal/provider/fake"
)

var update = flag.Bool("update", false, "rewrite golden files")

// testNow is the clock of CLI tests: some months after the snapshot.
var testNow = time.Date(2025, 11, 1, 12, 0, 0, 0, time.UTC)

type testEnv struct {
	f        *Factory
	out, err *bytes.Buffer
	fake     *fake.Provider
	dir      string
}

// newTestEnv returns a factory with fake streams, private XDG directories
// and a registry of the fake provider (and no cloud provider: plans for
// clouds must work without them).
func newTestEnv(t *testing.T, tty bool, fakeOpts ...fake.Option) *testEnv {
	t.Helper()
	ios, _, out, errOut := iostreams.Test()
	ios.SetTTY(tty)
	dir := t.TempDir()
	fp := fake.New(append([]fake.Option{fake.WithNow(func() time.Time { return testNow })}, fakeOpts...)...)
	reg := provider.NewRegistry(provider.Entry{Name: fake.Name, Description: "test", New: func(ctx context.Context, env provider.Env) (provider.Provider, error) { return fp, nil }})
	env := map[string]string{
		"HOME": dir, "XDG_CONFIG_HOME": filepath.Join(dir, "config"), "XDG_CACHE_HOME": filepath.Join(dir, "cache"),
		"XDG_STATE_HOME": filepath.Join(dir, "state"), "XDG_DATA_HOME": filepath.Join(dir, "data"), "USER": "tester",
	}
	f := NewFactory(ios, reg, BuildInfo{Version: "test"})
	f.Getenv = func(k string) string { return env[k] }
	f.Now = func() time.Time { return testNow }
	return &testEnv{f: f, out: out, err: errOut, fake: fp, dir: dir}
}

func (e *testEnv) run(args ...string) int {
	e.out.Reset()
	e.err.Reset()
	return Run(context.Background(), e.f, args)
}

func goldenFile(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test ./internal/cli -update)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (go test ./internal/cli -update to accept):\n--- got\n%s--- want\n%s", path, got, want)
	}
}

// plan takes up's flags and fills the same options.
func TestPlanParsesFlags(t *testing.T) {
	e := newTestEnv(t, false)
	var got *PlanOptions
	cmd := NewCmdPlan(e.f, func(ctx context.Context, o *PlanOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"train", "-n", "100", "--gpu=A100:8", "--spot-policy", "spot-with-fallback", "--region", "us-east-1,us-central1", "--max-price", "40", "--instance-type", "p4d.24xlarge"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	in, err := got.Spec.input()
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "train" || *in.Workers.Count != 100 || in.Workers.GPU != "A100:8" || in.Workers.Spot != "spot-with-fallback" ||
		!reflect.DeepEqual(in.Regions, []string{"us-east-1", "us-central1"}) || in.Workers.MaxPrice != "40" || in.Workers.InstanceTypes[0] != "p4d.24xlarge" {
		t.Errorf("options: %+v / %+v", got, in)
	}
	// Every spec flag of up is a flag of plan.
	up := NewCmdUp(e.f, nil)
	up.Flags().VisitAll(func(fl *pflag.Flag) {
		if slices.Contains([]string{"yes", "wait", "timeout"}, fl.Name) {
			return
		}
		if cmd.Flags().Lookup(fl.Name) == nil {
			t.Errorf("plan lacks up's flag --%s", fl.Name)
		}
	})
}

func TestPlanJSON(t *testing.T) {
	e := newTestEnv(t, false)
	if code := e.run("plan", "-n", "100", "--gpu", "A100:8", "--spot-policy", "spot-with-fallback", "--provider", "aws,gcp", "-o", "json"); code != 0 {
		t.Fatalf("exit %d: %s", code, e.err)
	}
	var doc struct {
		Groups []struct {
			Role      string           `json:"role"`
			Count     int              `json:"count"`
			Capacity  string           `json:"capacity"`
			Offerings []map[string]any `json:"offerings"`
		} `json:"groups"`
		PricePerHour float64 `json:"price_per_hour"`
		CatalogDate  string  `json:"catalog_date"`
	}
	if err := json.Unmarshal(e.out.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Groups) != 3 || doc.Groups[0].Role != "head" || doc.Groups[1].Role != "worker" || doc.Groups[1].Capacity != "spot" ||
		doc.Groups[2].Capacity != "on-demand" || doc.Groups[1].Count != 100 || doc.PricePerHour <= 0 || !strings.HasPrefix(doc.CatalogDate, "2025-05-28") {
		t.Fatalf("document: %s", e.out)
	}
	for _, g := range doc.Groups {
		prev := 0.0
		for _, o := range g.Offerings {
			for _, k := range []string{"provider", "region", "zone", "instance_type", "vcpus", "memory_gib", "gpus", "gpu_model", "arch", "price_per_hour"} {
				if _, ok := o[k]; !ok {
					t.Fatalf("offering lacks %q: %v", k, o)
				}
			}
			if p := o["price_per_hour"].(float64); p < prev {
				t.Fatalf("offerings not cheapest first")
			} else {
				prev = p
			}
			if g.Role == "worker" && (o["gpu_model"] != "A100" || o["gpus"].(float64) != 8) {
				t.Fatalf("worker offering without 8 A100s: %v", o)
			}
		}
	}
	if e.err.Len() != 0 {
		t.Errorf("stderr: %s", e.err)
	}
}

// On a terminal, plan prints a table with prices, the catalog's age and
// the runner-ups; in a pipe, tab-separated rows.
func TestPlanText(t *testing.T) {
	for _, tty := range []bool{true, false} {
		e := newTestEnv(t, tty)
		if code := e.run("plan", "etl", "-n", "500", "--cpu", "8+", "--memory", "32GiB+", "--spot", "--provider", "aws", "--region", "us-east-1,us-east-2"); code != 0 {
			t.Fatalf("exit %d: %s", code, e.err)
		}
		name := "plan-pipe.txt"
		if tty {
			name = "plan-tty.txt"
		}
		goldenFile(t, name, e.out.String())
	}
}

// plan writes nothing and launches nothing: not the spec, not the
// unavailable set, no provider call.
func TestPlanHasNoSideEffects(t *testing.T) {
	e := newTestEnv(t, false)
	if code := e.run("plan", "-n", "3", "--provider", "fake"); code != 0 {
		t.Fatalf("exit %d: %s", code, e.err)
	}
	for _, sub := range []string{"state", "cache", "data"} {
		if _, err := os.Stat(filepath.Join(e.dir, sub)); err == nil {
			t.Errorf("plan created %s", sub)
		}
	}
	for _, c := range e.fake.Calls() {
		if c.Method != "Catalog" {
			t.Errorf("plan called %s", c.Method)
		}
	}
	// A cloud plan does not even build the provider.
	if code := e.run("plan", "-n", "3", "--provider", "gcp"); code != 0 {
		t.Fatalf("gcp plan: exit %d: %s", code, e.err)
	}
}

// burst up runs the plan burst plan prints.
func TestUpRunsThePlan(t *testing.T) {
	e := newTestEnv(t, false)
	if code := e.run("plan", "-n", "2", "--cpu", "8", "--provider", "fake", "-o", "json"); code != 0 {
		t.Fatalf("plan: exit %d: %s", code, e.err)
	}
	var pl plan.Plan
	if err := json.Unmarshal(e.out.Bytes(), &pl); err != nil {
		t.Fatal(err)
	}
	if code := e.run("up", "-n", "2", "--cpu", "8", "--provider", "fake", "--yes", "--wait", "none", "-o", "json"); code != 0 {
		t.Fatalf("up: exit %d: %s", code, e.err)
	}
	ms, err := e.fake.Machines(context.Background(), provider.Filter{Cluster: "burst"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]plan.Offering{}
	for _, g := range pl.Groups {
		want[string(g.Role)] = g.Offerings[0]
	}
	for _, m := range ms {
		o := want[string(m.Role)]
		if m.InstanceType != o.InstanceType || m.Region != o.Region || m.Capacity != o.Capacity {
			t.Errorf("%s launched as %s/%s/%s, planned %s/%s/%s", m.Role, m.InstanceType, m.Region, m.Capacity, o.InstanceType, o.Region, o.Capacity)
		}
	}
	if len(ms) != 3 {
		t.Errorf("%d machines", len(ms))
	}
}

func TestPlanExitCodes(t *testing.T) {
	for _, tt := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"plan", "-n", "3", "--gpu", "A100:3", "--provider", "aws,gcp"}, 3, "no machine has 3 A100s; nearest: A100 machines come with 1, 2, 4, 8 or 16"},
		{[]string{"plan", "-n", "3", "--gpu", "B200", "--provider", "aws"}, 3, "known GPU models:"},
		{[]string{"plan", "-n", "3", "--cpu", "5000+", "--provider", "gcp"}, 2, "invalid cpu"},
		{[]string{"plan", "-n", "3", "--cpu", "2000+", "--provider", "gcp"}, 3, "no machine has 2000 or more vCPUs; nearest: the largest:"},
		{[]string{"plan", "-n", "3", "--cpu", "0"}, 2, "invalid cpu"},
		{[]string{"plan", "-n", "3", "--cpu", "many"}, 2, "invalid cpu"},
		{[]string{"plan", "-n", "3", "--memory", "32XB"}, 2, "unknown unit"},
		{[]string{"plan", "-n", "3", "--memory", "0"}, 2, "greater than zero"},
		{[]string{"plan", "-n", "3", "--gpu", "A100:0"}, 2, "invalid gpu count"},
		{[]string{"plan", "-n", "3", "--gpu=A100:x"}, 2, "invalid gpu count"},
		{[]string{"plan", "-n", "3", "--gpu-memory", "lots"}, 2, "gpu memory: invalid size"},
		{[]string{"plan", "-n", "3", "--arch", "sparc"}, 2, "invalid arch"},
		{[]string{"plan", "-n", "3", "--disk", "1PB"}, 2, "disk"},
		{[]string{"plan", "-n", "3", "--spot-policy", "cheap"}, 2, "invalid spot policy"},
		{[]string{"plan", "-n", "3", "--spot-policy", ""}, 2, "needs a value"},
		{[]string{"plan", "-n", "3", "--max-price", "-1"}, 2, "invalid price"},
		{[]string{"plan", "-n", "3", "--max-price", "0"}, 2, "greater than zero"},
		{[]string{"plan", "-n", "-1"}, 2, "count -1 is out of range"},
		{[]string{"plan", "-n", "lots"}, 2, "invalid count"},
		{[]string{"plan", "-n", "3", "--region", "us east", "--provider", "aws"}, 2, "invalid region"},
		{[]string{"plan", "-n", "3", "--zone", "a/b", "--provider", "aws"}, 2, "invalid zone"},
		{[]string{"plan", "-n", "3", "--instance-type", "a b", "--provider", "aws"}, 2, "invalid instance type"},
		{[]string{"plan", "-n", "3", "--provider", "nimbus"}, 2, "unknown provider"},
		{[]string{"plan", "Bad_Name"}, 2, "invalid cluster name"},
		{[]string{"plan", "-f", "/nonexistent.yaml"}, 2, "cluster file"},
		{[]string{"plan", "--nope"}, 2, "unknown flag"},
		{[]string{"plan", "-n", "3", "--provider", "aws", "--max-price", "0.001"}, 3, "every fitting offering costs more than"},
	} {
		t.Run(strings.Join(tt.args[1:], " "), func(t *testing.T) {
			e := newTestEnv(t, false)
			code := e.run(tt.args...)
			if code != tt.code {
				t.Errorf("exit %d, want %d; stderr %s", code, tt.code, e.err)
			}
			first, _, _ := strings.Cut(e.err.String(), "\n")
			if !strings.Contains(first, tt.want) {
				t.Errorf("stderr %q does not contain %q", e.err, tt.want)
			}
			if e.out.Len() != 0 {
				t.Errorf("stdout on failure: %s", e.out)
			}
		})
	}
}

func TestPlanExamples(t *testing.T) {
	files, _ := filepath.Glob("../../examples/*.yaml")
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			e := newTestEnv(t, false)
			if code := e.run("plan", "-f", f, "-o", "json"); code != 0 {
				t.Fatalf("exit %d: %s", code, e.err)
			}
		})
	}
}

func TestTypes(t *testing.T) {
	e := newTestEnv(t, false)
	if code := e.run("types", "--gpu", "H100", "-o", "json"); code != 0 {
		t.Fatalf("exit %d: %s", code, e.err)
	}
	var doc TypesJSON
	if err := json.Unmarshal(e.out.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	providers := map[string]bool{}
	prev := 0.0
	for _, ty := range doc.Types {
		providers[ty.Provider] = true
		if ty.GPUModel != "H100" || ty.OnDemand == nil || ty.OnDemand.PricePerHour < prev {
			t.Errorf("row %+v", ty)
		}
		prev = ty.OnDemand.PricePerHour
	}
	if len(providers) != 3 {
		t.Errorf("H100 types from %v, want all three clouds", providers)
	}

	e = newTestEnv(t, true)
	if code := e.run("types", "--cpu", "16", "--memory", "64GiB", "--arch", "arm64", "--provider", "aws,gcp", "--region", "us-east-1,us-central1"); code != 0 {
		t.Fatalf("exit %d: %s", code, e.err)
	}
	goldenFile(t, "types-tty.txt", e.out.String())

	e = newTestEnv(t, false)
	if code := e.run("types", "--instance-type", "t3.micro,e2-micro", "-o", "json"); code != 0 {
		t.Fatalf("named burstable: exit %d: %s", code, e.err)
	}
	if err := json.Unmarshal(e.out.Bytes(), &doc); err != nil || len(doc.Types) != 2 {
		t.Errorf("named burstable types: %s", e.out)
	}
	if code := e.run("types", "--gpu", "A100:0"); code != 2 {
		t.Errorf("bad --gpu: exit %d", code)
	}
	if code := e.run("types", "--gpu", "B200"); code != 1 || !strings.Contains(e.err.String(), "no machine type matches") {
		t.Errorf("no match: exit %d %s", code, e.err)
	}
}

func TestCatalogRefreshAndInfo(t *testing.T) {
	e := newTestEnv(t, false)
	if code := e.run("catalog", "refresh", "--provider", "fake", "-o", "json"); code != 0 {
		t.Fatalf("exit %d: %s", code, e.err)
	}
	var doc struct{ Providers []CatalogInfoJSON }
	if err := json.Unmarshal(e.out.Bytes(), &doc); err != nil || len(doc.Providers) != 1 || doc.Providers[0].Types != 5 || !doc.Providers[0].Cached {
		t.Fatalf("refresh: %v %s", err, e.out)
	}
	path := catalog.CachePath(filepath.Join(e.dir, "cache", "burst"), "fake")
	if doc.Providers[0].Path != path {
		t.Errorf("cache path %q, want %q", doc.Providers[0].Path, path)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
	calls := e.fake.CallCount("Catalog")
	// Plans now read the cache, not the provider.
	if code := e.run("plan", "-n", "2", "--provider", "fake"); code != 0 {
		t.Fatalf("plan: exit %d: %s", code, e.err)
	}
	if n := e.fake.CallCount("Catalog"); n != calls {
		t.Errorf("plan called Catalog %d times after a refresh", n-calls)
	}
	if code := e.run("catalog", "info", "--provider", "fake,aws", "-o", "json"); code != 0 {
		t.Fatalf("info: exit %d: %s", code, e.err)
	}
	if err := json.Unmarshal(e.out.Bytes(), &doc); err != nil || len(doc.Providers) != 2 || !doc.Providers[0].Cached || doc.Providers[1].Cached ||
		!strings.HasPrefix(doc.Providers[1].Source, "embedded") || doc.Providers[1].Types < 300 {
		t.Errorf("info: %v %s", err, e.out)
	}
	// A failing refresh leaves the cache as it was.
	e.fake.Fail("Catalog", provider.Errorf(provider.ErrThrottled, provider.Scope(0), "slow down"))
	if code := e.run("catalog", "refresh", "--provider", "fake"); code == 0 {
		t.Error("failed refresh exited 0")
	}
	if _, err := os.Stat(path); err != nil {
		t.Error("failed refresh removed the cache")
	}
	// Nothing to refresh for local, and unknown providers are usage errors.
	if code := e.run("catalog", "refresh", "--provider", "local"); code != 2 {
		t.Errorf("refresh local: exit %d", code)
	}
	if code := e.run("catalog", "refresh", "--provider", "aws"); code != 2 || !strings.Contains(e.err.String(), "unknown provider") {
		t.Errorf("refresh of an unregistered cloud: exit %d %s", code, e.err)
	}
}

// A stale cache is reported and the snapshot used.
func TestCatalogStaleCache(t *testing.T) {
	e := newTestEnv(t, false)
	old := &catalog.Catalog{Date: testNow.Add(-40 * 24 * time.Hour), Source: "live", Zones: map[string][]string{"us-east-1": {"us-east-1a"}},
		Types: []catalog.Type{{Provider: "aws", Name: "x1.tiny", VCPUs: 64, MemoryGiB: 64, Arch: "x86_64",
			Offerings: []catalog.Offering{{Region: "us-east-1", Capacity: catalog.OnDemand, Price: 0.001}}}}}
	if err := catalog.SaveCache(filepath.Join(e.dir, "cache", "burst"), "aws", old); err != nil {
		t.Fatal(err)
	}
	if code := e.run("plan", "-n", "1", "--provider", "aws", "-o", "json"); code != 0 {
		t.Fatalf("exit %d: %s", code, e.err)
	}
	if !strings.Contains(e.err.String(), "40 days old; using the embedded snapshot") || strings.Contains(e.out.String(), "x1.tiny") {
		t.Errorf("stale cache: stderr %q", e.err)
	}
	// Fresh, it wins.
	old.Date = testNow.Add(-24 * time.Hour)
	if err := catalog.SaveCache(filepath.Join(e.dir, "cache", "burst"), "aws", old); err != nil {
		t.Fatal(err)
	}
	if code := e.run("plan", "-n", "1", "--cpu", "64", "--provider", "aws", "-o", "json"); code != 0 || !strings.Contains(e.out.String(), "x1.tiny") {
		t.Errorf("fresh cache not used: exit %d %s %s", code, e.out, e.err)
	}
}

// When spot runs dry in the plan's site, up falls back to on demand in
// that site: it never moves workers away from their head.
func TestUpStaysInTheSite(t *testing.T) {
	e := newTestEnv(t, false)
	for _, ty := range fake.DefaultCatalog().Types {
		for _, o := range ty.Offerings {
			if o.Region == "fake-1" && o.Capacity == catalog.Spot {
				e.fake.SetCapacity(plan.Key{Provider: fake.Name, InstanceType: ty.Name, Region: o.Region, Zone: o.Zone, Capacity: o.Capacity}, 0)
			}
		}
	}
	if code := e.run("up", "-n", "3", "--spot", "--provider", "fake", "--yes", "--wait", "none", "-o", "json"); code != 0 {
		t.Fatalf("up: exit %d: %s %s", code, e.out, e.err)
	}
	ms, err := e.fake.Machines(context.Background(), provider.Filter{Cluster: "burst"})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.Region != "fake-1" || m.Capacity != catalog.OnDemand {
			t.Errorf("%s %s in %s as %s, want on demand in fake-1 with the head", m.Role, m.ID, m.Region, m.Capacity)
		}
	}
}
