package gcp

import (
	"context"
	"errors"
	"slices"
	"sort"

	"github.com/burstdev/burst/internal/provider"
)

// Machines implements provider.Provider. It is instances.aggregatedList
// over every zone of every region, filtered by the cluster label on the
// server (or by the presence of the label for all clusters), 500 machines
// a page; with Filter.Regions (and not AllRegions) the machines elsewhere
// are dropped here. A cluster's listing is split into parts side by side
// (listParts), so that each part fits a page: as many as the cluster's
// count at this process's last listing or launch calls for, or, when this
// process knows nothing of it, unknownParts. A machine a guest shutdown
// stopped is listed as Stopped (GCE's TERMINATED): it still holds its
// disk, and down and gc delete it.
func (p *Provider) Machines(ctx context.Context, f provider.Filter) ([]provider.Machine, error) {
	if err := p.init(ctx); err != nil {
		return nil, err
	}
	var ms []provider.Machine
	var err error
	if f.Cluster == "" {
		ms, err = p.list(ctx, selector{}.aip())
	} else {
		sel := selector{eq: [][2]string{{provider.TagCluster, f.Cluster}}}
		parts := unknownParts
		if n, ok := p.expected(f.Cluster); ok {
			parts = partsFor(n)
		}
		ms, err = p.listParts(ctx, sel, parts)
		if err == nil {
			p.setExpected(f.Cluster, ms)
		}
	}
	if err != nil {
		return nil, err
	}
	if len(f.Regions) > 0 && !f.AllRegions {
		ms = inRegions(ms, f.Regions)
	}
	return ms, nil
}

// unknownParts is how many parts a listing of a cluster this process knows
// nothing of is split in: one round for up to about 1200 machines (the
// largest part holds four final digits of ten), three calls for a small
// cluster.
const unknownParts = 3

// expected is how many machines the cluster had when this provider last
// listed or launched them, and whether it did; setExpected and
// addExpected record it. It only chooses how to list (see listParts).
func (p *Provider) expected(cluster string) (int, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	n, ok := p.expect[cluster]
	return n, ok
}

func (p *Provider) setExpected(cluster string, ms []provider.Machine) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.expect == nil {
		p.expect = map[string]int{}
	}
	p.expect[cluster] = len(ms)
}

func (p *Provider) addExpected(cluster string, ms []provider.Machine) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.expect == nil {
		p.expect = map[string]int{}
	}
	p.expect[cluster] += len(ms)
}

// pageSize is GCE's largest page (maxResults), and what burst asks for.
const pageSize = 500

// listParts returns the machines a selector picks, sorted by ID: the
// aggregatedList in n parts side by side (n <= 10), each its own series
// of pages. aggregatedList pages can only be fetched one after another,
// each needing the last one's token; parts that each fit a page make any
// listing one round.
//
// The parts split the machines by the last character of their name with
// GCE's regular-expression filter form (selector.part), one part per group
// of final digits and a last one for every other name, so that every
// machine is in exactly one part whatever its name. If GCE refuses that
// form, the listing is made whole and later listings do not split.
func (p *Provider) listParts(ctx context.Context, sel selector, n int) ([]provider.Machine, error) {
	p.mu.Lock()
	if p.noSplit || len(sel.eq) == 0 {
		n = 1
	}
	p.mu.Unlock()
	if n <= 1 {
		return p.list(ctx, sel.aip())
	}
	found := make([][]provider.Machine, n)
	var (
		canary     []provider.Machine
		canaryNext string
	)
	err := provider.Parallel(n+1, 0, func(i int) error {
		if i == n {
			// The canary: the first machines of the listing whole, in
			// the filter form every GCE list takes. It fails the
			// listing as any of its pages would.
			var err error
			canary, canaryNext, err = p.listPage(ctx, sel.aip(), "", canarySize)
			return err
		}
		ms, err := p.list(ctx, sel.part(i, n))
		if err != nil && errors.Is(err, provider.ErrInvalid) {
			// GCE would not take the regular-expression form: the
			// first part lists the machines whole, the others nothing.
			p.mu.Lock()
			p.noSplit = true
			p.mu.Unlock()
			if i != 0 {
				return nil
			}
			ms, err = p.list(ctx, sel.aip())
		}
		found[i] = ms
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
	// A filter GCE read otherwise could also drop machines, and a
	// listing that misses machines is how clusters leak (down would leave
	// them). Every machine of the canary must be in the parts; if one is
	// not, the split is not trusted again and the listing is made whole.
	// A canary that is the whole listing (no next page) is the answer.
	missed := slices.ContainsFunc(canary, func(m provider.Machine) bool { return sel.keeps(m) && !seen[m.Zone+"/"+m.ID] })
	if missed {
		p.mu.Lock()
		p.noSplit = true
		p.mu.Unlock()
	}
	switch {
	case canaryNext == "":
		out = slices.DeleteFunc(canary, func(m provider.Machine) bool { return !sel.keeps(m) })
	case missed:
		return p.list(ctx, sel.aip())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// canarySize is the page of the canary listing beside a listing in parts
// (listParts): a cluster of up to this many machines is answered by the
// canary alone, and a larger one's first machines are checked against
// the parts.
const canarySize = 100

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
		ms, next, err := p.listPage(ctx, filter, token, 0)
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

// listPage is one aggregatedList page of up to max machines (pageSize
// when 0): its machines, sorted by ID, and the next page's token. The page
// is read and decoded by getList (lists.go), not the REST client.
func (p *Provider) listPage(ctx context.Context, filter, token string, max int) ([]provider.Machine, string, error) {
	var resp leanAggregated
	err := p.do(ctx, "instances.aggregatedList", func(ctx context.Context) error {
		resp = leanAggregated{}
		return p.getList(ctx, p.aggregatedListPath(), filter, token, listMask, max, &resp)
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

// instanceMask is the X-Goog-FieldMask of a listed instance: the fields
// leanInstance holds. Keep the two in step; the providertest suite checks
// every Machine field over the wire against the simulator, which honours
// the mask. listMask is an aggregatedList page's.
const (
	instanceMask = "name,zone,machineType,status,labels,creationTimestamp," +
		"scheduling(provisioningModel,preemptible),guestAccelerators(acceleratorType,acceleratorCount)," +
		"networkInterfaces(networkIP,accessConfigs(natIP))"
	listMask = "nextPageToken,items/*/instances(" + instanceMask + ")"
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
