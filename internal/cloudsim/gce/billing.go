package gce

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math"
	"net/http"
	"strconv"

	cloudbilling "google.golang.org/api/cloudbilling/v1"
)

// ComputeServiceID is Compute Engine's service in the Cloud Billing
// Catalog.
const ComputeServiceID = "6F81-5844-456A"

// BillingService is the service name billing requests are logged under.
const BillingService = "cloudbilling"

// skus builds Compute Engine's SKUs from the price table: per family a
// core and a RAM SKU, on demand and Spot, per region; per GPU the same.
// A few SKUs a parser must skip (commitments, sole tenancy, storage,
// licences) are mixed in, as in the real catalog.
func skus() []*cloudbilling.Sku {
	var out []*cloudbilling.Sku
	add := func(desc, group, usage, unit, region string, price float64) {
		h := fnv.New32a()
		_, _ = fmt.Fprint(h, desc, region)
		id := fmt.Sprintf("%04X-%04X-%04X", h.Sum32()>>16, h.Sum32()&0xffff, (h.Sum32()>>8)&0xffff)
		units := math.Floor(price)
		out = append(out, &cloudbilling.Sku{
			Name: "services/" + ComputeServiceID + "/skus/" + id, SkuId: id, Description: desc,
			Category:       &cloudbilling.Category{ServiceDisplayName: "Compute Engine", ResourceFamily: "Compute", ResourceGroup: group, UsageType: usage},
			ServiceRegions: []string{region},
			PricingInfo: []*cloudbilling.PricingInfo{{EffectiveTime: "2026-11-01T00:00:00Z", PricingExpression: &cloudbilling.PricingExpression{
				UsageUnit: unit, BaseUnit: map[string]string{"h": "s", "GiBy.h": "By.s"}[unit], DisplayQuantity: 1,
				TieredRates: []*cloudbilling.TierRate{{StartUsageAmount: 0, UnitPrice: &cloudbilling.Money{
					CurrencyCode: "USD", Units: int64(units), Nanos: int64(math.Round((price - units) * 1e9))}}},
			}}},
		})
	}
	for _, region := range allRegions {
		geo := billingGeo[region]
		k := regionFactor[region]
		for _, name := range sortedKeys(families) {
			f := families[name]
			if !contains(f.regions, region) {
				continue
			}
			add(fmt.Sprintf("%s Instance Core running in %s", f.sku, geo), "CPU", "OnDemand", "h", region, f.core*k)
			add(fmt.Sprintf("%s Instance Ram running in %s", f.sku, geo), "RAM", "OnDemand", "GiBy.h", region, f.ram*k)
			add(fmt.Sprintf("Spot Preemptible %s Instance Core running in %s", f.sku, geo), "CPU", "Preemptible", "h", region, f.core*k*spotFactor)
			add(fmt.Sprintf("Spot Preemptible %s Instance Ram running in %s", f.sku, geo), "RAM", "Preemptible", "GiBy.h", region, f.ram*k*spotFactor)
			add(fmt.Sprintf("Commitment v1: %s Cpu in %s for 1 Year", f.sku, geo), "CPU", "Commit1Yr", "h", region, f.core*k*0.63)
			add(fmt.Sprintf("%s Sole Tenancy Instance Core running in %s", f.sku, geo), "CPU", "OnDemand", "h", region, f.core*k*1.1)
		}
		for _, name := range sortedKeys(accelerators) {
			a := accelerators[name]
			if !contains(a.regions, region) {
				continue
			}
			add(fmt.Sprintf("%s GPU running in %s", a.sku, geo), "GPU", "OnDemand", "h", region, a.price*k)
			add(fmt.Sprintf("Spot Preemptible %s GPU running in %s", a.sku, geo), "GPU", "Preemptible", "h", region, a.price*k*spotFactor)
		}
		add("Storage PD Capacity in "+geo, "PDStandard", "OnDemand", "GiBy.mo", region, 0.04)
		add("Licensing Fee for Ubuntu Pro on VM with 4 VCPU", "License", "OnDemand", "h", region, 0.0004)
	}
	for _, s := range out {
		if s.Category.ResourceGroup == "PDStandard" {
			s.Category.ResourceFamily = "Storage"
		}
	}
	return out
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

var skuList = skus()

// billing serves services.skus.list of the Cloud Billing Catalog API.
func (s *Server) billing(w http.ResponseWriter, r *http.Request) {
	call := s.m.Begin(BillingService, "cloudbilling.services.skus.list", "")
	status, code := http.StatusOK, ""
	defer func() { call.End(status, code) }()
	fail := func(e *apiError) {
		status, code = e.status, e.reason
		writeError(w, e)
	}
	if f := call.Fault; f != nil {
		fail(kindError(f.Kind, f.Code, f.Message))
		return
	}
	if r.PathValue("service") != ComputeServiceID {
		fail(notFound("services/" + r.PathValue("service")))
		return
	}
	size := 5000
	if v := r.URL.Query().Get("pageSize"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			fail(invalid("Invalid pageSize %q", v))
			return
		}
		if n > 0 && n < size {
			size = n
		}
	}
	start := 0
	if t := r.URL.Query().Get("pageToken"); t != "" {
		n, err := strconv.Atoi(t)
		if err != nil || n < 0 || n > len(skuList) {
			fail(invalid("Invalid pageToken %q", t))
			return
		}
		start = n
	}
	end := min(start+size, len(skuList))
	resp := cloudbilling.ListSkusResponse{Skus: skuList[start:end]}
	if end < len(skuList) {
		resp.NextPageToken = strconv.Itoa(end)
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	_ = json.NewEncoder(w).Encode(resp)
}
