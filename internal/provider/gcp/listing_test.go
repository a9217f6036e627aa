package gcp

import (
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"

	"github.com/burstdev/burst/internal/catalog"
	"github.com/burstdev/burst/internal/cloudsim"
	"github.com/burstdev/burst/internal/cloudsim/gce"
	"github.com/burstdev/burst/internal/plan"
	"github.com/burstdev/burst/internal/provider"
)

// TestLaunchListsBesideTheWait: the listing of what a bulkInsert made
// starts once GCE has accepted the call, not after its operation's wait,
// and when the finished operation counts as many machines as it found,
// it is the only listing. The simulator's wait is held until a listing
// has been answered (for at most two seconds: a launch that lists only
// after the wait fails the test).
func TestLaunchListsBesideTheWait(t *testing.T) {
	e := newSim(t)
	listed := make(chan struct{})
	var once sync.Once
	var mu sync.Mutex
	heldUntilListed := true
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/wait") && strings.Contains(r.URL.Path, "/regions/") {
			select {
			case <-listed:
			case <-time.After(2 * time.Second):
				mu.Lock()
				heldUntilListed = false
				mu.Unlock()
			}
		}
		e.srv.ServeHTTP(w, r)
		if strings.HasSuffix(r.URL.Path, "/aggregated/instances") {
			once.Do(func() { close(listed) })
		}
	}))
	t.Cleanup(proxy.Close)
	opts := e.opts
	opts.Endpoint = proxy.URL
	p := New(opts)
	res, err := p.Launch(ctxT(t), launchRequest("beside", 3, offering(t, "e2-standard-2", "us-central1", catalog.OnDemand)))
	if err != nil || len(res.Machines) != 3 {
		t.Fatalf("Launch = %v, %v", res.Machines, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if !heldUntilListed {
		t.Error("the operation's wait was sent, and held, before any listing: the listing waits for the operation")
	}
	if n := e.model.Count("compute.instances.aggregatedList"); n != 1 {
		t.Errorf("%d listings, want 1: the operation counts the 3 machines the first one found", n)
	}
}

// TestLaunchListsAgainWhenTheOperationFails: a listing made while the
// operation ran is not the answer when the operation then fails and GCE
// rolls its machines back; the launch lists again and reports none.
func TestLaunchListsAgainWhenTheOperationFails(t *testing.T) {
	e := newSimServer(t, gce.Options{OperationDelay: 10 * time.Second})
	e.model.Inject(cloudsim.Fault{Service: gce.Service, Action: "compute.regionInstances.bulkInsert" + gce.OperationSuffix, Kind: cloudsim.KindCapacity, Times: 1})
	res, err := e.p.Launch(ctxT(t), launchRequest("rolled", 3, offering(t, "e2-standard-2", "us-central1", catalog.OnDemand)))
	if len(res.Machines) != 0 || (err == nil && len(res.Failures) == 0) {
		t.Fatalf("Launch = %v, failures %v, %v; want no machine and a capacity failure", res.Machines, res.Failures, err)
	}
	if n := e.model.Count("compute.instances.aggregatedList"); n != 2 {
		t.Errorf("%d listings, want 2: one beside the wait, one after the failed operation", n)
	}
}

func TestMadeBy(t *testing.T) {
	op := func(st computepb.Operation_Status, counts ...int32) *computepb.Operation {
		o := &computepb.Operation{Status: st.Enum()}
		if len(counts) > 0 {
			md := &computepb.InstancesBulkInsertOperationMetadata{PerLocationStatus: map[string]*computepb.BulkInsertOperationStatus{}}
			for i := 0; i+1 < len(counts); i += 2 {
				md.PerLocationStatus["zones/z"+string(rune('a'+i))] = &computepb.BulkInsertOperationStatus{
					CreatedVmCount: proto.Int32(counts[i]), DeletedVmCount: proto.Int32(counts[i+1])}
			}
			o.InstancesBulkInsertOperationMetadata = md
		}
		return o
	}
	failed := op(computepb.Operation_DONE, 3, 0)
	failed.Error = &computepb.Error{Errors: []*computepb.Errors{{Code: proto.String("QUOTA_EXCEEDED")}}}
	for _, tt := range []struct {
		name   string
		op     *computepb.Operation
		listed int
		want   bool
	}{
		{"done, counts match", op(computepb.Operation_DONE, 2, 0, 3, 0), 5, true},
		{"done, listed fewer", op(computepb.Operation_DONE, 2, 0, 3, 0), 4, false},
		{"rolled back", op(computepb.Operation_DONE, 0, 3), 0, false},
		{"some deleted", op(computepb.Operation_DONE, 3, 1), 3, false},
		{"still running", op(computepb.Operation_RUNNING, 3, 0), 3, false},
		{"no metadata", op(computepb.Operation_DONE), 3, false},
		{"failed", failed, 3, false},
	} {
		if got := madeBy(tt.op, tt.listed); got != tt.want {
			t.Errorf("%s: madeBy = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// spread makes the simulator place a launch over us-central1's zones:
// per zone room for n machines of the type.
func spread(e *simEnv, typ string, n int) {
	for _, z := range e.model.Zones("us-central1") {
		e.model.SetCapacity(cloudsim.PoolKey{Type: typ, Zone: z, Capacity: string(catalog.OnDemand)}, n)
	}
}

// TestMachinesListsZonesSideBySide: with regions named, a cluster of more
// machines than a page holds is listed zone by zone, side by side, and
// the answer is the one aggregatedList's pages give; a small one stays
// one aggregatedList call.
func TestMachinesListsZonesSideBySide(t *testing.T) {
	e := newSim(t)
	spread(e, "e2-standard-2", 200)
	o := offering(t, "e2-standard-2", "us-central1", catalog.OnDemand)
	if res, err := e.p.Launch(ctxT(t), launchRequest("big", 700, o)); err != nil || len(res.Machines) != 700 {
		t.Fatalf("Launch = %d machines, %v", len(res.Machines), err)
	}
	if n := e.model.Count("compute.instances.list"); n != 8 {
		t.Errorf("the launch's listing made %d instances.list calls, want two parts in each zone (8): any zone might hold the 700", n)
	}
	want, err := e.p.Machines(ctxT(t), provider.Filter{Cluster: "big"})
	if err != nil || len(want) != 700 {
		t.Fatalf("aggregated listing: %d, %v", len(want), err)
	}
	for _, fresh := range []bool{false, true} {
		p := e.p
		if fresh {
			p = New(e.opts) // knows neither the cluster's size nor the region's zones
		}
		e.model.ResetRequests()
		got, err := p.Machines(ctxT(t), provider.Filter{Cluster: "big", Regions: []string{"us-central1"}})
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("fresh %v: zone listing gave %d machines (%v), want the %d of the aggregated one", fresh, len(got), err, len(want))
		}
		agg, zl := e.model.Count("compute.instances.aggregatedList"), e.model.Count("compute.instances.list")
		switch {
		case !fresh && (agg != 0 || zl != 4):
			t.Errorf("after the launch: %d aggregatedList and %d instances.list calls, want 0 and 4", agg, zl)
		case fresh && (agg != 1 || zl != 4 || e.model.Count("compute.regions.get") != 1):
			t.Errorf("fresh: %d aggregatedList, %d instances.list, %d regions.get calls, want 1 page, then 4 zones after one regions.get",
				agg, zl, e.model.Count("compute.regions.get"))
		}
	}
	// Elsewhere, and small clusters: one aggregatedList call.
	if got, err := e.p.Machines(ctxT(t), provider.Filter{Cluster: "big", Regions: []string{"europe-west1"}}); err != nil || len(got) != 0 {
		t.Fatalf("europe-west1: %d machines, %v", len(got), err)
	}
	if _, err := e.p.Launch(ctxT(t), launchRequest("small", 3, o)); err != nil {
		t.Fatal(err)
	}
	e.model.ResetRequests()
	if got, err := e.p.Machines(ctxT(t), provider.Filter{Cluster: "small", Regions: []string{"us-central1"}}); err != nil || len(got) != 3 {
		t.Fatalf("small: %d machines, %v", len(got), err)
	}
	if agg, zl := e.model.Count("compute.instances.aggregatedList"), e.model.Count("compute.instances.list"); agg != 1 || zl != 0 {
		t.Errorf("small cluster: %d aggregatedList and %d instances.list calls, want 1 and 0", agg, zl)
	}
}

// TestZoneListingPages: a zone holding more than a page is read page by
// page, and a zone listing that fails fails the listing.
func TestZoneListingPages(t *testing.T) {
	e := newSim(t)
	e.setRegionCapacity("e2-standard-2", "us-central1", catalog.OnDemand, 1200)
	o := offering(t, "e2-standard-2", "us-central1", catalog.OnDemand)
	if res, err := e.p.Launch(ctxT(t), launchRequest("onezone", 1100, o)); err != nil || len(res.Machines) != 1100 {
		t.Fatalf("Launch = %d machines, %v", len(res.Machines), err)
	}
	e.model.ResetRequests()
	got, err := e.p.Machines(ctxT(t), provider.Filter{Cluster: "onezone", Regions: []string{"us-central1"}})
	if err != nil || len(got) != 1100 {
		t.Fatalf("Machines = %d, %v", len(got), err)
	}
	if zl := e.model.Count("compute.instances.list"); zl != 6 {
		t.Errorf("%d instances.list calls, want 3 pages of the full zone and one for each of the 3 others", zl)
	}
	e.model.Inject(cloudsim.Fault{Service: gce.Service, Action: "compute.instances.list", Kind: cloudsim.KindAuth, Times: 1})
	if _, err := e.p.Machines(ctxT(t), provider.Filter{Cluster: "onezone", Regions: []string{"us-central1"}}); err == nil {
		t.Fatal("a zone that could not be listed gave no error")
	}
}

// TestZonesReadBesideTheFirstPage: a provider that does not know a
// region's zones reads them (regions.get) beside the first aggregatedList
// page, not after it. The simulator holds the page until a regions.get
// has come in (for at most two seconds: a listing that reads the zones
// only after the page fails the test).
func TestZonesReadBesideTheFirstPage(t *testing.T) {
	e := newSim(t)
	spread(e, "e2-standard-2", 200)
	o := offering(t, "e2-standard-2", "us-central1", catalog.OnDemand)
	if res, err := e.p.Launch(ctxT(t), launchRequest("big", 700, o)); err != nil || len(res.Machines) != 700 {
		t.Fatalf("Launch = %d machines, %v", len(res.Machines), err)
	}
	read := make(chan struct{})
	var once sync.Once
	var mu sync.Mutex
	pageHeld := true
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/regions/us-central1") {
			once.Do(func() { close(read) })
		}
		if strings.HasSuffix(r.URL.Path, "/aggregated/instances") {
			select {
			case <-read:
			case <-time.After(2 * time.Second):
				mu.Lock()
				pageHeld = false
				mu.Unlock()
			}
		}
		e.srv.ServeHTTP(w, r)
	}))
	t.Cleanup(proxy.Close)
	opts := e.opts
	opts.Endpoint = proxy.URL
	p := New(opts)
	got, err := p.Machines(ctxT(t), provider.Filter{Cluster: "big", Regions: []string{"us-central1"}})
	if err != nil || len(got) != 700 {
		t.Fatalf("Machines = %d, %v", len(got), err)
	}
	mu.Lock()
	defer mu.Unlock()
	if !pageHeld {
		t.Error("no regions.get came while the first page was held: the zones are read after it")
	}
	// Preflight's read of the region and the listing's share one call:
	// the preflight's regions.get is held until the listing's page comes.
	regionIn, pageIn := make(chan struct{}), make(chan struct{})
	var regionOnce, pageOnce sync.Once
	proxy2 := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/regions/us-central1") {
			regionOnce.Do(func() { close(regionIn) })
			select {
			case <-pageIn:
			case <-time.After(2 * time.Second):
			}
		}
		if strings.HasSuffix(r.URL.Path, "/aggregated/instances") {
			pageOnce.Do(func() { close(pageIn) })
		}
		e.srv.ServeHTTP(w, r)
	}))
	t.Cleanup(proxy2.Close)
	opts.Endpoint = proxy2.URL
	p = New(opts)
	e.model.ResetRequests()
	g := plan.Group{Count: 1, Offerings: []plan.Offering{o}}
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := p.Preflight(ctxT(t), provider.PreflightRequest{Cluster: "big", Groups: []plan.Group{g}}); err != nil {
			t.Errorf("Preflight: %v", err)
		}
	})
	<-regionIn
	if got, err := p.Machines(ctxT(t), provider.Filter{Cluster: "big", Regions: []string{"us-central1"}}); err != nil || len(got) != 700 {
		t.Errorf("Machines = %d, %v", len(got), err)
	}
	wg.Wait()
	if n := e.model.Count("compute.regions.get"); n != 1 {
		t.Errorf("%d regions.get calls from a preflight beside a listing, want 1 shared", n)
	}
}

// TestZoneListedInParts: a zone holding more than a page is listed in
// parts side by side (GCE's regular-expression filter on the names' last
// character), each part within one page, and the parts together are the
// cluster's machines exactly: none missed, none twice, none of another
// cluster whose name starts alike. When GCE refuses that filter form, the
// zone is listed whole.
func TestZoneListedInParts(t *testing.T) {
	e := newSim(t)
	e.setRegionCapacity("e2-standard-2", "us-central1", catalog.OnDemand, 2000)
	o := offering(t, "e2-standard-2", "us-central1", catalog.OnDemand)
	if res, err := e.p.Launch(ctxT(t), launchRequest("onezone", 1100, o)); err != nil || len(res.Machines) != 1100 {
		t.Fatalf("Launch = %d machines, %v", len(res.Machines), err)
	}
	if _, err := e.p.Launch(ctxT(t), launchRequest("onezone2", 7, o)); err != nil {
		t.Fatal(err)
	}
	want, err := e.p.list(ctxT(t), selector{eq: [][2]string{{provider.TagCluster, "onezone"}}}.aip())
	if err != nil || len(want) != 1100 {
		t.Fatalf("aggregated listing: %d, %v", len(want), err)
	}
	var mu sync.Mutex
	var filters []string
	paged := 0
	refuse := false
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/instances") && !strings.Contains(r.URL.Path, "/aggregated/") {
			f := r.URL.Query().Get("filter")
			mu.Lock()
			filters = append(filters, f)
			if r.URL.Query().Get("pageToken") != "" {
				paged++
			}
			refused := refuse && strings.Contains(f, " eq ")
			mu.Unlock()
			if refused {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusBadRequest)
				_, _ = w.Write([]byte(`{"error":{"code":400,"message":"Invalid value for field 'filter'","errors":[{"reason":"invalid","message":"Invalid value for field 'filter'"}]}}`))
				return
			}
		}
		e.srv.ServeHTTP(w, r)
	}))
	t.Cleanup(proxy.Close)
	opts := e.opts
	opts.Endpoint = proxy.URL
	for _, fresh := range []bool{false, true} {
		p := New(opts)
		if !fresh {
			p.setExpected("onezone", want) // as a launch or a listing in this process leaves it
		}
		mu.Lock()
		filters, paged = nil, 0
		mu.Unlock()
		got, err := p.Machines(ctxT(t), provider.Filter{Cluster: "onezone", Regions: []string{"us-central1"}})
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("fresh %v: %d machines (%v), want the %d of the aggregated listing", fresh, len(got), err, len(want))
		}
		mu.Lock()
		parts := 0
		for _, f := range filters {
			if strings.Contains(f, "name eq") || strings.Contains(f, "name ne") {
				parts++
			}
		}
		if paged != 0 || parts < 3 {
			t.Errorf("fresh %v: %d follow-up pages and %d parts among the zone listings %q, want none and the full zone in 3 or more parts", fresh, paged, parts, filters)
		}
		mu.Unlock()
	}
	mu.Lock()
	refuse = true
	mu.Unlock()
	p := New(opts)
	p.setExpected("onezone", want)
	got, err := p.Machines(ctxT(t), provider.Filter{Cluster: "onezone", Regions: []string{"us-central1"}})
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("with the regular-expression form refused: %d machines (%v), want %d", len(got), err, len(want))
	}
	if !p.noSplit {
		t.Error("a refused split is tried again on every listing")
	}
}

// TestSelectorParts: the parts of a selector take every name in exactly
// one part, read as GCE documents the form (RE2, the whole field).
func TestSelectorParts(t *testing.T) {
	sel := selector{eq: [][2]string{{provider.TagCluster, "etl"}, {labelAttempt, "0"}}}
	lit := regexp.MustCompile(`\(name (eq|ne) '([^']*)'\)$`)
	names := []string{"etl-h-abc123-0-0001", "x", "etl-w-9", "etl-w-abc-0-1000", "a-b_c", "etl-w-abc-0-000z"}
	for c := '0'; c <= '9'; c++ {
		names = append(names, "etl-w-abc123-0-000"+string(c))
	}
	for n := 2; n <= 10; n++ {
		for _, name := range names {
			in := 0
			for i := range n {
				f := sel.part(i, n)
				if !strings.HasPrefix(f, "(labels.burst-cluster eq 'etl') (labels.burst-attempt eq '0') ") {
					t.Fatalf("part %d of %d: %q does not keep the labels in the same form", i, n, f)
				}
				m := lit.FindStringSubmatch(f)
				if m == nil {
					t.Fatalf("part %d of %d: %q", i, n, f)
				}
				match := regexp.MustCompile("^(?:" + m[2] + ")$").MatchString(name)
				if match == (m[1] == "eq") {
					in++
				}
			}
			if in != 1 {
				t.Errorf("%q is in %d of %d parts, want exactly one", name, in, n)
			}
		}
	}
	if got := partsFor(1001); got != 3 {
		t.Errorf("partsFor(1001) = %d, want 3", got)
	}
	if got := partsFor(100000); got != 10 {
		t.Errorf("partsFor(100000) = %d, want 10", got)
	}
}
