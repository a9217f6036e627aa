package gcp

import (
	"context"
	"slices"
	"time"

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

// knowsZones reports whether the zones of every region are known.
func (p *Provider) knowsZones(regions []string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, r := range regions {
		if _, ok := p.zones[r]; !ok {
			return false
		}
	}
	return true
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
		_, err := p.getRegion(ctx, missing[i])
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

// regionRead is one regions.get in flight.
type regionRead struct {
	done chan struct{}
	reg  *computepb.Region
	err  error
}

// getRegion is regions.get, shared with a read of the same region already
// in flight: up's first listing may want a region's zones while its
// preflight reads the region's quotas. The answer is not kept (quotas
// change); the zones in it are (noteZones). The shared call runs to its
// end even if the caller that started it gives up, so that the others
// still get an answer; each caller waits only as long as its ctx lasts.
func (p *Provider) getRegion(ctx context.Context, region string) (*computepb.Region, error) {
	p.mu.Lock()
	rd, ok := p.regionReads[region]
	if !ok {
		rd = &regionRead{done: make(chan struct{})}
		if p.regionReads == nil {
			p.regionReads = map[string]*regionRead{}
		}
		p.regionReads[region] = rd
		go func() {
			ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), regionReadTimeout)
			defer cancel()
			err := p.do(ctx, "regions.get", func(ctx context.Context) (err error) {
				rd.reg, err = p.c.regions.Get(ctx, &computepb.GetRegionRequest{Project: p.project, Region: region}, noRetry)
				return err
			})
			rd.err = err
			if err == nil {
				p.noteZones(region, rd.reg)
			}
			p.mu.Lock()
			delete(p.regionReads, region)
			p.mu.Unlock()
			close(rd.done)
		}()
	}
	p.mu.Unlock()
	select {
	case <-rd.done:
		return rd.reg, rd.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// regionReadTimeout bounds a shared regions.get that no caller waits for
// any more.
const regionReadTimeout = time.Minute
