package aws_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/burstdev/burst/internal/catalog"
	"github.com/burstdev/burst/internal/cloudsim"
	simec2 "github.com/burstdev/burst/internal/cloudsim/ec2"
	"github.com/burstdev/burst/internal/config"
	"github.com/burstdev/burst/internal/plan"
	"github.com/burstdev/burst/internal/provider"
	"github.com/burstdev/burst/internal/provider/aws"
	"github.com/burstdev/burst/internal/provision"
	"github.com/burstdev/burst/pkg/spec"
)

// seed launches n tagged instances straight in the model.
func seed(t *testing.T, e *env, cluster string, n int) []cloudsim.Instance {
	t.Helper()
	var out []cloudsim.Instance
	for n > 0 {
		k := min(n, 500)
		got, err := e.model.Launch(cloudsim.LaunchSpec{Region: "us-east-1", Zone: "us-east-1b", Type: "m7i.large", Count: k,
			Tags: map[string]string{provider.TagCluster: cluster, provider.TagRole: "worker"}, PublicIP: true,
			Name: func(seq int) (string, string) { return fmt.Sprintf("i-%017x", seq), "" }})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, got...)
		n -= k
	}
	return out
}

// TestMachinesPaginatesAndFilters: Machines pages through DescribeInstances
// 1000 at a time and returns only the cluster's machines; a cluster's
// heads and workers are listed side by side.
func TestMachinesPaginatesAndFilters(t *testing.T) {
	e := newEnv(t)
	seed(t, e, "big", 2100)
	seed(t, e, "other", 3)
	ms, err := e.p.Machines(ctx(t), provider.Filter{Cluster: "big"})
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 2100 {
		t.Fatalf("Machines = %d, want 2100", len(ms))
	}
	// Three pages of workers, and the listing of heads beside them.
	if n, _ := e.count("DescribeInstances", ""); n != 4 {
		t.Errorf("DescribeInstances calls = %d, want 3 pages of workers and 1 of heads", n)
	}
	m := ms[0]
	if m.Cluster != "big" || m.Role != spec.RoleWorker || m.State != provider.Running || m.Zone != "us-east-1b" || m.PrivateIP == "" || m.PublicIP == "" || m.InstanceType != "m7i.large" || m.LaunchedAt.IsZero() {
		t.Errorf("machine %+v lacks fields", m)
	}
	all, err := e.p.Machines(ctx(t), provider.Filter{})
	if err != nil || len(all) != 2103 {
		t.Fatalf("Machines(all) = %d, %v", len(all), err)
	}
}

// TestMachinesLive: with Filter.Live, EC2 is asked for instances that
// have not terminated (it lists terminated ones for about an hour).
func TestMachinesLive(t *testing.T) {
	e := newEnv(t)
	ins := seed(t, e, "lv", 3)
	e.model.Terminate([]string{ins[0].ID}, "test")
	all, err := e.p.Machines(ctx(t), provider.Filter{Cluster: "lv"})
	if err != nil || len(all) != 3 {
		t.Fatalf("Machines = %d, %v; want 3 with the terminated one", len(all), err)
	}
	live, err := e.p.Machines(ctx(t), provider.Filter{Cluster: "lv", Live: true})
	if err != nil || len(live) != 2 {
		t.Fatalf("Machines(Live) = %d, %v; want 2", len(live), err)
	}
	for _, m := range live {
		if m.ID == ins[0].ID || m.State != provider.Running {
			t.Errorf("live listing has %s (%s)", m.ID, m.State)
		}
	}
}

// TestTerminateBatches: terminations go 1000 IDs a call; IDs that no longer
// exist do not fail the batch.
func TestTerminateBatches(t *testing.T) {
	e := newEnv(t)
	ins := seed(t, e, "tb", 2500)
	var ms []provider.Machine
	for _, in := range ins {
		ms = append(ms, provider.Machine{ID: in.ID, Region: "us-east-1"})
	}
	ms = append(ms, provider.Machine{ID: "i-00000000deadbeef0", Region: "us-east-1"})
	if err := e.p.Terminate(ctx(t), ms); err != nil {
		t.Fatal(err)
	}
	all, notFound := e.count("TerminateInstances", "InvalidInstanceID.NotFound")
	if all != 4 || notFound != 1 {
		t.Errorf("TerminateInstances calls = %d (%d not found), want 3 batches + 1 retry of the batch with the unknown ID", all, notFound)
	}
	if n := len(live(e.model, "tb")); n != 0 {
		t.Errorf("%d instances still live", n)
	}
	if err := e.p.Terminate(ctx(t), ms[:10]); err != nil {
		t.Errorf("terminating again: %v", err)
	}
}

// TestCleanupWaitsForInstances: down deletes the security group only once
// the cluster's instances are gone (DependencyViolation until then), and
// removes the key pair, launch templates and local key: nothing leaks.
func TestCleanupWaitsForInstances(t *testing.T) {
	clock := cloudsim.NewClock(time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC))
	e := newEnv(t, withClock(clock), withModel(func(c *cloudsim.Config) { c.TerminateDelay = 200 * time.Millisecond }))
	res, err := e.p.Launch(ctx(t), launchReq("cu", 3, "cu-w-1", offering("us-east-1", "m7i.large", "on-demand")))
	if err != nil || len(res.Machines) != 3 {
		t.Fatalf("Launch: %v", err)
	}
	if err := e.p.Terminate(ctx(t), res.Machines); err != nil {
		t.Fatal(err)
	}
	if err := e.p.Cleanup(ctx(t), "cu", []string{"us-east-1"}); err != nil {
		t.Fatalf("Cleanup: %v", err)
	}
	if _, dv := e.count("DeleteSecurityGroup", "DependencyViolation"); dv == 0 {
		t.Errorf("DeleteSecurityGroup never met DependencyViolation; the test did not exercise the wait")
	}
	if leaks := e.model.Leaks(provider.TagCluster); len(leaks) != 0 {
		t.Errorf("leaks after cleanup: %v", leaks)
	}
	if _, err := os.Stat(e.p.KeyPath("cu", "us-east-1")); !os.IsNotExist(err) {
		t.Errorf("private key still on disk: %v", err)
	}
	if err := e.p.Cleanup(ctx(t), "cu", nil); err != nil {
		t.Errorf("second Cleanup: %v", err)
	}

	// A group that a running instance holds cannot go: Cleanup fails and
	// the private key stays on this machine for SSH to it.
	res, err = e.p.Launch(ctx(t), launchReq("cu", 1, "cu-w-2", offering("us-east-1", "m7i.large", "on-demand")))
	if err != nil || len(res.Machines) != 1 {
		t.Fatalf("Launch: %v", err)
	}
	if err := e.p.Cleanup(ctx(t), "cu", []string{"us-east-1"}); err == nil || !strings.Contains(err.Error(), res.Machines[0].ID) {
		t.Fatalf("Cleanup with a running instance: %v", err)
	}
	if _, err := os.Stat(e.p.KeyPath("cu", "us-east-1")); err != nil {
		t.Errorf("private key gone while an instance that has it runs: %v", err)
	}
}

// TestCleanupGivesUp: a security group still in use after the timeout is
// an error that says to run down again.
func TestCleanupGivesUp(t *testing.T) {
	clock := cloudsim.NewClock(time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC))
	e := newEnv(t, withClock(clock))
	if _, err := e.p.Launch(ctx(t), launchReq("stuck", 1, "stuck-w-1", offering("us-east-1", "m7i.large", "on-demand"))); err != nil {
		t.Fatal(err)
	}
	err := e.p.Cleanup(ctx(t), "stuck", []string{"us-east-1"})
	if err == nil || !strings.Contains(err.Error(), "still in use") {
		t.Fatalf("Cleanup with a live instance: %v", err)
	}
}

// TestCredentials: no credentials anywhere is ErrAuth (exit 4) naming the
// sources tried; an SSO profile without a session says how to log in; an
// access key EC2 rejects is ErrAuth too. None of it reaches the network
// before the credentials are known.
func TestCredentials(t *testing.T) {
	e := newEnv(t)
	t.Run("none", func(t *testing.T) {
		t.Setenv("AWS_ACCESS_KEY_ID", "")
		t.Setenv("AWS_SECRET_ACCESS_KEY", "")
		before := len(e.model.Requests())
		p := aws.New(aws.Options{DataDir: t.TempDir()})
		_, err := p.Machines(ctx(t), provider.Filter{Cluster: "x"})
		if !errors.Is(err, provider.ErrAuth) {
			t.Fatalf("Machines without credentials: %v, want ErrAuth (exit 4)", err)
		}
		for _, want := range []string{"AWS_ACCESS_KEY_ID", "credentials file", "web identity", "container", "AWS_EC2_METADATA_DISABLED"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not name %q", err, want)
			}
		}
		if n := len(e.model.Requests()); n != before {
			t.Errorf("%d calls reached EC2 without credentials", n-before)
		}
	})
	t.Run("sso", func(t *testing.T) {
		t.Setenv("AWS_ACCESS_KEY_ID", "")
		t.Setenv("AWS_SECRET_ACCESS_KEY", "")
		cfg := filepath.Join(t.TempDir(), "config")
		if err := os.WriteFile(cfg, []byte("[profile work]\nsso_start_url = https://example.awsapps.com/start\nsso_region = us-east-1\nsso_account_id = 123456789012\nsso_role_name = burst\nregion = us-east-1\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		t.Setenv("AWS_CONFIG_FILE", cfg)
		t.Setenv("HOME", t.TempDir()) // no cached SSO token
		p := aws.New(aws.Options{Profile: "work", DataDir: t.TempDir()})
		_, err := p.Machines(ctx(t), provider.Filter{Cluster: "x"})
		if !errors.Is(err, provider.ErrAuth) || !strings.Contains(err.Error(), "aws sso login --profile work") {
			t.Fatalf("expired SSO: %v", err)
		}
	})
	t.Run("rejected key", func(t *testing.T) {
		e.sim.AccessKeys = []string{"AKIDSOMEONEELSE"}
		defer func() { e.sim.AccessKeys = nil }()
		_, err := e.p.Machines(ctx(t), provider.Filter{Cluster: "x"})
		if !errors.Is(err, provider.ErrAuth) || provider.ScopeOf(err) != provider.ScopeProvider {
			t.Fatalf("rejected key: %v, want ErrAuth with provider scope", err)
		}
	})
	t.Run("profile missing", func(t *testing.T) {
		p := aws.New(aws.Options{Profile: "nope", DataDir: t.TempDir()})
		_, err := p.Machines(ctx(t), provider.Filter{})
		if !errors.Is(err, provider.ErrAuth) || !strings.Contains(err.Error(), `"nope"`) {
			t.Fatalf("missing profile: %v", err)
		}
	})
}

// TestConstructionIsOffline: building the provider from burst's config
// makes no call, even with an endpoint configured.
func TestConstructionIsOffline(t *testing.T) {
	e := newEnv(t)
	cfg := &config.Config{DataDir: t.TempDir(), AWS: config.AWS{Region: "us-west-2", Profile: "whatever"}}
	p, err := aws.Entry.New(context.Background(), provider.Env{Config: cfg, Now: time.Now})
	if err != nil || p.Name() != "aws" || provider.LimitsOf(p).MaxPerLaunch != 500 {
		t.Fatalf("Entry.New = %v, %v", p, err)
	}
	if n := len(e.model.Requests()); n != 0 {
		t.Errorf("construction made %d calls", n)
	}
}

// TestEndpointEC2Only: AWS_ENDPOINT_URL_EC2 alone routes EC2 calls, as the
// SDK defines it; burst sets no endpoint of its own.
func TestEndpointEC2Only(t *testing.T) {
	e := newEnv(t)
	t.Setenv("AWS_ENDPOINT_URL", "")
	t.Setenv("AWS_ENDPOINT_URL_EC2", e.url)
	p := aws.New(aws.Options{DataDir: t.TempDir(), Region: "eu-west-1"})
	seed(t, e, "ep", 1)
	if _, err := p.Machines(ctx(t), provider.Filter{Cluster: "ep"}); err != nil {
		t.Fatal(err)
	}
	// A cluster's listing is two DescribeInstances (head, workers).
	reqs := e.model.Requests()
	if len(reqs) != 2 || reqs[0].Action != "DescribeInstances" || reqs[0].Region != "eu-west-1" || reqs[1].Action != "DescribeInstances" || reqs[1].Region != "eu-west-1" {
		t.Fatalf("requests %+v: want DescribeInstances in eu-west-1 only", reqs)
	}
}

// TestPublicAddressLookup: with no CIDRs configured, the security group
// opens SSH and Dask to the address the check-IP URL reports, as a /32.
func TestPublicAddressLookup(t *testing.T) {
	ip := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = fmt.Fprintln(w, "198.51.100.23") }))
	defer ip.Close()
	e := newEnv(t, withOptions(func(o *aws.Options) { o.AllowedCIDRs, o.CheckIPURL = nil, ip.URL }))
	if err := e.p.Prepare(ctx(t), provider.PrepareRequest{Cluster: "ip", Regions: []string{"us-east-1"}, Tags: map[string]string{provider.TagCluster: "ip"}}); err != nil {
		t.Fatal(err)
	}
	sg := e.model.Resources(simec2.KindSecurityGroup, nil)[0].Data.(*simec2.SecurityGroup)
	found := false
	for _, p := range sg.Ingress {
		for _, c := range p.CIDRs {
			if c != "198.51.100.23/32" {
				t.Errorf("rule %+v opens to %s", p, c)
			}
			found = true
		}
	}
	if !found {
		t.Fatal("no rule for the caller's address")
	}
	// Prepare is idempotent: nothing new on a second run.
	before := len(e.model.Resources("", nil))
	if err := aws.New(e.opts).Prepare(ctx(t), provider.PrepareRequest{Cluster: "ip", Regions: []string{"us-east-1"}}); err != nil {
		t.Fatal(err)
	}
	if n, _ := e.count("CreateSecurityGroup", ""); n != 1 || len(e.model.Resources("", nil)) != before {
		t.Errorf("second Prepare created resources")
	}
}

// TestCatalogLive reads the catalog through the EC2 and Price List APIs.
func TestCatalogLive(t *testing.T) {
	e := newEnv(t, withOptions(func(o *aws.Options) { o.Regions = []string{"eu-west-1"} }))
	cat, err := e.p.Catalog(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(cat.Types) != len(simec2.Types()) || cat.Source != "live" || len(cat.Zones["eu-west-1"]) != 3 {
		t.Fatalf("catalog: %d types (want %d), source %q, zones %v", len(cat.Types), len(simec2.Types()), cat.Source, cat.Zones)
	}
	m := cat.Find("aws", "m7i.large")
	if m == nil || m.VCPUs != 2 || m.MemoryGiB != 8 || m.Arch != "x86_64" || m.Family != "m7i" || m.Generation != 7 {
		t.Fatalf("m7i.large = %+v", m)
	}
	if p, ok := cat.Price("aws", "m7i.large", "us-east-1", "on-demand"); !ok || p != 0.1008 {
		t.Errorf("m7i.large on-demand in us-east-1 = %v %v, want 0.1008", p, ok)
	}
	// Spot is the mean of the zones: 0.0176 x (1, 1.05, 1.10).
	if p, ok := cat.Price("aws", "m7i.large", "us-east-1", "spot"); !ok || p != 0.0185 {
		t.Errorf("m7i.large spot in us-east-1 = %v %v, want 0.0185", p, ok)
	}
	if p, ok := cat.Price("aws", "m7i.large", "eu-west-1", "on-demand"); !ok || p != 0.1129 {
		t.Errorf("m7i.large on-demand in eu-west-1 = %v, want 0.1129", p)
	}
	for name, want := range map[string]string{"p4d.24xlarge": "A100", "p5.48xlarge": "H100", "g5.xlarge": "A10G", "g6.xlarge": "L4"} {
		ty := cat.Find("aws", name)
		if ty == nil || ty.GPUModel != want || ty.GPUs == 0 || ty.GPUMemoryGiB == 0 {
			t.Errorf("%s = %+v, want GPU %s", name, ty, want)
		}
	}
	if ty := cat.Find("aws", "t4g.medium"); ty == nil || !ty.Burstable || ty.Arch != "arm64" {
		t.Errorf("t4g.medium = %+v", ty)
	}
	for _, o := range m.Offerings {
		if o.Zone != "" {
			t.Errorf("offering %+v names a zone; live offerings are region-level", o)
		}
	}
	if n, _ := e.count("DescribeInstanceTypes", ""); n != 4 {
		t.Errorf("DescribeInstanceTypes pages = %d, want 2 per region", n)
	}
}

// TestPreflight: quota too small for the plan is refused before any
// create call, naming the quota and the vCPUs (exit 3); a missing image is
// refused too; a spot leg that does not fit passes when its on-demand
// fallback does.
func TestPreflight(t *testing.T) {
	e := newEnv(t)
	simec2.SetVCPUQuota(e.model, "us-east-1", simec2.QuotaOnDemandStandard, 64)
	simec2.SetVCPUQuota(e.model, "us-east-1", simec2.QuotaSpotStandard, 4)
	seed(t, e, "busy", 10) // 20 vCPUs of standard on-demand in use
	od := offering("us-east-1", "m7i.large", "on-demand")
	sp := offering("us-east-1", "m7i.large", "spot")
	head := plan.Group{Role: spec.RoleHead, Count: 1, Capacity: catalog.OnDemand, Offerings: []plan.Offering{od}}
	workers := func(n int) plan.Group {
		return plan.Group{Role: spec.RoleWorker, Count: n, Capacity: catalog.OnDemand, Offerings: []plan.Offering{od}}
	}
	if err := e.p.Preflight(ctx(t), provider.PreflightRequest{Cluster: "pf", Groups: []plan.Group{head, workers(21)}}); err != nil {
		t.Fatalf("44 of 64 vCPUs: %v", err)
	}
	err := e.p.Preflight(ctx(t), provider.PreflightRequest{Cluster: "pf", Groups: []plan.Group{head, workers(22)}})
	if !errors.Is(err, provider.ErrQuota) {
		t.Fatalf("46 of 64 vCPUs with 20 in use: %v, want ErrQuota (exit 3)", err)
	}
	for _, want := range []string{"L-1216C47A", "44 vCPUs", "64 vCPUs with 20 in use", "request-service-quota-increase"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("quota error %q lacks %q", err, want)
		}
	}
	spot := plan.Group{Role: spec.RoleWorker, Count: 10, Capacity: catalog.Spot, Offerings: []plan.Offering{sp}}
	fb := workers(10)
	fb.Fallback = true
	if err := e.p.Preflight(ctx(t), provider.PreflightRequest{Cluster: "pf", Groups: []plan.Group{head, spot, fb}}); err != nil {
		t.Errorf("spot leg over quota with a fitting fallback: %v", err)
	}
	if err := e.p.Preflight(ctx(t), provider.PreflightRequest{Cluster: "pf", Groups: []plan.Group{head, spot}}); !errors.Is(err, provider.ErrQuota) || !strings.Contains(err.Error(), "L-34B43A08") {
		t.Errorf("spot only, over quota: %v", err)
	}

	e.sim.RemoveImages("us-east-1", "ubuntu/images/*arm64*")
	arm := plan.Group{Role: spec.RoleWorker, Count: 1, Capacity: catalog.OnDemand, Offerings: []plan.Offering{offering("us-east-1", "m7g.large", "on-demand")}}
	err = e.p.Preflight(ctx(t), provider.PreflightRequest{Cluster: "pf", Groups: []plan.Group{head, arm}})
	if !errors.Is(err, provider.ErrInvalid) || !strings.Contains(err.Error(), "Ubuntu 24.04 LTS (arm64)") {
		t.Fatalf("missing arm64 image: %v", err)
	}
	for _, a := range []string{"CreateFleet", "CreateSecurityGroup", "CreateLaunchTemplate"} {
		if n, _ := e.count(a, ""); n != 0 {
			t.Errorf("preflight called %s", a)
		}
	}
}

// TestGPUImage: GPU types boot NVIDIA's deep learning base image with a
// larger root disk.
func TestGPUImage(t *testing.T) {
	e := newEnv(t)
	res, err := e.p.Launch(ctx(t), launchReq("gpu", 1, "gpu-w-1", offering("us-east-1", "g6.xlarge", "on-demand")))
	if err != nil || len(res.Machines) != 1 {
		t.Fatalf("Launch: %v", err)
	}
	in, _ := e.model.Instance(res.Machines[0].ID)
	name := ""
	for _, im := range e.sim.Images("us-east-1") {
		if im.ID == in.Attrs["ImageId"] {
			name = im.Name
		}
	}
	if name != "Deep Learning Base OSS Nvidia Driver GPU AMI (Ubuntu 24.04) 20261101" {
		t.Errorf("GPU machine boots %q, want the newest NVIDIA base image", name)
	}
	if in.Attrs["RootVolumeSize"] != "120" {
		t.Errorf("GPU root volume %s GiB, want 120", in.Attrs["RootVolumeSize"])
	}
	res, err = e.p.Launch(ctx(t), launchReq("gpu", 1, "gpu-w-2", offering("us-east-1", "m7g.large", "on-demand")))
	if err != nil || len(res.Machines) != 1 {
		t.Fatalf("Launch: %v", err)
	}
	in, _ = e.model.Instance(res.Machines[0].ID)
	for _, im := range e.sim.Images("us-east-1") {
		if im.ID == in.Attrs["ImageId"] {
			name = im.Name
		}
	}
	if name != "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-arm64-server-20261105" {
		t.Errorf("arm64 machine boots %q, want the newest Ubuntu 24.04 arm64", name)
	}
}

// TestSpotInterruption: a spot machine EC2 reclaims shows as terminated,
// and the next `up` replaces it.
func TestSpotInterruption(t *testing.T) {
	e := newEnv(t)
	cat, err := e.p.Catalog(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	c := cluster("si", 3, spec.Spot)
	un := &plan.Unavailable{}
	pl, err := plan.Make(c, cat, plan.Options{Unavailable: un, Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	eng := engineFor(e, cat, un)
	res, err := eng.Up(ctx(t), c, pl, provision.WaitMachines)
	if err != nil || res.Workers() != 3 {
		t.Fatalf("Up: %d workers, %v", res.Workers(), err)
	}
	var victim provider.Machine
	for _, m := range res.Machines {
		if m.Role == spec.RoleWorker {
			victim = m
		}
	}
	if victim.Capacity != catalog.Spot || !e.model.Interrupt(victim.ID) {
		t.Fatalf("cannot interrupt %+v", victim)
	}
	ms, err := e.p.Machines(ctx(t), provider.Filter{Cluster: "si"})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.ID == victim.ID && m.State != provider.Terminated {
			t.Errorf("interrupted machine is %s", m.State)
		}
	}
	res, err = eng.Up(ctx(t), c, pl, provision.WaitMachines)
	if err != nil || res.Launched != 1 || res.Workers() != 3 {
		t.Fatalf("Up after an interruption: launched %d, %d workers, %v", res.Launched, res.Workers(), err)
	}
}

// TestRegionsFromConfig: the run's region list (config key "region", which
// --region sets) gives the SDK's region and the regions Machines lists; a
// region the provider launched into is listed too.
func TestRegionsFromConfig(t *testing.T) {
	e := newEnv(t)
	cfg := &config.Config{DataDir: t.TempDir(), Region: "[eu-west-1,us-west-2]"}
	pp, err := aws.Entry.New(context.Background(), provider.Env{Config: cfg, Now: time.Now})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pp.Machines(ctx(t), provider.Filter{}); err != nil {
		t.Fatal(err)
	}
	var regions []string
	for _, r := range e.model.Requests() {
		regions = append(regions, r.Region)
	}
	sort.Strings(regions) // listed in parallel
	if strings.Join(regions, ",") != "eu-west-1,us-west-2" {
		t.Errorf("Machines listed regions %v, want eu-west-1 and us-west-2 once each", regions)
	}
	// Launching in us-west-2 from a provider configured for us-east-1 only.
	if _, err := e.p.Launch(ctx(t), launchReq("rg", 1, "rg-w-1", offering("us-west-2", "m7i.large", "on-demand"))); err != nil {
		t.Fatal(err)
	}
	ms, err := e.p.Machines(ctx(t), provider.Filter{Cluster: "rg"})
	if err != nil || len(ms) != 1 || ms[0].Region != "us-west-2" {
		t.Errorf("Machines after a launch in us-west-2 = %+v, %v", ms, err)
	}
}

// TestPrepareAndCleanupRunStrandsSideBySide: Preflight reads images,
// quotas and usage at once; Prepare reads the key pair
// while it looks up the VPC and reads the subnets while it makes the
// security group, which waits for the VPC; Cleanup looks for launch
// templates, security groups and key pairs at once, and deletes the key
// pair only once the group is gone.
func TestPrepareAndCleanupRunStrandsSideBySide(t *testing.T) {
	const lat = 40 * time.Millisecond
	e := newEnv(t, withModel(func(c *cloudsim.Config) { c.Latency = lat }))
	type span struct{ start, end time.Time }
	spans := func() map[string]span {
		out := map[string]span{}
		for _, r := range e.model.Requests() {
			start := r.Time.Add(-lat)
			out[r.Action] = span{start, start.Add(r.Duration)}
		}
		return out
	}
	// The log gives each call's end and duration only roughly (its time is
	// read after the latency's sleep, which may oversleep), so both tests
	// allow a few milliseconds; calls that overlap or wait for each other
	// differ by the 40 ms latency.
	const slack = 5 * time.Millisecond
	overlap := func(s map[string]span, a, b string) bool {
		x, okx := s[a]
		y, oky := s[b]
		return okx && oky && x.start.Before(y.end.Add(-slack)) && y.start.Before(x.end.Add(-slack))
	}
	after := func(s map[string]span, a, b string) bool { return !s[a].start.Before(s[b].end.Add(-slack)) }

	// After a preflight, which reads the network ahead beside its own
	// reads: Prepare only creates.
	od := offering("us-east-1", "m7i.large", "on-demand")
	groups := []plan.Group{{Role: spec.RoleHead, Count: 1, Capacity: catalog.OnDemand, Offerings: []plan.Offering{od}}}
	if err := e.p.Preflight(ctx(t), provider.PreflightRequest{Cluster: "side", Groups: groups}); err != nil {
		t.Fatal(err)
	}
	if err := e.p.Prepare(ctx(t), provider.PrepareRequest{Cluster: "side", Regions: []string{"us-east-1"}, Tags: map[string]string{provider.TagCluster: "side"}}); err != nil {
		t.Fatal(err)
	}
	s := spans()
	if !overlap(s, "DescribeImages", "GetServiceQuota") || !overlap(s, "GetServiceQuota", "DescribeInstances") {
		t.Errorf("Preflight: the reads ran one after another: %+v", s)
	}
	for _, read := range []string{"DescribeVpcs", "DescribeSubnets", "DescribeSecurityGroups", "DescribeKeyPairs"} {
		if !overlap(s, read, "DescribeImages") {
			t.Errorf("Prepare's %s did not run beside the preflight: %+v", read, s)
		}
	}
	if !after(s, "CreateSecurityGroup", "DescribeSecurityGroups") || !after(s, "AuthorizeSecurityGroupIngress", "CreateSecurityGroup") || !after(s, "CreateKeyPair", "DescribeKeyPairs") {
		t.Errorf("Prepare: created before it knew: %+v", s)
	}
	reads := 0
	for _, r := range e.model.Requests() {
		if strings.HasPrefix(r.Action, "Describe") && r.Action != "DescribeImages" && r.Action != "DescribeInstances" {
			reads++
		}
	}
	if reads != 4 {
		t.Errorf("%d network reads, want the lookahead's 4 and none again", reads)
	}

	e.model.ResetRequests()
	if _, err := e.p.Launch(ctx(t), launchReq("side", 1, "side-w-1", offering("us-east-1", "m7i.large", "on-demand"))); err != nil {
		t.Fatal(err)
	}
	ms, err := e.p.Machines(ctx(t), provider.Filter{Cluster: "side"})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.p.Terminate(ctx(t), ms); err != nil {
		t.Fatal(err)
	}
	if err := e.p.Cleanup(ctx(t), "side", []string{"us-east-1"}); err != nil {
		t.Fatal(err)
	}
	s = spans()
	if !overlap(s, "DescribeLaunchTemplates", "DescribeSecurityGroups") || !overlap(s, "DescribeSecurityGroups", "DescribeKeyPairs") {
		t.Errorf("Cleanup: the lookups ran one after another: %+v", s)
	}
	if !overlap(s, "DeleteKeyPair", "DeleteSecurityGroup") || !after(s, "DeleteSecurityGroup", "DescribeSecurityGroups") || !after(s, "DeleteKeyPair", "DescribeKeyPairs") {
		t.Errorf("Cleanup: the deletions did not run side by side after their lookups: %+v", s)
	}

	// Prepare on its own: three strands. (A second simulator: the first
	// provider's clients are made already, so the endpoint change is safe.)
	alone := newEnv(t, withModel(func(c *cloudsim.Config) { c.Latency = lat }))
	if err := alone.p.Prepare(ctx(t), provider.PrepareRequest{Cluster: "side", Regions: []string{"us-east-1"}, Tags: map[string]string{provider.TagCluster: "side"}}); err != nil {
		t.Fatal(err)
	}
	s = map[string]span{}
	for _, r := range alone.model.Requests() {
		start := r.Time.Add(-lat)
		s[r.Action] = span{start, start.Add(r.Duration)}
	}
	if !overlap(s, "DescribeVpcs", "DescribeKeyPairs") || !overlap(s, "DescribeSubnets", "DescribeSecurityGroups") {
		t.Errorf("Prepare: independent reads ran one after another: %+v", s)
	}
	if !after(s, "DescribeSecurityGroups", "DescribeVpcs") || !after(s, "AuthorizeSecurityGroupIngress", "CreateSecurityGroup") {
		t.Errorf("Prepare: the security group strand ran out of order: %+v", s)
	}
}
