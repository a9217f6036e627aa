package aws

import (
	"context"
	"time"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/burstdev/burst/internal/provider"
)

var _ provider.EarlyCleaner = (*Provider)(nil)

// cleanLookupsTTL is how long down's early lookups stay good for its
// Cleanup. Nothing of a cluster is made while it is taken down, so they
// stay true while its instances terminate (a minute or two on EC2); older
// ones are read again.
const cleanLookupsTTL = 10 * time.Minute

// cleanLookups is what CleanupEarly found in a region: the cluster's
// security groups and key pairs, by ID. Its launch templates are gone.
type cleanLookups struct {
	at     time.Time
	groups []string
	keys   []string
}

func (cl *cleanLookups) groupIDs() []string {
	if cl == nil {
		return nil
	}
	return cl.groups
}

func (cl *cleanLookups) keyIDs() []string {
	if cl == nil {
		return nil
	}
	return cl.keys
}

// CleanupEarly implements provider.EarlyCleaner. In each region, side by
// side, it deletes the cluster's launch templates (each launch makes its
// own, and a running instance needs none) and looks up its security
// groups and key pairs, which Cleanup then deletes without looking them up
// again. The key pair stays until Cleanup: a Prepare that met no key pair
// would make a new one and replace the private key that SSH to the
// running instances needs.
func (p *Provider) CleanupEarly(ctx context.Context, cluster string, regions []string) error {
	return p.inEveryRegion(ctx, regions, func(region string) error { return p.cleanupEarlyRegion(ctx, cluster, region) })
}

func (p *Provider) cleanupEarlyRegion(ctx context.Context, cluster, region string) error {
	c, err := p.ec2Client(ctx, region)
	if err != nil {
		return err
	}
	byTag := []types.Filter{{Name: sdkaws.String("tag:" + provider.TagCluster), Values: []string{cluster}}}
	cl := &cleanLookups{at: p.opts.Now()}
	err = provider.Parallel(3, 0, func(i int) (err error) {
		switch i {
		case 0:
			return p.deleteLaunchTemplates(ctx, c, byTag)
		case 1:
			cl.groups, err = securityGroupIDs(ctx, c, byTag)
		default:
			cl.keys, err = keyPairIDs(ctx, c, byTag)
		}
		return err
	})
	if err != nil {
		return err
	}
	p.mu.Lock()
	p.cleanAhead[netKey{cluster, region}] = cl
	p.forgetTemplatesLocked(cluster, region)
	p.mu.Unlock()
	return nil
}

// takeCleanLookups hands over the fresh lookups of an early clean-up of
// the cluster in a region (once), or nil.
func (p *Provider) takeCleanLookups(cluster, region string) *cleanLookups {
	k := netKey{cluster, region}
	p.mu.Lock()
	defer p.mu.Unlock()
	cl := p.cleanAhead[k]
	delete(p.cleanAhead, k)
	if cl == nil || p.opts.Now().Sub(cl.at) >= cleanLookupsTTL {
		return nil
	}
	return cl
}

// securityGroupIDs are the IDs of the security groups a filter finds.
func securityGroupIDs(ctx context.Context, c *ec2.Client, filters []types.Filter) ([]string, error) {
	out, err := c.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{Filters: filters})
	if err != nil {
		return nil, classify("DescribeSecurityGroups", err)
	}
	ids := make([]string, 0, len(out.SecurityGroups))
	for _, sg := range out.SecurityGroups {
		ids = append(ids, sdkaws.ToString(sg.GroupId))
	}
	return ids, nil
}

// keyPairIDs are the IDs of the key pairs a filter finds.
func keyPairIDs(ctx context.Context, c *ec2.Client, filters []types.Filter) ([]string, error) {
	out, err := c.DescribeKeyPairs(ctx, &ec2.DescribeKeyPairsInput{Filters: filters})
	if err != nil {
		return nil, classify("DescribeKeyPairs", err)
	}
	ids := make([]string, 0, len(out.KeyPairs))
	for _, kp := range out.KeyPairs {
		ids = append(ids, sdkaws.ToString(kp.KeyPairId))
	}
	return ids, nil
}
