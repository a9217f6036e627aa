package gcp

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/api/googleapi"

	"github.com/burstdev/burst/internal/provider"
)

// GCE's errors come two ways: an HTTP error on the request itself (a JSON
// envelope with a status and reasons such as quotaExceeded), or an error
// inside a finished Operation (codes such as ZONE_RESOURCE_POOL_EXHAUSTED).
// classify and operationError map both to burst's kinds; the table is in
// docs/design/gcp.md.

var quotaRE = regexp.MustCompile(`Quota '([A-Z0-9_]+)' exceeded`)

// quotaScope says how far a quota failure reaches: a global quota
// (GPUS_ALL_REGIONS, CPUS_ALL_REGIONS) blocks the provider, a regional one
// its region.
func quotaScope(metric, msg string) provider.Scope {
	if strings.HasSuffix(metric, "_ALL_REGIONS") || strings.Contains(msg, "globally") {
		return provider.ScopeProvider
	}
	return provider.ScopeRegion
}

func quotaMetric(msg string) string {
	if m := quotaRE.FindStringSubmatch(msg); m != nil {
		return m[1]
	}
	return ""
}

// capacityText reports whether a message speaks of a stock-out.
func capacityText(s string) bool {
	return strings.Contains(s, "RESOURCE_POOL_EXHAUSTED") || strings.Contains(s, "does not have enough resources") ||
		strings.Contains(s, "insufficientCapacity") || strings.Contains(s, "STOCKOUT")
}

// classify maps an error from a client call to a kinded *provider.Error.
// Context errors and errors it cannot read pass through unchanged.
func classify(op string, err error) error {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var pe *provider.Error
	if errors.As(err, &pe) {
		return err
	}
	var ge *googleapi.Error
	if !errors.As(err, &ge) {
		return fmt.Errorf("gcp %s: %w", op, err)
	}
	reason := ""
	if len(ge.Errors) > 0 {
		reason = ge.Errors[0].Reason
	}
	msg := ge.Message
	e := &provider.Error{Op: op, Code: reason, Msg: msg, Err: err}
	if e.Code == "" {
		e.Code = http.StatusText(ge.Code)
	}
	switch {
	case ge.Code == http.StatusUnauthorized:
		e.Kind, e.Scope = provider.ErrAuth, provider.ScopeProvider
	case ge.Code == http.StatusTooManyRequests,
		reason == "rateLimitExceeded", reason == "userRateLimitExceeded", reason == "RATE_LIMIT_EXCEEDED":
		e.Kind, e.Scope = provider.ErrThrottled, provider.ScopeOffering
	case reason == "quotaExceeded" || reason == "QUOTA_EXCEEDED" || quotaMetric(msg) != "":
		metric := quotaMetric(msg)
		e.Kind, e.Scope = provider.ErrQuota, quotaScope(metric, msg)
		if metric != "" {
			e.Code = "QUOTA_EXCEEDED:" + metric
		}
	case ge.Code == http.StatusForbidden:
		e.Kind, e.Scope = provider.ErrAuth, provider.ScopeProvider
	case ge.Code == http.StatusServiceUnavailable && (reason == "insufficientCapacity" || capacityText(msg)):
		e.Kind, e.Scope = provider.ErrNoCapacity, provider.ScopeOffering
	case ge.Code == http.StatusNotFound:
		e.Kind, e.Scope = provider.ErrNotFound, provider.ScopeOffering
	case ge.Code == http.StatusBadRequest || ge.Code == http.StatusConflict || ge.Code == http.StatusPreconditionFailed:
		e.Kind, e.Scope = provider.ErrInvalid, provider.ScopeOffering
	default:
		// 5xx and the rest: no kind; the caller may retry (transient).
		return fmt.Errorf("gcp %s: %s (%d %s): %w", op, msg, ge.Code, e.Code, err)
	}
	return e
}

// transient reports whether a failed call may succeed if repeated: a
// throttle, or a server error that is not a stock-out.
func transient(err error) bool {
	if errors.Is(err, provider.ErrThrottled) {
		return true
	}
	if provider.KindOf(err) != nil {
		return false
	}
	var ge *googleapi.Error
	if errors.As(err, &ge) {
		return ge.Code >= 500
	}
	// A connection that broke before the answer arrived: the call may or
	// may not have happened, which is safe to repeat for the calls do runs
	// (reads, and writes with a requestId).
	var ue *url.Error
	return errors.As(err, &ue) && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
}

// operationError returns the error a finished operation reports, kinded,
// or nil if it succeeded.
func operationError(opName string, op *computepb.Operation) error {
	errs := op.GetError().GetErrors()
	if len(errs) == 0 {
		if c := op.GetHttpErrorStatusCode(); c >= 300 {
			return fmt.Errorf("gcp %s: operation %s failed: %d %s", opName, op.GetName(), c, op.GetHttpErrorMessage())
		}
		return nil
	}
	first := errs[0]
	code, msg := first.GetCode(), first.GetMessage()
	var parts []string
	for _, x := range errs {
		parts = append(parts, x.GetMessage())
	}
	e := &provider.Error{Op: opName, Code: code, Msg: strings.Join(parts, "; ")}
	switch {
	case strings.Contains(code, "RESOURCE_POOL_EXHAUSTED") || code == "RESOURCE_NOT_AVAILABLE" || capacityText(msg):
		e.Kind, e.Scope = provider.ErrNoCapacity, provider.ScopeOffering
	case code == "QUOTA_EXCEEDED":
		metric := quotaMetric(msg)
		for _, d := range first.GetErrorDetails() {
			if q := d.GetQuotaInfo(); q != nil && q.GetMetricName() != "" {
				metric = lastSegment(q.GetMetricName())
			}
		}
		e.Kind, e.Scope = provider.ErrQuota, quotaScope(metric, msg)
		if metric != "" {
			e.Code = "QUOTA_EXCEEDED:" + strings.ToUpper(metric)
		}
	case code == "RATE_LIMIT_EXCEEDED" || code == "RESOURCE_OPERATION_RATE_EXCEEDED":
		e.Kind, e.Scope = provider.ErrThrottled, provider.ScopeOffering
	case code == "PERMISSIONS_ERROR" || code == "FORBIDDEN" || op.GetHttpErrorStatusCode() == http.StatusUnauthorized:
		e.Kind, e.Scope = provider.ErrAuth, provider.ScopeProvider
	case code == "RESOURCE_NOT_FOUND" || code == "NOT_FOUND":
		e.Kind, e.Scope = provider.ErrNotFound, provider.ScopeOffering
	case strings.HasPrefix(code, "INVALID") || code == "BAD_REQUEST" || code == "UNSUPPORTED_OPERATION" || code == "CONDITION_NOT_MET":
		e.Kind, e.Scope = provider.ErrInvalid, provider.ScopeOffering
	default:
		return fmt.Errorf("gcp %s: operation %s failed: %s: %s", opName, op.GetName(), code, e.Msg)
	}
	return e
}

// do runs a call, repeating it with backoff while it is throttled or fails
// transiently, up to Options.Retries times. Only calls that are safe to
// repeat go through do: reads, and writes that carry a requestId.
func (p *Provider) do(ctx context.Context, op string, call func(ctx context.Context) error) error {
	backoff := 250 * time.Millisecond
	for attempt := 0; ; attempt++ {
		err := classify(op, call(ctx))
		if err == nil || !transient(err) || attempt >= p.opts.Retries || ctx.Err() != nil {
			return err
		}
		d := backoff + time.Duration(rand.Int64N(int64(backoff/2)+1))
		if err := p.opts.Sleep(ctx, d); err != nil {
			return err
		}
		backoff = min(2*backoff, 16*time.Second)
	}
}

func lastSegment(s string) string {
	if i := strings.LastIndexByte(s, '/'); i >= 0 {
		return s[i+1:]
	}
	return s
}
