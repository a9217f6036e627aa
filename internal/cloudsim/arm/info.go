package arm

import (
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v6"

	"github.com/burstdev/burst/internal/catalog"
	"github.com/burstdev/burst/internal/cloudsim"
)

var locationFilter = regexp.MustCompile(`(?i)^\s*location\s+eq\s+'([^']+)'\s*$`)

// listSKUs serves the Resource SKUs API: one entry per size and location,
// with the capabilities Azure reports and a NotAvailableForSubscription
// restriction where Restrict was called.
func (c *ctx) listSKUs() {
	s := c.s
	where := ""
	if f := c.query("$filter"); f != "" {
		m := locationFilter.FindStringSubmatch(f)
		if m == nil {
			c.fail(errorf(http.StatusBadRequest, "InvalidFilter", "The $filter '%s' is not supported; use location eq '<location>'.", f))
			return
		}
		where = strings.ToLower(m[1])
	}
	s.mu.Lock()
	restricted := map[string]bool{}
	for k, v := range s.restricted {
		restricted[k] = v
	}
	s.mu.Unlock()
	var items []any
	var locs []string
	for l := range s.m.Regions() {
		locs = append(locs, l)
	}
	sort.Strings(locs)
	for _, t := range s.m.Types() {
		for _, loc := range locs {
			if (where != "" && loc != where) || !offered(t, loc, cloudsim.OnDemand) {
				continue
			}
			items = append(items, skuJSON(t, loc, s.m.Zones(loc), restricted[strings.ToLower(t.Name)+"/"+loc]))
		}
	}
	// The real API answers in one page, with no nextLink.
	c.reply(http.StatusOK, map[string]any{"value": items}, nil)
}

func skuJSON(t catalog.Type, loc string, zones []string, restricted bool) armcompute.ResourceSKU {
	capab := func(name, value string) *armcompute.ResourceSKUCapabilities {
		return &armcompute.ResourceSKUCapabilities{Name: ptr(name), Value: ptr(value)}
	}
	arch, gens := "x64", "V1,V2"
	if t.Arch == "arm64" {
		arch, gens = "Arm64", "V2"
	}
	if t.GPUs > 0 {
		gens = "V2"
	}
	spot := "False"
	if offered(t, loc, cloudsim.Spot) {
		spot = "True"
	}
	caps := []*armcompute.ResourceSKUCapabilities{
		capab("MaxResourceVolumeMB", "0"),
		capab("OSVhdSizeMB", "1047552"),
		capab("vCPUs", strconv.Itoa(t.VCPUs)),
		capab("MemoryPreservingMaintenanceSupported", "True"),
		capab("HyperVGenerations", gens),
		capab("MemoryGB", strconv.FormatFloat(t.MemoryGiB, 'f', -1, 64)),
		capab("MaxDataDiskCount", "32"),
		capab("CpuArchitectureType", arch),
		capab("LowPriorityCapable", spot),
		capab("PremiumIO", "True"),
		capab("VMDeploymentTypes", "IaaS"),
		capab("vCPUsAvailable", strconv.Itoa(t.VCPUs)),
		capab("ACUs", "195"),
		capab("EncryptionAtHostSupported", "True"),
		capab("AcceleratedNetworkingEnabled", "True"),
		capab("MaxNetworkInterfaces", "4"),
	}
	if t.GPUs > 0 {
		caps = append(caps, capab("GPUs", strconv.Itoa(t.GPUs)))
	}
	var zs []*string
	for _, z := range zones {
		zs = append(zs, ptr(zoneNumber(z)))
	}
	sku := armcompute.ResourceSKU{
		ResourceType: ptr("virtualMachines"), Name: ptr(t.Name), Tier: ptr("Standard"),
		Size: ptr(strings.TrimPrefix(t.Name, "Standard_")), Family: ptr(t.Family),
		Locations:    []*string{ptr(loc)},
		LocationInfo: []*armcompute.ResourceSKULocationInfo{{Location: ptr(loc), Zones: zs}},
		Capabilities: caps, Restrictions: []*armcompute.ResourceSKURestrictions{},
	}
	if restricted {
		sku.Restrictions = append(sku.Restrictions, &armcompute.ResourceSKURestrictions{
			Type: ptr(armcompute.ResourceSKURestrictionsTypeLocation), Values: []*string{ptr(loc)},
			RestrictionInfo: &armcompute.ResourceSKURestrictionInfo{Locations: []*string{ptr(loc)}},
			ReasonCode:      ptr(armcompute.ResourceSKURestrictionsReasonCodeNotAvailableForSubscription),
		})
	}
	return sku
}

// listUsages serves Usage_List: the regional, Spot and per-family vCPU
// quotas and the VM and scale set counts of a location, with what is used.
func (c *ctx) listUsages() {
	s := c.s
	loc := strings.ToLower(c.location)
	if _, ok := s.m.Regions()[loc]; !ok {
		c.fail(errorf(http.StatusNotFound, "NoRegisteredProviderFound", "No registered resource provider found for location '%s'.", c.location))
		return
	}
	usage := func(name, display string, def float64) armcompute.Usage {
		limit, used, ok := s.m.Quota(cloudsim.QuotaKey{Region: loc, Name: name})
		if !ok {
			limit = def
		}
		return armcompute.Usage{
			Name:         &armcompute.UsageName{Value: ptr(name), LocalizedValue: ptr(display)},
			CurrentValue: ptr(int32(used)), Limit: ptr(int64(limit)), Unit: ptr("Count"),
		}
	}
	items := []any{
		usage("cores", "Total Regional vCPUs", s.defaultQuota),
		usage("lowPriorityCores", "Total Regional Low-priority vCPUs", s.defaultQuota),
		usage("virtualMachines", "Virtual Machines", 25000),
	}
	sets := 0
	for _, r := range s.m.Resources(KindScaleSet, nil) {
		if r.Region == loc {
			sets++
		}
	}
	items = append(items, armcompute.Usage{
		Name:         &armcompute.UsageName{Value: ptr("virtualMachineScaleSets"), LocalizedValue: ptr("Virtual Machine Scale Sets")},
		CurrentValue: ptr(int32(sets)), Limit: ptr(int64(2500)), Unit: ptr("Count"),
	})
	seen := map[string]bool{}
	for _, t := range s.m.Types() {
		if seen[t.Family] || !offered(t, loc, cloudsim.OnDemand) {
			continue
		}
		seen[t.Family] = true
		items = append(items, usage(t.Family, familyDisplay(t.Family), s.defaultQuota))
	}
	c.reply(http.StatusOK, map[string]any{"value": items}, nil)
}

// familyDisplay is the portal's name of a family quota:
// "standardDSv5Family" is "Standard DSv5 Family vCPUs".
func familyDisplay(f string) string {
	f = strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(f, "standard"), "Standard"), "Family")
	return "Standard " + f + " Family vCPUs"
}

// priceItem is one Retail Prices API item.
type priceItem struct {
	CurrencyCode         string  `json:"currencyCode"`
	TierMinimumUnits     float64 `json:"tierMinimumUnits"`
	RetailPrice          float64 `json:"retailPrice"`
	UnitPrice            float64 `json:"unitPrice"`
	ArmRegionName        string  `json:"armRegionName"`
	Location             string  `json:"location"`
	EffectiveStartDate   string  `json:"effectiveStartDate"`
	MeterID              string  `json:"meterId"`
	MeterName            string  `json:"meterName"`
	ProductID            string  `json:"productId"`
	SkuID                string  `json:"skuId"`
	ProductName          string  `json:"productName"`
	SkuName              string  `json:"skuName"`
	ServiceName          string  `json:"serviceName"`
	ServiceID            string  `json:"serviceId"`
	ServiceFamily        string  `json:"serviceFamily"`
	UnitOfMeasure        string  `json:"unitOfMeasure"`
	Type                 string  `json:"type"`
	IsPrimaryMeterRegion bool    `json:"isPrimaryMeterRegion"`
	ArmSkuName           string  `json:"armSkuName"`
	ReservationTerm      string  `json:"reservationTerm,omitempty"`
}

// priceItems lists what the Retail Prices API holds for the simulated
// sizes: Linux and Windows pay-as-you-go, Spot and Low Priority meters, and
// one-year reservations, so a client must pick the right ones.
func (s *Server) priceItems() []priceItem {
	var out []priceItem
	for _, t := range s.m.Types() {
		short := strings.ReplaceAll(strings.TrimPrefix(t.Name, "Standard_"), "_", " ")
		series := seriesOf(t)
		for _, r := range regions {
			od, okOD := priceOf(t, r.name, catalog.OnDemand)
			if !okOD {
				continue
			}
			item := func(product, sku, meter, typ string, price float64) priceItem {
				id := uuidOf(product + sku + r.name + typ)
				return priceItem{
					CurrencyCode: "USD", RetailPrice: price, UnitPrice: price, ArmRegionName: r.name, Location: r.display,
					EffectiveStartDate: "2024-03-01T00:00:00Z", MeterID: id, MeterName: meter, ProductID: "DZH318Z0" + strings.ToUpper(id[:4]),
					SkuID: "DZH318Z0" + strings.ToUpper(id[:4]) + "/00" + strings.ToUpper(id[4:6]), ProductName: product, SkuName: sku,
					ServiceName: "Virtual Machines", ServiceID: "DZH313Z7MMC8", ServiceFamily: "Compute", UnitOfMeasure: "1 Hour",
					Type: typ, IsPrimaryMeterRegion: true, ArmSkuName: t.Name,
				}
			}
			linux := "Virtual Machines " + series + " Series"
			windows := linux + " Windows"
			out = append(out,
				item(linux, short, short, "Consumption", od),
				item(windows, short, short, "Consumption", round4(od+0.046*float64(t.VCPUs))),
				item(linux, short+" Low Priority", short+" Low Priority", "Consumption", round4(od*0.2)),
				item(linux, short, short, "DevTestConsumption", od),
			)
			res := item(linux, short, short, "Reservation", round4(od*0.62*8760))
			res.ReservationTerm, res.UnitOfMeasure = "1 Year", "1 Hour"
			out = append(out, res)
			if sp, ok := priceOf(t, r.name, catalog.Spot); ok {
				out = append(out,
					item(linux, short+" Spot", short+" Spot", "Consumption", sp),
					item(windows, short+" Spot", short+" Spot", "Consumption", round4(sp+0.046*float64(t.VCPUs)*0.3)))
			}
		}
	}
	return out
}

func seriesOf(t catalog.Type) string {
	if sz, ok := sizeByName(t.Name); ok && sz.series != "" {
		return sz.series
	}
	return strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(t.Family, "standard"), "Standard"), "Family")
}

func priceOf(t catalog.Type, region string, c catalog.Capacity) (float64, bool) {
	for _, o := range t.Offerings {
		if o.Region == region && o.Capacity == c {
			return o.Price, true
		}
	}
	return 0, false
}

var priceClause = regexp.MustCompile(`(?i)^\s*(serviceName|armRegionName|armSkuName|priceType|type|currencyCode|serviceFamily)\s+eq\s+'([^']*)'\s*$`)

// PricesPageSize is how many items a Retail Prices page holds, as the real
// API's 1000 would make the simulator's few regions one page.
const PricesPageSize = 100

// servePrices serves the unauthenticated Retail Prices API
// (GET /api/retail/prices?$filter=...), with its OData equality filters
// joined by "and", and its paging by NextPageLink.
func (s *Server) servePrices(c *ctx) {
	call := s.m.Begin("prices", "retail.prices", "")
	c.fault = call.Fault
	defer func() { call.End(c.status, c.code) }()
	if c.fault != nil {
		e := faultError(c.fault, "retail.prices", "")
		c.reply(e.Status, map[string]any{"Error": map[string]any{"Code": e.Code, "Message": e.Message}}, nil)
		c.code = e.Code
		return
	}
	if c.r.Method != http.MethodGet {
		c.reply(http.StatusMethodNotAllowed, nil, nil)
		return
	}
	filters := map[string]string{}
	if f := c.query("$filter"); f != "" {
		for _, part := range regexp.MustCompile(`(?i)\s+and\s+`).Split(f, -1) {
			m := priceClause.FindStringSubmatch(part)
			if m == nil {
				c.reply(http.StatusBadRequest, map[string]any{"Error": map[string]any{"Code": "BadRequest", "Message": "Invalid OData filter: " + part}}, nil)
				c.code = "BadRequest"
				return
			}
			k := strings.ToLower(m[1])
			if k == "pricetype" {
				k = "type"
			}
			filters[k] = m[2]
		}
	}
	var items []priceItem
	for _, it := range s.priceItems() {
		fields := map[string]string{"servicename": it.ServiceName, "armregionname": it.ArmRegionName, "armskuname": it.ArmSkuName,
			"type": it.Type, "currencycode": it.CurrencyCode, "servicefamily": it.ServiceFamily}
		keep := true
		for k, v := range filters {
			// The API compares case-sensitively, as here.
			if fields[k] != v {
				keep = false
			}
		}
		if keep {
			items = append(items, it)
		}
	}
	skip, _ := strconv.Atoi(c.query("$skip"))
	skip = max(0, min(skip, len(items)))
	end := min(len(items), skip+PricesPageSize)
	body := map[string]any{
		"BillingCurrency": "USD", "CustomerEntityId": "Default", "CustomerEntityType": "Retail",
		"Items": items[skip:end], "NextPageLink": nil, "Count": end - skip,
	}
	if end < len(items) {
		q := c.r.URL.Query()
		q.Set("$skip", strconv.Itoa(end))
		body["NextPageLink"] = c.base + c.r.URL.Path + "?" + q.Encode()
	}
	c.reply(http.StatusOK, body, map[string]string{"Date": s.m.Now().UTC().Format(time.RFC1123)})
}
