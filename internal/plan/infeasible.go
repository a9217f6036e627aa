package plan

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/burstdev/burst/internal/catalog"
	"github.com/burstdev/burst/pkg/spec"
)

// infeasibleTypes explains why no type fits the pool, relaxing one
// constraint at a time to find the one that rules everything out, and
// names what comes closest.
func (p *pool) infeasibleTypes() *InfeasibleError {
	e := &InfeasibleError{Role: p.role}
	var cands []*catalog.Type // the allowed providers' types
	for i := range p.cat.Types {
		t := &p.cat.Types[i]
		if (len(p.c.Providers) == 0 || slices.Contains(p.c.Providers, t.Provider)) && (p.opts.Site.Provider == "" || t.Provider == p.opts.Site.Provider) {
			cands = append(cands, t)
		}
	}
	if len(cands) == 0 {
		e.Reason = "the catalog has no machine types for provider " + strings.Join(p.c.Providers, ",")
		return e
	}
	r := p.spec.Resources
	named := len(p.spec.InstanceTypes) > 0

	// Named types that do not exist.
	if named {
		var unknown []string
		for _, n := range p.spec.InstanceTypes {
			if !slices.ContainsFunc(cands, func(t *catalog.Type) bool { return strings.EqualFold(t.Name, n) }) {
				unknown = append(unknown, n)
			}
		}
		if len(unknown) == len(p.spec.InstanceTypes) {
			e.Reason = fmt.Sprintf("unknown instance type %s on %s", strings.Join(unknown, ", "), strings.Join(providersOf(cands), ","))
			e.Alternatives = similarNames(cands, unknown[0])
			return e
		}
		var shapes []string
		for _, t := range cands {
			if slices.ContainsFunc(p.spec.InstanceTypes, func(n string) bool { return strings.EqualFold(t.Name, n) }) {
				shapes = append(shapes, shape(t))
			}
		}
		e.Reason = fmt.Sprintf("the named instance types do not have %s", describeResources(r))
		e.Alternatives = shapes
		return e
	}

	// Without burstable and exotic types, as the planner uses them.
	var usable []*catalog.Type
	for _, t := range cands {
		if !t.Burstable && !t.Exotic {
			usable = append(usable, t)
		}
	}
	archOK := func(t *catalog.Type) bool { return r.Arch == spec.ArchAny || string(r.Arch) == t.Arch }

	if g := r.GPU; g.Wanted() && g.Model != "" {
		var model []*catalog.Type
		for _, t := range usable {
			if strings.EqualFold(t.GPUModel, g.Model) {
				model = append(model, t)
			}
		}
		if len(model) == 0 {
			e.Reason = fmt.Sprintf("no machine has %s GPUs", g.Model)
			if elsewhere := providersWith(p.cat, func(t *catalog.Type) bool { return strings.EqualFold(t.GPUModel, g.Model) }); len(elsewhere) > 0 {
				e.Alternatives = []string{fmt.Sprintf("%s machines exist on %s", g.Model, strings.Join(elsewhere, ","))}
			}
			e.Alternatives = append(e.Alternatives, "known GPU models: "+strings.Join(gpuModels(usable), ", "))
			return e
		}
		var counts []int
		for _, t := range model {
			if archOK(t) && !slices.Contains(counts, t.GPUs) {
				counts = append(counts, t.GPUs)
			}
		}
		sort.Ints(counts)
		if len(counts) == 0 {
			e.Reason = fmt.Sprintf("no %s machine has arch %s", g.Model, r.Arch)
			return e
		}
		if !slices.ContainsFunc(counts, func(n int) bool { return spec.IntBound{Value: g.Count, OrMore: g.OrMore}.Matches(n) }) {
			e.Reason = fmt.Sprintf("no machine has %s %ss", countWord(g.Count, g.OrMore), g.Model)
			e.Alternatives = []string{fmt.Sprintf("%s machines come with %s", g.Model, joinInts(counts))}
			return e
		}
		usable = slices.DeleteFunc(slices.Clone(model), func(t *catalog.Type) bool { return !archOK(t) || !g.Matches(t.GPUModel, t.GPUs) })
	} else if g.Wanted() {
		usable = slices.DeleteFunc(slices.Clone(usable), func(t *catalog.Type) bool { return !g.Matches(t.GPUModel, t.GPUs) })
		if len(usable) == 0 {
			e.Reason = fmt.Sprintf("no machine has %s GPUs", countWord(g.Count, g.OrMore))
			return e
		}
	} else {
		usable = slices.DeleteFunc(slices.Clone(usable), func(t *catalog.Type) bool { return t.GPUs > 0 })
	}
	if !r.GPUMemory.IsZero() {
		before := usable
		usable = slices.DeleteFunc(slices.Clone(usable), func(t *catalog.Type) bool { return !r.GPUMemory.MatchesGiB(t.GPUMemoryGiB) })
		if len(usable) == 0 {
			e.Reason = fmt.Sprintf("no machine has GPUs with %s memory", r.GPUMemory)
			e.Alternatives = []string{"GPU memory sizes: " + joinFloats(uniq(before, func(t *catalog.Type) float64 { return t.GPUMemoryGiB }), "GiB")}
			return e
		}
	}
	if r.Arch != spec.ArchAny {
		before := usable
		usable = slices.DeleteFunc(slices.Clone(usable), func(t *catalog.Type) bool { return !archOK(t) })
		if len(usable) == 0 {
			e.Reason = fmt.Sprintf("no %s machine has arch %s", describeResources(spec.Resources{GPU: r.GPU}), r.Arch)
			e.Alternatives = largest(before, 3)
			return e
		}
	}
	// CPU and memory, each on its own, then together.
	cpuOK := slices.DeleteFunc(slices.Clone(usable), func(t *catalog.Type) bool { return !r.CPU.Matches(t.VCPUs) })
	if len(cpuOK) == 0 {
		sizes := uniq(usable, func(t *catalog.Type) float64 { return float64(t.VCPUs) })
		top := sizes[len(sizes)-1]
		if r.CPU.OrMore || float64(r.CPU.Value) > top {
			e.Reason = fmt.Sprintf("no machine has %s vCPUs", countWord(r.CPU.Value, r.CPU.OrMore))
			e.Alternatives = append([]string{"the largest: "}, largest(usable, 3)...)
			e.Alternatives = []string{"the largest: " + strings.Join(e.Alternatives[1:], ", ")}
		} else {
			e.Reason = fmt.Sprintf("no machine has exactly %d vCPUs", r.CPU.Value)
			e.Alternatives = []string{fmt.Sprintf("try --cpu %d+ (nearest sizes: %s)", r.CPU.Value, nearestSizes(sizes, float64(r.CPU.Value)))}
		}
		return e
	}
	memOK := slices.DeleteFunc(slices.Clone(usable), func(t *catalog.Type) bool { return !r.Memory.MatchesGiB(t.MemoryGiB) })
	if len(memOK) == 0 {
		sizes := uniq(usable, func(t *catalog.Type) float64 { return t.MemoryGiB })
		if r.Memory.OrMore || r.Memory.Value.GiB() > sizes[len(sizes)-1] {
			e.Reason = fmt.Sprintf("no machine has %s memory", r.Memory)
			e.Alternatives = []string{"the largest: " + strings.Join(largestMem(usable, 3), ", ")}
		} else {
			e.Reason = fmt.Sprintf("no machine has exactly %s of memory", r.Memory.Value)
			e.Alternatives = []string{fmt.Sprintf("try --memory %s+ (nearest sizes: %s)", r.Memory.Value, nearestSizes(sizes, r.Memory.Value.GiB()))}
		}
		return e
	}
	e.Reason = fmt.Sprintf("no machine combines %s", describeResources(r))
	// The cheapest types that have the vCPUs, for their memory.
	sort.Slice(cpuOK, func(i, j int) bool { return cheapest(cpuOK[i]) < cheapest(cpuOK[j]) })
	for _, t := range cpuOK[:min(3, len(cpuOK))] {
		e.Alternatives = append(e.Alternatives, shape(t))
	}
	return e
}

// infeasiblePlaces explains why types fit but no offering is usable: the
// places, the price cap, the unavailable set or the capacity type.
func (p *pool) infeasiblePlaces() *InfeasibleError {
	e := &InfeasibleError{Role: p.role}
	what := describe(p.spec)
	switch {
	case p.dropped.price > 0 && p.dropped.place == 0 && p.dropped.unavailable == 0:
		e.Reason = fmt.Sprintf("%s: every fitting offering costs more than $%s/h", what, strconv.FormatFloat(p.spec.MaxPrice, 'f', -1, 64))
		if p.dropped.cheapestOverPrice > 0 {
			e.Alternatives = []string{fmt.Sprintf("the cheapest is %s at $%.4f/h", p.dropped.cheapestOverPriceAt, p.dropped.cheapestOverPrice)}
		}
	case p.dropped.unavailable > 0 && p.dropped.place == 0:
		e.Reason = fmt.Sprintf("%s: every fitting offering %s ran out of capacity or quota recently", what, where(p.c))
		e.Alternatives = []string{"retry in a few minutes, or widen --region/--provider"}
	case p.dropped.capacity > 0:
		e.Reason = fmt.Sprintf("%s, %s: no spot offering", what, where(p.c))
		e.Alternatives = []string{"on-demand capacity exists (try --spot-policy spot-with-fallback or on-demand)"}
	default:
		e.Reason = fmt.Sprintf("%s: no fitting type is offered %s", what, where(p.c))
		var regions []string
		for _, ti := range p.types {
			t := &p.cat.Types[ti]
			for _, o := range t.Offerings {
				r := t.Provider + "/" + o.Region
				if !slices.Contains(regions, r) {
					regions = append(regions, r)
				}
			}
		}
		sort.Strings(regions)
		if len(regions) > 8 {
			regions = append(regions[:8], fmt.Sprintf("and %d more", len(regions)-8))
		}
		if len(regions) > 0 {
			e.Alternatives = []string{"offered in " + strings.Join(regions, ", ")}
		}
	}
	return e
}

func describe(pool spec.Pool) string {
	parts := []string{describeResources(pool.Resources)}
	if len(pool.InstanceTypes) > 0 {
		parts = append(parts, "types "+strings.Join(pool.InstanceTypes, ","))
	}
	if pool.MaxPrice > 0 {
		parts = append(parts, fmt.Sprintf("max $%s/h", strconv.FormatFloat(pool.MaxPrice, 'f', -1, 64)))
	}
	return strings.Join(parts, ", ")
}

func describeResources(r spec.Resources) string {
	var parts []string
	if !r.CPU.IsZero() {
		parts = append(parts, r.CPU.String()+" vCPUs")
	}
	if !r.Memory.IsZero() {
		parts = append(parts, r.Memory.String()+" memory")
	}
	if r.GPU.Wanted() {
		parts = append(parts, "GPU "+r.GPU.String())
	}
	if !r.GPUMemory.IsZero() {
		parts = append(parts, r.GPUMemory.String()+" per GPU")
	}
	if r.Arch != "" {
		parts = append(parts, string(r.Arch))
	}
	if len(parts) == 0 {
		return "any machine"
	}
	return strings.Join(parts, ", ")
}

func where(c *spec.Cluster) string {
	var parts []string
	if len(c.Providers) > 0 {
		parts = append(parts, "on "+strings.Join(c.Providers, ","))
	}
	if len(c.Regions) > 0 {
		parts = append(parts, "in "+strings.Join(c.Regions, ","))
	}
	if len(c.Zones) > 0 {
		parts = append(parts, "in zones "+strings.Join(c.Zones, ","))
	}
	if len(parts) == 0 {
		return "anywhere"
	}
	return strings.Join(parts, " ")
}

func shape(t *catalog.Type) string {
	s := fmt.Sprintf("%s/%s (%d vCPU, %s GiB", t.Provider, t.Name, t.VCPUs, strconv.FormatFloat(t.MemoryGiB, 'f', -1, 64))
	if t.GPUs > 0 {
		s += fmt.Sprintf(", %dx %s", t.GPUs, t.GPUModel)
	}
	return s + ", " + t.Arch + ")"
}

func cheapest(t *catalog.Type) float64 {
	if o, ok := t.Cheapest(catalog.OnDemand); ok {
		return o.Price
	}
	return math.MaxFloat64
}

func largest(ts []*catalog.Type, n int) []string {
	ts = slices.Clone(ts)
	sort.Slice(ts, func(i, j int) bool {
		if ts[i].VCPUs != ts[j].VCPUs {
			return ts[i].VCPUs > ts[j].VCPUs
		}
		if ts[i].MemoryGiB != ts[j].MemoryGiB {
			return ts[i].MemoryGiB > ts[j].MemoryGiB
		}
		return ts[i].Provider+ts[i].Name < ts[j].Provider+ts[j].Name
	})
	var out []string
	for _, t := range ts[:min(n, len(ts))] {
		out = append(out, shape(t))
	}
	return out
}

func largestMem(ts []*catalog.Type, n int) []string {
	ts = slices.Clone(ts)
	sort.Slice(ts, func(i, j int) bool {
		if ts[i].MemoryGiB != ts[j].MemoryGiB {
			return ts[i].MemoryGiB > ts[j].MemoryGiB
		}
		return ts[i].Provider+ts[i].Name < ts[j].Provider+ts[j].Name
	})
	var out []string
	for _, t := range ts[:min(n, len(ts))] {
		out = append(out, shape(t))
	}
	return out
}

func uniq(ts []*catalog.Type, f func(*catalog.Type) float64) []float64 {
	var out []float64
	for _, t := range ts {
		if v := f(t); !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	sort.Float64s(out)
	return out
}

// nearestSizes names the sizes just below and above v.
func nearestSizes(sizes []float64, v float64) string {
	i := sort.SearchFloat64s(sizes, v)
	var near []float64
	if i > 0 {
		near = append(near, sizes[i-1])
	}
	if i < len(sizes) {
		near = append(near, sizes[i])
	}
	return joinFloats(near, "")
}

func joinFloats(vs []float64, unit string) string {
	var ss []string
	for _, v := range vs {
		ss = append(ss, strconv.FormatFloat(v, 'f', -1, 64)+unit)
	}
	return strings.Join(ss, ", ")
}

func joinInts(ns []int) string {
	var ss []string
	for _, n := range ns {
		ss = append(ss, strconv.Itoa(n))
	}
	if len(ss) > 1 {
		return strings.Join(ss[:len(ss)-1], ", ") + " or " + ss[len(ss)-1]
	}
	return strings.Join(ss, "")
}

func countWord(n int, orMore bool) string {
	if orMore {
		return fmt.Sprintf("%d or more", n)
	}
	return strconv.Itoa(n)
}

func gpuModels(ts []*catalog.Type) []string {
	var out []string
	for _, t := range ts {
		if t.GPUModel != "" && !slices.Contains(out, t.GPUModel) {
			out = append(out, t.GPUModel)
		}
	}
	sort.Strings(out)
	return out
}

func providersOf(ts []*catalog.Type) []string {
	var out []string
	for _, t := range ts {
		if !slices.Contains(out, t.Provider) {
			out = append(out, t.Provider)
		}
	}
	sort.Strings(out)
	return out
}

func providersWith(cat *catalog.Catalog, f func(*catalog.Type) bool) []string {
	var out []string
	for i := range cat.Types {
		if t := &cat.Types[i]; f(t) && !slices.Contains(out, t.Provider) {
			out = append(out, t.Provider)
		}
	}
	sort.Strings(out)
	return out
}

// similarNames suggests types whose names share the unknown name's family
// prefix ("m7i.larg" -> m7i.large).
func similarNames(ts []*catalog.Type, name string) []string {
	prefix := strings.ToLower(name)
	for len(prefix) > 1 {
		var out []string
		for _, t := range ts {
			if strings.HasPrefix(strings.ToLower(t.Name), prefix) {
				out = append(out, t.Name)
			}
		}
		if len(out) > 0 {
			sort.Strings(out)
			if len(out) > 5 {
				out = append(out[:5], "...")
			}
			return []string{"did you mean " + strings.Join(out, ", ")}
		}
		prefix = prefix[:len(prefix)-1]
	}
	return nil
}
