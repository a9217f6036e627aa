package gcp

import (
	"errors"
	"slices"
	"testing"

	"github.com/burstdev/burst/internal/cloudsim"
	"github.com/burstdev/burst/internal/provider"
)

func TestPrepareFirewallRules(t *testing.T) {
	e := newSim(t)
	req := provider.PrepareRequest{Cluster: "fw", Regions: []string{"us-central1"}, Tags: map[string]string{provider.TagCluster: "fw", provider.TagOwner: "Ana.B"}}
	if err := e.p.Prepare(ctxT(t), req); err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	client, ok := e.srv.Firewall("burst-fw-client")
	if !ok {
		t.Fatal("no client rule")
	}
	if !slices.Equal(client.GetSourceRanges(), []string{callerIP + "/32"}) || !slices.Equal(client.GetTargetTags(), []string{"burst-fw"}) {
		t.Errorf("client rule sources %v targets %v", client.GetSourceRanges(), client.GetTargetTags())
	}
	if ports := client.GetAllowed()[0].GetPorts(); !slices.Equal(ports, []string{"22", "8786", "8787"}) || client.GetAllowed()[0].GetIPProtocol() != "tcp" {
		t.Errorf("client rule allows %v", client.GetAllowed())
	}
	internal, ok := e.srv.Firewall("burst-fw-internal")
	if !ok || !slices.Equal(internal.GetSourceTags(), []string{"burst-fw"}) || len(internal.GetSourceRanges()) != 0 || len(internal.GetAllowed()) != 3 {
		t.Fatalf("internal rule %v", internal)
	}
	for _, fw := range e.model.Resources("firewall", nil) {
		if fw.Tags[provider.TagCluster] != "fw" || fw.Tags[provider.TagOwner] != "ana_b" {
			t.Errorf("rule %s carries tags %v", fw.ID, fw.Tags)
		}
	}
	// Idempotent; a new caller address is patched in.
	if err := e.p.Prepare(ctxT(t), req); err != nil {
		t.Fatalf("second Prepare: %v", err)
	}
	if n := e.model.Count("compute.firewalls.insert"); n != 2 {
		t.Errorf("%d inserts after two Prepares, want 2", n)
	}
	e.p.opts.AllowedCIDRs = []string{"198.51.100.0/24", "192.0.2.9"}
	if err := e.p.Prepare(ctxT(t), req); err != nil {
		t.Fatalf("third Prepare: %v", err)
	}
	client, _ = e.srv.Firewall("burst-fw-client")
	if !slices.Equal(client.GetSourceRanges(), []string{"198.51.100.0/24", "192.0.2.9/32"}) || e.model.Count("compute.firewalls.patch") != 1 {
		t.Errorf("after a CIDR change: sources %v, %d patches", client.GetSourceRanges(), e.model.Count("compute.firewalls.patch"))
	}
	if err := e.p.Cleanup(ctxT(t), "fw", nil); err != nil {
		t.Fatalf("Cleanup: %v", err)
	}
	if err := e.p.Cleanup(ctxT(t), "fw", nil); err != nil {
		t.Fatalf("second Cleanup: %v", err)
	}
	if leaks := e.model.Leaks(provider.TagCluster); len(leaks) != 0 {
		t.Errorf("left behind %v", leaks)
	}
}

func TestPrepareWithoutCallerAddress(t *testing.T) {
	e := newSim(t, func(_ *cloudsim.Config, o *Options) { o.IPDetectURL = "http://127.0.0.1:1/nothing-listens-here" })
	err := e.p.Prepare(ctxT(t), provider.PrepareRequest{Cluster: "noip", Tags: map[string]string{}})
	if !errors.Is(err, provider.ErrInvalid) {
		t.Fatalf("Prepare without a detectable address: %v, want ErrInvalid", err)
	}
	if rules := e.model.Resources("firewall", nil); len(rules) != 0 {
		t.Errorf("rules created without knowing whom to allow: %v", rules)
	}
}

func TestPrepareMissingNetwork(t *testing.T) {
	e := newSim(t, func(_ *cloudsim.Config, o *Options) { o.Network = "vpc-that-is-not" })
	err := e.p.Prepare(ctxT(t), provider.PrepareRequest{Cluster: "nonet", Tags: map[string]string{}})
	if !errors.Is(err, provider.ErrInvalid) {
		t.Fatalf("Prepare on a missing network: %v, want ErrInvalid", err)
	}
}

func TestRejectsBadCIDR(t *testing.T) {
	e := newSim(t, func(_ *cloudsim.Config, o *Options) { o.AllowedCIDRs = []string{"everyone"} })
	if err := e.p.Prepare(ctxT(t), provider.PrepareRequest{Cluster: "cidr", Tags: map[string]string{}}); !errors.Is(err, provider.ErrInvalid) {
		t.Fatalf("Prepare with a bad CIDR: %v", err)
	}
}
