package gcp

import (
	"context"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
)

// regionRead is one regions.get in flight.
type regionRead struct {
	done chan struct{}
	reg  *computepb.Region
	err  error
}

// getRegion is regions.get, shared with a read of the same region already
// in flight. The answer is not kept (quotas change). The shared call runs to its
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
