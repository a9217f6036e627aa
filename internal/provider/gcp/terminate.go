package gcp

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"github.com/google/uuid"
	"google.golang.org/api/googleapi"
	"google.golang.org/protobuf/proto"

	"github.com/burstdev/burst/internal/provider"
)

// GCE has no bulk delete for instances made by bulkInsert, but Google's
// batch endpoint carries up to 1000 API calls in one HTTP request
// (multipart/mixed, one application/http part per call, answered in the
// same form). It saves round trips, not quota: each call in a batch counts
// as a request of its own, so the write limiter takes a token per call.
const (
	// maxPerBatch is Google's limit on calls in one batch request.
	maxPerBatch = 1000
	// batchesInFlight is how many batch requests Terminate keeps open.
	batchesInFlight = 4
	// batchPath is the Compute Engine API's batch path under its endpoint.
	batchPath = "/batch/compute/v1"
)

// Terminate implements provider.Provider. GCE has no bulk delete, so each
// machine is one instances.delete; more than one machine go as calls in
// batch requests (up to 1000 calls each, a few requests at once), under a
// client-side limiter sized to the project's per-minute write quota
// (Options.MutationsPerMinute) that takes a token per call. A lone machine
// is a plain instances.delete. Running and stopped (TERMINATED) machines
// are deleted alike; a machine already gone (404) is not an error. It
// returns once GCE accepted every delete; the machines show STOPPING until
// they are gone.
func (p *Provider) Terminate(ctx context.Context, ms []provider.Machine) error {
	if len(ms) == 0 {
		return nil
	}
	if err := p.init(ctx); err != nil {
		return err
	}
	targets, err := p.resolveZones(ctx, ms)
	if err != nil {
		return err
	}
	switch len(targets) {
	case 0:
		return nil
	case 1:
		if err := p.deleteOne(ctx, targets[0]); err != nil {
			return fmt.Errorf("%s: %w", targets[0].ID, err)
		}
		return nil
	}
	batches := splitEven(targets, min(maxPerBatch, max(1, p.mutations.Burst())))
	errs := make([][]error, len(batches))
	sem := make(chan struct{}, batchesInFlight)
	var wg sync.WaitGroup
	for i, b := range batches {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			errs[i] = p.deleteBatch(ctx, b)
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	var all []error
	for _, e := range errs {
		all = append(all, e...)
	}
	return errors.Join(all...)
}

// splitEven cuts ms into the fewest batches of at most size, as even as
// can be (1001 machines are 501 + 500, not 1000 + 1).
func splitEven(ms []provider.Machine, size int) [][]provider.Machine {
	n := (len(ms) + size - 1) / size
	per := (len(ms) + n - 1) / n
	var out [][]provider.Machine
	for len(ms) > 0 {
		k := min(per, len(ms))
		out = append(out, ms[:k])
		ms = ms[k:]
	}
	return out
}

// deleteOne deletes one machine. Its requestId is random but kept across
// retries, so a repeated call is the same request; a fixed one per name
// could make GCE ignore the delete of a later machine of the same name.
func (p *Provider) deleteOne(ctx context.Context, m provider.Machine) error {
	rid := uuid.NewString()
	if err := p.waitMutation(ctx); err != nil {
		return err
	}
	err := p.do(ctx, "instances.delete", func(ctx context.Context) error {
		_, err := p.c.instances.Delete(ctx, &computepb.DeleteInstanceRequest{
			Project: p.project, Zone: m.Zone, Instance: m.ID, RequestId: proto.String(rid),
		}, noRetry)
		return err
	})
	if errors.Is(err, provider.ErrNotFound) {
		return nil
	}
	return err
}

// deletion is one instances.delete inside batch requests.
type deletion struct {
	m   provider.Machine
	rid string // kept across retries, as deleteOne's
}

// deleteBatch deletes machines with batch requests and returns the errors
// of the deletes that failed, in order. A 404 part is a machine already
// gone. Parts that were throttled or failed transiently, and every part of
// a batch request that failed transiently as a whole, are sent again (only
// those, with their requestIds) with jittered exponential backoff, up to
// Options.Retries times, as do does for one call; every call sent takes a
// token from the write limiter. Other failures are classified as a direct
// instances.delete's would be.
func (p *Provider) deleteBatch(ctx context.Context, ms []provider.Machine) []error {
	pending := make([]deletion, len(ms))
	for i, m := range ms {
		pending[i] = deletion{m: m, rid: uuid.NewString()}
	}
	var errs []error
	backoff := 250 * time.Millisecond
	for attempt := 0; ; attempt++ {
		if err := p.waitMutations(ctx, len(pending)); err != nil {
			return append(errs, err)
		}
		answers, err := p.sendDeletes(ctx, pending)
		last := attempt >= p.opts.Retries || ctx.Err() != nil
		if err != nil {
			err = classify("batch", err)
			if !transient(err) || last {
				return append(errs, fmt.Errorf("deleting %s and %d more in a batch request: %w", pending[0].m.ID, len(pending)-1, err))
			}
		} else {
			var again []deletion
			for i, d := range pending {
				perr := classify("instances.delete", answers[i])
				switch {
				case perr == nil, errors.Is(perr, provider.ErrNotFound):
				case transient(perr) && !last:
					again = append(again, d)
				default:
					errs = append(errs, fmt.Errorf("%s: %w", d.m.ID, perr))
				}
			}
			if pending = again; len(pending) == 0 {
				return errs
			}
		}
		d := backoff + time.Duration(rand.Int64N(int64(backoff/2)+1))
		if err := p.opts.Sleep(ctx, d); err != nil {
			return append(errs, err)
		}
		backoff = min(2*backoff, 16*time.Second)
	}
}

// sendDeletes sends one batch request of instances.delete calls and
// returns each call's outcome, in order: nil for a 2xx answer, else the
// *googleapi.Error the call answered, as the REST client would return it.
// The error is the batch request's own failure.
func (p *Provider) sendDeletes(ctx context.Context, ds []deletion) ([]error, error) {
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for i, d := range ds {
		pw, err := mw.CreatePart(textproto.MIMEHeader{
			"Content-Type": {"application/http"},
			"Content-Id":   {"<" + strconv.Itoa(i) + ">"},
		})
		if err != nil {
			return nil, err
		}
		path := fmt.Sprintf("/compute/v1/projects/%s/zones/%s/instances/%s?requestId=%s",
			url.PathEscape(p.project), url.PathEscape(d.m.Zone), url.PathEscape(d.m.ID), url.QueryEscape(d.rid))
		if _, err := fmt.Fprintf(pw, "DELETE %s HTTP/1.1\r\n\r\n", path); err != nil {
			return nil, err
		}
	}
	if err := mw.Close(); err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.batchURL, &body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "multipart/mixed; boundary="+mw.Boundary())
	resp, err := p.batchHTTP.Do(req)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	if err := googleapi.CheckResponse(resp); err != nil {
		return nil, err
	}
	return readAnswers(resp, len(ds))
}

// readAnswers reads a batch answer: one application/http part per call,
// matched by Content-ID ("<response-i>" for call i), else by position. A
// call the answer leaves out gets a 500, which is retried.
func readAnswers(resp *http.Response, n int) ([]error, error) {
	_, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if err != nil || params["boundary"] == "" {
		return nil, fmt.Errorf("gcp batch: the answer is not multipart (Content-Type %q)", resp.Header.Get("Content-Type"))
	}
	out := make([]error, n)
	seen := make([]bool, n)
	mr := multipart.NewReader(resp.Body, params["boundary"])
	for pos := 0; ; pos++ {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("gcp batch: reading the answer: %w", err)
		}
		i := pos
		if id := strings.Trim(part.Header.Get("Content-Id"), "<> "); id != "" {
			if k, err := strconv.Atoi(strings.TrimPrefix(id, "response-")); err == nil {
				i = k
			}
		}
		if i < 0 || i >= n || seen[i] {
			continue
		}
		inner, err := http.ReadResponse(bufio.NewReader(part), nil)
		if err != nil {
			return nil, fmt.Errorf("gcp batch: answer %d is not an HTTP response: %w", pos, err)
		}
		b, err := io.ReadAll(inner.Body)
		_ = inner.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("gcp batch: reading answer %d: %w", pos, err)
		}
		seen[i], out[i] = true, googleapi.CheckResponseWithBody(inner, b)
	}
	for i := range out {
		if !seen[i] {
			out[i] = &googleapi.Error{Code: http.StatusInternalServerError, Message: "the batch answer has no part for this call"}
		}
	}
	return out, nil
}

// resolveZones fills in the zone of machines that lack one (an ID from
// elsewhere) by name; machines that cannot be found are gone already.
func (p *Provider) resolveZones(ctx context.Context, ms []provider.Machine) ([]provider.Machine, error) {
	var out []provider.Machine
	for _, m := range ms {
		if m.Zone != "" {
			out = append(out, m)
			continue
		}
		if !validName(m.ID) {
			continue // not a GCE instance name, so not a GCE instance
		}
		found, err := p.list(ctx, fmt.Sprintf(`name = "%s"`, m.ID))
		if err != nil {
			return nil, err
		}
		out = append(out, found...)
	}
	return out, nil
}

func validName(s string) bool {
	if s == "" || len(s) > 63 || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for _, r := range s {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '-' {
			return false
		}
	}
	return s[len(s)-1] != '-'
}

// waitMutation takes a token from the client-side write limiter, waiting
// on the injected clock.
func (p *Provider) waitMutation(ctx context.Context) error { return p.waitMutations(ctx, 1) }

// waitMutations takes n tokens at once (n at most the limiter's burst).
func (p *Provider) waitMutations(ctx context.Context, n int) error {
	now := p.opts.Now()
	r := p.mutations.ReserveN(now, n)
	if !r.OK() {
		return fmt.Errorf("gcp: write limiter refuses %d requests at once", n)
	}
	if d := r.DelayFrom(now); d > 0 {
		return p.opts.Sleep(ctx, d)
	}
	return nil
}
