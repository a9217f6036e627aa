package aws

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/burstdev/burst/internal/cloudsim"
	simec2 "github.com/burstdev/burst/internal/cloudsim/ec2"
	"github.com/burstdev/burst/internal/provider"
)

// rawClient is an EC2 client of the endpoint, with dummy credentials.
func rawClient(url string) *ec2.Client {
	return ec2.New(ec2.Options{
		Region: "us-east-1", BaseEndpoint: sdkaws.String(url),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDBURSTTEST", "burst-test-secret", ""),
	})
}

// both lists every page of a DescribeInstances with the SDK's decoder and
// with the lean one, as machines, and says whether the lean one read every
// page itself.
func both(t *testing.T, c *ec2.Client, filters ...types.Filter) (sdk, lean []provider.Machine, allLean bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pg := ec2.NewDescribeInstancesPaginator(c, &ec2.DescribeInstancesInput{Filters: filters, MaxResults: sdkaws.Int32(describePageSize)})
	for pg.HasMorePages() {
		out, err := pg.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range out.Reservations {
			for _, in := range r.Instances {
				sdk = append(sdk, machine("us-east-1", in))
			}
		}
	}
	allLean = true
	in := &ec2.DescribeInstancesInput{Filters: filters, MaxResults: sdkaws.Int32(describePageSize)}
	for {
		out, err := c.DescribeInstances(ctx, in, withLeanDescribe)
		if err != nil {
			t.Fatal(err)
		}
		page, ok := out.ResultMetadata.Get(leanKey{}).(*leanPage)
		if !ok {
			allLean = false
			for _, r := range out.Reservations {
				for _, in := range r.Instances {
					lean = append(lean, machine("us-east-1", in))
				}
			}
			if sdkaws.ToString(out.NextToken) == "" {
				break
			}
			in.NextToken = out.NextToken
			continue
		}
		if len(out.Reservations) != 0 {
			t.Fatalf("the SDK's decoder also read a page the lean one read: %d reservations", len(out.Reservations))
		}
		for _, in := range page.instances {
			lean = append(lean, machine("us-east-1", in))
		}
		if page.next == "" {
			break
		}
		in.NextToken = sdkaws.String(page.next)
	}
	return sdk, lean, allLean
}

// TestLeanDescribeMatchesTheSDK: over the simulator's answers (pages of
// 1000, spot and on-demand, with and without public addresses, every
// state, tags with markup and non-ASCII in them) the lean decoder gives
// the machines the SDK's gives.
func TestLeanDescribeMatchesTheSDK(t *testing.T) {
	m := simec2.NewModel(cloudsim.Config{})
	srv := httptest.NewServer(simec2.New(m))
	defer srv.Close()
	seq := 0
	launch := func(n int, capacity string, public bool, tags map[string]string) []cloudsim.Instance {
		got, err := m.Launch(cloudsim.LaunchSpec{Region: "us-east-1", Zone: "us-east-1b", Type: "m7i.large", Capacity: capacity, Count: n, Tags: tags, PublicIP: public,
			Name: func(int) (string, string) { seq++; return fmt.Sprintf("i-%017x", seq), "" }})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	tags := map[string]string{provider.TagCluster: "lean", provider.TagRole: "worker", "note": `a <b> & "c" 'd' é ✓`, "": "empty key", "empty": ""}
	launch(1200, "on-demand", true, tags)
	launch(300, "spot", false, tags)
	ended := launch(20, "spot", true, tags)
	m.Terminate([]string{ended[0].ID, ended[1].ID}, "Client.UserInitiatedShutdown")
	m.Stop([]string{ended[2].ID}, "Client.UserInitiatedShutdown")
	c := rawClient(srv.URL)
	sdk, lean, allLean := both(t, c, types.Filter{Name: sdkaws.String("tag:" + provider.TagCluster), Values: []string{"lean"}})
	if len(sdk) != 1520 {
		t.Fatalf("the SDK listed %d machines, want 1520", len(sdk))
	}
	if !allLean {
		t.Error("the lean decoder handed a page to the SDK's")
	}
	if !reflect.DeepEqual(sdk, lean) {
		for i := range min(len(sdk), len(lean)) {
			if !reflect.DeepEqual(sdk[i], lean[i]) {
				t.Fatalf("machine %d:\n sdk  %+v\n lean %+v", i, sdk[i], lean[i])
			}
		}
		t.Fatalf("%d machines from the SDK, %d lean", len(sdk), len(lean))
	}
}

// TestLeanDescribeReadsOnlyWhereTheFieldsAre: hand-made answers with
// what EC2's format allows and the simulator does not send (nested
// fields of the same name before the instance's own, comments, CDATA,
// character references, namespace prefixes, attributes holding '>',
// empty elements, several reservations) read as the SDK reads them; what
// the lean decoder does not read (a DOCTYPE, another root, broken
// markup) goes to the SDK's decoder as it came.
func TestLeanDescribeReadsOnlyWhereTheFieldsAre(t *testing.T) {
	inst := func(id, extra string) string {
		return `<item><networkInterfaceSet><item><privateIpAddress>10.9.9.9</privateIpAddress><association><ipAddress>198.51.100.99</ipAddress></association>` +
			`<privateIpAddressesSet><item><privateIpAddress>10.9.9.8</privateIpAddress></item></privateIpAddressesSet></item></networkInterfaceSet>` +
			`<instanceId>` + id + `</instanceId><instanceState><code>16</code><name>running</name></instanceState>` +
			`<stateReason><code>x</code><message>y</message></stateReason><placement><availabilityZone>us-east-1a</availabilityZone><groupName/></placement>` +
			`<instanceType>m7i.large</instanceType><launchTime>2026-11-22T10:00:00.000Z</launchTime>` +
			`<privateIpAddress>10.0.0.1</privateIpAddress><ipAddress>203.0.113.5</ipAddress>` +
			`<blockDeviceMapping><item><deviceName>/dev/xvda</deviceName><ebs><volumeId>vol-1</volumeId><status>attached</status></ebs></item></blockDeviceMapping>` +
			`<tagSet><item><key>burst-cluster</key><value>hand</value></item><item><key>k</key><value/></item>` + extra + `</tagSet></item>`
	}
	good := map[string]string{
		"plain": `<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<DescribeInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">` +
			`<requestId>r</requestId><reservationSet><item><reservationId>r-1</reservationId><groupSet/><instancesSet>` + inst("i-1", "") + inst("i-2", "") +
			`</instancesSet></item><item><reservationId>r-2</reservationId><instancesSet>` + inst("i-3", "") + `</instancesSet></item></reservationSet>` +
			`<nextToken/></DescribeInstancesResponse>` + "\n",
		"escapes": `<DescribeInstancesResponse xmlns="x"><!-- a comment --><reservationSet><item><instancesSet>` +
			inst("i-4", `<item><key>n&amp;m</key><value>&lt;&gt;&quot;&apos;&#233;&#x2713;</value></item><item><key>c</key><value><![CDATA[<raw & text>]]></value></item>`) +
			`</instancesSet></item></reservationSet></DescribeInstancesResponse>`,
		"prefixed": `<ec2:DescribeInstancesResponse xmlns:ec2="x" a='1 > 0'><ec2:reservationSet><ec2:item><ec2:instancesSet>` +
			`<ec2:item><ec2:instanceId>i-5</ec2:instanceId><ec2:instanceState><ec2:name>pending</ec2:name></ec2:instanceState></ec2:item>` +
			`<ec2:item/></ec2:instancesSet></ec2:item></ec2:reservationSet></ec2:DescribeInstancesResponse>`,
	}
	bad := map[string]string{
		"doctype":   `<!DOCTYPE x [<!ENTITY e "i-9">]><DescribeInstancesResponse><reservationSet><item><instancesSet><item><instanceId>&e;</instanceId></item></instancesSet></item></reservationSet></DescribeInstancesResponse>`,
		"truncated": `<DescribeInstancesResponse><reservationSet><item><instancesSet>` + inst("i-6", ""),
		"mismatch":  `<DescribeInstancesResponse><reservationSet><item></instancesSet></item></reservationSet></DescribeInstancesResponse>`,
	}
	serve := func(body string) *ec2.Client {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
			_, _ = w.Write([]byte(body))
		}))
		t.Cleanup(srv.Close)
		return rawClient(srv.URL)
	}
	for name, body := range good {
		sdk, lean, allLean := both(t, serve(body))
		if !allLean || len(sdk) == 0 || !reflect.DeepEqual(sdk, lean) {
			t.Errorf("%s: lean read it %v;\n sdk  %+v\n lean %+v", name, allLean, sdk, lean)
		}
	}
	for name, body := range bad {
		if _, err := parseDescribeInstances([]byte(body)); err == nil {
			t.Errorf("%s: the lean decoder read it", name)
		}
	}
	// A body the lean decoder does not read reaches the SDK's intact.
	sdk, lean, allLean := both(t, serve(strings.Replace(good["plain"], "<?xml", "<!DOCTYPE DescribeInstancesResponse><?xml", 1)))
	if allLean || len(sdk) != 3 || !reflect.DeepEqual(sdk, lean) {
		t.Errorf("doctype: lean %v, %d machines from the SDK, %d from the fallback", allLean, len(sdk), len(lean))
	}
}

// BenchmarkParse1000 reads a 1000-instance page of the simulator's with
// the lean decoder alone.
func BenchmarkParse1000(b *testing.B) {
	m := simec2.NewModel(cloudsim.Config{})
	sim := simec2.New(m)
	var body []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		sim.ServeHTTP(rec, r)
		body = rec.Body.Bytes()
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(body)
	}))
	defer srv.Close()
	if _, err := m.Launch(cloudsim.LaunchSpec{Region: "us-east-1", Zone: "us-east-1b", Type: "m7i.large", Count: 1000, PublicIP: true,
		Tags: map[string]string{provider.TagCluster: "b", provider.TagRole: "worker"}}); err != nil {
		b.Fatal(err)
	}
	if _, err := rawClient(srv.URL).DescribeInstances(context.Background(), &ec2.DescribeInstancesInput{MaxResults: sdkaws.Int32(describePageSize)}); err != nil {
		b.Fatal(err)
	}
	p, err := parseDescribeInstances(body)
	if err != nil || len(p.instances) != 1000 {
		b.Fatalf("%v (%.200s)", err, body)
	}
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := parseDescribeInstances(body); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDescribe1000 decodes a 1000-instance page of the simulator's
// both ways.
func BenchmarkDescribe1000(b *testing.B) {
	m := simec2.NewModel(cloudsim.Config{})
	srv := httptest.NewServer(simec2.New(m))
	defer srv.Close()
	if _, err := m.Launch(cloudsim.LaunchSpec{Region: "us-east-1", Zone: "us-east-1b", Type: "m7i.large", Count: 1000, PublicIP: true,
		Tags: map[string]string{provider.TagCluster: "b", provider.TagRole: "worker"}}); err != nil {
		b.Fatal(err)
	}
	c := rawClient(srv.URL)
	ctx := context.Background()
	in := &ec2.DescribeInstancesInput{MaxResults: sdkaws.Int32(describePageSize)}
	b.Run("sdk", func(b *testing.B) {
		for b.Loop() {
			if _, err := c.DescribeInstances(ctx, in); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("lean", func(b *testing.B) {
		for b.Loop() {
			if _, _, err := describePage(ctx, c, in); err != nil {
				b.Fatal(err)
			}
		}
	})
}
