package gcp

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/burstdev/burst/internal/catalog"
	"github.com/burstdev/burst/internal/cloudsim"
	"github.com/burstdev/burst/internal/cloudsim/gce"
	"github.com/burstdev/burst/internal/plan"
	"github.com/burstdev/burst/internal/provider"
)

// probe sits between a provider and the simulator and holds the calls it
// matches until want of them are in flight together (or a second has
// passed, so a serial caller is slow, not stuck). Peak is how many it saw
// at once.
type probe struct {
	match func(*http.Request) bool
	want  int

	mu      sync.Mutex
	cur     int
	peak    int
	arrived chan struct{}
	once    sync.Once
}

func (pr *probe) handler(next http.Handler) http.Handler {
	pr.arrived = make(chan struct{})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !pr.match(r) {
			next.ServeHTTP(w, r)
			return
		}
		pr.mu.Lock()
		pr.cur++
		pr.peak = max(pr.peak, pr.cur)
		if pr.cur >= pr.want {
			pr.once.Do(func() { close(pr.arrived) })
		}
		pr.mu.Unlock()
		select {
		case <-pr.arrived:
		case <-time.After(time.Second):
		}
		next.ServeHTTP(w, r)
		pr.mu.Lock()
		pr.cur--
		pr.mu.Unlock()
	})
}

func (pr *probe) max() int {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	return pr.peak
}

// probed returns a provider of e's options whose calls pass through pr.
func probed(t *testing.T, e *simEnv, pr *probe) *Provider {
	t.Helper()
	proxy := httptest.NewServer(pr.handler(e.srv))
	t.Cleanup(proxy.Close)
	opts := e.opts
	opts.Endpoint = proxy.URL
	return New(opts)
}

// TestPreflightReadsSideBySide: the image lookups, projects.get and the
// first offering's regions.get are independent, so they are in flight
// together.
func TestPreflightReadsSideBySide(t *testing.T) {
	e := newSim(t)
	pr := &probe{want: 4, match: func(r *http.Request) bool {
		return strings.Contains(r.URL.Path, "/images/family/") || strings.HasSuffix(r.URL.Path, "/regions/us-central1") ||
			strings.HasSuffix(r.URL.Path, "/projects/burst-sim")
	}}
	p := probed(t, e, pr)
	req := provider.PreflightRequest{Groups: []plan.Group{
		group(1, offering(t, "e2-standard-2", "us-central1", catalog.OnDemand)),
		group(2, offering(t, "g2-standard-4", "us-central1", catalog.OnDemand)),
	}}
	if err := p.Preflight(ctxT(t), req); err != nil {
		t.Fatalf("Preflight: %v", err)
	}
	if got := pr.max(); got != 4 {
		t.Errorf("at most %d of the 4 independent reads were in flight together, want 4", got)
	}
	// Same calls as one at a time: 2 images, 1 region, 1 project.
	for action, want := range map[string]int{"compute.images.getFromFamily": 2, "compute.regions.get": 1, "compute.projects.get": 1} {
		if n := e.model.Count(action); n != want {
			t.Errorf("%d x %s, want %d", n, action, want)
		}
	}
}

// TestPreflightErrorOrder: with several reads failing at once, Preflight
// returns what a one-at-a-time preflight would: a missing image before a
// failed quota read, and the first group's quota shortfall before a later
// group's.
func TestPreflightErrorOrder(t *testing.T) {
	t.Run("image before quota read", func(t *testing.T) {
		e := newSim(t, func(_ *cloudsim.Config, o *Options) {
			o.Image = "projects/ubuntu-os-cloud/global/images/family/no-such-family"
		})
		e.model.Inject(cloudsim.Fault{Service: gce.Service, Action: "compute.regions.get", Kind: cloudsim.KindAuth})
		e.model.Inject(cloudsim.Fault{Service: gce.Service, Action: "compute.projects.get", Kind: cloudsim.KindAuth})
		err := e.p.Preflight(ctxT(t), provider.PreflightRequest{Groups: []plan.Group{group(1, offering(t, "e2-standard-2", "us-central1", catalog.OnDemand))}})
		if !errors.Is(err, provider.ErrInvalid) || !strings.Contains(err.Error(), "no-such-family") {
			t.Fatalf("Preflight = %v, want the missing image (ErrInvalid)", err)
		}
	})
	t.Run("region read before project read", func(t *testing.T) {
		e := newSim(t)
		e.model.Inject(cloudsim.Fault{Service: gce.Service, Action: "compute.regions.get", Kind: cloudsim.KindInvalid, Message: "the region read failed"})
		e.model.Inject(cloudsim.Fault{Service: gce.Service, Action: "compute.projects.get", Kind: cloudsim.KindAuth})
		err := e.p.Preflight(ctxT(t), provider.PreflightRequest{Groups: []plan.Group{group(1, offering(t, "e2-standard-2", "us-central1", catalog.OnDemand))}})
		if !errors.Is(err, provider.ErrInvalid) || !strings.Contains(err.Error(), "the region read failed") {
			t.Fatalf("Preflight = %v, want the regions.get error", err)
		}
	})
	t.Run("first short group", func(t *testing.T) {
		e := newSim(t)
		setQuota(e, "us-east1", "N2_CPUS", 8)
		setQuota(e, "us-central1", "N2_CPUS", 8)
		err := e.p.Preflight(ctxT(t), provider.PreflightRequest{Groups: []plan.Group{
			group(2, offering(t, "n2-standard-8", "us-east1", catalog.OnDemand)),
			group(2, offering(t, "n2-standard-8", "us-central1", catalog.OnDemand)),
		}})
		if !errors.Is(err, provider.ErrQuota) || !strings.Contains(err.Error(), "in us-east1") {
			t.Fatalf("Preflight = %v, want the first group's shortfall in us-east1", err)
		}
	})
	t.Run("later offerings read only when needed", func(t *testing.T) {
		e := newSim(t)
		err := e.p.Preflight(ctxT(t), provider.PreflightRequest{Groups: []plan.Group{group(2,
			offering(t, "n2-standard-8", "us-central1", catalog.OnDemand), offering(t, "n2-standard-8", "us-east1", catalog.OnDemand))}})
		if err != nil {
			t.Fatal(err)
		}
		if n := e.model.Count("compute.regions.get"); n != 1 {
			t.Errorf("%d regions.get for a group whose first offering fits, want 1", n)
		}
	})
}

// TestPrepareAndCleanupSideBySide: networks.get, the two rules and the
// delete of the unused IPv6 client rule are in flight together, and so are
// Cleanup's three deletes.
func TestPrepareAndCleanupSideBySide(t *testing.T) {
	e := newSim(t)
	first := &probe{want: 4, match: func(r *http.Request) bool {
		return r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/global/networks/") ||
			r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/global/firewalls/") ||
			r.Method == http.MethodDelete && strings.Contains(r.URL.Path, "/global/firewalls/")
	}}
	p := probed(t, e, first)
	req := provider.PrepareRequest{Cluster: "par", Tags: map[string]string{provider.TagCluster: "par"}}
	if err := p.Prepare(ctxT(t), req); err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	if got := first.max(); got != 4 {
		t.Errorf("Prepare had at most %d of networks.get, 2 rule reads and 1 delete in flight, want 4", got)
	}
	for _, name := range []string{"burst-par-internal", "burst-par-client"} {
		if _, ok := e.srv.Firewall(name); !ok {
			t.Errorf("no rule %s", name)
		}
	}
	deletes := &probe{want: 3, match: func(r *http.Request) bool {
		return r.Method == http.MethodDelete && strings.Contains(r.URL.Path, "/global/firewalls/")
	}}
	if err := probed(t, e, deletes).Cleanup(ctxT(t), "par", nil); err != nil {
		t.Fatalf("Cleanup: %v", err)
	}
	if got := deletes.max(); got != 3 {
		t.Errorf("Cleanup had at most %d deletes in flight, want 3", got)
	}
	if leaks := e.model.Leaks(provider.TagCluster); len(leaks) != 0 {
		t.Errorf("left %v", leaks)
	}
}

// TestPrepareMissingNetworkSaysSo: with networks.get beside the rules, a
// missing network is still the error reported (not the rules' failed
// inserts), and no rule exists.
func TestPrepareMissingNetworkSaysSo(t *testing.T) {
	e := newSim(t, func(_ *cloudsim.Config, o *Options) { o.Network = "vpc-that-is-not" })
	err := e.p.Prepare(ctxT(t), provider.PrepareRequest{Cluster: "nonet", Tags: map[string]string{}})
	if !errors.Is(err, provider.ErrInvalid) || !strings.Contains(err.Error(), `VPC network "vpc-that-is-not" does not exist`) {
		t.Fatalf("Prepare on a missing network: %v", err)
	}
	if rules := e.model.Resources("firewall", nil); len(rules) != 0 {
		t.Errorf("rules on a missing network: %v", rules)
	}
}

// TestCleanupGoesOnPastARefusal: a rule that cannot be deleted does not
// stop the others; the error names it. (Which of the three deletes the
// fault hits depends on which reaches the simulator first.)
func TestCleanupGoesOnPastARefusal(t *testing.T) {
	e := newSim(t)
	req := provider.PrepareRequest{Cluster: "cj", Tags: map[string]string{provider.TagCluster: "cj"}}
	if err := e.p.Prepare(ctxT(t), req); err != nil {
		t.Fatal(err)
	}
	e.model.Inject(cloudsim.Fault{Service: gce.Service, Action: "compute.firewalls.delete", Kind: cloudsim.KindAuth, Times: 1})
	err := e.p.Cleanup(ctxT(t), "cj", nil)
	if !errors.Is(err, provider.ErrAuth) || strings.Count(err.Error(), "firewall rule burst-cj-") != 1 {
		t.Fatalf("Cleanup with one refused delete: %v", err)
	}
	if n := len(e.model.Resources("firewall", nil)); n > 1 {
		t.Errorf("%d rules left, want at most the one refused", n)
	}
	if err := e.p.Cleanup(ctxT(t), "cj", nil); err != nil {
		t.Fatalf("Cleanup again: %v", err)
	}
	if leaks := e.model.Leaks(provider.TagCluster); len(leaks) != 0 {
		t.Errorf("left %v", leaks)
	}
}
