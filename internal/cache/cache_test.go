package cache

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/burstdev/burst/internal/plan"
	"github.com/burstdev/burst/pkg/spec"
)

func TestSpecRoundTrip(t *testing.T) {
	d := Dir{State: t.TempDir(), Cache: t.TempDir()}
	c := spec.Default("etl")
	in := spec.Input{IdleTimeout: "30m", Regions: []string{"us-east-1"}}
	in.Workers = spec.PoolInput{CPU: "8+", Memory: "32GiB", GPU: "a100:8", GPUMemory: "40GiB+", Arch: "x86_64", Disk: "200GiB", Spot: "spot-with-fallback", MaxPrice: "3.5", InstanceTypes: []string{"p4d.24xlarge"}}
	n := 12
	in.Workers.Count = &n
	in.Workload.Pip = []string{"pandas"}
	if err := in.ApplyTo(&c); err != nil {
		t.Fatal(err)
	}
	if err := d.SaveSpec(&c); err != nil {
		t.Fatal(err)
	}
	got, err := d.LoadSpec("etl")
	if err != nil || got == nil {
		t.Fatalf("LoadSpec: %v %v", got, err)
	}
	if !reflect.DeepEqual(*got, c) {
		t.Fatalf("round trip changed the spec:\n got %+v\nwant %+v", *got, c)
	}
	if got.Hash() != c.Hash() {
		t.Fatal("hash changed across the round trip")
	}
	if err := d.RemoveSpec("etl"); err != nil {
		t.Fatal(err)
	}
	if got, _ := d.LoadSpec("etl"); got != nil {
		t.Fatal("spec still there after RemoveSpec")
	}
	if err := d.RemoveSpec("etl"); err != nil {
		t.Fatal("removing twice must not fail")
	}
}

func TestCorruptSpecCountsAsNone(t *testing.T) {
	d := Dir{State: t.TempDir(), Cache: t.TempDir()}
	p := filepath.Join(d.State, "clusters", "x.json")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := d.LoadSpec("x"); got != nil || err != nil {
		t.Fatalf("corrupt cache: %v %v", got, err)
	}
}

func TestUnavailablePersistsAndExpires(t *testing.T) {
	d := Dir{State: t.TempDir(), Cache: t.TempDir()}
	now := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
	u := &plan.Unavailable{}
	k := plan.Key{Provider: "aws", InstanceType: "m7i.large", Zone: "us-east-1a", Capacity: "spot"}
	u.Mark(k, now.Add(3*time.Minute), "InsufficientInstanceCapacity")
	u.Mark(plan.Key{Provider: "gcp"}, now.Add(-time.Minute), "expired")
	if err := d.SaveUnavailable(u, now); err != nil {
		t.Fatal(err)
	}
	got := d.LoadUnavailable(now.Add(time.Minute))
	if len(got.Entries) != 1 || !got.Blocked(k, now.Add(time.Minute)) {
		t.Fatalf("loaded %+v", got.Entries)
	}
	if got := d.LoadUnavailable(now.Add(5 * time.Minute)); len(got.Entries) != 0 {
		t.Fatalf("expired entries loaded: %+v", got.Entries)
	}
}

func TestSites(t *testing.T) {
	d := Dir{State: t.TempDir(), Cache: t.TempDir()}
	if len(d.Sites("etl")) != 0 {
		t.Fatal("sites of an unknown cluster")
	}
	if err := d.AddSites("etl", map[string][]string{"aws": {"us-west-2"}}); err != nil {
		t.Fatal(err)
	}
	if err := d.AddSites("etl", map[string][]string{"aws": {"us-west-2", "eu-west-1"}, "gcp": {""}}); err != nil {
		t.Fatal(err)
	}
	got := d.Sites("etl")
	if len(got["aws"]) != 2 || got["aws"][1] != "eu-west-1" || len(got["gcp"]) != 0 {
		t.Fatalf("sites %v", got)
	}
	if err := d.RemoveSpec("etl"); err != nil {
		t.Fatal(err)
	}
	if len(d.Sites("etl")) != 0 {
		t.Fatal("RemoveSpec must forget the sites")
	}
}
