package gcp

import (
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"cloud.google.com/go/compute/apiv1/computepb"

	"github.com/burstdev/burst/internal/cloudsim"
	"github.com/burstdev/burst/internal/cloudsim/gce"
	"github.com/burstdev/burst/internal/provider"
	"github.com/burstdev/burst/pkg/spec"
)

// Security defaults, checked on what the simulator recorded (the rules,
// instances and metadata GCE would hold), not on burst's own view.

// GCE's documented naming rules: resource names (instances, disks,
// firewall rules) and network tags are RFC 1035 labels of 1-63
// characters; label keys start with a letter, keys and values use lower
// case letters, digits, "_" and "-", at most 63 characters, at most 64
// labels; a firewall description is at most 2048 characters.
var (
	gceNameRE     = regexp.MustCompile(`^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$`)
	gceLabelKeyRE = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,62}$`)
	gceLabelValRE = regexp.MustCompile(`^[a-z0-9_-]{0,63}$`)
)

// worldOpen reports whether an enabled ingress rule lets every address
// reach a TCP port: a /0 source range, or no source at all (GCE then
// applies 0.0.0.0/0).
func worldOpen(fw *computepb.Firewall, port int) bool {
	if fw.GetDisabled() || fw.GetDirection() != "" && fw.GetDirection() != "INGRESS" {
		return false
	}
	world := len(fw.GetSourceRanges()) == 0 && len(fw.GetSourceTags()) == 0 && len(fw.GetSourceServiceAccounts()) == 0
	for _, r := range fw.GetSourceRanges() {
		if _, n, err := net.ParseCIDR(r); err == nil {
			if ones, _ := n.Mask.Size(); ones == 0 {
				world = true
			}
		}
	}
	if !world {
		return false
	}
	for _, a := range fw.GetAllowed() {
		if a.GetIPProtocol() != "tcp" && a.GetIPProtocol() != "all" {
			continue
		}
		if len(a.GetPorts()) == 0 {
			return true
		}
		for _, p := range a.GetPorts() {
			lo, hi, isRange := strings.Cut(p, "-")
			if !isRange {
				hi = lo
			}
			l, err1 := strconv.Atoi(lo)
			h, err2 := strconv.Atoi(hi)
			if err1 == nil && err2 == nil && l <= port && port <= h {
				return true
			}
		}
	}
	return false
}

var daskPorts = []int{22, 8786, 8787}

// secretPatterns match credentials in any cloud's shape: AWS access keys,
// Google OAuth tokens and API keys, PEM private keys, service-account key
// files, Azure storage keys and SAS tokens, literal bearer tokens, and
// assignments of passwords or secrets.
var secretPatterns = []*regexp.Regexp{
	regexp.MustCompile(`\b(AKIA|ASIA)[0-9A-Z]{16}\b`),
	regexp.MustCompile(`ya29\.[0-9A-Za-z_-]{10,}`),
	regexp.MustCompile(`AIza[0-9A-Za-z_-]{35}`),
	regexp.MustCompile(`-----BEGIN [A-Z ]*PRIVATE KEY-----`),
	regexp.MustCompile(`"(private_key|private_key_id|client_secret|refresh_token)"`),
	regexp.MustCompile(`(?i)aws_secret_access_key|AccountKey=|SharedAccessSignature|[?&]sig=`),
	regexp.MustCompile(`Bearer [A-Za-z0-9._~+/-]{16,}`),
	regexp.MustCompile(`(?i)\b(password|passwd|secret)\s*[=:]\s*\S`),
}

// TestSecurityDefaults brings a Dask cluster with the longest valid name up
// through the engine, with credentials of every cloud in the environment,
// and checks what GCE would hold.
func TestSecurityDefaults(t *testing.T) {
	name := "nightly-feature-backfill-eu-2026"
	if len(name) != 32 || spec.ValidateName(name) != nil {
		t.Fatalf("%q is not the longest valid cluster name", name)
	}
	// Canaries: none of this may reach a machine.
	keyFile := filepath.Join(t.TempDir(), "sa.json")
	canaries := map[string]string{
		"AWS_ACCESS_KEY_ID":         "AKIACANARY7Q2W3E4R5T",
		"AWS_SECRET_ACCESS_KEY":     "canary/aws/Secret+Key0123456789abcdefghij",
		"AWS_SESSION_TOKEN":         "canary-aws-session-token-0123456789",
		"GOOGLE_OAUTH_ACCESS_TOKEN": "ya29.canary-google-access-token",
		"AZURE_CLIENT_SECRET":       "canary-azure-client-secret-0123",
		"BURST_GCP_TOKEN":           "canary-burst-env-token-0123",
	}
	for k, v := range canaries {
		t.Setenv(k, v)
	}
	if err := os.WriteFile(keyFile, []byte(`{"type":"service_account","private_key":"-----BEGIN PRIVATE KEY-----\ncanary-sa-key\n-----END PRIVATE KEY-----\n"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", keyFile)
	canaries["sa key"] = "canary-sa-key"

	e := newSim(t)
	eng, cat := engineFor(t, e)
	res := upCluster(t, e, eng, cat, name, 3, func(c *spec.Cluster) { c.Workload = spec.Default(name).Workload })

	// Firewall rules: nothing opens SSH or Dask to the world; the caller
	// alone reaches them.
	rules := e.model.Resources(gce.KindFirewall, nil)
	if len(rules) != 2 {
		t.Fatalf("%d firewall rules, want 2", len(rules))
	}
	for _, r := range rules {
		fw := r.Data.(*computepb.Firewall)
		for _, port := range daskPorts {
			if worldOpen(fw, port) {
				t.Errorf("rule %s opens port %d to the world: sources %v", fw.GetName(), port, fw.GetSourceRanges())
			}
		}
		if !gceNameRE.MatchString(fw.GetName()) || len(fw.GetDescription()) > 2048 {
			t.Errorf("rule name %q (%d characters) or description (%d) breaks GCE's rules", fw.GetName(), len(fw.GetName()), len(fw.GetDescription()))
		}
		for _, tag := range append(fw.GetTargetTags(), fw.GetSourceTags()...) {
			if !gceNameRE.MatchString(tag) {
				t.Errorf("rule %s: network tag %q breaks GCE's rules", fw.GetName(), tag)
			}
		}
	}
	client, _ := e.srv.Firewall(clientRule(name))
	if got := client.GetSourceRanges(); len(got) != 1 || got[0] != callerIP+"/32" {
		t.Errorf("client rule sources %v, want only the caller %s/32", got, callerIP)
	}

	if len(res.Machines) != 4 {
		t.Fatalf("%d machines, want 4", len(res.Machines))
	}
	for _, m := range res.Machines {
		in, rec, ok := e.srv.Instance(m.ID)
		if !ok {
			t.Fatalf("no instance %s", m.ID)
		}
		// Names GCE holds.
		if !gceNameRE.MatchString(in.GetName()) {
			t.Errorf("instance name %q (%d characters) breaks GCE's rules", in.GetName(), len(in.GetName()))
		}
		for _, d := range in.GetDisks() {
			if dn := lastSegment(d.GetSource()); !gceNameRE.MatchString(dn) {
				t.Errorf("disk name %q breaks GCE's rules", dn)
			}
		}
		for _, tag := range in.GetTags().GetItems() {
			if !gceNameRE.MatchString(tag) {
				t.Errorf("network tag %q breaks GCE's rules", tag)
			}
		}
		if len(in.GetLabels()) > 64 {
			t.Errorf("%s has %d labels", m.ID, len(in.GetLabels()))
		}
		for k, v := range in.GetLabels() {
			if !gceLabelKeyRE.MatchString(k) || !gceLabelValRE.MatchString(v) {
				t.Errorf("label %q=%q breaks GCE's rules", k, v)
			}
		}
		if in.GetLabels()[provider.TagCluster] != name {
			t.Errorf("%s: cluster label %q, want the full name", m.ID, in.GetLabels()[provider.TagCluster])
		}
		// Disks: GCE encrypts every disk at rest; burst keeps Google's keys
		// (no key material in the request) and the disk goes with the VM.
		if enc := rec.Attrs[gce.AttrDiskEncryption]; enc != "google-managed" {
			t.Errorf("%s: boot disk encryption %q", m.ID, enc)
		}
		if rec.Attrs[gce.AttrDiskAutoDelete] != "true" {
			t.Errorf("%s: boot disk outlives the VM", m.ID)
		}
		// User data: the startup script is the only metadata (no ssh-keys:
		// burst makes no key pair on GCE), and holds no credential.
		items := in.GetMetadata().GetItems()
		if len(items) != 1 || items[0].GetKey() != "startup-script" {
			var keys []string
			for _, it := range items {
				keys = append(keys, it.GetKey())
			}
			t.Errorf("%s: metadata keys %v, want only startup-script", m.ID, keys)
		}
		script := items[0].GetValue()
		if !strings.Contains(script, "dask") {
			t.Fatalf("%s: the startup script does not look rendered: %.200q", m.ID, script)
		}
		for what, c := range canaries {
			if strings.Contains(script, c) {
				t.Errorf("%s: the startup script carries %s", m.ID, what)
			}
		}
		for _, re := range secretPatterns {
			if loc := re.FindStringIndex(script); loc != nil {
				t.Errorf("%s: the startup script holds something like a credential (%s): %q", m.ID, re, script[max(0, loc[0]-40):min(len(script), loc[1]+40)])
			}
		}
	}

	// The same checks catch what they look for.
	if !worldOpen(&computepb.Firewall{Allowed: []*computepb.Allowed{{IPProtocol: strPtr("tcp"), Ports: []string{"8000-9000"}}}}, 8786) {
		t.Error("worldOpen misses a rule without sources over a port range")
	}
	for _, leak := range []string{`curl -H "Authorization: Bearer ya29.a0AfH6SMBx"`, "AKIAIOSFODNN7EXAMPLE", "export PASSWORD=hunter2", "-----BEGIN OPENSSH PRIVATE KEY-----"} {
		found := false
		for _, re := range secretPatterns {
			found = found || re.MatchString(leak)
		}
		if !found {
			t.Errorf("secretPatterns miss %q", leak)
		}
	}
}

func strPtr(s string) *string { return &s }

// TestWorldOpenOnlyWhenAsked: gcp.allowed_cidrs 0.0.0.0/0 and ::/0 open SSH
// and Dask to everyone, in one rule per address family.
func TestWorldOpenOnlyWhenAsked(t *testing.T) {
	e := newSim(t, func(_ *cloudsim.Config, o *Options) { o.AllowedCIDRs = []string{"0.0.0.0/0", "::/0"} })
	if err := e.p.Prepare(ctxT(t), provider.PrepareRequest{Cluster: "open", Tags: map[string]string{provider.TagCluster: "open"}}); err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	for _, rule := range []string{clientRule("open"), clientRule6("open")} {
		fw, ok := e.srv.Firewall(rule)
		if !ok {
			t.Fatalf("no rule %s", rule)
		}
		for _, port := range daskPorts {
			if !worldOpen(fw, port) {
				t.Errorf("%s does not open %d to the world as configured: %v", rule, port, fw.GetSourceRanges())
			}
		}
	}
	internal, _ := e.srv.Firewall(internalRule("open"))
	if worldOpen(internal, 22) {
		t.Error("the internal rule is open to the world")
	}
}
