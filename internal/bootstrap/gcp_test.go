package bootstrap

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/burstdev/burst/pkg/spec"
)

func gcpScripts(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, role := range []spec.Role{spec.RoleHead, spec.RoleWorker} {
		c := Config{Cluster: "etl", Role: role, Workload: spec.Workload{Name: "dask", Image: "ghcr.io/dask/dask:latest"},
			IdleTimeout: 20 * time.Minute, ExpiresAt: time.Unix(1_800_000_000, 0)}
		if role == spec.RoleWorker {
			c.SchedulerAddress = "tcp://10.0.0.5:8786"
		}
		s, err := Render(c, Options{Target: GCP, WorkerName: "etl-worker"})
		if err != nil {
			t.Fatalf("Render %s: %v", role, err)
		}
		out[string(role)] = s
	}
	return out
}

// needTool fails, rather than skips, when CI promises the tool.
func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("BURST_TEST_DISALLOW_SKIP") == "1" {
			t.Fatalf("%s is not installed", name)
		}
		t.Skipf("%s is not installed", name)
	}
	return p
}

func TestGCPScriptIsValidAndSmall(t *testing.T) {
	shellcheck := needTool(t, "shellcheck")
	for role, s := range gcpScripts(t) {
		if len(s) > MaxUserData {
			t.Errorf("%s script is %d bytes", role, len(s))
		}
		for _, secret := range []string{"BEGIN PRIVATE KEY", "client_secret", "refresh_token"} {
			if strings.Contains(s, secret) {
				t.Errorf("%s script carries %q", role, secret)
			}
		}
		f := filepath.Join(t.TempDir(), role+".sh")
		if err := os.WriteFile(f, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		// SC2317 is excluded: the gcp target redefines the container
		// target's burst_dask (to name workers after their instance), and
		// shellcheck reports the first definition's body as unreachable.
		if out, err := exec.Command(shellcheck, "-s", "sh", f).CombinedOutput(); err != nil {
			t.Errorf("shellcheck %s script: %v\n%s", role, err, out)
		}
	}
}

// TestGCPWorkerTakesInstanceName runs the gcp target's burst_dask with a
// stand-in docker: the shared rendered worker name is replaced by the
// instance's.
