package gcp

import (
	"context"
	"errors"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/burstdev/burst/internal/catalog"
	"github.com/burstdev/burst/internal/cloudsim"
	"github.com/burstdev/burst/internal/cloudsim/gce"
	"github.com/burstdev/burst/internal/config"
	"github.com/burstdev/burst/internal/plan"
	"github.com/burstdev/burst/internal/provider"
	"github.com/burstdev/burst/pkg/spec"
)

func group(count int, offs ...plan.Offering) plan.Group {
	return plan.Group{Role: spec.RoleWorker, Count: count, Capacity: offs[0].Capacity, Offerings: offs}
}

func TestPreflightQuotas(t *testing.T) {
	tests := []struct {
		name   string
		quotas map[[2]string]float64 // {region, metric} -> limit
		group  plan.Group
		metric string // "" when the group fits
		scope  provider.Scope
	}{
		{"fits", map[[2]string]float64{{"us-central1", "N2_CPUS"}: 100}, group(10, offering(t, "n2-standard-8", "us-central1", catalog.OnDemand)), "", 0},
		{"regional cpus", map[[2]string]float64{{"us-central1", "N2_CPUS"}: 24}, group(10, offering(t, "n2-standard-8", "us-central1", catalog.OnDemand)), "N2_CPUS", provider.ScopeRegion},
		{"second offering fits", map[[2]string]float64{{"us-central1", "N2_CPUS"}: 24}, group(10, offering(t, "n2-standard-8", "us-central1", catalog.OnDemand), offering(t, "n2-standard-8", "us-east1", catalog.OnDemand)), "", 0},
		{"spot uses PREEMPTIBLE_CPUS", map[[2]string]float64{{"us-central1", "PREEMPTIBLE_CPUS"}: 8, {"us-central1", "N2_CPUS"}: 1000}, group(2, offering(t, "n2-standard-8", "us-central1", catalog.Spot)), "PREEMPTIBLE_CPUS", provider.ScopeRegion},
		{"spot without preemptible quota uses the family's", map[[2]string]float64{{"us-central1", "PREEMPTIBLE_CPUS"}: 0, {"us-central1", "N2_CPUS"}: 8}, group(2, offering(t, "n2-standard-8", "us-central1", catalog.Spot)), "N2_CPUS", provider.ScopeRegion},
		{"regional gpus", map[[2]string]float64{{"us-central1", "NVIDIA_L4_GPUS"}: 1}, group(2, offering(t, "g2-standard-4", "us-central1", catalog.OnDemand)), "NVIDIA_L4_GPUS", provider.ScopeRegion},
		{"attached gpus", map[[2]string]float64{{"us-central1", "NVIDIA_T4_GPUS"}: 3}, group(2, offering(t, "n1-standard-8+nvidia-tesla-t4x2", "us-central1", catalog.OnDemand)), "NVIDIA_T4_GPUS", provider.ScopeRegion},
		{"global gpus", map[[2]string]float64{{"", "GPUS_ALL_REGIONS"}: 4}, group(1, offering(t, "a3-highgpu-8g", "us-central1", catalog.OnDemand), offering(t, "a3-highgpu-8g", "us-east4", catalog.OnDemand)), "GPUS_ALL_REGIONS", provider.ScopeProvider},
		{"addresses", map[[2]string]float64{{"us-central1", "IN_USE_ADDRESSES"}: 8}, group(9, offering(t, "e2-standard-2", "us-central1", catalog.OnDemand)), "IN_USE_ADDRESSES", provider.ScopeRegion},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newSim(t)
			for k, v := range tt.quotas {
				gce.SetQuota(e.model, k[0], k[1], v)
			}
			err := e.p.Preflight(ctxT(t), provider.PreflightRequest{Cluster: "pf", Groups: []plan.Group{tt.group}})
			if tt.metric == "" {
				if err != nil {
					t.Fatalf("Preflight: %v", err)
				}
				return
			}
			if !errors.Is(err, provider.ErrQuota) || !strings.Contains(err.Error(), tt.metric) || provider.ScopeOf(err) != tt.scope {
				t.Fatalf("Preflight = %v (scope %v), want ErrQuota naming %s with scope %v", err, provider.ScopeOf(err), tt.metric, tt.scope)
			}
			if n := e.model.Count("compute.regionInstances.bulkInsert"); n != 0 {
				t.Errorf("preflight created machines")
			}
		})
	}
}

func TestPreflightImages(t *testing.T) {
	e := newSim(t, func(_ *cloudsim.Config, o *Options) {
		o.ARMImage = "projects/ubuntu-os-cloud/global/images/family/ubuntu-2004-lts-arm64"
	})
	ok := provider.PreflightRequest{Groups: []plan.Group{group(1, offering(t, "e2-standard-2", "us-central1", catalog.OnDemand), offering(t, "g2-standard-4", "us-central1", catalog.OnDemand))}}
	if err := e.p.Preflight(ctxT(t), ok); err != nil {
		t.Fatalf("Preflight with existing images: %v", err)
	}
	if n := e.model.Count("compute.images.getFromFamily"); n != 2 {
		t.Errorf("%d image lookups, want 2 (x86 and GPU)", n)
	}
	bad := provider.PreflightRequest{Groups: []plan.Group{group(1, offering(t, "t2a-standard-4", "us-central1", catalog.OnDemand))}}
	if err := e.p.Preflight(ctxT(t), bad); !errors.Is(err, provider.ErrInvalid) || !strings.Contains(err.Error(), "ubuntu-2004-lts-arm64") {
		t.Fatalf("Preflight with a missing image: %v", err)
	}
}

func TestCredentials(t *testing.T) {
	t.Run("no ADC", func(t *testing.T) {
		t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", filepath.Join(t.TempDir(), "missing.json"))
		p := New(Options{Project: "p", Getenv: func(string) string { return "" }})
		_, err := p.Machines(context.Background(), provider.Filter{Cluster: "x"})
		if !errors.Is(err, provider.ErrAuth) || provider.ScopeOf(err) != provider.ScopeProvider || !strings.Contains(err.Error(), "GOOGLE_APPLICATION_CREDENTIALS") {
			t.Fatalf("without credentials: %v", err)
		}
	})
	t.Run("no project", func(t *testing.T) {
		e := newSim(t)
		opts := e.opts
		opts.Project = ""
		_, err := New(opts).Catalog(context.Background())
		if !errors.Is(err, provider.ErrAuth) || !strings.Contains(err.Error(), "GOOGLE_CLOUD_PROJECT") {
			t.Fatalf("without a project: %v", err)
		}
		opts.Getenv = func(k string) string {
			if k == "GOOGLE_CLOUD_PROJECT" {
				return "burst-sim"
			}
			return ""
		}
		if _, err := New(opts).Machines(context.Background(), provider.Filter{}); err != nil {
			t.Fatalf("project from GOOGLE_CLOUD_PROJECT: %v", err)
		}
	})
	t.Run("401 and 403", func(t *testing.T) {
		e := newSim(t)
		e.model.Inject(cloudsim.Fault{Service: gce.Service, Action: "compute.instances.aggregatedList", Kind: cloudsim.KindAuth, Code: "authError", Times: 1})
		e.model.Inject(cloudsim.Fault{Service: gce.Service, Action: "compute.instances.aggregatedList", Kind: cloudsim.KindAuth, Times: 1})
		for i := 0; i < 2; i++ {
			if _, err := e.p.Machines(ctxT(t), provider.Filter{}); !errors.Is(err, provider.ErrAuth) {
				t.Fatalf("call %d: %v, want ErrAuth", i, err)
			}
		}
	})
	t.Run("wrong project", func(t *testing.T) {
		e := newSim(t)
		opts := e.opts
		opts.Project = "someone-elses"
		if _, err := New(opts).Machines(ctxT(t), provider.Filter{}); !errors.Is(err, provider.ErrAuth) {
			t.Fatalf("another project: %v", err)
		}
	})
}

func TestConstructionIsOffline(t *testing.T) {
	// No endpoint, no credentials, an unreachable everything: building the
	// provider and asking its name and limits must not fail or block.
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", filepath.Join(t.TempDir(), "missing.json"))
	p, err := Entry.New(context.Background(), provider.Env{Config: &config.Config{GCP: config.GCP{Project: "p"}}, Now: time.Now})
	if err != nil || p.Name() != Name || provider.LimitsOf(p).MaxInFlight != 10 {
		t.Fatalf("Entry.New = %v, %v", p, err)
	}
	if Entry.Policy == nil || !strings.Contains(Entry.Policy(), "compute.instances.create") {
		t.Fatal("Entry has no policy")
	}
}

func TestCatalogMatchesSimulator(t *testing.T) {
	e := newSim(t)
	cat, err := e.p.Catalog(ctxT(t))
	if err != nil {
		t.Fatalf("Catalog: %v", err)
	}
	if cat.Source != "live" {
		t.Errorf("source %q", cat.Source)
	}
	if len(cat.Zones["us-central1"]) != 4 {
		t.Errorf("zones %v", cat.Zones["us-central1"])
	}
	want := map[string]catalog.Type{}
	for _, ct := range gce.Types() {
		want[ct.Name] = ct
	}
	got := map[string]catalog.Type{}
	for _, ct := range cat.Types {
		got[ct.Name] = ct
		w, ok := want[ct.Name]
		if !ok {
			t.Errorf("catalog type %s is not in the simulator", ct.Name)
			continue
		}
		if ct.VCPUs != w.VCPUs || math.Abs(ct.MemoryGiB-w.MemoryGiB) > 0.01 || ct.GPUs != w.GPUs || ct.GPUModel != w.GPUModel || ct.Arch != w.Arch || ct.Burstable != w.Burstable {
			t.Errorf("type %s: got %+v, simulator has %+v", ct.Name, ct, w)
			continue
		}
		prices := map[string]float64{}
		for _, o := range w.Offerings {
			prices[o.Region+"/"+string(o.Capacity)] = o.Price
		}
		if len(ct.Offerings) != len(w.Offerings) {
			t.Errorf("type %s: %d offerings, simulator %d", ct.Name, len(ct.Offerings), len(w.Offerings))
		}
		for _, o := range ct.Offerings {
			if p := prices[o.Region+"/"+string(o.Capacity)]; math.Abs(p-o.Price) > 2e-5*max(1, p) || o.Zone != "" {
				t.Errorf("%s %s %s: price %g, simulator %g", ct.Name, o.Region, o.Capacity, o.Price, p)
			}
		}
	}
	for _, name := range []string{"e2-micro", "n2-standard-8", "n2d-highmem-16", "c3-standard-22", "c3d-standard-30", "c4-standard-8", "t2a-standard-4", "c4a-highcpu-16",
		"a2-highgpu-1g", "a2-ultragpu-8g", "a3-highgpu-8g", "g2-standard-24", "n1-standard-8+nvidia-tesla-t4x1", "n1-highmem-8+nvidia-tesla-v100x1", "n1-standard-16+nvidia-tesla-p100x2"} {
		if _, ok := got[name]; !ok {
			t.Errorf("catalog lacks %s", name)
		}
	}
	if g := got["a2-ultragpu-8g"]; g.GPUModel != "A100-80GB" || g.GPUs != 8 || g.GPUMemoryGiB != 80 {
		t.Errorf("a2-ultragpu-8g: %+v", g)
	}
}

func TestCatalogFallsBackToListPrices(t *testing.T) {
	e := newSim(t)
	e.model.Inject(cloudsim.Fault{Service: gce.BillingService, Kind: cloudsim.KindAuth})
	cat, err := e.p.Catalog(ctxT(t))
	if err != nil {
		t.Fatalf("Catalog: %v", err)
	}
	if !strings.Contains(cat.Source, "list prices") {
		t.Errorf("source %q does not say prices are list prices", cat.Source)
	}
	n2 := cat.Find(Name, "n2-standard-4")
	if n2 == nil || len(n2.Offerings) == 0 {
		t.Fatalf("n2-standard-4 missing: %+v", n2)
	}
	if p, _ := cat.Price(Name, "n2-standard-4", "us-central1", "on-demand"); math.Abs(p-(4*0.031611+16*0.004237)) > 1e-4 {
		t.Errorf("fallback price %g", p)
	}
}

func TestParseTypeName(t *testing.T) {
	for _, tt := range []struct {
		in, machine, accel string
		n                  int
		bad                bool
	}{
		{"n2-standard-8", "n2-standard-8", "", 0, false},
		{"n1-standard-8+nvidia-tesla-t4x1", "n1-standard-8", "nvidia-tesla-t4", 1, false},
		{"n1-highmem-16+nvidia-tesla-v100x4", "n1-highmem-16", "nvidia-tesla-v100", 4, false},
		{"n1-standard-8+nvidia-tesla-t4", "", "", 0, true},
		{"n1-standard-8+x0", "", "", 0, true},
	} {
		m, a, n, err := ParseTypeName(tt.in)
		if (err != nil) != tt.bad || m != tt.machine || a != tt.accel || n != tt.n {
			t.Errorf("ParseTypeName(%q) = %q %q %d %v", tt.in, m, a, n, err)
		}
		if !tt.bad && tt.accel != "" && TypeName(m, a, n) != tt.in {
			t.Errorf("TypeName does not invert ParseTypeName for %q", tt.in)
		}
	}
}
