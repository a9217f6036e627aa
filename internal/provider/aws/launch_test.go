package aws_test

import (
	"encoding/base64"
	"errors"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/burstdev/burst/internal/bootstrap"
	"github.com/burstdev/burst/internal/catalog"
	"github.com/burstdev/burst/internal/cloudsim"
	simec2 "github.com/burstdev/burst/internal/cloudsim/ec2"
	"github.com/burstdev/burst/internal/plan"
	"github.com/burstdev/burst/internal/provider"
	"github.com/burstdev/burst/internal/provider/aws"
	"github.com/burstdev/burst/pkg/spec"
)

func launchReq(cluster string, n int, token string, offs ...plan.Offering) provider.LaunchRequest {
	tags := map[string]string{provider.TagCluster: cluster, provider.TagRole: "worker", provider.TagOwner: "tester", "Name": cluster + "-worker"}
	return provider.LaunchRequest{
		Cluster: cluster, Role: spec.RoleWorker, Count: n, Offerings: offs, Token: token, Tags: tags,
		Boot: bootstrap.Config{Cluster: cluster, Role: spec.RoleWorker, Workload: spec.Workload{Name: "dask", Image: spec.DefaultImage},
			SchedulerAddress: "tcp://10.0.0.5:8786", IdleTimeout: spec.DefaultIdleTimeout},
	}
}

func live(m *cloudsim.Model, cluster string) []cloudsim.Instance {
	return m.Instances(func(in *cloudsim.Instance) bool {
		return in.Tags[provider.TagCluster] == cluster && in.State != cloudsim.Terminated && in.State != cloudsim.ShuttingDown
	})
}

// TestLaunchShape checks what one Launch creates: a fleet of the right kind
// and shape, instances that terminate on guest shutdown, require IMDSv2,
// have an encrypted gp3 root deleted with them, carry the tags (as do
// their volumes and the fleet), boot the AWS bootstrap, and sit in a
// security group open to the configured CIDR only.
func TestLaunchShape(t *testing.T) {
	e := newEnv(t)
	offs := []plan.Offering{offering("us-east-1", "m7i.large", "on-demand"), offering("us-east-1", "m6i.large", "on-demand")}
	res, err := e.p.Launch(ctx(t), launchReq("shape", 4, "shape-w-1", offs...))
	if err != nil || len(res.Machines) != 4 || len(res.Failures) != 0 {
		t.Fatalf("Launch = %d machines, failures %v, err %v", len(res.Machines), res.Failures, err)
	}
	fleets := e.sim.Fleets()
	if len(fleets) != 1 {
		t.Fatalf("fleets = %d, want 1", len(fleets))
	}
	f := fleets[0]
	if f.Type != "instant" || f.CapacityType != "on-demand" || f.Strategy != "lowest-price" || f.Overrides != 6 || f.TargetCapacity != 4 {
		t.Errorf("fleet %+v: want instant on-demand lowest-price, 2 types x 3 zones = 6 overrides, capacity 4", f)
	}
	if f.Tags[provider.TagCluster] != "shape" || f.Tags[provider.TagOwner] != "tester" {
		t.Errorf("fleet tags %v lack the request's", f.Tags)
	}
	if !strings.HasPrefix(f.ClientToken, "shape-w-1-") || len(f.ClientToken) > 64 {
		t.Errorf("fleet client token %q does not derive from the launch token", f.ClientToken)
	}
	ins := live(e.model, "shape")
	if len(ins) != 4 {
		t.Fatalf("model has %d live instances of the cluster, want 4", len(ins))
	}
	sgs := e.model.Resources(simec2.KindSecurityGroup, nil)
	if len(sgs) != 1 || sgs[0].Tags[provider.TagCluster] != "shape" {
		t.Fatalf("security groups %v: want one tagged with the cluster", sgs)
	}
	for _, in := range ins {
		a := in.Attrs
		for k, want := range map[string]string{
			"InstanceInitiatedShutdownBehavior": "terminate", "HttpTokens": "required", "HttpPutResponseHopLimit": "2",
			"RootVolumeType": "gp3", "RootVolumeEncrypted": "true", "RootDeleteOnTermination": "true", "RootVolumeSize": "30",
			"VolumeTag:" + provider.TagCluster: "shape", "VolumeTag:" + provider.TagOwner: "tester", "KeyName": "burst-shape",
			"SecurityGroupIds": sgs[0].ID,
		} {
			if a[k] != want {
				t.Errorf("instance %s: %s = %q, want %q", in.ID, k, a[k], want)
			}
		}
		if in.Tags[provider.TagRole] != "worker" || in.Tags["Name"] != "shape-worker" {
			t.Errorf("instance tags %v", in.Tags)
		}
		ud, err := base64.StdEncoding.DecodeString(in.UserData)
		if err != nil || len(ud) > bootstrap.MaxUserData || !strings.Contains(string(ud), "shutdown -h now") || !strings.Contains(string(ud), "BURST_TARGET='aws'") {
			t.Errorf("user data (%d bytes, %v) is not the AWS bootstrap under 16 KB", len(ud), err)
		}
		if !slices.Contains([]string{"m7i.large", "m6i.large"}, in.Type) {
			t.Errorf("instance type %s not offered", in.Type)
		}
	}
	sg := sgs[0].Data.(*simec2.SecurityGroup)
	var self, ssh, dask bool
	for _, p := range sg.Ingress {
		for _, c := range p.CIDRs {
			if c != "203.0.113.7/32" {
				t.Errorf("ingress %+v opens to %s, want only the allowed CIDR", p, c)
			}
		}
		switch {
		case p.Protocol == "-1" && slices.Equal(p.Groups, []string{sgs[0].ID}):
			self = true
		case p.Protocol == "tcp" && p.FromPort == 22 && p.ToPort == 22 && slices.Equal(p.CIDRs, []string{"203.0.113.7/32"}):
			ssh = true
		case p.Protocol == "tcp" && p.FromPort == 8786 && p.ToPort == 8787 && slices.Equal(p.CIDRs, []string{"203.0.113.7/32"}):
			dask = true
		}
	}
	if !self || !ssh || !dask {
		t.Errorf("ingress %+v: want all traffic from the group, SSH and Dask from 203.0.113.7/32", sg.Ingress)
	}
	key := e.p.KeyPath("shape", "us-east-1")
	st, err := os.Stat(key)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("private key %s: %v, mode %v; want 0600", key, err, st)
	}
	if b, _ := os.ReadFile(key); !strings.Contains(string(b), "PRIVATE KEY") {
		t.Errorf("key file holds %q", b)
	}
	// A second launch of another role reuses the group and key.
	if _, err := e.p.Launch(ctx(t), launchReq("shape", 1, "shape-w-2", offs...)); err != nil {
		t.Fatal(err)
	}
	if n, _ := e.count("CreateSecurityGroup", ""); n != 1 {
		t.Errorf("CreateSecurityGroup called %d times, want 1", n)
	}
	if n, _ := e.count("CreateKeyPair", ""); n != 1 {
		t.Errorf("CreateKeyPair called %d times, want 1", n)
	}
}

// TestGuestShutdownTerminates: the watchdog's `shutdown -h now` ends the
// instance for good (InstanceInitiatedShutdownBehavior=terminate), so
// nothing bills after a machine removes itself.
func TestGuestShutdownTerminates(t *testing.T) {
	e := newEnv(t)
	res, err := e.p.Launch(ctx(t), launchReq("gs", 1, "gs-w-1", offering("us-east-1", "c7g.large", "spot")))
	if err != nil || len(res.Machines) != 1 {
		t.Fatalf("Launch: %v %v", res, err)
	}
	if st, _ := e.sim.GuestShutdown(res.Machines[0].ID); st != cloudsim.Terminated {
		t.Fatalf("after guest shutdown the instance is %s, want terminated", st)
	}
	if res.Machines[0].Capacity != catalog.Spot {
		t.Errorf("capacity %s, want spot", res.Machines[0].Capacity)
	}
	f := e.sim.Fleets()[0]
	if f.CapacityType != "spot" || f.Strategy != "price-capacity-optimized" {
		t.Errorf("spot fleet %+v: want price-capacity-optimized", f)
	}
}

// TestThrottleStormNoDuplicates: a CreateFleet throttled five times in a row
// is retried whole with the same ClientToken and launches exactly once; a
// fleet whose answer is lost after it launched (500 after the fact) is
// retried and returns the same instances.
func TestThrottleStormNoDuplicates(t *testing.T) {
	e := newEnv(t)
	o := offering("us-east-1", "m7i.large", "on-demand")
	e.model.Inject(cloudsim.Fault{Kind: cloudsim.KindThrottle, Service: simec2.ServiceEC2, Action: "CreateFleet", Times: 5})
	res, err := e.p.Launch(ctx(t), launchReq("storm", 7, "storm-w-1", o))
	if err != nil || len(res.Machines) != 7 {
		t.Fatalf("Launch under a throttle storm = %d machines, %v", len(res.Machines), err)
	}
	if all, throttled := e.count("CreateFleet", "RequestLimitExceeded"); all != 6 || throttled != 5 {
		t.Errorf("CreateFleet calls = %d (%d throttled), want 6 (5)", all, throttled)
	}
	if n := len(live(e.model, "storm")); n != 7 {
		t.Fatalf("model has %d instances, want 7", n)
	}

	e.sim.FailAfter("CreateFleet", http.StatusInternalServerError)
	res2, err := e.p.Launch(ctx(t), launchReq("storm", 5, "storm-w-2", o))
	if err != nil || len(res2.Machines) != 5 {
		t.Fatalf("Launch with a lost answer = %d machines, %v", len(res2.Machines), err)
	}
	if n := len(live(e.model, "storm")); n != 12 {
		t.Fatalf("model has %d instances after a lost answer, want 12 (no duplicates)", n)
	}
	if n := len(e.sim.Fleets()); n != 2 {
		t.Errorf("fleets = %d, want 2", n)
	}

	// Retries run out: ErrThrottled, nothing launched.
	e.model.Inject(cloudsim.Fault{Kind: cloudsim.KindThrottle, Service: simec2.ServiceEC2, Action: "CreateFleet", Times: 8})
	_, err = e.p.Launch(ctx(t), launchReq("storm", 3, "storm-w-3", o))
	if !errors.Is(err, provider.ErrThrottled) {
		t.Fatalf("Launch after 8 throttles: %v, want ErrThrottled", err)
	}
	if n := len(live(e.model, "storm")); n != 12 {
		t.Errorf("model has %d instances, want 12", n)
	}
}

// TestOverridesAndRegions: overrides are types x one subnet per zone,
// capped at 60; a region's shortfall goes to the next region's offerings;
// a stocked-out zone is reported with its zone.
func TestOverridesAndRegions(t *testing.T) {
	e := newEnv(t)
	var offs []plan.Offering
	for _, ty := range simec2.Types() {
		if ty.GPUs == 0 && !ty.Burstable && ty.Arch == "x86_64" && len(offs) < 25 {
			offs = append(offs, offering("us-east-1", ty.Name, "spot"))
		}
	}
	res, err := e.p.Launch(ctx(t), launchReq("wide", 10, "wide-w-1", offs...))
	if err != nil || len(res.Machines) != 10 {
		t.Fatalf("Launch = %d, %v", len(res.Machines), err)
	}
	if f := e.sim.Fleets()[0]; f.Overrides != aws.MaxOverrides {
		t.Errorf("overrides = %d, want the cap %d (25 types x 3 zones)", f.Overrides, aws.MaxOverrides)
	}

	// us-east-1 has 2 m7i.large spot in zone a and none elsewhere; the
	// rest comes from us-west-2.
	east, west := offering("us-east-1", "m7i.large", "spot"), offering("us-west-2", "m7i.large", "spot")
	e.setCapacity(east, 2)
	res, err = e.p.Launch(ctx(t), launchReq("spill", 6, "spill-w-1", east, west))
	if err != nil || len(res.Machines) != 6 {
		t.Fatalf("Launch across regions = %d, %v", len(res.Machines), err)
	}
	byRegion := map[string]int{}
	for _, m := range res.Machines {
		byRegion[m.Region]++
	}
	if byRegion["us-east-1"] != 2 || byRegion["us-west-2"] != 4 {
		t.Errorf("machines by region %v, want 2 in us-east-1, 4 in us-west-2", byRegion)
	}
	var zones []string
	for _, f := range res.Failures {
		if !errors.Is(f.Err, provider.ErrNoCapacity) || f.Offering.Region != "us-east-1" {
			t.Errorf("unexpected failure %v", f)
		}
		zones = append(zones, f.Offering.Zone)
	}
	slices.Sort(zones)
	if !slices.Equal(zones, []string{"us-east-1a", "us-east-1b", "us-east-1c"}) {
		t.Errorf("failures name zones %v, want each zone of us-east-1 once", zones)
	}
	// Each region got its own network.
	if n := len(e.model.Resources(simec2.KindSecurityGroup, func(r *cloudsim.Resource) bool { return r.Tags[provider.TagCluster] == "spill" })); n != 2 {
		t.Errorf("security groups of spill = %d, want one per region", n)
	}
}

// TestWholeRegionDry: when every zone of a region-level offering is out,
// the failure also names the offering itself, so the engine blocks it.
func TestWholeRegionDry(t *testing.T) {
	e := newEnv(t)
	o := offering("us-east-1", "c7i.large", "on-demand")
	e.setCapacity(o, 0)
	res, err := e.p.Launch(ctx(t), launchReq("dry", 2, "dry-w-1", o))
	if err != nil || len(res.Machines) != 0 {
		t.Fatalf("Launch = %v, %v", res, err)
	}
	if !slices.ContainsFunc(res.Failures, func(f provider.OfferingError) bool {
		return f.Offering.Zone == "" && errors.Is(f.Err, provider.ErrNoCapacity)
	}) {
		t.Errorf("failures %v lack a region-level no-capacity entry", res.Failures)
	}
}

// TestVcpuLimitExceededAtLaunch: a fleet refused for quota yields ErrQuota
// naming the quota and the vCPUs the launch needed.
func TestVcpuLimitExceededAtLaunch(t *testing.T) {
	e := newEnv(t)
	simec2.SetVCPUQuota(e.model, "us-east-1", simec2.QuotaOnDemandStandard, 8)
	res, err := e.p.Launch(ctx(t), launchReq("quota", 5, "quota-w-1", offering("us-east-1", "m7i.large", "on-demand")))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Failures) == 0 || !errors.Is(res.Failures[0].Err, provider.ErrQuota) {
		t.Fatalf("failures %v: want ErrQuota", res.Failures)
	}
	msg := res.Failures[0].Err.Error()
	for _, want := range []string{"VcpuLimitExceeded", "L-1216C47A", "10 vCPUs"} {
		if !strings.Contains(msg, want) {
			t.Errorf("quota error %q does not mention %q", msg, want)
		}
	}
	if provider.ScopeOf(res.Failures[0].Err) != provider.ScopeRegion {
		t.Errorf("quota scope %v, want region", provider.ScopeOf(res.Failures[0].Err))
	}
}

// TestClientSideLimiter: calls of a family wait for the family's bucket,
// so burst slows itself before EC2 throttles it. (Whether EC2's own bucket
// then never throttles depends on scheduling jitter, which a loaded test
// machine has plenty of; the benchmark measures it.)
func TestClientSideLimiter(t *testing.T) {
	e := newEnv(t, withOptions(func(o *aws.Options) {
		o.Throttles = map[string]aws.Bucket{aws.FamilyDescribe: {Size: 2, Rate: 20}}
	}))
	start := time.Now()
	for i := 0; i < 7; i++ {
		if _, err := e.p.Machines(ctx(t), provider.Filter{Cluster: "lim"}); err != nil {
			t.Fatal(err)
		}
	}
	// Each listing of a cluster is two describes (head, workers): 2 at
	// once, then 12 more at 18/s (90% of 20): at least 660 ms.
	if d := time.Since(start); d < 640*time.Millisecond {
		t.Errorf("14 describes took %v; the limiter did not pace them", d)
	}
	// The calls reached EC2 paced: the last of 14 at least 12/18 s after
	// the first.
	reqs := e.model.Requests()
	if len(reqs) != 14 || reqs[13].Time.Sub(reqs[0].Time) < 640*time.Millisecond {
		t.Errorf("%d calls over %v; want 14 over at least 640ms", len(reqs), reqs[len(reqs)-1].Time.Sub(reqs[0].Time))
	}
}

// TestReusedToken: Launch is idempotent per token even when EC2 would not
// be. The same Launch again gets EC2's replay of the first answer. The
// same token with another request (other offerings, other tags: a run
// restarted with the engine's token but a new launch template or a new
// time in its tags) is refused by EC2 with IdempotentParameterMismatch;
// burst then returns the machines the token launched, found by their
// burst-launch tag, and launches none. If EC2 lists none of them (a
// launch too recent to be listed), the refusal is ErrInvalid, saying what
// happened.
func TestReusedToken(t *testing.T) {
	e := newEnv(t)
	m7i := offering("us-east-1", "m7i.large", "on-demand")
	first, err := e.p.Launch(ctx(t), launchReq("tok", 2, "tok-w-1", m7i))
	if err != nil || len(first.Machines) != 2 {
		t.Fatalf("Launch: %d machines, %v", len(first.Machines), err)
	}
	for _, in := range live(e.model, "tok") {
		if !strings.HasPrefix(in.Tags[aws.TagLaunch], "tok-w-1-") || in.Tags[aws.TagLaunch] != e.sim.Fleets()[0].ClientToken {
			t.Errorf("instance %s tags %v: want %s = the fleet's client token", in.ID, in.Tags, aws.TagLaunch)
		}
	}
	ids := func(ms []provider.Machine) string {
		var out []string
		for _, m := range ms {
			out = append(out, m.ID)
		}
		slices.Sort(out)
		return strings.Join(out, ",")
	}
	again, err := e.p.Launch(ctx(t), launchReq("tok", 2, "tok-w-1", m7i))
	if err != nil || ids(again.Machines) != ids(first.Machines) {
		t.Fatalf("the same Launch again: %+v, %v; want the first machines", again, err)
	}
	other, err := e.p.Launch(ctx(t), launchReq("tok", 2, "tok-w-1", offering("us-east-1", "m6i.large", "on-demand")))
	if err != nil || ids(other.Machines) != ids(first.Machines) {
		t.Fatalf("the token with other offerings: %+v, %v; want the first machines", other, err)
	}
	req := launchReq("tok", 2, "tok-w-1", m7i)
	req.Tags[provider.TagCreated] = "1795341601"
	retagged, err := e.p.Launch(ctx(t), req)
	if err != nil || ids(retagged.Machines) != ids(first.Machines) {
		t.Fatalf("the token with other tags: %+v, %v; want the first machines", retagged, err)
	}
	if _, failed := e.count("CreateFleet", "IdempotentParameterMismatch"); failed != 2 {
		t.Errorf("CreateFleet answered IdempotentParameterMismatch %d times, want 2 (not retried)", failed)
	}
	if n := len(e.sim.Fleets()); n != 1 || len(live(e.model, "tok")) != 2 {
		t.Errorf("%d fleets, %d machines; want the first fleet's 2", n, len(live(e.model, "tok")))
	}

	// EC2 lists none of the first launch's instances (as just after a
	// launch): nothing to return, and nothing may be launched twice.
	e.model.Delete(strings.Split(ids(first.Machines), ","))
	_, err = e.p.Launch(ctx(t), launchReq("tok", 2, "tok-w-1", offering("us-east-1", "m6i.large", "on-demand")))
	if !errors.Is(err, provider.ErrInvalid) {
		t.Fatalf("a reused token whose machines are not listed: %v, want ErrInvalid", err)
	}
	for _, want := range []string{"IdempotentParameterMismatch", "us-east-1", "2 x m6i.large", "ClientToken tok-w-1-", "lists none of that launch's instances", "launched nothing", "run the command again"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if n := len(e.sim.Fleets()); n != 1 {
		t.Errorf("%d fleets, want 1", n)
	}
}
