package aws_test

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/burstdev/burst/internal/cloudsim"
	simec2 "github.com/burstdev/burst/internal/cloudsim/ec2"
	"github.com/burstdev/burst/internal/plan"
	"github.com/burstdev/burst/internal/provider"
	"github.com/burstdev/burst/internal/provider/aws"
	"github.com/burstdev/burst/internal/provision"
	"github.com/burstdev/burst/pkg/spec"
)

// upCluster runs `burst up` (head and workers) and returns the result.
func upCluster(t *testing.T, e *env, name string, workers int) *provision.Result {
	t.Helper()
	cat, err := e.p.Catalog(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	c := cluster(name, workers, spec.OnDemand)
	un := &plan.Unavailable{}
	pl, err := plan.Make(c, cat, plan.Options{Unavailable: un, Now: e.model.Now()})
	if err != nil {
		t.Fatal(err)
	}
	res, err := engineFor(e, cat, un).Up(ctx(t), c, pl, provision.WaitMachines)
	if err != nil || res.Head == nil || res.Workers() != workers {
		t.Fatalf("Up %s: %v", name, err)
	}
	return res
}

// world are the addresses that mean "anyone".
var world = map[string]bool{"0.0.0.0/0": true, "::/0": true}

// opens reports whether an ingress rule lets port in from cidr.
func opens(p simec2.Permission, port int) bool {
	if p.Protocol == "-1" || p.Protocol == "all" {
		return true
	}
	return (p.Protocol == "tcp" || p.Protocol == "6") && p.FromPort <= port && port <= p.ToPort
}

// worldOpen lists the rules of a cluster's groups (as the simulator holds
// them) that open port to 0.0.0.0/0 or ::/0.
func worldOpen(m *cloudsim.Model, cluster string, port int) []string {
	var out []string
	for _, r := range m.Resources(simec2.KindSecurityGroup, nil) {
		if r.Tags[provider.TagCluster] != cluster {
			continue
		}
		for _, p := range r.Data.(*simec2.SecurityGroup).Ingress {
			if !opens(p, port) {
				continue
			}
			for _, c := range append(append([]string{}, p.CIDRs...), p.IPv6CIDRs...) {
				if world[c] {
					out = append(out, fmt.Sprintf("%s %s %d-%d from %s", r.ID, p.Protocol, p.FromPort, p.ToPort, c))
				}
			}
		}
	}
	return out
}

// TestSecurityDefaults checks, in what the simulator recorded (not in
// burst's own view), the defaults of a cluster made by `burst up`: no rule
// opens SSH or Dask to the world (the caller's address, IPv4 or IPv6, is
// the only outside source); every instance and launch template requires
// IMDSv2 and has an encrypted root volume; the private key is 0600 in a
// 0700 directory; the user data carries no credential; `burst down`
// removes the key file.
func TestSecurityDefaults(t *testing.T) {
	for _, caller := range []struct{ ip, cidr string }{{"198.51.100.23", "198.51.100.23/32"}, {"2001:db8::7", "2001:db8::7/128"}} {
		t.Run(caller.ip, func(t *testing.T) {
			ipSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = fmt.Fprintln(w, caller.ip) }))
			defer ipSrv.Close()
			e := newEnv(t, withOptions(func(o *aws.Options) { o.AllowedCIDRs, o.CheckIPURL = nil, ipSrv.URL }))
			// Credentials with a session token, to look for in the user data.
			t.Setenv("AWS_SESSION_TOKEN", "burst-test-session-token-FwoGZXIvYXdzEJr")
			upCluster(t, e, "sec", 2)

			for _, port := range []int{22, 8786, 8787} {
				if open := worldOpen(e.model, "sec", port); len(open) > 0 {
					t.Errorf("port %d is open to the world: %v", port, open)
				}
			}
			sgs := e.model.Resources(simec2.KindSecurityGroup, nil)
			if len(sgs) != 1 {
				t.Fatalf("%d security groups, want 1", len(sgs))
			}
			var outside []string
			for _, p := range sgs[0].Data.(*simec2.SecurityGroup).Ingress {
				if p.Protocol == "-1" && (len(p.CIDRs) > 0 || len(p.IPv6CIDRs) > 0) {
					t.Errorf("an all-traffic rule admits addresses: %+v", p)
				}
				outside = append(append(outside, p.CIDRs...), p.IPv6CIDRs...)
			}
			if strings.Join(outside, ",") != caller.cidr+","+caller.cidr {
				t.Errorf("outside sources %v, want %s for SSH and for Dask only", outside, caller.cidr)
			}

			ins := e.model.Instances(func(in *cloudsim.Instance) bool { return in.Tags[provider.TagCluster] == "sec" })
			if len(ins) != 3 {
				t.Fatalf("%d instances, want 3", len(ins))
			}
			for _, in := range ins {
				if in.Attrs["HttpTokens"] != "required" || in.Attrs["RootVolumeEncrypted"] != "true" {
					t.Errorf("instance %s: HttpTokens %q, root volume encrypted %q; want required, true", in.ID, in.Attrs["HttpTokens"], in.Attrs["RootVolumeEncrypted"])
				}
			}
			lts := e.model.Resources(simec2.KindLaunchTemplate, nil)
			if len(lts) != 2 {
				t.Fatalf("%d launch templates, want the head's and the workers'", len(lts))
			}
			for _, r := range lts {
				lt := r.Data.(*simec2.LaunchTemplate)
				if lt.HTTPTokens != "required" || !lt.Encrypted || lt.ShutdownBehavior != "terminate" {
					t.Errorf("launch template %s: %+v; want IMDSv2 required, encrypted root, terminate on shutdown", r.Name, lt)
				}
			}

			key := e.p.KeyPath("sec", "us-east-1")
			st, err := os.Stat(key)
			if err != nil || st.Mode().Perm() != 0o600 {
				t.Fatalf("private key %s: %v; want mode 0600", key, err)
			}
			if d, err := os.Stat(filepath.Dir(key)); err != nil || d.Mode().Perm() != 0o700 {
				t.Errorf("key directory: %v; want mode 0700", err)
			}
			material, _ := os.ReadFile(key)
			secrets := []string{"AKIDBURSTTEST", "burst-test-secret", "burst-test-session-token-FwoGZXIvYXdzEJr", string(material)}
			for _, l := range strings.Split(string(material), "\n") {
				if len(l) > 20 && !strings.HasPrefix(l, "-----") {
					secrets = append(secrets, l) // the key's base64 body
				}
			}
			var datas []string
			for _, in := range ins {
				datas = append(datas, in.UserData)
			}
			for _, r := range lts {
				datas = append(datas, r.Data.(*simec2.LaunchTemplate).UserData)
			}
			for _, ud := range datas {
				b, err := base64.StdEncoding.DecodeString(ud)
				if err != nil || len(b) == 0 {
					t.Fatalf("user data is not base64: %v", err)
				}
				if leaks := credentialsIn(string(b), secrets); len(leaks) > 0 {
					t.Errorf("user data carries credentials: %v", leaks)
				}
			}

			if _, err := engineFor(e, nil, nil).Down(ctx(t), "sec", []string{aws.Name}); err != nil {
				t.Fatalf("Down: %v", err)
			}
			if _, err := os.Stat(key); !os.IsNotExist(err) {
				t.Errorf("private key still there after down: %v", err)
			}
		})
	}
}

// credentialPatterns are shapes of secrets that must never be in user
// data: AWS access key IDs, the names of AWS credential variables and
// settings, private keys, and common token formats.
var credentialPatterns = regexp.MustCompile(`(?i)\b(AKIA|ASIA|AROA)[A-Z0-9]{16}\b|aws_secret_access_key|aws_session_token|aws_access_key_id|-----BEGIN [A-Z ]*PRIVATE KEY-----|\bgh[pousr]_[A-Za-z0-9]{30,}|xox[baprs]-[A-Za-z0-9-]{10,}|AZURE_CLIENT_SECRET|GOOGLE_APPLICATION_CREDENTIALS`)

// credentialsIn returns the credentials found in a rendered user data.
func credentialsIn(ud string, secrets []string) []string {
	var out []string
	for _, s := range secrets {
		if s != "" && strings.Contains(ud, strings.TrimSpace(s)) {
			out = append(out, fmt.Sprintf("%.12s...", s))
		}
	}
	out = append(out, credentialPatterns.FindAllString(ud, -1)...)
	return out
}

// TestCredentialScanCatches keeps the scan above honest: it finds each
// kind of secret it looks for.
func TestCredentialScanCatches(t *testing.T) {
	for _, ud := range []string{
		"export AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE", "aws_secret_access_key = x", "-----BEGIN OPENSSH PRIVATE KEY-----",
		"token ghp_abcdefghijklmnopqrstuvwxyz0123456789", "echo my-own-secret",
	} {
		if len(credentialsIn(ud, []string{"my-own-secret"})) == 0 {
			t.Errorf("scan misses %q", ud)
		}
	}
	if got := credentialsIn("curl -H 'X-aws-ec2-metadata-token: $TOKEN' http://169.254.169.254/latest/api/token", nil); len(got) != 0 {
		t.Errorf("scan flags the IMDSv2 token dance: %v", got)
	}
}

// TestWorldOpenOnlyWhenAsked: with aws.allowed_cidrs set to the world,
// SSH and Dask are open to it, as configured; the scan above sees it.
func TestWorldOpenOnlyWhenAsked(t *testing.T) {
	e := newEnv(t, withOptions(func(o *aws.Options) { o.AllowedCIDRs = []string{"0.0.0.0/0", "::/0"} }))
	if err := e.p.Prepare(ctx(t), provider.PrepareRequest{Cluster: "open", Regions: []string{"us-east-1"}, Tags: map[string]string{provider.TagCluster: "open"}}); err != nil {
		t.Fatal(err)
	}
	for _, port := range []int{22, 8786, 8787} {
		if got := worldOpen(e.model, "open", port); len(got) != 2 {
			t.Errorf("port %d open to %v, want 0.0.0.0/0 and ::/0 as configured", port, got)
		}
	}
	if got := worldOpen(e.model, "open", 8788); len(got) != 0 {
		t.Errorf("port 8788 open to %v; only SSH and Dask were asked for", got)
	}
}

// EC2's documented naming rules, written out here independently of the
// simulator's checks.
var (
	// CreateSecurityGroup: GroupName and GroupDescription, up to 255
	// characters of a-z, A-Z, 0-9, spaces, and ._-:/()#,@[]+=&;{}!$*; a
	// name may not start with sg-.
	sgTextRE = regexp.MustCompile(`^[a-zA-Z0-9 ._\-:/()#,@\[\]+=&;{}!$*]{1,255}$`)
	// CreateLaunchTemplate: LaunchTemplateName, 3 to 128 characters of
	// [a-zA-Z0-9().\-/_].
	ltNameRE = regexp.MustCompile(`^[a-zA-Z0-9().\-/_]{3,128}$`)
	// CreateKeyPair: KeyName, up to 255 ASCII characters.
	keyNameRE = regexp.MustCompile(`^[\x20-\x7e]{1,255}$`)
	// ClientToken: up to 64 ASCII characters.
	clientTokenRE = regexp.MustCompile(`^[\x21-\x7e]{1,64}$`)
)

// checkTags applies EC2's tag rules: keys 1 to 128 characters not starting
// with aws:, values at most 256, at most 50 tags.
func checkTags(t *testing.T, what string, tags map[string]string) {
	t.Helper()
	if len(tags) > 50 {
		t.Errorf("%s has %d tags, EC2 allows 50", what, len(tags))
	}
	for k, v := range tags {
		if n := utf8.RuneCountInString(k); n == 0 || n > 128 || strings.HasPrefix(strings.ToLower(k), "aws:") {
			t.Errorf("%s: tag key %q breaks EC2's rules", what, k)
		}
		if utf8.RuneCountInString(v) > 256 {
			t.Errorf("%s: tag %s value of %d characters, EC2 allows 256", what, k, utf8.RuneCountInString(v))
		}
	}
}

// TestLongestClusterName: the longest name spec.ValidateName accepts (32
// characters) gives names EC2 accepts for everything burst derives from it:
// security group name and description, key pair name, launch template
// names, fleet client tokens, tags on instances, volumes, fleets and the
// rest, and the private key's file name. Each is checked against EC2's
// documented rule in what the simulator recorded.
func TestLongestClusterName(t *testing.T) {
	name := "a234567890-234567890-234567890-z"
	if len(name) != 32 || spec.ValidateName(name) != nil {
		t.Fatalf("%q (%d) is not the longest valid name", name, len(name))
	}
	if spec.ValidateName(name+"x") == nil {
		t.Fatalf("33 characters are valid; the test no longer uses the longest name")
	}
	e := newEnv(t)
	upCluster(t, e, name, 2)

	sgs := e.model.Resources(simec2.KindSecurityGroup, nil)
	kps := e.model.Resources(simec2.KindKeyPair, nil)
	lts := e.model.Resources(simec2.KindLaunchTemplate, nil)
	if len(sgs) != 1 || len(kps) != 1 || len(lts) != 2 {
		t.Fatalf("%d groups, %d key pairs, %d templates; want 1, 1, 2", len(sgs), len(kps), len(lts))
	}
	sg := sgs[0]
	if !sgTextRE.MatchString(sg.Name) || strings.HasPrefix(sg.Name, "sg-") {
		t.Errorf("security group name %q breaks EC2's rule", sg.Name)
	}
	if d := sg.Data.(*simec2.SecurityGroup).Description; !sgTextRE.MatchString(d) {
		t.Errorf("security group description %q breaks EC2's rule", d)
	}
	checkTags(t, "security group", sg.Tags)
	if !keyNameRE.MatchString(kps[0].Name) {
		t.Errorf("key pair name %q breaks EC2's rule", kps[0].Name)
	}
	checkTags(t, "key pair", kps[0].Tags)
	for _, lt := range lts {
		if !ltNameRE.MatchString(lt.Name) {
			t.Errorf("launch template name %q breaks EC2's rule", lt.Name)
		}
		checkTags(t, "launch template "+lt.Name, lt.Tags)
	}
	fleets := e.sim.Fleets()
	if len(fleets) != 2 {
		t.Fatalf("%d fleets, want 2", len(fleets))
	}
	for _, f := range fleets {
		if !clientTokenRE.MatchString(f.ClientToken) {
			t.Errorf("fleet client token %q (%d) breaks EC2's rule", f.ClientToken, len(f.ClientToken))
		}
		checkTags(t, "fleet "+f.ID, f.Tags)
	}
	for _, in := range e.model.Instances(nil) {
		checkTags(t, "instance "+in.ID, in.Tags)
		vol := map[string]string{}
		for k, v := range in.Attrs {
			if strings.HasPrefix(k, "VolumeTag:") {
				vol[strings.TrimPrefix(k, "VolumeTag:")] = v
			}
		}
		if vol[provider.TagCluster] != name {
			t.Errorf("volume of %s lacks the cluster tag: %v", in.ID, vol)
		}
		checkTags(t, "volume of "+in.ID, vol)
	}
	if base := filepath.Base(e.p.KeyPath(name, "ap-southeast-2")); len(base) > 255 {
		t.Errorf("key file name %q is longer than 255 bytes", base)
	}
	// The longest token the engine may pass (64 characters) still gives a
	// valid client token.
	long := strings.Repeat("t", 64)
	if _, err := e.p.Launch(ctx(t), launchReq(name, 1, long, offering("us-east-1", "m7i.large", "on-demand"))); err != nil {
		t.Fatalf("Launch with a 64-character token: %v", err)
	}
	for _, f := range e.sim.Fleets() {
		if !clientTokenRE.MatchString(f.ClientToken) {
			t.Errorf("fleet client token %q (%d) breaks EC2's rule", f.ClientToken, len(f.ClientToken))
		}
	}
}
