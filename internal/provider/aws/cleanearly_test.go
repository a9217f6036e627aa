package aws_test

import (
	"os"
	"slices"
	"testing"

	"github.com/burstdev/burst/internal/provider"
	"github.com/burstdev/burst/internal/provider/aws"
)

// kinds counts the cluster's resources by kind.
func resourceKinds(t *testing.T, e *env, cluster string) map[string]int {
	t.Helper()
	rs, err := e.p.Resources(ctx(t), provider.Filter{Cluster: cluster, Regions: []string{"us-east-1"}})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, r := range rs {
		out[r.Kind]++
	}
	return out
}

// TestCleanupEarly: the early clean-up deletes the launch templates and
// nothing a running instance or a later launch needs; Cleanup afterwards
// deletes the group and key pair it found without looking them up again;
// without an early clean-up, Cleanup looks everything up itself.
func TestCleanupEarly(t *testing.T) {
	e := newEnv(t)
	req := provider.PrepareRequest{Cluster: "early", Regions: []string{"us-east-1"}, Tags: map[string]string{provider.TagCluster: "early"}}
	if err := e.p.Prepare(ctx(t), req); err != nil {
		t.Fatal(err)
	}
	if _, err := e.p.Launch(ctx(t), launchReq("early", 2, "early-w-1", offering("us-east-1", "m7i.large", "on-demand"))); err != nil {
		t.Fatal(err)
	}
	if k := resourceKinds(t, e, "early"); k[aws.KindLaunchTemplate] == 0 || k[aws.KindSecurityGroup] != 1 || k[aws.KindKeyPair] != 1 {
		t.Fatalf("before: %v", k)
	}
	e.model.ResetRequests()
	if err := e.p.CleanupEarly(ctx(t), "early", []string{"us-east-1"}); err != nil {
		t.Fatal(err)
	}
	k := resourceKinds(t, e, "early")
	if k[aws.KindLaunchTemplate] != 0 || k[aws.KindSecurityGroup] != 1 || k[aws.KindKeyPair] != 1 {
		t.Fatalf("after CleanupEarly: %v, want the templates gone and the group and key pair kept", k)
	}
	if _, err := os.Stat(e.p.KeyPath("early", "us-east-1")); err != nil {
		t.Fatalf("the private key went early: %v", err)
	}
	ms, err := e.p.Machines(ctx(t), provider.Filter{Cluster: "early"})
	if err != nil || len(ms) != 2 || slices.ContainsFunc(ms, func(m provider.Machine) bool { return m.State == provider.Terminated }) {
		t.Fatalf("machines %v, %v: want both still there", ms, err)
	}
	ms, err = e.p.Machines(ctx(t), provider.Filter{Cluster: "early"})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.p.Terminate(ctx(t), ms); err != nil {
		t.Fatal(err)
	}
	e.model.ResetRequests()
	if err := e.p.Cleanup(ctx(t), "early", []string{"us-east-1"}); err != nil {
		t.Fatal(err)
	}
	for _, read := range []string{"DescribeSecurityGroups", "DescribeKeyPairs", "DescribeLaunchTemplates"} {
		if n, _ := e.count(read, ""); n != 0 {
			t.Errorf("Cleanup after CleanupEarly called %s %d times, want 0", read, n)
		}
	}
	if k := resourceKinds(t, e, "early"); len(k) != 0 {
		t.Fatalf("after Cleanup: %v, want nothing", k)
	}
	if _, err := os.Stat(e.p.KeyPath("early", "us-east-1")); !os.IsNotExist(err) {
		t.Fatalf("private key: %v, want it gone", err)
	}
}

// TestCleanupAfterALaunchLooksForItself: a launch between the early
// clean-up and Cleanup makes a template the early lookups do not know, so
// Cleanup looks everything up again and leaves nothing.
func TestCleanupAfterALaunchLooksForItself(t *testing.T) {
	e := newEnv(t)
	req := provider.PrepareRequest{Cluster: "late", Regions: []string{"us-east-1"}, Tags: map[string]string{provider.TagCluster: "late"}}
	if err := e.p.Prepare(ctx(t), req); err != nil {
		t.Fatal(err)
	}
	if _, err := e.p.Launch(ctx(t), launchReq("late", 1, "late-w-1", offering("us-east-1", "m7i.large", "on-demand"))); err != nil {
		t.Fatal(err)
	}
	if err := e.p.CleanupEarly(ctx(t), "late", []string{"us-east-1"}); err != nil {
		t.Fatal(err)
	}
	// The cluster still works: a launch after the early clean-up makes
	// its own template.
	if _, err := e.p.Launch(ctx(t), launchReq("late", 1, "late-w-2", offering("us-east-1", "m7i.large", "on-demand"))); err != nil {
		t.Fatalf("launch after the early clean-up: %v", err)
	}
	if k := resourceKinds(t, e, "late"); k[aws.KindLaunchTemplate] != 1 {
		t.Fatalf("after the launch: %v, want its template", k)
	}
	ms, err := e.p.Machines(ctx(t), provider.Filter{Cluster: "late"})
	if err != nil || len(ms) != 2 {
		t.Fatalf("machines %v, %v", ms, err)
	}
	if err := e.p.Terminate(ctx(t), ms); err != nil {
		t.Fatal(err)
	}
	if err := e.p.Cleanup(ctx(t), "late", []string{"us-east-1"}); err != nil {
		t.Fatal(err)
	}
	if k := resourceKinds(t, e, "late"); len(k) != 0 {
		t.Fatalf("after Cleanup: %v, want nothing", k)
	}
}
