package ec2_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/burstdev/burst/internal/cloudsim"
	simec2 "github.com/burstdev/burst/internal/cloudsim/ec2"
)

// queryClient posts EC2 Query requests as the SDK does: a form body and a
// SigV4 Authorization header naming the region.
type queryClient struct {
	t   *testing.T
	url string
}

func newQuery(t *testing.T) (*queryClient, *simec2.Server, *cloudsim.Model) {
	m := simec2.NewModel(cloudsim.Config{})
	sim := simec2.New(m)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return &queryClient{t, srv.URL}, sim, m
}

// call returns the HTTP status and body of one call.
func (q *queryClient) call(region, action string, kv ...string) (int, string) {
	q.t.Helper()
	form := url.Values{"Action": {action}, "Version": {"2016-11-15"}}
	for i := 0; i+1 < len(kv); i += 2 {
		form.Set(kv[i], kv[i+1])
	}
	req, _ := http.NewRequest(http.MethodPost, q.url, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDTEST/20261122/"+region+"/ec2/aws4_request, SignedHeaders=host, Signature=0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		q.t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

var (
	reservationRE = regexp.MustCompile(`<reservationId>([^<]+)</reservationId>`)
	fleetRE       = regexp.MustCompile(`<fleetId>([^<]+)</fleetId>`)
	ltRE          = regexp.MustCompile(`<launchTemplateId>([^<]+)</launchTemplateId>`)
)

func find(t *testing.T, re *regexp.Regexp, body string) string {
	t.Helper()
	m := re.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no %s in %s", re, body)
	}
	return m[1]
}

// TestIdempotentParameterMismatch: a ClientToken used again with the same
// parameters returns the first answer and launches nothing; with other
// parameters EC2 answers 400 IdempotentParameterMismatch, for RunInstances
// and CreateFleet alike. Tokens are per region.
func TestIdempotentParameterMismatch(t *testing.T) {
	q, sim, m := newQuery(t)
	img := imageIn(sim, "us-east-1")
	run := func(region, count, token string) (int, string) {
		return q.call(region, "RunInstances", "ImageId", imageIn(sim, region), "InstanceType", "m7i.large",
			"MinCount", "1", "MaxCount", count, "ClientToken", token)
	}
	st, body := run("us-east-1", "2", "tok-run")
	if st != 200 {
		t.Fatalf("RunInstances: %d %s", st, body)
	}
	first := find(t, reservationRE, body)
	st, body = run("us-east-1", "2", "tok-run")
	if st != 200 || find(t, reservationRE, body) != first {
		t.Fatalf("RunInstances again: %d %s, want reservation %s", st, body, first)
	}
	st, body = run("us-east-1", "3", "tok-run")
	if st != 400 || !strings.Contains(body, "<Code>IdempotentParameterMismatch</Code>") {
		t.Fatalf("RunInstances with another count: %d %s, want 400 IdempotentParameterMismatch", st, body)
	}
	if st, body = run("eu-west-1", "3", "tok-run"); st != 200 {
		t.Fatalf("the same token in another region: %d %s", st, body)
	}
	if n := len(m.Instances(nil)); n != 5 {
		t.Errorf("%d instances, want 2 + 3", n)
	}

	st, body = q.call("us-east-1", "CreateLaunchTemplate", "LaunchTemplateName", "lt-idem",
		"LaunchTemplateData.ImageId", img, "LaunchTemplateData.InstanceType", "m7i.large")
	if st != 200 {
		t.Fatalf("CreateLaunchTemplate: %d %s", st, body)
	}
	lt := find(t, ltRE, body)
	fleet := func(count, typ string) (int, string) {
		return q.call("us-east-1", "CreateFleet", "Type", "instant", "ClientToken", "tok-fleet",
			"TargetCapacitySpecification.TotalTargetCapacity", count, "TargetCapacitySpecification.DefaultTargetCapacityType", "on-demand",
			"LaunchTemplateConfigs.1.LaunchTemplateSpecification.LaunchTemplateId", lt,
			"LaunchTemplateConfigs.1.LaunchTemplateSpecification.Version", "$Default",
			"LaunchTemplateConfigs.1.Overrides.1.InstanceType", typ)
	}
	st, body = fleet("2", "m7i.large")
	if st != 200 {
		t.Fatalf("CreateFleet: %d %s", st, body)
	}
	fid := find(t, fleetRE, body)
	if st, body = fleet("2", "m7i.large"); st != 200 || find(t, fleetRE, body) != fid {
		t.Fatalf("CreateFleet again: %d %s, want fleet %s", st, body, fid)
	}
	for _, c := range [][2]string{{"3", "m7i.large"}, {"2", "m6i.large"}} {
		st, body = fleet(c[0], c[1])
		if st != 400 || !strings.Contains(body, "<Code>IdempotentParameterMismatch</Code>") || !strings.Contains(body, "tok-fleet") {
			t.Errorf("CreateFleet with %s x %s and the same token: %d %s, want 400 IdempotentParameterMismatch", c[0], c[1], st, body)
		}
	}
	if n := len(sim.Fleets()); n != 1 {
		t.Errorf("%d fleets, want 1", n)
	}
	if n := len(m.Instances(nil)); n != 7 {
		t.Errorf("%d instances, want 5 + 2", n)
	}
}

func imageIn(sim *simec2.Server, region string) string {
	for _, im := range sim.Images(region) {
		if im.Arch == "x86_64" {
			return im.ID
		}
	}
	return ""
}

// TestDisabledRegion: a region the account has not enabled is left out of
// DescribeRegions (unless AllRegions) and refuses calls.
func TestDisabledRegion(t *testing.T) {
	q, sim, _ := newQuery(t)
	sim.DisableRegion("eu-west-1")
	_, body := q.call("us-east-1", "DescribeRegions")
	if strings.Contains(body, "eu-west-1") || !strings.Contains(body, "us-west-2") {
		t.Errorf("DescribeRegions: %s, want enabled regions only", body)
	}
	_, body = q.call("us-east-1", "DescribeRegions", "AllRegions", "true")
	if !strings.Contains(body, "<regionName>eu-west-1</regionName><regionEndpoint>ec2.eu-west-1.amazonaws.com</regionEndpoint><optInStatus>not-opted-in</optInStatus>") {
		t.Errorf("DescribeRegions AllRegions: %s, want eu-west-1 not opted in", body)
	}
	if st, body := q.call("eu-west-1", "DescribeInstances"); st != 401 || !strings.Contains(body, "AuthFailure") {
		t.Errorf("a call to a disabled region: %d %s", st, body)
	}
}

// TestKeyPairCreateTime: DescribeKeyPairs reports when a key pair was made,
// as EC2 does (gc's grace period reads it).
func TestKeyPairCreateTime(t *testing.T) {
	clock := cloudsim.NewClock(time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC))
	m := simec2.NewModel(cloudsim.Config{Now: clock.Now, Sleep: clock.Sleep})
	srv := httptest.NewServer(simec2.New(m))
	t.Cleanup(srv.Close)
	q := &queryClient{t, srv.URL}
	if st, body := q.call("us-east-1", "CreateKeyPair", "KeyName", "k1"); st != 200 {
		t.Fatalf("CreateKeyPair: %d %s", st, body)
	}
	clock.Advance(time.Hour)
	_, body := q.call("us-east-1", "DescribeKeyPairs")
	if !strings.Contains(body, "<createTime>2026-11-22T10:00:00.000Z</createTime>") {
		t.Errorf("DescribeKeyPairs: %s, want the creation time", body)
	}
}

// TestNamingRules: the simulator refuses names and tags EC2 refuses, so a
// provider test that passes here passes EC2's documented rules.
func TestNamingRules(t *testing.T) {
	q, _, _ := newQuery(t)
	long := strings.Repeat("a", 256)
	for _, c := range []struct {
		action string
		kv     []string
		ok     bool
	}{
		{"CreateSecurityGroup", []string{"GroupName", "burst-ok", "GroupDescription", "fine: (ok) #1"}, true},
		{"CreateSecurityGroup", []string{"GroupName", "sg-mine", "GroupDescription", "d"}, false},
		{"CreateSecurityGroup", []string{"GroupName", "caf\u00e9", "GroupDescription", "d"}, false},
		{"CreateSecurityGroup", []string{"GroupName", "g2", "GroupDescription", long}, false},
		{"CreateKeyPair", []string{"KeyName", long}, false},
		{"CreateKeyPair", []string{"KeyName", "burst-ok"}, true},
		{"CreateLaunchTemplate", []string{"LaunchTemplateName", "burst ok", "LaunchTemplateData.InstanceType", "m7i.large"}, false},
		{"CreateLaunchTemplate", []string{"LaunchTemplateName", "ab", "LaunchTemplateData.InstanceType", "m7i.large"}, false},
		{"CreateLaunchTemplate", []string{"LaunchTemplateName", "burst-a-w-0123456789ab", "LaunchTemplateData.InstanceType", "m7i.large"}, true},
		{"CreateKeyPair", []string{"KeyName", "k-aws", "TagSpecification.1.ResourceType", "key-pair", "TagSpecification.1.Tag.1.Key", "aws:owner", "TagSpecification.1.Tag.1.Value", "x"}, false},
		{"CreateKeyPair", []string{"KeyName", "k-long", "TagSpecification.1.ResourceType", "key-pair", "TagSpecification.1.Tag.1.Key", "k", "TagSpecification.1.Tag.1.Value", long + "a"}, false},
	} {
		st, body := q.call("us-east-1", c.action, c.kv...)
		if (st == 200) != c.ok {
			t.Errorf("%s %v: %d %s; want ok=%v", c.action, c.kv, st, body, c.ok)
		}
		if !c.ok && !strings.Contains(body, "InvalidParameterValue") {
			t.Errorf("%s %v: %s, want InvalidParameterValue", c.action, c.kv, body)
		}
	}
}
