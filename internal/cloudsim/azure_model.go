package cloudsim

import (
	"math"
	"time"
)

// BucketWait returns how long, by the model's clock, until the named bucket
// holds n tokens: 0 when it holds them now or is undefined. ARM answers a
// throttled request with Retry-After, which a server computes from this.
// A request for more than the bucket's size waits for a full bucket, as
// Take allows it then.
func (m *Model) BucketWait(name string, n int) time.Duration {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.buckets[name]
	if !ok || b.rate <= 0 {
		return 0
	}
	now := m.cfg.Now()
	b.tokens = min(b.size, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	b.last = now
	need := math.Min(float64(n), b.size)
	if b.tokens+1e-9 >= need {
		return 0
	}
	return time.Duration((need - b.tokens) / b.rate * float64(time.Second))
}

// InstanceStates returns, for each of ids, its instance's state and
// state reason by the model's clock (ok false for an unknown ID), under
// one lock and without copying the instances: what a list of thousands
// needs of each to know which to show and how.
func (m *Model) InstanceStates(ids []string) []Instance {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.cfg.Now()
	out := make([]Instance, len(ids))
	for i, id := range ids {
		in, ok := m.instances[id]
		if !ok {
			continue
		}
		m.advance(in, now)
		out[i] = Instance{ID: in.ID, State: in.State, StateReason: in.StateReason}
	}
	return out
}
