package ec2_test

import (
	"encoding/json"
	"errors"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/burstdev/burst/internal/cloudsim"
	simec2 "github.com/burstdev/burst/internal/cloudsim/ec2"
)

// awsCLI finds an aws CLI that runs: Debian's /usr/bin/aws first (what CI
// installs with apt-get), then the first aws on PATH. Without one the test
// skips, unless BURST_TEST_DISALLOW_SKIP=1, when it fails.
func awsCLI(t *testing.T) string {
	t.Helper()
	cands := []string{"/usr/bin/aws"}
	if p, err := exec.LookPath("aws"); err == nil {
		cands = append(cands, p)
	}
	for _, c := range cands {
		out, err := exec.Command(c, "--version").CombinedOutput()
		if err == nil {
			t.Logf("using %s: %s", c, strings.TrimSpace(string(out)))
			return c
		}
	}
	if os.Getenv("BURST_TEST_DISALLOW_SKIP") == "1" {
		t.Fatal("no working aws CLI (install Debian's awscli); BURST_TEST_DISALLOW_SKIP=1 forbids skipping")
	}
	t.Skip("no working aws CLI (install Debian's awscli)")
	return ""
}

// TestAWSCLI keeps the simulator honest: the official aws CLI launches,
// lists, terminates and describes types through it, and the model agrees.
func TestAWSCLI(t *testing.T) {
	bin := awsCLI(t)
	m := simec2.NewModel(cloudsim.Config{})
	sim := simec2.New(m)
	srv := httptest.NewServer(sim)
	defer srv.Close()
	dir := t.TempDir()
	env := []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "LANG=C.UTF-8",
		"AWS_ACCESS_KEY_ID=AKIDCLITEST", "AWS_SECRET_ACCESS_KEY=cli-secret", "AWS_EC2_METADATA_DISABLED=true",
		"AWS_CONFIG_FILE=" + filepath.Join(dir, "config"), "AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(dir, "credentials"),
		"AWS_PAGER=",
	}
	run := func(args ...string) map[string]any {
		t.Helper()
		full := append([]string{"--endpoint-url", srv.URL, "--region", "us-east-1", "--output", "json"}, args...)
		cmd := exec.Command(bin, full...)
		cmd.Env = env
		out, err := cmd.Output()
		if err != nil {
			var stderr string
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				stderr = string(ee.Stderr)
			}
			t.Fatalf("aws %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr)
		}
		var doc map[string]any
		if err := json.Unmarshal(out, &doc); err != nil {
			t.Fatalf("aws %s printed %q: %v", strings.Join(args, " "), out, err)
		}
		return doc
	}
	var ubuntu string
	for _, im := range sim.Images("us-east-1") {
		if strings.Contains(im.Name, "amd64-server-20261105") {
			ubuntu = im.ID
		}
	}

	runArgs := []string{"ec2", "run-instances", "--image-id", ubuntu, "--instance-type", "m7i.large", "--count", "3",
		"--client-token", "cli-token-1", "--instance-initiated-shutdown-behavior", "terminate",
		"--metadata-options", "HttpTokens=required",
		"--tag-specifications", "ResourceType=instance,Tags=[{Key=burst-cluster,Value=cli},{Key=team,Value=data}]"}
	out := run(runArgs...)
	insts, _ := out["Instances"].([]any)
	if len(insts) != 3 {
		t.Fatalf("run-instances returned %d instances: %v", len(insts), out)
	}
	var ids []string
	for _, x := range insts {
		ids = append(ids, x.(map[string]any)["InstanceId"].(string))
	}
	live := m.Instances(func(in *cloudsim.Instance) bool { return in.Tags["burst-cluster"] == "cli" })
	if len(live) != 3 {
		t.Fatalf("model has %d tagged instances, want 3", len(live))
	}
	for _, in := range live {
		if in.Type != "m7i.large" || in.Tags["team"] != "data" || in.Attrs["InstanceInitiatedShutdownBehavior"] != "terminate" || in.Attrs["HttpTokens"] != "required" || in.Attrs["ImageId"] != ubuntu {
			t.Errorf("instance %+v does not match the request", in)
		}
	}
	// The same request with the same client token launches nothing new.
	again := run(runArgs...)
	if n := len(again["Instances"].([]any)); n != 3 || len(m.Instances(nil)) != 3 {
		t.Errorf("repeated client token: %d instances returned, %d in the model; want the same 3", n, len(m.Instances(nil)))
	}

	desc := run("ec2", "describe-instances", "--filters", "Name=tag:burst-cluster,Values=cli", "Name=instance-state-name,Values=running")
	var seen []string
	for _, r := range desc["Reservations"].([]any) {
		for _, x := range r.(map[string]any)["Instances"].([]any) {
			in := x.(map[string]any)
			seen = append(seen, in["InstanceId"].(string))
			if in["State"].(map[string]any)["Name"] != "running" || in["Placement"].(map[string]any)["AvailabilityZone"] == "" {
				t.Errorf("described instance %v", in)
			}
		}
	}
	slices.Sort(seen)
	slices.Sort(ids)
	if !slices.Equal(seen, ids) {
		t.Fatalf("describe-instances found %v, want %v", seen, ids)
	}
	none := run("ec2", "describe-instances", "--filters", "Name=tag:burst-cluster,Values=other")
	if rs := none["Reservations"].([]any); len(rs) != 0 {
		t.Errorf("filter on another cluster found %v", rs)
	}

	term := run(append([]string{"ec2", "terminate-instances", "--instance-ids"}, ids...)...)
	for _, x := range term["TerminatingInstances"].([]any) {
		if st := x.(map[string]any)["CurrentState"].(map[string]any)["Name"]; st != "terminated" {
			t.Errorf("terminate-instances state %v", st)
		}
	}
	if n := len(m.Instances(func(in *cloudsim.Instance) bool { return in.State != cloudsim.Terminated })); n != 0 {
		t.Errorf("%d instances not terminated in the model", n)
	}

	types := run("ec2", "describe-instance-types", "--instance-types", "m7i.large", "p5.48xlarge", "c7g.xlarge")
	got := map[string]map[string]any{}
	for _, x := range types["InstanceTypes"].([]any) {
		it := x.(map[string]any)
		got[it["InstanceType"].(string)] = it
	}
	if v := got["m7i.large"]["VCpuInfo"].(map[string]any)["DefaultVCpus"]; v != float64(2) {
		t.Errorf("m7i.large vCPUs %v", v)
	}
	if v := got["m7i.large"]["MemoryInfo"].(map[string]any)["SizeInMiB"]; v != float64(8192) {
		t.Errorf("m7i.large memory %v", v)
	}
	gpus := got["p5.48xlarge"]["GpuInfo"].(map[string]any)["Gpus"].([]any)[0].(map[string]any)
	if gpus["Name"] != "H100" || gpus["Count"] != float64(8) {
		t.Errorf("p5.48xlarge GPUs %v", gpus)
	}
	if a := got["c7g.xlarge"]["ProcessorInfo"].(map[string]any)["SupportedArchitectures"].([]any); len(a) != 1 || a[0] != "arm64" {
		t.Errorf("c7g.xlarge architectures %v", a)
	}
	// The CLI pages through every type on its own.
	all := run("ec2", "describe-instance-types", "--filters", "Name=processor-info.supported-architecture,Values=arm64")
	arm := 0
	for _, ty := range simec2.Types() {
		if ty.Arch == "arm64" {
			arm++
		}
	}
	if n := len(all["InstanceTypes"].([]any)); n != arm {
		t.Errorf("describe-instance-types arm64 = %d types, want %d", n, arm)
	}
	for _, a := range []string{"RunInstances", "DescribeInstances", "TerminateInstances", "DescribeInstanceTypes"} {
		if m.Count(a) == 0 {
			t.Errorf("the CLI never called %s", a)
		}
	}
}
