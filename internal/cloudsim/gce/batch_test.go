package gce

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/burstdev/burst/internal/cloudsim"
)

// batchPart is one answer of a batch.
type batchPart struct {
	contentID string
	status    int
	body      map[string]any
}

// sendBatch posts calls (each "METHOD PATH") to the batch endpoint, with
// Content-IDs item1, item2, ..., and returns the outer status and parts.
func sendBatch(t *testing.T, url string, calls []string) (int, []batchPart) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for i, c := range calls {
		pw, err := mw.CreatePart(textproto.MIMEHeader{"Content-Type": {"application/http"}, "Content-ID": {fmt.Sprintf("<item%d>", i+1)}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := fmt.Fprintf(pw, "%s HTTP/1.1\r\n\r\n", c); err != nil {
			t.Fatal(err)
		}
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, url+BatchPath, &buf)
	req.Header.Set("Content-Type", "multipart/mixed; boundary="+mw.Boundary())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, nil
	}
	_, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if err != nil {
		t.Fatal(err)
	}
	mr := multipart.NewReader(resp.Body, params["boundary"])
	var parts []batchPart
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if ct := p.Header.Get("Content-Type"); ct != "application/http" {
			t.Fatalf("part Content-Type %q", ct)
		}
		inner, err := http.ReadResponse(bufio.NewReader(p), nil)
		if err != nil {
			t.Fatal(err)
		}
		var body map[string]any
		err = json.NewDecoder(inner.Body).Decode(&body)
		_ = inner.Body.Close()
		if err != nil {
			t.Fatalf("part %d body: %v", len(parts)+1, err)
		}
		parts = append(parts, batchPart{contentID: p.Header.Get("Content-ID"), status: inner.StatusCode, body: body})
	}
	return resp.StatusCode, parts
}

func reasonOf(body map[string]any) string {
	e, _ := body["error"].(map[string]any)
	errs, _ := e["errors"].([]any)
	if len(errs) == 0 {
		return ""
	}
	first, _ := errs[0].(map[string]any)
	s, _ := first["reason"].(string)
	return s
}

// instancesOf launches n instances and returns their zone/name.
func instancesOf(t *testing.T, e *env, n int) []cloudsim.Instance {
	t.Helper()
	if _, err := e.bulk(t, "us-central1", "", body(int64(n), int64(n), "e2-standard-2", nil)); err != nil {
		t.Fatal(err)
	}
	ins := e.m.Instances(nil)
	if len(ins) != n {
		t.Fatalf("%d instances, want %d", len(ins), n)
	}
	return ins
}

func deleteCall(in cloudsim.Instance) string {
	return fmt.Sprintf("DELETE /compute/v1/projects/burst-sim/zones/%s/instances/%s?requestId=%s", in.Zone, in.Name, uuid.NewString())
}

func TestBatchAnswersInOrder(t *testing.T) {
	e := newEnv(t, Options{})
	ins := instancesOf(t, e, 3)
	e.m.ResetRequests()
	calls := []string{
		deleteCall(ins[0]),
		"DELETE /compute/v1/projects/burst-sim/zones/us-central1-a/instances/no-such-vm?requestId=" + uuid.NewString(),
		fmt.Sprintf("GET /compute/v1/projects/burst-sim/zones/%s/instances/%s", ins[1].Zone, ins[1].Name),
		deleteCall(ins[2]),
		"GET /v1/services/6F81-5844-456A/skus",
	}
	code, parts := sendBatch(t, e.s.URL(), calls)
	if code != http.StatusOK || len(parts) != len(calls) {
		t.Fatalf("batch answered %d with %d parts, want 200 with %d", code, len(parts), len(calls))
	}
	want := []int{200, 404, 200, 200, 400}
	for i, p := range parts {
		if p.contentID != fmt.Sprintf("<response-item%d>", i+1) || p.status != want[i] {
			t.Errorf("part %d: %s %d, want <response-item%d> %d", i+1, p.contentID, p.status, i+1, want[i])
		}
	}
	if parts[0].body["operationType"] != "delete" || parts[2].body["name"] != ins[1].Name || reasonOf(parts[1].body) != "notFound" {
		t.Errorf("part bodies: %v / %v / %v", parts[0].body, parts[1].body, parts[2].body)
	}
	for _, i := range []int{0, 2} {
		if got, _ := e.m.Instance(ins[i].ID); got.State == cloudsim.Running {
			t.Errorf("%s still running after its batched delete", ins[i].Name)
		}
	}
	if got, _ := e.m.Instance(ins[1].ID); got.State != cloudsim.Running {
		t.Errorf("%s is %s; only a get was batched for it", ins[1].Name, got.State)
	}
	// Each call is logged as itself; the batch request once.
	for action, n := range map[string]int{"compute.instances.delete": 3, "compute.instances.get": 1, BatchAction: 1} {
		if got := e.m.Count(action); got != n {
			t.Errorf("%d x %s logged, want %d", got, action, n)
		}
	}
	if len(e.m.Requests()) != 5 {
		t.Errorf("log: %v", e.m.Actions())
	}
}

// Every call in a batch takes its own token: a bucket of 2 admits two
// of four deletes, and the other two are 403 rateLimitExceeded parts.
func TestBatchCallsTakeTokens(t *testing.T) {
	e := newEnv(t, Options{})
	ins := instancesOf(t, e, 4)
	e.m.SetBucket(BucketAPI, 2, 0)
	e.m.ResetRequests()
	var calls []string
	for _, in := range ins {
		calls = append(calls, deleteCall(in))
	}
	code, parts := sendBatch(t, e.s.URL(), calls)
	if code != http.StatusOK || len(parts) != 4 {
		t.Fatalf("batch answered %d with %d parts", code, len(parts))
	}
	ok, throttled := 0, 0
	for _, p := range parts {
		switch {
		case p.status == http.StatusOK:
			ok++
		case p.status == http.StatusForbidden && reasonOf(p.body) == "rateLimitExceeded":
			throttled++
		default:
			t.Errorf("part %s: %d %v", p.contentID, p.status, p.body)
		}
	}
	if ok != 2 || throttled != 2 {
		t.Errorf("%d accepted and %d throttled, want 2 and 2", ok, throttled)
	}
	n := 0
	for _, r := range e.m.Requests() {
		if r.Action == "compute.instances.delete" && r.Code == "rateLimitExceeded" {
			n++
		}
	}
	if n != 2 || e.m.Count("compute.instances.delete") != 4 {
		t.Errorf("log has %d deletes, %d throttled; want 4, 2", e.m.Count("compute.instances.delete"), n)
	}
}

// A fault injected on a call inside a batch answers that part only.
func TestBatchPartFault(t *testing.T) {
	e := newEnv(t, Options{})
	ins := instancesOf(t, e, 3)
	e.m.Inject(cloudsim.Fault{Service: Service, Action: "compute.instances.delete", Kind: cloudsim.KindThrottle, Code: "rateLimitExceeded", Times: 1})
	_, parts := sendBatch(t, e.s.URL(), []string{deleteCall(ins[0]), deleteCall(ins[1]), deleteCall(ins[2])})
	bad := 0
	for _, p := range parts {
		if p.status != http.StatusOK {
			bad++
			if p.status != http.StatusForbidden || reasonOf(p.body) != "rateLimitExceeded" {
				t.Errorf("faulted part: %d %v", p.status, p.body)
			}
		}
	}
	if bad != 1 || len(parts) != 3 {
		t.Errorf("%d of %d parts failed, want 1 of 3", bad, len(parts))
	}
}

func TestBatchRefusals(t *testing.T) {
	e := newEnv(t, Options{})
	ins := instancesOf(t, e, 1)
	e.m.ResetRequests()
	calls := make([]string, MaxBatchCalls+1)
	for i := range calls {
		calls[i] = deleteCall(ins[0])
	}
	if code, _ := sendBatch(t, e.s.URL(), calls); code != http.StatusBadRequest {
		t.Fatalf("a batch of %d calls answered %d, want 400", len(calls), code)
	}
	if n := e.m.Count("compute.instances.delete"); n != 0 {
		t.Errorf("a refused batch ran %d deletes", n)
	}
	if got, _ := e.m.Instance(ins[0].ID); got.State != cloudsim.Running {
		t.Errorf("a refused batch deleted %s", ins[0].Name)
	}
	if code, parts := sendBatch(t, e.s.URL(), calls[:MaxBatchCalls]); code != http.StatusOK || len(parts) != MaxBatchCalls {
		t.Errorf("a batch of %d calls answered %d with %d parts", MaxBatchCalls, code, len(parts))
	}
	// Not multipart: 400.
	resp, err := http.Post(e.s.URL()+BatchPath, "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("a JSON body answered %d", resp.StatusCode)
	}
}

// A fault on the batch request itself fails it whole: no call runs or is
// logged.
func TestBatchFaultFailsWhole(t *testing.T) {
	e := newEnv(t, Options{})
	ins := instancesOf(t, e, 2)
	e.m.ResetRequests()
	e.m.Inject(cloudsim.Fault{Service: Service, Action: BatchAction, Kind: cloudsim.KindInternal, Times: 1})
	calls := []string{deleteCall(ins[0]), deleteCall(ins[1])}
	if code, _ := sendBatch(t, e.s.URL(), calls); code != http.StatusInternalServerError {
		t.Fatalf("faulted batch answered %d, want 500", code)
	}
	if n := e.m.Count("compute.instances.delete"); n != 0 {
		t.Errorf("a failed batch logged %d deletes", n)
	}
	for _, in := range ins {
		if got, _ := e.m.Instance(in.ID); got.State != cloudsim.Running {
			t.Errorf("a failed batch deleted %s", in.Name)
		}
	}
	if code, parts := sendBatch(t, e.s.URL(), calls); code != http.StatusOK || len(parts) != 2 || parts[0].status != 200 || parts[1].status != 200 {
		t.Errorf("the batch again: %d %v", code, parts)
	}
}

// A batch is one round trip: on a real clock with latency L, a batch of
// 50 calls takes about L, not 50 L (nor 2 L).
func TestBatchLatencyOnce(t *testing.T) {
	const latency = 300 * time.Millisecond
	cfg := ModelConfig()
	m := cloudsim.New(cfg)
	s := Start(m, Options{})
	t.Cleanup(s.Close)
	var calls []string
	for i := 0; i < 50; i++ {
		calls = append(calls, fmt.Sprintf("GET /compute/v1/projects/burst-sim/zones/us-central1-a/instances/vm-%d", i))
	}
	m.SetLatency(latency)
	start := time.Now()
	code, parts := sendBatch(t, s.URL(), calls)
	took := time.Since(start)
	if code != http.StatusOK || len(parts) != 50 {
		t.Fatalf("batch answered %d with %d parts", code, len(parts))
	}
	if took < latency || took >= 2*latency-50*time.Millisecond {
		t.Errorf("a batch of 50 calls took %s at %s a call, want one latency", took, latency)
	}
	if m.Count("compute.instances.get") != 50 {
		t.Errorf("%d gets logged", m.Count("compute.instances.get"))
	}
}
