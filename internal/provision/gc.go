package provision

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/burstdev/burst/internal/progress"
	"github.com/burstdev/burst/internal/provider"
	"github.com/burstdev/burst/pkg/spec"
)

// GCGrace is how old a resource must be before gc calls it orphaned: a
// cluster being created right now has a network and a head on the way, and
// must not be collected under it.
const GCGrace = 10 * time.Minute

// Orphan reasons.
const (
	ReasonNoHead       = "cluster has no head"
	ReasonPastDeadline = "past its max lifetime"
	ReasonStopped      = "stopped (its disk still bills)"
	ReasonNoMachines   = "cluster has no machines"
	ReasonCollected    = "all its cluster's machines are collected"
)

// Orphan is something burst created that nothing uses any more.
type Orphan struct {
	Provider  string
	Region    string
	Cluster   string
	Kind      string // "machine" or the resource kind
	ID        string
	Reason    string
	CreatedAt time.Time
	Machine   *provider.Machine
	Resource  *provider.Resource
}

// Orphans finds what is left over on the providers: machines of clusters
// without a head, machines past their deadline, stopped machines, and
// shared resources of clusters with no machines. Things younger than
// GCGrace are left alone.
func (e *Engine) Orphans(ctx context.Context, providers []string, f provider.Filter) ([]Orphan, error) {
	e.defaults()
	now := e.Now()
	f.Cluster = ""
	var out []Orphan
	for _, name := range providers {
		p, err := e.Provider(ctx, name)
		if err != nil {
			return nil, err
		}
		ms, err := p.Machines(ctx, f)
		if err != nil {
			return nil, fmt.Errorf("%s: listing machines: %w", name, err)
		}
		byCluster := map[string][]provider.Machine{}
		for _, m := range ms {
			byCluster[m.Cluster] = append(byCluster[m.Cluster], m)
		}
		// With a region filter, what is outside it still counts: a head in
		// another region, machines elsewhere using a global resource.
		var everywhere []provider.Machine
		if len(f.Regions) > 0 && !f.AllRegions {
			if everywhere, err = p.Machines(ctx, provider.Filter{AllRegions: true}); err != nil {
				return nil, fmt.Errorf("%s: listing machines: %w", name, err)
			}
		}
		headElsewhere := map[string]bool{}
		liveEverywhere := map[string]int{}
		for _, m := range everywhere {
			if m.Role == spec.RoleHead && m.State.Live() {
				headElsewhere[m.Cluster] = true
			}
			if m.State != provider.Terminated {
				liveEverywhere[m.Cluster]++
			}
		}
		// collected counts, per cluster, the machines this pass orphans;
		// when that is all of a cluster's machines, its shared resources
		// go too.
		collected := map[string]int{}
		for cluster, cms := range byCluster {
			hasHead := headElsewhere[cluster]
			for _, m := range cms {
				if m.Role == spec.RoleHead && m.State.Live() {
					hasHead = true
				}
			}
			for i := range cms {
				m := cms[i]
				reason := ""
				switch {
				case m.State == provider.Stopped:
					reason = ReasonStopped
				case !m.State.Live():
					continue
				case expired(m, now):
					reason = ReasonPastDeadline
				case !hasHead && now.Sub(m.LaunchedAt) > GCGrace:
					reason = ReasonNoHead
				default:
					continue
				}
				out = append(out, Orphan{Provider: name, Region: m.Region, Cluster: cluster, Kind: "machine", ID: m.ID,
					Reason: reason, CreatedAt: m.LaunchedAt, Machine: &m})
				collected[cluster]++
			}
		}
		col, ok := p.(provider.Collector)
		if !ok {
			continue
		}
		rs, err := col.Resources(ctx, f)
		if err != nil {
			return nil, fmt.Errorf("%s: listing resources: %w", name, err)
		}

		for i := range rs {
			r := rs[i]
			if now.Sub(r.CreatedAt) < GCGrace {
				continue
			}
			left := 0
			for _, m := range byCluster[r.Cluster] {
				if m.State != provider.Terminated {
					left++
				}
			}
			if r.Region == "" && everywhere != nil && liveEverywhere[r.Cluster] > left {
				continue // a global resource of a cluster running in another region
			}
			switch left {
			case 0:
				out = append(out, Orphan{Provider: name, Region: r.Region, Cluster: r.Cluster, Kind: r.Kind, ID: r.ID,
					Reason: ReasonNoMachines, CreatedAt: r.CreatedAt, Resource: &r})
			case collected[r.Cluster]:
				out = append(out, Orphan{Provider: name, Region: r.Region, Cluster: r.Cluster, Kind: r.Kind, ID: r.ID,
					Reason: ReasonCollected, CreatedAt: r.CreatedAt, Resource: &r})
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Provider != b.Provider {
			return a.Provider < b.Provider
		}
		if a.Cluster != b.Cluster {
			return a.Cluster < b.Cluster
		}
		if (a.Machine == nil) != (b.Machine == nil) {
			return a.Machine != nil // machines first: resources go after them
		}
		return a.ID < b.ID
	})
	return out, nil
}

func expired(m provider.Machine, now time.Time) bool {
	v, err := strconv.ParseInt(m.Tags[provider.TagExpires], 10, 64)
	// A minute of slack: the machine's own watchdog should get there first.
	return err == nil && v > 0 && now.After(time.Unix(v, 0).Add(time.Minute))
}

// Collect deletes orphans: machines first, then, once they are gone, the
// resources that may depend on them.
func (e *Engine) Collect(ctx context.Context, orphans []Orphan) error {
	e.defaults()
	byProvider := map[string][]provider.Machine{}
	resources := map[string][]provider.Resource{}
	var names []string
	seen := map[string]bool{}
	for _, o := range orphans {
		if !seen[o.Provider] {
			seen[o.Provider] = true
			names = append(names, o.Provider)
		}
		if o.Machine != nil {
			byProvider[o.Provider] = append(byProvider[o.Provider], *o.Machine)
		}
		if o.Resource != nil {
			resources[o.Provider] = append(resources[o.Provider], *o.Resource)
		}
	}
	for _, name := range names {
		if ms := byProvider[name]; len(ms) > 0 {
			if err := e.terminate(ctx, "", ms, "gc"); err != nil {
				return err
			}
		}
	}
	for _, name := range names {
		rs := resources[name]
		if len(rs) == 0 {
			continue
		}
		p, err := e.Provider(ctx, name)
		if err != nil {
			return err
		}
		col, ok := p.(provider.Collector)
		if !ok {
			return fmt.Errorf("%s cannot delete resources", name)
		}
		e.emit(progress.Event{Type: progress.TypeTerminate, Provider: name, Count: len(rs),
			Message: fmt.Sprintf("deleting %s on %s", plural(len(rs), "resource"), name)})
		if err := col.DeleteResources(ctx, rs); err != nil {
			return fmt.Errorf("%s: deleting resources: %w", name, err)
		}
	}
	return nil
}
