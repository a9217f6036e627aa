package gce

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
	"github.com/googleapis/gax-go/v2/callctx"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/burstdev/burst/internal/cloudsim"
)

// These tests talk to the server with Google's own REST client, as the
// provider does, and check GCE's behaviours the provider relies on.

type env struct {
	clock *cloudsim.Clock
	m     *cloudsim.Model
	s     *Server
	ri    *compute.RegionInstancesClient
	in    *compute.InstancesClient
	ops   *compute.RegionOperationsClient
}

func newEnv(t *testing.T, opts Options) *env {
	t.Helper()
	clock := cloudsim.NewClock(time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC))
	cfg := ModelConfig()
	cfg.Now, cfg.Sleep = clock.Now, clock.Sleep
	m := cloudsim.New(cfg)
	s := Start(m, opts)
	t.Cleanup(s.Close)
	ctx := context.Background()
	co := []option.ClientOption{option.WithEndpoint(s.URL()), option.WithoutAuthentication()}
	ri, err := compute.NewRegionInstancesRESTClient(ctx, co...)
	if err != nil {
		t.Fatal(err)
	}
	in, _ := compute.NewInstancesRESTClient(ctx, co...)
	ops, _ := compute.NewRegionOperationsRESTClient(ctx, co...)
	return &env{clock: clock, m: m, s: s, ri: ri, in: in, ops: ops}
}

func body(count, minCount int64, machine string, sched *computepb.Scheduling) *computepb.BulkInsertInstanceResource {
	return &computepb.BulkInsertInstanceResource{
		Count: proto.Int64(count), MinCount: proto.Int64(minCount), NamePattern: proto.String("t-####"),
		InstanceProperties: &computepb.InstanceProperties{
			MachineType: proto.String(machine), Labels: map[string]string{"burst-cluster": "t"},
			Disks: []*computepb.AttachedDisk{{Boot: proto.Bool(true), AutoDelete: proto.Bool(true), InitializeParams: &computepb.AttachedDiskInitializeParams{
				SourceImage: proto.String("projects/debian-cloud/global/images/family/debian-12"), DiskType: proto.String("pd-balanced")}}},
			NetworkInterfaces: []*computepb.NetworkInterface{{Network: proto.String("global/networks/default")}},
			Scheduling:        sched,
		},
	}
}

func (e *env) bulk(t *testing.T, region, rid string, b *computepb.BulkInsertInstanceResource) (*computepb.Operation, error) {
	t.Helper()
	req := &computepb.BulkInsertRegionInstanceRequest{Project: "burst-sim", Region: region, BulkInsertInstanceResourceResource: b}
	if rid != "" {
		req.RequestId = proto.String(rid)
	}
	op, err := e.ri.BulkInsert(context.Background(), req)
	if err != nil {
		return nil, err
	}
	return op.Proto(), nil
}

func status(err error) (int, string) {
	var ge *googleapi.Error
	if !errors.As(err, &ge) {
		return 0, ""
	}
	reason := ""
	if len(ge.Errors) > 0 {
		reason = ge.Errors[0].Reason
	}
	return ge.Code, reason
}

func TestRequestIDIdempotency(t *testing.T) {
	e := newEnv(t, Options{})
	rid := "6b3e1c8a-5f0d-4a57-9a43-4d1f2c0e7b21"
	first, err := e.bulk(t, "us-central1", rid, body(3, 1, "e2-standard-2", nil))
	if err != nil {
		t.Fatal(err)
	}
	second, err := e.bulk(t, "us-central1", rid, body(3, 1, "e2-standard-2", nil))
	if err != nil {
		t.Fatal(err)
	}
	if first.GetName() != second.GetName() || len(e.m.Instances(nil)) != 3 {
		t.Fatalf("a repeated requestId made operation %s then %s and %d instances", first.GetName(), second.GetName(), len(e.m.Instances(nil)))
	}
	if _, err := e.bulk(t, "us-central1", "not-a-uuid", body(1, 1, "e2-standard-2", nil)); !strings.Contains(err.Error(), "UUID") {
		t.Fatalf("a bad requestId: %v", err)
	}
	// op.Wait polls GET .../operations/{name}, as the client does.
	op, _ := e.ri.BulkInsert(context.Background(), &computepb.BulkInsertRegionInstanceRequest{Project: "burst-sim", Region: "us-east1", BulkInsertInstanceResourceResource: body(1, 1, "e2-standard-2", nil)})
	if err := op.Wait(context.Background()); err != nil || !op.Done() {
		t.Fatalf("op.Wait: %v", err)
	}
}

func TestUpfrontCapacityAndMinCount(t *testing.T) {
	e := newEnv(t, Options{})
	for _, z := range Regions()["us-central1"] {
		e.m.SetCapacity(cloudsim.PoolKey{Type: "n2-standard-4", Zone: z, Capacity: cloudsim.OnDemand}, 1)
	}
	if _, err := e.bulk(t, "us-central1", "", body(5, 5, "n2-standard-4", nil)); err == nil {
		t.Fatal("minCount 5 with room for 4 succeeded")
	} else if code, reason := status(err); code != http.StatusServiceUnavailable || reason != "insufficientCapacity" {
		t.Fatalf("got %d %s", code, reason)
	}
	if n := len(e.m.Instances(nil)); n != 0 {
		t.Fatalf("a refused request made %d instances", n)
	}
	op, err := e.bulk(t, "us-central1", "", body(5, 1, "n2-standard-4", nil))
	if err != nil {
		t.Fatal(err)
	}
	created := int32(0)
	for _, st := range op.GetInstancesBulkInsertOperationMetadata().GetPerLocationStatus() {
		created += st.GetCreatedVmCount()
	}
	if created != 4 || len(op.GetWarnings()) != 1 {
		t.Fatalf("partial bulk: created %d, warnings %v", created, op.GetWarnings())
	}
}

func TestSchedulingValidation(t *testing.T) {
	e := newEnv(t, Options{})
	for _, tt := range []struct {
		name    string
		machine string
		sched   *computepb.Scheduling
	}{
		{"spot that migrates", "e2-standard-2", &computepb.Scheduling{ProvisioningModel: proto.String("SPOT"), OnHostMaintenance: proto.String("MIGRATE")}},
		{"gpu that migrates", "g2-standard-4", &computepb.Scheduling{OnHostMaintenance: proto.String("MIGRATE")}},
		{"maxRunDuration without action", "e2-standard-2", &computepb.Scheduling{MaxRunDuration: &computepb.Duration{Seconds: proto.Int64(3600)}}},
		{"spot that restarts", "e2-standard-2", &computepb.Scheduling{ProvisioningModel: proto.String("SPOT"), AutomaticRestart: proto.Bool(true)}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.bulk(t, "us-central1", "", body(1, 1, tt.machine, tt.sched))
			if code, _ := status(err); code != http.StatusBadRequest {
				t.Fatalf("got %v", err)
			}
		})
	}
	c4 := body(1, 1, "c4-standard-4", nil)
	if _, err := e.bulk(t, "us-central1", "", c4); err == nil || !strings.Contains(err.Error(), "Hyperdisk") {
		t.Fatalf("c4 on pd-balanced: %v", err)
	}
}

func TestMaxRunDurationStop(t *testing.T) {
	e := newEnv(t, Options{})
	sched := &computepb.Scheduling{ProvisioningModel: proto.String("SPOT"), InstanceTerminationAction: proto.String("STOP"), MaxRunDuration: &computepb.Duration{Seconds: proto.Int64(600)}}
	if _, err := e.bulk(t, "us-central1", "", body(1, 1, "e2-standard-2", sched)); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(11 * time.Minute)
	got, err := e.in.Get(context.Background(), &computepb.GetInstanceRequest{Project: "burst-sim", Zone: "us-central1-a", Instance: "t-0001"})
	if err != nil {
		// The instance may have landed in another zone: find it.
		v, _, ok := e.s.Instance("t-0001")
		if !ok {
			t.Fatal(err)
		}
		got, err = e.in.Get(context.Background(), &computepb.GetInstanceRequest{Project: "burst-sim", Zone: lastSegment(v.GetZone()), Instance: "t-0001"})
		if err != nil {
			t.Fatal(err)
		}
	}
	if got.GetStatus() != "TERMINATED" {
		t.Fatalf("after maxRunDuration with STOP: %s", got.GetStatus())
	}
}

func TestConcurrentBulkLimit(t *testing.T) {
	e := newEnv(t, Options{OperationDelay: time.Minute})
	for i := 0; i < MaxConcurrentBulk; i++ {
		if _, err := e.bulk(t, "us-central1", "", body(1, 1, "e2-standard-2", nil)); err != nil {
			t.Fatalf("bulk %d: %v", i, err)
		}
	}
	_, err := e.bulk(t, "us-central1", "", body(1, 1, "e2-standard-2", nil))
	if code, reason := status(err); code != http.StatusForbidden || reason != "rateLimitExceeded" {
		t.Fatalf("11th concurrent bulk: %v", err)
	}
	e.clock.Advance(time.Minute)
	if _, err := e.bulk(t, "us-central1", "", body(1, 1, "e2-standard-2", nil)); err != nil {
		t.Fatalf("after the others finished: %v", err)
	}
}

func TestOperationFaultRollsBack(t *testing.T) {
	e := newEnv(t, Options{})
	e.m.Inject(cloudsim.Fault{Service: Service, Action: "compute.regionInstances.bulkInsert" + OperationSuffix, Kind: cloudsim.KindCapacity, Times: 1})
	op, err := e.bulk(t, "us-central1", "", body(4, 1, "e2-standard-2", nil))
	if err != nil {
		t.Fatal(err)
	}
	done, err := e.ops.Wait(context.Background(), &computepb.WaitRegionOperationRequest{Project: "burst-sim", Region: "us-central1", Operation: op.GetName()})
	if err != nil {
		t.Fatal(err)
	}
	if done.GetStatus() != computepb.Operation_DONE || done.GetError().GetErrors()[0].GetCode() != "ZONE_RESOURCE_POOL_EXHAUSTED" || done.GetHttpErrorStatusCode() != 503 {
		t.Fatalf("failed operation %v", done)
	}
	if leaks := e.m.Leaks("burst-cluster"); len(leaks) != 0 {
		t.Fatalf("rollback left %v", leaks)
	}
}

func TestListFilterAndPages(t *testing.T) {
	e := newEnv(t, Options{})
	if _, err := e.bulk(t, "us-central1", "", body(7, 7, "e2-standard-2", nil)); err != nil {
		t.Fatal(err)
	}
	it := e.in.AggregatedList(context.Background(), &computepb.AggregatedListInstancesRequest{Project: "burst-sim", Filter: proto.String(`labels.burst-cluster = "t"`), MaxResults: proto.Uint32(3)})
	n := 0
	for {
		pair, err := it.Next()
		if err != nil {
			break
		}
		n += len(pair.Value.GetInstances())
	}
	if n != 7 {
		t.Fatalf("paged list found %d of 7", n)
	}
	_, err := e.in.AggregatedList(context.Background(), &computepb.AggregatedListInstancesRequest{Project: "burst-sim", Filter: proto.String(`labels.a = "b" OR labels.c = "d"`)}).Next()
	if code, _ := status(err); code != http.StatusBadRequest {
		t.Fatalf("an unsupported filter: %v", err)
	}
}

func TestParseFilter(t *testing.T) {
	f, err := parseFilter(`(labels.burst-cluster = "etl") (labels.burst-attempt = "0") AND name != "x*" labels.burst-token:*`)
	if err == nil {
		t.Fatalf("a bare term after others should not parse as one: %v", f)
	}
	f, err = parseFilter(`(labels.burst-cluster = "etl") (name != "x*") (labels.burst-token:*)`)
	if err != nil || len(f) != 3 {
		t.Fatalf("parse: %v %v", f, err)
	}
	ok, err := f.match(map[string]string{"name": "abc", "labels.burst-cluster": "etl", "labels.burst-token": "1"})
	if err != nil || !ok {
		t.Fatalf("match: %v %v", ok, err)
	}
	ok, _ = f.match(map[string]string{"name": "xyz", "labels.burst-cluster": "etl", "labels.burst-token": "1"})
	if ok {
		t.Fatal("name != x* matched xyz")
	}
}

// TestRegexFilter: the regular-expression form, its literal matching the
// whole field, and its refusal to mix with AIP-160 expressions.
func TestRegexFilter(t *testing.T) {
	fields := func(name, cluster string) map[string]string {
		return map[string]string{"name": name, "labels.burst-cluster": cluster}
	}
	for _, tt := range []struct {
		filter string
		fields map[string]string
		want   bool
	}{
		{`name eq etl-w-0013`, fields("etl-w-0013", "etl"), true},
		{`name eq etl-w`, fields("etl-w-0013", "etl"), false}, // the whole field, not a part
		{`name eq .*[0-4]`, fields("etl-w-0013", "etl"), true},
		{`name ne .*[0-4]`, fields("etl-w-0013", "etl"), false},
		{`name ne '.*[0-4]'`, fields("etl-w-0017", "etl"), true},
		{`(labels.burst-cluster eq 'etl') (name eq '.*[0-4]')`, fields("etl-w-0014", "etl"), true},
		{`(labels.burst-cluster eq 'etl') (name eq '.*[0-4]')`, fields("etl-w-0014", "etl2"), false},
		{`(labels.burst-cluster eq "etl") (name ne ".*[0-4]")`, fields("etl-w-0015", "etl"), true},
		{`(labels.burst-cluster eq 'etl') (name eq '(a|b)')`, fields("b", "etl"), true},
		{`(labels.other eq 'x')`, fields("b", "etl"), false},
	} {
		f, err := parseFilter(tt.filter)
		if err != nil {
			t.Errorf("%s: %v", tt.filter, err)
			continue
		}
		if got, err := f.match(tt.fields); err != nil || got != tt.want {
			t.Errorf("%s on %v = %v, %v; want %v", tt.filter, tt.fields, got, err, tt.want)
		}
	}
	for _, bad := range []string{
		`(labels.burst-cluster = "etl") (name eq '.*[0-4]')`, // the forms mixed
		`(labels.burst-cluster eq 'etl') AND (name eq 'x')`,
		`name eq '.*[0-4'`,
		`(name eq 'x)`,
	} {
		if f, err := parseFilter(bad); err == nil {
			t.Errorf("%s parsed as %v", bad, f)
		}
	}
	// Over the wire: a mixed filter is a 400.
	e := newEnv(t, Options{})
	_, err := e.in.AggregatedList(context.Background(), &computepb.AggregatedListInstancesRequest{Project: "burst-sim",
		Filter: proto.String(`(labels.burst-cluster = "t") (name eq '.*[0-4]')`)}).Next()
	if code, _ := status(err); code != http.StatusBadRequest {
		t.Fatalf("a mixed filter: %v, want 400", err)
	}
}

func TestBillingSKUs(t *testing.T) {
	var core, spot, gpu bool
	for _, s := range skuList {
		switch s.Description {
		case "N2 Instance Core running in Americas":
			core = s.ServiceRegions[0] != "" && s.Category.UsageType == "OnDemand"
		case "Spot Preemptible N2D AMD Instance Ram running in Americas":
			spot = s.Category.UsageType == "Preemptible" && s.PricingInfo[0].PricingExpression.UsageUnit == "GiBy.h"
		case "Nvidia Tesla T4 GPU running in Americas":
			gpu = true
		}
	}
	if !core || !spot || !gpu {
		t.Fatalf("SKUs missing: core %v spot %v gpu %v", core, spot, gpu)
	}
}

// TestFirewallBusyAndList: a rule whose insert is still running cannot be
// deleted (400 resourceNotReady) until the operation ends; list returns
// rules with their creation time.
func TestFirewallBusyAndList(t *testing.T) {
	e := newEnv(t, Options{OperationDelay: 10 * time.Second})
	ctx := context.Background()
	co := []option.ClientOption{option.WithEndpoint(e.s.URL()), option.WithoutAuthentication()}
	fws, err := compute.NewFirewallsRESTClient(ctx, co...)
	if err != nil {
		t.Fatal(err)
	}
	rule := &computepb.Firewall{Name: proto.String("burst-x-internal"), Description: proto.String("burst-cluster=x burst-owner=ana"),
		Network: proto.String("global/networks/default"), SourceTags: []string{"burst-x"},
		Allowed: []*computepb.Allowed{{IPProtocol: proto.String("tcp")}}}
	if _, err := fws.Insert(ctx, &computepb.InsertFirewallRequest{Project: "burst-sim", FirewallResource: rule}); err != nil {
		t.Fatal(err)
	}
	_, err = fws.Delete(ctx, &computepb.DeleteFirewallRequest{Project: "burst-sim", Firewall: "burst-x-internal"})
	if code, reason := status(err); code != http.StatusBadRequest || reason != "resourceNotReady" {
		t.Fatalf("delete during the insert: %d %s (%v), want 400 resourceNotReady", code, reason, err)
	}
	it := fws.List(ctx, &computepb.ListFirewallsRequest{Project: "burst-sim"})
	fw, err := it.Next()
	if err != nil || fw.GetName() != "burst-x-internal" || fw.GetCreationTimestamp() != "2026-11-02T09:00:00.000+00:00" {
		t.Fatalf("list: %v %v", fw, err)
	}
	e.clock.Advance(10 * time.Second)
	if _, err := fws.Delete(ctx, &computepb.DeleteFirewallRequest{Project: "burst-sim", Firewall: "burst-x-internal"}); err != nil {
		t.Fatalf("delete after the insert ended: %v", err)
	}
	if leaks := e.m.Leaks("burst-cluster"); len(leaks) != 0 {
		t.Errorf("left %v", leaks)
	}
	long := proto.Clone(rule).(*computepb.Firewall)
	long.Name, long.Description = proto.String("burst-y-internal"), proto.String(strings.Repeat("d", 2049))
	_, err = fws.Insert(ctx, &computepb.InsertFirewallRequest{Project: "burst-sim", FirewallResource: long})
	if code, _ := status(err); code != http.StatusBadRequest {
		t.Errorf("a 2049-character description: %v, want 400", err)
	}
}

// TestDiskEncryptionRecorded: the server records how a boot disk is
// encrypted at rest (GCE always encrypts; the key is Google's unless the
// request names one).
func TestDiskEncryptionRecorded(t *testing.T) {
	e := newEnv(t, Options{})
	b := body(1, 1, "e2-standard-2", nil)
	if _, err := e.bulk(t, "us-central1", "", b); err != nil {
		t.Fatal(err)
	}
	b = body(1, 1, "e2-standard-2", nil)
	b.NamePattern = proto.String("k-####")
	b.InstanceProperties.Disks[0].DiskEncryptionKey = &computepb.CustomerEncryptionKey{RawKey: proto.String("c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTMyYg==")}
	if _, err := e.bulk(t, "us-central1", "", b); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, in := range e.m.Instances(nil) {
		got[in.Name] = in.Attrs[AttrDiskEncryption] + "," + in.Attrs[AttrDiskAutoDelete]
	}
	if got["t-0001"] != "google-managed,true" || got["k-0001"] != "csek,true" {
		t.Errorf("recorded %v", got)
	}
}

// TestFirewallFamilies: GCE takes IPv4 or IPv6 source ranges in a rule,
// not both.
func TestFirewallFamilies(t *testing.T) {
	e := newEnv(t, Options{})
	ctx := context.Background()
	fws, err := compute.NewFirewallsRESTClient(ctx, option.WithEndpoint(e.s.URL()), option.WithoutAuthentication())
	if err != nil {
		t.Fatal(err)
	}
	for i, tt := range []struct {
		ranges []string
		ok     bool
	}{
		{[]string{"0.0.0.0/0"}, true},
		{[]string{"::/0", "2001:db8::7/128"}, true},
		{[]string{"203.0.113.7/32", "2001:db8::7/128"}, false},
	} {
		_, err := fws.Insert(ctx, &computepb.InsertFirewallRequest{Project: "burst-sim", FirewallResource: &computepb.Firewall{
			Name: proto.String(fmt.Sprintf("r%d", i)), SourceRanges: tt.ranges, Allowed: []*computepb.Allowed{{IPProtocol: proto.String("tcp")}}}})
		if (err == nil) != tt.ok {
			t.Errorf("ranges %v: %v", tt.ranges, err)
		}
	}
}

func TestFieldMask(t *testing.T) {
	e := newEnv(t, Options{})
	b := body(3, 3, "e2-standard-2", nil)
	b.InstanceProperties.Metadata = &computepb.Metadata{Items: []*computepb.Items{{Key: proto.String("startup-script"), Value: proto.String(strings.Repeat("x", 4096))}}}
	if _, err := e.bulk(t, "us-central1", "", b); err != nil {
		t.Fatal(err)
	}
	list := func(mask string) ([]*computepb.Instance, error) {
		ctx := callctx.SetHeaders(context.Background(), "X-Goog-FieldMask", mask)
		it := e.in.AggregatedList(ctx, &computepb.AggregatedListInstancesRequest{Project: "burst-sim"})
		var out []*computepb.Instance
		for {
			pair, err := it.Next()
			if errors.Is(err, iterator.Done) {
				return out, nil
			}
			if err != nil {
				return nil, err
			}
			out = append(out, pair.Value.GetInstances()...)
		}
	}
	got, err := list("nextPageToken,items/*/instances(name,labels,networkInterfaces(networkIP))")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("masked list found %d of 3", len(got))
	}
	for _, in := range got {
		if in.GetName() == "" || in.GetLabels()["burst-cluster"] != "t" || in.GetNetworkInterfaces()[0].GetNetworkIP() == "" {
			t.Fatalf("a masked field is missing: %v", in)
		}
		if in.GetMetadata() != nil || in.GetMachineType() != "" || in.GetNetworkInterfaces()[0].GetNetwork() != "" {
			t.Fatalf("an unmasked field came back: %v", in)
		}
	}
	full, err := list("")
	if err != nil || len(full) != 3 || full[0].GetMetadata() == nil {
		t.Fatalf("no mask: %v, %v", full, err)
	}
	for _, bad := range []string{"items(", "items/*/instances(name", "a,,b", "items)"} {
		if _, err := list(bad); err == nil {
			t.Errorf("mask %q: no error", bad)
		} else if code, _ := status(err); code != http.StatusBadRequest {
			t.Errorf("mask %q: %v, want 400", bad, err)
		}
	}
}

func TestMaskParse(t *testing.T) {
	p := &maskParser{s: "a.b,a/c(d,e(f)),g,a.b.x,h(i),h"}
	m, err := p.mask()
	if err != nil {
		t.Fatal(err)
	}
	want := `map[a:map[b:map[] c:map[d:map[] e:map[f:map[]]]] g:map[] h:map[]]`
	if got := fmt.Sprint(m); got != want {
		t.Fatalf("parsed %s, want %s", got, want)
	}
}

// TestDeadlinesAfterSkippedSweeps: sweeps skip the machines until the
// earliest deadline they saw, and a later launch with an earlier deadline
// is still enforced on time.
func TestDeadlinesAfterSkippedSweeps(t *testing.T) {
	e := newEnv(t, Options{})
	run := func(secs int64) *computepb.Scheduling {
		return &computepb.Scheduling{ProvisioningModel: proto.String("SPOT"), InstanceTerminationAction: proto.String("DELETE"), MaxRunDuration: &computepb.Duration{Seconds: proto.Int64(secs)}}
	}
	live := func() int {
		n := 0
		for _, in := range e.m.Instances(nil) {
			if in.State == cloudsim.Running || in.State == cloudsim.Pending {
				n++
			}
		}
		return n
	}
	if _, err := e.bulk(t, "us-central1", "", body(2, 2, "e2-standard-2", run(3600))); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Minute)
	if _, err := e.bulk(t, "us-central1", "", body(1, 1, "e2-standard-2", run(120))); err != nil { // sweeps, then launches
		t.Fatal(err)
	}
	e.clock.Advance(3 * time.Minute)
	e.s.sweep()
	if n := live(); n != 2 {
		t.Fatalf("%d machines live 4 minutes in, want the 2 with an hour", n)
	}
	e.clock.Advance(time.Hour)
	e.s.sweep()
	if n := live(); n != 0 {
		t.Fatalf("%d machines live after their hour", n)
	}
}

// TestPruneMessageMatchesJSONMask: pruning the message before encoding it
// (what the server does to save its own CPU) answers exactly what masking
// the whole encoding answers, for listings, operations and masks that
// select through maps, lists and "*".
func TestPruneMessageMatchesJSONMask(t *testing.T) {
	e := newEnv(t, Options{})
	b := body(3, 3, "e2-standard-2", nil)
	b.InstanceProperties.Metadata = &computepb.Metadata{Items: []*computepb.Items{{Key: proto.String("startup-script"), Value: proto.String("echo hi")}}}
	if _, err := e.bulk(t, "us-central1", "", b); err != nil {
		t.Fatal(err)
	}
	var views []*computepb.Instance
	for _, x := range e.s.liveInstances(nil) {
		views = append(views, listed(x, nil))
	}
	agg := &computepb.InstanceAggregatedList{NextPageToken: proto.String("p3"), Items: map[string]*computepb.InstancesScopedList{
		"zones/us-central1-a": {Instances: views[:2]}, "zones/us-central1-b": {Instances: views[2:]},
		"zones/us-east1-b": {Warning: &computepb.Warning{Code: proto.String("NO_RESULTS_ON_PAGE")}},
	}}
	msgs := []proto.Message{agg, &computepb.InstanceList{Items: views}, e.s.Operations()[0]}
	masks := []string{
		"nextPageToken,items/*/instances(name,zone,machineType,status,labels,creationTimestamp," +
			"scheduling(provisioningModel,preemptible),guestAccelerators(acceleratorType,acceleratorCount)," +
			"networkInterfaces(networkIP,accessConfigs(natIP)))",
		"items(*)", "*", "items/*/warning/code", "items/*/instances/metadata/items/value",
		"name,status,error,warnings", "items/name", "kind,id",
	}
	for _, msg := range msgs {
		for _, raw := range masks {
			mask, perr := (&maskParser{s: raw}).mask()
			if perr != nil {
				t.Fatal(perr)
			}
			whole, err := protojson.Marshal(msg)
			if err != nil {
				t.Fatal(err)
			}
			want, err := applyMask(whole, mask)
			if err != nil {
				t.Fatal(err)
			}
			m := proto.Clone(msg)
			if !pruneMessage(m.ProtoReflect(), mask) {
				t.Fatalf("%s with %q: not exact", msg.ProtoReflect().Descriptor().Name(), raw)
			}
			pruned, err := protojson.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			// What a client decodes from each: the same message. (The
			// encodings differ only where the mask empties a map: left
			// out against {}.)
			got, wantMsg := msg.ProtoReflect().New().Interface(), msg.ProtoReflect().New().Interface()
			if err := protojson.Unmarshal(pruned, got); err != nil {
				t.Fatal(err)
			}
			if err := protojson.Unmarshal(want, wantMsg); err != nil {
				t.Fatal(err)
			}
			if !proto.Equal(got, wantMsg) {
				t.Errorf("%s with %q:\npruned %s\nwhole  %s", msg.ProtoReflect().Descriptor().Name(), raw, pruned, want)
			}
		}
	}
}
