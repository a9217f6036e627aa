package spec

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Role is what a machine does in a cluster.
type Role string

// The roles. A cluster has exactly one head and zero or more workers.
const (
	RoleHead   Role = "head"
	RoleWorker Role = "worker"
)

// SpotPolicy says which capacity type a pool may use.
type SpotPolicy string

// Spot policies. SpotWithFallback launches spot first and fills the shortfall
// on demand.
const (
	OnDemand         SpotPolicy = "on-demand"
	Spot             SpotPolicy = "spot"
	SpotWithFallback SpotPolicy = "spot-with-fallback"
)

// Arch is a CPU architecture in the catalog's spelling.
type Arch string

// Architectures.
const (
	ArchAny   Arch = ""
	ArchX8664 Arch = "x86_64"
	ArchARM64 Arch = "arm64"
)

// Defaults for fields a user leaves out.
const (
	DefaultIdleTimeout  = 20 * time.Minute
	DefaultMaxLifetime  = 12 * time.Hour
	DefaultWorkload     = "dask"
	DefaultImage        = "ghcr.io/dask/dask:latest"
	DefaultDeathTimeout = 60 * time.Second
	// MaxCount bounds a pool's machine count: far above any sane cluster, low
	// enough that a typo (-n 1000000) is a usage error, not a quota request.
	MaxCount = 100000
)

// Workloads burst knows how to run.
var Workloads = []string{"dask", "none"}

// Cluster is one cluster's full specification.
type Cluster struct {
	Name string `json:"name"`
	// Providers to plan across, in the user's order; empty means the
	// configured default.
	Providers []string `json:"providers,omitempty"`
	Regions   []string `json:"regions,omitempty"`
	Zones     []string `json:"zones,omitempty"`

	Head    Pool `json:"head"`
	Workers Pool `json:"workers"`

	Workload Workload `json:"workload"`

	// IdleTimeout removes the cluster after this long with no tasks and no
	// clients; 0 disables it.
	IdleTimeout time.Duration `json:"idle_timeout"`
	// MaxLifetime is a hard deadline from launch; 0 disables it.
	MaxLifetime time.Duration `json:"max_lifetime"`
}

// Pool is a group of alike machines: the head (count 1) or the workers.
type Pool struct {
	Count     int        `json:"count"`
	Resources Resources  `json:"resources"`
	Spot      SpotPolicy `json:"spot"`
	// InstanceTypes, when set, is the only set of types the planner may use.
	InstanceTypes []string `json:"instance_types,omitempty"`
	// MaxPrice caps the price of one machine, USD per hour; 0 means no cap.
	MaxPrice float64 `json:"max_price,omitempty"`
	// Disk is the root disk size; 0 means the provider's default.
	Disk Size `json:"disk,omitempty"`
}

// Resources is what one machine of a pool must have.
type Resources struct {
	CPU       IntBound  `json:"cpu"`
	Memory    SizeBound `json:"memory"`
	GPU       GPU       `json:"gpu"`
	GPUMemory SizeBound `json:"gpu_memory"`
	Arch      Arch      `json:"arch,omitempty"`
}

// IntBound is an exact count ("4") or a lower bound ("4+"). The zero value
// matches anything.
type IntBound struct {
	Value  int
	OrMore bool
}

// IsZero reports whether the bound is unset.
func (b IntBound) IsZero() bool { return b.Value == 0 }

// Matches reports whether v satisfies the bound.
func (b IntBound) Matches(v int) bool {
	if b.Value == 0 {
		return true
	}
	if b.OrMore {
		return v >= b.Value
	}
	return v == b.Value
}

func (b IntBound) String() string {
	if b.Value == 0 {
		return "any"
	}
	if b.OrMore {
		return fmt.Sprintf("%d+", b.Value)
	}
	return fmt.Sprint(b.Value)
}

// MarshalJSON writes the bound in the grammar's spelling ("4+").
func (b IntBound) MarshalJSON() ([]byte, error) { return json.Marshal(b.String()) }

// SizeBound is an exact size or a lower bound. Exact memory sizes match
// within 5%, since clouds round memory (a "16 GiB" type may report 15.25).
type SizeBound struct {
	Value  Size
	OrMore bool
}

// IsZero reports whether the bound is unset.
func (b SizeBound) IsZero() bool { return b.Value == 0 }

// MatchesGiB reports whether gib GiB satisfies the bound.
func (b SizeBound) MatchesGiB(gib float64) bool {
	if b.Value == 0 {
		return true
	}
	want := b.Value.GiB()
	if b.OrMore {
		return gib >= want*0.999
	}
	return gib >= want*0.95 && gib <= want*1.05
}

func (b SizeBound) String() string {
	if b.Value == 0 {
		return "any"
	}
	if b.OrMore {
		return b.Value.String() + "+"
	}
	return b.Value.String()
}

// MarshalJSON writes the bound in the grammar's spelling ("32GiB+").
func (b SizeBound) MarshalJSON() ([]byte, error) { return json.Marshal(b.String()) }

// GPU is a GPU request. Count 0 means no GPU is asked for (and the planner
// leaves GPU machines out); Model "" means any model.
type GPU struct {
	Model  string `json:"model,omitempty"` // canonical upper case, e.g. "A100-80GB"
	Count  int    `json:"count,omitempty"`
	OrMore bool   `json:"or_more,omitempty"`
}

// Wanted reports whether any GPU is asked for.
func (g GPU) Wanted() bool { return g.Count > 0 }

// Matches reports whether a machine with count GPUs of model satisfies g.
func (g GPU) Matches(model string, count int) bool {
	if !g.Wanted() {
		return count == 0
	}
	if g.Model != "" && !strings.EqualFold(g.Model, model) {
		return false
	}
	return IntBound{Value: g.Count, OrMore: g.OrMore}.Matches(count)
}

func (g GPU) String() string {
	if !g.Wanted() {
		return "none"
	}
	m := g.Model
	if m == "" {
		m = "any"
	}
	s := fmt.Sprintf("%s:%d", m, g.Count)
	if g.OrMore {
		s += "+"
	}
	return s
}

// Workload is what runs on the machines.
type Workload struct {
	// Name is "dask" or "none".
	Name string `json:"name"`
	// Image is the container image the cloud bootstrap runs the workload in.
	Image string `json:"image,omitempty"`
	// Pip lists extra Python packages installed at boot (EXTRA_PIP_PACKAGES).
	Pip []string `json:"pip,omitempty"`
	// DeathTimeout is how long a Dask worker waits for a lost scheduler
	// before it exits (and its machine removes itself).
	DeathTimeout time.Duration `json:"death_timeout,omitempty"`
}

// Default returns a cluster with every default filled in: one small
// on-demand head, no workers, the dask workload.
func Default(name string) Cluster {
	return Cluster{
		Name: name,
		Head: Pool{
			Count:     1,
			Resources: Resources{CPU: IntBound{Value: 2, OrMore: true}, Memory: SizeBound{Value: 4 * GiB, OrMore: true}},
			Spot:      OnDemand,
		},
		Workers: Pool{
			Resources: Resources{CPU: IntBound{Value: 2, OrMore: true}, Memory: SizeBound{Value: 4 * GiB, OrMore: true}},
			Spot:      OnDemand,
		},
		Workload:    Workload{Name: DefaultWorkload, Image: DefaultImage, DeathTimeout: DefaultDeathTimeout},
		IdleTimeout: DefaultIdleTimeout,
		MaxLifetime: DefaultMaxLifetime,
	}
}

// Validate checks the cluster as a whole. Parsers already reject malformed
// values; Validate catches combinations and ranges.
func (c *Cluster) Validate() error {
	if err := ValidateName(c.Name); err != nil {
		return err
	}
	if c.Head.Count != 1 {
		return Errorf("head count must be 1, got %d", c.Head.Count)
	}
	if c.Workers.Count < 0 || c.Workers.Count > MaxCount {
		return Errorf("worker count %d is out of range 0..%d", c.Workers.Count, MaxCount)
	}
	for _, p := range []struct {
		name string
		pool *Pool
	}{{"head", &c.Head}, {"workers", &c.Workers}} {
		if err := p.pool.validate(p.name); err != nil {
			return err
		}
	}
	if c.Head.Spot != OnDemand && c.Head.Spot != "" {
		return Errorf("the head must be on-demand (a spot head takes the whole cluster with it); got %s", c.Head.Spot)
	}
	if !slices.Contains(Workloads, c.Workload.Name) {
		return Errorf("unknown workload %q (want one of %s)", c.Workload.Name, strings.Join(Workloads, ", "))
	}
	for _, p := range c.Workload.Pip {
		if strings.TrimSpace(p) == "" || strings.ContainsAny(p, " \t\n'\"`$;&|<>\\") {
			return Errorf("invalid pip requirement %q (one package spec per --pip, no spaces or shell characters)", p)
		}
	}
	if strings.ContainsAny(c.Workload.Image, " \t\n'\"`$;&|<>\\") {
		return Errorf("invalid image %q", c.Workload.Image)
	}
	if c.IdleTimeout < 0 || c.MaxLifetime < 0 || c.Workload.DeathTimeout < 0 {
		return Errorf("durations must not be negative")
	}
	for _, r := range c.Regions {
		if err := validateLocation("region", r); err != nil {
			return err
		}
	}
	for _, z := range c.Zones {
		if err := validateLocation("zone", z); err != nil {
			return err
		}
	}
	return nil
}

func (p *Pool) validate(name string) error {
	switch p.Spot {
	case OnDemand, Spot, SpotWithFallback:
	default:
		return Errorf("%s: unknown spot policy %q (want on-demand, spot or spot-with-fallback)", name, p.Spot)
	}
	if p.MaxPrice < 0 {
		return Errorf("%s: max price must not be negative", name)
	}
	if !p.Resources.GPU.Wanted() && !p.Resources.GPUMemory.IsZero() {
		return Errorf("%s: --gpu-memory needs --gpu", name)
	}
	for _, t := range p.InstanceTypes {
		if t == "" || strings.ContainsAny(t, " \t\n/'\"`$;&|<>\\") {
			return Errorf("%s: invalid instance type %q", name, t)
		}
	}
	return nil
}

func validateLocation(kind, s string) error {
	if s == "" || len(s) > 64 {
		return Errorf("invalid %s %q", kind, s)
	}
	for _, r := range s {
		if (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') && (r < '0' || r > '9') && r != '-' && r != '_' {
			return Errorf("invalid %s %q (letters, digits, - and _ only)", kind, s)
		}
	}
	return nil
}

// Hash is a short stable digest of everything that shapes the machines
// (resources, capacity, workload, lifetime), stored in the burst-spec tag so a
// later run can tell whether machines were made from the same spec. Counts
// and the name are left out: scaling does not change the hash.
func (c *Cluster) Hash() string {
	h := *c
	h.Name = ""
	h.Workers.Count = 0
	b, _ := json.Marshal(h)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])[:12]
}

// UnmarshalJSON reads the grammar's spelling ("4+", "any").
func (b *IntBound) UnmarshalJSON(data []byte) error {
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return err
	}
	if s == "any" || s == "" {
		*b = IntBound{}
		return nil
	}
	v, err := ParseCPU(s)
	if err != nil {
		return err
	}
	*b = v
	return nil
}

// UnmarshalJSON reads the grammar's spelling ("32GiB+", "any").
func (b *SizeBound) UnmarshalJSON(data []byte) error {
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return err
	}
	if s == "any" || s == "" {
		*b = SizeBound{}
		return nil
	}
	v, err := ParseSizeBound(s)
	if err != nil {
		return err
	}
	*b = v
	return nil
}
