package provision

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/burstdev/burst/internal/provider"
	"github.com/burstdev/burst/internal/provider/fake"
	"github.com/burstdev/burst/pkg/spec"
)

func TestOrphansAndCollect(t *testing.T) {
	h := newHarness(t)
	// healthy: a normal cluster, must never be collected.
	mustUp(t, h, cluster(2))
	// headless: its head was lost.
	headless := cluster(2, func(c *spec.Cluster) { c.Name = "headless" })
	mustUp(t, h, headless)
	// stopped: one worker stopped by a guest shutdown.
	stopped := cluster(1, func(c *spec.Cluster) { c.Name = "stopped" })
	mustUp(t, h, stopped)
	// expired: its deadline passed but its machines live on.
	expiredC := cluster(1, func(c *spec.Cluster) { c.Name = "expired"; c.MaxLifetime = time.Hour })
	mustUp(t, h, expiredC)
	// empty: a network whose machines are all gone.
	empty := cluster(1, func(c *spec.Cluster) { c.Name = "empty" })
	mustUp(t, h, empty)

	if err := h.fake.Terminate(context.Background(), h.fake.Live("headless", spec.RoleHead)); err != nil {
		t.Fatal(err)
	}
	h.fake.Stop(h.fake.Live("stopped", spec.RoleWorker)[0].ID)
	if err := h.fake.Terminate(context.Background(), h.fake.Live("empty", "")); err != nil {
		t.Fatal(err)
	}

	// Too young: nothing is collected yet, except the stopped machine and
	// nothing past a deadline.
	orphans, err := h.eng.Orphans(context.Background(), []string{fake.Name}, provider.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range orphans {
		if o.Reason != ReasonStopped {
			t.Fatalf("young resource collected: %+v", o)
		}
	}

	h.now = h.now.Add(2 * time.Hour) // past the grace and the expired cluster's deadline
	// The healthy cluster's deadline is 12h away; keep it healthy.
	orphans, err = h.eng.Orphans(context.Background(), []string{fake.Name}, provider.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, o := range orphans {
		got[o.Cluster+"/"+o.Kind] = o.Reason
		if o.Cluster == "test" {
			t.Fatalf("healthy cluster collected: %+v", o)
		}
	}
	want := map[string]string{
		"headless/machine": ReasonNoHead,
		"stopped/machine":  ReasonStopped,
		"expired/machine":  ReasonPastDeadline,
		"empty/network":    ReasonNoMachines,
		"headless/network": ReasonCollected,
		"expired/network":  ReasonCollected,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: reason %q, want %q (all: %v)", k, got[k], v, got)
		}
	}
	if err := h.eng.Collect(context.Background(), orphans); err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"headless", "expired"} {
		if n := len(h.fake.Live(c, "")); n != 0 {
			t.Errorf("%s still has %d live machines", c, n)
		}
	}
	if h.fake.Prepared("empty") || h.fake.Prepared("headless") || !h.fake.Prepared("test") || !h.fake.Prepared("stopped") {
		t.Error("gc must delete the networks of collected clusters and keep the others'")
	}
	if n := len(h.fake.Live("test", "")); n != 3 {
		t.Errorf("healthy cluster has %d machines after gc", n)
	}
}

func TestExpiredNeedsSlack(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	m := provider.Machine{Tags: map[string]string{provider.TagExpires: strconv.FormatInt(now.Unix(), 10)}}
	if expired(m, now.Add(30*time.Second)) || !expired(m, now.Add(2*time.Minute)) {
		t.Fatal("a machine is expired a minute after its deadline, not before")
	}
	if expired(provider.Machine{}, now) {
		t.Fatal("no deadline tag: never expired")
	}
}

// gc --region R must not take a global resource (GCE firewall rules) from a
// cluster that runs in another region.
func TestGlobalResourceOfAClusterElsewhereIsKept(t *testing.T) {
	h := newHarness(t)
	mustUp(t, h, cluster(1, func(c *spec.Cluster) { c.Name = "far"; c.Regions = []string{"fake-2"} }))
	h.now = h.now.Add(time.Hour)
	orphans, err := h.eng.Orphans(context.Background(), []string{fake.Name}, provider.Filter{Regions: []string{"fake-1"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(orphans) != 0 {
		t.Fatalf("gc --region fake-1 would collect %+v of a cluster running in fake-2", orphans)
	}
}

// gc --region R must not call workers headless when their head runs in
// another region.
func TestHeadInAnotherRegionKeepsWorkers(t *testing.T) {
	h := newHarness(t)
	mustUp(t, h, cluster(0, func(c *spec.Cluster) { c.Name = "split"; c.Regions = []string{"fake-2"} }))
	// Workers in fake-1, as an older burst or a user could have made.
	pl, _ := h.plan(cluster(2, func(c *spec.Cluster) { c.Name = "split"; c.Regions = []string{"fake-1"} }))
	if _, err := h.fake.Launch(context.Background(), provider.LaunchRequest{Cluster: "split", Role: spec.RoleWorker, Count: 2,
		Offerings: pl.Workers()[0].Offerings, Token: "split-w", Tags: map[string]string{provider.TagCluster: "split"}}); err != nil {
		t.Fatal(err)
	}
	h.now = h.now.Add(time.Hour)
	orphans, err := h.eng.Orphans(context.Background(), []string{fake.Name}, provider.Filter{Regions: []string{"fake-1"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(orphans) != 0 {
		t.Fatalf("gc --region fake-1 would collect %+v although the head runs in fake-2", orphans)
	}
}
