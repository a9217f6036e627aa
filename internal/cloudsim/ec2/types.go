package ec2

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/burstdev/burst/internal/catalog"
	"github.com/burstdev/burst/internal/cloudsim"
)

type typeRow struct {
	name, family     string
	vcpus            int
	mem              float64
	gpus             int
	gpuModel         string
	gpuMem           float64
	arch             string
	gen              int
	burstable        bool
	onDemand, spotPx float64
}

// Regions are the simulator's default regions and zones.
func Regions() map[string][]string {
	return map[string][]string{
		"us-east-1": {"us-east-1a", "us-east-1b", "us-east-1c"},
		"us-west-2": {"us-west-2a", "us-west-2b", "us-west-2c"},
		"eu-west-1": {"eu-west-1a", "eu-west-1b", "eu-west-1c"},
	}
}

// regionFactor scales us-east-1 prices to other regions.
var regionFactor = map[string]float64{"us-east-1": 1, "us-west-2": 1, "eu-west-1": 1.12}

// Types returns the simulator's machine types: current EC2 m/c/r families
// on x86 and Graviton, t3/t4g burstables and g5/g6/p4d/p5 GPU types, with
// on-demand offerings per region and spot offerings per zone. Prices are
// us-east-1's, scaled per region; spot prices vary a little by zone.
func Types() []catalog.Type {
	regions := Regions()
	var names []string
	for r := range regions {
		names = append(names, r)
	}
	sort.Strings(names)
	out := make([]catalog.Type, 0, len(typeRows))
	for _, row := range typeRows {
		t := catalog.Type{
			Provider: "aws", Name: row.name, Family: row.family, VCPUs: row.vcpus, MemoryGiB: row.mem,
			GPUs: row.gpus, GPUModel: row.gpuModel, GPUMemoryGiB: row.gpuMem, Arch: row.arch,
			Burstable: row.burstable, Generation: row.gen,
		}
		for _, r := range names {
			f := regionFactor[r]
			t.Offerings = append(t.Offerings, catalog.Offering{Region: r, Capacity: catalog.OnDemand, Price: round4(row.onDemand * f)})
			for i, z := range regions[r] {
				t.Offerings = append(t.Offerings, catalog.Offering{Region: r, Zone: z, Capacity: catalog.Spot, Price: round4(row.spotPx * f * (1 + 0.05*float64(i)))})
			}
		}
		out = append(out, t)
	}
	return out
}

func round4(x float64) float64 { return math.Round(x*1e4) / 1e4 }

// NewModel returns a model with the default regions and types, no latency
// and instances that run at once; cfg's non-zero fields override.
func NewModel(cfg cloudsim.Config) *cloudsim.Model {
	if cfg.Regions == nil {
		cfg.Regions = Regions()
	}
	if cfg.Types == nil {
		cfg.Types = Types()
	}
	return cloudsim.New(cfg)
}

// Request-rate bucket families, as EC2 documents its API throttling: each
// action draws one token from its family's bucket per request.
const (
	BucketDescribe     = "describe"
	BucketMutate       = "mutate"
	BucketRunInstances = "run-instances"
	// Resource-rate buckets: launches and terminations draw one token per
	// instance.
	BucketLaunchResource    = "launch-instances"
	BucketTerminateResource = "terminate-instances"
)

// BucketName is the model bucket of a family in a region.
func BucketName(region, family string) string { return "ec2:" + region + ":" + family }

// DocumentedThrottles are EC2's documented default buckets (size, refill
// per second), as burst's design notes list them.
var DocumentedThrottles = map[string][2]float64{
	BucketDescribe:          {100, 20},
	BucketMutate:            {50, 5},
	BucketRunInstances:      {5, 2},
	BucketLaunchResource:    {1000, 2},
	BucketTerminateResource: {1000, 20},
}

// SetDocumentedThrottles installs DocumentedThrottles as model buckets in
// every region.
func SetDocumentedThrottles(m *cloudsim.Model) {
	for r := range m.Regions() {
		for fam, b := range DocumentedThrottles {
			m.SetBucket(BucketName(r, fam), int(b[0]), b[1])
		}
	}
}

// Quota codes of the Service Quotas EC2 vCPU limits.
const (
	QuotaOnDemandStandard = "L-1216C47A" // Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances
	QuotaOnDemandG        = "L-DB2E81BA" // Running On-Demand G and VT instances
	QuotaOnDemandP        = "L-417A185B" // Running On-Demand P instances
	QuotaSpotStandard     = "L-34B43A08" // All Standard (A, C, D, H, I, M, R, T, Z) Spot Instance Requests
	QuotaSpotG            = "L-3819A6DF" // All G and VT Spot Instance Requests
	QuotaSpotP            = "L-7212CCBC" // All P Spot Instance Requests
)

// QuotaCode returns the vCPU quota an instance type counts against.
func QuotaCode(instanceType, capacity string) string {
	c := strings.ToLower(instanceType)
	spot := capacity == cloudsim.Spot
	switch {
	case strings.HasPrefix(c, "g") || strings.HasPrefix(c, "vt"):
		if spot {
			return QuotaSpotG
		}
		return QuotaOnDemandG
	case strings.HasPrefix(c, "p"):
		if spot {
			return QuotaSpotP
		}
		return QuotaOnDemandP
	}
	if spot {
		return QuotaSpotStandard
	}
	return QuotaOnDemandStandard
}

// QuotaNames are the quotas' names as Service Quotas reports them.
var QuotaNames = map[string]string{
	QuotaOnDemandStandard: "Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances",
	QuotaOnDemandG:        "Running On-Demand G and VT instances",
	QuotaOnDemandP:        "Running On-Demand P instances",
	QuotaSpotStandard:     "All Standard (A, C, D, H, I, M, R, T, Z) Spot Instance Requests",
	QuotaSpotG:            "All G and VT Spot Instance Requests",
	QuotaSpotP:            "All P Spot Instance Requests",
}

// SetVCPUQuota limits a vCPU quota in a region (limit < 0 removes it).
func SetVCPUQuota(m *cloudsim.Model, region, code string, limit float64) {
	m.SetQuota(cloudsim.QuotaKey{Region: region, Name: code}, limit)
}

// Image is an AMI the simulator knows.
type Image struct {
	ID, Region, Name, Owner, OwnerAlias, Arch, RootDevice string
	Created                                               time.Time
}

// Image owners.
const (
	OwnerCanonical = "099720109477"
	OwnerAmazon    = "898082745236"
)

func defaultImages(region string) []Image {
	var out []Image
	n := 0
	add := func(name, owner, alias, arch string, created time.Time) {
		n++
		out = append(out, Image{ID: fmt.Sprintf("ami-%s%04d", strings.ReplaceAll(region, "-", "")[:6], n), Region: region, Name: name,
			Owner: owner, OwnerAlias: alias, Arch: arch, RootDevice: "/dev/sda1", Created: created})
	}
	old := time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)
	cur := time.Date(2026, 11, 5, 0, 0, 0, 0, time.UTC)
	for _, a := range []struct{ ec2, ubuntu string }{{"x86_64", "amd64"}, {"arm64", "arm64"}} {
		add("ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-"+a.ubuntu+"-server-20260901", OwnerCanonical, "", a.ec2, old)
		add("ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-"+a.ubuntu+"-server-20261105", OwnerCanonical, "", a.ec2, cur)
	}
	add("Deep Learning Base OSS Nvidia Driver GPU AMI (Ubuntu 24.04) 20261101", OwnerAmazon, "amazon", "x86_64", cur)
	add("Deep Learning Base OSS Nvidia Driver GPU AMI (Ubuntu 24.04) 20260915", OwnerAmazon, "amazon", "x86_64", old)
	return out
}

// RemoveImages drops the region's images whose name matches the glob.
func (s *Server) RemoveImages(region, nameGlob string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	kept := s.images[:0]
	for _, im := range s.images {
		if im.Region == region && match(nameGlob, im.Name) {
			continue
		}
		kept = append(kept, im)
	}
	s.images = kept
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Images returns the images of a region.
func (s *Server) Images(region string) []Image {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Image
	for _, im := range s.images {
		if im.Region == region {
			out = append(out, im)
		}
	}
	return out
}
