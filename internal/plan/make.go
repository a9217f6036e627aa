package plan

import (
	"cmp"
	"fmt"
	"math"
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

// Diversification of large spot requests: a spot group of at least
// LargeSpot machines keeps at most MaxOfferings/MinSpotTypes offerings of
// one type, so at least MinSpotTypes types (where the spec allows that
// many) share the launch and one capacity pool running dry does not stall
// it.
const (
	LargeSpot    = 10
	MinSpotTypes = 5
)

// Options are the planner's inputs besides the spec and catalog.
type Options struct {
	// Unavailable offerings are left out.
	Unavailable *Unavailable
	// Now is the time the unavailable entries are checked against.
	Now time.Time
	// Site, when set, pins the plan to one provider and region: re-planning
	// the workers of a cluster whose head already runs there.
	Site Site
}

// Site is where a cluster runs: one provider and one region. Head and
// workers share a site, since workers reach the scheduler on the head's
// private address.
type Site struct {
	Provider string `json:"provider"`
	Region   string `json:"region"`
}

// IsZero reports whether the site is unset.
func (s Site) IsZero() bool { return s.Provider == "" && s.Region == "" }

func (s Site) String() string { return s.Provider + "/" + s.Region }

// Make plans c over cat: it picks the site (provider and region) where the
// head and the workers together cost least per hour, then lists, for each
// group, the offerings of that site to try, cheapest first. It fails with
// *InfeasibleError when no site can run the cluster. Make is pure: the same
// inputs give the same plan.
//
// The catalog is read, never modified.
func Make(c *spec.Cluster, cat *catalog.Catalog, opts Options) (*Plan, error) {
	p := &Plan{Cluster: c.Name, CatalogDate: cat.Date}
	ix := indexOf(cat)
	head := newPool(c, spec.RoleHead, c.Head, cat, ix, opts)
	pools := []*pool{head}
	var workers *pool
	if c.Workers.Count > 0 {
		workers = newPool(c, spec.RoleWorker, c.Workers, cat, ix, opts)
		pools = append(pools, workers)
	}
	for _, pl := range pools {
		if len(pl.types) == 0 {
			return nil, pl.infeasibleTypes()
		}
		if pl.scan() == 0 {
			return nil, pl.infeasiblePlaces()
		}
	}

	// Price every site both pools can use.
	type scored struct {
		site  Site
		price float64
	}
	var sites []scored
	for id, hs := range head.sites {
		if hs == nil {
			continue
		}
		total, _ := hs.primary(head)
		if workers != nil {
			ws := workers.sites[id]
			if ws == nil {
				continue
			}
			wp, _ := ws.primary(workers)
			total += float64(workers.spec.Count) * wp
		}
		sites = append(sites, scored{ix.sites[id], total})
	}
	if len(sites) == 0 {
		return nil, &InfeasibleError{Role: spec.RoleWorker, Reason: fmt.Sprintf("the head (%s) and the workers (%s) fit in no common region: the head in %s, the workers in %s",
			describe(c.Head), describe(c.Workers), siteList(ix, head.sites), siteList(ix, workers.sites))}
	}
	order := providerOrder(c, cat)
	sort.Slice(sites, func(i, j int) bool {
		a, b := sites[i], sites[j]
		if a.price != b.price {
			return a.price < b.price
		}
		if oa, ob := order[a.site.Provider], order[b.site.Provider]; oa != ob {
			return oa < ob
		}
		return a.site.Region < b.site.Region
	})
	best := sites[0].site
	p.Site = best
	for _, s := range sites[1:min(len(sites), 1+MaxAlternatives)] {
		p.Alternatives = append(p.Alternatives, Alternative{Provider: s.site.Provider, Region: s.site.Region, PricePerHour: round6(s.price)})
	}

	for _, pl := range pools {
		p.Groups = append(p.Groups, pl.groups(ix.siteID[best])...)
	}
	for _, g := range p.Groups {
		if !g.Fallback && len(g.Offerings) > 0 {
			p.PricePerHour += float64(g.Count) * g.Offerings[0].Price
		}
	}
	p.PricePerHour = round6(p.PricePerHour)
	return p, nil
}

// MaxAlternatives is how many runner-up sites a plan lists.
const MaxAlternatives = 5

func round6(v float64) float64 { return math.Round(v*1e6) / 1e6 }

// pool is one role's planning state.
type pool struct {
	c    *spec.Cluster
	role spec.Role
	spec spec.Pool
	cat  *catalog.Catalog
	opts Options
	ix   *index
	// types are the indexes of the fitting types in cat.Types.
	types []int
	// sites holds, per site ID of the index, the cheapest usable offering
	// prices; nil where the pool has none.
	sites []*siteStats
	// zbuf is zonesOf's scratch space.
	zbuf []string
	// dropped counts offerings left out, by reason, for infeasibility
	// messages.
	dropped struct {
		place, price, unavailable, capacity int
		cheapestOverPrice                   float64
		cheapestOverPriceAt                 string
	}
}

type siteStats struct {
	minOD, minSpot float64
	od, spot       bool // whether there is any (prices may be 0: local)
}

// primary is the price per machine of the site's first choice for the
// pool's policy, and false if the site cannot serve the policy.
func (s *siteStats) primary(p *pool) (float64, bool) {
	switch p.spec.Spot {
	case spec.Spot:
		return s.minSpot, s.saneSpot()
	case spec.SpotWithFallback:
		if s.saneSpot() {
			return s.minSpot, true
		}
	}
	return s.minOD, s.od
}

// saneSpot reports whether the site has spot offerings worth using: spot
// priced above the cheapest on-demand offering of the site never is.
func (s *siteStats) saneSpot() bool {
	return s.spot && (!s.od || s.minSpot <= s.minOD)
}

func newPool(c *spec.Cluster, role spec.Role, sp spec.Pool, cat *catalog.Catalog, ix *index, opts Options) *pool {
	p := &pool{c: c, role: role, spec: sp, cat: cat, ix: ix, opts: opts}
	p.types = fitting(c, sp, cat, opts)
	return p
}

// capacities lists the capacity types the pool's policy may use.
func (p *pool) capacities() (spot, onDemand bool) {
	switch p.spec.Spot {
	case spec.Spot:
		return true, false
	case spec.SpotWithFallback:
		return true, true
	}
	return false, true
}

// scan walks the offerings of the fitting types once and keeps, per site,
// the cheapest usable on-demand and spot prices. It returns the number of
// sites the pool can use.
func (p *pool) scan() int {
	p.sites = make([]*siteStats, len(p.ix.sites))
	stats := make([]siteStats, len(p.ix.sites))
	wantSpot, wantOD := p.capacities()
	// Sites outside the allowed regions (or the pinned site) are ruled out
	// once, by ID.
	siteOK := make([]bool, len(p.ix.sites))
	for id, s := range p.ix.sites {
		siteOK[id] = (p.opts.Site.IsZero() || s == p.opts.Site) && (len(p.c.Regions) == 0 || slices.Contains(p.c.Regions, s.Region))
	}
	// Zones and unavailable entries need the full check per offering; the
	// common case needs only the price cap.
	simple := len(p.c.Zones) == 0 && (p.opts.Unavailable == nil || len(p.opts.Unavailable.Entries) == 0)
	maxPrice := p.spec.MaxPrice
	for _, ti := range p.types {
		t := &p.cat.Types[ti]
		offs := p.ix.od[ti] // on-demand offerings are always scanned: they cap spot
		if wantSpot {
			offs = p.ix.both[ti]
		}
		for _, o := range offs {
			if !siteOK[o.site] {
				p.dropped.place++
				continue
			}
			if simple && !o.zoned {
				if maxPrice > 0 && o.price > maxPrice {
					p.usable(t, &t.Offerings[o.i]) // records why
					continue
				}
			} else if !p.usable(t, &t.Offerings[o.i]) {
				continue
			}
			st := &stats[o.site]
			if o.spot {
				if !st.spot || o.price < st.minSpot {
					st.minSpot, st.spot = o.price, true
				}
			} else if !st.od || o.price < st.minOD {
				st.minOD, st.od = o.price, true
			}
		}
	}
	// A site must offer what the policy needs.
	n := 0
	for id := range stats {
		st := &stats[id]
		if _, ok := st.primary(p); !ok {
			if st.od && !wantOD {
				p.dropped.capacity++
			}
			continue
		}
		p.sites[id] = st
		n++
	}
	return n
}

// usable reports whether an offering passes the place, site, price and
// availability filters. Zone-less offerings count as usable when some zone
// of the region is allowed.
func (p *pool) usable(t *catalog.Type, o *catalog.Offering) bool {
	if !p.opts.Site.IsZero() && (t.Provider != p.opts.Site.Provider || o.Region != p.opts.Site.Region) {
		return false
	}
	if len(p.c.Regions) > 0 && !slices.Contains(p.c.Regions, o.Region) {
		p.dropped.place++
		return false
	}
	if len(p.c.Zones) > 0 && len(p.zonesOf(t.Provider, o)) == 0 {
		p.dropped.place++
		return false
	}
	if p.spec.MaxPrice > 0 && o.Price > p.spec.MaxPrice {
		p.dropped.price++
		if p.dropped.cheapestOverPrice == 0 || o.Price < p.dropped.cheapestOverPrice {
			p.dropped.cheapestOverPrice = o.Price
			p.dropped.cheapestOverPriceAt = fmt.Sprintf("%s/%s/%s %s", t.Provider, o.Region, t.Name, o.Capacity)
		}
		return false
	}
	if p.opts.Unavailable != nil && len(p.opts.Unavailable.Entries) > 0 {
		for _, z := range p.zonesOf(t.Provider, o) {
			k := Key{Provider: t.Provider, InstanceType: t.Name, Region: o.Region, Zone: z, Capacity: o.Capacity}
			if !p.opts.Unavailable.Blocked(k, p.opts.Now) {
				return true
			}
		}
		p.dropped.unavailable++
		return false
	}
	return true
}

// zonesOf returns the zones an offering may be launched in under the
// spec's zone list: the offering's own zone, or, for a zone-less offering,
// [""] (any zone) without a zone list and the listed zones of its region
// with one.
//
// The result is scratch space, valid until the next call.
func (p *pool) zonesOf(provider string, o *catalog.Offering) []string {
	out := p.zbuf[:0]
	defer func() { p.zbuf = out[:0] }()
	if len(p.c.Zones) == 0 {
		out = append(out, o.Zone)
		return out
	}
	if o.Zone != "" {
		if slices.Contains(p.c.Zones, o.Zone) {
			out = append(out, o.Zone)
		}
		return out
	}
	known, ok := p.cat.Zones[o.Region]
	for _, z := range p.c.Zones {
		if ok && slices.Contains(known, z) || !ok && strings.HasPrefix(z, o.Region) {
			out = append(out, z)
		}
	}
	return out
}

// groups builds the pool's groups in site id.
func (p *pool) groups(id int32) []Group {
	st, s := p.sites[id], p.ix.sites[id]
	wantSpot, wantOD := p.capacities()
	var out []Group
	if wantSpot && st.saneSpot() {
		ceiling := math.Inf(1)
		if st.od {
			ceiling = st.minOD
		}
		offs := p.offerings(id, catalog.Spot, ceiling, p.spec.Count >= LargeSpot)
		out = append(out, p.group(s, catalog.Spot, offs, false))
	}
	if wantOD && st.od && (len(out) == 0 || p.spec.Spot == spec.SpotWithFallback) {
		out = append(out, p.group(s, catalog.OnDemand, p.offerings(id, catalog.OnDemand, math.Inf(1), false), len(out) > 0))
	}
	return out
}

func (p *pool) group(s Site, capacity catalog.Capacity, offs []Offering, fallback bool) Group {
	g := Group{Role: p.role, Count: p.spec.Count, Capacity: capacity, Fallback: fallback, Offerings: offs}
	g.Calls = calls(s, g, p.cat.Zones[s.Region])
	return g
}

// offerings lists the pool's usable offerings of capacity in site id,
// cheapest first (newer generation, then name, zone on ties), expanded to
// the spec's zones; offerings above ceiling are left out.
// With diversify it applies the per-type cap of large spot requests. It
// returns at most MaxOfferings.
func (p *pool) offerings(id int32, capacity catalog.Capacity, ceiling float64, diversify bool) []Offering {
	// Rank light records; build full offerings for the kept ones only.
	type cand struct {
		t     *catalog.Type
		o     *catalog.Offering
		zone  string
		price float64
	}
	var cands []cand
	recs := p.ix.od
	if capacity == catalog.Spot {
		recs = p.ix.spot
	}
	for _, ti := range p.types {
		t := &p.cat.Types[ti]
		for _, io := range recs[ti] {
			if io.site != id || io.price > ceiling {
				continue
			}
			o := &t.Offerings[io.i]
			if !p.usable(t, o) {
				continue
			}
			for _, z := range p.zonesOf(t.Provider, o) {
				if p.opts.Unavailable.Blocked(Key{Provider: t.Provider, InstanceType: t.Name, Region: o.Region, Zone: z, Capacity: o.Capacity}, p.opts.Now) {
					continue
				}
				cands = append(cands, cand{t, o, z, io.price})
			}
		}
	}
	slices.SortFunc(cands, func(a, b cand) int {
		switch {
		case a.price != b.price:
			return cmp.Compare(a.price, b.price)
		case a.t.Generation != b.t.Generation:
			return cmp.Compare(b.t.Generation, a.t.Generation)
		case a.t.Name != b.t.Name:
			return strings.Compare(a.t.Name, b.t.Name)
		}
		return strings.Compare(a.zone, b.zone)
	})
	keep := make([]bool, len(cands))
	n := 0
	if diversify && len(cands) > MaxOfferings {
		// At most MaxOfferings/MinSpotTypes of a type first, then fill
		// what is left in price order.
		perType := MaxOfferings / MinSpotTypes
		count := map[*catalog.Type]int{}
		for i, c := range cands {
			if n == MaxOfferings {
				break
			}
			if count[c.t] < perType {
				count[c.t]++
				keep[i] = true
				n++
			}
		}
	}
	for i := range cands {
		if n == MaxOfferings {
			break
		}
		if !keep[i] {
			keep[i] = true
			n++
		}
	}
	out := make([]Offering, 0, n)
	for i, c := range cands {
		if keep[i] {
			out = append(out, Offering{Provider: c.t.Provider, Region: c.o.Region, Zone: c.zone, InstanceType: c.t.Name, VCPUs: c.t.VCPUs,
				MemoryGiB: c.t.MemoryGiB, GPUs: c.t.GPUs, GPUModel: c.t.GPUModel, Arch: c.t.Arch, Capacity: c.o.Capacity, Price: c.o.Price})
		}
	}
	return out
}

// fitting returns the types that satisfy the pool's resources and lists:
// pipeline steps 1 and 2 (exotic and burstable types only when named).
func fitting(c *spec.Cluster, pool spec.Pool, cat *catalog.Catalog, opts Options) []int {
	var out []int
	named := len(pool.InstanceTypes) > 0
	for i := range cat.Types {
		t := &cat.Types[i]
		if len(c.Providers) > 0 && !slices.Contains(c.Providers, t.Provider) {
			continue
		}
		if opts.Site.Provider != "" && t.Provider != opts.Site.Provider {
			continue
		}
		if named && !slices.ContainsFunc(pool.InstanceTypes, func(n string) bool { return strings.EqualFold(n, t.Name) }) {
			continue
		}
		if !named && (t.Burstable || t.Exotic) {
			continue
		}
		if !Fits(pool.Resources, t) {
			continue
		}
		out = append(out, i)
	}
	return out
}

// Fits reports whether a type has the resources r asks for.
func Fits(r spec.Resources, t *catalog.Type) bool {
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

// providerOrder ranks providers for tie-breaks: the user's order, then
// the catalog's.
func providerOrder(c *spec.Cluster, cat *catalog.Catalog) map[string]int {
	order := map[string]int{}
	for i, p := range c.Providers {
		order[p] = i
	}
	for i, p := range cat.Providers() {
		if _, ok := order[p]; !ok {
			order[p] = len(c.Providers) + i
		}
	}
	return order
}

func siteList(ix *index, sites []*siteStats) string {
	var ss []string
	for id, st := range sites {
		if st != nil {
			ss = append(ss, ix.sites[id].String())
		}
	}
	sort.Strings(ss)
	if len(ss) > 4 {
		ss = append(ss[:4], fmt.Sprintf("and %d more", len(ss)-4))
	}
	return strings.Join(ss, ", ")
}
