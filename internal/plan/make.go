package plan

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/burstdev/burst/internal/catalog"
	"github.com/burstdev/burst/pkg/spec"
)

// MaxOfferings caps the offerings kept per group: enough to diversify and
// fail over, few enough for one EC2 CreateFleet call (its overrides top out
// near 60 type x subnet pairs).
const MaxOfferings = 60

// Options are the planner's inputs besides the spec and catalog.
type Options struct {
	// Unavailable offerings are left out.
	Unavailable *Unavailable
	// Now is the time the unavailable entries are checked against.
	Now time.Time
}

// Make plans c over cat. It fails with *InfeasibleError when a pool has no
// satisfying offering.
func Make(c *spec.Cluster, cat *catalog.Catalog, opts Options) (*Plan, error) {
	p := &Plan{Cluster: c.Name, CatalogDate: cat.Date}
	pools := []struct {
		role spec.Role
		pool spec.Pool
	}{{spec.RoleHead, c.Head}, {spec.RoleWorker, c.Workers}}
	for _, pp := range pools {
		if pp.role == spec.RoleWorker && pp.pool.Count == 0 {
			continue
		}
		groups, err := planPool(c, pp.role, pp.pool, cat, opts)
		if err != nil {
			return nil, err
		}
		p.Groups = append(p.Groups, groups...)
	}
	for _, g := range p.Groups {
		if !g.Fallback && len(g.Offerings) > 0 {
			p.PricePerHour += float64(g.Count) * g.Offerings[0].Price
		}
	}
	return p, nil
}

func planPool(c *spec.Cluster, role spec.Role, pool spec.Pool, cat *catalog.Catalog, opts Options) ([]Group, error) {
	types := fitting(c, pool, cat)
	if len(types) == 0 {
		return nil, &InfeasibleError{Role: role, Reason: describe(pool), Alternatives: nearest(c, pool, cat)}
	}
	var legs []catalog.Capacity
	switch pool.Spot {
	case spec.Spot:
		legs = []catalog.Capacity{catalog.Spot}
	case spec.SpotWithFallback:
		legs = []catalog.Capacity{catalog.Spot, catalog.OnDemand}
	default:
		legs = []catalog.Capacity{catalog.OnDemand}
	}
	cheapestOD := cheapestPrice(types, c, pool, catalog.OnDemand, opts)
	var groups []Group
	for i, capacity := range legs {
		offs := offerings(types, c, pool, capacity, opts)
		if capacity == catalog.Spot && cheapestOD > 0 {
			// Spot priced above the cheapest fitting on-demand offering is
			// never worth it.
			offs = slices.DeleteFunc(offs, func(o Offering) bool { return o.Price > cheapestOD })
		}
		if len(offs) == 0 {
			if pool.Spot == spec.SpotWithFallback {
				continue // the other leg may still have offerings
			}
			return nil, &InfeasibleError{Role: role, Reason: fmt.Sprintf("%s, %s: no %s offering available in the allowed places", describe(pool), where(c), capacity),
				Alternatives: capacityAlternatives(types, capacity)}
		}
		groups = append(groups, Group{Role: role, Count: pool.Count, Capacity: capacity, Fallback: i > 0 && len(groups) > 0, Offerings: offs})
	}
	if len(groups) == 0 {
		return nil, &InfeasibleError{Role: role, Reason: fmt.Sprintf("%s, %s: no offering available", describe(pool), where(c))}
	}
	return groups, nil
}

// fitting returns the types that satisfy the pool's resources and lists.
func fitting(c *spec.Cluster, pool spec.Pool, cat *catalog.Catalog) []*catalog.Type {
	var out []*catalog.Type
	for i := range cat.Types {
		t := &cat.Types[i]
		if len(c.Providers) > 0 && !slices.Contains(c.Providers, t.Provider) {
			continue
		}
		named := len(pool.InstanceTypes) > 0
		if named && !slices.ContainsFunc(pool.InstanceTypes, func(n string) bool { return strings.EqualFold(n, t.Name) }) {
			continue
		}
		if !named && (t.Burstable || t.Exotic) {
			continue
		}
		if !fits(pool.Resources, t) {
			continue
		}
		out = append(out, t)
	}
	return out
}

func fits(r spec.Resources, t *catalog.Type) bool {
	if !r.CPU.Matches(t.VCPUs) || !r.Memory.MatchesGiB(t.MemoryGiB) {
		return false
	}
	if !r.GPU.Matches(t.GPUModel, t.GPUs) {
		return false
	}
	if !r.GPUMemory.IsZero() && !r.GPUMemory.MatchesGiB(t.GPUMemoryGiB) {
		return false
	}
	return r.Arch == spec.ArchAny || string(r.Arch) == t.Arch
}

func allowedPlace(c *spec.Cluster, o catalog.Offering) bool {
	if len(c.Regions) > 0 && !slices.Contains(c.Regions, o.Region) {
		return false
	}
	if len(c.Zones) > 0 && o.Zone != "" && !slices.Contains(c.Zones, o.Zone) {
		return false
	}
	return true
}

func offerings(types []*catalog.Type, c *spec.Cluster, pool spec.Pool, capacity catalog.Capacity, opts Options) []Offering {
	var out []Offering
	for _, t := range types {
		for _, o := range t.Offerings {
			if o.Capacity != capacity || !allowedPlace(c, o) {
				continue
			}
			if pool.MaxPrice > 0 && o.Price > pool.MaxPrice {
				continue
			}
			off := Offering{Provider: t.Provider, Region: o.Region, Zone: o.Zone, InstanceType: t.Name, VCPUs: t.VCPUs,
				MemoryGiB: t.MemoryGiB, GPUs: t.GPUs, GPUModel: t.GPUModel, Arch: t.Arch, Capacity: o.Capacity, Price: o.Price}
			if opts.Unavailable.Blocked(off.Key(), opts.Now) {
				continue
			}
			out = append(out, off)
		}
	}
	gen := map[string]int{}
	for _, t := range types {
		gen[t.Provider+"/"+t.Name] = t.Generation
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Price != b.Price {
			return a.Price < b.Price
		}
		if ga, gb := gen[a.Provider+"/"+a.InstanceType], gen[b.Provider+"/"+b.InstanceType]; ga != gb {
			return ga > gb
		}
		if a.InstanceType != b.InstanceType {
			return a.InstanceType < b.InstanceType
		}
		if a.Region != b.Region {
			return a.Region < b.Region
		}
		return a.Zone < b.Zone
	})
	if len(out) > MaxOfferings {
		out = out[:MaxOfferings]
	}
	return out
}

func cheapestPrice(types []*catalog.Type, c *spec.Cluster, pool spec.Pool, capacity catalog.Capacity, opts Options) float64 {
	offs := offerings(types, c, pool, capacity, opts)
	if len(offs) == 0 {
		return 0
	}
	return offs[0].Price
}

func describe(pool spec.Pool) string {
	r := pool.Resources
	parts := []string{"cpu " + r.CPU.String(), "memory " + r.Memory.String()}
	if r.GPU.Wanted() {
		parts = append(parts, "gpu "+r.GPU.String())
	}
	if r.Arch != "" {
		parts = append(parts, "arch "+string(r.Arch))
	}
	if len(pool.InstanceTypes) > 0 {
		parts = append(parts, "types "+strings.Join(pool.InstanceTypes, ","))
	}
	if pool.MaxPrice > 0 {
		parts = append(parts, fmt.Sprintf("max $%.2f/h", pool.MaxPrice))
	}
	return strings.Join(parts, ", ")
}

func where(c *spec.Cluster) string {
	parts := []string{}
	if len(c.Providers) > 0 {
		parts = append(parts, "providers "+strings.Join(c.Providers, ","))
	}
	if len(c.Regions) > 0 {
		parts = append(parts, "regions "+strings.Join(c.Regions, ","))
	}
	if len(c.Zones) > 0 {
		parts = append(parts, "zones "+strings.Join(c.Zones, ","))
	}
	if len(parts) == 0 {
		return "anywhere"
	}
	return strings.Join(parts, ", ")
}

// nearest names types of the allowed providers that come closest to the
// pool: the largest by vCPUs and memory, and for GPU asks the counts that
// exist for that model.
func nearest(c *spec.Cluster, pool spec.Pool, cat *catalog.Catalog) []string {
	var cands []*catalog.Type
	for i := range cat.Types {
		t := &cat.Types[i]
		if len(c.Providers) > 0 && !slices.Contains(c.Providers, t.Provider) {
			continue
		}
		cands = append(cands, t)
	}
	if len(cands) == 0 {
		return []string{"no types for providers " + strings.Join(c.Providers, ",")}
	}
	g := pool.Resources.GPU
	if g.Wanted() && g.Model != "" {
		counts := map[int]bool{}
		for _, t := range cands {
			if strings.EqualFold(t.GPUModel, g.Model) {
				counts[t.GPUs] = true
			}
		}
		if len(counts) == 0 {
			return []string{"known GPU models: " + strings.Join(cat.GPUModels(), ", ")}
		}
		var ns []string
		for n := range counts {
			ns = append(ns, fmt.Sprint(n))
		}
		sort.Slice(ns, func(i, j int) bool { return len(ns[i]) < len(ns[j]) || len(ns[i]) == len(ns[j]) && ns[i] < ns[j] })
		return []string{fmt.Sprintf("%s machines come with %s GPUs", g.Model, strings.Join(ns, ", "))}
	}
	sort.Slice(cands, func(i, j int) bool {
		if cands[i].VCPUs != cands[j].VCPUs {
			return cands[i].VCPUs > cands[j].VCPUs
		}
		return cands[i].MemoryGiB > cands[j].MemoryGiB
	})
	var out []string
	for _, t := range cands[:min(3, len(cands))] {
		out = append(out, fmt.Sprintf("%s/%s (%d vCPU, %.4g GiB)", t.Provider, t.Name, t.VCPUs, t.MemoryGiB))
	}
	return out
}

func capacityAlternatives(types []*catalog.Type, capacity catalog.Capacity) []string {
	other := catalog.OnDemand
	if capacity == catalog.OnDemand {
		other = catalog.Spot
	}
	for _, t := range types {
		if _, ok := t.Cheapest(other); ok {
			return []string{fmt.Sprintf("%s capacity exists (try --spot-policy %s)", other, map[catalog.Capacity]string{catalog.OnDemand: "on-demand", catalog.Spot: "spot-with-fallback"}[other])}
		}
	}
	return nil
}
