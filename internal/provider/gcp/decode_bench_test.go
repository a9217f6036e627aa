package gcp

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/burstdev/burst/internal/catalog"
	"github.com/burstdev/burst/internal/provider"
)

// listFixture is a simulator holding 500 workers of one cluster in one
// zone, and the raw request for the cluster's listing page as the
// provider sends it (filter, maxResults, field mask).
type listFixture struct {
	e       *simEnv
	aggReq  func() *http.Request
	aggBody []byte
}

func newListFixture(tb testing.TB) *listFixture {
	tb.Helper()
	e := newSim(tb)
	res, err := e.p.Launch(ctxT(tb), launchRequest("dec", pageSize, offering(tb, "e2-standard-2", "us-central1", catalog.OnDemand)))
	if err != nil || len(res.Machines) != pageSize {
		tb.Fatalf("Launch = %d machines, %v", len(res.Machines), err)
	}
	zone := res.Machines[0].Zone
	for _, m := range res.Machines {
		if m.Zone != zone {
			tb.Fatalf("machines in %s and %s; the fixture wants one zone", zone, m.Zone)
		}
	}
	filter := selector{eq: [][2]string{{provider.TagCluster, "dec"}}}.aip()
	q := url.Values{"filter": {filter}, "maxResults": {"500"}}.Encode()
	mk := func(path, mask string) func() *http.Request {
		return func() *http.Request {
			r := httptest.NewRequest(http.MethodGet, path+"?"+q, nil)
			r.Header.Set("X-Goog-FieldMask", mask)
			return r
		}
	}
	f := &listFixture{e: e, aggReq: mk(e.p.aggregatedListPath(), listMask)}
	f.aggBody = f.serve(tb, f.aggReq())
	return f
}

func (f *listFixture) serve(tb testing.TB, r *http.Request) []byte {
	w := httptest.NewRecorder()
	f.e.srv.ServeHTTP(w, r)
	if w.Code != http.StatusOK {
		tb.Fatalf("%s: %d %s", r.URL, w.Code, w.Body)
	}
	b, _ := io.ReadAll(w.Body)
	return b
}

// BenchmarkListPage measures the CPU of one 500-instance listing page
// with burst's field mask: the client's decoding through the REST
// client's protojson into computepb (sdk-*) against encoding/json into
// the masked fields (lean-*), each with the conversion to
// provider.Machine, and the simulator's serving of the page (sim-*). Run:
//
//	go test ./internal/provider/gcp -run '^$' -bench ListPage -benchmem
func BenchmarkListPage(b *testing.B) {
	f := newListFixture(b)
	unm := protojson.UnmarshalOptions{AllowPartial: true, DiscardUnknown: true}
	b.Run("sdk-aggregated", func(b *testing.B) {
		b.SetBytes(int64(len(f.aggBody)))
		for range b.N {
			var l computepb.InstanceAggregatedList
			if err := unm.Unmarshal(f.aggBody, &l); err != nil {
				b.Fatal(err)
			}
			for _, s := range l.GetItems() {
				for _, in := range s.GetInstances() {
					_ = machineOf(in)
				}
			}
		}
	})
	b.Run("lean-aggregated", func(b *testing.B) {
		b.SetBytes(int64(len(f.aggBody)))
		for range b.N {
			var l leanAggregated
			if err := json.Unmarshal(f.aggBody, &l); err != nil {
				b.Fatal(err)
			}
			for _, s := range l.Items {
				for i := range s.Instances {
					_ = s.Instances[i].machine()
				}
			}
		}
	})
	b.Run("sim-aggregated", func(b *testing.B) {
		for range b.N {
			f.serve(b, f.aggReq())
		}
	})
}
