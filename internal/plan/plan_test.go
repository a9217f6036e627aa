package plan

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/burstdev/burst/internal/catalog"
	"github.com/burstdev/burst/pkg/spec"
)

var update = flag.Bool("update", false, "rewrite golden files")

func embedded(t testing.TB) *catalog.Catalog {
	t.Helper()
	c, err := catalog.EmbeddedAll()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// render prints a plan compactly for golden files: the site, the
// alternatives, and per group the first offerings and the calls.
func render(p *Plan) string {
	var b strings.Builder
	fmt.Fprintf(&b, "site %s  $%.4f/h  catalog %s\n", p.Site, p.PricePerHour, p.CatalogDate.Format("2006-01-02"))
	for _, a := range p.Alternatives {
		fmt.Fprintf(&b, "  runner-up %s/%s $%.4f/h\n", a.Provider, a.Region, a.PricePerHour)
	}
	for _, g := range p.Groups {
		fb := ""
		if g.Fallback {
			fb = " (fallback)"
		}
		fmt.Fprintf(&b, "%s x%d %s%s: %d offerings\n", g.Role, g.Count, g.Capacity, fb, len(g.Offerings))
		for _, o := range g.Offerings[:min(5, len(g.Offerings))] {
			zone := o.Zone
			if zone == "" {
				zone = "*"
			}
			fmt.Fprintf(&b, "  %-34s %-4s %3d vCPU %7.6g GiB %2d %-9s %-6s $%.6f\n", o.InstanceType, zone, o.VCPUs, o.MemoryGiB, o.GPUs, o.GPUModel, o.Arch, o.Price)
		}
		for _, c := range g.Calls {
			fmt.Fprintf(&b, "  call %s %s x%d types %s\n", c.API, c.Region, c.Count, strings.Join(c.InstanceTypes, ","))
		}
	}
	return b.String()
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (go test ./internal/plan -update to accept):\n--- got\n%s--- want\n%s", path, got, want)
	}
}

// Golden plans over the embedded snapshot: each is what `burst plan`
// prints for the spec.
func TestGoldenPlans(t *testing.T) {
	cat := embedded(t)
	for _, bs := range benchSpecs {
		t.Run(bs.name, func(t *testing.T) {
			c := spec.Default("golden")
			bs.edit(&c)
			p, err := Make(&c, cat, Options{})
			if err != nil {
				t.Fatal(err)
			}
			golden(t, bs.name+".txt", render(p))
		})
	}
	for _, tt := range []struct {
		name string
		edit func(c *spec.Cluster)
	}{
		{"head-only", func(c *spec.Cluster) {}},
		{"gcp-t4-zones", func(c *spec.Cluster) {
			c.Providers = []string{"gcp"}
			c.Zones = []string{"us-central1-a", "us-central1-b"}
			c.Workers.Count = 20
			c.Workers.Resources = spec.Resources{GPU: spec.GPU{Model: "T4", Count: 1}, CPU: spec.IntBound{Value: 8, OrMore: true}}
			c.Workers.Spot = spec.SpotWithFallback
		}},
		{"azure-h100", func(c *spec.Cluster) {
			c.Providers = []string{"azure"}
			c.Workers.Count = 2
			c.Workers.Resources = spec.Resources{GPU: spec.GPU{Model: "H100", Count: 8}}
		}},
		{"named-burstable", func(c *spec.Cluster) {
			c.Providers = []string{"aws"}
			c.Regions = []string{"us-east-1"}
			c.Head.InstanceTypes = []string{"t3.medium"}
			c.Workers.Count = 3
			c.Workers.InstanceTypes = []string{"t3.large", "m7i.large"}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := spec.Default("golden")
			tt.edit(&c)
			p, err := Make(&c, cat, Options{})
			if err != nil {
				t.Fatal(err)
			}
			golden(t, tt.name+".txt", render(p))
		})
	}
}

// Unsatisfiable specs fail with the nearest alternatives.
func TestInfeasible(t *testing.T) {
	cat := embedded(t)
	for _, tt := range []struct {
		name string
		edit func(c *spec.Cluster)
		want []string
	}{
		{"gpu count", func(c *spec.Cluster) { c.Workers.Resources.GPU = spec.GPU{Model: "A100", Count: 3} },
			[]string{"no machine has 3 A100s", "A100 machines come with 1, 2, 4, 8 or 16"}},
		{"gpu count on aws", func(c *spec.Cluster) {
			c.Providers = []string{"aws"}
			c.Workers.Resources.GPU = spec.GPU{Model: "A100", Count: 3}
		}, []string{"no machine has 3 A100s", "A100 machines come with 8"}},
		{"unknown gpu", func(c *spec.Cluster) { c.Workers.Resources.GPU = spec.GPU{Model: "B200", Count: 1} },
			[]string{"no machine has B200 GPUs", "known GPU models: A10, A100, A100-80GB, A10G, H100, H200", "L4, L40S"}},
		{"gpu on other cloud", func(c *spec.Cluster) {
			c.Providers = []string{"gcp"}
			c.Workers.Resources.GPU = spec.GPU{Model: "A10G", Count: 1}
		}, []string{"no machine has A10G GPUs", "A10G machines exist on aws"}},
		{"too many vcpus", func(c *spec.Cluster) { c.Workers.Resources.CPU = spec.IntBound{Value: 4000, OrMore: true} },
			[]string{"no machine has 4000 or more vCPUs", "the largest: azure/Standard_M896ixds32_v3 (896 vCPU"}},
		{"odd vcpus", func(c *spec.Cluster) { c.Workers.Resources.CPU = spec.IntBound{Value: 3} },
			[]string{"no machine has exactly 3 vCPUs", "try --cpu 3+ (nearest sizes: 2, 4)"}},
		{"too much memory", func(c *spec.Cluster) {
			c.Providers = []string{"gcp"}
			c.Workers.Resources.Memory = spec.SizeBound{Value: 8 * spec.TiB, OrMore: true}
		}, []string{"no machine has 8TiB+ memory", "the largest: gcp/m3-ultramem-128"}},
		{"combination", func(c *spec.Cluster) {
			c.Providers = []string{"aws"}
			c.Workers.Resources = spec.Resources{CPU: spec.IntBound{Value: 2}, Memory: spec.SizeBound{Value: 256 * spec.GiB, OrMore: true}}
		}, []string{"no machine combines 2 vCPUs, 256GiB+ memory"}},
		{"arm gpu", func(c *spec.Cluster) {
			c.Providers = []string{"gcp"}
			c.Workers.Resources = spec.Resources{GPU: spec.GPU{Model: "A100", Count: 1}, Arch: spec.ArchARM64}
		}, []string{"no A100 machine has arch arm64"}},
		{"unknown type", func(c *spec.Cluster) {
			c.Providers = []string{"aws"}
			c.Workers.InstanceTypes = []string{"m7i.larg"}
		}, []string{"unknown instance type m7i.larg on aws", "did you mean m7i.large"}},
		{"max price", func(c *spec.Cluster) {
			c.Providers = []string{"aws"}
			c.Workers.Resources.GPU = spec.GPU{Model: "H100", Count: 8}
			c.Workers.MaxPrice = 1
		}, []string{"every fitting offering costs more than $1/h", "the cheapest is aws/"}},
		{"region", func(c *spec.Cluster) {
			c.Regions = []string{"eu-west-3"}
			c.Workers.Resources.GPU = spec.GPU{Model: "H200", Count: 8}
		}, []string{"no fitting type is offered in eu-west-3", "offered in aws/"}},
		{"no common site", func(c *spec.Cluster) {
			c.Head.InstanceTypes = []string{"e2-standard-2"}
			c.Workers.Resources.GPU = spec.GPU{Model: "A10G", Count: 1}
		}, []string{"fit in no common region", "the head in gcp/"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := spec.Default("x")
			c.Workers.Count = 2
			tt.edit(&c)
			_, err := Make(&c, cat, Options{})
			var ie *InfeasibleError
			if !errors.As(err, &ie) {
				t.Fatalf("err = %v, want *InfeasibleError", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
		})
	}
}

func TestUnavailableAndSitePin(t *testing.T) {
	cat := embedded(t)
	c := spec.Default("x")
	c.Providers = []string{"aws"}
	c.Workers.Count = 4
	c.Workers.Resources = spec.Resources{GPU: spec.GPU{Model: "L4", Count: 1}}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p, err := Make(&c, cat, Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	first := p.Workers()[0].Offerings[0]

	// A stock-out of the first choice moves to the next offering.
	u := &Unavailable{}
	u.Mark(first.Key(), now.Add(time.Minute), "no capacity")
	p2, err := Make(&c, cat, Options{Now: now, Unavailable: u})
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range p2.Groups {
		for _, o := range g.Offerings {
			if o.Key() == first.Key() {
				t.Fatalf("blocked offering %v still planned", o)
			}
		}
	}
	// Expired entries do not count.
	p3, err := Make(&c, cat, Options{Now: now.Add(time.Hour), Unavailable: u})
	if err != nil || p3.Workers()[0].Offerings[0] != first {
		t.Errorf("expired entry still blocks: %v", err)
	}
	// A regional block moves the whole cluster.
	u.Mark(Key{Provider: "aws", Region: p.Site.Region}, now.Add(time.Minute), "quota")
	p4, err := Make(&c, cat, Options{Now: now, Unavailable: u})
	if err != nil || p4.Site == p.Site {
		t.Errorf("regional block: site %v, err %v", p4.Site, err)
	}
	// A pinned site keeps head and workers there, even when dearer.
	pin := Site{Provider: "aws", Region: "eu-central-1"}
	p5, err := Make(&c, cat, Options{Now: now, Site: pin})
	if err != nil || p5.Site != pin {
		t.Fatalf("pinned: plan %v, err %v", p5, err)
	}
	for _, g := range p5.Groups {
		for _, o := range g.Offerings {
			if o.Provider != pin.Provider || o.Region != pin.Region {
				t.Fatalf("offering %v outside the pinned site", o)
			}
		}
	}
}

func TestZonesExpandOfferings(t *testing.T) {
	cat := embedded(t)
	c := spec.Default("x")
	c.Providers = []string{"aws"}
	c.Zones = []string{"us-east-1a", "us-east-1c"}
	c.Workers.Count = 2
	p, err := Make(&c, cat, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Site.Region != "us-east-1" {
		t.Fatalf("site %v", p.Site)
	}
	for _, g := range p.Groups {
		for _, o := range g.Offerings {
			if !slices.Contains(c.Zones, o.Zone) {
				t.Fatalf("offering %v not in the listed zones", o)
			}
		}
	}
	if g := p.Groups[0]; g.Offerings[0].InstanceType != g.Offerings[1].InstanceType || g.Offerings[0].Zone == g.Offerings[1].Zone {
		t.Errorf("the cheapest type should come in both zones: %v %v", g.Offerings[0], g.Offerings[1])
	}
}

func TestDiversifyLargeSpot(t *testing.T) {
	// One type in many zones would fill every slot; a large spot group
	// keeps at least MinSpotTypes types.
	cat := &catalog.Catalog{Zones: map[string][]string{"r": nil}}
	cheap := catalog.Type{Provider: "p", Name: "cheap", VCPUs: 4, MemoryGiB: 16, Arch: "x86_64"}
	for i := range 80 {
		cheap.Offerings = append(cheap.Offerings, catalog.Offering{Region: "r", Zone: fmt.Sprintf("r%02d", i), Capacity: catalog.Spot, Price: 0.1})
	}
	cheap.Offerings = append(cheap.Offerings, catalog.Offering{Region: "r", Capacity: catalog.OnDemand, Price: 1})
	cat.Types = append(cat.Types, cheap)
	for i := range 6 {
		cat.Types = append(cat.Types, catalog.Type{Provider: "p", Name: fmt.Sprintf("other%d", i), VCPUs: 4, MemoryGiB: 16, Arch: "x86_64",
			Offerings: []catalog.Offering{{Region: "r", Capacity: catalog.Spot, Price: 0.2 + float64(i)/100}, {Region: "r", Capacity: catalog.OnDemand, Price: 1}}})
	}
	c := spec.Default("x")
	c.Workers.Spot = spec.Spot
	types := func(n int) int {
		c.Workers.Count = n
		p, err := Make(&c, cat, Options{})
		if err != nil {
			t.Fatal(err)
		}
		g := p.Workers()[0]
		if len(g.Offerings) != MaxOfferings || g.Offerings[0].InstanceType != "cheap" {
			t.Fatalf("%d workers: %d offerings, first %v", n, len(g.Offerings), g.Offerings[0])
		}
		seen := map[string]bool{}
		for _, o := range g.Offerings {
			seen[o.InstanceType] = true
		}
		return len(seen)
	}
	if n := types(3); n != 1 {
		t.Errorf("small request: %d types, want the cheapest only", n)
	}
	if n := types(100); n < MinSpotTypes {
		t.Errorf("large request: %d types, want at least %d", n, MinSpotTypes)
	}
}

func TestSpotWithFallbackLegs(t *testing.T) {
	cat := embedded(t)
	c := spec.Default("x")
	c.Providers = []string{"gcp"}
	c.Workers.Count = 1200
	c.Workers.Spot = spec.SpotWithFallback
	p, err := Make(&c, cat, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ws := p.Workers()
	if len(ws) != 2 || ws[0].Capacity != catalog.Spot || ws[0].Fallback || ws[1].Capacity != catalog.OnDemand || !ws[1].Fallback {
		t.Fatalf("legs: %+v", ws)
	}
	if len(ws[0].Calls) != 1 || ws[0].Calls[0].Count != 1200 || len(ws[0].Calls[0].InstanceTypes) != 1 {
		t.Errorf("GCE: one type per bulkInsert, up to 5000: %+v", ws[0].Calls)
	}
	// The fallback leg does not count in the price.
	want := ws[0].Offerings[0].Price*1200 + p.Head().Offerings[0].Price
	if d := p.PricePerHour - want; d > 1e-6 || d < -1e-6 {
		t.Errorf("price %v, want %v", p.PricePerHour, want)
	}
	// AWS: 1000 a call; Azure: at most five sizes.
	c.Providers = []string{"aws"}
	if p, err = Make(&c, cat, Options{}); err != nil {
		t.Fatal(err)
	}
	if calls := p.Workers()[0].Calls; len(calls) != 2 || calls[0].Count != 1000 || calls[1].Count != 200 || calls[0].API != "CreateFleet" {
		t.Errorf("aws calls: %+v", calls)
	}
	c.Providers = []string{"azure"}
	if p, err = Make(&c, cat, Options{}); err != nil {
		t.Fatal(err)
	}
	if calls := p.Workers()[0].Calls; len(calls[0].InstanceTypes) != 5 {
		t.Errorf("azure calls: %+v", calls)
	}
}

// Every example cluster file plans over the embedded snapshot.
func TestExamplesPlan(t *testing.T) {
	cat := embedded(t)
	files, _ := filepath.Glob("../../examples/*.yaml")
	if len(files) == 0 {
		t.Fatal("no examples")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			in, err := spec.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			c := spec.Default("x")
			if err := in.ApplyTo(&c); err != nil {
				t.Fatal(err)
			}
			c.Name = in.Name
			if err := c.Validate(); err != nil {
				t.Fatal(err)
			}
			p, err := Make(&c, cat, Options{})
			if err != nil {
				t.Fatal(err)
			}
			golden(t, "example-"+strings.TrimSuffix(filepath.Base(f), ".yaml")+".txt", render(p))
		})
	}
}

// The local provider's one type is free: a zero price is an offering, not
// the absence of one.
func TestFreeOfferings(t *testing.T) {
	cat := &catalog.Catalog{Zones: map[string][]string{"local": {"local"}}, Types: []catalog.Type{{Provider: "local", Name: "local", VCPUs: 2, MemoryGiB: 8, Arch: "x86_64",
		Offerings: []catalog.Offering{{Region: "local", Zone: "local", Capacity: catalog.OnDemand, Price: 0}}}}}
	c := spec.Default("x")
	c.Workers.Count = 2
	c.Workers.Spot = spec.SpotWithFallback
	p, err := Make(&c, cat, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Groups) != 2 || p.PricePerHour != 0 || p.Workers()[0].Capacity != catalog.OnDemand || p.Workers()[0].Fallback {
		t.Errorf("plan %+v", p)
	}
	c.Workers.Spot = spec.Spot
	if _, err := Make(&c, cat, Options{}); err == nil || !strings.Contains(err.Error(), "no spot offering") {
		t.Errorf("spot on a host without spot: %v", err)
	}
}
