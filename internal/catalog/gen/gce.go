package main

import (
	"fmt"
	"math"
	"time"

	"github.com/burstdev/burst/internal/catalog"
)

// GCE data: a hand-built table, since Compute Engine prices predefined
// machine types per vCPU-hour and GiB-hour by family and region, plus a
// price per GPU. Sources: Google's public "VM instance pricing", "Spot VM
// pricing" and "GPU pricing" pages, us-central1 list prices as of May 2025;
// other regions apply the multiplier of gceRegions (rounded from the
// published regional prices). Spot prices move monthly on GCE; the table
// keeps one spot/on-demand ratio per family. Expect a few percent of error;
// `burst catalog refresh --provider gcp` replaces it with live prices.
var gceDate = time.Date(2025, 5, 28, 0, 0, 0, 0, time.UTC)

type gceRegion struct {
	name  string
	zones []string
	mult  float64
}

var gceRegions = []gceRegion{
	{"us-central1", []string{"a", "b", "c", "f"}, 1.0},
	{"us-east1", []string{"b", "c", "d"}, 1.0},
	{"us-east4", []string{"a", "b", "c"}, 1.126},
	{"us-east5", []string{"a", "b", "c"}, 1.0},
	{"us-south1", []string{"a", "b", "c"}, 1.18},
	{"us-west1", []string{"a", "b", "c"}, 1.0},
	{"us-west2", []string{"a", "b", "c"}, 1.2},
	{"us-west3", []string{"a", "b", "c"}, 1.2},
	{"us-west4", []string{"a", "b", "c"}, 1.126},
	{"northamerica-northeast1", []string{"a", "b", "c"}, 1.1},
	{"northamerica-northeast2", []string{"a", "b", "c"}, 1.1},
	{"southamerica-east1", []string{"a", "b", "c"}, 1.59},
	{"europe-west1", []string{"b", "c", "d"}, 1.1},
	{"europe-west2", []string{"a", "b", "c"}, 1.14},
	{"europe-west3", []string{"a", "b", "c"}, 1.18},
	{"europe-west4", []string{"a", "b", "c"}, 1.1},
	{"europe-west6", []string{"a", "b", "c"}, 1.4},
	{"europe-west9", []string{"a", "b", "c"}, 1.16},
	{"europe-north1", []string{"a", "b", "c"}, 1.1},
	{"europe-central2", []string{"a", "b", "c"}, 1.29},
	{"asia-east1", []string{"a", "b", "c"}, 1.16},
	{"asia-northeast1", []string{"a", "b", "c"}, 1.28},
	{"asia-northeast3", []string{"a", "b", "c"}, 1.28},
	{"asia-south1", []string{"a", "b", "c"}, 1.04},
	{"asia-southeast1", []string{"a", "b", "c"}, 1.23},
	{"australia-southeast1", []string{"a", "b", "c"}, 1.25},
	{"me-west1", []string{"a", "b", "c"}, 1.1},
}

// Region sets for families not offered everywhere.
var (
	gceAll    = regionNames(gceRegions)
	gceMajor  = []string{"us-central1", "us-east1", "us-east4", "us-east5", "us-south1", "us-west1", "us-west4", "northamerica-northeast1", "europe-west1", "europe-west2", "europe-west3", "europe-west4", "europe-north1", "asia-east1", "asia-northeast1", "asia-south1", "asia-southeast1", "australia-southeast1"}
	gceArm    = []string{"us-central1", "us-east1", "us-east4", "us-west1", "europe-west1", "europe-west3", "europe-west4", "asia-southeast1"}
	gceA100   = []string{"us-central1", "us-east1", "us-west1", "us-west3", "us-west4", "europe-west4", "asia-northeast1", "asia-northeast3", "asia-southeast1", "me-west1"}
	gceA10080 = []string{"us-central1", "us-east4", "us-east5", "europe-west4", "asia-southeast1"}
	gceH100   = []string{"us-central1", "us-east4", "us-east5", "us-west1", "us-west4", "europe-west1", "europe-west4", "asia-northeast1", "asia-southeast1"}
	gceH200   = []string{"us-central1", "us-east4", "europe-west1", "asia-south1"}
	gceL4     = []string{"us-central1", "us-east1", "us-east4", "us-west1", "us-west4", "europe-west1", "europe-west2", "europe-west3", "europe-west4", "asia-east1", "asia-northeast1", "asia-northeast3", "asia-south1", "asia-southeast1"}
	gceT4     = []string{"us-central1", "us-east1", "us-east4", "us-west1", "us-west2", "us-west4", "northamerica-northeast1", "southamerica-east1", "europe-west1", "europe-west2", "europe-west3", "europe-west4", "europe-central2", "asia-east1", "asia-northeast1", "asia-northeast3", "asia-south1", "asia-southeast1", "australia-southeast1", "me-west1"}
	gceV100   = []string{"us-central1", "us-east1", "us-west1", "europe-west4", "asia-east1"}
	gceP100   = []string{"us-central1", "us-east1", "us-west1", "europe-west1", "europe-west4", "asia-east1"}
	gceP4     = []string{"us-central1", "us-east4", "us-west2", "northamerica-northeast1", "europe-west4", "asia-southeast1", "australia-southeast1"}
)

// A gceFamily is priced per vCPU-hour and GiB-hour (us-central1); spot is
// a fraction of that.
type gceFamily struct {
	name       string
	gen        int
	arch       string
	vcpu, gib  float64 // USD per hour
	spot       float64 // spot price / on-demand price
	regions    []string
	shapes     []gceShape
	burstables []gceFixed // shared-core types, priced as a whole
}

// A gceShape is one class of a family: its memory per vCPU and sizes.
type gceShape struct {
	class  string
	memPer float64 // GiB per vCPU; 0 with fixed memory below
	sizes  []int
	mem    map[int]float64 // memory by size where the rule does not apply
}

type gceFixed struct {
	name  string
	vcpus int
	gib   float64
	price float64
}

var gceFamilies = []gceFamily{
	{name: "e2", gen: 2, arch: "x86_64", vcpu: 0.021811, gib: 0.002923, spot: 0.40, regions: gceAll,
		shapes: []gceShape{
			{class: "standard", memPer: 4, sizes: []int{2, 4, 8, 16, 32}},
			{class: "highmem", memPer: 8, sizes: []int{2, 4, 8, 16}},
			{class: "highcpu", memPer: 1, sizes: []int{2, 4, 8, 16, 32}},
		},
		burstables: []gceFixed{{"e2-micro", 2, 1, 0.00838}, {"e2-small", 2, 2, 0.016751}, {"e2-medium", 2, 4, 0.033503}},
	},
	{name: "n1", gen: 1, arch: "x86_64", vcpu: 0.031611, gib: 0.004237, spot: 0.235, regions: gceAll,
		shapes: []gceShape{
			{class: "standard", memPer: 3.75, sizes: []int{1, 2, 4, 8, 16, 32, 64, 96}},
			{class: "highmem", memPer: 6.5, sizes: []int{2, 4, 8, 16, 32, 64, 96}},
			{class: "highcpu", memPer: 0.9, sizes: []int{2, 4, 8, 16, 32, 64, 96}},
		}},
	{name: "n2", gen: 2, arch: "x86_64", vcpu: 0.031611, gib: 0.004237, spot: 0.354, regions: gceAll,
		shapes: []gceShape{
			{class: "standard", memPer: 4, sizes: []int{2, 4, 8, 16, 32, 48, 64, 80, 96, 128}},
			{class: "highmem", memPer: 8, sizes: []int{2, 4, 8, 16, 32, 48, 64, 80, 96, 128}, mem: map[int]float64{128: 864}},
			{class: "highcpu", memPer: 1, sizes: []int{2, 4, 8, 16, 32, 48, 64, 80, 96}},
		}},
	{name: "n2d", gen: 2, arch: "x86_64", vcpu: 0.027502, gib: 0.003686, spot: 0.207, regions: gceAll,
		shapes: []gceShape{
			{class: "standard", memPer: 4, sizes: []int{2, 4, 8, 16, 32, 48, 64, 80, 96, 128, 224}},
			{class: "highmem", memPer: 8, sizes: []int{2, 4, 8, 16, 32, 48, 64, 80, 96}},
			{class: "highcpu", memPer: 1, sizes: []int{2, 4, 8, 16, 32, 48, 64, 80, 96, 128, 224}},
		}},
	{name: "t2d", gen: 2, arch: "x86_64", vcpu: 0.027502, gib: 0.003686, spot: 0.111, regions: gceMajor,
		shapes: []gceShape{{class: "standard", memPer: 4, sizes: []int{1, 2, 4, 8, 16, 32, 48, 60}}}},
	{name: "t2a", gen: 2, arch: "arm64", vcpu: 0.022, gib: 0.0041250, spot: 0.277, regions: gceArm,
		shapes: []gceShape{{class: "standard", memPer: 4, sizes: []int{1, 2, 4, 8, 16, 32, 48}}}},
	{name: "c2", gen: 2, arch: "x86_64", vcpu: 0.03398, gib: 0.00455, spot: 0.257, regions: gceMajor,
		shapes: []gceShape{{class: "standard", memPer: 4, sizes: []int{4, 8, 16, 30, 60}}}},
	{name: "c2d", gen: 2, arch: "x86_64", vcpu: 0.029563, gib: 0.003959, spot: 0.228, regions: gceMajor,
		shapes: []gceShape{
			{class: "standard", memPer: 4, sizes: []int{2, 4, 8, 16, 32, 56, 112}},
			{class: "highmem", memPer: 8, sizes: []int{2, 4, 8, 16, 32, 56, 112}},
			{class: "highcpu", memPer: 2, sizes: []int{2, 4, 8, 16, 32, 56, 112}},
		}},
	{name: "c3", gen: 3, arch: "x86_64", vcpu: 0.03465, gib: 0.003938, spot: 0.156, regions: gceMajor,
		shapes: []gceShape{
			{class: "standard", memPer: 4, sizes: []int{4, 8, 22, 44, 88, 176}},
			{class: "highmem", memPer: 8, sizes: []int{4, 8, 22, 44, 88, 176}},
			{class: "highcpu", memPer: 2, sizes: []int{4, 8, 22, 44, 88, 176}},
		}},
	{name: "c3d", gen: 3, arch: "x86_64", vcpu: 0.029563, gib: 0.003959, spot: 0.233, regions: gceMajor,
		shapes: []gceShape{
			{class: "standard", memPer: 4, sizes: []int{4, 8, 16, 30, 60, 90, 180, 360}},
			{class: "highmem", memPer: 8, sizes: []int{4, 8, 16, 30, 60, 90, 180, 360}},
			{class: "highcpu", memPer: 2, sizes: []int{4, 8, 16, 30, 60, 90, 180, 360}},
		}},
	{name: "n4", gen: 4, arch: "x86_64", vcpu: 0.032578, gib: 0.003702, spot: 0.40, regions: gceMajor,
		shapes: []gceShape{
			{class: "standard", memPer: 4, sizes: []int{2, 4, 8, 16, 32, 48, 64, 80}},
			{class: "highmem", memPer: 8, sizes: []int{2, 4, 8, 16, 32, 48, 64, 80}},
			{class: "highcpu", memPer: 2, sizes: []int{2, 4, 8, 16, 32, 48, 64, 80}},
		}},
	{name: "c4", gen: 4, arch: "x86_64", vcpu: 0.03465, gib: 0.003938, spot: 0.382, regions: gceMajor,
		shapes: []gceShape{
			{class: "standard", sizes: []int{2, 4, 8, 16, 32, 48, 96, 192}, mem: map[int]float64{2: 7, 4: 15, 8: 30, 16: 60, 32: 120, 48: 180, 96: 360, 192: 720}},
			{class: "highmem", sizes: []int{2, 4, 8, 16, 32, 48, 96, 192}, mem: map[int]float64{2: 15, 4: 31, 8: 62, 16: 124, 32: 248, 48: 372, 96: 744, 192: 1488}},
			{class: "highcpu", memPer: 2, sizes: []int{2, 4, 8, 16, 32, 48, 96, 192}},
		}},
	{name: "c4a", gen: 4, arch: "arm64", vcpu: 0.03086, gib: 0.00351, spot: 0.289, regions: gceArm,
		shapes: []gceShape{
			{class: "standard", memPer: 4, sizes: []int{1, 2, 4, 8, 16, 32, 48, 64, 72}},
			{class: "highmem", memPer: 8, sizes: []int{1, 2, 4, 8, 16, 32, 48, 64, 72}},
			{class: "highcpu", memPer: 2, sizes: []int{1, 2, 4, 8, 16, 32, 48, 64, 72}},
		}},
	{name: "m3", gen: 3, arch: "x86_64", vcpu: 0.0348, gib: 0.0051, spot: 0.40, regions: []string{"us-central1", "us-east1", "us-east4", "us-west1", "europe-west1", "europe-west4", "asia-northeast1", "asia-southeast1"},
		shapes: []gceShape{
			{class: "ultramem", sizes: []int{32, 64, 128}, mem: map[int]float64{32: 976, 64: 1952, 128: 3904}},
			{class: "megamem", sizes: []int{64, 128}, mem: map[int]float64{64: 976, 128: 1952}},
		}},
}

// GPU machines are priced as a whole (machine and GPUs, us-central1).
type gceGPUMachine struct {
	name        string
	family      string
	gen         int
	vcpus       int
	gib         float64
	gpus        int
	model       string
	gpuMem      float64
	price, spot float64 // spot as a fraction
	regions     []string
}

var gceGPUMachines = []gceGPUMachine{
	{"a2-highgpu-1g", "a2", 2, 12, 85, 1, "A100", 40, 3.673385, 0.30, gceA100},
	{"a2-highgpu-2g", "a2", 2, 24, 170, 2, "A100", 40, 7.34677, 0.30, gceA100},
	{"a2-highgpu-4g", "a2", 2, 48, 340, 4, "A100", 40, 14.69354, 0.30, gceA100},
	{"a2-highgpu-8g", "a2", 2, 96, 680, 8, "A100", 40, 29.38708, 0.30, gceA100},
	{"a2-megagpu-16g", "a2", 2, 96, 1360, 16, "A100", 40, 55.739504, 0.30, gceA100},
	{"a2-ultragpu-1g", "a2", 2, 12, 170, 1, "A100-80GB", 80, 5.06879, 0.40, gceA10080},
	{"a2-ultragpu-2g", "a2", 2, 24, 340, 2, "A100-80GB", 80, 10.13758, 0.40, gceA10080},
	{"a2-ultragpu-4g", "a2", 2, 48, 680, 4, "A100-80GB", 80, 20.27516, 0.40, gceA10080},
	{"a2-ultragpu-8g", "a2", 2, 96, 1360, 8, "A100-80GB", 80, 40.55032, 0.40, gceA10080},
	{"a3-highgpu-1g", "a3", 3, 26, 234, 1, "H100", 80, 11.061250, 0.30, gceH100},
	{"a3-highgpu-2g", "a3", 3, 52, 468, 2, "H100", 80, 22.1225, 0.30, gceH100},
	{"a3-highgpu-4g", "a3", 3, 104, 936, 4, "H100", 80, 44.245, 0.30, gceH100},
	{"a3-highgpu-8g", "a3", 3, 208, 1872, 8, "H100", 80, 88.49, 0.30, gceH100},
	{"a3-megagpu-8g", "a3", 3, 208, 1872, 8, "H100", 80, 92.15, 0.30, gceH100},
	{"a3-ultragpu-8g", "a3", 3, 224, 2952, 8, "H200", 141, 84.81, 0.35, gceH200},
	{"g2-standard-4", "g2", 3, 4, 16, 1, "L4", 24, 0.70683228, 0.40, gceL4},
	{"g2-standard-8", "g2", 3, 8, 32, 1, "L4", 24, 0.85364256, 0.40, gceL4},
	{"g2-standard-12", "g2", 3, 12, 48, 1, "L4", 24, 1.00045284, 0.40, gceL4},
	{"g2-standard-16", "g2", 3, 16, 64, 1, "L4", 24, 1.14726312, 0.40, gceL4},
	{"g2-standard-24", "g2", 3, 24, 96, 2, "L4", 24, 2.00090568, 0.40, gceL4},
	{"g2-standard-32", "g2", 3, 32, 128, 1, "L4", 24, 1.73450424, 0.40, gceL4},
	{"g2-standard-48", "g2", 3, 48, 192, 4, "L4", 24, 4.00181136, 0.40, gceL4},
	{"g2-standard-96", "g2", 3, 96, 384, 8, "L4", 24, 8.00362272, 0.40, gceL4},
}

// GPUs attached to N1 machines: price per GPU-hour (us-central1), spot
// fraction, and the most vCPUs an N1 machine may have per GPU count.
type gceAccel struct {
	accel   string // the GCE accelerator type
	model   string
	mem     float64
	price   float64
	spot    float64
	maxCPU  map[int]int // GPU count -> most vCPUs
	regions []string
}

var gceAccels = []gceAccel{
	{"nvidia-tesla-t4", "T4", 16, 0.35, 0.40, map[int]int{1: 48, 2: 48, 4: 96}, gceT4},
	{"nvidia-tesla-v100", "V100", 16, 2.48, 0.40, map[int]int{1: 12, 2: 24, 4: 48, 8: 96}, gceV100},
	{"nvidia-tesla-p100", "P100", 16, 1.46, 0.40, map[int]int{1: 16, 2: 32, 4: 64}, gceP100},
	{"nvidia-tesla-p4", "P4", 8, 0.60, 0.40, map[int]int{1: 24, 2: 48, 4: 96}, gceP4},
}

// GCEAttachedName is the catalog name of an N1 machine with attached GPUs:
// "n1-standard-8+nvidia-tesla-t4x2" (see catalog.SplitAttached).
func gceAttachedName(machine, accel string, n int) string {
	return fmt.Sprintf("%s+%sx%d", machine, accel, n)
}

func buildGCP() *catalog.Catalog {
	c := &catalog.Catalog{Date: gceDate, Source: "embedded: hand-built GCE table (docs/design/planner.md)", Zones: map[string][]string{}}
	mult := map[string]float64{}
	for _, r := range gceRegions {
		mult[r.name] = r.mult
		zs := make([]string, len(r.zones))
		for i, z := range r.zones {
			zs[i] = r.name + "-" + z
		}
		c.Zones[r.name] = zs
	}
	offer := func(t *catalog.Type, regions []string, price, spot float64) {
		for _, r := range regions {
			m, ok := mult[r]
			if !ok {
				panic("gce: unknown region " + r)
			}
			t.Offerings = append(t.Offerings,
				catalog.Offering{Region: r, Capacity: catalog.OnDemand, Price: round6(price * m)},
				catalog.Offering{Region: r, Capacity: catalog.Spot, Price: round6(price * spot * m)})
		}
	}
	n1 := map[string]catalog.Type{}
	for _, f := range gceFamilies {
		for _, s := range f.shapes {
			for _, n := range s.sizes {
				mem := s.mem[n]
				if mem == 0 {
					mem = s.memPer * float64(n)
				}
				t := catalog.Type{Provider: "gcp", Name: fmt.Sprintf("%s-%s-%d", f.name, s.class, n), Family: f.name,
					VCPUs: n, MemoryGiB: mem, Arch: f.arch, Generation: f.gen}
				offer(&t, f.regions, f.vcpu*float64(n)+f.gib*mem, f.spot)
				c.Types = append(c.Types, t)
				if f.name == "n1" {
					n1[t.Name] = t
				}
			}
		}
		for _, b := range f.burstables {
			t := catalog.Type{Provider: "gcp", Name: b.name, Family: f.name, VCPUs: b.vcpus, MemoryGiB: b.gib, Arch: f.arch, Generation: f.gen, Burstable: true}
			offer(&t, f.regions, b.price, f.spot)
			c.Types = append(c.Types, t)
		}
	}
	for _, g := range gceGPUMachines {
		t := catalog.Type{Provider: "gcp", Name: g.name, Family: g.family, VCPUs: g.vcpus, MemoryGiB: g.gib, Arch: "x86_64",
			GPUs: g.gpus, GPUModel: g.model, GPUMemoryGiB: g.gpuMem, Generation: g.gen}
		offer(&t, g.regions, g.price, g.spot)
		c.Types = append(c.Types, t)
	}
	// N1 hosts for attached GPUs: a few standard and highmem sizes per GPU
	// count, within the per-count vCPU limit.
	hosts := []string{"n1-standard-4", "n1-standard-8", "n1-standard-16", "n1-standard-32", "n1-highmem-4", "n1-highmem-8", "n1-highmem-16", "n1-highmem-32", "n1-standard-64", "n1-highmem-64", "n1-standard-96", "n1-highmem-96"}
	for _, a := range gceAccels {
		for _, count := range []int{1, 2, 4, 8} {
			maxCPU, ok := a.maxCPU[count]
			if !ok {
				continue
			}
			for _, h := range hosts {
				base := n1[h]
				if base.VCPUs > maxCPU || base.VCPUs < 4 {
					continue
				}
				f := gceFamilies[1] // n1
				hostPrice := f.vcpu*float64(base.VCPUs) + f.gib*base.MemoryGiB
				t := catalog.Type{Provider: "gcp", Name: gceAttachedName(h, a.accel, count), Family: "n1", VCPUs: base.VCPUs, MemoryGiB: base.MemoryGiB,
					Arch: "x86_64", GPUs: count, GPUModel: a.model, GPUMemoryGiB: a.mem, Generation: 1}
				regions := intersect(f.regions, a.regions)
				for _, r := range regions {
					m := mult[r]
					t.Offerings = append(t.Offerings,
						catalog.Offering{Region: r, Capacity: catalog.OnDemand, Price: round6((hostPrice + a.price*float64(count)) * m)},
						catalog.Offering{Region: r, Capacity: catalog.Spot, Price: round6((hostPrice*f.spot + a.price*float64(count)*a.spot) * m)})
				}
				c.Types = append(c.Types, t)
			}
		}
	}
	return c
}

func regionNames(rs []gceRegion) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.name
	}
	return out
}

func intersect(a, b []string) []string {
	in := map[string]bool{}
	for _, x := range b {
		in[x] = true
	}
	var out []string
	for _, x := range a {
		if in[x] {
			out = append(out, x)
		}
	}
	return out
}

func round6(v float64) float64 { return math.Round(v*1e6) / 1e6 }
