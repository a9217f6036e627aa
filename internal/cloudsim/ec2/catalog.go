package ec2

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/burstdev/burst/internal/catalog"
	"github.com/burstdev/burst/internal/cloudsim"
)

// page cuts items by the request's NextToken ("page-N") and MaxResults.
func page[T any](p *params, items []T, maxCap int) ([]T, string, *apiError) {
	start := 0
	if tok := p.str("NextToken"); tok != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(tok, "page-"))
		if err != nil || n < 0 || n > len(items) {
			return nil, "", errInvalid("The value for NextToken is not valid")
		}
		start = n
	}
	size := p.int("MaxResults", maxCap)
	if size <= 0 || size > maxCap {
		size = maxCap
	}
	end := min(start+size, len(items))
	next := ""
	if end < len(items) {
		next = fmt.Sprintf("page-%d", end)
	}
	return items[start:end], next, nil
}

type gpuXML struct {
	Name         string `xml:"name"`
	Manufacturer string `xml:"manufacturer"`
	Count        int    `xml:"count"`
	Memory       int    `xml:"memoryInfo>sizeInMiB"`
}

type instanceTypeXML struct {
	InstanceType      string   `xml:"instanceType"`
	CurrentGeneration bool     `xml:"currentGeneration"`
	Burstable         bool     `xml:"burstablePerformanceSupported"`
	BareMetal         bool     `xml:"bareMetal"`
	Hypervisor        string   `xml:"hypervisor"`
	UsageClasses      []string `xml:"supportedUsageClasses>item"`
	RootDeviceTypes   []string `xml:"supportedRootDeviceTypes>item"`
	VCPU              struct {
		Default int `xml:"defaultVCpus"`
		Cores   int `xml:"defaultCores"`
		Threads int `xml:"defaultThreadsPerCore"`
	} `xml:"vCpuInfo"`
	MemoryMiB int `xml:"memoryInfo>sizeInMiB"`
	Processor struct {
		Archs        []string `xml:"supportedArchitectures>item"`
		Manufacturer string   `xml:"manufacturer"`
	} `xml:"processorInfo"`
	GPU *struct {
		GPUs        []gpuXML `xml:"gpus>item"`
		TotalMemory int      `xml:"totalGpuMemoryInMiB"`
	} `xml:"gpuInfo"`
}

func typeXML(t catalog.Type) instanceTypeXML {
	x := instanceTypeXML{InstanceType: t.Name, CurrentGeneration: t.Generation >= 5 || t.Burstable, Burstable: t.Burstable, Hypervisor: "nitro",
		UsageClasses: []string{"on-demand", "spot"}, RootDeviceTypes: []string{"ebs"}, MemoryMiB: int(t.MemoryGiB * 1024)}
	threads := 2
	x.Processor.Manufacturer = "Intel"
	if t.Arch == "arm64" || t.VCPUs == 1 {
		threads = 1
		x.Processor.Manufacturer = "AWS"
	}
	x.VCPU.Default, x.VCPU.Cores, x.VCPU.Threads = t.VCPUs, t.VCPUs/threads, threads
	x.Processor.Archs = []string{t.Arch}
	if t.GPUs > 0 {
		x.GPU = &struct {
			GPUs        []gpuXML `xml:"gpus>item"`
			TotalMemory int      `xml:"totalGpuMemoryInMiB"`
		}{GPUs: []gpuXML{{Name: t.GPUModel, Manufacturer: "NVIDIA", Count: t.GPUs, Memory: int(t.GPUMemoryGiB * 1024)}}, TotalMemory: int(t.GPUMemoryGiB*1024) * t.GPUs}
		if t.GPUModel == "A100" || t.GPUModel == "A100-80GB" {
			x.GPU.GPUs[0].Name = "A100"
		}
	}
	return x
}

func (s *Server) describeInstanceTypes(r *request) (any, *apiError) {
	names, fs := r.params.strs("InstanceType"), r.params.filters()
	var types []catalog.Type
	for _, n := range names {
		t, ok := s.Model.Type(n)
		if !ok {
			return nil, &apiError{400, "InvalidInstanceType", fmt.Sprintf("The following supplied instance types do not exist: [%s]", n)}
		}
		types = append(types, t)
	}
	if len(names) == 0 {
		types = s.Model.Types()
	}
	var keep []catalog.Type
	for _, t := range types {
		ok := true
		for _, f := range fs {
			switch f.name {
			case "current-generation":
				ok = ok && f.matchAny(strconv.FormatBool(typeXML(t).CurrentGeneration))
			case "processor-info.supported-architecture":
				ok = ok && f.matchAny(t.Arch)
			case "instance-type":
				ok = ok && f.matchAny(t.Name)
			case "burstable-performance-supported":
				ok = ok && f.matchAny(strconv.FormatBool(t.Burstable))
			}
		}
		if ok {
			keep = append(keep, t)
		}
	}
	pg, next, aerr := page(r.params, keep, 100)
	if aerr != nil {
		return nil, aerr
	}
	type out struct {
		Items     []instanceTypeXML `xml:"instanceTypeSet>item"`
		NextToken string            `xml:"nextToken,omitempty"`
	}
	o := out{NextToken: next}
	for _, t := range pg {
		o.Items = append(o.Items, typeXML(t))
	}
	return o, nil
}

// offered reports whether a type has any offering in the region.
func offered(t catalog.Type, region string) bool {
	for _, o := range t.Offerings {
		if o.Region == region {
			return true
		}
	}
	return false
}

func (s *Server) describeInstanceTypeOfferings(r *request) (any, *apiError) {
	lt := orDefault(r.params.str("LocationType"), "region")
	type item struct {
		InstanceType string `xml:"instanceType"`
		LocationType string `xml:"locationType"`
		Location     string `xml:"location"`
	}
	var items []item
	zones := s.Model.Zones(r.region)
	for _, t := range s.Model.Types() {
		if !offered(t, r.region) {
			continue
		}
		var locs []string
		switch lt {
		case "region":
			locs = []string{r.region}
		case "availability-zone":
			locs = zones
		default:
			return nil, errInvalid("unsupported LocationType %q", lt)
		}
		for _, l := range locs {
			it := item{t.Name, lt, l}
			ok := true
			for _, f := range r.params.filters() {
				switch f.name {
				case "instance-type":
					ok = ok && f.matchAny(t.Name)
				case "location":
					ok = ok && f.matchAny(l)
				}
			}
			if ok {
				items = append(items, it)
			}
		}
	}
	pg, next, aerr := page(r.params, items, 1000)
	if aerr != nil {
		return nil, aerr
	}
	type out struct {
		Items     []item `xml:"instanceTypeOfferingSet>item"`
		NextToken string `xml:"nextToken,omitempty"`
	}
	return out{pg, next}, nil
}

func (s *Server) describeSpotPriceHistory(r *request) (any, *apiError) {
	names := r.params.strs("InstanceType")
	zone := r.params.str("AvailabilityZone")
	prods := r.params.strs("ProductDescription")
	if len(prods) > 0 && !contains(prods, "Linux/UNIX") && !contains(prods, "Linux/UNIX (Amazon VPC)") {
		type out struct {
			Items []struct{} `xml:"spotPriceHistorySet>item"`
		}
		return out{}, nil
	}
	type item struct {
		InstanceType string `xml:"instanceType"`
		Product      string `xml:"productDescription"`
		Price        string `xml:"spotPrice"`
		Timestamp    string `xml:"timestamp"`
		Zone         string `xml:"availabilityZone"`
	}
	now := s.Model.Now().UTC().Format("2006-01-02T15:04:05.000Z")
	var items []item
	for _, t := range s.Model.Types() {
		if len(names) > 0 && !contains(names, t.Name) {
			continue
		}
		for _, o := range t.Offerings {
			if o.Region != r.region || o.Capacity != catalog.Spot || o.Zone == "" || zone != "" && o.Zone != zone {
				continue
			}
			items = append(items, item{t.Name, "Linux/UNIX", strconv.FormatFloat(o.Price, 'f', 6, 64), now, o.Zone})
		}
	}
	pg, next, aerr := page(r.params, items, 1000)
	if aerr != nil {
		return nil, aerr
	}
	type out struct {
		Items     []item `xml:"spotPriceHistorySet>item"`
		NextToken string `xml:"nextToken,omitempty"`
	}
	return out{pg, next}, nil
}

// --- JSON services: Price List and Service Quotas ---

type jsonError struct {
	status   int
	typ, msg string
}

func writeJSONError(w http.ResponseWriter, e jsonError) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-ErrorType", e.typ)
	w.WriteHeader(e.status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": e.typ, "message": e.msg})
}

func (s *Server) serveJSON(w http.ResponseWriter, r *http.Request, target, region string, cred []string, body []byte) {
	service, action := ServicePricing, strings.TrimPrefix(target, "AWSPriceListService.")
	if strings.HasPrefix(target, "ServiceQuotasV20190624.") {
		service, action = ServiceQuotas, strings.TrimPrefix(target, "ServiceQuotasV20190624.")
	}
	call := s.Model.Begin(service, action, region)
	fail := func(e jsonError) {
		call.End(e.status, e.typ)
		writeJSONError(w, e)
	}
	if cred == nil || len(s.AccessKeys) > 0 && !contains(s.AccessKeys, cred[1]) {
		fail(jsonError{status: 400, typ: "UnrecognizedClientException", msg: "The security token included in the request is invalid."})
		return
	}
	if f := call.Fault; f != nil {
		e := jsonError{status: 500, typ: "InternalFailure", msg: "internal error"}
		switch f.Kind {
		case cloudsim.KindThrottle:
			e = jsonError{status: 400, typ: "ThrottlingException", msg: "Rate exceeded"}
		case cloudsim.KindAuth:
			e = jsonError{status: 400, typ: "AccessDeniedException", msg: "User is not authorized to perform " + service + ":" + action}
		case cloudsim.KindInvalid:
			e = jsonError{status: 400, typ: "InvalidParameterException", msg: "invalid parameter"}
		case cloudsim.KindTimeout:
			<-r.Context().Done()
			call.End(0, "Timeout")
			return
		}
		if f.Code != "" {
			e.typ = f.Code
		}
		fail(e)
		return
	}
	var req map[string]any
	if err := json.Unmarshal(body, &req); err != nil {
		fail(jsonError{status: 400, typ: "SerializationException", msg: err.Error()})
		return
	}
	var resp any
	var jerr *jsonError
	switch service + "." + action {
	case ServicePricing + ".GetProducts":
		resp, jerr = s.getProducts(req)
	case ServiceQuotas + ".GetServiceQuota":
		resp, jerr = s.getServiceQuota(region, req)
	default:
		jerr = &jsonError{status: 400, typ: "UnknownOperationException", msg: target}
	}
	if jerr != nil {
		fail(*jerr)
		return
	}
	call.End(200, "")
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	_ = json.NewEncoder(w).Encode(resp)
}

// getProducts answers pricing GetProducts for AmazonEC2 with one Linux,
// shared-tenancy, no-software product per type and region, filtered by the
// request's TERM_MATCH/EQUALS filters.
func (s *Server) getProducts(req map[string]any) (any, *jsonError) {
	if req["ServiceCode"] != "AmazonEC2" {
		return map[string]any{"FormatVersion": "aws_v1", "PriceList": []string{}}, nil
	}
	var filters [][2]string
	if fl, ok := req["Filters"].([]any); ok {
		for _, f := range fl {
			m, _ := f.(map[string]any)
			field, _ := m["Field"].(string)
			val, _ := m["Value"].(string)
			filters = append(filters, [2]string{field, val})
		}
	}
	var docs []string
	for _, t := range s.Model.Types() {
		for _, o := range t.Offerings {
			if o.Capacity != catalog.OnDemand || o.Zone != "" {
				continue
			}
			attrs := map[string]string{
				"instanceType": t.Name, "regionCode": o.Region, "operatingSystem": "Linux", "tenancy": "Shared",
				"preInstalledSw": "NA", "capacitystatus": "Used", "licenseModel": "No License required",
				"vcpu": strconv.Itoa(t.VCPUs), "memory": strconv.FormatFloat(t.MemoryGiB, 'f', -1, 64) + " GiB",
				"instanceFamily": "General purpose", "servicecode": "AmazonEC2", "marketoption": "OnDemand",
			}
			ok := true
			for _, f := range filters {
				if !strings.EqualFold(attrs[f[0]], f[1]) {
					ok = false
				}
			}
			if !ok {
				continue
			}
			sku := strings.ToUpper(strings.NewReplacer(".", "", "-", "").Replace(t.Name + o.Region))
			doc := map[string]any{
				"product":     map[string]any{"productFamily": "Compute Instance", "attributes": attrs, "sku": sku},
				"serviceCode": "AmazonEC2", "version": "20261101000000", "publicationDate": "2026-11-01T00:00:00Z",
				"terms": map[string]any{"OnDemand": map[string]any{sku + ".JRTCKXETXF": map[string]any{
					"sku": sku, "offerTermCode": "JRTCKXETXF", "effectiveDate": "2026-11-01T00:00:00Z",
					"priceDimensions": map[string]any{sku + ".JRTCKXETXF.6YS6EN2CT7": map[string]any{
						"unit": "Hrs", "rateCode": sku + ".JRTCKXETXF.6YS6EN2CT7",
						"pricePerUnit": map[string]string{"USD": strconv.FormatFloat(o.Price, 'f', 10, 64)},
						"description":  fmt.Sprintf("$%.4f per On Demand Linux %s Instance Hour", o.Price, t.Name),
					}},
				}}},
			}
			b, _ := json.Marshal(doc)
			docs = append(docs, string(b))
		}
	}
	sort.Strings(docs)
	start := 0
	if tok, _ := req["NextToken"].(string); tok != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(tok, "page-"))
		if err != nil || n < 0 || n > len(docs) {
			return nil, &jsonError{status: 400, typ: "InvalidNextTokenException", msg: "bad token"}
		}
		start = n
	}
	size := 100
	if m, ok := req["MaxResults"].(float64); ok && m > 0 && m < 100 {
		size = int(m)
	}
	end := min(start+size, len(docs))
	resp := map[string]any{"FormatVersion": "aws_v1", "PriceList": docs[start:end]}
	if end < len(docs) {
		resp["NextToken"] = fmt.Sprintf("page-%d", end)
	}
	return resp, nil
}

// UnlimitedQuota is the value GetServiceQuota reports for a quota the model
// does not limit.
const UnlimitedQuota = 100000

func (s *Server) getServiceQuota(region string, req map[string]any) (any, *jsonError) {
	sc, _ := req["ServiceCode"].(string)
	qc, _ := req["QuotaCode"].(string)
	name, ok := QuotaNames[qc]
	if sc != "ec2" || !ok {
		return nil, &jsonError{status: 400, typ: "NoSuchResourceException", msg: fmt.Sprintf("The request failed because the specified quota %s/%s does not exist.", sc, qc)}
	}
	limit, _, limited := s.Model.Quota(cloudsim.QuotaKey{Region: region, Name: qc})
	if !limited {
		limit = UnlimitedQuota
	}
	return map[string]any{"Quota": map[string]any{
		"ServiceCode": "ec2", "ServiceName": "Amazon Elastic Compute Cloud (Amazon EC2)", "QuotaCode": qc, "QuotaName": name,
		"QuotaArn": fmt.Sprintf("arn:aws:servicequotas:%s:%s:ec2/%s", region, s.AccountID, qc),
		"Value":    limit, "Unit": "None", "Adjustable": true, "GlobalQuota": false,
	}}, nil
}
