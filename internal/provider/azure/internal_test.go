package azure

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"

	"github.com/burstdev/burst/internal/catalog"
	"github.com/burstdev/burst/internal/cloudsim/arm"
	"github.com/burstdev/burst/internal/plan"
	"github.com/burstdev/burst/internal/provider"
	"github.com/burstdev/burst/pkg/spec"
)

func off(size, region, arch string, gpus int) plan.Offering {
	return plan.Offering{Provider: Name, InstanceType: size, Region: region, Arch: arch, GPUs: gpus, Capacity: catalog.OnDemand}
}

func zonal(o plan.Offering, z string) plan.Offering {
	o.Zone = z
	return o
}

func TestBatches(t *testing.T) {
	offs := []plan.Offering{
		off("Standard_D2as_v5", "eastus", "x86_64", 0),
		off("Standard_D2ps_v5", "eastus", "arm64", 0),
		off("Standard_D2as_v5", "westus2", "x86_64", 0),
		off("Standard_D2s_v5", "eastus", "x86_64", 0),
		off("Standard_NC4as_T4_v3", "eastus", "x86_64", 1),
		off("Standard_E2s_v5", "eastus", "x86_64", 0),
		off("Standard_F2s_v2", "eastus", "x86_64", 0),
		off("Standard_D4s_v5", "eastus", "x86_64", 0),
		off("Standard_D8s_v5", "eastus", "x86_64", 0),
		off("Standard_E2ps_v5", "eastus", "arm64", 0),
		zonal(off("Standard_D16s_v5", "eastus", "x86_64", 0), "2"),
		zonal(off("Standard_D32s_v5", "eastus", "x86_64", 0), "2"),
	}
	var got []string
	for _, b := range batches(offs) {
		var names []string
		for _, o := range b.offerings {
			names = append(names, strings.TrimPrefix(o.InstanceType, "Standard_"))
		}
		loc := b.location
		if b.zone != "" {
			loc += "/" + b.zone
		}
		got = append(got, loc+":"+strings.Join(names, ","))
	}
	want := []string{
		"eastus:D2as_v5,D2s_v5,E2s_v5,F2s_v2,D4s_v5", // five mixable x86 sizes of eastus, in order
		"eastus:D2ps_v5,E2ps_v5",                     // arm64 apart
		"westus2:D2as_v5",
		"eastus:NC4as_T4_v3", // GPU sizes alone
		"eastus:D8s_v5",
		"eastus/2:D16s_v5,D32s_v5", // a zonal offering's set is pinned to its zone
	}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("batches\n%q\nwant\n%q", got, want)
	}
	if (batch{offerings: []plan.Offering{off("Standard_ND96isr_H100_v5", "eastus", "x86_64", 8)}}).setLimit() != 200 {
		t.Error("N-series set limit")
	}
}

// TestSetCounts: a count goes into as few sets as hold it at the size
// given, as evenly as it goes.
func TestSetCounts(t *testing.T) {
	for _, c := range []struct {
		n, size int
		want    []int
	}{
		{0, 250, nil},
		{10, 250, []int{10}},
		{250, 250, []int{250}},
		{251, 250, []int{126, 125}},
		{1000, 250, []int{250, 250, 250, 250}},
		{1001, 250, []int{201, 200, 200, 200, 200}},
		{450, 200, []int{150, 150, 150}},
	} {
		if got := setCounts(c.n, c.size); !slices.Equal(got, c.want) {
			t.Errorf("setCounts(%d, %d) = %v, want %v", c.n, c.size, got, c.want)
		}
	}
}

func TestNames(t *testing.T) {
	rg, vm, ok := parseMachineID("burst-etl-eastus/etl-w-1a2b3c4d-0_9f8e7d6c")
	if !ok || rg != "burst-etl-eastus" || setOfVM(vm) != "etl-w-1a2b3c4d-0" {
		t.Errorf("parse: %q %q %v", rg, vm, ok)
	}
	if setOfVM("etl-h-1a2b3c4d-0") != "" {
		t.Error("a head VM is in a set")
	}
	for _, bad := range []string{"i-0123456789abcdef0", "rg/vm", "burst-x/", "burst-x/a/b"} {
		if _, _, ok := parseMachineID(bad); ok {
			t.Errorf("%q parsed", bad)
		}
	}
	if g := guid("a", "b"); len(g) != 36 || g != guid("a", "b") || g == guid("a", "c") {
		t.Errorf("guid %q", g)
	}
	if n := scaleSetName(strings.Repeat("c", 32), strings.Repeat("t", 64), 12); len(n)+9 > 64 {
		t.Errorf("set name %q leaves no room for VM names", n)
	}
}

// TestNamesValid: every name burst derives is valid under Azure's naming
// rules (as the simulator encodes them) for the longest cluster name burst
// accepts, in the longest location name Azure has, with the longest launch
// token and a large set index.
func TestNamesValid(t *testing.T) {
	cluster, location := "abcdefghij-klmnopqrst-uvwxyz0123", "germanywestcentral"
	if len(cluster) != 32 || spec.ValidateName(cluster) != nil {
		t.Fatalf("%q is not a longest valid cluster name", cluster)
	}
	token := strings.Repeat("t", 64)
	set := scaleSetName(cluster, token, 999)
	for _, n := range []struct{ what, name string }{
		{arm.NameResourceGroup, resourceGroup(cluster, location)},
		{arm.NameNSG, nsgName(cluster)},
		{arm.NameSecurityRule, "burst-ssh"},
		{arm.NameSecurityRule, "burst-dask"},
		{arm.NameVNet, vnetName(cluster)},
		{arm.NameSubnet, subnetName},
		{arm.NameIdentity, identityName(cluster)},
		{arm.NameScaleSet, set},
		{arm.NameVM, headName(cluster, token, 999)},
		{arm.NameComputer, headComputerName(cluster)},
		{arm.NameComputerNamePrefix, computerNamePrefix(set)},
		{arm.NameNIC, "nic"},
		{arm.NameIPConfig, "ipconfig"},
		{arm.NamePublicIP, "pip"},
	} {
		if err := arm.ValidName(n.what, n.name); err != nil {
			t.Error(err)
		}
	}
	// Azure names a Flexible set's VMs "<set>_<8 hex>", at most 64.
	if len(set)+9 > 64 {
		t.Errorf("set name %q leaves no room for its VMs' names", set)
	}
	if g := guid("sub", resourceGroup(cluster, location), identityName(cluster), VirtualMachineContributor); !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-a[0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(g) {
		t.Errorf("role assignment name %q is not a GUID", g)
	}
}

func TestCallerCIDRLookup(t *testing.T) {
	p, _ := New(Options{CallerIP: func(context.Context) (string, error) { return "198.51.100.23", nil }})
	if c, err := p.callerCIDRs(context.Background()); err != nil || len(c) != 1 || c[0] != "198.51.100.23/32" {
		t.Errorf("looked up: %q %v", c, err)
	}
	p, _ = New(Options{CallerIP: func(context.Context) (string, error) { return "", errors.New("offline") }})
	if _, err := p.callerCIDRs(context.Background()); !errors.Is(err, provider.ErrInvalid) || !strings.Contains(err.Error(), "BURST_AZURE_CALLER_CIDR") {
		t.Errorf("lookup failure: %v", err)
	}
	p, _ = New(Options{CallerIP: func(context.Context) (string, error) { return "0.0.0.0/0", nil }})
	if c, err := p.callerCIDRs(context.Background()); err == nil {
		t.Errorf("a lookup answering a range opened %v", c)
	}
	p, _ = New(Options{CallerCIDR: "10.1.2.3/24, 2001:db8::1,10.1.2.0/24"})
	if c, err := p.callerCIDRs(context.Background()); err != nil || strings.Join(c, " ") != "10.1.2.0/24 2001:db8::1/128" {
		t.Errorf("configured: %q %v", c, err)
	}
	for in, want := range map[string]string{"2001:db8::1": "2001:db8::1/128", "10.1.2.0/24": "10.1.2.0/24", "10.1.2.3/24": "10.1.2.0/24", "0.0.0.0/0": "0.0.0.0/0"} {
		if got, err := normaliseCIDR(in); err != nil || got != want {
			t.Errorf("%s: %q %v", in, got, err)
		}
	}
	for _, bad := range []string{"example.com", "10.1.2.3/33", ""} {
		if _, err := normaliseCIDR(bad); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

func TestRetryAfter(t *testing.T) {
	h := func(k, v string) http.Header { return http.Header{k: {v}} }
	if d := retryAfter(h("Retry-After", "17")); d != 17*time.Second {
		t.Errorf("seconds: %s", d)
	}
	if d := retryAfter(h("Retry-After-Ms", "250")); d != 250*time.Millisecond {
		t.Errorf("ms: %s", d)
	}
	if d := retryAfter(h("Retry-After", time.Now().Add(time.Minute).UTC().Format(http.TimeFormat))); d < 55*time.Second || d > time.Minute {
		t.Errorf("date: %s", d)
	}
	if d := retryAfter(h("X", "1")); d != 0 {
		t.Errorf("none: %s", d)
	}
}

func TestGPUNames(t *testing.T) {
	for size, want := range map[string]string{
		"Standard_NC4as_T4_v3": "T4", "Standard_NC24ads_A100_v4": "A100-80GB", "Standard_ND96asr_v4": "A100",
		"Standard_ND96amsr_A100_v4": "A100-80GB", "Standard_ND96isr_H100_v5": "H100", "Standard_NC40ads_H100_v5": "H100",
		"Standard_NV36ads_A10_v5": "A10", "Standard_NC6s_v3": "V100", "Standard_ND96isr_MI300X_v5": "MI300X",
	} {
		if got, _, ok := gpuOf(size, 36); !ok || got != want {
			t.Errorf("%s: %q, want %q", size, got, want)
		}
	}
	if _, _, ok := gpuOf("Standard_NV6ads_A10_v5", 6); ok {
		t.Error("a sixth of an A10 is a GPU machine")
	}
}

func TestQuotaMessage(t *testing.T) {
	msg := "Operation could not be completed as it results in exceeding approved standardNCASv3_T4Family Cores quota. Additional details - Deployment Model: Resource Manager, Location: westeurope, Current Limit: 0, Current Usage: 0, Additional Required: 4, (Minimum) New Limit Required: 4."
	got, scope := quotaMessage(msg)
	if scope != provider.ScopeOffering || !strings.Contains(got, "standardNCASv3_T4Family") || !strings.Contains(got, "westeurope") ||
		!strings.Contains(got, "limit 0") || !strings.Contains(got, "4 more needed") {
		t.Errorf("%q %v", got, scope)
	}
	if _, scope := quotaMessage(strings.Replace(msg, "standardNCASv3_T4Family Cores", "Total Regional Cores", 1)); scope != provider.ScopeRegion {
		t.Errorf("regional scope %v", scope)
	}
}

// TestClassify is the error table of docs/design/azure.md.
func TestClassify(t *testing.T) {
	resp := func(status int, code, msg string) error {
		body := `{"error":{"code":"` + code + `","message":"` + msg + `"}}`
		r := &http.Response{StatusCode: status, Header: http.Header{"Content-Type": {"application/json"}},
			Body: io.NopCloser(strings.NewReader(body)), Request: &http.Request{Method: "PUT", URL: &url.URL{Scheme: "https", Host: "management.azure.com", Path: "/x"}}}
		return runtime.NewResponseError(r)
	}
	for _, tt := range []struct {
		status    int
		code, msg string
		kind      error
		scope     provider.Scope
	}{
		{409, "SkuNotAvailable", "The requested VM size is currently not available", provider.ErrNoCapacity, provider.ScopeOffering},
		{200, "AllocationFailed", "Allocation failed.", provider.ErrNoCapacity, provider.ScopeOffering},
		{200, "ZonalAllocationFailed", "Allocation failed.", provider.ErrNoCapacity, provider.ScopeOffering},
		{409, "OverconstrainedAllocationRequest", "Allocation failed.", provider.ErrNoCapacity, provider.ScopeOffering},
		{409, "OperationNotAllowed", "Operation could not be completed as it results in exceeding approved standardDSv5Family Cores quota.", provider.ErrQuota, provider.ScopeOffering},
		{409, "OperationNotAllowed", "Operation could not be completed as it results in exceeding approved Total Regional Cores quota.", provider.ErrQuota, provider.ScopeRegion},
		{409, "OperationNotAllowed", "Operation could not be completed as it results in exceeding approved Total Regional Low-priority Cores quota.", provider.ErrQuota, provider.ScopeOffering},
		{409, "QuotaExceeded", "Public IP addresses quota", provider.ErrQuota, provider.ScopeRegion},
		{429, "TooManyRequests", "throttled", provider.ErrThrottled, provider.ScopeOffering},
		{429, "OperationNotAllowed", "The server rejected the request because too many requests have been received", provider.ErrThrottled, provider.ScopeOffering},
		{403, "AuthorizationFailed", "does not have authorization", provider.ErrAuth, provider.ScopeProvider},
		{401, "InvalidAuthenticationToken", "expired", provider.ErrAuth, provider.ScopeProvider},
		{409, "MissingSubscriptionRegistration", "not registered to use namespace", provider.ErrAuth, provider.ScopeProvider},
		{404, "ResourceGroupNotFound", "not found", provider.ErrNotFound, provider.ScopeOffering},
		{400, "InvalidParameter", "bad", provider.ErrInvalid, provider.ScopeOffering},
		{409, "OperationNotAllowed", "Operation 'PUT' is not allowed since the scale set is in the middle of another operation", provider.ErrInvalid, provider.ScopeOffering},
	} {
		err := classify("op", resp(tt.status, tt.code, tt.msg))
		var pe *provider.Error
		if !errors.As(err, &pe) || !errors.Is(pe.Kind, tt.kind) || pe.Scope != tt.scope || pe.Code != tt.code {
			t.Errorf("%d %s %q: %v, want %v scope %v", tt.status, tt.code, tt.msg, err, tt.kind, tt.scope)
		}
	}
	if err := classify("op", resp(500, "InternalServerError", "oops")); provider.KindOf(err) != nil {
		t.Errorf("a 500 got a kind: %v", err)
	}
	if err := classify("op", &credentialError{errors.New("AzureCLICredential: az not found")}); !errors.Is(err, provider.ErrAuth) {
		t.Errorf("credential: %v", err)
	}
}
