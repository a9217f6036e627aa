package aws

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/burstdev/burst/internal/provider"
)

// MaxRegionsInFlight bounds how many regions Machines and Resources list at
// once. EC2 throttles each region on its own, so the bound is about this
// process (connections, goroutines), not EC2: eight keeps a search of the
// 17 default regions to three rounds.
const MaxRegionsInFlight = 8

// searchRegions returns the regions a filter asks for: every region enabled
// for the account with AllRegions, else the filter's regions, else the
// configured ones (the SDK's region, aws.regions, --region, and the regions
// this process launched into or prepared).
func (p *Provider) searchRegions(ctx context.Context, f provider.Filter) ([]string, error) {
	switch {
	case f.AllRegions:
		return p.enabledRegions(ctx)
	case len(f.Regions) > 0:
		return f.Regions, nil
	}
	return p.regions(ctx)
}

// enabledRegions lists the account's enabled regions with DescribeRegions
// in the SDK's region, once per provider. EC2 leaves out regions the
// account has not opted into (calls there fail), which is what a search
// for leftovers wants: nothing can have been created in them.
func (p *Provider) enabledRegions(ctx context.Context) ([]string, error) {
	p.mu.Lock()
	cached := p.allRegions
	p.mu.Unlock()
	if cached != nil {
		return cached, nil
	}
	cfg, err := p.config(ctx)
	if err != nil {
		return nil, err
	}
	c, err := p.ec2Client(ctx, cfg.Region)
	if err != nil {
		return nil, err
	}
	out, err := c.DescribeRegions(ctx, &ec2.DescribeRegionsInput{})
	if err != nil {
		return nil, classify("DescribeRegions", err)
	}
	var regions []string
	for _, r := range out.Regions {
		if name := sdkaws.ToString(r.RegionName); name != "" {
			regions = append(regions, name)
		}
	}
	if len(regions) == 0 {
		return nil, &provider.Error{Kind: provider.ErrAuth, Scope: provider.ScopeProvider, Op: "DescribeRegions",
			Msg: "EC2 lists no enabled region for this account"}
	}
	sort.Strings(regions)
	p.mu.Lock()
	p.allRegions = regions
	p.mu.Unlock()
	return regions, nil
}

// eachRegion runs list in every region, at most MaxRegionsInFlight at once,
// and returns the results in the order of regions. A failure in one region
// cancels the others and fails the whole search: a listing that silently
// missed a region could make gc think a cluster had no machines.
func eachRegion[T any](ctx context.Context, regions []string, list func(ctx context.Context, region string) ([]T, error)) ([]T, error) {
	if len(regions) == 1 {
		out, err := list(ctx, regions[0])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", regions[0], err)
		}
		return out, nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	results := make([][]T, len(regions))
	errs := make([]error, len(regions))
	sem := make(chan struct{}, MaxRegionsInFlight)
	var wg sync.WaitGroup
	for i, r := range regions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				errs[i] = ctx.Err()
				return
			}
			defer func() { <-sem }()
			results[i], errs[i] = list(ctx, r)
			if errs[i] != nil {
				cancel()
			}
		}()
	}
	wg.Wait()
	// Report the failures that caused the cancellation, not the
	// cancellations they caused.
	var failed []error
	for i, err := range errs {
		if err != nil && !errors.Is(err, context.Canceled) {
			failed = append(failed, fmt.Errorf("%s: %w", regions[i], err))
		}
	}
	if len(failed) > 0 {
		return nil, errors.Join(failed...)
	}
	for _, err := range errs {
		if err != nil {
			return nil, err // the caller's context ended
		}
	}
	var out []T
	for _, r := range results {
		out = append(out, r...)
	}
	return out, nil
}
