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
		s, err := Render(c.cfg, Options{Target: Azure})
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
		`--name "$(hostname)"`,
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
