package gce

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/burstdev/burst/internal/cloudsim"
)

// get answers a GET of path?query with the field mask (if any) in the
// X-Goog-FieldMask header.
func (e *env) get(t *testing.T, path string, query url.Values, mask string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, e.s.URL()+"/compute/v1/projects/burst-sim"+path+"?"+query.Encode(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if mask != "" {
		req.Header.Set("X-Goog-FieldMask", mask)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

// mixedState makes machines in two regions and three zones, with startup
// scripts, and stops, deletes and preempts some.
func mixedState(t *testing.T, e *env) {
	t.Helper()
	for _, r := range []struct {
		region string
		n      int64
		sched  *computepb.Scheduling
	}{
		{"us-central1", 5, nil},
		{"us-east1", 3, &computepb.Scheduling{ProvisioningModel: proto.String("SPOT"), InstanceTerminationAction: proto.String("STOP")}},
	} {
		b := body(r.n, r.n, "e2-standard-2", r.sched)
		b.NamePattern = proto.String(r.region[3:] + "-####")
		b.InstanceProperties.Metadata = &computepb.Metadata{Items: []*computepb.Items{{Key: proto.String("startup-script"), Value: proto.String(strings.Repeat("x", 2048))}}}
		b.LocationPolicy = &computepb.LocationPolicy{TargetShape: proto.String("ANY_SINGLE_ZONE")}
		if r.region == "us-central1" {
			b.LocationPolicy = &computepb.LocationPolicy{TargetShape: proto.String("BALANCED")}
		}
		if _, err := e.bulk(t, r.region, "", b); err != nil {
			t.Fatal(err)
		}
	}
	ins := e.m.Instances(nil)
	if len(ins) != 8 {
		t.Fatalf("%d machines made, want 8", len(ins))
	}
	e.m.Terminate([]string{ins[0].ID}, "deleted")
	if !e.s.GuestShutdown(ins[1].Name) || !e.s.Preempt(ins[6].Name) {
		t.Fatal("could not stop or preempt")
	}
}

// TestListsMaskedCopyEquivalent: listings that copy only the masked
// fields of each machine, outside the lock, answer what masking the whole
// answer does, for a mixed state, pages, filters and masks; and the whole
// answer is the machines' full views (what get answers) in zone and name
// order.
func TestListsMaskedCopyEquivalent(t *testing.T) {
	e := newEnv(t, Options{})
	mixedState(t, e)
	masks := []string{
		"nextPageToken,items/*/instances(name,zone,machineType,status,labels,creationTimestamp," +
			"scheduling(provisioningModel,preemptible),guestAccelerators(acceleratorType,acceleratorCount)," +
			"networkInterfaces(networkIP,accessConfigs(natIP)))",
		"nextPageToken,items(name,zone,status,statusMessage,labels,networkInterfaces(networkIP))",
		"items(*)", "items/*/instances(name,metadata)", "items/metadata/items/value", "items/*/instances/*",
		"nextPageToken", "kind,id", "items/zones/us-east1-b", "items/*/warning", "*",
	}
	type call struct {
		path  string
		query url.Values
	}
	var calls []call
	for _, path := range []string{"/aggregated/instances", "/zones/us-central1-a/instances", "/zones/us-east1-b/instances", "/zones/us-west1-a/instances"} {
		for _, q := range []url.Values{
			{}, {"maxResults": {"2"}}, {"maxResults": {"2"}, "pageToken": {"p2"}},
			{"filter": {`status = "RUNNING"`}}, {"filter": {`labels.burst-cluster = "t"`}, "maxResults": {"3"}, "pageToken": {"p3"}},
		} {
			calls = append(calls, call{path, q})
		}
	}
	for _, c := range calls {
		code, whole := e.get(t, c.path, c.query, "")
		if code != http.StatusOK {
			// A page past the end: the masked calls fail the same way.
			for _, raw := range masks {
				if c2, b := e.get(t, c.path, c.query, raw); c2 != code || string(b) != string(whole) {
					t.Errorf("%s?%s with %q: %d %s, without a mask %d %s", c.path, c.query.Encode(), raw, c2, b, code, whole)
				}
			}
			continue
		}
		var msg proto.Message = &computepb.InstanceList{}
		if strings.HasPrefix(c.path, "/aggregated") {
			msg = &computepb.InstanceAggregatedList{}
		}
		if err := protojson.Unmarshal(whole, msg); err != nil {
			t.Fatal(err)
		}
		// The whole answer: each machine's full view, as get shows it.
		var got []*computepb.Instance
		switch m := msg.(type) {
		case *computepb.InstanceList:
			got = m.GetItems()
		case *computepb.InstanceAggregatedList:
			for _, l := range m.GetItems() {
				got = append(got, l.GetInstances()...)
			}
		}
		for _, v := range got {
			want, _, ok := e.s.Instance(v.GetName())
			if !ok || !proto.Equal(v, want) {
				t.Errorf("%s?%s: listed %v\nget      %v", c.path, c.query.Encode(), v, want)
			}
		}
		for _, raw := range masks {
			mask, perr := (&maskParser{s: raw}).mask()
			if perr != nil {
				t.Fatal(perr)
			}
			if raw == "*" {
				mask = nil
			}
			wantJSON, err := applyMask(whole, mask)
			if err != nil {
				t.Fatal(err)
			}
			code, gotJSON := e.get(t, c.path, c.query, raw)
			if code != http.StatusOK {
				t.Fatalf("%s?%s with %q: %d %s", c.path, c.query.Encode(), raw, code, gotJSON)
			}
			g, w := msg.ProtoReflect().New().Interface(), msg.ProtoReflect().New().Interface()
			if err := protojson.Unmarshal(gotJSON, g); err != nil {
				t.Fatal(err)
			}
			if err := protojson.Unmarshal(wantJSON, w); err != nil {
				t.Fatal(err)
			}
			if !proto.Equal(g, w) {
				t.Errorf("%s?%s with %q:\ngot  %s\nwant %s", c.path, c.query.Encode(), raw, gotJSON, wantJSON)
			}
		}
	}
}

// TestListsCopyOutsideLock: a listing copies its page without holding
// the server's lock, so a call beside it (a delete here) does not wait for
// it; and the page still shows the one moment it was taken at.
func TestListsCopyOutsideLock(t *testing.T) {
	e := newEnv(t, Options{})
	mixedState(t, e)
	victim := ""
	for _, in := range e.m.Instances(nil) {
		if in.State == cloudsim.Running {
			victim = in.Name
			break
		}
	}
	_, before, _ := e.s.Instance(victim)
	for _, path := range []string{"/aggregated/instances", "/zones/" + before.Zone + "/instances"} {
		for _, mask := range []string{"", "items/*/instances(name,status),items(name,status)"} {
			var once sync.Once
			held := false
			listHook = func() {
				once.Do(func() {
					if !e.s.mu.TryLock() {
						held = true
						return
					}
					e.s.mu.Unlock()
				})
			}
			code, b := e.get(t, path, url.Values{}, mask)
			listHook = nil
			if code != http.StatusOK {
				t.Fatalf("%s: %d %s", path, code, b)
			}
			if held {
				t.Errorf("%s with mask %q: the server's lock is held while the page is copied", path, mask)
			}
		}
	}
	// A delete that lands while a page is being copied does not wait, and
	// the page shows the machine as it was when the list was taken.
	var once sync.Once
	listHook = func() {
		once.Do(func() {
			done := make(chan struct{})
			go func() {
				defer close(done)
				code, b := e.del(t, before.Zone, victim)
				if code != http.StatusOK {
					t.Errorf("delete: %d %s", code, b)
				}
			}()
			select {
			case <-done:
			case <-time.After(10 * time.Second): // a deadlock, not a race
				t.Error("the delete waits for the list to finish copying")
			}
		})
	}
	defer func() { listHook = nil }()
	_, b := e.get(t, "/zones/"+before.Zone+"/instances", url.Values{}, "items(name,status)")
	l := &computepb.InstanceList{}
	if err := protojson.Unmarshal(b, l); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, v := range l.GetItems() {
		if v.GetName() == victim {
			found = v.GetStatus() == "RUNNING"
		}
	}
	if !found {
		t.Errorf("the page does not show %s RUNNING as at the moment it was taken: %s", victim, b)
	}
	if v, _, _ := e.s.Instance(victim); v.GetStatus() == "RUNNING" {
		t.Errorf("the delete did not happen: %s", v.GetStatus())
	}
}

func (e *env) del(t *testing.T, zone, name string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodDelete, e.s.URL()+"/compute/v1/projects/burst-sim/zones/"+zone+"/instances/"+name, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}
