package plan

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/burstdev/burst/internal/catalog"
	"github.com/burstdev/burst/pkg/spec"
)

// randomCatalog builds a small catalog of three providers with random
// shapes, GPUs, arches, flags and prices; some offerings name zones.
func randomCatalog(r *rand.Rand) *catalog.Catalog {
	c := &catalog.Catalog{Date: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Zones: map[string][]string{}}
	models := []string{"T4", "A100", "L4"}
	for _, p := range []string{"p1", "p2", "p3"} {
		var regions []string
		for i := range 3 {
			reg := fmt.Sprintf("%s-r%d", p, i)
			regions = append(regions, reg)
			c.Zones[reg] = []string{reg + "a", reg + "b"}
		}
		for i := range 12 {
			t := catalog.Type{Provider: p, Name: fmt.Sprintf("%s.t%d", p, i), VCPUs: []int{1, 2, 4, 8, 16}[r.IntN(5)],
				MemoryGiB: []float64{2, 4, 8, 16, 32, 64}[r.IntN(6)], Arch: []string{"x86_64", "arm64"}[r.IntN(2)], Generation: r.IntN(3)}
			if r.IntN(4) == 0 {
				t.GPUs, t.GPUModel, t.GPUMemoryGiB = []int{1, 2, 4}[r.IntN(3)], models[r.IntN(3)], []float64{16, 24, 40}[r.IntN(3)]
			}
			t.Burstable = r.IntN(8) == 0
			t.Exotic = r.IntN(10) == 0
			for _, reg := range regions {
				if r.IntN(4) == 0 {
					continue // not offered here
				}
				zone := ""
				if r.IntN(4) == 0 {
					zone = c.Zones[reg][r.IntN(2)]
				}
				// Prices on a coarse grid, so ties happen.
				od := float64(r.IntN(20)) / 10 // 0 happens: the local provider is free
				t.Offerings = append(t.Offerings, catalog.Offering{Region: reg, Zone: zone, Capacity: catalog.OnDemand, Price: od})
				if r.IntN(3) > 0 {
					t.Offerings = append(t.Offerings, catalog.Offering{Region: reg, Zone: zone, Capacity: catalog.Spot, Price: float64(r.IntN(20)) / 20})
				}
			}
			c.Types = append(c.Types, t)
		}
	}
	return c
}

// randomSpec builds a random cluster over randomCatalog's names, and
// sometimes an unavailable set.
func randomSpec(r *rand.Rand, cat *catalog.Catalog) (*spec.Cluster, Options) {
	c := spec.Default("prop")
	c.Providers = pick(r, []string{"p1", "p2", "p3"})
	if r.IntN(3) == 0 {
		c.Regions = pick(r, []string{"p1-r0", "p1-r1", "p2-r0", "p2-r2", "p3-r1"})
	}
	if r.IntN(5) == 0 {
		c.Zones = pick(r, []string{"p1-r0a", "p1-r1b", "p2-r0a", "p3-r1b", "p3-r2a"})
	}
	pool := func(p *spec.Pool, head bool) {
		res := spec.Resources{}
		if r.IntN(2) == 0 {
			res.CPU = spec.IntBound{Value: []int{1, 2, 4, 8}[r.IntN(4)], OrMore: r.IntN(3) > 0}
		}
		if r.IntN(2) == 0 {
			res.Memory = spec.SizeBound{Value: spec.Size([]int{2, 4, 8, 16}[r.IntN(4)]) * spec.GiB, OrMore: r.IntN(3) > 0}
		}
		if !head && r.IntN(3) == 0 {
			res.GPU = spec.GPU{Model: []string{"", "T4", "A100", "L4"}[r.IntN(4)], Count: 1 + r.IntN(2), OrMore: r.IntN(2) == 0}
			if r.IntN(3) == 0 {
				res.GPUMemory = spec.SizeBound{Value: 24 * spec.GiB, OrMore: true}
			}
		}
		if r.IntN(4) == 0 {
			res.Arch = []spec.Arch{spec.ArchX8664, spec.ArchARM64}[r.IntN(2)]
		}
		p.Resources = res
		if r.IntN(6) == 0 {
			p.MaxPrice = float64(1+r.IntN(10)) / 10
		}
		if r.IntN(8) == 0 {
			var names []string
			for range 3 {
				names = append(names, cat.Types[r.IntN(len(cat.Types))].Name)
			}
			p.InstanceTypes = names
		}
	}
	pool(&c.Head, true)
	pool(&c.Workers, false)
	c.Workers.Count = []int{0, 1, 3, 10, 50}[r.IntN(5)]
	c.Workers.Spot = []spec.SpotPolicy{spec.OnDemand, spec.Spot, spec.SpotWithFallback}[r.IntN(3)]
	opts := Options{Now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Unavailable: &Unavailable{}}
	for range r.IntN(4) {
		t := cat.Types[r.IntN(len(cat.Types))]
		if len(t.Offerings) == 0 {
			continue
		}
		o := t.Offerings[r.IntN(len(t.Offerings))]
		k := Key{Provider: t.Provider, InstanceType: t.Name, Region: o.Region, Zone: o.Zone, Capacity: o.Capacity}
		if r.IntN(4) == 0 {
			k = Key{Provider: t.Provider, Region: o.Region} // a regional block
		}
		until := opts.Now.Add(time.Minute)
		if r.IntN(4) == 0 {
			until = opts.Now.Add(-time.Minute) // expired: ignored
		}
		opts.Unavailable.Mark(k, until, "test")
	}
	return &c, opts
}

func pick(r *rand.Rand, from []string) []string {
	var out []string
	for _, s := range from {
		if r.IntN(2) == 0 {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		out = from[:1]
	}
	return out
}

// refOfferings is the reference the planner is checked against: every
// offering of the catalog that a pool may use, with zones expanded, by a
// plain reading of the rules.
func refOfferings(c *spec.Cluster, p spec.Pool, cat *catalog.Catalog, opts Options) []Offering {
	var out []Offering
	for _, t := range cat.Types {
		if !slices.Contains(c.Providers, t.Provider) {
			continue
		}
		named := slices.ContainsFunc(p.InstanceTypes, func(n string) bool { return strings.EqualFold(n, t.Name) })
		if len(p.InstanceTypes) > 0 && !named || len(p.InstanceTypes) == 0 && (t.Burstable || t.Exotic) {
			continue
		}
		r := p.Resources
		if !r.CPU.Matches(t.VCPUs) || !r.Memory.MatchesGiB(t.MemoryGiB) || !r.GPU.Matches(t.GPUModel, t.GPUs) ||
			!r.GPUMemory.IsZero() && !r.GPUMemory.MatchesGiB(t.GPUMemoryGiB) || r.Arch != "" && string(r.Arch) != t.Arch {
			continue
		}
		for _, o := range t.Offerings {
			if len(c.Regions) > 0 && !slices.Contains(c.Regions, o.Region) || p.MaxPrice > 0 && o.Price > p.MaxPrice {
				continue
			}
			zones := []string{o.Zone}
			if len(c.Zones) > 0 {
				zones = nil
				for _, z := range c.Zones {
					if o.Zone == z || o.Zone == "" && slices.Contains(cat.Zones[o.Region], z) {
						zones = append(zones, z)
					}
				}
			}
			for _, z := range zones {
				off := Offering{Provider: t.Provider, Region: o.Region, Zone: z, InstanceType: t.Name, VCPUs: t.VCPUs, MemoryGiB: t.MemoryGiB,
					GPUs: t.GPUs, GPUModel: t.GPUModel, Arch: t.Arch, Capacity: o.Capacity, Price: o.Price}
				if !opts.Unavailable.Blocked(off.Key(), opts.Now) {
					out = append(out, off)
				}
			}
		}
	}
	return out
}

// refSiteCost is a pool's price per machine in a site under its policy, by
// the reference rules; ok is false when the site cannot serve the pool.
func refSiteCost(p spec.Pool, offs []Offering, s Site) (float64, bool) {
	od, sp := math.Inf(1), math.Inf(1)
	for _, o := range offs {
		if o.Provider != s.Provider || o.Region != s.Region {
			continue
		}
		if o.Capacity == catalog.OnDemand {
			od = min(od, o.Price)
		} else {
			sp = min(sp, o.Price)
		}
	}
	if sp > od {
		sp = math.Inf(1) // spot above on-demand is never used
	}
	switch p.Spot {
	case spec.Spot:
		return sp, !math.IsInf(sp, 1)
	case spec.SpotWithFallback:
		if !math.IsInf(sp, 1) {
			return sp, true
		}
	}
	return od, !math.IsInf(od, 1)
}

func TestPropertyPlans(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	plans, infeasible := 0, 0
	for i := range 3000 {
		cat := randomCatalog(r)
		c, opts := randomSpec(r, cat)
		p, err := Make(c, cat, opts)
		name := fmt.Sprintf("case %d", i)

		heads := refOfferings(c, c.Head, cat, opts)
		var workers []Offering
		if c.Workers.Count > 0 {
			workers = refOfferings(c, c.Workers, cat, opts)
		}
		// The reference optimum over every site.
		best := math.Inf(1)
		for _, h := range heads {
			s := Site{h.Provider, h.Region}
			hc, ok := refSiteCost(c.Head, heads, s)
			if !ok {
				continue
			}
			total := hc
			if c.Workers.Count > 0 {
				wc, ok := refSiteCost(c.Workers, workers, s)
				if !ok {
					continue
				}
				total += float64(c.Workers.Count) * wc
			}
			best = min(best, total)
		}

		if err != nil {
			var ie *InfeasibleError
			if !errors.As(err, &ie) {
				t.Fatalf("%s: error %v is not an InfeasibleError", name, err)
			}
			if !math.IsInf(best, 1) {
				t.Fatalf("%s: infeasible (%v) but the reference finds a plan at $%v/h\nspec %+v", name, err, best, c)
			}
			if ie.Reason == "" {
				t.Fatalf("%s: infeasible without a reason", name)
			}
			infeasible++
			continue
		}
		plans++
		if math.Abs(p.PricePerHour-round6(best)) > 1e-6 {
			t.Fatalf("%s: plan costs $%v/h, the cheapest site costs $%v/h\nspec %+v\nplan %+v", name, p.PricePerHour, best, c, p)
		}
		for _, g := range p.Groups {
			pool, ref := c.Head, heads
			if g.Role == spec.RoleWorker {
				pool, ref = c.Workers, workers
			}
			if len(g.Offerings) == 0 || len(g.Offerings) > MaxOfferings {
				t.Fatalf("%s: group %s/%s has %d offerings", name, g.Role, g.Capacity, len(g.Offerings))
			}
			minOD := math.Inf(1)
			for _, o := range ref {
				if o.Provider == p.Site.Provider && o.Region == p.Site.Region && o.Capacity == catalog.OnDemand {
					minOD = min(minOD, o.Price)
				}
			}
			for j, o := range g.Offerings {
				// Every offering satisfies the spec: it is one of the
				// reference's, in the plan's site, with the group's capacity.
				if !slices.Contains(ref, o) || o.Provider != p.Site.Provider || o.Region != p.Site.Region || o.Capacity != g.Capacity {
					t.Fatalf("%s: offering %+v of %s/%s does not satisfy the spec or site %v", name, o, g.Role, g.Capacity, p.Site)
				}
				if j > 0 && o.Price < g.Offerings[j-1].Price {
					t.Fatalf("%s: offerings not cheapest first: %v after %v", name, o.Price, g.Offerings[j-1].Price)
				}
				if g.Capacity == catalog.Spot && o.Price > minOD {
					t.Fatalf("%s: spot offering %+v above the cheapest on-demand %v", name, o, minOD)
				}
			}
			// No cheaper satisfying offering of that capacity in the site.
			for _, o := range ref {
				if o.Provider == p.Site.Provider && o.Region == p.Site.Region && o.Capacity == g.Capacity && o.Price < g.Offerings[0].Price {
					t.Fatalf("%s: %+v is cheaper than the choice %+v", name, o, g.Offerings[0])
				}
			}
			if pool.Spot == spec.OnDemand && g.Capacity != catalog.OnDemand {
				t.Fatalf("%s: on-demand pool got %s", name, g.Capacity)
			}
		}
		// Without workers the head is the cheapest satisfying offering in
		// the whole catalog.
		if c.Workers.Count == 0 {
			for _, o := range heads {
				if o.Capacity == catalog.OnDemand && o.Price < p.Groups[0].Offerings[0].Price {
					t.Fatalf("%s: head %+v is cheaper than the choice %+v", name, o, p.Groups[0].Offerings[0])
				}
			}
		}
		// Deterministic, whatever the catalog's order.
		shuffled := *cat
		shuffled.Types = slices.Clone(cat.Types)
		r.Shuffle(len(shuffled.Types), func(i, j int) { shuffled.Types[i], shuffled.Types[j] = shuffled.Types[j], shuffled.Types[i] })
		again, err := Make(c, &shuffled, opts)
		if err != nil || !reflect.DeepEqual(again, p) {
			t.Fatalf("%s: plan depends on the catalog's order: %v\n%+v\n%+v", name, err, p, again)
		}
	}
	if plans < 500 || infeasible < 100 {
		t.Errorf("generator is lopsided: %d plans, %d infeasible", plans, infeasible)
	}
	t.Logf("%d plans, %d infeasible", plans, infeasible)
}
