package main

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/burstdev/burst/internal/catalog"
)

type ec2Type struct {
	InstanceType string                     `json:"instance_type"`
	Family       string                     `json:"family"`
	Generation   string                     `json:"generation"`
	VCPU         json.RawMessage            `json:"vCPU"`
	Memory       json.RawMessage            `json:"memory"`
	GPU          int                        `json:"GPU"`
	GPUModel     *string                    `json:"GPU_model"`
	GPUMemory    float64                    `json:"GPU_memory"`
	Arch         []string                   `json:"arch"`
	Pricing      map[string]json.RawMessage `json:"pricing"`
	Zones        map[string][]string        `json:"availability_zones"`
}

type ec2Price struct {
	Linux struct {
		OnDemand string `json:"ondemand"`
		SpotAvg  string `json:"spot_avg"`
		SpotMin  string `json:"spot_min"`
	} `json:"linux"`
}

// Commercial regions only: no GovCloud, Local Zones or Wavelength zones.
var awsRegionRE = regexp.MustCompile(`^(af|ap|ca|eu|il|me|mx|sa|us)-[a-z]+-[0-9]$`)

// The families burst plans with: general purpose, compute, memory and GPU
// (and the accelerator families, marked exotic). Storage-optimized and
// media families are left out.
var awsCategories = map[string]bool{
	"General purpose":                 true,
	"Compute optimized":               true,
	"Memory optimized":                true,
	"GPU instance":                    true,
	"Machine Learning ASIC Instances": true,
	"FPGA Instances":                  true,
}

var awsGenRE = regexp.MustCompile(`^[a-z]+?(\d+)`)

func buildAWS(path string) (*catalog.Catalog, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var raw []ec2Type
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	c := &catalog.Catalog{Date: ModuleDate, Source: "embedded: " + Module + "@" + ModuleVersion, Zones: map[string][]string{}}
	azCount := map[string]map[string]bool{}
	for _, r := range raw {
		if r.Generation != "current" || !awsCategories[r.Family] {
			continue
		}
		var vcpu int
		var mem float64
		if json.Unmarshal(r.VCPU, &vcpu) != nil || json.Unmarshal(r.Memory, &mem) != nil || vcpu <= 0 || mem <= 0 {
			continue
		}
		name := r.InstanceType
		family, _, _ := strings.Cut(name, ".")
		t := catalog.Type{Provider: "aws", Name: name, Family: family, VCPUs: vcpu, MemoryGiB: mem, Arch: "x86_64"}
		for _, a := range r.Arch {
			if strings.HasPrefix(a, "arm64") {
				t.Arch = "arm64"
			}
		}
		if m := awsGenRE.FindStringSubmatch(family); m != nil {
			t.Generation, _ = strconv.Atoi(m[1])
		}
		switch family {
		case "t2", "t3", "t3a", "t4g":
			t.Burstable = true
		}
		if strings.Contains(name, "metal") || r.Family == "Machine Learning ASIC Instances" || r.Family == "FPGA Instances" ||
			strings.HasPrefix(family, "mac") || strings.HasPrefix(family, "u-") || strings.HasPrefix(family, "u7") ||
			strings.HasPrefix(family, "hpc") || strings.HasPrefix(family, "inf") || strings.HasPrefix(family, "trn") ||
			strings.HasPrefix(family, "dl") || family == "vt1" {
			t.Exotic = true
		}
		if r.GPU > 0 && r.GPUModel != nil {
			model, ok := normaliseGPU(*r.GPUModel, r.GPUMemory/float64(r.GPU))
			if ok {
				t.GPUs, t.GPUModel = r.GPU, model
				t.GPUMemoryGiB = r.GPUMemory / float64(r.GPU)
			}
		}
		regions := make([]string, 0, len(r.Pricing))
		for region := range r.Pricing {
			regions = append(regions, region)
		}
		sort.Strings(regions)
		for _, region := range regions {
			if !awsRegionRE.MatchString(region) || strings.HasPrefix(region, "us-gov") {
				continue
			}
			var p ec2Price
			if json.Unmarshal(r.Pricing[region], &p) != nil {
				continue
			}
			od, _ := strconv.ParseFloat(p.Linux.OnDemand, 64)
			if od <= 0 {
				continue
			}
			t.Offerings = append(t.Offerings, catalog.Offering{Region: region, Capacity: catalog.OnDemand, Price: od})
			// Spot: the average over the region's zones, the best guess of
			// what price-capacity-optimized pays.
			spot, _ := strconv.ParseFloat(p.Linux.SpotAvg, 64)
			if spot <= 0 {
				spot, _ = strconv.ParseFloat(p.Linux.SpotMin, 64)
			}
			if spot > 0 {
				t.Offerings = append(t.Offerings, catalog.Offering{Region: region, Capacity: catalog.Spot, Price: spot})
			}
			if azCount[region] == nil {
				azCount[region] = map[string]bool{}
			}
			for _, az := range r.Zones[region] {
				azCount[region][az] = true
			}
		}
		if len(t.Offerings) > 0 {
			c.Types = append(c.Types, t)
		}
	}
	// Zone names are account-specific in EC2 (the data carries zone IDs);
	// name the region's zones a, b, c, ... as most accounts see them. The
	// aws provider maps them to subnets at launch.
	for region, azs := range azCount {
		n := max(len(azs), 2)
		zs := make([]string, n)
		for i := range zs {
			zs[i] = region + string(rune('a'+i))
		}
		c.Zones[region] = zs
	}
	return c, nil
}
