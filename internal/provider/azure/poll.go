package azure

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
)

// firstPoll is the pause before an operation's first poll; each later
// pause doubles, up to PollInterval.
const firstPoll = 50 * time.Millisecond

// wait polls a long-running operation until it ends and returns its result.
// The SDK's PollUntilDone refuses a frequency under a second and sleeps on
// the wall clock; this loop sleeps through the provider's injected Sleep,
// so tests against the simulator run on its manual clock.
//
// Schedule: the first poll 50 ms after the operation's first answer, then
// pauses of 0.1, 0.2, 0.4, 0.8, 1.6, 3.2 s and PollInterval (5 s) from
// then on. Doubling from a short pause keeps the time between an
// operation's end and burst learning of it below about the time the
// operation took (plus a round trip), whatever its length: an operation
// of minutes costs a poll every 5 s, one of a second five polls.
// The first pause sets what the quickest operations cost: with 200 ms
// (this provider's first schedule) every operation that ARM had ended by
// then still cost 200 ms and a round trip, four times on up's chain of
// dependent writes (NSG, network, head, workers); at 50 ms it costs two
// more reads per operation (the polls at 50 and 150 ms), against a
// subscription's read budget of thousands an hour (ARM's bucket: 250,
// refilling 25 a second), about ten more for a whole `up`. A poll at once
// (no pause) was not taken: it would find the operation where the PUT's
// answer left it, a moment earlier, and be one more read for nothing on
// any operation that takes longer than a round trip, which on ARM is
// nearly all of them (a VM's takes tens of seconds).
//
// Retry-After (or retry-after-ms) on an operation's answers is not
// honoured. A resource provider sets it per kind of operation, not from
// how far along this one is (a group deletion answers 15 s, as the
// simulator encodes, whether the group holds nothing or a thousand VMs),
// so waiting what it says would add up to its value to every operation
// that ends sooner, several times on up's chain of dependent writes
// (group, NSG, network, head, workers), while sparing only a few reads.
// Where the operation is slow anyway, honouring it would change little;
// where it is fast, it would cost the most. Polls are reads against the
// subscription's read budget (thousands an hour; this schedule makes at
// most seven in an operation's first 6.4 seconds, then one per 5 s), and
// when ARM wants fewer it answers 429, which throttlePolicy honours with
// the Retry-After that comes with it.
func wait[T any](ctx context.Context, p *Provider, poller *runtime.Poller[T]) (T, error) {
	if err := pollDone(ctx, p, poller, nil); err != nil {
		var zero T
		return zero, err
	}
	return poller.Result(ctx)
}

// pollDone polls until the operation ends; seen, when given, sees each
// poll's answer.
func pollDone[T any](ctx context.Context, p *Provider, poller *runtime.Poller[T], seen func(*http.Response)) error {
	d := min(p.opts.PollInterval, firstPoll)
	for !poller.Done() {
		if err := p.opts.Sleep(ctx, d); err != nil {
			return err
		}
		d = min(2*d, p.opts.PollInterval)
		resp, err := poller.Poll(ctx)
		if err != nil {
			return err
		}
		if seen != nil {
			seen(resp)
		}
		// The pipeline has read the body into memory for the poller;
		// closing it releases nothing the poller still needs.
		_ = resp.Body.Close()
	}
	return nil
}

// capture returns a context that keeps the response of the call made with
// it in *first: an operation's first answer, for settle.
func capture(ctx context.Context, first **http.Response) context.Context {
	return policy.WithCaptureResponse(ctx, first)
}

// settle waits for a PUT or PATCH operation to end, like wait, and returns
// only its error: it spares the GET of the resource that the SDK's Result
// makes once an Azure-AsyncOperation has succeeded. burst needs nothing
// from that GET where settle is used: the operation's status says whether
// it succeeded (and, when it did not, carries the error, from which settle
// builds the same *azcore.ResponseError Result would), and the resource,
// as the PUT made it, came in the first answer (first, from capture). An
// operation without Azure-AsyncOperation (a Location or body poller) goes
// through wait; one whose state settle cannot read is left to Result.
func settle[T any](ctx context.Context, p *Provider, poller *runtime.Poller[T], first *http.Response) error {
	if first == nil || first.Header.Get("Azure-AsyncOperation") == "" {
		_, err := wait(ctx, p, poller)
		return err
	}
	// An operation that ended at its first answer says how in its
	// provisioning state; else the last poll's status says.
	state, failure := lroState(first, true)
	err := pollDone(ctx, p, poller, func(resp *http.Response) { state, failure = lroState(resp, false) })
	switch {
	case err != nil:
		return err
	case state == "":
		_, err := poller.Result(ctx)
		return err
	}
	return failure
}

// lroState reads an operation's state from its first answer (the
// resource's provisioning state) or from a poll (the status), and the
// error it failed with.
func lroState(resp *http.Response, first bool) (string, error) {
	var r struct {
		Status     string `json:"status"`
		Properties struct {
			ProvisioningState string `json:"provisioningState"`
		} `json:"properties"`
	}
	if !readJSON(resp, &r) {
		return "", nil
	}
	state := r.Status
	if first {
		state = r.Properties.ProvisioningState
	}
	switch strings.ToLower(state) {
	case "failed", "canceled", "cancelled":
		return state, runtime.NewResponseError(resp)
	}
	return state, nil
}

// readJSON decodes a response's body, which the pipeline has kept in
// memory.
func readJSON(resp *http.Response, v any) bool {
	body, err := runtime.Payload(resp)
	return err == nil && json.Unmarshal(body, v) == nil
}

// throttlePolicy retries requests ARM throttled (HTTP 429): it waits what
// Retry-After says (or an exponential backoff with jitter when it says
// nothing), at most MaxRetryDelay a time, up to MaxRetries times, and then
// hands the 429 on, which classifies as ErrThrottled. It runs once per
// call, above the SDK's own retry policy, which is told to leave 429s
// alone.
type throttlePolicy struct{ p *Provider }

// Do implements policy.Policy.
func (t *throttlePolicy) Do(req *policy.Request) (*http.Response, error) {
	o := t.p.opts
	for try := 0; ; try++ {
		if try > 0 {
			if err := req.RewindBody(); err != nil {
				return nil, err
			}
		}
		resp, err := req.Clone(req.Raw().Context()).Next()
		if err != nil || resp.StatusCode != http.StatusTooManyRequests || try >= o.MaxRetries {
			return resp, err
		}
		d := retryAfter(resp.Header)
		if d <= 0 {
			d = time.Duration(float64(time.Second) * float64(int(1)<<min(try, 6)) * (0.8 + 0.4*rand.Float64()))
		}
		d = min(d, o.MaxRetryDelay)
		runtime.Drain(resp)
		if err := o.Sleep(req.Raw().Context(), d); err != nil {
			return nil, err
		}
	}
}

// retryAfter reads ARM's retry headers: retry-after-ms and
// x-ms-retry-after-ms in milliseconds, Retry-After in seconds or as a date.
func retryAfter(h http.Header) time.Duration {
	for _, k := range []string{"retry-after-ms", "x-ms-retry-after-ms"} {
		if v, err := strconv.Atoi(h.Get(k)); err == nil && v > 0 {
			return time.Duration(v) * time.Millisecond
		}
	}
	v := h.Get("Retry-After")
	if n, err := strconv.Atoi(v); err == nil && n > 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return time.Until(t)
	}
	return 0
}
