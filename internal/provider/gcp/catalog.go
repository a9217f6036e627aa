package gcp

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"

	"github.com/burstdev/burst/internal/catalog"
)

// gpuInfo is what burst knows of a GCE accelerator type: its model name in
// burst's catalog, memory per GPU, its regional quota metric, and for
// GPUs attachable to N1 machines the most vCPUs an N1 machine may have per
// GPU count (Google's GPU platform table).
type gpuInfo struct {
	model  string
	memGiB float64
	quota  string
	n1     map[int]int
}

var gpus = map[string]gpuInfo{
	"nvidia-tesla-t4":       {"T4", 16, "NVIDIA_T4_GPUS", map[int]int{1: 48, 2: 48, 4: 96}},
	"nvidia-tesla-v100":     {"V100", 16, "NVIDIA_V100_GPUS", map[int]int{1: 12, 2: 24, 4: 48, 8: 96}},
	"nvidia-tesla-p100":     {"P100", 16, "NVIDIA_P100_GPUS", map[int]int{1: 16, 2: 32, 4: 96}},
	"nvidia-tesla-p4":       {"P4", 8, "NVIDIA_P4_GPUS", map[int]int{1: 24, 2: 48, 4: 96}},
	"nvidia-tesla-a100":     {"A100", 40, "NVIDIA_A100_GPUS", nil},
	"nvidia-a100-80gb":      {"A100-80GB", 80, "NVIDIA_A100_80GB_GPUS", nil},
	"nvidia-h100-80gb":      {"H100", 80, "NVIDIA_H100_GPUS", nil},
	"nvidia-h100-mega-80gb": {"H100", 80, "NVIDIA_H100_MEGA_GPUS", nil},
	"nvidia-h200-141gb":     {"H200", 141, "NVIDIA_H200_GPUS", nil},
	"nvidia-l4":             {"L4", 24, "NVIDIA_L4_GPUS", nil},
}

// acceleratorOfModel is the accelerator type of machines whose GPUs come
// bundled, by burst's model name.
func acceleratorOfModel(model string) string {
	for name, g := range gpus {
		if g.model == model && g.n1 == nil && name != "nvidia-h100-mega-80gb" {
			return name
		}
	}
	return ""
}

// generation orders families (newer is higher) to break price ties.
var generation = map[string]int{
	"n1": 1, "f1": 1, "g1": 1, "m1": 1,
	"e2": 2, "n2": 2, "n2d": 2, "t2a": 2, "t2d": 2, "c2": 2, "c2d": 2, "a2": 2, "g2": 2, "m2": 2,
	"c3": 3, "c3d": 3, "a3": 3, "m3": 3, "h3": 3, "z3": 3,
	"n4": 4, "c4": 4, "c4a": 4, "c4d": 4, "x4": 4, "a4": 4,
}

// exoticFamilies are left out of plans unless named: huge memory-optimised,
// HPC and storage-optimised machines.
var exoticFamilies = map[string]bool{"m1": true, "m2": true, "m3": true, "x4": true, "h3": true, "z3": true}

// sharedCore is the billed share of a vCPU of shared-core types.
var sharedCore = map[string]float64{"e2-micro": 0.25, "e2-small": 0.5, "e2-medium": 1, "f1-micro": 0.2, "g1-small": 0.5}

// Catalog implements provider.Provider with live data: regions.list for
// regions and zones, machineTypes.aggregatedList and
// acceleratorTypes.aggregatedList for what each zone offers, and prices
// from the Cloud Billing Catalog (per vCPU-hour, GiB-hour and GPU-hour, by
// family and region; see pricing.go). Offerings are per region (Zone
// empty): bulkInsert picks zones. N1 machines with attachable GPUs appear
// as combinations ("n1-standard-8+nvidia-tesla-t4x1"). If the billing
// catalog cannot be read, prices come from a built-in list-price table
// and the catalog's Source says so.
func (p *Provider) Catalog(ctx context.Context) (*catalog.Catalog, error) {
	if err := p.init(ctx); err != nil {
		return nil, err
	}
	zones, err := p.regionZones(ctx)
	if err != nil {
		return nil, err
	}
	mts, err := p.machineTypes(ctx)
	if err != nil {
		return nil, err
	}
	accels, err := p.acceleratorZones(ctx)
	if err != nil {
		return nil, err
	}
	source := "live"
	prices, err := p.prices(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		prices = fallbackPrices()
		source = fmt.Sprintf("live; list prices (billing catalog unavailable: %v)", err)
	}
	cat := &catalog.Catalog{Date: p.opts.Now().UTC(), Source: source, Zones: zones}
	add := func(t catalog.Type, regions []string, fam, accel string, cores float64, mem float64, ngpu int) {
		for _, r := range regions {
			od, ok1 := prices.price(r, fam, accel, cores, mem, ngpu, false)
			sp, ok2 := prices.price(r, fam, accel, cores, mem, ngpu, true)
			if ok1 {
				t.Offerings = append(t.Offerings, catalog.Offering{Region: r, Capacity: catalog.OnDemand, Price: od})
			}
			if ok2 {
				t.Offerings = append(t.Offerings, catalog.Offering{Region: r, Capacity: catalog.Spot, Price: sp})
			}
		}
		if len(t.Offerings) > 0 {
			cat.Types = append(cat.Types, t)
		}
	}
	var n1 []*machineInfo
	for _, mt := range mts {
		fam := familyOf(mt.name)
		regions := mt.regions(zones)
		t := catalog.Type{Provider: Name, Name: mt.name, Family: fam, VCPUs: mt.vcpus, MemoryGiB: mt.memGiB, Arch: mt.arch,
			Generation: generation[fam], Burstable: mt.shared, Exotic: exoticFamilies[fam] || strings.Contains(mt.name, "-metal")}
		cores := float64(mt.vcpus)
		if f, ok := sharedCore[mt.name]; ok {
			cores = f
		}
		if mt.accel != "" {
			g, ok := gpus[mt.accel]
			if !ok {
				continue // a GPU burst cannot name; leave the type out
			}
			t.GPUs, t.GPUModel, t.GPUMemoryGiB = mt.accelCount, g.model, g.memGiB
		}
		add(t, regions, fam, mt.accel, cores, mt.memGiB, mt.accelCount)
		if fam == "n1" && !mt.shared {
			n1 = append(n1, mt)
		}
	}
	// N1 + attachable GPU combinations, in regions where both exist.
	for _, accel := range sortedKeys(accels) {
		g, ok := gpus[accel]
		if !ok || g.n1 == nil {
			continue
		}
		for _, count := range sortedKeys(g.n1) {
			if count > accels[accel].maxCards {
				continue
			}
			for _, mt := range n1 {
				if mt.vcpus > g.n1[count] || mt.vcpus < 2 {
					continue
				}
				var regions []string
				for _, r := range mt.regions(zones) {
					if accels[accel].regions[r] {
						regions = append(regions, r)
					}
				}
				t := catalog.Type{Provider: Name, Name: TypeName(mt.name, accel, count), Family: "n1", VCPUs: mt.vcpus, MemoryGiB: mt.memGiB,
					Arch: "x86_64", Generation: generation["n1"], GPUs: count, GPUModel: g.model, GPUMemoryGiB: g.memGiB}
				add(t, regions, "n1", accel, float64(mt.vcpus), mt.memGiB, count)
			}
		}
	}
	sort.Slice(cat.Types, func(i, j int) bool { return cat.Types[i].Name < cat.Types[j].Name })
	return cat, nil
}

// machineInfo is a machine type as the zones report it.
type machineInfo struct {
	name       string
	vcpus      int
	memGiB     float64
	arch       string
	shared     bool
	accel      string
	accelCount int
	zones      map[string]bool
}

func (m *machineInfo) regions(zones map[string][]string) []string {
	var out []string
	for _, r := range sortedKeys(zones) {
		if slices.ContainsFunc(zones[r], func(z string) bool { return m.zones[z] }) {
			out = append(out, r)
		}
	}
	return out
}

// regionZones lists the project's regions (narrowed by Options.Regions)
// and their zones.
func (p *Provider) regionZones(ctx context.Context) (map[string][]string, error) {
	out := map[string][]string{}
	token := ""
	for {
		var resp *computepb.RegionList
		err := p.do(ctx, "regions.list", func(ctx context.Context) error {
			it := p.c.regions.List(ctx, &computepb.ListRegionsRequest{Project: p.project}, noRetry)
			if _, _, err := it.InternalFetch(500, token); err != nil {
				return err
			}
			resp, _ = it.Response.(*computepb.RegionList)
			return nil
		})
		if err != nil {
			return nil, err
		}
		for _, r := range resp.GetItems() {
			if len(p.opts.Regions) > 0 && !slices.Contains(p.opts.Regions, r.GetName()) {
				continue
			}
			if r.GetStatus() == "DOWN" {
				continue
			}
			var zs []string
			for _, z := range r.GetZones() {
				zs = append(zs, lastSegment(z))
			}
			sort.Strings(zs)
			out[r.GetName()] = zs
		}
		if token = resp.GetNextPageToken(); token == "" {
			break
		}
	}
	return out, nil
}

// machineTypes reads machineTypes.aggregatedList, page by page.
func (p *Provider) machineTypes(ctx context.Context) ([]*machineInfo, error) {
	byName := map[string]*machineInfo{}
	token := ""
	for {
		var resp *computepb.MachineTypeAggregatedList
		err := p.do(ctx, "machineTypes.aggregatedList", func(ctx context.Context) error {
			it := p.c.machineTypes.AggregatedList(ctx, &computepb.AggregatedListMachineTypesRequest{Project: p.project}, noRetry)
			if _, _, err := it.InternalFetch(500, token); err != nil {
				return err
			}
			resp, _ = it.Response.(*computepb.MachineTypeAggregatedList)
			return nil
		})
		if err != nil {
			return nil, err
		}
		for scope, list := range resp.GetItems() {
			zone := lastSegment(scope)
			for _, mt := range list.GetMachineTypes() {
				if mt.GetDeprecated() != nil && mt.GetDeprecated().GetState() != "" {
					continue
				}
				m, ok := byName[mt.GetName()]
				if !ok {
					m = &machineInfo{name: mt.GetName(), vcpus: int(mt.GetGuestCpus()), memGiB: float64(mt.GetMemoryMb()) / 1024,
						arch: "x86_64", shared: mt.GetIsSharedCpu(), zones: map[string]bool{}}
					if strings.EqualFold(mt.GetArchitecture(), "ARM64") {
						m.arch = "arm64"
					}
					if a := mt.GetAccelerators(); len(a) > 0 {
						m.accel, m.accelCount = a[0].GetGuestAcceleratorType(), int(a[0].GetGuestAcceleratorCount())
					}
					byName[m.name] = m
				}
				m.zones[zone] = true
			}
		}
		if token = resp.GetNextPageToken(); token == "" {
			break
		}
	}
	out := make([]*machineInfo, 0, len(byName))
	for _, name := range sortedKeys(byName) {
		out = append(out, byName[name])
	}
	return out, nil
}

// accelZones is where an accelerator type is offered.
type accelZones struct {
	regions  map[string]bool
	maxCards int
}

func (p *Provider) acceleratorZones(ctx context.Context) (map[string]*accelZones, error) {
	out := map[string]*accelZones{}
	token := ""
	for {
		var resp *computepb.AcceleratorTypeAggregatedList
		err := p.do(ctx, "acceleratorTypes.aggregatedList", func(ctx context.Context) error {
			it := p.c.accelTypes.AggregatedList(ctx, &computepb.AggregatedListAcceleratorTypesRequest{Project: p.project, MaxResults: proto.Uint32(500)}, noRetry)
			if _, _, err := it.InternalFetch(500, token); err != nil {
				return err
			}
			resp, _ = it.Response.(*computepb.AcceleratorTypeAggregatedList)
			return nil
		})
		if err != nil {
			return nil, err
		}
		for scope, list := range resp.GetItems() {
			region := regionOf(lastSegment(scope))
			for _, a := range list.GetAcceleratorTypes() {
				z, ok := out[a.GetName()]
				if !ok {
					z = &accelZones{regions: map[string]bool{}}
					out[a.GetName()] = z
				}
				z.regions[region] = true
				z.maxCards = max(z.maxCards, int(a.GetMaximumCardsPerInstance()))
			}
		}
		if token = resp.GetNextPageToken(); token == "" {
			break
		}
	}
	return out, nil
}

func sortedKeys[K interface{ ~string | ~int }, V any](m map[K]V) []K {
	out := make([]K, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
