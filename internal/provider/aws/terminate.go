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
// batches of at most 1000 IDs. EC2 rejects a whole batch if one ID no
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
	for _, region := range order {
		c, err := p.ec2Client(ctx, region)
		if err != nil {
			return err
		}
		ids := byRegion[region]
		for len(ids) > 0 {
			n := min(len(ids), MaxTerminateBatch)
			if err := p.terminateBatch(ctx, c, region, ids[:n]); err != nil {
				return fmt.Errorf("%s: %w", region, err)
			}
			ids = ids[n:]
		}
	}
	return nil
}

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
