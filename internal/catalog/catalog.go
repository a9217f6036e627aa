package catalog

import (
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Capacity is a capacity type.
type Capacity string

// Capacity types.
const (
	OnDemand Capacity = "on-demand"
	Spot     Capacity = "spot"
)

// Type is one machine type of one provider.
type Type struct {
	Provider     string  `json:"provider"`
	Name         string  `json:"name"`
	Family       string  `json:"family,omitempty"`
	VCPUs        int     `json:"vcpus"`
	MemoryGiB    float64 `json:"memory_gib"`
	GPUs         int     `json:"gpus,omitempty"`
	GPUModel     string  `json:"gpu_model,omitempty"`
	GPUMemoryGiB float64 `json:"gpu_memory_gib,omitempty"` // per GPU
	Arch         string  `json:"arch"`                     // "x86_64" or "arm64"
	// Burstable marks shared-core or credit-based types (t3, e2-micro, B-series).
	Burstable bool `json:"burstable,omitempty"`
	// Exotic marks bare metal and special-purpose accelerators (FPGA,
	// Inferentia, Trainium): left out unless asked for by name.
	Exotic bool `json:"exotic,omitempty"`
	// Generation orders families of one provider (higher is newer); it breaks
	// price ties.
	Generation int        `json:"generation,omitempty"`
	Offerings  []Offering `json:"offerings"`
}

// Offering is a type available in a place at a capacity type and price.
type Offering struct {
	Region string `json:"region"`
	// Zone is empty when the offering stands for any zone of the region (the
	// provider picks one at launch).
	Zone     string   `json:"zone,omitempty"`
	Capacity Capacity `json:"capacity"`
	// Price in USD per hour for one machine.
	Price float64 `json:"price"`
}

// Catalog is a set of machine types, typically of one provider.
type Catalog struct {
	// Date is when the data was taken (snapshot build or live refresh).
	Date time.Time `json:"date"`
	// Source says where the data came from ("embedded", "live", "host").
	Source string `json:"source,omitempty"`
	Types  []Type `json:"types"`
	// Zones lists the zones of each region, for diversifying launches.
	Zones map[string][]string `json:"zones,omitempty"`
}

// Merge returns one catalog holding the types of all of cs; its date is the
// oldest of theirs.
func Merge(cs ...*Catalog) *Catalog {
	out := &Catalog{Zones: map[string][]string{}}
	var sources []string
	defer func() { out.Source = strings.Join(sources, "; ") }()
	for _, c := range cs {
		if c == nil {
			continue
		}
		if out.Date.IsZero() || (!c.Date.IsZero() && c.Date.Before(out.Date)) {
			out.Date = c.Date
		}
		if c.Source != "" && !slices.Contains(sources, c.Source) {
			sources = append(sources, c.Source)
		}
		out.Types = append(out.Types, c.Types...)
		for r, zs := range c.Zones {
			out.Zones[r] = zs
		}
	}
	return out
}

// Find returns the type of a provider by name, or nil.
func (c *Catalog) Find(provider, name string) *Type {
	for i := range c.Types {
		t := &c.Types[i]
		if t.Provider == provider && strings.EqualFold(t.Name, name) {
			return t
		}
	}
	return nil
}

// Cheapest returns the cheapest offering of t with the given capacity, and
// false if there is none.
func (t *Type) Cheapest(capacity Capacity) (Offering, bool) {
	var best Offering
	found := false
	for _, o := range t.Offerings {
		if o.Capacity == capacity && (!found || o.Price < best.Price) {
			best, found = o, true
		}
	}
	return best, found
}

// GPUModels lists the distinct GPU models in the catalog, sorted.
func (c *Catalog) GPUModels() []string {
	seen := map[string]bool{}
	for _, t := range c.Types {
		if t.GPUModel != "" {
			seen[t.GPUModel] = true
		}
	}
	out := make([]string, 0, len(seen))
	for m := range seen {
		out = append(out, m)
	}
	sort.Strings(out)
	return out
}

// Price returns the price of a type in a region at a capacity type (the
// cheapest zone's), and false if the catalog does not have it.
func (c *Catalog) Price(provider, name, region, capacity string) (float64, bool) {
	t := c.Find(provider, name)
	if t == nil {
		return 0, false
	}
	best, found := 0.0, false
	for _, o := range t.Offerings {
		if o.Region == region && string(o.Capacity) == capacity && (!found || o.Price < best) {
			best, found = o.Price, true
		}
	}
	return best, found
}

// Providers lists the providers of the catalog's types, sorted.
func (c *Catalog) Providers() []string {
	var out []string
	for _, t := range c.Types {
		if !slices.Contains(out, t.Provider) {
			out = append(out, t.Provider)
		}
	}
	sort.Strings(out)
	return out
}

// Offerings returns the number of offerings in the catalog.
func (c *Catalog) Offerings() int {
	n := 0
	for _, t := range c.Types {
		n += len(t.Offerings)
	}
	return n
}

// Age is how old the catalog's data is at now, never negative.
func (c *Catalog) Age(now time.Time) time.Duration {
	if c.Date.IsZero() || now.Before(c.Date) {
		return 0
	}
	return now.Sub(c.Date)
}

// SplitAttached splits the catalog name of a GCE machine with attached GPUs,
// "n1-standard-8+nvidia-tesla-t4x2", into the machine type, the accelerator
// type and the count. ok is false for any other name.
func SplitAttached(name string) (machine, accelerator string, count int, ok bool) {
	machine, rest, found := strings.Cut(name, "+")
	if !found {
		return name, "", 0, false
	}
	i := strings.LastIndexByte(rest, 'x')
	if i <= 0 {
		return name, "", 0, false
	}
	n, err := strconv.Atoi(rest[i+1:])
	if err != nil || n <= 0 {
		return name, "", 0, false
	}
	return machine, rest[:i], n, true
}
