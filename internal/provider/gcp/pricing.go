package gcp

import (
	"context"
	"math"
	"regexp"
	"strings"

	cloudbilling "google.golang.org/api/cloudbilling/v1"
)

// Compute Engine bills a machine by its parts: vCPU-hours and GiB-hours at
// its family's rates, plus GPU-hours, each per region, on demand or Spot.
// The Cloud Billing Catalog lists those rates as SKUs whose descriptions
// name the family ("N2 Instance Core running in Americas", "Spot
// Preemptible N2D AMD Instance Ram running in Virginia", "Nvidia Tesla T4
// GPU running in EMEA") and whose serviceRegions name the regions. burst
// reads on-demand and Spot SKUs of the Compute family and skips the rest
// (commitments, sole tenancy, custom and extended memory, licences).

// computeService is Compute Engine's ID in the billing catalog.
const computeService = "services/6F81-5844-456A"

// unitRate is an on-demand and a Spot price.
type unitRate struct{ od, spot float64 }

// priceTable holds per-unit rates by region and family (or accelerator).
type priceTable struct {
	cpu, ram, gpu map[string]map[string]*unitRate
	// fallback answers for families and GPUs the table lacks; nil for none.
	fallback *priceTable
	// anyRegion makes the table answer the same rates in every region.
	anyRegion bool
}

func newPriceTable() *priceTable {
	return &priceTable{cpu: map[string]map[string]*unitRate{}, ram: map[string]map[string]*unitRate{}, gpu: map[string]map[string]*unitRate{}}
}

func (t *priceTable) set(table map[string]map[string]*unitRate, region, key string, spot bool, v float64) {
	if table[region] == nil {
		table[region] = map[string]*unitRate{}
	}
	r := table[region][key]
	if r == nil {
		r = &unitRate{}
		table[region][key] = r
	}
	if spot {
		r.spot = v
	} else {
		r.od = v
	}
}

func (t *priceTable) get(table map[string]map[string]*unitRate, region, key string, spot bool) (float64, bool) {
	if t.anyRegion {
		region = ""
	}
	r := table[region][key]
	if r == nil {
		return 0, false
	}
	v := r.od
	if spot {
		v = r.spot
	}
	return v, v > 0
}

// price is one machine's hourly price: cores and GiB at the family's
// rates, plus its GPUs. ok is false when a rate is missing in both the
// table and its fallback.
func (t *priceTable) price(region, fam, accel string, cores, memGiB float64, ngpu int, spot bool) (float64, bool) {
	cpu, ok1 := t.get(t.cpu, region, fam, spot)
	ram, ok2 := t.get(t.ram, region, fam, spot)
	if (!ok1 || !ok2) && t.fallback != nil {
		cpu, ok1 = t.fallback.get(t.fallback.cpu, region, fam, spot)
		ram, ok2 = t.fallback.get(t.fallback.ram, region, fam, spot)
	}
	if !ok1 || !ok2 {
		return 0, false
	}
	p := cores*cpu + memGiB*ram
	if ngpu > 0 {
		g, ok := t.get(t.gpu, region, accel, spot)
		if !ok && t.fallback != nil {
			g, ok = t.fallback.get(t.fallback.gpu, region, accel, spot)
		}
		if !ok {
			return 0, false
		}
		p += float64(ngpu) * g
	}
	return math.Round(p*1e6) / 1e6, true
}

// prices reads the Compute Engine SKUs of the Cloud Billing Catalog.
func (p *Provider) prices(ctx context.Context) (*priceTable, error) {
	t := newPriceTable()
	t.fallback = fallbackPrices()
	err := p.do(ctx, "services.skus.list", func(ctx context.Context) error {
		return p.c.billing.Services.Skus.List(computeService).CurrencyCode("USD").PageSize(5000).Pages(ctx, func(r *cloudbilling.ListSkusResponse) error {
			for _, s := range r.Skus {
				t.addSKU(s)
			}
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return t, nil
}

var notMachineSKU = regexp.MustCompile(`(?i)sole tenancy|custom|extended|commitment|reserved|virtual workstation|premium|licen[cs]e`)

// addSKU files one SKU's rate under its regions, if it is a per-family
// core or RAM rate or a GPU rate.
func (t *priceTable) addSKU(s *cloudbilling.Sku) {
	if s.Category == nil || s.Category.ResourceFamily != "Compute" || len(s.PricingInfo) == 0 {
		return
	}
	spot := false
	switch s.Category.UsageType {
	case "OnDemand":
	case "Preemptible":
		spot = true
	default:
		return
	}
	desc := s.Description
	if notMachineSKU.MatchString(desc) {
		return
	}
	desc = strings.TrimPrefix(desc, "Spot Preemptible ")
	desc = strings.TrimPrefix(desc, "Preemptible ")
	head, _, ok := strings.Cut(desc, " running in ")
	if !ok {
		return
	}
	expr := s.PricingInfo[len(s.PricingInfo)-1].PricingExpression
	if expr == nil || len(expr.TieredRates) == 0 {
		return
	}
	tier := expr.TieredRates[0]
	for _, tr := range expr.TieredRates {
		if tr.StartUsageAmount == 0 {
			tier = tr
		}
	}
	if tier.UnitPrice == nil {
		return
	}
	v := float64(tier.UnitPrice.Units) + float64(tier.UnitPrice.Nanos)/1e9
	switch {
	case strings.HasSuffix(head, " GPU"):
		accel := acceleratorOfSKU(head)
		if accel == "" || expr.UsageUnit != "h" {
			return
		}
		for _, r := range s.ServiceRegions {
			t.set(t.gpu, r, accel, spot, v)
		}
	case strings.HasSuffix(head, "Instance Core"), strings.HasSuffix(head, "Instance Ram"):
		fam := strings.ToLower(strings.Fields(head)[0])
		table := t.cpu
		if strings.HasSuffix(head, "Ram") {
			table = t.ram
			switch expr.UsageUnit {
			case "GiBy.h":
			case "GBy.h":
				v *= 1.073741824 // per GB to per GiB
			default:
				return
			}
		} else if expr.UsageUnit != "h" {
			return
		}
		for _, r := range s.ServiceRegions {
			t.set(table, r, fam, spot, v)
		}
	}
}

// acceleratorOfSKU maps a GPU SKU's name to GCE's accelerator type.
func acceleratorOfSKU(head string) string {
	h := " " + strings.ToLower(head) + " "
	switch {
	case strings.Contains(h, " h100 80gb mega "), strings.Contains(h, " h100 mega "):
		return "nvidia-h100-mega-80gb"
	case strings.Contains(h, " h100 "):
		return "nvidia-h100-80gb"
	case strings.Contains(h, " h200 "):
		return "nvidia-h200-141gb"
	case strings.Contains(h, " a100 80gb "):
		return "nvidia-a100-80gb"
	case strings.Contains(h, " a100 "):
		return "nvidia-tesla-a100"
	case strings.Contains(h, " l4 "):
		return "nvidia-l4"
	case strings.Contains(h, " t4 "):
		return "nvidia-tesla-t4"
	case strings.Contains(h, " v100 "):
		return "nvidia-tesla-v100"
	case strings.Contains(h, " p100 "):
		return "nvidia-tesla-p100"
	case strings.Contains(h, " p4 "):
		return "nvidia-tesla-p4"
	}
	return ""
}

// fallbackPrices are us-central1 list prices (USD per vCPU-hour, GiB-hour
// and GPU-hour, on demand and Spot) used in every region when the billing
// catalog cannot be read, and for families it lacks. Regional price
// differences (about ±30%) are lost; `burst catalog refresh` says so in
// the catalog's source.
func fallbackPrices() *priceTable {
	t := newPriceTable()
	t.anyRegion = true
	fam := map[string][4]float64{ // core od, ram od, core spot, ram spot
		"e2":  {0.021811, 0.002923, 0.00654, 0.000877},
		"n1":  {0.031611, 0.004237, 0.00663, 0.000889},
		"n2":  {0.031611, 0.004237, 0.00756, 0.001013},
		"n2d": {0.027502, 0.003686, 0.00552, 0.00074},
		"c2":  {0.03398, 0.00455, 0.00814, 0.00109},
		"c2d": {0.029563, 0.003959, 0.00714, 0.00096},
		"c3":  {0.03398, 0.00456, 0.00843, 0.00113},
		"c3d": {0.029563, 0.003959, 0.00691, 0.00093},
		"c4":  {0.03465, 0.003938, 0.01014, 0.00115},
		"c4a": {0.03086, 0.00349, 0.00926, 0.00105},
		"n4":  {0.030355, 0.003568, 0.00911, 0.00107},
		"t2a": {0.0385, 0.0048, 0.0093, 0.0012},
		"t2d": {0.027502, 0.003686, 0.00647, 0.00087},
		"a2":  {0.031611, 0.004237, 0.0110, 0.0015},
		"a3":  {0.0297, 0.0026, 0.0104, 0.0009},
		"g2":  {0.024988, 0.002927, 0.0087, 0.0010},
	}
	for f, r := range fam {
		t.set(t.cpu, "", f, false, r[0])
		t.set(t.ram, "", f, false, r[1])
		t.set(t.cpu, "", f, true, r[2])
		t.set(t.ram, "", f, true, r[3])
	}
	gpu := map[string][2]float64{
		"nvidia-tesla-t4":   {0.35, 0.14},
		"nvidia-tesla-v100": {2.48, 0.992},
		"nvidia-tesla-p100": {1.46, 0.584},
		"nvidia-tesla-p4":   {0.60, 0.24},
		"nvidia-tesla-a100": {2.933908, 1.17},
		"nvidia-a100-80gb":  {3.92808, 1.57},
		"nvidia-h100-80gb":  {9.79655, 3.92},
		"nvidia-l4":         {0.560408, 0.224},
	}
	for a, r := range gpu {
		t.set(t.gpu, "", a, false, r[0])
		t.set(t.gpu, "", a, true, r[1])
	}
	return t
}
