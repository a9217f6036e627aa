package gce

import (
	"fmt"
	"slices"
	"sort"

	"github.com/burstdev/burst/internal/catalog"
)

// The simulated project's world: real GCE region, zone, machine type and
// accelerator names with plausible shapes and list prices, so plans made
// from burst's real catalog launch here. Prices are per hour in USD, by
// component (vCPU, GiB of memory, GPU) as Google bills them, scaled per
// region; the Cloud Billing Catalog the server serves is derived from the
// same table, so a live catalog refresh against the simulator sees
// consistent prices.

// regionZones are the simulated regions and their zones.
var regionZones = map[string][]string{
	"us-central1":     {"us-central1-a", "us-central1-b", "us-central1-c", "us-central1-f"},
	"us-east1":        {"us-east1-b", "us-east1-c", "us-east1-d"},
	"us-east4":        {"us-east4-a", "us-east4-b", "us-east4-c"},
	"us-west1":        {"us-west1-a", "us-west1-b", "us-west1-c"},
	"europe-west1":    {"europe-west1-b", "europe-west1-c", "europe-west1-d"},
	"europe-west4":    {"europe-west4-a", "europe-west4-b", "europe-west4-c"},
	"asia-southeast1": {"asia-southeast1-a", "asia-southeast1-b", "asia-southeast1-c"},
	"asia-northeast1": {"asia-northeast1-a", "asia-northeast1-b", "asia-northeast1-c"},
}

// regionFactor scales us-central1 list prices to a region.
var regionFactor = map[string]float64{
	"us-central1": 1, "us-east1": 1, "us-east4": 1.126, "us-west1": 1,
	"europe-west1": 1.1, "europe-west4": 1.1, "asia-southeast1": 1.23, "asia-northeast1": 1.29,
}

// billingGeo is the geography word Google's SKU descriptions use.
var billingGeo = map[string]string{
	"us-central1": "Americas", "us-east1": "Americas", "us-east4": "Virginia", "us-west1": "Americas",
	"europe-west1": "EMEA", "europe-west4": "Netherlands", "asia-southeast1": "Singapore", "asia-northeast1": "Japan",
}

// spotFactor is the spot price as a share of the on-demand price.
const spotFactor = 0.35

var allRegions = []string{"us-central1", "us-east1", "us-east4", "us-west1", "europe-west1", "europe-west4", "asia-southeast1", "asia-northeast1"}

// family is a machine family: per-vCPU and per-GiB prices in us-central1,
// the quota its on-demand vCPUs count against, and where it is offered.
type family struct {
	name      string
	core, ram float64
	arch      string
	gen       int
	quota     string
	regions   []string
	// sku is the family's word in billing SKU descriptions ("N2D AMD").
	sku string
}

var families = map[string]family{
	"e2":  {name: "e2", core: 0.021811, ram: 0.002923, arch: "x86_64", gen: 2, quota: "CPUS", regions: allRegions, sku: "E2"},
	"n1":  {name: "n1", core: 0.031611, ram: 0.004237, arch: "x86_64", gen: 1, quota: "CPUS", regions: allRegions, sku: "N1 Predefined"},
	"n2":  {name: "n2", core: 0.031611, ram: 0.004237, arch: "x86_64", gen: 2, quota: "N2_CPUS", regions: allRegions, sku: "N2"},
	"n2d": {name: "n2d", core: 0.027502, ram: 0.003686, arch: "x86_64", gen: 2, quota: "N2D_CPUS", regions: allRegions, sku: "N2D AMD"},
	"c3":  {name: "c3", core: 0.03398, ram: 0.00456, arch: "x86_64", gen: 3, quota: "C3_CPUS", regions: []string{"us-central1", "us-east1", "us-east4", "us-west1", "europe-west1", "europe-west4", "asia-southeast1"}, sku: "C3"},
	"c3d": {name: "c3d", core: 0.029563, ram: 0.003959, arch: "x86_64", gen: 3, quota: "C3D_CPUS", regions: []string{"us-central1", "us-east1", "us-east4", "europe-west1", "europe-west4", "asia-southeast1"}, sku: "C3D"},
	"c4":  {name: "c4", core: 0.03465, ram: 0.003938, arch: "x86_64", gen: 4, quota: "C4_CPUS", regions: []string{"us-central1", "us-east1", "us-east4", "europe-west1", "europe-west4", "asia-southeast1"}, sku: "C4"},
	"t2a": {name: "t2a", core: 0.0385, ram: 0.0048, arch: "arm64", gen: 2, quota: "T2A_CPUS", regions: []string{"us-central1", "europe-west4", "asia-southeast1"}, sku: "T2A Arm"},
	"c4a": {name: "c4a", core: 0.03086, ram: 0.00349, arch: "arm64", gen: 4, quota: "C4A_CPUS", regions: []string{"us-central1", "us-east1", "us-east4", "europe-west1", "europe-west4", "asia-southeast1"}, sku: "C4A Arm"},
	"a2":  {name: "a2", core: 0.031611, ram: 0.004237, arch: "x86_64", gen: 2, quota: "A2_CPUS", regions: []string{"us-central1", "us-east1", "us-east4", "europe-west4", "asia-southeast1", "asia-northeast1"}, sku: "A2"},
	"a3":  {name: "a3", core: 0.0297, ram: 0.0026, arch: "x86_64", gen: 3, quota: "A3_CPUS", regions: []string{"us-central1", "us-east4", "europe-west4", "asia-southeast1"}, sku: "A3"},
	"g2":  {name: "g2", core: 0.024988, ram: 0.002927, arch: "x86_64", gen: 2, quota: "G2_CPUS", regions: allRegions, sku: "G2"},
}

// accelerator is a GPU type: its burst model name, memory per GPU, price,
// quotas, regions, and, for GPUs attachable to N1 machines, the most vCPUs
// an N1 machine may have for each GPU count.
type accelerator struct {
	name    string
	model   string
	memGiB  float64
	price   float64
	quota   string
	regions []string
	// sku is the GPU's name in billing SKU descriptions.
	sku string
	// n1 maps a GPU count to the largest N1 vCPU count it supports; nil
	// means the GPU only comes bundled with its machine family.
	n1 map[int]int
}

var accelerators = map[string]accelerator{
	"nvidia-tesla-t4":   {name: "nvidia-tesla-t4", model: "T4", memGiB: 16, price: 0.35, quota: "NVIDIA_T4_GPUS", regions: allRegions, sku: "Nvidia Tesla T4", n1: map[int]int{1: 48, 2: 48, 4: 96}},
	"nvidia-tesla-v100": {name: "nvidia-tesla-v100", model: "V100", memGiB: 16, price: 2.48, quota: "NVIDIA_V100_GPUS", regions: []string{"us-central1", "us-west1", "europe-west4"}, sku: "Nvidia Tesla V100", n1: map[int]int{1: 12, 2: 24, 4: 48, 8: 96}},
	"nvidia-tesla-p100": {name: "nvidia-tesla-p100", model: "P100", memGiB: 16, price: 1.46, quota: "NVIDIA_P100_GPUS", regions: []string{"us-central1", "us-east1", "us-west1", "europe-west1", "europe-west4"}, sku: "Nvidia Tesla P100", n1: map[int]int{1: 16, 2: 32, 4: 96}},
	"nvidia-tesla-a100": {name: "nvidia-tesla-a100", model: "A100", memGiB: 40, price: 2.933908, quota: "NVIDIA_A100_GPUS", regions: families["a2"].regions, sku: "Nvidia Tesla A100"},
	"nvidia-a100-80gb":  {name: "nvidia-a100-80gb", model: "A100-80GB", memGiB: 80, price: 3.92808, quota: "NVIDIA_A100_80GB_GPUS", regions: []string{"us-central1", "us-east4", "europe-west4", "asia-southeast1"}, sku: "Nvidia A100 80GB"},
	"nvidia-h100-80gb":  {name: "nvidia-h100-80gb", model: "H100", memGiB: 80, price: 9.79655, quota: "NVIDIA_H100_GPUS", regions: families["a3"].regions, sku: "Nvidia H100 80GB"},
	"nvidia-l4":         {name: "nvidia-l4", model: "L4", memGiB: 24, price: 0.560408, quota: "NVIDIA_L4_GPUS", regions: allRegions, sku: "Nvidia L4"},
}

// machineType is one GCE machine type (or, for N1 with attached GPUs, one
// machine type and accelerator combination).
type machineType struct {
	name   string
	family string
	vcpus  int
	memGiB float64
	// shared is the billed share of a vCPU for shared-core types (e2-micro
	// bills a quarter of one E2 vCPU); 0 for dedicated cores.
	shared float64
	// accel and accelCount are the GPUs: bundled for A2, A3 and G2, attached
	// for N1 combinations.
	accel      string
	accelCount int
	// attached marks an N1 + accelerator combination.
	attached bool
	base     string // the machine type of an attached combination
}

// CombinationName names an N1 machine type with attached GPUs the way burst's
// catalog does: "n1-standard-8+nvidia-tesla-t4x1". GCE has no such machine
// type; the launch sends machineType n1-standard-8 and a guestAccelerators
// entry.
func CombinationName(machine, accel string, count int) string {
	return fmt.Sprintf("%s+%sx%d", machine, accel, count)
}

var machineTypes = buildMachineTypes()

func buildMachineTypes() map[string]machineType {
	out := map[string]machineType{}
	add := func(t machineType) { out[t.name] = t }
	shapes := func(fam string, kinds map[string]float64, sizes map[string][]int) {
		for kind, perCPU := range kinds {
			for _, n := range sizes[kind] {
				add(machineType{name: fmt.Sprintf("%s-%s-%d", fam, kind, n), family: fam, vcpus: n, memGiB: perCPU * float64(n)})
			}
		}
	}
	shapes("e2", map[string]float64{"standard": 4, "highmem": 8, "highcpu": 1},
		map[string][]int{"standard": {2, 4, 8, 16, 32}, "highmem": {2, 4, 8, 16}, "highcpu": {2, 4, 8, 16, 32}})
	add(machineType{name: "e2-micro", family: "e2", vcpus: 2, memGiB: 1, shared: 0.25})
	add(machineType{name: "e2-small", family: "e2", vcpus: 2, memGiB: 2, shared: 0.5})
	add(machineType{name: "e2-medium", family: "e2", vcpus: 2, memGiB: 4, shared: 1})
	n2 := []int{2, 4, 8, 16, 32, 48, 64, 80, 96, 128}
	shapes("n2", map[string]float64{"standard": 4, "highmem": 8, "highcpu": 1},
		map[string][]int{"standard": n2, "highmem": n2, "highcpu": n2[:9]})
	n2d := []int{2, 4, 8, 16, 32, 48, 64, 80, 96, 128, 224}
	shapes("n2d", map[string]float64{"standard": 4, "highmem": 8, "highcpu": 1},
		map[string][]int{"standard": n2d, "highmem": n2d[:10], "highcpu": n2d})
	c3 := []int{4, 8, 22, 44, 88, 176}
	shapes("c3", map[string]float64{"standard": 4, "highmem": 8, "highcpu": 2},
		map[string][]int{"standard": c3, "highmem": c3, "highcpu": c3})
	c3d := []int{4, 8, 16, 30, 60, 90, 180, 360}
	shapes("c3d", map[string]float64{"standard": 4, "highmem": 8, "highcpu": 2},
		map[string][]int{"standard": c3d, "highmem": c3d, "highcpu": c3d})
	c4 := []int{2, 4, 8, 16, 32, 48, 96, 192}
	shapes("c4", map[string]float64{"standard": 3.75, "highmem": 7.75, "highcpu": 2},
		map[string][]int{"standard": c4, "highmem": c4, "highcpu": c4[1:]})
	shapes("t2a", map[string]float64{"standard": 4}, map[string][]int{"standard": {1, 2, 4, 8, 16, 32, 48}})
	c4a := []int{1, 2, 4, 8, 16, 32, 48, 64, 72}
	shapes("c4a", map[string]float64{"standard": 4, "highmem": 8, "highcpu": 2},
		map[string][]int{"standard": c4a, "highmem": c4a, "highcpu": c4a})
	n1 := []int{1, 2, 4, 8, 16, 32, 64, 96}
	shapes("n1", map[string]float64{"standard": 3.75, "highmem": 6.5, "highcpu": 0.9},
		map[string][]int{"standard": n1, "highmem": n1[1:], "highcpu": n1[1:]})
	for _, t := range []machineType{
		{name: "a2-highgpu-1g", vcpus: 12, memGiB: 85, accelCount: 1},
		{name: "a2-highgpu-2g", vcpus: 24, memGiB: 170, accelCount: 2},
		{name: "a2-highgpu-4g", vcpus: 48, memGiB: 340, accelCount: 4},
		{name: "a2-highgpu-8g", vcpus: 96, memGiB: 680, accelCount: 8},
		{name: "a2-megagpu-16g", vcpus: 96, memGiB: 1360, accelCount: 16},
	} {
		t.family, t.accel = "a2", "nvidia-tesla-a100"
		add(t)
	}
	for _, t := range []machineType{
		{name: "a2-ultragpu-1g", vcpus: 12, memGiB: 170, accelCount: 1},
		{name: "a2-ultragpu-2g", vcpus: 24, memGiB: 340, accelCount: 2},
		{name: "a2-ultragpu-4g", vcpus: 48, memGiB: 680, accelCount: 4},
		{name: "a2-ultragpu-8g", vcpus: 96, memGiB: 1360, accelCount: 8},
	} {
		t.family, t.accel = "a2", "nvidia-a100-80gb"
		add(t)
	}
	for _, t := range []machineType{
		{name: "a3-highgpu-1g", vcpus: 26, memGiB: 234, accelCount: 1},
		{name: "a3-highgpu-2g", vcpus: 52, memGiB: 468, accelCount: 2},
		{name: "a3-highgpu-4g", vcpus: 104, memGiB: 936, accelCount: 4},
		{name: "a3-highgpu-8g", vcpus: 208, memGiB: 1872, accelCount: 8},
	} {
		t.family, t.accel = "a3", "nvidia-h100-80gb"
		add(t)
	}
	for _, t := range []machineType{
		{name: "g2-standard-4", vcpus: 4, memGiB: 16, accelCount: 1},
		{name: "g2-standard-8", vcpus: 8, memGiB: 32, accelCount: 1},
		{name: "g2-standard-12", vcpus: 12, memGiB: 48, accelCount: 1},
		{name: "g2-standard-16", vcpus: 16, memGiB: 64, accelCount: 1},
		{name: "g2-standard-24", vcpus: 24, memGiB: 96, accelCount: 2},
		{name: "g2-standard-32", vcpus: 32, memGiB: 128, accelCount: 1},
		{name: "g2-standard-48", vcpus: 48, memGiB: 192, accelCount: 4},
		{name: "g2-standard-96", vcpus: 96, memGiB: 384, accelCount: 8},
	} {
		t.family, t.accel = "g2", "nvidia-l4"
		add(t)
	}
	// N1 machines with attached GPUs: every GPU count the accelerator allows
	// on every N1 type within its vCPU limit.
	var n1Types []machineType
	for _, t := range out {
		if t.family == "n1" && t.accel == "" {
			n1Types = append(n1Types, t)
		}
	}
	for _, a := range accelerators {
		for count, maxCPU := range a.n1 {
			for _, t := range n1Types {
				if t.vcpus > maxCPU {
					continue
				}
				c := t
				c.name, c.base, c.accel, c.accelCount, c.attached = CombinationName(t.name, a.name, count), t.name, a.name, count, true
				add(c)
			}
		}
	}
	return out
}

// regionsOf returns the regions where a machine type is offered: its
// family's, narrowed to where its GPU is.
func (t machineType) regionsOf() []string {
	rs := families[t.family].regions
	if t.accel != "" {
		rs = slices.DeleteFunc(slices.Clone(rs), func(r string) bool { return !slices.Contains(accelerators[t.accel].regions, r) })
	}
	return rs
}

// price is the hourly price of one machine in a region at a capacity type.
func (t machineType) price(region string, spot bool) float64 {
	f := families[t.family]
	cpus := float64(t.vcpus)
	if t.shared > 0 {
		cpus = t.shared
	}
	p := cpus*f.core + t.memGiB*f.ram
	if t.accel != "" {
		p += float64(t.accelCount) * accelerators[t.accel].price
	}
	p *= regionFactor[region]
	if spot {
		p *= spotFactor
	}
	return float64(int64(p*1e6+0.5)) / 1e6
}

// machineName is the GCE machine type a launch names for t.
func (t machineType) machineName() string {
	if t.attached {
		return t.base
	}
	return t.name
}

// Regions returns the simulated regions and their zones.
func Regions() map[string][]string {
	out := map[string][]string{}
	for r, zs := range regionZones {
		out[r] = slices.Clone(zs)
	}
	return out
}

// Types returns the simulated machine types as catalog types, with
// region-level on-demand and spot offerings (Zone empty), sorted by name.
// Pass them as cloudsim.Config.Types.
func Types() []catalog.Type {
	out := make([]catalog.Type, 0, len(machineTypes))
	for _, t := range machineTypes {
		f := families[t.family]
		ct := catalog.Type{Provider: "gcp", Name: t.name, Family: t.family, VCPUs: t.vcpus, MemoryGiB: t.memGiB,
			Arch: f.arch, Generation: f.gen, Burstable: t.shared > 0}
		if t.accel != "" {
			a := accelerators[t.accel]
			ct.GPUs, ct.GPUModel, ct.GPUMemoryGiB = t.accelCount, a.model, a.memGiB
		}
		for _, r := range t.regionsOf() {
			ct.Offerings = append(ct.Offerings,
				catalog.Offering{Region: r, Capacity: catalog.OnDemand, Price: t.price(r, false)},
				catalog.Offering{Region: r, Capacity: catalog.Spot, Price: t.price(r, true)})
		}
		out = append(out, ct)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// lookupType resolves a launch's machine type and accelerators to the
// simulated type, or GCE's answer to an invalid one.
func lookupType(machine string, accel string, count int) (machineType, *apiError) {
	if accel == "" {
		t, ok := machineTypes[machine]
		if !ok || t.attached {
			return machineType{}, invalid("Invalid value for field 'resource.machineType': '%s'. Machine type with name '%s' does not exist.", machine, machine)
		}
		return t, nil
	}
	base, ok := machineTypes[machine]
	if !ok {
		return machineType{}, invalid("Invalid value for field 'resource.machineType': '%s'. Machine type with name '%s' does not exist.", machine, machine)
	}
	if base.accel != "" {
		return machineType{}, invalid("Invalid value for field 'resource.guestAccelerators': machine type %s comes with its own accelerators", machine)
	}
	t, ok := machineTypes[CombinationName(machine, accel, count)]
	if !ok {
		return machineType{}, invalid("Invalid value for field 'resource.guestAccelerators': %d x %s cannot be attached to %s", count, accel, machine)
	}
	return t, nil
}

// quotaMetric turns a GPU quota into its preemptible (spot) counterpart.
func preemptible(metric string) string { return "PREEMPTIBLE_" + metric }
