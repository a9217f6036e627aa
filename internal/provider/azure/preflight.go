package azure

import (
	"context"
	"fmt"
	"math"
	"strings"
	"sync"

	"github.com/burstdev/burst/internal/catalog"
	"github.com/burstdev/burst/internal/plan"
	"github.com/burstdev/burst/internal/provider"
)

// usage is one quota of a location.
type usage struct {
	name, display string
	limit, used   float64
}

func (u usage) free() float64 { return u.limit - u.used }

func (u usage) String() string {
	return fmt.Sprintf("the %s quota (%s) is %g with %g in use", u.display, u.name, u.limit, u.used)
}

// usagesIn lists a location's quotas by lower-case name.
func (p *Provider) usagesIn(ctx context.Context, location string) (map[string]usage, error) {
	out := map[string]usage{}
	pager := p.c.usage.NewListPager(location, nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, classify("Usage.List", err)
		}
		for _, u := range page.Value {
			if u == nil || u.Name == nil || u.Name.Value == nil {
				continue
			}
			out[strings.ToLower(*u.Name.Value)] = usage{name: *u.Name.Value, display: deref(u.Name.LocalizedValue),
				limit: float64(deref(u.Limit)), used: float64(deref(u.CurrentValue))}
		}
	}
	return out, nil
}

// Preflight implements provider.Preflighter: before anything is created it
// checks, per group, that some location of its offerings has the sizes
// (not restricted for this subscription) and the vCPU quota for the whole
// group: the regional vCPUs and the families of the sizes on demand, the
// regional Spot vCPUs for Spot. It costs a Resource SKUs and a Usage call
// per location, all made at once up front (see quotaLookups). When no
// location fits, the error is ErrQuota naming each location's binding quota
// (ErrNoCapacity when the sizes are restricted everywhere).
func (p *Provider) Preflight(ctx context.Context, req provider.PreflightRequest) error {
	if err := p.init(); err != nil {
		return err
	}
	var locs []string
	for _, g := range req.Groups {
		if g.Count <= 0 || len(g.Offerings) == 0 {
			continue
		}
		for _, o := range g.Offerings {
			locs = append(locs, o.Region)
		}
	}
	q := p.lookupQuotas(ctx, dedupe(locs))
	defer q.stop()
	for _, g := range req.Groups {
		if g.Count <= 0 || len(g.Offerings) == 0 {
			continue
		}
		if err := p.groupFits(g, q); err != nil {
			return err
		}
	}
	return nil
}

// quotaLookups are the Resource SKUs and Usage lists of the locations a
// preflight may look at, all started at once (at most eight calls in
// flight) instead of one after another. The checks then read them in the
// order they always did, waiting for each as they need it, so the error a
// preflight returns, when several calls fail, is the one the first failing
// call in that order gave, as before. A lookup the checks never reach (a
// later location, once one fits; the usages of a location whose sizes are
// all restricted) is a read made for nothing: a call that costs no time
// beside the others.
type quotaLookups struct {
	skus   map[string]*lookup[map[string]skuInfo]
	usages map[string]*lookup[map[string]usage]
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// lookup is one call's result, ready once done is closed.
type lookup[T any] struct {
	done chan struct{}
	val  T
	err  error
}

func (l *lookup[T]) get() (T, error) {
	<-l.done
	return l.val, l.err
}

func (p *Provider) lookupQuotas(ctx context.Context, locs []string) *quotaLookups {
	ctx, cancel := context.WithCancel(ctx)
	q := &quotaLookups{skus: map[string]*lookup[map[string]skuInfo]{}, usages: map[string]*lookup[map[string]usage]{}, cancel: cancel}
	sem := make(chan struct{}, 8)
	start := func(run func()) {
		q.wg.Add(1)
		go func() {
			defer q.wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			run()
		}()
	}
	for _, loc := range locs {
		s := &lookup[map[string]skuInfo]{done: make(chan struct{})}
		u := &lookup[map[string]usage]{done: make(chan struct{})}
		q.skus[loc], q.usages[loc] = s, u
		start(func() { defer close(s.done); s.val, s.err = p.skusIn(ctx, loc) })
		start(func() { defer close(u.done); u.val, u.err = p.usagesIn(ctx, loc) })
	}
	return q
}

// stop ends the lookups nobody needed and waits for them.
func (q *quotaLookups) stop() {
	q.cancel()
	q.wg.Wait()
}

func (p *Provider) groupFits(g plan.Group, q *quotaLookups) error {
	var locs []string
	for _, o := range g.Offerings {
		locs = append(locs, o.Region)
	}
	var reasons []string
	restricted := true
	for _, loc := range dedupe(locs) {
		skus, err := q.skus[loc].get()
		if err != nil {
			return err
		}
		var avail []plan.Offering
		var gone []string
		for _, o := range g.Offerings {
			if o.Region != loc {
				continue
			}
			if info, ok := skus[o.InstanceType]; ok && !info.restricted {
				avail = append(avail, o)
			} else {
				gone = append(gone, o.InstanceType)
			}
		}
		if len(avail) == 0 {
			reasons = append(reasons, fmt.Sprintf("%s: %s not available to this subscription (SkuNotAvailable)", loc, strings.Join(gone, ", ")))
			continue
		}
		restricted = false
		us, err := q.usages[loc].get()
		if err != nil {
			return err
		}
		need := float64(g.Count * avail[0].VCPUs)
		regional := "cores"
		if g.Capacity == catalog.Spot {
			regional = "lowPriorityCores"
		}
		if u, ok := us[strings.ToLower(regional)]; ok && u.free() < need {
			reasons = append(reasons, fmt.Sprintf("%s: %s, %g more needed", loc, u, need))
			continue
		}
		if g.Capacity == catalog.Spot {
			return nil // Spot VMs count against the Spot quota only
		}
		// An instance mix spreads over the families of its sizes: their
		// free quota adds up.
		free, seen := 0.0, map[string]bool{}
		var fams []string
		for _, o := range avail {
			fam := strings.ToLower(skus[o.InstanceType].family)
			if fam == "" || seen[fam] {
				continue
			}
			seen[fam] = true
			u, ok := us[fam]
			if !ok {
				free = math.Inf(1)
				break
			}
			free += math.Max(0, u.free())
			fams = append(fams, u.String())
		}
		if free >= need || len(seen) == 0 {
			return nil
		}
		reasons = append(reasons, fmt.Sprintf("%s: %s; %g more vCPUs needed", loc, strings.Join(fams, ", "), need))
	}
	role := string(g.Role)
	if g.Count != 1 {
		role += "s"
	}
	if restricted {
		return &provider.Error{Kind: provider.ErrNoCapacity, Scope: provider.ScopeRegion, Op: "Preflight", Code: "SkuNotAvailable",
			Msg: fmt.Sprintf("no size for %d %s (%s) is available: %s", g.Count, role, g.Capacity, strings.Join(reasons, "; "))}
	}
	return &provider.Error{Kind: provider.ErrQuota, Scope: provider.ScopeRegion, Op: "Preflight", Code: "QuotaExceeded",
		Msg: fmt.Sprintf("not enough vCPU quota for %d %s (%s): %s; request an increase under Quotas in the Azure portal or with `az quota update`",
			g.Count, role, g.Capacity, strings.Join(reasons, "; "))}
}
