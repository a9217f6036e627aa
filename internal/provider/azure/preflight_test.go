package azure_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/burstdev/burst/internal/catalog"
	"github.com/burstdev/burst/internal/cloudsim"
	"github.com/burstdev/burst/internal/plan"
	"github.com/burstdev/burst/internal/provider"
	"github.com/burstdev/burst/internal/provider/azure"
	"github.com/burstdev/burst/pkg/spec"
)

func group(role spec.Role, n int, c catalog.Capacity, offs ...plan.Offering) plan.Group {
	return plan.Group{Role: role, Count: n, Capacity: c, Offerings: offs}
}

// TestPreflight: the usage API is read before anything is created; a plan
// that no location can hold fails with ErrQuota naming the quotas, and
// creates nothing.
func TestPreflight(t *testing.T) {
	e := newEnv(t)
	e.model.SetQuota(cloudsim.QuotaKey{Region: "eastus", Name: "standardDSv5Family"}, 10)
	e.model.SetQuota(cloudsim.QuotaKey{Region: "eastus", Name: "lowPriorityCores"}, 16)
	d2s := offer(t, "Standard_D2s_v5", "eastus", catalog.OnDemand)
	pf := func(groups ...plan.Group) error {
		return e.p.Preflight(ctx(t), provider.PreflightRequest{Cluster: "pf", Groups: groups})
	}
	if err := pf(group(spec.RoleHead, 1, catalog.OnDemand, d2s), group(spec.RoleWorker, 4, catalog.OnDemand, d2s)); err != nil {
		t.Fatalf("8 of 10 vCPUs: %v", err)
	}
	err := pf(group(spec.RoleWorker, 50, catalog.OnDemand, d2s))
	var pe *provider.Error
	if !errors.As(err, &pe) || !errors.Is(pe.Kind, provider.ErrQuota) || !strings.Contains(pe.Msg, "standardDSv5Family") || !strings.Contains(pe.Msg, "100 more vCPUs needed") {
		t.Fatalf("50 workers on 10 vCPUs: %v", err)
	}
	// An instance mix adds up its families' quota.
	d2as := offer(t, "Standard_D2as_v5", "eastus", catalog.OnDemand)
	if err := pf(group(spec.RoleWorker, 50, catalog.OnDemand, d2s, d2as)); err != nil {
		t.Fatalf("with DASv5 quota free: %v", err)
	}
	// Another location that fits is enough.
	if err := pf(group(spec.RoleWorker, 50, catalog.OnDemand, d2s, offer(t, "Standard_D2s_v5", "westus2", catalog.OnDemand))); err != nil {
		t.Fatalf("with westus2 free: %v", err)
	}
	// Spot counts against the Spot quota only.
	spot := offer(t, "Standard_D2s_v5", "eastus", catalog.Spot)
	if err := pf(group(spec.RoleWorker, 8, catalog.Spot, spot)); err != nil {
		t.Fatalf("8 Spot workers on 16 Spot vCPUs: %v", err)
	}
	if err := pf(group(spec.RoleWorker, 9, catalog.Spot, spot)); !errors.Is(err, provider.ErrQuota) || !strings.Contains(err.Error(), "lowPriorityCores") {
		t.Fatalf("9 Spot workers: %v", err)
	}
	// Restrictions are read once per process: a new run sees this one.
	e.sim.Restrict("Standard_D2s_v5", "eastus")
	p2, err := azure.New(e.opts)
	if err != nil {
		t.Fatal(err)
	}
	e.p = p2
	if err := pf(group(spec.RoleWorker, 1, catalog.OnDemand, d2s)); !errors.Is(err, provider.ErrNoCapacity) || !strings.Contains(err.Error(), "SkuNotAvailable") {
		t.Fatalf("restricted size: %v", err)
	}
	for _, r := range e.model.Requests() {
		if r.Status < 300 && !strings.HasSuffix(r.Action, "/read") && r.Action != "retail.prices" {
			t.Errorf("preflight made %s", r.Action)
		}
	}
	if n := e.count("Microsoft.Compute/locations/usages/read"); n == 0 || n > 20 {
		t.Errorf("%d usage calls", n)
	}
}
