package arm

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/burstdev/burst/internal/cloudsim"
)

// wire is a raw HTTP client of a simulator: the tests here check the shapes
// on the wire, independent of the SDK.
type wire struct {
	t     *testing.T
	s     *Server
	url   string
	clock *cloudsim.Clock
}

func newWire(t *testing.T) *wire {
	clock := cloudsim.NewClock(time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC))
	s := New(Options{Model: NewModel(cloudsim.Config{Now: clock.Now, Sleep: clock.Sleep, BootDelay: 30 * time.Second, TerminateDelay: 10 * time.Second}), PageSize: 3})
	u := s.Start()
	t.Cleanup(s.Close)
	return &wire{t: t, s: s, url: u, clock: clock}
}

type answer struct {
	status int
	header http.Header
	body   map[string]any
}

func (a answer) errCode() string {
	if e, ok := a.body["error"].(map[string]any); ok {
		return e["code"].(string)
	}
	return ""
}

func (w *wire) do(method, path string, body any) answer {
	w.t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	u := w.url + path
	if !strings.Contains(path, "api-version=") {
		if strings.Contains(path, "?") {
			u += "&api-version=2024-11-01"
		} else {
			u += "?api-version=2024-11-01"
		}
	}
	req, _ := http.NewRequest(method, u, r)
	req.Header.Set("Authorization", "Bearer owner")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	a := answer{status: resp.StatusCode, header: resp.Header}
	b, _ := io.ReadAll(resp.Body)
	if len(b) > 0 {
		if err := json.Unmarshal(b, &a.body); err != nil {
			w.t.Fatalf("%s %s: %s is not JSON: %v", method, path, b, err)
		}
	}
	return a
}

func (w *wire) poll(a answer) answer {
	w.t.Helper()
	op := a.header.Get("Azure-AsyncOperation")
	if op == "" {
		w.t.Fatalf("no Azure-AsyncOperation header: %v", a.header)
	}
	u, _ := url.Parse(op)
	return w.do(http.MethodGet, u.RequestURI(), nil)
}

const sub = "/subscriptions/" + DefaultSubscription

func (w *wire) network(rg string) string {
	w.t.Helper()
	if a := w.do(http.MethodPut, sub+"/resourcegroups/"+rg, map[string]any{"location": "eastus", "tags": map[string]string{"burst-cluster": "c"}}); a.status != 201 {
		w.t.Fatalf("group: %d %v", a.status, a.body)
	}
	vnet := map[string]any{"location": "eastus", "properties": map[string]any{
		"addressSpace": map[string]any{"addressPrefixes": []string{"10.0.0.0/16"}},
		"subnets":      []any{map[string]any{"name": "s", "properties": map[string]any{"addressPrefix": "10.0.0.0/16"}}},
	}}
	if a := w.do(http.MethodPut, sub+"/resourceGroups/"+rg+"/providers/Microsoft.Network/virtualNetworks/vn", vnet); a.status != 201 {
		w.t.Fatalf("vnet: %d %v", a.status, a.body)
	}
	return sub + "/resourceGroups/" + rg + "/providers/Microsoft.Network/virtualNetworks/vn/subnets/s"
}

func scaleSet(subnet string, sku any, capacity int, deleteOption string, extra func(props, vmp map[string]any)) map[string]any {
	vmp := map[string]any{
		"osProfile": map[string]any{"computerNamePrefix": "b", "adminUsername": "burst",
			"linuxConfiguration": map[string]any{"disablePasswordAuthentication": true, "ssh": map[string]any{"publicKeys": []any{map[string]any{"path": "/home/burst/.ssh/authorized_keys", "keyData": "ssh-ed25519 AAAA"}}}}},
		"storageProfile": map[string]any{"imageReference": map[string]any{"publisher": "Canonical", "offer": "ubuntu-24_04-lts", "sku": "server", "version": "latest"},
			"osDisk": map[string]any{"createOption": "FromImage", "deleteOption": deleteOption}},
		"networkProfile": map[string]any{"networkApiVersion": "2020-11-01", "networkInterfaceConfigurations": []any{map[string]any{
			"name": "nic", "properties": map[string]any{"primary": true, "deleteOption": deleteOption,
				"ipConfigurations": []any{map[string]any{"name": "ip", "properties": map[string]any{"subnet": map[string]any{"id": subnet}}}}}}}},
	}
	props := map[string]any{"orchestrationMode": "Flexible", "platformFaultDomainCount": 1, "virtualMachineProfile": vmp}
	if extra != nil {
		extra(props, vmp)
	}
	skuBody := map[string]any{"name": sku, "capacity": capacity}
	return map[string]any{"location": "eastus", "sku": skuBody, "properties": props}
}

// TestScaleSetOperation: a scale set PUT answers 201 Creating with an
// Azure-AsyncOperation to poll; the operation is InProgress until the VMs
// boot, and the set then shows its VMs.
func TestScaleSetOperation(t *testing.T) {
	w := newWire(t)
	subnet := w.network("rg")
	path := sub + "/resourceGroups/rg/providers/Microsoft.Compute/virtualMachineScaleSets/set"
	a := w.do(http.MethodPut, path, scaleSet(subnet, "Standard_D2s_v5", 4, "Delete", nil))
	if a.status != 201 || a.body["properties"].(map[string]any)["provisioningState"] != "Creating" {
		t.Fatalf("PUT: %d %v", a.status, a.body)
	}
	if loc := a.header.Get("Azure-AsyncOperation"); !strings.Contains(loc, "/providers/Microsoft.Compute/locations/eastus/operations/") {
		t.Fatalf("operation URL %q", loc)
	}
	if op := w.poll(a); op.body["status"] != "InProgress" {
		t.Fatalf("before boot: %v", op.body)
	}
	w.clock.Advance(30 * time.Second)
	if op := w.poll(a); op.body["status"] != "Succeeded" {
		t.Fatalf("after boot: %v", op.body)
	}
	got := w.do(http.MethodGet, path, nil)
	if got.body["sku"].(map[string]any)["capacity"].(float64) != 4 || got.body["properties"].(map[string]any)["provisioningState"] != "Succeeded" {
		t.Fatalf("GET: %v", got.body)
	}
	// Paged list of the set's VMs: 3 and a nextLink.
	filter := url.QueryEscape("'virtualMachineScaleSet/id' eq '" + path + "'")
	list := w.do(http.MethodGet, sub+"/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines?$filter="+filter, nil)
	if n := len(list.body["value"].([]any)); n != 3 || list.body["nextLink"] == nil {
		t.Fatalf("first page: %d VMs, nextLink %v", n, list.body["nextLink"])
	}
	vm := list.body["value"].([]any)[0].(map[string]any)
	if !strings.HasPrefix(vm["name"].(string), "set_") || vm["properties"].(map[string]any)["virtualMachineScaleSet"] == nil {
		t.Errorf("VM %v", vm)
	}
}

// TestDeleteOptionMatters: without deleteOption=Delete a deleted VM leaves
// its NIC and disk behind, as in Azure: what burst's delete options avoid.
func TestDeleteOptionMatters(t *testing.T) {
	for _, opt := range []string{"Delete", "Detach"} {
		t.Run(opt, func(t *testing.T) {
			w := newWire(t)
			subnet := w.network("rg")
			path := sub + "/resourceGroups/rg/providers/Microsoft.Compute/virtualMachineScaleSets/set"
			w.do(http.MethodPut, path, scaleSet(subnet, "Standard_D2s_v5", 2, opt, nil))
			vms := w.s.VMIDs()
			a := w.do(http.MethodPost, path+"/delete?forceDeletion=true", map[string]any{"instanceIds": []string{vms[0][strings.LastIndexByte(vms[0], '/')+1:]}})
			if a.status != 202 || a.header.Get("Location") == "" {
				t.Fatalf("delete instances: %d %v", a.status, a.header)
			}
			w.clock.Advance(time.Minute)
			orphans := w.s.Orphans()
			if (opt == "Delete") != (len(orphans) == 0) {
				t.Fatalf("deleteOption %s left %v", opt, orphans)
			}
			if c, _ := w.s.ScaleSetCapacity(path); c != 1 {
				t.Errorf("capacity %d after deleting one of two", c)
			}
		})
	}
}

// TestFlexibleLimits: the simulator refuses what Azure refuses.
func TestFlexibleLimits(t *testing.T) {
	w := newWire(t)
	subnet := w.network("rg")
	path := sub + "/resourceGroups/rg/providers/Microsoft.Compute/virtualMachineScaleSets/"
	mix := func(sizes ...string) func(props, vmp map[string]any) {
		return func(props, vmp map[string]any) {
			var vs []any
			for _, s := range sizes {
				vs = append(vs, map[string]any{"name": s})
			}
			props["skuProfile"] = map[string]any{"vmSizes": vs, "allocationStrategy": "LowestPrice"}
		}
	}
	for _, tt := range []struct {
		name   string
		body   map[string]any
		status int
		code   string
	}{
		{"over 1000", scaleSet(subnet, "Standard_D2s_v5", 1001, "Delete", nil), 400, "InvalidParameter"},
		{"N-series over 200", scaleSet(subnet, "Standard_NC4as_T4_v3", 201, "Delete", nil), 400, "InvalidParameter"},
		{"six sizes", scaleSet(subnet, "Mix", 2, "Delete", mix("Standard_D2s_v5", "Standard_D4s_v5", "Standard_D8s_v5", "Standard_D2as_v5", "Standard_D4as_v5", "Standard_E2s_v5")), 400, "InvalidParameter"},
		{"GPU in a mix", scaleSet(subnet, "Mix", 2, "Delete", mix("Standard_D2s_v5", "Standard_NC4as_T4_v3")), 400, "InvalidParameter"},
		{"mixed architectures", scaleSet(subnet, "Mix", 2, "Delete", mix("Standard_D2s_v5", "Standard_D2ps_v5")), 400, "InvalidParameter"},
		{"x64 image on arm64", scaleSet(subnet, "Standard_D2ps_v5", 1, "Delete", nil), 400, "BadRequest"},
		{"unknown size", scaleSet(subnet, "Standard_Z9", 1, "Delete", nil), 409, "SkuNotAvailable"},
		{"spot on B-series", scaleSet(subnet, "Standard_B2s", 1, "Delete", func(_, vmp map[string]any) { vmp["priority"] = "Spot" }), 400, "InvalidParameter"},
		{"missing subnet", scaleSet(subnet+"x", "Standard_D2s_v5", 1, "Delete", nil), 400, "InvalidResourceReference"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a := w.do(http.MethodPut, path+strings.ReplaceAll(tt.name, " ", "-"), tt.body)
			if a.status != tt.status || a.errCode() != tt.code {
				t.Fatalf("%d %s, want %d %s: %v", a.status, a.errCode(), tt.status, tt.code, a.body)
			}
		})
	}
	if len(w.s.VMIDs()) != 0 {
		t.Error("a refused set made VMs")
	}
}

// TestErrors: ARM's envelope and codes for quota, throttling, auth and
// request errors.
func TestErrors(t *testing.T) {
	w := newWire(t)
	subnet := w.network("rg")
	w.s.Model().SetQuota(cloudsim.QuotaKey{Region: "eastus", Name: "standardDSv5Family"}, 4)
	a := w.do(http.MethodPut, sub+"/resourceGroups/rg/providers/Microsoft.Compute/virtualMachineScaleSets/q", scaleSet(subnet, "Standard_D2s_v5", 3, "Delete", nil))
	msg, _ := a.body["error"].(map[string]any)["message"].(string)
	if a.status != 409 || a.errCode() != "OperationNotAllowed" || !strings.Contains(msg, "exceeding approved standardDSv5Family Cores quota") ||
		!strings.Contains(msg, "Current Limit: 4") || !strings.Contains(msg, "Additional Required: 6") {
		t.Fatalf("quota: %d %v", a.status, a.body)
	}
	w.s.SetARMThrottles()
	w.s.Model().SetBucket(BucketReads, 1, 0.25)
	w.do(http.MethodGet, sub+"/resourcegroups", nil)
	a = w.do(http.MethodGet, sub+"/resourcegroups", nil)
	if a.status != 429 || a.errCode() != "TooManyRequests" || a.header.Get("Retry-After") != "4" {
		t.Fatalf("throttle: %d %s Retry-After %q", a.status, a.errCode(), a.header.Get("Retry-After"))
	}
	w.s.Model().RemoveBuckets()
	req, _ := http.NewRequest(http.MethodGet, w.url+sub+"/resourcegroups?api-version=2021-04-01", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("no token: %d", resp.StatusCode)
	}
	if a := w.do(http.MethodGet, sub+"/resourcegroups/rg?api-version=", nil); a.status != 400 || a.errCode() != "MissingApiVersionParameter" {
		t.Errorf("no api-version: %d %s", a.status, a.errCode())
	}
	if a := w.do(http.MethodGet, sub+"/resourcegroups/nope", nil); a.status != 404 || a.errCode() != "ResourceGroupNotFound" {
		t.Errorf("missing group: %d %s", a.status, a.errCode())
	}
	if a := w.do(http.MethodGet, "/subscriptions/other/resourcegroups", nil); a.status != 404 || a.errCode() != "SubscriptionNotFound" {
		t.Errorf("other subscription: %d %s", a.status, a.errCode())
	}
	w.s.Model().Inject(cloudsim.Fault{Kind: cloudsim.KindCapacity, Action: "Microsoft.Compute/virtualMachineScaleSets/write", Code: "ZonalAllocationFailed", Times: 1})
	a = w.do(http.MethodPut, sub+"/resourceGroups/rg/providers/Microsoft.Compute/virtualMachineScaleSets/c", scaleSet(subnet, "Standard_D2as_v5", 2, "Delete", nil))
	if a.status != 201 {
		t.Fatalf("capacity fault answers at once: %d %v", a.status, a.body)
	}
	op := w.poll(a)
	if op.body["status"] != "Failed" || op.body["error"].(map[string]any)["code"] != "ZonalAllocationFailed" {
		t.Fatalf("capacity fault operation: %v", op.body)
	}
}

// TestEviction: Delete removes an evicted VM and its disk; Deallocate stops
// it and keeps its disk.
func TestEviction(t *testing.T) {
	for _, policy := range []string{"Delete", "Deallocate"} {
		t.Run(policy, func(t *testing.T) {
			w := newWire(t)
			subnet := w.network("rg")
			spot := func(_, vmp map[string]any) {
				vmp["priority"], vmp["evictionPolicy"], vmp["billingProfile"] = "Spot", policy, map[string]any{"maxPrice": -1}
			}
			w.do(http.MethodPut, sub+"/resourceGroups/rg/providers/Microsoft.Compute/virtualMachineScaleSets/s", scaleSet(subnet, "Standard_D2s_v5", 1, "Delete", spot))
			w.clock.Advance(time.Minute)
			vm := w.s.VMIDs()[0]
			if !w.s.Evict(vm) {
				t.Fatal("Evict refused a Spot VM")
			}
			w.clock.Advance(time.Minute)
			a := w.do(http.MethodGet, vm+"?$expand=instanceView", nil)
			if policy == "Delete" {
				if a.status != 404 || len(w.s.Live()) != 3 { // group, network, set
					t.Errorf("after eviction: %d, live %v", a.status, w.s.Live())
				}
				return
			}
			statuses := a.body["properties"].(map[string]any)["instanceView"].(map[string]any)["statuses"].([]any)
			if a.status != 200 || statuses[1].(map[string]any)["code"] != "PowerState/deallocated" {
				t.Errorf("deallocated VM: %d %v", a.status, statuses)
			}
			if !slices.ContainsFunc(w.s.Live(), func(s string) bool { return strings.HasPrefix(s, KindDisk) }) {
				t.Error("a deallocated VM's disk is gone")
			}
		})
	}
}

// TestResourceGroupDelete: one call removes everything in a group; the
// Location header is polled until it answers 200.
func TestResourceGroupDelete(t *testing.T) {
	w := newWire(t)
	subnet := w.network("rg")
	w.do(http.MethodPut, sub+"/resourceGroups/rg/providers/Microsoft.Compute/virtualMachineScaleSets/s", scaleSet(subnet, "Standard_D2s_v5", 5, "Delete", nil))
	before := len(w.s.Live())
	if r := w.do(http.MethodDelete, sub+"/resourcegroups/rg?forceDeletionTypes=Microsoft.Network/networkInterfaces", nil); r.status != 400 || r.errCode() != "InvalidForceDeletionType" {
		t.Fatalf("force deletion of NICs: %d %s, want 400 InvalidForceDeletionType", r.status, r.errCode())
	}
	if live := w.s.Live(); len(live) != before || before == 0 {
		t.Fatalf("a refused delete deleted: %d live, %d before", len(live), before)
	}
	a := w.do(http.MethodDelete, sub+"/resourcegroups/rg?forceDeletionTypes=Microsoft.Compute/virtualMachines,Microsoft.Compute/virtualMachineScaleSets", nil)
	if a.status != 202 || a.header.Get("Location") == "" {
		t.Fatalf("delete: %d %v", a.status, a.header)
	}
	u, _ := url.Parse(a.header.Get("Location"))
	if r := w.do(http.MethodGet, u.RequestURI(), nil); r.status != 202 {
		t.Fatalf("while VMs shut down: %d", r.status)
	}
	w.clock.Advance(time.Minute)
	if r := w.do(http.MethodGet, u.RequestURI(), nil); r.status != 200 {
		t.Fatalf("after: %d", r.status)
	}
	if live := w.s.Live(); len(live) != 0 {
		t.Errorf("left %v", live)
	}
}

// TestPrices: the Retail Prices API's filters and paging, and its mix of
// meters a client must choose from.
func TestPrices(t *testing.T) {
	w := newWire(t)
	q := url.QueryEscape("serviceName eq 'Virtual Machines' and armRegionName eq 'eastus' and armSkuName eq 'Standard_D2s_v5'")
	resp, err := http.Get(w.url + "/api/retail/prices?$filter=" + q)
	if err != nil {
		t.Fatal(err)
	}
	var body struct {
		Items []priceItem
	}
	_ = json.NewDecoder(resp.Body).Decode(&body)
	_ = resp.Body.Close()
	kinds := map[string]float64{}
	for _, it := range body.Items {
		kinds[it.Type+"|"+it.ProductName+"|"+it.SkuName] = it.RetailPrice
	}
	if kinds["Consumption|Virtual Machines DSv5 Series|D2s v5"] != 0.096 || kinds["Consumption|Virtual Machines DSv5 Series Windows|D2s v5"] <= 0.096 ||
		kinds["Consumption|Virtual Machines DSv5 Series|D2s v5 Spot"] <= 0 || kinds["Consumption|Virtual Machines DSv5 Series|D2s v5 Low Priority"] <= 0 {
		t.Fatalf("items %v", kinds)
	}
	pages, next := 0, w.url+"/api/retail/prices?$filter="+url.QueryEscape("armRegionName eq 'eastus'")
	total := 0
	for next != "" {
		resp, err := http.Get(next)
		if err != nil {
			t.Fatal(err)
		}
		var page struct {
			Items        []priceItem
			NextPageLink *string
		}
		_ = json.NewDecoder(resp.Body).Decode(&page)
		_ = resp.Body.Close()
		pages++
		total += len(page.Items)
		next = ""
		if page.NextPageLink != nil {
			next = *page.NextPageLink
		}
	}
	if pages < 2 || total <= PricesPageSize {
		t.Errorf("%d items in %d pages", total, pages)
	}
}

func TestActionMatches(t *testing.T) {
	for _, tt := range []struct {
		p, a string
		want bool
	}{
		{"Microsoft.Compute/virtualMachines/*", "Microsoft.Compute/virtualMachines/delete", true},
		{"Microsoft.Compute/virtualMachines/*", "Microsoft.Compute/virtualMachineScaleSets/write", false},
		{"Microsoft.Authorization/*/read", "Microsoft.Authorization/roleAssignments/read", true},
		{"Microsoft.Authorization/*/read", "Microsoft.Authorization/roleAssignments/write", false},
		{"microsoft.compute/skus/read", "Microsoft.Compute/skus/read", true},
	} {
		if got := ActionMatches(tt.p, tt.a); got != tt.want {
			t.Errorf("%s ~ %s = %v", tt.p, tt.a, got)
		}
	}
}

// TestNames: ARM refuses names Azure's naming rules refuse.
func TestNames(t *testing.T) {
	w := newWire(t)
	subnet := w.network("rg")
	set := sub + "/resourceGroups/rg/providers/Microsoft.Compute/virtualMachineScaleSets/"
	vnet := map[string]any{"location": "eastus", "properties": map[string]any{"addressSpace": map[string]any{"addressPrefixes": []string{"10.0.0.0/16"}}}}
	for _, tt := range []struct {
		name, path string
		body       any
		code       string
	}{
		{"group ending with a period", sub + "/resourcegroups/rg.", map[string]any{"location": "eastus"}, "InvalidResourceGroupName"},
		{"group of 91", sub + "/resourcegroups/" + strings.Repeat("g", 91), map[string]any{"location": "eastus"}, "InvalidResourceGroupName"},
		{"one-letter network", sub + "/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v", vnet, "InvalidResourceName"},
		{"network ending with a hyphen", sub + "/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/vn-", vnet, "InvalidResourceName"},
		{"identity of two", sub + "/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id", map[string]any{"location": "eastus"}, "InvalidResourceName"},
		{"set with an underscore", set + "a_b", scaleSet(subnet, "Standard_D2s_v5", 1, "Delete", nil), "InvalidResourceName"},
		{"set of 65", set + strings.Repeat("s", 65), scaleSet(subnet, "Standard_D2s_v5", 1, "Delete", nil), "InvalidResourceName"},
		{"prefix of 16", set + "p", scaleSet(subnet, "Standard_D2s_v5", 1, "Delete", func(_, vmp map[string]any) {
			vmp["osProfile"].(map[string]any)["computerNamePrefix"] = strings.Repeat("p", 16)
		}), "InvalidParameter"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if a := w.do(http.MethodPut, tt.path, tt.body); a.status != 400 || a.errCode() != tt.code {
				t.Fatalf("%d %s, want 400 %s: %v", a.status, a.errCode(), tt.code, a.body)
			}
		})
	}
	if len(w.s.VMIDs()) != 0 {
		t.Error("a refused set made VMs")
	}
	for what, good := range map[string]string{NameResourceGroup: "burst-" + strings.Repeat("c", 32) + "-germanywestcentral", NameVM: "c-h-0a1b2c3d-0",
		NameComputer: "c-head", NameIdentity: "c-identity", NameSubnet: "machines"} {
		if err := ValidName(what, good); err != nil {
			t.Errorf("%s %q refused: %v", what, good, err)
		}
	}
}

// TestPowerStates: a guest shutdown leaves a VM stopped but allocated,
// deallocation releases it; either keeps its disk, and either is deleted
// like a running VM.
func TestPowerStates(t *testing.T) {
	w := newWire(t)
	subnet := w.network("rg")
	path := sub + "/resourceGroups/rg/providers/Microsoft.Compute/virtualMachineScaleSets/set"
	w.do(http.MethodPut, path, scaleSet(subnet, "Standard_D2s_v5", 3, "Delete", nil))
	w.clock.Advance(time.Minute)
	vms := w.s.VMIDs()
	if !w.s.PowerOff(vms[0]) || !w.s.Deallocate(vms[1]) || w.s.PowerOff(vms[0]) {
		t.Fatal("PowerOff/Deallocate of running VMs refused, or of a stopped one accepted")
	}
	w.clock.Advance(time.Minute)
	power := func(vm string) string {
		a := w.do(http.MethodGet, vm+"?$expand=instanceView", nil)
		for _, st := range a.body["properties"].(map[string]any)["instanceView"].(map[string]any)["statuses"].([]any) {
			if c := st.(map[string]any)["code"].(string); strings.HasPrefix(c, "PowerState/") {
				return c
			}
		}
		return ""
	}
	for i, want := range []string{"PowerState/stopped", "PowerState/deallocated", "PowerState/running"} {
		if got := power(vms[i]); got != want {
			t.Errorf("VM %d: %s, want %s", i, got, want)
		}
	}
	filter := url.QueryEscape("'virtualMachineScaleSet/id' eq '" + path + "'")
	list := w.do(http.MethodGet, sub+"/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines?$expand=instanceView&$filter="+filter, nil)
	if n := len(list.body["value"].([]any)); n != 3 {
		t.Fatalf("the set lists %d VMs", n)
	}
	if n := len(w.s.Model().Resources(KindDisk, nil)); n != 3 {
		t.Errorf("%d disks, want 3: a stopped VM keeps its disk", n)
	}
	names := []string{vms[0][strings.LastIndexByte(vms[0], '/')+1:], vms[1][strings.LastIndexByte(vms[1], '/')+1:]}
	if a := w.do(http.MethodPost, path+"/delete?forceDeletion=true", map[string]any{"instanceIds": names}); a.status != 202 {
		t.Fatalf("delete: %d %v", a.status, a.body)
	}
	w.clock.Advance(time.Minute)
	if got := w.s.VMIDs(); len(got) != 1 || got[0] != vms[2] || len(w.s.Orphans()) != 0 {
		t.Errorf("after deleting the stopped VMs: %v, orphans %v", got, w.s.Orphans())
	}
}

// TestDiskEncryption: every managed OS disk is encrypted at rest with
// platform keys unless a disk encryption set names a customer key; the
// simulator records what was asked.
func TestDiskEncryption(t *testing.T) {
	w := newWire(t)
	subnet := w.network("rg")
	path := sub + "/resourceGroups/rg/providers/Microsoft.Compute/virtualMachineScaleSets/"
	w.do(http.MethodPut, path+"plain", scaleSet(subnet, "Standard_D2s_v5", 1, "Delete", nil))
	w.do(http.MethodPut, path+"cmk", scaleSet(subnet, "Standard_D2s_v5", 1, "Delete", func(_, vmp map[string]any) {
		vmp["storageProfile"].(map[string]any)["osDisk"].(map[string]any)["managedDisk"] = map[string]any{
			"diskEncryptionSet": map[string]any{"id": sub + "/resourceGroups/rg/providers/Microsoft.Compute/diskEncryptionSets/des"}}
		vmp["securityProfile"] = map[string]any{"encryptionAtHost": true}
	}))
	got := map[string]string{}
	for _, in := range w.s.Model().Instances(nil) {
		got[in.Name[:strings.IndexByte(in.Name, '_')]] = in.Attrs["osDiskEncryption"] + "/" + in.Attrs["encryptionAtHost"]
	}
	if got["plain"] != "EncryptionAtRestWithPlatformKey/" || got["cmk"] != "EncryptionAtRestWithCustomerKey/true" {
		t.Errorf("encryption %v", got)
	}
}

// TestConflictFault: an injected dependency conflict answers 409 with its
// code, as ARM does when a resource is still in use.
func TestConflictFault(t *testing.T) {
	w := newWire(t)
	w.network("rg")
	w.s.Model().Inject(cloudsim.Fault{Kind: cloudsim.KindInvalid, Action: "Microsoft.Resources/subscriptions/resourceGroups/delete", Code: "AnotherOperationInProgress", Times: 1})
	if a := w.do(http.MethodDelete, sub+"/resourcegroups/rg", nil); a.status != 409 || a.errCode() != "AnotherOperationInProgress" {
		t.Fatalf("%d %s", a.status, a.errCode())
	}
	if a := w.do(http.MethodDelete, sub+"/resourcegroups/rg", nil); a.status != 202 {
		t.Fatalf("second delete: %d %v", a.status, a.body)
	}
}

// TestListsFollowChanges: a list renders each VM once per state (cached),
// yet shows what changed since: power states, a VM gone, its own tags.
func TestListsFollowChanges(t *testing.T) {
	w := newWire(t)
	subnet := w.network("rg")
	path := sub + "/resourceGroups/rg/providers/Microsoft.Compute/virtualMachineScaleSets/set"
	w.do(http.MethodPut, path, scaleSet(subnet, "Standard_D2s_v5", 2, "Delete", nil))
	filter := url.QueryEscape("'virtualMachineScaleSet/id' eq '" + path + "'")
	powers := func() map[string]string {
		out := map[string]string{}
		list := w.do(http.MethodGet, sub+"/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines?$expand=instanceView&$filter="+filter, nil)
		for _, v := range list.body["value"].([]any) {
			vm := v.(map[string]any)
			for _, st := range vm["properties"].(map[string]any)["instanceView"].(map[string]any)["statuses"].([]any) {
				if c := st.(map[string]any)["code"].(string); strings.HasPrefix(c, "PowerState/") {
					out[vm["id"].(string)] = c
				}
			}
		}
		return out
	}
	vms := w.s.VMIDs()
	if got := powers(); got[vms[0]] != "PowerState/starting" || got[vms[1]] != "PowerState/starting" {
		t.Fatalf("while booting: %v", got)
	}
	w.clock.Advance(time.Minute)
	if got := powers(); got[vms[0]] != "PowerState/running" || got[vms[1]] != "PowerState/running" {
		t.Fatalf("booted: %v", got)
	}
	w.s.PowerOff(vms[0])
	w.clock.Advance(time.Minute)
	if got := powers(); got[vms[0]] != "PowerState/stopped" || got[vms[1]] != "PowerState/running" {
		t.Fatalf("one powered off: %v", got)
	}
	name := vms[1][strings.LastIndexByte(vms[1], '/')+1:]
	w.do(http.MethodPost, path+"/delete?forceDeletion=true", map[string]any{"instanceIds": []string{name}})
	w.clock.Advance(time.Minute)
	if got := powers(); len(got) != 1 || got[vms[0]] == "" {
		t.Fatalf("one deleted: %v", got)
	}

	// A standalone VM's tags, changed by a PUT, show in the next list.
	vm := sub + "/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/head"
	body := func(tags map[string]any) map[string]any {
		set := scaleSet(subnet, "Standard_D2s_v5", 1, "Delete", nil)
		vmp := set["properties"].(map[string]any)["virtualMachineProfile"].(map[string]any)
		vmp["hardwareProfile"] = map[string]any{"vmSize": "Standard_D2s_v5"}
		vmp["osProfile"].(map[string]any)["computerName"] = "head"
		delete(vmp["osProfile"].(map[string]any), "computerNamePrefix")
		return map[string]any{"location": "eastus", "tags": tags, "properties": vmp}
	}
	if a := w.do(http.MethodPut, vm, body(map[string]any{"v": "1"})); a.status != 201 {
		t.Fatalf("VM PUT: %d %v", a.status, a.body)
	}
	w.clock.Advance(time.Minute)
	tagOf := func() any {
		list := w.do(http.MethodGet, sub+"/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines", nil)
		for {
			for _, v := range list.body["value"].([]any) {
				if m := v.(map[string]any); strings.EqualFold(m["id"].(string), vm) {
					return m["tags"].(map[string]any)["v"]
				}
			}
			next, _ := list.body["nextLink"].(string)
			if next == "" {
				return nil
			}
			list = w.do(http.MethodGet, strings.TrimPrefix(next, w.url), nil)
		}
	}
	if got := tagOf(); got != "1" {
		t.Fatalf("tag %v, want 1", got)
	}
	if a := w.do(http.MethodPut, vm, body(map[string]any{"v": "2"})); a.status != 200 {
		t.Fatalf("VM PUT again: %d %v", a.status, a.body)
	}
	if got := tagOf(); got != "2" {
		t.Fatalf("tag %v after the PUT, want 2", got)
	}
}
