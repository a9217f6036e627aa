package azure

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v6"

	"github.com/burstdev/burst/internal/bootstrap"
	"github.com/burstdev/burst/internal/catalog"
	"github.com/burstdev/burst/internal/cloudsim"
	"github.com/burstdev/burst/internal/cloudsim/arm"
	"github.com/burstdev/burst/internal/plan"
	"github.com/burstdev/burst/internal/provider"
	"github.com/burstdev/burst/pkg/spec"
)

// listEnv is a provider against a simulator paging at 3, with a head
// (and its public IP) and workers in a scale set, on and off Spot.
func listEnv(t *testing.T, transport func(http.RoundTripper) http.RoundTripper) (*Provider, string, string) {
	t.Helper()
	sim := arm.New(arm.Options{Model: arm.NewModel(cloudsim.Config{}), PageSize: 3})
	u := sim.Start()
	t.Cleanup(sim.Close)
	var tr http.RoundTripper
	if transport != nil {
		tr = transport(http.DefaultTransport)
	}
	opts := Options{Subscription: sim.Subscription(), Endpoint: u, DataDir: t.TempDir(),
		Sleep: func(ctx context.Context, _ time.Duration) error { return ctx.Err() }}
	if tr != nil {
		opts.Transport = &http.Client{Transport: tr}
	}
	p, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	tags := func(role string) map[string]string {
		return map[string]string{provider.TagCluster: "lists", provider.TagRole: role, provider.TagOwner: "tester"}
	}
	if err := p.Prepare(ctx, provider.PrepareRequest{Cluster: "lists", Regions: []string{"eastus"}, Tags: tags("")}); err != nil {
		t.Fatal(err)
	}
	o := plan.Offering{Provider: Name, Region: "eastus", InstanceType: "Standard_D2s_v5", VCPUs: 2, MemoryGiB: 8, Arch: "x86_64", Capacity: catalog.OnDemand}
	spot := o
	spot.Capacity = catalog.Spot
	for _, req := range []provider.LaunchRequest{
		{Cluster: "lists", Role: spec.RoleHead, Count: 1, Offerings: []plan.Offering{o}, Token: "h", Tags: tags("head"),
			Boot: bootstrap.Config{Cluster: "lists", Role: spec.RoleHead, Workload: spec.Workload{Name: "none"}}},
		{Cluster: "lists", Role: spec.RoleWorker, Count: 5, Offerings: []plan.Offering{o}, Token: "w", Tags: tags("worker"),
			Boot: bootstrap.Config{Cluster: "lists", Role: spec.RoleWorker, Workload: spec.Workload{Name: "none"}}},
		{Cluster: "lists", Role: spec.RoleWorker, Count: 4, Offerings: []plan.Offering{spot}, Token: "s", Tags: tags("worker"),
			Boot: bootstrap.Config{Cluster: "lists", Role: spec.RoleWorker, Workload: spec.Workload{Name: "none"}}},
	} {
		if res, err := p.Launch(ctx, req); err != nil || len(res.Machines) != req.Count {
			t.Fatalf("launch %s: %v, %+v", req.Token, err, res)
		}
	}
	return p, resourceGroup("lists", "eastus"), scaleSetName("lists", "w", 0)
}

// TestListsDecodeAsSDK: the lists burst reads itself give, page by page,
// what the SDK's pagers and models gave (VMs slimmed as slimVM does, NICs
// and public IPs boiled down as addresses did), for a group's VMs, a scale
// set's VMs with instance views, NICs and public IPs.
func TestListsDecodeAsSDK(t *testing.T) {
	p, rg, set := listEnv(t, nil)
	ctx := context.Background()
	setID := p.groupID(rg) + "/providers/Microsoft.Compute/virtualMachineScaleSets/" + set
	for _, opts := range []*armcompute.VirtualMachinesClientListOptions{
		nil,
		{Filter: to.Ptr("'virtualMachineScaleSet/id' eq '" + setID + "'"), Expand: to.Ptr(armcompute.ExpandTypeForListVMsInstanceView)},
	} {
		var want []*armcompute.VirtualMachine
		pager := p.c.vms.NewListPager(rg, opts)
		for pager.More() {
			page, err := pager.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, vm := range page.Value {
				want = append(want, slimVM(vm))
			}
		}
		pages := 0
		got, err := p.pageVMs(ctx, rg, opts, func([]*armcompute.VirtualMachine) { pages++ })
		if err != nil {
			t.Fatal(err)
		}
		if len(want) < 4 || pages < 2 {
			t.Fatalf("%d VMs in %d pages: the test wants several pages", len(want), pages)
		}
		if len(got) != len(want) {
			t.Fatalf("%d VMs, the SDK listed %d", len(got), len(want))
		}
		for i := range want {
			w, g := *want[i], *got[i]
			if w.Properties == nil || g.Properties == nil || w.Properties.TimeCreated == nil || g.Properties.TimeCreated == nil ||
				!w.Properties.TimeCreated.Equal(*g.Properties.TimeCreated) {
				t.Fatalf("VM %d: creation time %v, the SDK's %v", i, g.Properties, w.Properties)
			}
			wp, gp := *w.Properties, *g.Properties
			wp.TimeCreated, gp.TimeCreated = nil, nil
			w.Properties, g.Properties = &wp, &gp
			wj, _ := json.Marshal(w)
			gj, _ := json.Marshal(g)
			if string(wj) != string(gj) {
				t.Errorf("VM %d:\n got %s\nwant %s", i, gj, wj)
			}
			if opts != nil && (g.Properties.InstanceView == nil || len(g.Properties.InstanceView.Statuses) == 0) {
				t.Errorf("VM %d: no instance view", i)
			}
		}
	}

	nics, err := p.listNICs(ctx, rg)
	if err != nil {
		t.Fatal(err)
	}
	var wantNICs []nicAddr
	pager := p.c.nics.NewListPager(rg, nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, nic := range page.Value {
			a := nicAddr{vm: strings.ToLower(*nic.Properties.VirtualMachine.ID)}
			for _, ip := range nic.Properties.IPConfigurations {
				if a.private == "" && ip.Properties.PrivateIPAddress != nil {
					a.private = *ip.Properties.PrivateIPAddress
				}
				if ip.Properties.PublicIPAddress != nil {
					a.publicIDs = append(a.publicIDs, strings.ToLower(*ip.Properties.PublicIPAddress.ID))
				}
			}
			wantNICs = append(wantNICs, a)
		}
	}
	if len(nics) != 10 || len(nics) != len(wantNICs) {
		t.Fatalf("%d NICs, the SDK listed %d, want 10", len(nics), len(wantNICs))
	}
	publicIDs := 0
	for i := range nics {
		if nics[i].vm != wantNICs[i].vm || nics[i].private != wantNICs[i].private || strings.Join(nics[i].publicIDs, ",") != strings.Join(wantNICs[i].publicIDs, ",") {
			t.Errorf("NIC %d: %+v, want %+v", i, nics[i], wantNICs[i])
		}
		if nics[i].private == "" {
			t.Errorf("NIC %d: no private address", i)
		}
		publicIDs += len(nics[i].publicIDs)
	}
	ips, err := p.listPublicIPs(ctx, rg)
	if err != nil {
		t.Fatal(err)
	}
	if publicIDs != 1 || len(ips) != 1 {
		t.Fatalf("%d public IP references, %d public IPs (%v): want the head's", publicIDs, len(ips), ips)
	}
	for id, addr := range ips {
		r, err := p.c.pips.Get(ctx, rg, id[strings.LastIndexByte(id, '/')+1:], nil)
		if err != nil || r.Properties == nil || r.Properties.IPAddress == nil || *r.Properties.IPAddress != addr {
			t.Fatalf("public IP %s: %q, the SDK's %+v (%v)", id, addr, r, err)
		}
	}

	// Errors are the SDK's, classified.
	_, err = p.pageVMs(ctx, "no-such-group", nil, nil)
	if !isNotFound(err) {
		t.Fatalf("a missing group's list: %v, want not found", err)
	}
}

// TestListsAskNextPageBeforeDecoding: a list's next page is asked for as
// soon as a page's nextLink is read, while that page's items are still
// being handled, so decoding overlaps the next round trip.
func TestListsAskNextPageBeforeDecoding(t *testing.T) {
	var (
		mu    sync.Mutex
		asked = map[string]chan struct{}{} // skiptoken -> closed once asked
	)
	seen := func(tok string) chan struct{} {
		mu.Lock()
		defer mu.Unlock()
		if asked[tok] == nil {
			asked[tok] = make(chan struct{})
		}
		return asked[tok]
	}
	p, rg, _ := listEnv(t, func(next http.RoundTripper) http.RoundTripper {
		return roundTripper(func(r *http.Request) (*http.Response, error) {
			if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/virtualMachines") {
				if tok := r.URL.Query().Get("$skiptoken"); tok != "" {
					ch := seen(tok)
					select {
					case <-ch:
					default:
						close(ch)
					}
				}
			}
			return next.RoundTrip(r)
		})
	})
	pages := 0
	err := p.pages(context.Background(), p.groupPath(rg)+"/providers/Microsoft.Compute/virtualMachines", url.Values{"api-version": {computeAPIVersion}}, func(body []byte) error {
		var page struct {
			NextLink string `json:"nextLink"`
		}
		if err := json.Unmarshal(body, &page); err != nil {
			return err
		}
		pages++
		if page.NextLink == "" {
			return nil
		}
		u, err := url.Parse(page.NextLink)
		if err != nil {
			return err
		}
		select {
		case <-seen(u.Query().Get("$skiptoken")):
			return nil
		case <-time.After(20 * time.Second):
			t.Errorf("page %d: the next page was not asked for while this one was handled", pages)
			return context.Canceled
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if pages < 3 {
		t.Fatalf("%d pages, the test wants several", pages)
	}
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
