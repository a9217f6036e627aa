package cloudsim

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/burstdev/burst/internal/catalog"
)

// Capacity types, as in the catalog.
const (
	OnDemand = string(catalog.OnDemand)
	Spot     = string(catalog.Spot)
)

// Instance states, normalised; servers map them to their cloud's names.
const (
	Pending      = "pending"
	Running      = "running"
	Stopping     = "stopping"
	Stopped      = "stopped"
	ShuttingDown = "shutting-down"
	Terminated   = "terminated"
)

// Config configures a model.
type Config struct {
	// Regions maps each region to its zones.
	Regions map[string][]string
	// Types are the machine types the cloud offers (Offerings are used by
	// pricing APIs; capacity is separate, see SetCapacity).
	Types []catalog.Type
	// Latency is added to every request.
	Latency time.Duration
	// BootDelay is how long an instance stays pending.
	BootDelay time.Duration
	// TerminateDelay is how long an instance stays shutting-down.
	TerminateDelay time.Duration
	// Retention is how long a terminated instance stays visible.
	Retention time.Duration
	// Now and Sleep are the clock (default: real time).
	Now   func() time.Time
	Sleep func(time.Duration)
}

// Model is the simulated cloud.
type Model struct {
	mu        sync.Mutex
	cfg       Config
	types     map[string]catalog.Type
	instances map[string]*Instance
	order     []string
	tokens    map[string][]string
	capacity  map[PoolKey]int
	quotas    map[QuotaKey]float64
	buckets   map[string]*bucket
	faults    []*Fault
	resources map[string]*Resource // by kind + "/" + id
	log       []Request
	seq       int
	ipSeq     int
}

// New returns a model.
func New(cfg Config) *Model {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Sleep == nil {
		cfg.Sleep = time.Sleep
	}
	if cfg.Retention == 0 {
		cfg.Retention = time.Hour
	}
	m := &Model{
		cfg:       cfg,
		types:     map[string]catalog.Type{},
		instances: map[string]*Instance{},
		tokens:    map[string][]string{},
		capacity:  map[PoolKey]int{},
		quotas:    map[QuotaKey]float64{},
		buckets:   map[string]*bucket{},
		resources: map[string]*Resource{},
	}
	for _, t := range cfg.Types {
		m.types[t.Name] = t
	}
	return m
}

// Now returns the model's time.
func (m *Model) Now() time.Time { return m.cfg.Now() }

// Regions returns the regions and their zones.
func (m *Model) Regions() map[string][]string {
	out := map[string][]string{}
	for r, zs := range m.cfg.Regions {
		out[r] = slices.Clone(zs)
	}
	return out
}

// Zones returns a region's zones (nil for an unknown region).
func (m *Model) Zones(region string) []string { return slices.Clone(m.cfg.Regions[region]) }

// RegionOfZone returns the region a zone belongs to.
func (m *Model) RegionOfZone(zone string) (string, bool) {
	for r, zs := range m.cfg.Regions {
		if slices.Contains(zs, zone) {
			return r, true
		}
	}
	return "", false
}

// Types returns the machine types, sorted by name.
func (m *Model) Types() []catalog.Type {
	out := make([]catalog.Type, 0, len(m.types))
	for _, t := range m.types {
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Type returns a machine type by name.
func (m *Model) Type(name string) (catalog.Type, bool) {
	t, ok := m.types[name]
	return t, ok
}

// SetLatency changes the per-request latency.
func (m *Model) SetLatency(d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.cfg.Latency = d
}

// PoolKey names a capacity pool.
type PoolKey struct {
	Type     string
	Zone     string
	Capacity string
}

// SetCapacity limits how many more instances a pool gives; n < 0 makes it
// unlimited (the default).
func (m *Model) SetCapacity(k PoolKey, n int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if n < 0 {
		delete(m.capacity, k)
		return
	}
	m.capacity[k] = n
}

// Capacity returns a pool's remaining capacity and whether it is limited.
func (m *Model) Capacity(k PoolKey) (int, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, ok := m.capacity[k]
	return n, ok
}

// QuotaKey names a quota: a region ("" for global) and the cloud's name of
// it (EC2 "L-1216C47A", GCE "CPUS", Azure "standardDSv5Family").
type QuotaKey struct {
	Region string
	Name   string
}

// QuotaUse is how much of a quota one instance uses.
type QuotaUse struct {
	Key    QuotaKey
	Amount float64
}

// SetQuota sets a quota's limit; a negative limit removes it (unlimited).
func (m *Model) SetQuota(k QuotaKey, limit float64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if limit < 0 {
		delete(m.quotas, k)
		return
	}
	m.quotas[k] = limit
}

// Quota returns a quota's limit and current usage; ok is false when the
// quota is unlimited.
func (m *Model) Quota(k QuotaKey) (limit, usage float64, ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	limit, ok = m.quotas[k]
	return limit, m.usageLocked(k), ok
}

// Quotas returns every set quota with its usage.
func (m *Model) Quotas() map[QuotaKey][2]float64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[QuotaKey][2]float64{}
	for k, l := range m.quotas {
		out[k] = [2]float64{l, m.usageLocked(k)}
	}
	return out
}

func (m *Model) usageLocked(k QuotaKey) float64 {
	now := m.cfg.Now()
	total := 0.0
	for _, id := range m.order {
		in := m.instances[id]
		m.advance(in, now)
		if !in.holdsQuota() {
			continue
		}
		for _, u := range in.Quotas {
			if u.Key == k {
				total += u.Amount
			}
		}
	}
	return total
}

// Error is a model failure; servers map its Kind to their cloud's code.
type Error struct {
	Kind    Kind
	Message string
	// Quota is set for KindQuota: which quota, its limit, usage and the
	// amount the request needed.
	Quota                    QuotaKey
	Limit, Usage, Needed     float64
	Zone, Type, CapacityType string
}

func (e *Error) Error() string { return string(e.Kind) + ": " + e.Message }

// Kind is a generic failure kind.
type Kind string

// Failure kinds.
const (
	KindCapacity Kind = "capacity"
	KindQuota    Kind = "quota"
	KindThrottle Kind = "throttle"
	KindAuth     Kind = "auth"
	KindInvalid  Kind = "invalid"
	KindNotFound Kind = "not-found"
	KindInternal Kind = "internal"
	// KindTimeout makes a request hang until the client gives up.
	KindTimeout Kind = "timeout"
)

// Instance is one simulated machine.
type Instance struct {
	ID       string
	Name     string
	Region   string
	Zone     string
	Type     string
	Capacity string
	State    string
	// StateReason says why the instance stopped or terminated ("user",
	// "spot-interruption", "guest-shutdown").
	StateReason string
	Tags        map[string]string
	PrivateIP   string
	PublicIP    string
	LaunchedAt  time.Time
	UserData    string
	// Attrs are cloud-specific launch attributes (EC2
	// InstanceInitiatedShutdownBehavior, GCE instanceTerminationAction, ...),
	// kept for tests to check.
	Attrs map[string]string
	// Token is the idempotency token the instance was launched with.
	Token  string
	Quotas []QuotaUse
	// Group is a server-defined grouping (EC2 fleet, Azure scale set).
	Group string

	endedAt time.Time
}

func (in *Instance) holdsQuota() bool {
	return in.State != Terminated && in.State != Stopped
}

// LaunchSpec asks the model for instances.
type LaunchSpec struct {
	Region, Zone, Type, Capacity string
	// Count is the most to launch; MinCount the fewest acceptable (0 means
	// any number, partial fulfilment allowed).
	Count, MinCount int
	Tags            map[string]string
	UserData        string
	Attrs           map[string]string
	// Quotas is the quota one instance uses.
	Quotas []QuotaUse
	// Token makes the launch idempotent: a token seen before returns the
	// instances it launched, whatever their state, and launches none.
	Token string
	// PublicIP gives each instance a public address.
	PublicIP bool
	Group    string
	// Name returns the i-th instance's ID and name from the model's
	// sequence number; nil means "sim-%08d".
	Name func(seq int) (id, name string)
}

// Launch creates up to Count instances in one pool. It launches as many as
// the pool's capacity allows (at least MinCount, else none), checks quotas
// for that number all-or-nothing, and returns the instances created. When
// fewer than Count were launched, err describes why (a capacity error)
// alongside the instances.
func (m *Model) Launch(ls LaunchSpec) ([]Instance, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.cfg.Now()
	if ls.Token != "" {
		if ids, ok := m.tokens[ls.Token]; ok {
			out := make([]Instance, 0, len(ids))
			for _, id := range ids {
				in := m.instances[id]
				m.advance(in, now)
				out = append(out, in.copy())
			}
			return out, nil
		}
	}
	if _, ok := m.types[ls.Type]; !ok && len(m.types) > 0 {
		return nil, &Error{Kind: KindInvalid, Message: fmt.Sprintf("unknown instance type %q", ls.Type), Type: ls.Type}
	}
	if !slices.Contains(m.cfg.Regions[ls.Region], ls.Zone) {
		return nil, &Error{Kind: KindInvalid, Message: fmt.Sprintf("zone %q is not in region %q", ls.Zone, ls.Region), Zone: ls.Zone}
	}
	if ls.Count <= 0 || ls.MinCount > ls.Count {
		return nil, &Error{Kind: KindInvalid, Message: fmt.Sprintf("bad count %d (min %d)", ls.Count, ls.MinCount)}
	}
	if ls.Capacity == "" {
		ls.Capacity = OnDemand
	}
	key := PoolKey{Type: ls.Type, Zone: ls.Zone, Capacity: ls.Capacity}
	n := ls.Count
	limit, limited := m.capacity[key]
	if limited {
		n = min(n, limit)
	}
	capErr := func() error {
		return &Error{Kind: KindCapacity, Zone: ls.Zone, Type: ls.Type, CapacityType: ls.Capacity,
			Message: fmt.Sprintf("insufficient %s capacity for %s in %s (asked %d, have %d)", ls.Capacity, ls.Type, ls.Zone, ls.Count, n)}
	}
	if n == 0 || n < ls.MinCount {
		return nil, capErr()
	}
	for _, u := range ls.Quotas {
		if lim, ok := m.quotas[u.Key]; ok {
			used := m.usageLocked(u.Key)
			if used+u.Amount*float64(n) > lim+1e-9 {
				return nil, &Error{Kind: KindQuota, Quota: u.Key, Limit: lim, Usage: used, Needed: u.Amount * float64(n),
					Message: fmt.Sprintf("quota %s in %s: limit %g, used %g, need %g more", u.Key.Name, regionOr(u.Key.Region), lim, used, u.Amount*float64(n))}
			}
		}
	}
	if limited {
		m.capacity[key] = limit - n
	}
	out := make([]Instance, 0, n)
	ids := make([]string, 0, n)
	for i := 0; i < n; i++ {
		m.seq++
		id, name := fmt.Sprintf("sim-%08d", m.seq), ""
		if ls.Name != nil {
			id, name = ls.Name(m.seq)
		}
		in := &Instance{
			ID: id, Name: name, Region: ls.Region, Zone: ls.Zone, Type: ls.Type, Capacity: ls.Capacity,
			State: Pending, Tags: maps.Clone(ls.Tags), PrivateIP: m.nextIP(), LaunchedAt: now, UserData: ls.UserData,
			Attrs: maps.Clone(ls.Attrs), Token: ls.Token, Quotas: slices.Clone(ls.Quotas), Group: ls.Group,
		}
		if in.Tags == nil {
			in.Tags = map[string]string{}
		}
		if ls.PublicIP {
			in.PublicIP = fmt.Sprintf("198.51.%d.%d", (m.ipSeq/250)%250, m.ipSeq%250+1)
		}
		if m.cfg.BootDelay <= 0 {
			in.State = Running
		}
		m.instances[id] = in
		m.order = append(m.order, id)
		ids = append(ids, id)
		out = append(out, in.copy())
	}
	if ls.Token != "" {
		m.tokens[ls.Token] = ids
	}
	if n < ls.Count {
		return out, capErr()
	}
	return out, nil
}

func regionOr(r string) string {
	if r == "" {
		return "all regions"
	}
	return r
}

func (m *Model) nextIP() string {
	m.ipSeq++
	return fmt.Sprintf("10.%d.%d.%d", (m.ipSeq/62500)%250, (m.ipSeq/250)%250, m.ipSeq%250+2)
}

// advance moves an instance along its lifecycle by the clock.
func (m *Model) advance(in *Instance, now time.Time) {
	switch in.State {
	case Pending:
		if !now.Before(in.LaunchedAt.Add(m.cfg.BootDelay)) {
			in.State = Running
		}
	case ShuttingDown:
		if !now.Before(in.endedAt.Add(m.cfg.TerminateDelay)) {
			in.State = Terminated
		}
	case Stopping:
		if !now.Before(in.endedAt.Add(m.cfg.TerminateDelay)) {
			in.State = Stopped
		}
	}
}

func (in *Instance) copy() Instance {
	c := *in
	c.Tags = maps.Clone(in.Tags)
	c.Attrs = maps.Clone(in.Attrs)
	c.Quotas = slices.Clone(in.Quotas)
	return c
}

// Instances returns the instances for which keep returns true (nil keeps
// all), in launch order. Terminated instances older than the retention are
// dropped for good.
func (m *Model) Instances(keep func(*Instance) bool) []Instance {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.cfg.Now()
	var out []Instance
	kept := m.order[:0]
	for _, id := range m.order {
		in := m.instances[id]
		m.advance(in, now)
		if in.State == Terminated && now.Sub(in.endedAt) > m.cfg.Retention {
			delete(m.instances, id)
			continue
		}
		kept = append(kept, id)
		if keep == nil || keep(in) {
			out = append(out, in.copy())
		}
	}
	m.order = kept
	return out
}

// Instance returns one instance.
func (m *Model) Instance(id string) (Instance, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	in, ok := m.instances[id]
	if !ok {
		return Instance{}, false
	}
	m.advance(in, m.cfg.Now())
	return in.copy(), true
}

// Terminate ends instances; unknown or already-ended ones are skipped. It
// returns the IDs it changed.
func (m *Model) Terminate(ids []string, reason string) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.cfg.Now()
	var changed []string
	for _, id := range ids {
		in, ok := m.instances[id]
		if !ok {
			continue
		}
		m.advance(in, now)
		if in.State == Terminated || in.State == ShuttingDown {
			continue
		}
		in.State, in.StateReason, in.endedAt = ShuttingDown, reason, now
		if m.cfg.TerminateDelay <= 0 {
			in.State = Terminated
		}
		changed = append(changed, id)
	}
	return changed
}

// Stop stops instances (a guest shutdown on a cloud that stops rather than
// deletes): they keep their disks but release quota.
func (m *Model) Stop(ids []string, reason string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.cfg.Now()
	for _, id := range ids {
		if in, ok := m.instances[id]; ok {
			m.advance(in, now)
			if in.State == Running || in.State == Pending {
				in.State, in.StateReason, in.endedAt = Stopping, reason, now
				if m.cfg.TerminateDelay <= 0 {
					in.State = Stopped
				}
			}
		}
	}
}

// Delete removes instances at once (GCE and Azure deletes: no terminated
// record lingers).
func (m *Model) Delete(ids []string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, id := range ids {
		if _, ok := m.instances[id]; ok {
			delete(m.instances, id)
			m.order = slices.DeleteFunc(m.order, func(s string) bool { return s == id })
		}
	}
}

// Interrupt reclaims a spot instance, as the cloud does.
func (m *Model) Interrupt(id string) bool {
	return len(m.Terminate([]string{id}, "spot-interruption")) == 1
}

// SetTags merges tags into an instance.
func (m *Model) SetTags(id string, tags map[string]string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	in, ok := m.instances[id]
	if !ok {
		return false
	}
	maps.Copy(in.Tags, tags)
	return true
}
