package aws

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/pricing"
	ptypes "github.com/aws/aws-sdk-go-v2/service/pricing/types"

	"github.com/burstdev/burst/internal/catalog"
)

// Catalog implements provider.Provider with a live read of every
// configured region: DescribeInstanceTypes (specs), DescribeInstanceType
// Offerings by zone (where each type exists), DescribeSpotPriceHistory
// (current Linux spot price per zone) and the Price List API's GetProducts
// (on-demand Linux, shared tenancy, no preinstalled software).
//
// Offerings are region-level (Zone ""), as in the embedded snapshot: the
// on-demand price is the region's; the spot price is the mean over the
// zones that offer the type (EC2's price-capacity-optimized picks among
// them at launch). A type with no on-demand price gets no on-demand
// offering rather than a made-up one. Catalog makes many calls; `burst
// catalog refresh` calls it and caches the result.
func (p *Provider) Catalog(ctx context.Context) (*catalog.Catalog, error) {
	regions, err := p.regions(ctx)
	if err != nil {
		return nil, err
	}
	cat := &catalog.Catalog{Date: p.opts.Now().UTC().Truncate(1e9), Source: "live", Zones: map[string][]string{}}
	types := map[string]*catalog.Type{}
	for _, region := range regions {
		if err := p.catalogRegion(ctx, region, cat, types); err != nil {
			return nil, fmt.Errorf("%s: %w", region, err)
		}
	}
	names := make([]string, 0, len(types))
	for n := range types {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if t := types[n]; len(t.Offerings) > 0 {
			cat.Types = append(cat.Types, *t)
		}
	}
	return cat, nil
}

func (p *Provider) catalogRegion(ctx context.Context, region string, cat *catalog.Catalog, all map[string]*catalog.Type) error {
	c, err := p.ec2Client(ctx, region)
	if err != nil {
		return err
	}
	specs := map[string]*catalog.Type{}
	spotOK := map[string]bool{}
	tp := ec2.NewDescribeInstanceTypesPaginator(c, &ec2.DescribeInstanceTypesInput{MaxResults: sdkaws.Int32(100)})
	for tp.HasMorePages() {
		out, err := tp.NextPage(ctx)
		if err != nil {
			return classify("DescribeInstanceTypes", err)
		}
		for _, it := range out.InstanceTypes {
			if t, ok := typeOf(it); ok {
				specs[t.Name] = t
				spotOK[t.Name] = slicesContains(it.SupportedUsageClasses, types.UsageClassTypeSpot)
			}
		}
	}
	zonesOf := map[string][]string{}
	zoneSet := map[string]bool{}
	op := ec2.NewDescribeInstanceTypeOfferingsPaginator(c, &ec2.DescribeInstanceTypeOfferingsInput{LocationType: types.LocationTypeAvailabilityZone, MaxResults: sdkaws.Int32(1000)})
	for op.HasMorePages() {
		out, err := op.NextPage(ctx)
		if err != nil {
			return classify("DescribeInstanceTypeOfferings", err)
		}
		for _, o := range out.InstanceTypeOfferings {
			n, z := string(o.InstanceType), sdkaws.ToString(o.Location)
			zonesOf[n] = append(zonesOf[n], z)
			zoneSet[z] = true
		}
	}
	spot := map[string]map[string]float64{} // type -> zone -> price
	now := p.opts.Now()
	sp := ec2.NewDescribeSpotPriceHistoryPaginator(c, &ec2.DescribeSpotPriceHistoryInput{
		ProductDescriptions: []string{"Linux/UNIX"}, StartTime: sdkaws.Time(now), MaxResults: sdkaws.Int32(1000),
	})
	latest := map[string]map[string]int64{}
	for sp.HasMorePages() {
		out, err := sp.NextPage(ctx)
		if err != nil {
			return classify("DescribeSpotPriceHistory", err)
		}
		for _, h := range out.SpotPriceHistory {
			n, z := string(h.InstanceType), sdkaws.ToString(h.AvailabilityZone)
			price, err := strconv.ParseFloat(sdkaws.ToString(h.SpotPrice), 64)
			if err != nil {
				continue
			}
			ts := sdkaws.ToTime(h.Timestamp).UnixNano()
			if spot[n] == nil {
				spot[n], latest[n] = map[string]float64{}, map[string]int64{}
			}
			if old, ok := latest[n][z]; !ok || ts >= old {
				spot[n][z], latest[n][z] = price, ts
			}
		}
	}
	onDemand, err := p.onDemandPrices(ctx, region)
	if err != nil {
		return err
	}

	var zs []string
	for z := range zoneSet {
		zs = append(zs, z)
	}
	sort.Strings(zs)
	cat.Zones[region] = zs
	for name, t := range specs {
		if len(zonesOf[name]) == 0 {
			continue // not offered in this region
		}
		ct, ok := all[name]
		if !ok {
			cp := *t
			ct = &cp
			all[name] = ct
		}
		if price, ok := onDemand[name]; ok {
			ct.Offerings = append(ct.Offerings, catalog.Offering{Region: region, Capacity: catalog.OnDemand, Price: price})
		}
		if spotOK[name] && len(spot[name]) > 0 {
			sum, n := 0.0, 0
			for _, z := range zonesOf[name] {
				if v, ok := spot[name][z]; ok {
					sum += v
					n++
				}
			}
			if n > 0 {
				ct.Offerings = append(ct.Offerings, catalog.Offering{Region: region, Capacity: catalog.Spot, Price: math.Round(sum/float64(n)*1e4) / 1e4})
			}
		}
	}
	return nil
}

// onDemandPrices reads a region's Linux on-demand prices from the Price
// List API.
func (p *Provider) onDemandPrices(ctx context.Context, region string) (map[string]float64, error) {
	c, err := p.pricingClient(ctx)
	if err != nil {
		return nil, err
	}
	term := func(field, value string) ptypes.Filter {
		return ptypes.Filter{Type: ptypes.FilterTypeTermMatch, Field: sdkaws.String(field), Value: sdkaws.String(value)}
	}
	in := &pricing.GetProductsInput{
		ServiceCode: sdkaws.String("AmazonEC2"), FormatVersion: sdkaws.String("aws_v1"), MaxResults: sdkaws.Int32(100),
		Filters: []ptypes.Filter{
			term("regionCode", region), term("operatingSystem", "Linux"), term("tenancy", "Shared"),
			term("preInstalledSw", "NA"), term("capacitystatus", "Used"), term("licenseModel", "No License required"),
		},
	}
	out := map[string]float64{}
	pg := pricing.NewGetProductsPaginator(c, in)
	for pg.HasMorePages() {
		page, err := pg.NextPage(ctx)
		if err != nil {
			return nil, classify("GetProducts", err)
		}
		for _, doc := range page.PriceList {
			name, price, ok := parsePrice(doc)
			if ok && (out[name] == 0 || price < out[name]) {
				out[name] = price
			}
		}
	}
	return out, nil
}

// parsePrice reads the instance type and hourly USD price of one Price List
// product document.
func parsePrice(doc string) (string, float64, bool) {
	var d struct {
		Product struct {
			Attributes map[string]string `json:"attributes"`
		} `json:"product"`
		Terms struct {
			OnDemand map[string]struct {
				PriceDimensions map[string]struct {
					Unit         string            `json:"unit"`
					PricePerUnit map[string]string `json:"pricePerUnit"`
				} `json:"priceDimensions"`
			} `json:"OnDemand"`
		} `json:"terms"`
	}
	if json.Unmarshal([]byte(doc), &d) != nil {
		return "", 0, false
	}
	name := d.Product.Attributes["instanceType"]
	for _, term := range d.Terms.OnDemand {
		for _, dim := range term.PriceDimensions {
			if dim.Unit != "Hrs" {
				continue
			}
			v, err := strconv.ParseFloat(dim.PricePerUnit["USD"], 64)
			if err == nil && v > 0 && name != "" {
				return name, v, true
			}
		}
	}
	return "", 0, false
}

// typeOf converts DescribeInstanceTypes' answer; Mac and 32-bit-only types
// are left out.
func typeOf(it types.InstanceTypeInfo) (*catalog.Type, bool) {
	name := string(it.InstanceType)
	t := &catalog.Type{Provider: Name, Name: name, Family: strings.SplitN(name, ".", 2)[0]}
	if it.VCpuInfo != nil {
		t.VCPUs = int(sdkaws.ToInt32(it.VCpuInfo.DefaultVCpus))
	}
	if it.MemoryInfo != nil {
		t.MemoryGiB = float64(sdkaws.ToInt64(it.MemoryInfo.SizeInMiB)) / 1024
	}
	if it.ProcessorInfo != nil {
		for _, a := range it.ProcessorInfo.SupportedArchitectures {
			switch a {
			case types.ArchitectureTypeX8664:
				t.Arch = "x86_64"
			case types.ArchitectureTypeArm64:
				t.Arch = "arm64"
			}
		}
	}
	if t.Arch == "" || t.VCPUs == 0 || strings.HasPrefix(name, "mac") {
		return nil, false
	}
	t.Burstable = sdkaws.ToBool(it.BurstablePerformanceSupported)
	t.Exotic = sdkaws.ToBool(it.BareMetal) || it.FpgaInfo != nil || it.InferenceAcceleratorInfo != nil || it.NeuronInfo != nil
	if g := it.GpuInfo; g != nil {
		for _, d := range g.Gpus {
			t.GPUs += int(sdkaws.ToInt32(d.Count))
			if t.GPUModel == "" {
				mem := 0.0
				if d.MemoryInfo != nil {
					mem = float64(sdkaws.ToInt32(d.MemoryInfo.SizeInMiB)) / 1024
				}
				t.GPUModel, t.GPUMemoryGiB = gpuModel(sdkaws.ToString(d.Name), mem), mem
			}
		}
		if t.GPUs == 0 {
			t.GPUModel, t.GPUMemoryGiB = "", 0
		}
	}
	t.Generation = generation(t.Family)
	return t, true
}

// gpuModel normalises EC2's GPU names to burst's model names (the
// catalog's): the A100 with 80 GB is "A100-80GB".
func gpuModel(name string, memGiB float64) string {
	n := strings.ToUpper(strings.TrimSpace(name))
	if n == "A100" && memGiB >= 70 {
		return "A100-80GB"
	}
	return n
}

// generation reads the digits of a family name ("m7i" -> 7).
func generation(family string) int {
	var digits strings.Builder
	for _, r := range family {
		if unicode.IsDigit(r) {
			digits.WriteRune(r)
		} else if digits.Len() > 0 {
			break
		}
	}
	g, _ := strconv.Atoi(digits.String())
	return g
}

func slicesContains[T comparable](s []T, v T) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
