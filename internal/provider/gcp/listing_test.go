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

// listProxy is a proxy before the simulator that records the filter of
// every instances.aggregatedList call and whether it asked for a next
// page; refuse makes it answer calls in the regular-expression form
// with GCE's 400, and drop answers them with no machines (as a GCE that
// read the form otherwise than documented might).
type listProxy struct {
	mu      sync.Mutex
	filters []string
	paged   int
	refuse  bool
	drop    bool
	url     string
}

func newListProxy(t *testing.T, e *simEnv) *listProxy {
	lp := &listProxy{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/aggregated/instances") {
			f := r.URL.Query().Get("filter")
			lp.mu.Lock()
			lp.filters = append(lp.filters, f)
			if r.URL.Query().Get("pageToken") != "" {
				lp.paged++
			}
			refused := lp.refuse && strings.Contains(f, " eq ")
			dropped := lp.drop && strings.Contains(f, " eq ")
			lp.mu.Unlock()
			if dropped {
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(`{"kind":"compute#instanceAggregatedList","items":{}}`))
				return
			}
			if refused {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusBadRequest)
				_, _ = w.Write([]byte(`{"error":{"code":400,"message":"Invalid value for field 'filter'","errors":[{"reason":"invalid","message":"Invalid value for field 'filter'"}]}}`))
				return
			}
		}
		e.srv.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	lp.url = srv.URL
	return lp
}

// reset forgets the calls seen; calls returns how many there were, how
// many of them were split by name and how many asked for a next page.
func (lp *listProxy) reset() {
	lp.mu.Lock()
	defer lp.mu.Unlock()
	lp.filters, lp.paged = nil, 0
}

func (lp *listProxy) calls() (n, parts, paged int) {
	lp.mu.Lock()
	defer lp.mu.Unlock()
	for _, f := range lp.filters {
		if strings.Contains(f, "(name eq") || strings.Contains(f, "(name ne") {
			parts++
		}
	}
	return len(lp.filters), parts, lp.paged
}

// TestMachinesListedInParts: a cluster's listing is one round of
// aggregatedList calls side by side, split by name so that each part fits
// a page: as many parts as the cluster's size at this process's last
// listing or launch calls for, or three when the process knows nothing of
// it (a fresh `burst down`), and beside them the canary (the listing's
// first machines whole); no regions.get, no instances.list, no next page.
// The answer is the one the whole listing's pages give.
func TestMachinesListedInParts(t *testing.T) {
	e := newSim(t)
	spread(e, "e2-standard-2", 200)
	o := offering(t, "e2-standard-2", "us-central1", catalog.OnDemand)
	lp := newListProxy(t, e)
	opts := e.opts
	opts.Endpoint = lp.url
	p := New(opts)
	if res, err := p.Launch(ctxT(t), launchRequest("big", 700, o)); err != nil || len(res.Machines) != 700 {
		t.Fatalf("Launch = %d machines, %v", len(res.Machines), err)
	}
	if n, parts, paged := lp.calls(); n != 3 || parts != 2 || paged != 0 || e.model.Count("compute.instances.list") != 0 {
		t.Errorf("the launch's listing made %d aggregatedList calls (%d parts, %d next pages) and %d instances.list, want 2 parts of one page and the canary",
			n, parts, paged, e.model.Count("compute.instances.list"))
	}
	want, err := p.list(ctxT(t), selector{eq: [][2]string{{provider.TagCluster, "big"}}}.aip())
	if err != nil || len(want) != 700 {
		t.Fatalf("whole listing: %d, %v", len(want), err)
	}
	for _, fresh := range []bool{false, true} {
		if fresh {
			p = New(opts) // knows nothing of the cluster
		}
		lp.reset()
		e.model.ResetRequests()
		got, err := p.Machines(ctxT(t), provider.Filter{Cluster: "big", Regions: []string{"us-central1"}})
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("fresh %v: %d machines (%v), want the %d of the whole listing", fresh, len(got), err, len(want))
		}
		n, parts, paged := lp.calls()
		wantN := 2 // partsFor(700)
		if fresh {
			wantN = unknownParts
		}
		if n != wantN+1 || parts != wantN || paged != 0 {
			t.Errorf("fresh %v: %d aggregatedList calls, %d parts, %d next pages; want %d parts of one page and the canary", fresh, n, parts, paged, wantN)
		}
		if rg, zl := e.model.Count("compute.regions.get"), e.model.Count("compute.instances.list"); rg != 0 || zl != 0 {
			t.Errorf("fresh %v: %d regions.get and %d instances.list calls, want none", fresh, rg, zl)
		}
	}
	// Elsewhere: nothing. A small cluster the provider knows: one call.
	if got, err := p.Machines(ctxT(t), provider.Filter{Cluster: "big", Regions: []string{"europe-west1"}}); err != nil || len(got) != 0 {
		t.Fatalf("europe-west1: %d machines, %v", len(got), err)
	}
	if _, err := p.Launch(ctxT(t), launchRequest("small", 3, o)); err != nil {
		t.Fatal(err)
	}
	lp.reset()
	if got, err := p.Machines(ctxT(t), provider.Filter{Cluster: "small", Regions: []string{"us-central1"}}); err != nil || len(got) != 3 {
		t.Fatalf("small: %d machines, %v", len(got), err)
	}
	if n, parts, _ := lp.calls(); n != 1 || parts != 0 {
		t.Errorf("small cluster: %d aggregatedList calls (%d split), want 1 whole", n, parts)
	}
}

// TestListingPages: a part holding more than a page is read page by page
// (a provider that expects the cluster small lists it whole), and a
// listing call that fails fails the listing.
func TestListingPages(t *testing.T) {
	e := newSim(t)
	e.setRegionCapacity("e2-standard-2", "us-central1", catalog.OnDemand, 1200)
	o := offering(t, "e2-standard-2", "us-central1", catalog.OnDemand)
	if res, err := e.p.Launch(ctxT(t), launchRequest("onezone", 1100, o)); err != nil || len(res.Machines) != 1100 {
		t.Fatalf("Launch = %d machines, %v", len(res.Machines), err)
	}
	p := New(e.opts)
	p.setExpected("onezone", make([]provider.Machine, 3))
	e.model.ResetRequests()
	got, err := p.Machines(ctxT(t), provider.Filter{Cluster: "onezone", Regions: []string{"us-central1"}})
	if err != nil || len(got) != 1100 {
		t.Fatalf("Machines = %d, %v", len(got), err)
	}
	if n := e.model.Count("compute.instances.aggregatedList"); n != 3 {
		t.Errorf("%d aggregatedList calls, want the 3 pages of the whole listing", n)
	}
	for _, fresh := range []bool{false, true} {
		p := e.p
		if fresh {
			p = New(e.opts)
		}
		e.model.Inject(cloudsim.Fault{Service: gce.Service, Action: "compute.instances.aggregatedList", Kind: cloudsim.KindAuth, Times: 1})
		if _, err := p.Machines(ctxT(t), provider.Filter{Cluster: "onezone", Regions: []string{"us-central1"}}); err == nil {
			t.Fatalf("fresh %v: a part that could not be listed gave no error", fresh)
		}
	}
}

// TestListedInParts: the parts together are the cluster's machines
// exactly: none missed, none twice, none of another cluster whose name
// starts alike, each part within one page. When GCE refuses the
// regular-expression filter form, the cluster is listed whole, and later
// listings do not try to split.
func TestListedInParts(t *testing.T) {
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
		t.Fatalf("whole listing: %d, %v", len(want), err)
	}
	lp := newListProxy(t, e)
	opts := e.opts
	opts.Endpoint = lp.url
	for _, fresh := range []bool{false, true} {
		p := New(opts)
		if !fresh {
			p.setExpected("onezone", want) // as a launch or a listing in this process leaves it
		}
		lp.reset()
		got, err := p.Machines(ctxT(t), provider.Filter{Cluster: "onezone", Regions: []string{"us-central1"}})
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("fresh %v: %d machines (%v), want the %d of the whole listing", fresh, len(got), err, len(want))
		}
		if n, parts, paged := lp.calls(); paged != 0 || parts < 3 || parts+1 != n {
			t.Errorf("fresh %v: %d calls, %d parts, %d next pages (%q); want 3 or more parts of one page and the canary", fresh, n, parts, paged, lp.filters)
		}
	}
	lp.mu.Lock()
	lp.refuse = true
	lp.mu.Unlock()
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

// TestCanaryCatchesADroppingSplit: if GCE answered the
// regular-expression form with fewer machines than it holds, the
// canary's machines are missing from the parts: the listing is made
// whole, and later ones are not split. A cluster the canary's page holds
// is answered by the canary.
func TestCanaryCatchesADroppingSplit(t *testing.T) {
	e := newSim(t)
	e.setRegionCapacity("e2-standard-2", "us-central1", catalog.OnDemand, 2000)
	o := offering(t, "e2-standard-2", "us-central1", catalog.OnDemand)
	if res, err := e.p.Launch(ctxT(t), launchRequest("big", 1100, o)); err != nil || len(res.Machines) != 1100 {
		t.Fatalf("Launch = %d machines, %v", len(res.Machines), err)
	}
	if _, err := e.p.Launch(ctxT(t), launchRequest("few", 40, o)); err != nil {
		t.Fatal(err)
	}
	lp := newListProxy(t, e)
	lp.drop = true
	opts := e.opts
	opts.Endpoint = lp.url
	for _, c := range []struct {
		cluster string
		n       int
	}{{"few", 40}, {"big", 1100}} {
		p := New(opts) // a fresh down: three parts and the canary
		got, err := p.Machines(ctxT(t), provider.Filter{Cluster: c.cluster, Regions: []string{"us-central1"}})
		if err != nil || len(got) != c.n {
			t.Fatalf("%s with parts that drop machines: %d machines (%v), want %d", c.cluster, len(got), err, c.n)
		}
		if !p.noSplit {
			t.Errorf("%s: a split that dropped machines is tried again", c.cluster)
		}
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
