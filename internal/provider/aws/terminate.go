package aws

import (
	"context"
	"fmt"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/burstdev/burst/internal/provider"
)

// MaxTerminateBatch is the most instance IDs one TerminateInstances call
// takes (EC2's limit).
const MaxTerminateBatch = 1000

// Terminate implements provider.Provider: TerminateInstances per region in
// batches of at most 1000 IDs, a few at once. EC2 rejects a whole batch if one ID no
// longer exists; then the batch's IDs that still exist are looked up and
// terminated, so already-gone machines are not an error.
func (p *Provider) Terminate(ctx context.Context, ms []provider.Machine) error {
	byRegion := map[string][]string{}
	var order []string
	for _, m := range ms {
		r := m.Region
		if r == "" {
			rs, err := p.regions(ctx)
			if err != nil {
				return err
			}
			r = rs[0]
		}
		if _, ok := byRegion[r]; !ok {
			order = append(order, r)
		}
		byRegion[r] = append(byRegion[r], m.ID)
	}
	// Batches go side by side, within and across regions; the region's
	// terminate bucket paces them.
	type batch struct {
		region string
		ids    []string
	}
	var batches []batch
	for _, region := range order {
		ids := byRegion[region]
		for len(ids) > 0 {
			n := min(len(ids), MaxTerminateBatch)
			batches = append(batches, batch{region, ids[:n]})
			ids = ids[n:]
		}
	}
	return provider.Parallel(len(batches), terminateInFlight, func(i int) error {
		b := batches[i]
		c, err := p.ec2Client(ctx, b.region)
		if err != nil {
			return err
		}
		if err := p.terminateBatch(ctx, c, b.region, b.ids); err != nil {
			return fmt.Errorf("%s: %w", b.region, err)
		}
		return nil
	})
}

// terminateInFlight bounds the TerminateInstances calls made at once.
const terminateInFlight = 4

func (p *Provider) terminateBatch(ctx context.Context, c *ec2.Client, region string, ids []string) error {
	if err := p.regionLimiters(region).wait(ctx, FamilyTerminateResource, len(ids)); err != nil {
		return err
	}
	_, err := c.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: ids})
	if err == nil {
		return nil
	}
	if apiCode(err) != "InvalidInstanceID.NotFound" {
		return classify("TerminateInstances", err)
	}
	// Filters never fail on unknown IDs: find which still exist.
	var live []string
	pg := ec2.NewDescribeInstancesPaginator(c, &ec2.DescribeInstancesInput{Filters: []types.Filter{
		{Name: sdkaws.String("instance-id"), Values: ids},
		{Name: sdkaws.String("instance-state-name"), Values: []string{"pending", "running", "stopping", "stopped"}},
	}})
	for pg.HasMorePages() {
		out, err := pg.NextPage(ctx)
		if err != nil {
			return classify("DescribeInstances", err)
		}
		for _, r := range out.Reservations {
			for _, in := range r.Instances {
				live = append(live, sdkaws.ToString(in.InstanceId))
			}
		}
	}
	if len(live) == 0 {
		return nil
	}
	if _, err := c.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: live}); err != nil && apiCode(err) != "InvalidInstanceID.NotFound" {
		return classify("TerminateInstances", err)
	}
	return nil
}
