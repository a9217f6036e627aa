package azure_test

import (
	"errors"
	"math"
	"slices"
	"testing"

	"github.com/burstdev/burst/internal/catalog"
	"github.com/burstdev/burst/internal/cloudsim"
	"github.com/burstdev/burst/internal/cloudsim/arm"
	"github.com/burstdev/burst/internal/provider"
	"github.com/burstdev/burst/internal/provider/azure"
)

func price(t *catalog.Type, region string, c catalog.Capacity) (float64, bool) {
	for _, o := range t.Offerings {
		if o.Region == region && o.Capacity == c {
			return o.Price, true
		}
	}
	return 0, false
}

// TestCatalog: the live catalog is the Resource SKUs API's sizes priced by
// the Retail Prices API's Linux meters; every simulated size comes back
// with the simulator's own specs and prices.
func TestCatalog(t *testing.T) {
	e := newEnv(t)
	e.sim.Restrict("Standard_E2s_v5", "westeurope")
	cat, err := e.p.Catalog(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if cat.Source != "live" || !cat.Date.Equal(e.clock.Now().UTC()) {
		t.Errorf("source %q date %s", cat.Source, cat.Date)
	}
	if !slices.Equal(cat.Zones["eastus"], []string{"1", "2", "3"}) {
		t.Errorf("zones %v", cat.Zones)
	}
	sim := arm.Types()
	if len(cat.Types) != len(sim) {
		t.Errorf("%d types, the simulator has %d", len(cat.Types), len(sim))
	}
	for _, want := range sim {
		got := cat.Find(azure.Name, want.Name)
		if got == nil {
			t.Errorf("%s missing", want.Name)
			continue
		}
		if got.VCPUs != want.VCPUs || got.MemoryGiB != want.MemoryGiB || got.Arch != want.Arch || got.GPUs != want.GPUs ||
			got.GPUModel != want.GPUModel || got.GPUMemoryGiB != want.GPUMemoryGiB || got.Burstable != want.Burstable ||
			got.Exotic != want.Exotic || got.Family != want.Family || got.Generation != want.Generation {
			t.Errorf("%s:\n got %+v\nwant %+v", want.Name, *got, want)
		}
		for _, o := range want.Offerings {
			p, ok := price(got, o.Region, o.Capacity)
			restricted := want.Name == "Standard_E2s_v5" && o.Region == "westeurope"
			if restricted != !ok || (ok && math.Abs(p-o.Price) > 1e-9) {
				t.Errorf("%s %s %s: price %v %v, want %v (restricted %v)", want.Name, o.Region, o.Capacity, p, ok, o.Price, restricted)
			}
		}
		if len(got.Offerings) != len(want.Offerings) && want.Name != "Standard_E2s_v5" {
			t.Errorf("%s: %d offerings, want %d", want.Name, len(got.Offerings), len(want.Offerings))
		}
	}
	d2s := cat.Find(azure.Name, "Standard_D2s_v5")
	if p, _ := price(d2s, "eastus", catalog.OnDemand); p != 0.096 {
		t.Errorf("D2s_v5 eastus on demand %v, want the Linux price 0.096", p)
	}
	if _, ok := price(cat.Find(azure.Name, "Standard_B2s"), "eastus", catalog.Spot); ok {
		t.Error("B-series has a Spot offering")
	}
	// Only the three locations' pages of prices and one SKU list.
	if n := e.count("Microsoft.Compute/skus/read"); n != 1 {
		t.Errorf("%d SKU lists", n)
	}
	if n := e.model.Count("retail.prices"); n < 3 {
		t.Errorf("%d price pages", n)
	}
}

func TestCatalogLocations(t *testing.T) {
	e := newEnv(t, func(_ *cloudsim.Config, o *azure.Options) { o.Locations = []string{"westus2"} })
	cat, err := e.p.Catalog(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, ty := range cat.Types {
		for _, o := range ty.Offerings {
			if o.Region != "westus2" {
				t.Fatalf("%s offered in %s", ty.Name, o.Region)
			}
		}
	}
}

// TestCatalogPricesDown: without prices there is no catalog; the caller
// keeps the one it has.
func TestCatalogPricesDown(t *testing.T) {
	e := newEnv(t)
	e.model.Inject(cloudsim.Fault{Kind: cloudsim.KindAuth, Service: "prices"})
	_, err := e.p.Catalog(ctx(t))
	if err == nil {
		t.Fatal("Catalog without prices succeeded")
	}
	e.model.ClearFaults()
	e.model.Inject(cloudsim.Fault{Kind: cloudsim.KindAuth, Action: "Microsoft.Compute/skus/read"})
	if _, err := e.p.Catalog(ctx(t)); !errors.Is(err, provider.ErrAuth) {
		t.Fatalf("Catalog with SKUs forbidden: %v", err)
	}
}
