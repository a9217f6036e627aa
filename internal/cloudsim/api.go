package cloudsim

import (
	"maps"
	"slices"
	"sort"
	"strings"
	"time"
)

// Request is one logged API request.
type Request struct {
	Time     time.Time
	Service  string // "ec2", "compute", "arm", ...
	Action   string // the cloud's name: "CreateFleet", "compute.instances.bulkInsert", ...
	Region   string
	Status   int    // HTTP status returned
	Code     string // the cloud's error code, "" on success
	Duration time.Duration
}

// Call is a request in progress; End logs it.
type Call struct {
	m     *Model
	req   Request
	start time.Time
	// Fault is the injected fault this call must fail with, or nil.
	Fault *Fault
}

// Begin starts a request: it waits the configured latency and returns the
// call, with the injected fault that matches it, if any. Servers answer
// with the fault's error when Fault is set, then call End.
func (m *Model) Begin(service, action, region string) *Call {
	m.mu.Lock()
	lat := m.cfg.Latency
	f := m.matchFault(service, action)
	m.mu.Unlock()
	start := time.Now()
	if lat > 0 {
		m.cfg.Sleep(lat)
	}
	return &Call{m: m, start: start, Fault: f, req: Request{Time: m.cfg.Now(), Service: service, Action: action, Region: region}}
}

// End logs the call with its outcome.
func (c *Call) End(status int, code string) {
	c.req.Status, c.req.Code, c.req.Duration = status, code, time.Since(c.start)
	c.m.mu.Lock()
	c.m.log = append(c.m.log, c.req)
	c.m.mu.Unlock()
}

// Requests returns the request log.
func (m *Model) Requests() []Request {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.log)
}

// ResetRequests clears the request log.
func (m *Model) ResetRequests() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.log = nil
}

// Count returns how many logged requests had the action.
func (m *Model) Count(action string) int {
	n := 0
	for _, r := range m.Requests() {
		if r.Action == action {
			n++
		}
	}
	return n
}

// Actions returns the distinct actions logged, sorted.
func (m *Model) Actions() []string {
	seen := map[string]bool{}
	for _, r := range m.Requests() {
		seen[r.Action] = true
	}
	out := make([]string, 0, len(seen))
	for a := range seen {
		out = append(out, a)
	}
	sort.Strings(out)
	return out
}

// Fault is an injected failure.
type Fault struct {
	Kind Kind
	// Service and Action select the calls it hits ("" matches any); Action
	// may end in "*" to match a prefix.
	Service, Action string
	// Code overrides the server's error code for the kind.
	Code    string
	Message string
	// Times is how many matching calls fail; 0 or less means every one.
	Times int
	// After lets this many matching calls through before failing.
	After int
}

// Inject adds a fault. Faults are matched in the order added.
func (m *Model) Inject(f Fault) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.faults = append(m.faults, &f)
}

// ClearFaults removes every fault.
func (m *Model) ClearFaults() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.faults = nil
}

func (m *Model) matchFault(service, action string) *Fault {
	for i, f := range m.faults {
		if f.Service != "" && f.Service != service {
			continue
		}
		if f.Action != "" && f.Action != action && (!strings.HasSuffix(f.Action, "*") || !strings.HasPrefix(action, strings.TrimSuffix(f.Action, "*"))) {
			continue
		}
		if f.After > 0 {
			f.After--
			continue
		}
		hit := *f
		if f.Times > 0 {
			f.Times--
			if f.Times == 0 {
				m.faults = slices.Delete(m.faults, i, i+1)
			}
		}
		return &hit
	}
	return nil
}

// bucket is a token bucket.
type bucket struct {
	size, rate, tokens float64
	last               time.Time
}

// SetBucket defines (or resets) a token bucket: size tokens at most,
// refilled at rate per second. A call that cannot take its tokens is
// throttled.
func (m *Model) SetBucket(name string, size int, rate float64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.buckets[name] = &bucket{size: float64(size), rate: rate, tokens: float64(size), last: m.cfg.Now()}
}

// RemoveBuckets drops every bucket (no throttling).
func (m *Model) RemoveBuckets() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.buckets = map[string]*bucket{}
}

// Take takes n tokens from the named bucket and reports whether it could;
// an undefined bucket never throttles. A request for more tokens than the
// bucket holds when full is allowed once the bucket is full (it empties
// it), so oversized requests are slow, not impossible.
func (m *Model) Take(name string, n int) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.buckets[name]
	if !ok {
		return true
	}
	now := m.cfg.Now()
	b.tokens = min(b.size, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	b.last = now
	need := float64(n)
	if need > b.size && b.tokens >= b.size {
		b.tokens = 0
		return true
	}
	if b.tokens+1e-9 < need {
		return false
	}
	b.tokens -= need
	return true
}

// Resource is a tagged non-instance resource: a security group, key pair,
// fleet, launch template, firewall, network, resource group, disk, NIC...
type Resource struct {
	Kind   string
	ID     string
	Name   string
	Region string
	Tags   map[string]string
	// Parent is the ID of a containing resource (an Azure resource group).
	Parent    string
	CreatedAt time.Time
	// Data is the server's own record of the resource.
	Data any
}

func resKey(kind, id string) string { return kind + "/" + id }

// PutResource creates or replaces a resource.
func (m *Model) PutResource(r Resource) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if r.CreatedAt.IsZero() {
		r.CreatedAt = m.cfg.Now()
	}
	r.Tags = maps.Clone(r.Tags)
	m.resources[resKey(r.Kind, r.ID)] = &r
}

// Resource returns a resource.
func (m *Model) Resource(kind, id string) (Resource, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.resources[resKey(kind, id)]
	if !ok {
		return Resource{}, false
	}
	return *r, true
}

// UpdateResource applies fn to a resource under the model's lock.
func (m *Model) UpdateResource(kind, id string, fn func(*Resource)) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.resources[resKey(kind, id)]
	if ok {
		fn(r)
	}
	return ok
}

// DeleteResource removes a resource and reports whether it existed.
func (m *Model) DeleteResource(kind, id string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := resKey(kind, id)
	_, ok := m.resources[k]
	delete(m.resources, k)
	return ok
}

// Resources returns the resources of a kind ("" for all) that keep accepts,
// sorted by kind and ID.
func (m *Model) Resources(kind string, keep func(*Resource) bool) []Resource {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Resource
	for _, r := range m.resources {
		if (kind == "" || r.Kind == kind) && (keep == nil || keep(r)) {
			out = append(out, *r)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Kind != out[j].Kind {
			return out[i].Kind < out[j].Kind
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// Leaks lists everything still alive that carries the tag key (burst's
// "burst-cluster"): instances not terminated and resources. A clean
// teardown leaves none.
func (m *Model) Leaks(tagKey string) []string {
	var out []string
	for _, in := range m.Instances(func(in *Instance) bool { return in.State != Terminated }) {
		if _, ok := in.Tags[tagKey]; ok {
			out = append(out, "instance/"+in.ID+" ("+in.State+")")
		}
	}
	for _, r := range m.Resources("", func(r *Resource) bool { _, ok := r.Tags[tagKey]; return ok }) {
		out = append(out, r.Kind+"/"+r.ID)
	}
	return out
}
