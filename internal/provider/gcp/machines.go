package gcp

import (
	"context"
	"errors"
	"maps"
	"slices"
	"sort"
	"sync"

	"github.com/burstdev/burst/internal/provider"
)

// Machines implements provider.Provider. Without Filter.Regions, or with
// AllRegions (which overrides them), it is one instances.aggregatedList
// over every zone of every region, filtered by the cluster label on the
// server (or by the presence of the label for all clusters) and paginated:
// one call per 500 machines whatever the number of regions. With regions
// it is the same listing filtered here, unless the listing runs to more
// than one page: then the regions' zones are listed side by side
// (instances.list per zone, see listIn), so 1000 machines in a region of
// four zones take one round instead of three pages one after another. A
// machine a guest shutdown stopped is listed as Stopped (GCE's
// TERMINATED): it still holds its disk, and down and gc delete it.
func (p *Provider) Machines(ctx context.Context, f provider.Filter) ([]provider.Machine, error) {
	if err := p.init(ctx); err != nil {
		return nil, err
	}
	sel := selector{}
	if f.Cluster != "" {
		sel.eq = [][2]string{{provider.TagCluster, f.Cluster}}
	}
	if len(f.Regions) == 0 || f.AllRegions {
		return p.list(ctx, sel.aip())
	}
	expect, perZone := 0, map[string]int(nil)
	if f.Cluster != "" {
		expect, perZone = p.expected(f.Cluster)
	}
	ms, err := p.listIn(ctx, sel, f.Regions, nil, expect, perZone)
	if err != nil {
		return nil, err
	}
	if f.Cluster != "" {
		p.setExpected(f.Cluster, ms)
	}
	return ms, nil
}

// expected is how many machines the cluster had when this provider last
// listed or launched them, in all and in each zone; setExpected and
// addExpected record it. It only chooses how to list (see listIn).
func (p *Provider) expected(cluster string) (int, map[string]int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.expect[cluster], maps.Clone(p.expectZone[cluster])
}

func (p *Provider) setExpected(cluster string, ms []provider.Machine) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.expect == nil {
		p.expect, p.expectZone = map[string]int{}, map[string]map[string]int{}
	}
	p.expect[cluster] = len(ms)
	p.expectZone[cluster] = countZones(ms)
}

func (p *Provider) addExpected(cluster string, ms []provider.Machine) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.expect == nil {
		p.expect, p.expectZone = map[string]int{}, map[string]map[string]int{}
	}
	p.expect[cluster] += len(ms)
	if p.expectZone[cluster] == nil {
		p.expectZone[cluster] = map[string]int{}
	}
	for z, n := range countZones(ms) {
		p.expectZone[cluster][z] += n
	}
}

// countZones counts machines by zone.
func countZones(ms []provider.Machine) map[string]int {
	out := map[string]int{}
	for _, m := range ms {
		out[m.Zone]++
	}
	return out
}

// pageSize is GCE's largest page (maxResults), and what burst asks for.
const pageSize = 500

// listIn returns the machines a selector picks in the regions (in zones,
// when given: those of the regions to look in), sorted by ID. When
// expect, the number of machines the caller expects, fits one page, it
// is one aggregatedList page, filtered here by region. Otherwise, or when
// that page has a next one, it lists the zones side by side instead
// (listZones): aggregatedList pages can only be fetched one after
// another, each needing the last one's token. The zones are the regions'
// (regions.get, read once per process) unless given; when they are not
// known yet, they are read beside the first page, which may turn out to
// need them. If they cannot be read, the listing falls back to
// aggregatedList's pages.
//
// How many parts each zone is listed in (see listZones) follows what is
// known of its machines: the first page's count in the zone when there
// was a first page (doubled: a page with a next one is followed by at
// least as many again, taken to be where the first ones were), else
// perZone, the zone's count at the last listing or launch, else expect
// (any zone might hold them all).
func (p *Provider) listIn(ctx context.Context, sel selector, regions, zones []string, expect int, perZone map[string]int) ([]provider.Machine, error) {
	filter := sel.aip()
	var zerr error
	estimate := func(zone string) int {
		if perZone == nil {
			return expect
		}
		return perZone[zone]
	}
	if expect <= pageSize {
		var wg sync.WaitGroup
		if len(zones) == 0 && !p.knowsZones(regions) {
			wg.Go(func() { zones, zerr = p.zonesOf(ctx, regions) })
		}
		ms, token, err := p.listPage(ctx, filter, "")
		wg.Wait()
		if err != nil {
			return nil, err
		}
		if token == "" {
			return inRegions(ms, regions), nil
		}
		seen := countZones(ms)
		estimate = func(zone string) int { return 2 * seen[zone] }
	}
	if len(zones) == 0 && zerr == nil {
		zones, zerr = p.zonesOf(ctx, regions)
	}
	if zerr != nil {
		ms, err := p.list(ctx, filter)
		return inRegions(ms, regions), err
	}
	parts := make([]int, len(zones))
	for i, z := range zones {
		parts[i] = partsFor(estimate(z))
	}
	return p.listZones(ctx, sel, zones, parts)
}

// inRegions keeps the machines in the regions.
func inRegions(ms []provider.Machine, regions []string) []provider.Machine {
	return slices.DeleteFunc(ms, func(m provider.Machine) bool { return !slices.Contains(regions, m.Region) })
}

// list returns the machines an aggregatedList filter selects, sorted by ID.
// Each page is one call, retried on throttling; a page that fails fails
// the list, so a caller never mistakes a partial view for the truth.
//
// Each page asks for a partial response (listMask): only the fields
// leanInstance holds. A full instance carries the startup script in its
// metadata, most of its size; at 5000 machines a listing without the mask
// is tens of megabytes to download and decode on every observation.
func (p *Provider) list(ctx context.Context, filter string) ([]provider.Machine, error) {
	var out []provider.Machine
	token := ""
	for {
		ms, next, err := p.listPage(ctx, filter, token)
		if err != nil {
			return nil, err
		}
		out = append(out, ms...)
		if token = next; token == "" {
			break
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// listPage is one aggregatedList page: its machines, sorted by ID, and the
// next page's token. The page is read and decoded by getList (lists.go),
// not the REST client.
func (p *Provider) listPage(ctx context.Context, filter, token string) ([]provider.Machine, string, error) {
	var resp leanAggregated
	err := p.do(ctx, "instances.aggregatedList", func(ctx context.Context) error {
		resp = leanAggregated{}
		return p.getList(ctx, p.aggregatedListPath(), filter, token, listMask, &resp)
	})
	if err != nil {
		return nil, "", err
	}
	var out []provider.Machine
	for _, scoped := range resp.Items {
		for i := range scoped.Instances {
			out = append(out, scoped.Instances[i].machine())
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, resp.NextPageToken, nil
}

// listZones returns the machines a selector picks in the zones, sorted by
// ID: one instances.list per zone, side by side, each zone's pages in
// turn. A zone that fails fails the list.
//
// A zone expected to hold more than a page is listed in parts[i] parts
// side by side instead, each its own series of pages: the parts split the
// machines by the last character of their name with GCE's
// regular-expression filter form (selector.part), one part per group of
// final digits and a last one for every other name, so that every machine
// is in exactly one part whatever its name. If GCE refuses that form, the
// zone is listed whole and later listings do not split.
func (p *Provider) listZones(ctx context.Context, sel selector, zones []string, parts []int) ([]provider.Machine, error) {
	type unit struct{ zone, part, parts int }
	var units []unit
	p.mu.Lock()
	split := !p.noSplit && len(sel.eq) > 0
	p.mu.Unlock()
	for i := range zones {
		k := 1
		if split && parts != nil {
			k = parts[i]
		}
		for j := range k {
			units = append(units, unit{i, j, k})
		}
	}
	found := make([][]provider.Machine, len(units))
	err := provider.Parallel(len(units), 0, func(u int) error {
		zone, filter := zones[units[u].zone], sel.aip()
		if units[u].parts > 1 {
			filter = sel.part(units[u].part, units[u].parts)
		}
		ms, err := p.listZone(ctx, zone, filter)
		if err != nil && units[u].parts > 1 && errors.Is(err, provider.ErrInvalid) {
			// GCE would not take the regular-expression form: the
			// first part lists the zone whole, the others nothing.
			p.mu.Lock()
			p.noSplit = true
			p.mu.Unlock()
			if units[u].part != 0 {
				return nil
			}
			ms, err = p.listZone(ctx, zone, sel.aip())
		}
		found[u] = ms
		return err
	})
	if err != nil {
		return nil, err
	}
	// The parts do not overlap, and the filter picks by the labels; both
	// are checked here all the same, so that a filter GCE read otherwise
	// than documented can add no machine and none twice.
	seen := map[string]bool{}
	var out []provider.Machine
	for _, m := range slices.Concat(found...) {
		if !seen[m.Zone+"/"+m.ID] && sel.keeps(m) {
			seen[m.Zone+"/"+m.ID] = true
			out = append(out, m)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// listZone returns the machines a filter selects in a zone, its pages in
// turn, each read by getList (lists.go).
func (p *Provider) listZone(ctx context.Context, zone, filter string) ([]provider.Machine, error) {
	var out []provider.Machine
	token := ""
	for {
		var resp leanList
		err := p.do(ctx, "instances.list", func(ctx context.Context) error {
			resp = leanList{}
			return p.getList(ctx, p.zoneListPath(zone), filter, token, zoneListMask, &resp)
		})
		if err != nil {
			return nil, err
		}
		for i := range resp.Items {
			out = append(out, resp.Items[i].machine())
		}
		if token = resp.NextPageToken; token == "" {
			return out, nil
		}
	}
}

// instanceMask is the X-Goog-FieldMask of a listed instance: the fields
// leanInstance holds. Keep the two in step; the providertest suite checks
// every Machine field over the wire against the simulator, which honours
// the mask. listMask is an aggregatedList page's, zoneListMask an
// instances.list page's.
const (
	instanceMask = "name,zone,machineType,status,labels,creationTimestamp," +
		"scheduling(provisioningModel,preemptible),guestAccelerators(acceleratorType,acceleratorCount)," +
		"networkInterfaces(networkIP,accessConfigs(natIP))"
	listMask     = "nextPageToken,items/*/instances(" + instanceMask + ")"
	zoneListMask = "nextPageToken,items(" + instanceMask + ")"
)

// stateOf maps GCE's instance statuses to burst's states. TERMINATED is
// GCE's word for a stopped VM, not a deleted one: a deleted VM is not
// listed at all.
func stateOf(status string) provider.State {
	switch status {
	case "PROVISIONING", "STAGING", "PENDING":
		return provider.Pending
	case "RUNNING", "REPAIRING":
		return provider.Running
	case "STOPPING", "SUSPENDING", "PENDING_STOP":
		return provider.Stopping
	case "TERMINATED", "SUSPENDED", "STOPPED":
		return provider.Stopped
	}
	return provider.Pending
}
