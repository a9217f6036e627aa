package gcp

import (
	"context"
	"slices"

	"cloud.google.com/go/compute/apiv1/computepb"

	"github.com/burstdev/burst/internal/provider"
)

// A region's zones, from regions.get: GCE documents the Region resource's
// `zones` as "a list of zones available in this region, in the form of
// resource URLs". They do not change while burst runs, so each region is
// read at most once per process (preflight's regions.get fills the cache
// too).

// noteZones records a region's zones from its regions.get answer.
func (p *Provider) noteZones(region string, reg *computepb.Region) {
	var zones []string
	for _, z := range reg.GetZones() {
		zones = append(zones, lastSegment(z))
	}
	if len(zones) == 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.zones == nil {
		p.zones = map[string][]string{}
	}
	p.zones[region] = zones
}

// zonesOf returns the zones of the regions, reading the ones not known
// yet side by side.
func (p *Provider) zonesOf(ctx context.Context, regions []string) ([]string, error) {
	p.mu.Lock()
	var missing []string
	for _, r := range regions {
		if _, ok := p.zones[r]; !ok && !slices.Contains(missing, r) {
			missing = append(missing, r)
		}
	}
	p.mu.Unlock()
	err := provider.Parallel(len(missing), 0, func(i int) error {
		var reg *computepb.Region
		err := p.do(ctx, "regions.get", func(ctx context.Context) (err error) {
			reg, err = p.c.regions.Get(ctx, &computepb.GetRegionRequest{Project: p.project, Region: missing[i]}, noRetry)
			return err
		})
		if err == nil {
			p.noteZones(missing[i], reg)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, r := range regions {
		for _, z := range p.zones[r] {
			if !slices.Contains(out, z) {
				out = append(out, z)
			}
		}
	}
	return out, nil
}
