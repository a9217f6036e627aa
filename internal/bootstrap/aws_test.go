package bootstrap

import (
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/burstdev/burst/pkg/spec"
)

func awsScripts(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, c := range []struct {
		name string
		cfg  Config
	}{
		{"dask-head", Config{Cluster: "etl", Role: spec.RoleHead, Workload: spec.Workload{Name: "dask", Image: spec.DefaultImage}, IdleTimeout: 20 * time.Minute, ExpiresAt: time.Unix(1_900_000_000, 0)}},
		{"dask-worker", Config{Cluster: "etl", Role: spec.RoleWorker, Workload: spec.Workload{Name: "dask", Image: spec.DefaultImage, Pip: []string{"pandas"}}, SchedulerAddress: "tcp://10.0.0.4:8786", IdleTimeout: 20 * time.Minute}},
		{"none-worker", Config{Cluster: "etl", Role: spec.RoleWorker, Workload: spec.Workload{Name: "none"}}},
	} {
		s, err := Render(c.cfg, Options{Target: AWS})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		out[c.name] = s
	}
	return out
}

// TestAWSScript: the AWS scripts stay under EC2's 16 KB, carry no
// credentials, remove the machine by shutting it down, and pass shellcheck.
func TestAWSScript(t *testing.T) {
	for name, s := range awsScripts(t) {
		t.Run(name, func(t *testing.T) {
			if len(s) >= MaxUserData {
				t.Fatalf("script is %d bytes, over %d", len(s), MaxUserData)
			}
			for _, bad := range []string{"AWS_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "aws_secret"} {
				if strings.Contains(s, bad) {
					t.Errorf("script mentions %s", bad)
				}
			}
			if !strings.Contains(s, `shutdown -h now "burst: $1"`) {
				t.Errorf("script lacks the shutdown that terminates the instance")
			}
			p, err := exec.LookPath("shellcheck")
			if err != nil {
				if os.Getenv("BURST_TEST_DISALLOW_SKIP") == "1" {
					t.Fatal("shellcheck is not installed and BURST_TEST_DISALLOW_SKIP=1")
				}
				t.Skip("shellcheck is not installed")
			}
			cmd := exec.Command(p, "--shell=sh", "--severity=warning", "-")
			cmd.Stdin = strings.NewReader(s)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("shellcheck: %v\n%s", err, out)
			}
		})
	}
}

// TestAWSWorkerName runs the AWS target's burst_dask with stub curl and
// docker: every worker of a fleet renders the same --name, and the machine
// replaces it with its instance ID from IMDSv2.
