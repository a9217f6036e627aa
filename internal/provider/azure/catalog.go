package azure

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v6"

	"github.com/burstdev/burst/internal/catalog"
)

// skuInfo is what the Resource SKUs API says of a VM size in a location.
type skuInfo struct {
	name, family string
	tier         string
	vcpus        int
	memGiB       float64
	gpus         int
	arch         string // "x86_64" or "arm64"
	spot         bool   // LowPriorityCapable
	restricted   bool   // not available to this subscription here
	zones        []string
}

// parseSKU reads one resource SKU into per-location infos; it returns nil
// for anything but a VM size.
func parseSKU(s *armcompute.ResourceSKU) map[string]skuInfo {
	if s == nil || !strings.EqualFold(deref(s.ResourceType), "virtualMachines") || s.Name == nil {
		return nil
	}
	info := skuInfo{name: *s.Name, family: deref(s.Family), tier: deref(s.Tier), arch: "x86_64"}
	for _, c := range s.Capabilities {
		v := deref(c.Value)
		switch deref(c.Name) {
		case "vCPUs":
			info.vcpus, _ = strconv.Atoi(v)
		case "MemoryGB":
			info.memGiB, _ = strconv.ParseFloat(v, 64)
		case "GPUs":
			info.gpus, _ = strconv.Atoi(v)
		case "CpuArchitectureType":
			if strings.EqualFold(v, "Arm64") {
				info.arch = "arm64"
			}
		case "LowPriorityCapable":
			info.spot = strings.EqualFold(v, "True")
		}
	}
	out := map[string]skuInfo{}
	for _, l := range s.Locations {
		if l != nil {
			out[strings.ToLower(*l)] = info
		}
	}
	for _, li := range s.LocationInfo {
		if li == nil || li.Location == nil {
			continue
		}
		loc := strings.ToLower(*li.Location)
		i := out[loc]
		if i.name == "" {
			i = info
		}
		i.zones = nil
		for _, z := range li.Zones {
			if z != nil {
				i.zones = append(i.zones, *z)
			}
		}
		sort.Strings(i.zones)
		out[loc] = i
	}
	for _, r := range s.Restrictions {
		if r == nil || r.Type == nil || *r.Type != armcompute.ResourceSKURestrictionsTypeLocation {
			continue
		}
		for _, v := range r.Values {
			if v == nil {
				continue
			}
			loc := strings.ToLower(*v)
			if i, ok := out[loc]; ok {
				i.restricted = true
				out[loc] = i
			}
		}
	}
	return out
}

// listSKUs lists VM sizes, in one location or (location "") everywhere,
// by location and size name.
func (p *Provider) listSKUs(ctx context.Context, location string) (map[string]map[string]skuInfo, error) {
	var opts *armcompute.ResourceSKUsClientListOptions
	if location != "" {
		opts = &armcompute.ResourceSKUsClientListOptions{Filter: to.Ptr(fmt.Sprintf("location eq '%s'", location))}
	}
	out := map[string]map[string]skuInfo{}
	pager := p.c.skus.NewListPager(opts)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, classify("ResourceSKUs.List", err)
		}
		for _, s := range page.Value {
			for loc, info := range parseSKU(s) {
				if location != "" && loc != strings.ToLower(location) {
					continue
				}
				if out[loc] == nil {
					out[loc] = map[string]skuInfo{}
				}
				out[loc][info.name] = info
			}
		}
	}
	return out, nil
}

// skusIn returns a location's sizes, asking the API once per process.
func (p *Provider) skusIn(ctx context.Context, location string) (map[string]skuInfo, error) {
	p.mu.Lock()
	m, ok := p.skuCache[location]
	p.mu.Unlock()
	if ok {
		return m, nil
	}
	all, err := p.listSKUs(ctx, location)
	if err != nil {
		return nil, err
	}
	m = all[strings.ToLower(location)]
	if m == nil {
		m = map[string]skuInfo{}
	}
	p.mu.Lock()
	p.skuCache[location] = m
	p.mu.Unlock()
	return m, nil
}

// gpuOf names the GPU of an N-series size, which the Resource SKUs API does
// not: it gives only a count. Names are burst's (the embedded catalog's):
// the 80 GB A100 is "A100-80GB". Sizes with a fractional GPU (NVadsA10 v5
// below 36 vCPUs, NVv4) and models burst does not know are left out of the
// catalog rather than guessed.
func gpuOf(size string, vcpus int) (model string, memGiB float64, ok bool) {
	n := strings.ToUpper(size)
	switch {
	case strings.Contains(n, "_T4_"):
		return "T4", 16, true
	case strings.Contains(n, "H200"):
		return "H200", 141, true
	case strings.Contains(n, "H100") && strings.HasPrefix(n, "STANDARD_NC"):
		return "H100", 94, true // NCads H100 v5: H100 NVL
	case strings.Contains(n, "H100"):
		return "H100", 80, true
	case strings.Contains(n, "MI300X"):
		return "MI300X", 192, true
	case strings.HasPrefix(n, "STANDARD_ND96ASR_V4"):
		return "A100", 40, true
	case strings.Contains(n, "A100"):
		return "A100-80GB", 80, true
	case strings.Contains(n, "_A10_") && vcpus >= 36:
		return "A10", 24, true
	case strings.HasPrefix(n, "STANDARD_NC") && strings.HasSuffix(n, "S_V3"):
		return "V100", 16, true
	case strings.HasPrefix(n, "STANDARD_ND40RS_V2"):
		return "V100", 32, true
	}
	return "", 0, false
}

var generationRE = regexp.MustCompile(`_v(\d+)$`)

// typeOf turns a size into a catalog type without offerings; false for
// sizes burst does not launch (Basic tier, promotional, unknown GPUs).
func typeOf(info skuInfo) (catalog.Type, bool) {
	if info.vcpus <= 0 || info.memGiB <= 0 || !strings.EqualFold(info.tier, "Standard") ||
		!strings.HasPrefix(info.name, "Standard_") || strings.Contains(info.name, "_Promo") {
		return catalog.Type{}, false
	}
	t := catalog.Type{
		Provider: Name, Name: info.name, Family: info.family, VCPUs: info.vcpus, MemoryGiB: info.memGiB, Arch: info.arch,
		Generation: 1,
	}
	short := strings.TrimPrefix(info.name, "Standard_")
	t.Burstable = strings.HasPrefix(short, "B")
	// Only when asked by name, as in the embedded catalog: HPC sizes with
	// InfiniBand, confidential (DC, EC, NCC), gaming-GPU (NG), media-ASIC
	// (NM), FPGA (NP) and licensing-oriented FX sizes.
	for _, pre := range []string{"H", "DC", "EC", "NCC", "NG", "NM", "NP", "FX"} {
		if strings.HasPrefix(short, pre) {
			t.Exotic = true
		}
	}
	if m := generationRE.FindStringSubmatch(info.name); m != nil {
		t.Generation, _ = strconv.Atoi(m[1])
	}
	if info.gpus > 0 {
		model, mem, ok := gpuOf(info.name, info.vcpus)
		if !ok {
			return catalog.Type{}, false
		}
		t.GPUs, t.GPUModel, t.GPUMemoryGiB = info.gpus, model, mem
	}
	return t, true
}

// Catalog implements provider.Provider with live data: the sizes the
// Resource SKUs API says this subscription may use in each location, priced
// by the Retail Prices API (Linux pay-as-you-go and Spot meters). Sizes
// without a Linux price in a location are left out there. Offerings are
// per location (Zone ""): Azure places a scale set's VMs itself. Zones are
// Azure's names ("1", "2", "3"), as in the embedded catalog.
func (p *Provider) Catalog(ctx context.Context) (*catalog.Catalog, error) {
	if err := p.init(); err != nil {
		return nil, err
	}
	infos := map[string]map[string]skuInfo{}
	if len(p.opts.Locations) > 0 {
		for _, loc := range p.opts.Locations {
			m, err := p.listSKUs(ctx, loc)
			if err != nil {
				return nil, err
			}
			for l, v := range m {
				infos[l] = v
			}
		}
	} else {
		var err error
		if infos, err = p.listSKUs(ctx, ""); err != nil {
			return nil, err
		}
	}
	locs := make([]string, 0, len(infos))
	for l := range infos {
		locs = append(locs, l)
	}
	sort.Strings(locs)
	prices := make([]map[string]sizePrice, len(locs))
	errs := make([]error, len(locs))
	sem := make(chan struct{}, 4)
	var wg sync.WaitGroup
	for i, loc := range locs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			prices[i], errs[i] = p.retailPrices(ctx, loc)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	cat := &catalog.Catalog{Date: p.opts.Now().UTC(), Source: "live", Zones: map[string][]string{}}
	types := map[string]*catalog.Type{}
	for i, loc := range locs {
		var zones []string
		for _, info := range infos[loc] {
			for _, z := range info.zones {
				if !containsString(zones, z) {
					zones = append(zones, z)
				}
			}
			if info.restricted {
				continue
			}
			pr, ok := prices[i][info.name]
			if !ok || pr.onDemand <= 0 {
				continue
			}
			t := types[info.name]
			if t == nil {
				nt, ok := typeOf(info)
				if !ok {
					continue
				}
				t = &nt
				types[info.name] = t
			}
			t.Offerings = append(t.Offerings, catalog.Offering{Region: loc, Capacity: catalog.OnDemand, Price: pr.onDemand})
			if info.spot && pr.spot > 0 {
				t.Offerings = append(t.Offerings, catalog.Offering{Region: loc, Capacity: catalog.Spot, Price: pr.spot})
			}
		}
		sort.Strings(zones)
		if len(zones) > 0 {
			cat.Zones[loc] = zones
		}
	}
	for _, t := range types {
		sort.Slice(t.Offerings, func(i, j int) bool {
			a, b := t.Offerings[i], t.Offerings[j]
			if a.Region != b.Region {
				return a.Region < b.Region
			}
			return a.Capacity < b.Capacity
		})
		cat.Types = append(cat.Types, *t)
	}
	sort.Slice(cat.Types, func(i, j int) bool { return cat.Types[i].Name < cat.Types[j].Name })
	if len(cat.Types) == 0 {
		return nil, fmt.Errorf("azure: the live catalog is empty: no priced VM size in %s", strings.Join(locs, ", "))
	}
	return cat, nil
}

func containsString(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}
