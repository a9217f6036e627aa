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

type azureType struct {
	InstanceType string   `json:"instance_type"`
	PrettyName   string   `json:"pretty_name_azure"`
	Family       string   `json:"family"`
	Category     string   `json:"category"`
	GPU          string   `json:"GPU"`
	VCPU         int      `json:"vcpu"`
	Memory       float64  `json:"memory"`
	Arch         []string `json:"arch"`
	Pricing      map[string]struct {
		Linux struct {
			OnDemand float64 `json:"ondemand"`
			SpotMin  float64 `json:"spot_min"`
		} `json:"linux"`
	} `json:"pricing"`
}

// azureRegions maps the data's region slugs to ARM location names. Regions
// not listed (government clouds) are left out.
var azureRegions = map[string]string{
	"asia-pacific-east": "eastasia", "asia-pacific-southeast": "southeastasia",
	"australia-central": "australiacentral", "australia-central-2": "australiacentral2",
	"australia-east": "australiaeast", "australia-southeast": "australiasoutheast",
	"brazil-south": "brazilsouth", "brazil-southeast": "brazilsoutheast",
	"canada-central": "canadacentral", "canada-east": "canadaeast",
	"central-india": "centralindia", "south-india": "southindia", "west-india": "westindia",
	"europe-north": "northeurope", "europe-west": "westeurope",
	"france-central": "francecentral", "france-south": "francesouth",
	"germany-north": "germanynorth", "germany-west-central": "germanywestcentral",
	"japan-east": "japaneast", "japan-west": "japanwest",
	"korea-central": "koreacentral", "korea-south": "koreasouth",
	"norway-east": "norwayeast", "norway-west": "norwaywest",
	"qatar-central":      "qatarcentral",
	"south-africa-north": "southafricanorth", "south-africa-west": "southafricawest",
	"sweden-central": "swedencentral", "sweden-south": "swedensouth",
	"switzerland-north": "switzerlandnorth", "switzerland-west": "switzerlandwest",
	"uae-central": "uaecentral", "uae-north": "uaenorth",
	"united-kingdom-south": "uksouth", "united-kingdom-west": "ukwest",
	"us-central": "centralus", "us-east": "eastus", "us-east-2": "eastus2",
	"us-north-central": "northcentralus", "us-south-central": "southcentralus",
	"us-west": "westus", "us-west-2": "westus2", "us-west-3": "westus3", "us-west-central": "westcentralus",
}

// azureZonal lists the regions with availability zones 1, 2 and 3 (Azure's
// "regions with availability zones" page, May 2025).
var azureZonal = map[string]bool{
	"australiaeast": true, "brazilsouth": true, "canadacentral": true, "centralindia": true, "centralus": true,
	"eastasia": true, "eastus": true, "eastus2": true, "francecentral": true, "germanywestcentral": true,
	"japaneast": true, "japanwest": true, "koreacentral": true, "northeurope": true, "norwayeast": true,
	"qatarcentral": true, "southafricanorth": true, "southcentralus": true, "southeastasia": true,
	"swedencentral": true, "switzerlandnorth": true, "uaenorth": true, "uksouth": true, "westeurope": true,
	"westus2": true, "westus3": true,
}

// Families left out: retired or retiring generations (A, Av2, D/Ds/Dv2/
// DSv2, G/GS, NC, NCv2, ND, NV, original M), SAP HANA sizes, and the HPC
// and storage categories.
var azureSkipFamilies = map[string]bool{
	"a": true, "av2": true, "d": true, "ds": true, "dv2": true, "dsv2": true, "g": true, "gs": true,
	"nc": true, "ncsv2": true, "nds": true, "nv": true, "m": true, "mv2": true,
	"saphana": true, "saphanagen2": true, "f": true, "fs": true,
}

var azureCategories = map[string]bool{"generalpurpose": true, "computeoptimized": true, "memoryoptimized": true, "gpu": true}

var (
	azureVersionRE = regexp.MustCompile(`v(\d+)$`)
	azureArmRE     = regexp.MustCompile(`^[bde]p`) // Dpsv5, Epsv6, Bpsv2: Ampere and Cobalt
	azureGPURE     = regexp.MustCompile(`^(\d+)\s*[xX]\s*(.+)$`)
)

// azureGPUMemory is the memory per GPU of Azure's GPU families, in GiB.
var azureGPUMemory = map[string]float64{
	"nca100v4": 80, "ndasrv4": 40, "ndamsrv4": 80, "ncadsh100v5": 94, "nccadsh100v5": 94, "ndsrv5": 80,
	"ndsrh200v5": 141, "ndsrmi300xv5": 192, "nca10v4": 24, "nvv5": 24, "ncast4v3": 16, "ncsv3": 16,
	"ndv2": 32, "nvv3": 8,
}

func buildAzure(path string) (*catalog.Catalog, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var raw []azureType
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	c := &catalog.Catalog{Date: ModuleDate, Source: "embedded: " + Module + "@" + ModuleVersion, Zones: map[string][]string{}}
	for _, r := range raw {
		if !azureCategories[r.Category] || azureSkipFamilies[r.Family] || r.VCPU <= 0 || r.Memory <= 0 {
			continue
		}
		t := catalog.Type{Provider: "azure", Name: azureSKU(r.PrettyName), Family: r.Family, VCPUs: r.VCPU, MemoryGiB: r.Memory, Arch: "x86_64", Generation: 1}
		for _, a := range r.Arch {
			if strings.EqualFold(a, "arm64") {
				t.Arch = "arm64"
			}
		}
		if azureArmRE.MatchString(r.Family) {
			t.Arch = "arm64"
		}
		if m := azureVersionRE.FindStringSubmatch(r.Family); m != nil {
			t.Generation, _ = strconv.Atoi(m[1])
		}
		switch {
		case strings.HasPrefix(r.Family, "b"):
			t.Burstable = true
		case strings.HasPrefix(r.Family, "dc"), strings.HasPrefix(r.Family, "ec"), strings.HasPrefix(r.Family, "ncc"),
			strings.HasPrefix(r.Family, "ng"), strings.HasPrefix(r.Family, "nm"), strings.HasPrefix(r.Family, "np"),
			strings.HasPrefix(r.Family, "fx"):
			// Confidential, gaming-GPU, media-ASIC and FPGA sizes, and the
			// licensing-oriented FX: only when named.
			t.Exotic = true
		}
		if g := strings.TrimSpace(r.GPU); g != "" && g != "0" {
			m := azureGPURE.FindStringSubmatch(g)
			if m == nil {
				// A fraction of a GPU ("1/2X A10"): a virtual GPU, not a
				// machine for GPU work.
				t.Exotic = true
			} else {
				n, _ := strconv.Atoi(m[1])
				model, ok := normaliseGPU(m[2], azureGPUMemory[r.Family])
				if !ok || n <= 0 {
					t.Exotic = true
				} else {
					t.GPUs, t.GPUModel, t.GPUMemoryGiB = n, model, azureGPUMemory[r.Family]
					if model == "MI25" || model == "V710" || model == "V620" {
						t.Exotic = true
					}
				}
			}
		}
		slugs := make([]string, 0, len(r.Pricing))
		for s := range r.Pricing {
			slugs = append(slugs, s)
		}
		sort.Strings(slugs)
		for _, slug := range slugs {
			region, ok := azureRegions[slug]
			if !ok {
				continue
			}
			p := r.Pricing[slug].Linux
			if p.OnDemand <= 0 {
				continue
			}
			t.Offerings = append(t.Offerings, catalog.Offering{Region: region, Capacity: catalog.OnDemand, Price: p.OnDemand})
			if p.SpotMin > 0 && !t.Exotic {
				t.Offerings = append(t.Offerings, catalog.Offering{Region: region, Capacity: catalog.Spot, Price: p.SpotMin})
			}
			if azureZonal[region] {
				c.Zones[region] = []string{"1", "2", "3"}
			} else if _, ok := c.Zones[region]; !ok {
				c.Zones[region] = []string{}
			}
		}
		if len(t.Offerings) > 0 {
			c.Types = append(c.Types, t)
		}
	}
	return c, nil
}

// azureSKU turns the data's pretty name ("Standard NC24ads A100 v4", "NC4as
// T4 v3") into the ARM SKU name ("Standard_NC24ads_A100_v4").
func azureSKU(pretty string) string {
	f := strings.Fields(pretty)
	if len(f) == 0 || f[0] != "Standard" {
		f = append([]string{"Standard"}, f...)
	}
	return strings.Join(f, "_")
}
