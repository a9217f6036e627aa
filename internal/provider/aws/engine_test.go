package aws_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/burstdev/burst/internal/catalog"
	"github.com/burstdev/burst/internal/cloudsim"
	simec2 "github.com/burstdev/burst/internal/cloudsim/ec2"
	"github.com/burstdev/burst/internal/plan"
	"github.com/burstdev/burst/internal/provider"
	"github.com/burstdev/burst/internal/provider/aws"
	"github.com/burstdev/burst/internal/provision"
	"github.com/burstdev/burst/pkg/spec"
)

// engineFor runs the provision engine on the env's provider, planning with
// plan.Make over cat, as `burst up` does.
func engineFor(e *env, cat *catalog.Catalog, un *plan.Unavailable) *provision.Engine {
	return &provision.Engine{
		Provider: func(ctx context.Context, name string) (provider.Provider, error) {
			if name != aws.Name {
				return nil, fmt.Errorf("no provider %s", name)
			}
			return e.p, nil
		},
		Unavailable: un, Owner: "tester", PollInterval: time.Millisecond, WaitTimeout: 20 * time.Second,
		Sleep: func(ctx context.Context, d time.Duration) error { time.Sleep(d); return ctx.Err() },
		Replan: func(c *spec.Cluster, site plan.Site) (*plan.Plan, error) {
			return plan.Make(c, cat, plan.Options{Unavailable: un, Now: time.Now(), Site: site})
		},
	}
}

func cluster(name string, workers int, policy spec.SpotPolicy) *spec.Cluster {
	c := spec.Default(name)
	c.Providers, c.Regions = []string{aws.Name}, []string{"us-east-1"}
	c.Workers.Count, c.Workers.Spot = workers, policy
	return &c
}

// TestEngineUpScaleDown drives `burst up`, `scale` and `down` through the
// engine against the simulator: spot-with-fallback launches spot until the
// spot pools run dry (one pool has 12 machines, the rest none), marks the
// dry offerings unavailable, fills the shortfall on demand, scales down,
// and down leaves nothing behind.
func TestEngineUpScaleDown(t *testing.T) {
	e := newEnv(t)
	cat, err := e.p.Catalog(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	c := cluster("e2e", 20, spec.SpotWithFallback)
	un := &plan.Unavailable{}
	pl, err := plan.Make(c, cat, plan.Options{Unavailable: un, Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	spotGroup := pl.Workers()[0]
	if spotGroup.Capacity != catalog.Spot || !pl.Workers()[1].Fallback {
		t.Fatalf("plan workers %+v: want a spot leg and an on-demand fallback", pl.Workers())
	}
	// Spot: 12 machines in the first offering's pool, none anywhere else.
	for _, ty := range e.model.Types() {
		for _, z := range e.model.Zones("us-east-1") {
			e.model.SetCapacity(cloudsim.PoolKey{Type: ty.Name, Zone: z, Capacity: cloudsim.Spot}, 0)
		}
	}
	first := spotGroup.Offerings[0]
	e.model.SetCapacity(cloudsim.PoolKey{Type: first.InstanceType, Zone: "us-east-1b", Capacity: cloudsim.Spot}, 12)

	eng := engineFor(e, cat, un)
	res, err := eng.Up(ctx(t), c, pl, provision.WaitMachines)
	if err != nil {
		t.Fatalf("Up: %v", err)
	}
	var spot, od int
	for _, m := range res.Machines {
		if m.Role != spec.RoleWorker {
			continue
		}
		if m.Capacity == catalog.Spot {
			spot++
		} else {
			od++
		}
	}
	if res.Head == nil || spot != 12 || od != 8 || res.Workers() != 20 {
		t.Fatalf("after up: head %v, %d spot + %d on-demand workers (%d), want 12 + 8", res.Head, spot, od, res.Workers())
	}
	if !un.Blocked(plan.Key{Provider: aws.Name, InstanceType: first.InstanceType, Region: "us-east-1", Zone: "us-east-1a", Capacity: catalog.Spot}, time.Now()) {
		t.Errorf("the dry zone us-east-1a of %s is not marked unavailable: %+v", first.InstanceType, un.Entries)
	}
	if !un.Blocked(spotGroup.Offerings[1].Key(), time.Now()) {
		t.Errorf("the dry second spot offering %s is not marked unavailable", spotGroup.Offerings[1])
	}
	if res.SchedulerAddress == "" {
		t.Errorf("no scheduler address")
	}
	fleets := len(e.sim.Fleets())

	// Up again changes nothing.
	res, err = eng.Up(ctx(t), c, pl, provision.WaitMachines)
	if err != nil || res.Launched != 0 || res.Terminated != 0 || len(e.sim.Fleets()) != fleets {
		t.Fatalf("second Up: launched %d, terminated %d, fleets %d -> %d, %v", res.Launched, res.Terminated, fleets, len(e.sim.Fleets()), err)
	}

	c.Workers.Count = 5
	res, err = eng.Up(ctx(t), c, pl, provision.WaitMachines)
	if err != nil || res.Terminated != 15 || res.Workers() != 5 {
		t.Fatalf("scale to 5: terminated %d, %d workers, %v", res.Terminated, res.Workers(), err)
	}

	if _, err := eng.Down(ctx(t), c.Name, []string{aws.Name}); err != nil {
		t.Fatalf("Down: %v", err)
	}
	if leaks := e.model.Leaks(provider.TagCluster); len(leaks) != 0 {
		t.Errorf("leaks after down: %v", leaks)
	}
}

// TestEngineQuotaPreflight: `burst up` refuses with exit 3 before creating
// anything when the vCPU quota cannot hold the plan.
func TestEngineQuotaPreflight(t *testing.T) {
	e := newEnv(t)
	cat, err := e.p.Catalog(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	simec2.SetVCPUQuota(e.model, "us-east-1", simec2.QuotaOnDemandStandard, 32)
	c := cluster("pq", 20, spec.OnDemand)
	un := &plan.Unavailable{}
	pl, err := plan.Make(c, cat, plan.Options{Unavailable: un, Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	_, err = engineFor(e, cat, un).Up(ctx(t), c, pl, provision.WaitMachines)
	if !errors.Is(err, provider.ErrQuota) {
		t.Fatalf("Up over quota: %v, want ErrQuota (exit 3)", err)
	}
	for _, a := range []string{"CreateFleet", "CreateSecurityGroup", "CreateKeyPair", "CreateLaunchTemplate"} {
		if n, _ := e.count(a, ""); n != 0 {
			t.Errorf("%s called %d times before the quota refusal", a, n)
		}
	}
}

// TestUpDownUp: `up` again a minute after `down` starts from the same
// observation (no machines) in the same 15-minute bucket, so the engine
// gives it the launch tokens of the first `up`; `down` removed the security
// group, so the launch template is new, and EC2 refuses the reused tokens
// (IdempotentParameterMismatch). The provider returns what the tokens
// launched (terminated), the engine moves to its next attempt with new
// tokens, and the cluster comes up.
func TestUpDownUp(t *testing.T) {
	clock := cloudsim.NewClock(time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC))
	e := newEnv(t, withClock(clock))
	cat, err := e.p.Catalog(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	eng := gcEngine(e, cat)
	c := cluster("again", 2, spec.OnDemand)
	first := up(t, e, eng, cat, c)
	if _, err := eng.Down(ctx(t), c.Name, []string{aws.Name}); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Minute)
	second := up(t, e, eng, cat, c)
	if second.Workers() != 2 || second.Head.ID == first.Head.ID {
		t.Fatalf("up after down: head %s (was %s), %d workers", second.Head.ID, first.Head.ID, second.Workers())
	}
	if n := len(e.sim.Fleets()); n != 4 {
		t.Errorf("%d fleets, want 2 per up", n)
	}
	if _, n := e.count("CreateFleet", "IdempotentParameterMismatch"); n != 2 {
		t.Errorf("%d CreateFleet calls refused, want the head's and the workers' first", n)
	}
}
