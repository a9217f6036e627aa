package bootstrap

import (
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/burstdev/burst/pkg/spec"
)

// needAzureTool returns the path of a tool a test runs; without it the test
// skips, or fails when CI says nothing may skip.
func needAzureTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("BURST_TEST_DISALLOW_SKIP") == "1" {
			t.Fatalf("%s is not installed and BURST_TEST_DISALLOW_SKIP=1", name)
		}
		t.Skipf("%s is not installed", name)
	}
	return p
}

func azureScripts(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, c := range []struct {
		name string
		cfg  Config
	}{
		{"dask-head", Config{Cluster: "etl", Role: spec.RoleHead, Workload: spec.Workload{Name: "dask", Image: "ghcr.io/dask/dask:2024.12.1"}, IdleTimeout: 20 * time.Minute, ExpiresAt: time.Unix(1_900_000_000, 0)}},
		{"dask-worker", Config{Cluster: "etl", Role: spec.RoleWorker, Workload: spec.Workload{Name: "dask", Image: "ghcr.io/dask/dask:2024.12.1", Pip: []string{"pandas"}}, SchedulerAddress: "tcp://10.0.0.4:8786", IdleTimeout: 20 * time.Minute}},
		{"none-worker", Config{Cluster: "etl", Role: spec.RoleWorker, Workload: spec.Workload{Name: "none"}}},
	} {
		s, err := Render(c.cfg, Options{Target: Azure, WorkerName: "etl-worker"})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		out[c.name] = s
	}
	return out
}

func TestAzureScriptShellcheck(t *testing.T) {
	sc := needAzureTool(t, "shellcheck")
	for name, s := range azureScripts(t) {
		t.Run(name, func(t *testing.T) {
			if len(s) >= MaxUserData {
				t.Fatalf("script is %d bytes, over %d", len(s), MaxUserData)
			}
			// Warnings and errors, as the team's lint of every script;
			// SC2034 flags BURST_TARGET, which script.sh.tmpl exports on main.
			cmd := exec.Command(sc, "--shell=sh", "--severity=warning", "--exclude=SC2034", "-")
			cmd.Stdin = strings.NewReader(s)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("shellcheck: %v\n%s", err, out)
			}
		})
	}
}

func TestAzureScriptContents(t *testing.T) {
	s := azureScripts(t)["dask-worker"]
	for _, want := range []string{
		"BURST_ARM_API='https://management.azure.com'",
		"Metadata: true",
		"identity/oauth2/token",
		"instance/compute/resourceId",
		"forceDeletion=true",
		"--retry 4",
		`burst_arg="$burst_arg-$(hostname)"`,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("azure worker script lacks %q", want)
		}
	}
	for _, bad := range []string{"client_secret", "AZURE_CLIENT_SECRET", "Bearer ey"} {
		if strings.Contains(s, bad) {
			t.Errorf("azure script carries %q", bad)
		}
	}
}

// TestAzureWorkerName runs the azure burst_dask with docker replaced by a
// recorder: every VM of a scale set shares one custom data, so the Dask
// worker name must get the host name appended, and other arguments must
// pass through untouched.
func TestAzureWorkerName(t *testing.T) {
	sh := needAzureTool(t, "sh")
	s := azureScripts(t)["dask-worker"]
	start := strings.Index(s, "burst_dask() {\n\tif")
	end := strings.Index(s[start:], "\n}\n")
	if start < 0 || end < 0 {
		t.Fatal("no azure burst_dask in the script")
	}
	fn := s[start : start+end+3]
	dir := t.TempDir()
	script := "BURST_DIR=/var/lib/burst BURST_IMAGE=img BURST_PIP=\n" +
		"docker() { printf '%s\\n' \"$@\"; }\nhostname() { echo bafe12c000003; }\n" +
		strings.Replace(fn, "exec docker run", "docker run", 1) +
		"burst_dask worker 'tcp://10.0.0.4:8786' --nthreads 2 --name 'etl worker' --death-timeout 60\n"
	cmd := exec.Command(sh, "-c", script)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("sh: %v\n%s", err, out)
	}
	got := strings.Split(strings.TrimSpace(string(out)), "\n")
	want := []string{"run", "--rm", "--name", "burst-workload", "--network", "host", "--ipc", "host", "-v", "/var/lib/burst:/var/lib/burst",
		"-e", "BURST_IDLE_TIMEOUT", "-e", "EXTRA_PIP_PACKAGES=", "img", "dask", "worker", "tcp://10.0.0.4:8786", "--nthreads", "2",
		"--name", "etl worker-bafe12c000003", "--death-timeout", "60"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("docker got\n%q\nwant\n%q", got, want)
	}
}
