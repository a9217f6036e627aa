package gcp

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/burstdev/burst/internal/catalog"
	"github.com/burstdev/burst/internal/cloudsim"
	"github.com/burstdev/burst/internal/plan"
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

// TestPrepareSplitsAddressFamilies: GCE takes IPv4 or IPv6 source ranges
// in a rule, not both, so the caller's IPv6 ranges get their own rule; a
// family the caller no longer uses loses its rule.
func TestPrepareSplitsAddressFamilies(t *testing.T) {
	e := newSim(t, func(_ *cloudsim.Config, o *Options) {
		o.AllowedCIDRs = []string{"198.51.100.0/24", "2001:db8::/64", "2001:db8:1::9"}
	})
	req := provider.PrepareRequest{Cluster: "dual", Tags: map[string]string{provider.TagCluster: "dual"}}
	if err := e.p.Prepare(ctxT(t), req); err != nil {
		t.Fatalf("Prepare with IPv4 and IPv6 ranges: %v", err)
	}
	v4, ok4 := e.srv.Firewall("burst-dual-client")
	v6, ok6 := e.srv.Firewall("burst-dual-client6")
	if !ok4 || !ok6 || !slices.Equal(v4.GetSourceRanges(), []string{"198.51.100.0/24"}) ||
		!slices.Equal(v6.GetSourceRanges(), []string{"2001:db8::/64", "2001:db8:1::9/128"}) {
		t.Fatalf("client rules: %v, %v", v4, v6)
	}
	if !slices.Equal(v6.GetAllowed()[0].GetPorts(), v4.GetAllowed()[0].GetPorts()) || !slices.Equal(v6.GetTargetTags(), []string{"burst-dual"}) {
		t.Errorf("the IPv6 rule differs: %v", v6)
	}
	rs, err := e.p.Resources(ctxT(t), provider.Filter{Cluster: "dual"})
	if err != nil || len(rs) != 3 {
		t.Errorf("Resources: %v, %v; want the three rules", rs, err)
	}
	// The caller is now on IPv4 only: the IPv6 rule goes.
	e.p.opts.AllowedCIDRs = []string{"192.0.2.1"}
	if err := e.p.Prepare(ctxT(t), req); err != nil {
		t.Fatal(err)
	}
	if _, ok := e.srv.Firewall("burst-dual-client6"); ok {
		t.Error("the IPv6 rule of an address no longer used is still there")
	}
	// And on IPv6 only, as detected.
	e.p.opts.AllowedCIDRs = nil
	e.p.opts.IPDetectURL = ipv6Detector(t)
	if err := e.p.Prepare(ctxT(t), req); err != nil {
		t.Fatal(err)
	}
	v6, ok6 = e.srv.Firewall("burst-dual-client6")
	if _, ok4 := e.srv.Firewall("burst-dual-client"); ok4 || !ok6 || !slices.Equal(v6.GetSourceRanges(), []string{"2001:db8::7/128"}) {
		t.Errorf("after moving to IPv6: IPv4 rule kept %v, IPv6 rule %v", ok4, v6)
	}
	if err := e.p.Cleanup(ctxT(t), "dual", nil); err != nil {
		t.Fatal(err)
	}
	if leaks := e.model.Leaks(provider.TagCluster); len(leaks) != 0 {
		t.Errorf("left %v", leaks)
	}
}

// ipv6Detector is an address-detection endpoint answering an IPv6 address.
func ipv6Detector(t *testing.T) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("2001:db8::7\n")) }))
	t.Cleanup(srv.Close)
	return srv.URL
}

// preflightFor runs a Preflight for a cluster with one small group.
func preflightFor(t *testing.T, e *simEnv, cluster string) {
	t.Helper()
	g := plan.Group{Count: 1, Offerings: []plan.Offering{offering(t, "e2-standard-2", "us-central1", catalog.OnDemand)}}
	if err := e.p.Preflight(ctxT(t), provider.PreflightRequest{Cluster: cluster, Groups: []plan.Group{g}}); err != nil {
		t.Fatalf("Preflight: %v", err)
	}
}

// Preflight reads the cluster's rules for Prepare, which then neither
// reads them again nor deletes the IPv6 rule it found missing.
func TestPrepareUsesPreflightRuleReads(t *testing.T) {
	e := newSim(t)
	preflightFor(t, e, "la")
	req := provider.PrepareRequest{Cluster: "la", Regions: []string{"us-central1"}, Tags: map[string]string{provider.TagCluster: "la"}}
	if err := e.p.Prepare(ctxT(t), req); err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	if n := e.model.Count("compute.firewalls.get"); n != len(ruleNames("la")) {
		t.Errorf("%d firewalls.get, want the lookahead's %d only", n, len(ruleNames("la")))
	}
	if n := e.model.Count("compute.firewalls.delete"); n != 0 {
		t.Errorf("%d firewalls.delete of a rule the lookahead found missing", n)
	}
	for _, name := range []string{"burst-la-internal", "burst-la-client"} {
		if _, ok := e.srv.Firewall(name); !ok {
			t.Errorf("no rule %s", name)
		}
	}
	// The lookahead is used once: the next Prepare reads for itself.
	if err := e.p.Prepare(ctxT(t), req); err != nil {
		t.Fatalf("second Prepare: %v", err)
	}
	if n := e.model.Count("compute.firewalls.get"); n != len(ruleNames("la"))+2 {
		t.Errorf("%d firewalls.get after a second Prepare, want %d", n, len(ruleNames("la"))+2)
	}
}

// A rule made after the lookahead found it missing is read and patched,
// not an error.
func TestPrepareAfterStaleRuleRead(t *testing.T) {
	e := newSim(t)
	preflightFor(t, e, "st")
	e.p.mu.Lock()
	la := e.p.ahead["st"]
	delete(e.p.ahead, "st")
	e.p.mu.Unlock()
	<-la.done
	req := provider.PrepareRequest{Cluster: "st", Regions: []string{"us-central1"}, Tags: map[string]string{provider.TagCluster: "st"}}
	// Someone else makes the rules meanwhile, for another address.
	e.p.opts.AllowedCIDRs = []string{"198.51.100.0/24"}
	e.p.mu.Lock()
	e.p.cidrs = nil // the preflight's address reading is not theirs
	e.p.mu.Unlock()
	if err := e.p.Prepare(ctxT(t), req); err != nil {
		t.Fatalf("other Prepare: %v", err)
	}
	e.p.opts.AllowedCIDRs = nil
	e.p.mu.Lock()
	e.p.ahead["st"] = la
	e.p.mu.Unlock()
	if err := e.p.Prepare(ctxT(t), req); err != nil {
		t.Fatalf("Prepare with a stale lookahead: %v", err)
	}
	client, _ := e.srv.Firewall("burst-st-client")
	if !slices.Equal(client.GetSourceRanges(), []string{callerIP + "/32"}) {
		t.Errorf("client rule allows %v, want the caller %s", client.GetSourceRanges(), callerIP)
	}
	if n := e.model.Count("compute.firewalls.patch"); n != 1 {
		t.Errorf("%d patches, want 1", n)
	}
}

// A lookahead older than lookaheadTTL is not used.
func TestPrepareIgnoresOldRuleReads(t *testing.T) {
	e := newSim(t)
	preflightFor(t, e, "old")
	e.p.mu.Lock()
	la := e.p.ahead["old"]
	e.p.mu.Unlock()
	<-la.done
	e.clock.Advance(2 * lookaheadTTL)
	req := provider.PrepareRequest{Cluster: "old", Regions: []string{"us-central1"}, Tags: map[string]string{provider.TagCluster: "old"}}
	if err := e.p.Prepare(ctxT(t), req); err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	if n := e.model.Count("compute.firewalls.get"); n != len(ruleNames("old"))+2 {
		t.Errorf("%d firewalls.get, want the lookahead's %d and Prepare's 2", n, len(ruleNames("old")))
	}
}
