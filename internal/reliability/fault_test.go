package reliability

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/burstdev/burst/internal/cloudsim"
	"github.com/burstdev/burst/internal/provider"
	"github.com/burstdev/burst/internal/testenv"
)

// cloudClouds are the providers with a simulator to inject faults into.
func cloudClouds() []string {
	var out []string
	for _, c := range testenv.Clouds() {
		if c != "local" {
			out = append(out, c)
		}
	}
	return out
}

// workerLaunch is the API call each cloud's provider launches workers
// with, and how many such calls the head's launch makes first.
var workerLaunch = map[string]struct {
	action    string
	headCalls int
}{
	"aws":   {"CreateFleet", 1},
	"gcp":   {"compute.regionInstances.bulkInsert", 1},
	"azure": {"Microsoft.Compute/virtualMachineScaleSets/write", 0},
}

type faultEnv struct {
	t *testing.T
	s *testenv.Sandbox
	c *testenv.Cloud
}

func newFault(t *testing.T, cloud string) *faultEnv {
	s := testenv.NewSandbox(t)
	c := testenv.StartCloud(t, s, cloud, testenv.CloudOptions{Latency: time.Millisecond})
	return &faultEnv{t: t, s: s, c: c}
}

func (f *faultEnv) run(args ...string) testenv.Result {
	f.t.Helper()
	return f.s.Run(args...)
}

// mustDownClean takes the cluster down and checks nothing is left.
func (f *faultEnv) mustDownClean(cluster string) {
	f.t.Helper()
	f.c.Model.ClearFaults()
	f.c.Model.SetLatency(0)
	if r := f.run("down", cluster, "--yes"); r.Code != 0 {
		f.t.Fatalf("down: exit %d\n%s", r.Code, r.Stderr)
	}
	if leaks := f.c.Leaks(); len(leaks) > 0 {
		f.t.Fatalf("down left %v", first(leaks, 5))
	}
}

func (f *faultEnv) expectCount(cluster string, heads, workers int) {
	f.t.Helper()
	h, w := f.c.Count(cluster)
	if h != heads || w != workers {
		f.t.Fatalf("cluster %s has %d heads and %d workers, want %d and %d", cluster, h, w, heads, workers)
	}
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndex(s, "\n"); i >= 0 {
		return s[i+1:]
	}
	return s
}

// TestFaults injects each fault into every cloud's simulator and asserts
// burst's outcome: exit code, what exists, and that down cleans up.
func TestFaults(t *testing.T) {
	for _, cloud := range cloudClouds() {
		t.Run(cloud, func(t *testing.T) {
			t.Run("ThrottlingStorm", func(t *testing.T) { throttlingStorm(t, cloud) })
			t.Run("ServerErrorBurst", func(t *testing.T) { serverErrors(t, cloud) })
			t.Run("PreferredTypeOutOfStock", func(t *testing.T) { stockOut(t, cloud) })
			t.Run("QuotaExceededMidLaunch", func(t *testing.T) { quotaMidLaunch(t, cloud) })
			t.Run("SpotInterruption", func(t *testing.T) { spotInterruption(t, cloud) })
			t.Run("SlowAPI", func(t *testing.T) { slowAPI(t, cloud) })
		})
	}
}

// A storm of throttled answers on every call: burst backs off and retries,
// ends with exactly the asked machines, and never duplicates one.
func throttlingStorm(t *testing.T, cloud string) {
	f := newFault(t, cloud)
	f.c.Model.Inject(cloudsim.Fault{Kind: cloudsim.KindThrottle, Times: 8})
	r := f.run("up", "storm", "-n", "20", "--yes", "--wait", "machines", "--workload", "none")
	if r.Code != 0 {
		t.Fatalf("up through a throttling storm: exit %d\n%s", r.Code, r.Stderr)
	}
	f.expectCount("storm", 1, 20)
	f.mustDownClean("storm")
}

// A burst of 5xx answers: retried, and the result is exact.
func serverErrors(t *testing.T, cloud string) {
	f := newFault(t, cloud)
	f.c.Model.Inject(cloudsim.Fault{Kind: cloudsim.KindInternal, Times: 5})
	r := f.run("up", "flaky", "-n", "20", "--yes", "--wait", "machines", "--workload", "none")
	if r.Code != 0 {
		t.Fatalf("up through 5xx answers: exit %d\n%s", r.Code, r.Stderr)
	}
	f.expectCount("flaky", 1, 20)
	f.mustDownClean("flaky")
}

type planJSON struct {
	Groups []struct {
		Role      string `json:"role"`
		Offerings []struct {
			InstanceType string `json:"instance_type"`
			Region       string `json:"region"`
			Capacity     string `json:"capacity"`
		} `json:"offerings"`
	} `json:"groups"`
}

func (f *faultEnv) plan(args ...string) planJSON {
	f.t.Helper()
	r := f.run(append([]string{"plan", "-o", "json"}, args...)...)
	if r.Code != 0 {
		f.t.Fatalf("plan: exit %d\n%s", r.Code, r.Stderr)
	}
	var p planJSON
	if err := json.Unmarshal([]byte(r.Stdout), &p); err != nil {
		f.t.Fatalf("plan JSON: %v\n%s", err, r.Stdout)
	}
	return p
}

// The planner's first choice is out of stock in every zone: burst launches
// the next offering instead (failing over between calls, or within one
// call where the cloud takes several types, as an Azure instance mix does).
func stockOut(t *testing.T, cloud string) {
	f := newFault(t, cloud)
	args := []string{"-n", "20", "--cpu", "4+", "--workload", "none"}
	p := f.plan(args...)
	var preferred, region, capacity string
	for _, g := range p.Groups {
		if g.Role == "worker" {
			preferred, region, capacity = g.Offerings[0].InstanceType, g.Offerings[0].Region, g.Offerings[0].Capacity
		}
	}
	for _, z := range f.c.Model.Zones(region) {
		f.c.Model.SetCapacity(cloudsim.PoolKey{Type: preferred, Zone: z, Capacity: capacity}, 0)
	}
	r := f.run(append([]string{"up", "stock", "--yes", "--wait", "machines"}, args...)...)
	if r.Code != 0 {
		t.Fatalf("up with %s out of stock: exit %d\n%s", preferred, r.Code, r.Stderr)
	}
	f.expectCount("stock", 1, 20)
	for _, in := range f.c.Model.Instances(func(in *cloudsim.Instance) bool { return in.Tags[provider.TagCluster] == "stock" }) {
		if in.Type == preferred && in.Tags[provider.TagRole] == "worker" {
			t.Fatalf("a worker of the out-of-stock type %s exists", preferred)
		}
	}
	f.mustDownClean("stock")
}

// The quota runs out between the preflight and the worker launch (another
// tool took it): burst stops with exit 3 naming the quota, says what
// exists, and down removes it.
func quotaMidLaunch(t *testing.T, cloud string) {
	f := newFault(t, cloud)
	wl := workerLaunch[cloud]
	f.c.Model.Inject(cloudsim.Fault{Kind: cloudsim.KindQuota, Action: wl.action, After: wl.headCalls})
	r := f.run("up", "quota", "-n", "20", "--yes", "--wait", "machines", "--workload", "none")
	if r.Code != 3 {
		t.Fatalf("up over quota: exit %d, want 3\n%s", r.Code, r.Stderr)
	}
	if last := firstLine(r.Stderr); !strings.Contains(strings.ToLower(last), "quota") {
		t.Fatalf("the error does not name the quota: %q", last)
	}
	if !strings.Contains(r.Stdout, "is incomplete on "+cloud+": 1 head + 0 workers") {
		t.Fatalf("up did not say what exists:\n%s", r.Stdout)
	}
	f.mustDownClean("quota")
}

// Spot workers are reclaimed: status shows fewer, up replaces them.
func spotInterruption(t *testing.T, cloud string) {
	f := newFault(t, cloud)
	if r := f.run("up", "spot", "-n", "6", "--spot-policy", "spot", "--yes", "--wait", "machines", "--workload", "none"); r.Code != 0 {
		t.Fatalf("up: exit %d\n%s", r.Code, r.Stderr)
	}
	var reclaimed []string
	for _, in := range f.c.Model.Instances(func(in *cloudsim.Instance) bool {
		return in.Tags[provider.TagCluster] == "spot" && in.Tags[provider.TagRole] == "worker"
	}) {
		if in.Capacity != cloudsim.Spot {
			t.Fatalf("worker %s is %s, want spot", in.ID, in.Capacity)
		}
		if len(reclaimed) < 2 && f.c.Model.Interrupt(in.ID) {
			reclaimed = append(reclaimed, in.ID)
		}
	}
	r := f.run("status", "spot", "-o", "json")
	var st struct {
		Machines []struct{ Role, State string }
	}
	if err := json.Unmarshal([]byte(r.Stdout), &st); err != nil {
		t.Fatalf("status: %v\n%s", err, r.Stdout)
	}
	live := 0
	for _, m := range st.Machines {
		if m.Role == "worker" && (m.State == "running" || m.State == "pending") {
			live++
		}
	}
	if live != 4 {
		t.Fatalf("status shows %d live workers after 2 of 6 were reclaimed", live)
	}
	r = f.run("up", "spot", "--yes", "--wait", "machines", "-o", "json")
	if r.Code != 0 || !strings.Contains(r.Stdout, `"launched":2`) {
		t.Fatalf("up after reclaim: exit %d\n%s\n%s", r.Code, r.Stdout, r.Stderr)
	}
	f.expectCount("spot", 1, 6)
	f.mustDownClean("spot")
}

// Every call takes 2 s: --timeout 3s gives up in time, exit 1, saying what
// exists; nothing hangs.
func slowAPI(t *testing.T, cloud string) {
	f := newFault(t, cloud)
	f.c.Model.SetLatency(2 * time.Second)
	start := time.Now()
	r := f.run("up", "slow", "-n", "3", "--yes", "--timeout", "3s", "--workload", "none")
	took := time.Since(start)
	if r.Code != 1 || !strings.Contains(r.Stderr, "gave up after --timeout 3s") {
		t.Fatalf("slow API: exit %d after %s\n%s", r.Code, took, r.Stderr)
	}
	if took > 20*time.Second {
		t.Fatalf("--timeout 3s took %s to give up", took)
	}
	f.mustDownClean("slow")
}
