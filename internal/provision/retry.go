package provision

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/burstdev/burst/internal/progress"
	"github.com/burstdev/burst/internal/provider"
)

// retryAttempts bounds retries of an idempotent provider call (listing,
// terminating, preparing, cleaning up, checking quotas) after the
// provider's own retries gave up on a transient failure.
const retryAttempts = 5

// transient reports whether a failed idempotent call may succeed if tried
// again: throttling, and failures burst has no kind for (5xx answers,
// dropped connections). Auth, invalid requests, missing things, quotas and
// capacity are answers, not accidents.
func transient(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	k := provider.KindOf(err)
	return k == nil || errors.Is(k, provider.ErrThrottled)
}

// retry runs an idempotent provider call, backing off 1, 2, 4, 8 s between
// attempts on transient failures.
func (e *Engine) retry(ctx context.Context, cluster, what string, call func() error) error {
	for attempt := 0; ; attempt++ {
		err := call()
		if err == nil || attempt == retryAttempts-1 || !transient(err) || ctx.Err() != nil {
			return err
		}
		wait := time.Duration(1<<attempt) * time.Second
		e.emit(progress.Event{Type: progress.TypeWarning, Cluster: cluster, Error: err.Error(),
			Message: fmt.Sprintf("%s failed (%v); retrying in %s", what, err, wait)})
		if serr := e.Sleep(ctx, wait); serr != nil {
			return err
		}
	}
}
