package aws

import (
	"context"
	"slices"
	"sort"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/burstdev/burst/internal/catalog"
	"github.com/burstdev/burst/internal/provider"
	"github.com/burstdev/burst/pkg/spec"
)

// describePageSize is DescribeInstances' largest page.
const describePageSize = 1000

// Machines implements provider.Provider: DescribeInstances filtered by the
// burst-cluster tag (or, with no cluster, by the tag's presence; a
// cluster's heads and workers in two listings side by side), paginated
// 1000 at a time, in each region of the filter (every enabled region with
// AllRegions; the configured ones when it names none), up to
// MaxRegionsInFlight regions at once. Terminated instances EC2 still
// reports are included, unless the filter asks for live ones only.
func (p *Provider) Machines(ctx context.Context, f provider.Filter) ([]provider.Machine, error) {
	regions, err := p.searchRegions(ctx, f)
	if err != nil {
		return nil, err
	}
	filters := []types.Filter{clusterFilter(f.Cluster)}
	if f.Live {
		// EC2 lists terminated instances for about an hour.
		filters = append(filters, types.Filter{Name: sdkaws.String("instance-state-name"), Values: []string{"pending", "running", "shutting-down", "stopping", "stopped"}})
	}
	out, err := eachRegion(ctx, regions, func(ctx context.Context, region string) ([]provider.Machine, error) {
		c, err := p.ec2Client(ctx, region)
		if err != nil {
			return nil, err
		}
		if f.Cluster == "" {
			return describeMachines(ctx, c, region, filters...)
		}
		// A cluster's head and workers are listed side by side: a
		// cluster of 1000 workers is then one page a listing, not two.
		// Every machine burst launches carries its role from the start
		// (CreateFleet's tag specifications).
		roles := []spec.Role{spec.RoleHead, spec.RoleWorker}
		found := make([][]provider.Machine, len(roles))
		err = provider.Parallel(len(roles), 0, func(i int) (err error) {
			byRole := types.Filter{Name: sdkaws.String("tag:" + provider.TagRole), Values: []string{string(roles[i])}}
			found[i], err = describeMachines(ctx, c, region, append(slices.Clone(filters), byRole)...)
			return err
		})
		return slices.Concat(found...), err
	})
	if err != nil {
		return nil, err
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// clusterFilter selects a cluster's resources by tag, or with no cluster
// every resource that carries the tag.
func clusterFilter(cluster string) types.Filter {
	if cluster == "" {
		return types.Filter{Name: sdkaws.String("tag-key"), Values: []string{provider.TagCluster}}
	}
	return types.Filter{Name: sdkaws.String("tag:" + provider.TagCluster), Values: []string{cluster}}
}

// describeMachines lists a region's instances that match the filters, all
// pages of them, as machines. Pages are read lean (describePage).
func describeMachines(ctx context.Context, c *ec2.Client, region string, filters ...types.Filter) ([]provider.Machine, error) {
	var out []provider.Machine
	in := &ec2.DescribeInstancesInput{Filters: filters, MaxResults: sdkaws.Int32(describePageSize)}
	seen := map[string]bool{}
	for {
		ins, next, err := describePage(ctx, c, in)
		if err != nil {
			return nil, classify("DescribeInstances", err)
		}
		for _, i := range ins {
			out = append(out, machine(region, i))
		}
		if next == "" || seen[next] {
			return out, nil
		}
		seen[next] = true
		in.NextToken = sdkaws.String(next)
	}
}

// machine converts an EC2 instance.
func machine(region string, in types.Instance) provider.Machine {
	tags := map[string]string{}
	for _, t := range in.Tags {
		tags[sdkaws.ToString(t.Key)] = sdkaws.ToString(t.Value)
	}
	m := provider.Machine{
		ID: sdkaws.ToString(in.InstanceId), Cluster: tags[provider.TagCluster], Role: spec.Role(tags[provider.TagRole]),
		Provider: Name, Region: region, InstanceType: string(in.InstanceType), Capacity: catalog.OnDemand,
		PrivateIP: sdkaws.ToString(in.PrivateIpAddress), PublicIP: sdkaws.ToString(in.PublicIpAddress),
		LaunchedAt: sdkaws.ToTime(in.LaunchTime), Tags: tags,
	}
	if in.Placement != nil {
		m.Zone = sdkaws.ToString(in.Placement.AvailabilityZone)
	}
	if in.InstanceLifecycle == types.InstanceLifecycleTypeSpot {
		m.Capacity = catalog.Spot
	}
	if in.State != nil {
		m.State = state(in.State.Name)
	}
	return m
}

// state maps EC2's instance states: shutting-down is Stopping (not live,
// not yet gone).
func state(s types.InstanceStateName) provider.State {
	switch s {
	case types.InstanceStateNamePending:
		return provider.Pending
	case types.InstanceStateNameRunning:
		return provider.Running
	case types.InstanceStateNameShuttingDown, types.InstanceStateNameStopping:
		return provider.Stopping
	case types.InstanceStateNameStopped:
		return provider.Stopped
	}
	return provider.Terminated
}
