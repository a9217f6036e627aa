package arm

import (
	"hash/fnv"
	"math"
	"sort"
	"strings"

	"github.com/burstdev/burst/internal/catalog"
	"github.com/burstdev/burst/internal/cloudsim"
)

// size is one Azure VM size as the simulator knows it: real names, specs as
// Azure documents them, and Linux pay-as-you-go prices close to eastus list
// prices. The Resource SKUs, usage and Retail Prices APIs of the simulator
// are all derived from this table, so a plan made from the simulator's
// catalog launches in the simulator.
type size struct {
	name   string  // ARM name, "Standard_D2s_v5"
	family string  // Resource SKU family and quota name, "standardDSv5Family"
	series string  // Retail Prices product series, "DSv5"
	vcpus  int     // vCPUs
	mem    float64 // GiB
	gpus   int
	gpu    string  // GPU model
	gpuMem float64 // GiB per GPU
	arch   string  // "x86_64" or "arm64"
	price  float64 // USD per hour, Linux, eastus
	// spot is the spot price as a fraction of the on-demand price; 0 means
	// the size takes no Spot (LowPriorityCapable false, as B-series).
	spot      float64
	burstable bool
	exotic    bool
	gen       int
	// regions the size is offered in; nil means every simulated region.
	regions []string
}

// Regions the simulator offers, with Azure's display names (the Retail
// Prices API's "location") and price level relative to eastus.
var regions = []struct {
	name, display string
	factor        float64
}{
	{"eastus", "US East", 1.0},
	{"westus2", "US West 2", 1.02},
	{"westeurope", "EU West", 1.12},
}

var sizes = func() []size {
	var out []size
	add := func(prefix, suffix, family, series, arch string, gen int, spot float64, perVCPU, memPerVCPU float64, vcpus ...int) {
		for _, n := range vcpus {
			out = append(out, size{
				name: "Standard_" + prefix + itoa(n) + suffix, family: family, series: series,
				vcpus: n, mem: float64(n) * memPerVCPU, arch: arch, price: round4(perVCPU * float64(n)),
				spot: spot, gen: gen,
			})
		}
	}
	// General purpose: Intel (Dsv5), AMD (Dasv5), Ampere Altra (Dpsv5).
	add("D", "s_v5", "standardDSv5Family", "DSv5", "x86_64", 5, 0.20, 0.048, 4, 2, 4, 8, 16, 32, 48, 64, 96)
	add("D", "as_v5", "standardDASv5Family", "DASv5", "x86_64", 5, 0.18, 0.043, 4, 2, 4, 8, 16, 32, 48, 64, 96)
	add("D", "ps_v5", "standardDPSv5Family", "DPSv5", "arm64", 5, 0.16, 0.0385, 4, 2, 4, 8, 16, 32, 48, 64)
	// Memory optimised.
	add("E", "s_v5", "standardESv5Family", "ESv5", "x86_64", 5, 0.20, 0.063, 8, 2, 4, 8, 16, 32, 48, 64)
	add("E", "as_v5", "standardEASv5Family", "EASv5", "x86_64", 5, 0.18, 0.0565, 8, 2, 4, 8, 16, 32, 48, 64, 96)
	add("E", "ps_v5", "standardEPSv5Family", "EPSv5", "arm64", 5, 0.16, 0.0505, 8, 2, 4, 8, 16, 32)
	// Compute optimised.
	add("F", "s_v2", "standardFSv2Family", "FSv2", "x86_64", 2, 0.22, 0.0423, 2, 2, 4, 8, 16, 32, 48, 64, 72)
	// Burstable: no Spot, left out of plans unless named.
	for _, b := range []struct {
		n     string
		cpu   int
		mem   float64
		price float64
	}{{"B2s", 2, 4, 0.0416}, {"B2ms", 2, 8, 0.0832}, {"B4ms", 4, 16, 0.166}, {"B8ms", 8, 32, 0.333}, {"B16ms", 16, 64, 0.666}} {
		out = append(out, size{name: "Standard_" + b.n, family: "standardBSFamily", series: "BS", vcpus: b.cpu, mem: b.mem,
			arch: "x86_64", price: b.price, burstable: true, gen: 1})
	}
	// GPUs. N-series are "limited" families: at most 200 VMs per Flexible
	// scale set.
	gpu := []size{
		{name: "Standard_NC4as_T4_v3", family: "standardNCASv3_T4Family", series: "NCasT4 v3", vcpus: 4, mem: 28, gpus: 1, gpu: "T4", gpuMem: 16, price: 0.526},
		{name: "Standard_NC8as_T4_v3", family: "standardNCASv3_T4Family", series: "NCasT4 v3", vcpus: 8, mem: 56, gpus: 1, gpu: "T4", gpuMem: 16, price: 0.752},
		{name: "Standard_NC16as_T4_v3", family: "standardNCASv3_T4Family", series: "NCasT4 v3", vcpus: 16, mem: 110, gpus: 1, gpu: "T4", gpuMem: 16, price: 1.204},
		{name: "Standard_NC64as_T4_v3", family: "standardNCASv3_T4Family", series: "NCasT4 v3", vcpus: 64, mem: 440, gpus: 4, gpu: "T4", gpuMem: 16, price: 4.352},
		{name: "Standard_NC24ads_A100_v4", family: "StandardNCADSA100v4Family", series: "NCadsA100 v4", vcpus: 24, mem: 220, gpus: 1, gpu: "A100-80GB", gpuMem: 80, price: 3.673, regions: []string{"eastus", "westeurope"}},
		{name: "Standard_NC48ads_A100_v4", family: "StandardNCADSA100v4Family", series: "NCadsA100 v4", vcpus: 48, mem: 440, gpus: 2, gpu: "A100-80GB", gpuMem: 80, price: 7.346, regions: []string{"eastus", "westeurope"}},
		{name: "Standard_NC96ads_A100_v4", family: "StandardNCADSA100v4Family", series: "NCadsA100 v4", vcpus: 96, mem: 880, gpus: 4, gpu: "A100-80GB", gpuMem: 80, price: 14.692, regions: []string{"eastus", "westeurope"}},
		{name: "Standard_ND96isr_H100_v5", family: "standardNDSH100v5Family", series: "NDsrH100 v5", vcpus: 96, mem: 1900, gpus: 8, gpu: "H100", gpuMem: 80, price: 98.32, regions: []string{"eastus", "westeurope"}},
		{name: "Standard_NV36ads_A10_v5", family: "StandardNVADSA10v5Family", series: "NVadsA10 v5", vcpus: 36, mem: 440, gpus: 1, gpu: "A10", gpuMem: 24, price: 3.20},
		{name: "Standard_NV72ads_A10_v5", family: "StandardNVADSA10v5Family", series: "NVadsA10 v5", vcpus: 72, mem: 880, gpus: 2, gpu: "A10", gpuMem: 24, price: 6.52},
	}
	for _, g := range gpu {
		g.arch, g.spot = "x86_64", 0.30
		g.gen = int(g.name[len(g.name)-1] - '0') // "..._v3"
		out = append(out, g)
	}
	// HPC with InfiniBand: exotic, limited.
	out = append(out, size{name: "Standard_HB120rs_v3", family: "standardHBrsv3Family", series: "HBrsv3", vcpus: 120, mem: 448,
		arch: "x86_64", price: 3.60, spot: 0.25, exotic: true, gen: 3, regions: []string{"eastus", "westeurope"}})
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}()

func itoa(n int) string {
	const digits = "0123456789"
	if n < 10 {
		return digits[n : n+1]
	}
	return itoa(n/10) + digits[n%10:n%10+1]
}

func round4(f float64) float64 { return math.Round(f*10000) / 10000 }

// spotFactor varies a size's spot discount a little by name, as spot prices
// do, deterministically.
func (s size) spotFactor(region string) float64 {
	h := fnv.New32a()
	h.Write([]byte(s.name + "/" + region))
	return s.spot * (0.85 + float64(h.Sum32()%30)/100)
}

// Limited reports whether a size belongs to a family Azure caps at 200 VMs
// per Flexible scale set (N-series GPUs and HPC).
func Limited(name string) bool {
	n := strings.TrimPrefix(name, "Standard_")
	return strings.HasPrefix(n, "N") || strings.HasPrefix(n, "H")
}

func (s size) offeredIn(region string) bool {
	if s.regions == nil {
		return true
	}
	for _, r := range s.regions {
		if r == region {
			return true
		}
	}
	return false
}

func sizeByName(name string) (size, bool) {
	for _, s := range sizes {
		if strings.EqualFold(s.name, name) {
			return s, true
		}
	}
	return size{}, false
}

// ZoneName is the model's name for an Azure availability zone: "eastus-1"
// for zone "1" of eastus. Azure names zones "1", "2", "3" within a location.
func ZoneName(location, zone string) string { return location + "-" + zone }

// zoneNumber is the inverse of ZoneName.
func zoneNumber(zone string) string {
	if i := strings.LastIndexByte(zone, '-'); i >= 0 {
		return zone[i+1:]
	}
	return zone
}

// Regions returns the simulated locations and their zones, named as the
// model names them (see ZoneName).
func Regions() map[string][]string {
	out := map[string][]string{}
	for _, r := range regions {
		out[r.name] = []string{ZoneName(r.name, "1"), ZoneName(r.name, "2"), ZoneName(r.name, "3")}
	}
	return out
}

// Types returns the simulated VM sizes as catalog types of provider
// "azure", with region-level offerings (Zone "") at on-demand and, where
// the size takes Spot, spot prices.
func Types() []catalog.Type {
	var out []catalog.Type
	for _, s := range sizes {
		t := catalog.Type{
			Provider: "azure", Name: s.name, Family: s.family, VCPUs: s.vcpus, MemoryGiB: s.mem,
			GPUs: s.gpus, GPUModel: s.gpu, GPUMemoryGiB: s.gpuMem, Arch: s.arch,
			Burstable: s.burstable, Exotic: s.exotic, Generation: s.gen,
		}
		for _, r := range regions {
			if !s.offeredIn(r.name) {
				continue
			}
			od := round4(s.price * r.factor)
			t.Offerings = append(t.Offerings, catalog.Offering{Region: r.name, Capacity: catalog.OnDemand, Price: od})
			if s.spot > 0 {
				t.Offerings = append(t.Offerings, catalog.Offering{Region: r.name, Capacity: catalog.Spot, Price: round4(od * s.spotFactor(r.name))})
			}
		}
		out = append(out, t)
	}
	return out
}

// NewModel returns a model of Azure: the simulated locations, zones and VM
// sizes, with cfg's timing. Fields of cfg that are set win.
func NewModel(cfg cloudsim.Config) *cloudsim.Model {
	if cfg.Regions == nil {
		cfg.Regions = Regions()
	}
	if cfg.Types == nil {
		cfg.Types = Types()
	}
	return cloudsim.New(cfg)
}
