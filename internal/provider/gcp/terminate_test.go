package gcp

import (
	"bytes"
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"regexp"
	"strings"
	"sync"
	"testing"

	"google.golang.org/api/googleapi"

	"github.com/burstdev/burst/internal/catalog"
	"github.com/burstdev/burst/internal/cloudsim"
	"github.com/burstdev/burst/internal/cloudsim/gce"
	"github.com/burstdev/burst/internal/provider"
)

// launchN launches n machines of a cluster in one call.
func launchN(t *testing.T, e *simEnv, cluster string, n int) []provider.Machine {
	t.Helper()
	res, err := e.p.Launch(ctxT(t), launchRequest(cluster, n, offering(t, "e2-standard-2", "us-central1", catalog.OnDemand)))
	if err != nil || len(res.Machines) != n {
		t.Fatalf("Launch of %d = %d machines, %v", n, len(res.Machines), err)
	}
	e.model.ResetRequests()
	return res.Machines
}

func TestTerminateInBatches(t *testing.T) {
	e := newSim(t)
	ms := launchN(t, e, "big", 2500)
	if err := e.p.Terminate(ctxT(t), ms); err != nil {
		t.Fatalf("Terminate: %v", err)
	}
	if n, b := e.model.Count("compute.instances.delete"), e.model.Count(gce.BatchAction); n != 2500 || b != 3 {
		t.Errorf("%d deletes in %d batch requests, want 2500 in 3", n, b)
	}
	if left := e.machines(t, "big"); len(left) != 0 {
		t.Errorf("%d machines left", len(left))
	}
	// Again: every part is a 404, which is success.
	if err := e.p.Terminate(ctxT(t), ms); err != nil {
		t.Fatalf("Terminate again: %v", err)
	}
}

func TestTerminateOneIsAPlainDelete(t *testing.T) {
	e := newSim(t)
	ms := launchN(t, e, "one", 1)
	if err := e.p.Terminate(ctxT(t), ms); err != nil {
		t.Fatal(err)
	}
	if n, b := e.model.Count("compute.instances.delete"), e.model.Count(gce.BatchAction); n != 1 || b != 0 {
		t.Errorf("one machine: %d deletes, %d batches; want a plain delete", n, b)
	}
}

func TestTerminateGoneIsFine(t *testing.T) {
	e := newSim(t)
	ms := launchN(t, e, "gone", 2)
	ghost := provider.Machine{ID: "gone-w-000000-0-9999", Zone: ms[0].Zone, Region: ms[0].Region}
	if err := e.p.Terminate(ctxT(t), append(ms, ghost)); err != nil {
		t.Fatalf("Terminate with a machine already gone: %v", err)
	}
	if left := e.machines(t, "gone"); len(left) != 0 {
		t.Errorf("%d machines left", len(left))
	}
}

// batchSpy records, for every batch request, the instance and requestId
// of each delete in it.
type batchSpy struct {
	mu      sync.Mutex
	batches [][][2]string
}

var deleteLine = regexp.MustCompile(`DELETE /compute/v1/projects/[^/]+/zones/[^/]+/instances/([^?]+)\?requestId=(\S+) HTTP/1.1`)

func (s *batchSpy) handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == gce.BatchPath {
			b, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(b))
			var calls [][2]string
			for _, m := range deleteLine.FindAllStringSubmatch(string(b), -1) {
				calls = append(calls, [2]string{m[1], m[2]})
			}
			s.mu.Lock()
			s.batches = append(s.batches, calls)
			s.mu.Unlock()
		}
		next.ServeHTTP(w, r)
	})
}

func spied(t *testing.T, e *simEnv) (*Provider, *batchSpy) {
	spy := &batchSpy{}
	proxy := httptest.NewServer(spy.handler(e.srv))
	t.Cleanup(proxy.Close)
	opts := e.opts
	opts.Endpoint = proxy.URL
	return New(opts), spy
}

// Throttled parts are sent again, only they, with their requestIds.
func TestTerminateRetriesThrottledParts(t *testing.T) {
	e := newSim(t)
	ms := launchN(t, e, "thr", 10)
	e.model.Inject(cloudsim.Fault{Service: gce.Service, Action: "compute.instances.delete", Kind: cloudsim.KindThrottle, Code: "rateLimitExceeded", Times: 3})
	p, spy := spied(t, e)
	if err := p.Terminate(ctxT(t), ms); err != nil {
		t.Fatalf("Terminate through throttled parts: %v", err)
	}
	if left := e.machines(t, "thr"); len(left) != 0 {
		t.Errorf("%d machines left", len(left))
	}
	if len(spy.batches) != 2 || len(spy.batches[0]) != 10 || len(spy.batches[1]) != 3 {
		t.Fatalf("batches of %v calls, want 10 then the 3 throttled", lens(spy.batches))
	}
	first := map[string]string{}
	for _, c := range spy.batches[0] {
		first[c[0]] = c[1]
	}
	for _, c := range spy.batches[1] {
		if first[c[0]] != c[1] {
			t.Errorf("%s was sent again with requestId %s, first %s", c[0], c[1], first[c[0]])
		}
	}
	if n := e.model.Count("compute.instances.delete"); n != 13 {
		t.Errorf("%d deletes logged, want 13", n)
	}
}

func lens(bs [][][2]string) []int {
	var out []int
	for _, b := range bs {
		out = append(out, len(b))
	}
	return out
}

// A part that stays throttled past the retries is ErrThrottled.
func TestTerminatePersistentThrottle(t *testing.T) {
	e := newSim(t)
	ms := launchN(t, e, "pthr", 4)
	e.model.Inject(cloudsim.Fault{Service: gce.Service, Action: "compute.instances.delete", Kind: cloudsim.KindThrottle, Code: "rateLimitExceeded"})
	err := e.p.Terminate(ctxT(t), ms)
	if !errors.Is(err, provider.ErrThrottled) {
		t.Fatalf("Terminate under a constant throttle: %v", err)
	}
	if b := e.model.Count(gce.BatchAction); b != e.opts.Retries+1 {
		t.Errorf("%d batch requests, want %d (1 + retries)", b, e.opts.Retries+1)
	}
	for _, m := range ms {
		if !strings.Contains(err.Error(), m.ID) {
			t.Errorf("the error does not name %s: %v", m.ID, err)
		}
	}
}

// A part that fails for good is returned, classified, naming its machine;
// the others are deleted and nothing is sent again.
func TestTerminatePartError(t *testing.T) {
	e := newSim(t)
	ms := launchN(t, e, "perr", 10)
	e.model.Inject(cloudsim.Fault{Service: gce.Service, Action: "compute.instances.delete", Kind: cloudsim.KindAuth, Times: 1})
	err := e.p.Terminate(ctxT(t), ms)
	if !errors.Is(err, provider.ErrAuth) || provider.ScopeOf(err) != provider.ScopeProvider {
		t.Fatalf("Terminate with a refused part: %v (scope %v), want ErrAuth", err, provider.ScopeOf(err))
	}
	named := 0
	for _, m := range ms {
		if strings.Contains(err.Error(), m.ID+":") {
			named++
		}
	}
	if named != 1 {
		t.Errorf("the error names %d machines, want 1: %v", named, err)
	}
	if left := e.machines(t, "perr"); len(live(left)) != 1 {
		t.Errorf("%d machines left, want the refused one", len(live(left)))
	}
	if b := e.model.Count(gce.BatchAction); b != 1 {
		t.Errorf("%d batch requests, want 1 (a refusal is not retried)", b)
	}
}

func live(ms []provider.Machine) []provider.Machine {
	var out []provider.Machine
	for _, m := range ms {
		if m.State != provider.Stopping {
			out = append(out, m)
		}
	}
	return out
}

// A batch request that fails as a whole with a server error is sent again;
// one refused as a whole is one error, not one per machine.
func TestTerminateBatchRequestFails(t *testing.T) {
	t.Run("transient", func(t *testing.T) {
		e := newSim(t)
		ms := launchN(t, e, "b5xx", 5)
		e.model.Inject(cloudsim.Fault{Service: gce.Service, Action: gce.BatchAction, Kind: cloudsim.KindInternal, Times: 2})
		if err := e.p.Terminate(ctxT(t), ms); err != nil {
			t.Fatalf("Terminate through two failed batch requests: %v", err)
		}
		if b, n := e.model.Count(gce.BatchAction), e.model.Count("compute.instances.delete"); b != 3 || n != 5 {
			t.Errorf("%d batch requests, %d deletes; want 3 and 5", b, n)
		}
		if left := live(e.machines(t, "b5xx")); len(left) != 0 {
			t.Errorf("%d machines left", len(left))
		}
	})
	t.Run("refused", func(t *testing.T) {
		e := newSim(t)
		ms := launchN(t, e, "b403", 5)
		e.model.Inject(cloudsim.Fault{Service: gce.Service, Action: gce.BatchAction, Kind: cloudsim.KindAuth, Times: 1})
		err := e.p.Terminate(ctxT(t), ms)
		if !errors.Is(err, provider.ErrAuth) || strings.Count(err.Error(), "\n") != 0 {
			t.Fatalf("Terminate with the batch refused: %v", err)
		}
		if b := e.model.Count(gce.BatchAction); b != 1 {
			t.Errorf("%d batch requests, want 1", b)
		}
	})
}

// readAnswers matches parts by Content-ID, whatever their order, and a
// call without an answer is a (retried) server error.
func TestReadAnswers(t *testing.T) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, p := range []struct{ id, msg string }{
		{"<response-2>", "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\n\r\n{\"error\":{\"code\":404,\"message\":\"gone\",\"errors\":[{\"reason\":\"notFound\"}]}}"},
		{"<response-0>", "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{}"},
	} {
		pw, _ := mw.CreatePart(textproto.MIMEHeader{"Content-Type": {"application/http"}, "Content-ID": {p.id}})
		_, _ = pw.Write([]byte(p.msg))
	}
	_ = mw.Close()
	resp := &http.Response{Header: http.Header{"Content-Type": {"multipart/mixed; boundary=" + mw.Boundary()}}, Body: io.NopCloser(&buf)}
	out, err := readAnswers(resp, 3)
	if err != nil {
		t.Fatal(err)
	}
	var ge *googleapi.Error
	if out[0] != nil || !errors.As(out[2], &ge) || ge.Code != 404 || !errors.Is(classify("instances.delete", out[2]), provider.ErrNotFound) {
		t.Errorf("answers %v", out)
	}
	if !transient(classify("instances.delete", out[1])) {
		t.Errorf("a missing answer is %v, want a transient error", out[1])
	}
	// Parts without Content-ID are taken in order.
	var buf2 bytes.Buffer
	mw = multipart.NewWriter(&buf2)
	pw, _ := mw.CreatePart(textproto.MIMEHeader{"Content-Type": {"application/http"}})
	_, _ = pw.Write([]byte("HTTP/1.1 403 Forbidden\r\n\r\n{\"error\":{\"code\":403,\"message\":\"Rate Limit Exceeded\",\"errors\":[{\"reason\":\"rateLimitExceeded\"}]}}"))
	_ = mw.Close()
	out, err = readAnswers(&http.Response{Header: http.Header{"Content-Type": {"multipart/mixed; boundary=" + mw.Boundary()}}, Body: io.NopCloser(&buf2)}, 1)
	if err != nil || !errors.Is(classify("instances.delete", out[0]), provider.ErrThrottled) {
		t.Errorf("positional answer: %v, %v", out, err)
	}
}
