package azure_test

import (
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v6"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v6"

	"github.com/burstdev/burst/internal/catalog"
	"github.com/burstdev/burst/internal/cloudsim"
	"github.com/burstdev/burst/internal/cloudsim/arm"
	"github.com/burstdev/burst/internal/provider"
	"github.com/burstdev/burst/internal/provider/azure"
	"github.com/burstdev/burst/pkg/spec"
)

// Security defaults, checked on what the simulator recorded (the NSG rules,
// VM profiles and custom data ARM received), not on burst's own view.

// sensitivePorts are SSH and Dask's scheduler and dashboard.
var sensitivePorts = []int{22, 8786, 8787}

// openToAll reports whether an NSG source means anyone on the internet.
func openToAll(src string) bool {
	switch strings.ToLower(strings.TrimSpace(src)) {
	case "*", "internet", "any", "0.0.0.0", "::":
		return true
	}
	_, n, err := net.ParseCIDR(src)
	if err != nil {
		return false
	}
	ones, _ := n.Mask.Size()
	return ones == 0
}

// covers reports whether an NSG port range ("*", "22", "8000-9000")
// includes port.
func covers(r string, port int) bool {
	if r == "*" {
		return true
	}
	lo, hi, ok := strings.Cut(r, "-")
	if !ok {
		hi = lo
	}
	a, err1 := strconv.Atoi(lo)
	b, err2 := strconv.Atoi(hi)
	return err1 == nil && err2 == nil && a <= port && port <= b
}

// exposed lists, per sensitive port, the internet-wide sources an NSG's
// inbound allow rules (its own and Azure's defaults) open it to.
func exposed(nsg *armnetwork.SecurityGroup) map[int][]string {
	out := map[int][]string{}
	rules := append(slices.Clone(nsg.Properties.SecurityRules), nsg.Properties.DefaultSecurityRules...)
	for _, r := range rules {
		p := r.Properties
		if *p.Direction != armnetwork.SecurityRuleDirectionInbound || *p.Access != armnetwork.SecurityRuleAccessAllow ||
			(*p.Protocol != armnetwork.SecurityRuleProtocolTCP && *p.Protocol != armnetwork.SecurityRuleProtocolAsterisk) {
			continue
		}
		var srcs, ports []string
		if p.SourceAddressPrefix != nil {
			srcs = append(srcs, *p.SourceAddressPrefix)
		}
		for _, s := range p.SourceAddressPrefixes {
			srcs = append(srcs, *s)
		}
		if p.DestinationPortRange != nil {
			ports = append(ports, *p.DestinationPortRange)
		}
		for _, pr := range p.DestinationPortRanges {
			ports = append(ports, *pr)
		}
		for _, port := range sensitivePorts {
			if !slices.ContainsFunc(ports, func(r string) bool { return covers(r, port) }) {
				continue
			}
			for _, s := range srcs {
				if openToAll(s) {
					out[port] = append(out[port], s)
				}
			}
		}
	}
	return out
}

// recordedNSGs are the NSGs the simulator holds.
func recordedNSGs(t *testing.T, e *env) []*armnetwork.SecurityGroup {
	t.Helper()
	var out []*armnetwork.SecurityGroup
	for _, r := range e.model.Resources(arm.KindNSG, nil) {
		out = append(out, r.Data.(*armnetwork.SecurityGroup))
	}
	if len(out) == 0 {
		t.Fatal("the simulator holds no NSG")
	}
	return out
}

// TestNSGNotOpenByDefault: neither against the simulator (127.0.0.1) nor
// with a configured address does any rule let the internet reach SSH or
// Dask; when azure.caller_cidr says 0.0.0.0/0 and ::/0, the rules do,
// which is what that setting asks for.
func TestNSGNotOpenByDefault(t *testing.T) {
	for _, tt := range []struct {
		name, cidr string
		open       bool
	}{
		{"default", "", false},
		{"configured address", "203.0.113.7", false},
		{"configured ranges", "198.51.100.0/24,2001:db8::/32", false},
		{"explicitly open", "0.0.0.0/0, ::/0", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, func(_ *cloudsim.Config, o *azure.Options) { o.CallerCIDR = tt.cidr })
			prepare(t, e, "sec", "eastus")
			for _, nsg := range recordedNSGs(t, e) {
				got := exposed(nsg)
				if !tt.open && len(got) > 0 {
					t.Errorf("%s opens %v to the internet", *nsg.Name, got)
				}
				if tt.open {
					for _, port := range sensitivePorts {
						if !slices.Contains(got[port], "0.0.0.0/0") || !slices.Contains(got[port], "::/0") {
							t.Errorf("port %d open to %v, want 0.0.0.0/0 and ::/0 as configured", port, got[port])
						}
					}
				}
			}
		})
	}
}

// TestDisksEncrypted: Azure encrypts every managed disk at rest with
// platform keys and has no switch that turns it off; the simulator records
// each OS disk's encryption and whatever encryption settings the request
// carried. burst's VMs (head, on-demand and Spot sets) are all
// platform-key encrypted and burst asks for no change.
func TestDisksEncrypted(t *testing.T) {
	e := newEnv(t)
	prepare(t, e, "enc", "eastus")
	launch(t, e, head("enc", "enc-h", offer(t, "Standard_D2s_v5", "eastus", catalog.OnDemand)))
	launch(t, e, workers("enc", 3, "enc-w", offer(t, "Standard_D2s_v5", "eastus", catalog.OnDemand)))
	launch(t, e, workers("enc", 2, "enc-s", offer(t, "Standard_D2s_v5", "eastus", catalog.Spot)))
	ins := e.model.Instances(nil)
	if len(ins) != 6 {
		t.Fatalf("%d VMs", len(ins))
	}
	for _, in := range ins {
		if got := in.Attrs["osDiskEncryption"]; got != "EncryptionAtRestWithPlatformKey" {
			t.Errorf("%s: OS disk encryption %q", in.Name, got)
		}
		if s, h := in.Attrs["osDiskEncryptionSettings"], in.Attrs["encryptionAtHost"]; s != "" || h != "" {
			t.Errorf("%s: asked for encryption settings %q, encryption at host %q", in.Name, s, h)
		}
	}
}

// credentialPatterns are what a credential in custom data looks like.
var credentialPatterns = []*regexp.Regexp{
	regexp.MustCompile(`-----BEGIN [A-Z ]*PRIVATE KEY-----`),
	regexp.MustCompile(`\bA[KS]IA[0-9A-Z]{16}\b`),                                       // AWS access key IDs
	regexp.MustCompile(`eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}`),                       // JWTs: ARM and Entra tokens
	regexp.MustCompile(`(?i)Bearer\s+[^\s$"'\\]`),                                       // a literal bearer token
	regexp.MustCompile(`(?i)"access_token"\s*:\s*"[^"]`),                                // a literal token response
	regexp.MustCompile(`(?i)(client_secret|client_certificate|secret_access_key)`),      // service principal and AWS secrets
	regexp.MustCompile(`(?i)(AccountKey=|SharedAccessSignature=|[?&]sig=[A-Za-z0-9%])`), // storage keys and SAS
	regexp.MustCompile(`(?i)\bpassword\s*[=:]\s*\S`),
}

// leaks returns what in s looks like a credential, or is one of the given
// secrets.
func leaks(s string, secrets ...string) []string {
	var out []string
	for _, re := range credentialPatterns {
		out = append(out, re.FindAllString(s, -1)...)
	}
	for _, sec := range secrets {
		if sec != "" && strings.Contains(s, sec) {
			out = append(out, sec)
		}
	}
	return out
}

// TestNoCredentialsInCustomData: the custom data ARM received for a
// cluster's head and workers (the rendered bootstrap, with the watchdog
// and the self-removal that asks IMDS for a token at run time) carries no
// credential: no private key, access key, token, secret or the bearer
// token burst itself sent.
func TestNoCredentialsInCustomData(t *testing.T) {
	// The scanner finds what it must.
	for _, planted := range []string{
		"-----BEGIN OPENSSH PRIVATE KEY-----", "AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE",
		"TOKEN=eyJ0eXAiOiJKV1QiLCJhbGciOi.eyJhdWQiOiJodHRwczovL21h", "-H 'Authorization: Bearer abc.def'",
		`{"access_token": "x"}`, "AZURE_CLIENT_SECRET=s", "https://a.blob.core.windows.net/c?sv=1&sig=AbC%2B", "password=hunter2",
	} {
		if len(leaks(planted)) == 0 {
			t.Fatalf("the scanner misses %q", planted)
		}
	}
	e := newEnv(t)
	eng, cat := e.engine(t)
	res := up(t, e, eng, cat, "cred", 3, func(c *spec.Cluster) { c.Workers.Spot = spec.SpotWithFallback })
	if res.Head == nil || res.Workers() != 3 {
		t.Fatalf("cluster: head %v, %d workers", res.Head, res.Workers())
	}
	key, err := os.ReadFile(filepath.Join(e.keyDir("cred"), "id_ed25519"))
	if err != nil {
		t.Fatal(err)
	}
	secrets := []string{"burst-simulator", "inspector"} // the tokens burst and the tests send ARM
	for _, line := range strings.Split(string(key), "\n") {
		if len(line) >= 20 && !strings.HasPrefix(line, "-----") {
			secrets = append(secrets, line)
		}
	}
	ins := e.model.Instances(nil)
	if len(ins) != 4 {
		t.Fatalf("%d VMs", len(ins))
	}
	for _, in := range ins {
		if !strings.Contains(in.UserData, "burst_self_remove") {
			t.Errorf("%s: custom data without the self-removal: the scan would prove nothing", in.Name)
		}
		if got := leaks(in.UserData, secrets...); len(got) > 0 {
			t.Errorf("%s's custom data carries %q", in.Name, got)
		}
	}
}

// TestKeyFiles: a cluster's private key is 0600 in a 0700 directory of
// the user's data dir, never sent to Azure, and goes with down (gc: see
// TestGC).
func TestKeyFiles(t *testing.T) {
	e := newEnv(t)
	prepare(t, e, "keys", "eastus")
	dir := e.keyDir("keys")
	for name, want := range map[string]os.FileMode{"": 0o700, "id_ed25519": 0o600, "id_ed25519.pub": 0o644, "subscription": 0o600} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s: %v %v, want %v", filepath.Join(dir, name), fi.Mode().Perm(), err, want)
		}
	}
	if err := e.p.Cleanup(ctx(t), "keys", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("down left the key: %v", err)
	}
}

var guidName = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// TestLongestNames: a cluster named with the longest name burst accepts
// (32 characters) runs in the simulator, which refuses names Azure's
// naming rules refuse, and every name burst derived, as the simulator
// recorded it, is valid under Azure's rules.
func TestLongestNames(t *testing.T) {
	name := "abcdefghij-klmnopqrst-uvwxyz0123"
	if len(name) != 32 || spec.ValidateName(name) != nil || spec.ValidateName(name+"4") == nil {
		t.Fatalf("%q is not the longest valid cluster name", name)
	}
	e := newEnv(t)
	eng, cat := e.engine(t)
	res := up(t, e, eng, cat, name, 2, func(c *spec.Cluster) {
		c.Regions = []string{"westeurope"} // the simulator's longest location name
		c.Workers.Spot = spec.SpotWithFallback
	})
	if res.Head == nil || res.Workers() != 2 {
		t.Fatalf("cluster: head %v, %d workers", res.Head, res.Workers())
	}
	check := func(what, n string) {
		if err := arm.ValidName(what, n); err != nil {
			t.Error(err)
		}
	}
	kinds := map[string]string{arm.KindResourceGroup: arm.NameResourceGroup, arm.KindNSG: arm.NameNSG, arm.KindVNet: arm.NameVNet,
		arm.KindIdentity: arm.NameIdentity, arm.KindScaleSet: arm.NameScaleSet}
	seen := map[string]int{}
	for _, r := range e.model.Resources("", nil) {
		if what, ok := kinds[r.Kind]; ok {
			check(what, r.Name)
			seen[r.Kind]++
		}
		switch r.Kind {
		case arm.KindRoleAssignment:
			if !guidName.MatchString(r.Name) {
				t.Errorf("role assignment %q is not a GUID", r.Name)
			}
			seen[r.Kind]++
		case arm.KindScaleSet:
			// Azure names a Flexible set's VMs "<set>_<8 hex>".
			if len(r.Name)+9 > 64 {
				t.Errorf("scale set %q leaves no room for its VMs' names", r.Name)
			}
		case arm.KindNSG:
			for _, rule := range r.Data.(*armnetwork.SecurityGroup).Properties.SecurityRules {
				check(arm.NameSecurityRule, *rule.Name)
			}
		case arm.KindVNet:
			for _, sn := range r.Data.(*armnetwork.VirtualNetwork).Properties.Subnets {
				check(arm.NameSubnet, *sn.Name)
			}
		}
	}
	for _, k := range []string{arm.KindResourceGroup, arm.KindNSG, arm.KindVNet, arm.KindIdentity, arm.KindRoleAssignment, arm.KindScaleSet} {
		if seen[k] == 0 {
			t.Errorf("no %s recorded", k)
		}
	}
	// The VMs as ARM serves them: the head's name, every host name.
	vms, _ := armcompute.NewVirtualMachinesClient(e.sim.Subscription(), testCred{}, e.armOptions())
	rg := "burst-" + name + "-westeurope"
	check(arm.NameResourceGroup, rg)
	pager := vms.NewListPager(rg, nil)
	n := 0
	for pager.More() {
		page, err := pager.NextPage(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		for _, vm := range page.Value {
			n++
			if vm.Properties.VirtualMachineScaleSet == nil {
				check(arm.NameVM, *vm.Name)
			}
			check(arm.NameComputer, *vm.Properties.OSProfile.ComputerName)
		}
	}
	if n != 3 {
		t.Errorf("%d VMs listed, want 3", n)
	}
	for _, m := range res.Machines {
		if m.Cluster != name {
			t.Errorf("%s: cluster %q", m.ID, m.Cluster)
		}
	}
	// Tags carry the name whole (Azure tag values take 256 characters).
	for _, in := range e.model.Instances(nil) {
		if in.Tags[provider.TagCluster] != name {
			t.Errorf("%s: cluster tag %q", in.Name, in.Tags[provider.TagCluster])
		}
	}
}
