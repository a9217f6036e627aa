package bootstrap

import (
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/burstdev/burst/pkg/spec"
)

var update = flag.Bool("update", false, "rewrite golden files")

func testConfig(role spec.Role, workload string) Config {
	return Config{
		Cluster:          "demo",
		Role:             role,
		Workload:         spec.Workload{Name: workload, Image: "ghcr.io/dask/dask:2024.1.0", Pip: []string{"pandas==2.2.0", "s3fs"}, DeathTimeout: time.Minute},
		SchedulerAddress: "tcp://10.0.0.5:8786",
		IdleTimeout:      20 * time.Minute,
		ExpiresAt:        time.Unix(1_800_000_000, 0),
	}
}

func testOptions(target Target) Options {
	o := Options{Target: target}
	if target == Local {
		o.Dir, o.Python, o.BindHost, o.WorkerName = "/state/local/demo/demo-w-1", "/usr/bin/python3", "127.0.0.1", "demo-w-1"
	}
	return o
}

func TestGolden(t *testing.T) {
	for _, target := range []Target{Local, AWS, GCP, Azure} {
		for _, role := range []spec.Role{spec.RoleHead, spec.RoleWorker} {
			for _, w := range []string{"dask", "none"} {
				name := string(target) + "-" + string(role) + "-" + w
				t.Run(name, func(t *testing.T) {
					got, err := Render(testConfig(role, w), testOptions(target))
					if err != nil {
						t.Fatal(err)
					}
					path := filepath.Join("testdata", name+".sh")
					if *update {
						if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
							t.Fatal(err)
						}
					}
					want, err := os.ReadFile(path)
					if err != nil {
						t.Fatalf("%v (run go test -update)", err)
					}
					if got != string(want) {
						t.Fatalf("rendered script differs from %s (run go test -update and review the diff)", path)
					}
					if target != Local && len(got) > MaxUserData {
						t.Fatalf("%d bytes, over EC2's user-data limit", len(got))
					}
				})
			}
		}
	}
}

// TestShellcheck lints every rendered script. CI installs shellcheck and
// sets BURST_TEST_DISALLOW_SKIP, so there the lint always runs.
func TestShellcheck(t *testing.T) {
	sc, err := exec.LookPath("shellcheck")
	if err != nil {
		if os.Getenv("BURST_TEST_DISALLOW_SKIP") != "" {
			t.Fatal("shellcheck is not installed (apt-get install -y shellcheck)")
		}
		t.Skip("shellcheck is not installed")
	}
	files, _ := filepath.Glob(filepath.Join("testdata", "*.sh"))
	if len(files) == 0 {
		t.Fatal("no golden scripts")
	}
	out, err := exec.Command(sc, append([]string{"--shell=sh", "--severity=warning"}, files...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("shellcheck: %v\n%s", err, out)
	}
}

func TestRenderContract(t *testing.T) {
	c := testConfig(spec.RoleWorker, "dask")
	c.SchedulerAddress = ""
	if _, err := Render(c, testOptions(AWS)); err == nil {
		t.Error("a dask worker without a scheduler address rendered")
	}
	if _, err := Render(testConfig(spec.RoleHead, "dask"), Options{Target: "mars"}); err == nil {
		t.Error("unknown target rendered")
	}
	if _, err := Render(testConfig(spec.RoleHead, "dask"), Options{Target: Local}); err == nil {
		t.Error("local target without python and dir rendered")
	}
	bad := testConfig(spec.RoleHead, "dask")
	bad.Cluster = "Bad Name"
	if _, err := Render(bad, testOptions(AWS)); err == nil {
		t.Error("invalid cluster name rendered")
	}
	head, _ := Render(testConfig(spec.RoleHead, "dask"), testOptions(AWS))
	for _, want := range []string{"BURST_EXPIRES=1800000000", "BURST_IDLE_TIMEOUT=1200", "--preload", "shutdown -h now", "EXTRA_PIP_PACKAGES", "'pandas==2.2.0 s3fs'"} {
		if !strings.Contains(head, want) {
			t.Errorf("aws head script lacks %q", want)
		}
	}
	for _, secret := range []string{"AWS_SECRET", "aws_secret_access_key", "PRIVATE KEY"} {
		if strings.Contains(head, secret) {
			t.Errorf("script carries %q", secret)
		}
	}
	worker, _ := Render(testConfig(spec.RoleWorker, "dask"), testOptions(AWS))
	if !strings.Contains(worker, "--death-timeout 60") || !strings.Contains(worker, "'tcp://10.0.0.5:8786'") {
		t.Error("worker script lacks its scheduler or death timeout")
	}
}

func TestQuote(t *testing.T) {
	for in, want := range map[string]string{"a": "'a'", "it's": `'it'\''s'`, "": "''", "$(x)": "'$(x)'"} {
		if got := Quote(in); got != want {
			t.Errorf("Quote(%q) = %s, want %s", in, got, want)
		}
	}
}
