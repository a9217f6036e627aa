package gce

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"

	"github.com/burstdev/burst/internal/cloudsim"
)

// Google's batch endpoint for the Compute Engine API: one HTTP request
// carrying up to 1000 API calls as a multipart/mixed body, each part an
// application/http message holding one call ("DELETE
// /compute/v1/projects/P/zones/Z/instances/N?requestId=R HTTP/1.1"). The
// answer is multipart/mixed too: one application/http part per call, in
// the calls' order, each with its own status line and JSON body, and
// Content-ID "<response-X>" for a call sent with Content-ID "<X>". Each
// call counts against the project's quota as a request of its own.
//
// The simulator unwraps a batch and serves every call through the same
// handler as a direct call, so each is logged under its own method ID,
// matched against injected faults, and takes its token from the API
// bucket (a throttled call is a 403 rateLimitExceeded part). The batch
// request itself is logged as BatchAction and takes no token.
//
// Latency: the batch is one round trip. The calls are served side by side
// and the batch request's own latency runs beside theirs, so a batch costs
// one latency of wall time on a real clock. (Each logged call waits the
// latency through the model's clock, so on a manual clock a batch of n
// calls advances it n+1 latencies.)

// BatchPath is where the batch endpoint is served.
const BatchPath = "/batch/compute/v1"

// BatchAction is the pseudo-method the batch request itself is logged and
// fault-matched under. A fault on it fails the whole batch: none of its
// calls runs or is logged (a call's own fault, if one matched it, is used
// up all the same).
const BatchAction = "compute.batch"

// MaxBatchCalls is how many calls one batch may carry; more is a 400.
const MaxBatchCalls = 1000

// maxBatchBytes bounds a batch request's body.
const maxBatchBytes = 64 << 20

// batchGate holds a batch's calls, after their latency and fault matching,
// until the batch request itself has been admitted.
type batchGate struct {
	open    chan struct{}
	aborted bool // set before open is closed
}

type gateKey struct{}

// admitted waits for the batch of r, if r is a call inside one, and
// reports whether the call may run.
func admitted(r *http.Request) bool {
	g, ok := r.Context().Value(gateKey{}).(*batchGate)
	if !ok {
		return true
	}
	<-g.open
	return !g.aborted
}

// batchCall is one call of a batch.
type batchCall struct {
	contentID string
	req       *http.Request
	// bad, when set, is the part's answer without running it.
	bad *apiError
}

func (s *Server) batch(w http.ResponseWriter, r *http.Request) {
	calls, perr := readBatch(r)
	gate := &batchGate{open: make(chan struct{})}
	recs := make([]*httptest.ResponseRecorder, len(calls))
	var wg sync.WaitGroup
	if perr == nil {
		ctx := context.WithValue(r.Context(), gateKey{}, gate)
		for i, c := range calls {
			recs[i] = httptest.NewRecorder()
			if c.bad != nil {
				writeError(recs[i], c.bad)
				continue
			}
			wg.Go(func() { s.mux.ServeHTTP(recs[i], c.req.WithContext(ctx)) })
		}
	}
	// The batch request's own latency runs beside its calls'.
	call := s.m.Begin(Service, BatchAction, "")
	status, code := http.StatusOK, ""
	defer func() { call.End(status, code) }()
	fail := func(e *apiError) {
		gate.aborted = true
		close(gate.open)
		wg.Wait()
		status, code = e.status, e.reason
		writeError(w, e)
	}
	if f := call.Fault; f != nil {
		if f.Kind == cloudsim.KindTimeout {
			gate.aborted = true
			close(gate.open)
			wg.Wait()
			<-r.Context().Done()
			status, code = 0, "timeout"
			return
		}
		fail(kindError(f.Kind, f.Code, f.Message))
		return
	}
	if perr != nil {
		fail(perr)
		return
	}
	close(gate.open)
	wg.Wait()
	mw := multipart.NewWriter(w)
	if err := mw.SetBoundary("batch_" + mw.Boundary()[:24]); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "multipart/mixed; boundary="+mw.Boundary())
	w.WriteHeader(http.StatusOK)
	for i, c := range calls {
		h := map[string][]string{"Content-Type": {"application/http"}}
		if c.contentID != "" {
			h["Content-ID"] = []string{"<response-" + c.contentID + ">"}
		}
		pw, err := mw.CreatePart(h)
		if err != nil {
			return
		}
		_ = writeInnerResponse(pw, recs[i])
	}
	_ = mw.Close()
}

// writeInnerResponse writes a recorded answer as an HTTP/1.1 message.
func writeInnerResponse(w io.Writer, rec *httptest.ResponseRecorder) error {
	body := rec.Body.Bytes()
	h := rec.Header().Clone()
	h.Set("Content-Length", strconv.Itoa(len(body)))
	if _, err := fmt.Fprintf(w, "HTTP/1.1 %d %s\r\n", rec.Code, http.StatusText(rec.Code)); err != nil {
		return err
	}
	if err := h.Write(w); err != nil {
		return err
	}
	if _, err := io.WriteString(w, "\r\n"); err != nil {
		return err
	}
	_, err := w.Write(body)
	return err
}

// readBatch parses a batch request's body into its calls. The outer
// request's headers apply to every call that does not set them itself.
func readBatch(r *http.Request) ([]batchCall, *apiError) {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/mixed" || params["boundary"] == "" {
		return nil, invalid("a batch request must be Content-Type: multipart/mixed with a boundary, not %q", r.Header.Get("Content-Type"))
	}
	mr := multipart.NewReader(http.MaxBytesReader(nil, r.Body, maxBatchBytes), params["boundary"])
	var calls []batchCall
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, invalid("reading the batch body: %v", err)
		}
		if len(calls) == MaxBatchCalls {
			return nil, invalid("A batch request may hold at most %d calls", MaxBatchCalls)
		}
		if ct, _, _ := mime.ParseMediaType(part.Header.Get("Content-Type")); ct != "application/http" {
			return nil, invalid("batch part %d: Content-Type must be application/http, not %q", len(calls)+1, part.Header.Get("Content-Type"))
		}
		raw, err := io.ReadAll(part)
		if err != nil {
			return nil, invalid("reading batch part %d: %v", len(calls)+1, err)
		}
		req, err := readInnerRequest(raw)
		if err != nil {
			return nil, invalid("batch part %d is not an HTTP request: %v", len(calls)+1, err)
		}
		for k, vs := range r.Header {
			switch http.CanonicalHeaderKey(k) {
			case "Content-Type", "Content-Length", "Content-Encoding", "Transfer-Encoding":
				continue
			}
			if _, set := req.Header[k]; !set {
				req.Header[k] = vs
			}
		}
		req.RemoteAddr = r.RemoteAddr
		c := batchCall{contentID: strings.Trim(strings.TrimSpace(part.Header.Get("Content-ID")), "<>"), req: req}
		if !strings.HasPrefix(req.URL.Path, "/compute/v1/") {
			c.bad = invalid("a Compute Engine batch may only call /compute/v1/..., not %s %s", req.Method, req.URL.Path)
		}
		calls = append(calls, c)
	}
	if len(calls) == 0 {
		return nil, invalid("the batch request holds no calls")
	}
	return calls, nil
}

// readInnerRequest parses one part's HTTP request. A body without a
// Content-Length is the rest of the part.
func readInnerRequest(raw []byte) (*http.Request, error) {
	br := bufio.NewReader(bytes.NewReader(raw))
	req, err := http.ReadRequest(br)
	if err != nil {
		return nil, err
	}
	if req.ContentLength > 0 || len(req.TransferEncoding) > 0 {
		return req, nil
	}
	rest, err := io.ReadAll(br)
	if err != nil {
		return nil, err
	}
	if rest = bytes.TrimRight(rest, "\r\n"); len(rest) > 0 {
		req.Body, req.ContentLength = io.NopCloser(bytes.NewReader(rest)), int64(len(rest))
	}
	return req, nil
}
