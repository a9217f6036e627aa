package aws

import (
	"context"
	"time"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/burstdev/burst/internal/provider"
)

// lookaheadTTL is how long the answers of a lookahead stay good for
// Prepare; older ones are read again.
const lookaheadTTL = time.Minute

// lookahead holds the reads Prepare starts with (the default VPC, its
// default subnets, the cluster's security groups and key pair), started by
// Preflight so that they run beside its own reads instead of after them.
// They are only reads: a failed or stale lookahead costs Prepare nothing
// but doing them itself, and a resource made by someone else meanwhile is
// met by the create calls' duplicate answers, as without a lookahead.
type lookahead struct {
	done    chan struct{}
	started time.Time
	// Set once done closes; each is nil when its read failed.
	vpc    *vpcInfo              // the default VPC and its default subnets (or the configured subnets)
	groups []types.SecurityGroup // groups named ResourceName(cluster), any VPC
	// keyKnown says keyExists is an answer.
	keyKnown, keyExists bool
	groupsKnown         bool
}

// startLookahead starts the reads of the cluster's network in a region,
// unless they run already or the network is known. It does not wait for
// them; ensureNetwork does.
func (p *Provider) startLookahead(ctx context.Context, cluster, region string) {
	k := netKey{cluster, region}
	p.mu.Lock()
	if _, ok := p.nets[k]; ok {
		p.mu.Unlock()
		return
	}
	if la, ok := p.ahead[k]; ok && p.opts.Now().Sub(la.started) < lookaheadTTL {
		p.mu.Unlock()
		return
	}
	la := &lookahead{done: make(chan struct{}), started: p.opts.Now()}
	p.ahead[k] = la
	p.mu.Unlock()
	// The reads outlive the preflight that starts them (its context ends
	// when it answers), but not a minute.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), lookaheadTTL)
	go func() {
		defer cancel()
		defer close(la.done)
		c, err := p.ec2Client(ctx, region)
		if err != nil {
			return
		}
		name := ResourceName(cluster)
		var vpcID string
		var subnets []types.Subnet
		var vpcOK, subnetsOK bool
		_ = provider.Parallel(4, 0, func(i int) error {
			switch i {
			case 0:
				if len(p.opts.Subnets) == 0 {
					id, err := p.defaultVPC(ctx, c, region)
					vpcID, vpcOK = id, err == nil
				} else {
					vpcOK = true
				}
			case 1:
				// Default subnets exist only in the default VPC; the VPC
				// is checked against DescribeVpcs' answer below.
				in := &ec2.DescribeSubnetsInput{Filters: []types.Filter{{Name: sdkaws.String("default-for-az"), Values: []string{"true"}}}}
				if len(p.opts.Subnets) > 0 {
					in = &ec2.DescribeSubnetsInput{Filters: []types.Filter{{Name: sdkaws.String("subnet-id"), Values: p.opts.Subnets}}}
				}
				var all []types.Subnet
				pg := ec2.NewDescribeSubnetsPaginator(c, in)
				for pg.HasMorePages() {
					out, err := pg.NextPage(ctx)
					if err != nil {
						return nil
					}
					all = append(all, out.Subnets...)
				}
				subnets, subnetsOK = all, true
			case 2:
				out, err := c.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{Filters: []types.Filter{
					{Name: sdkaws.String("group-name"), Values: []string{name}},
				}})
				if err == nil {
					la.groups, la.groupsKnown = out.SecurityGroups, true
				}
			default:
				out, err := c.DescribeKeyPairs(ctx, &ec2.DescribeKeyPairsInput{Filters: []types.Filter{{Name: sdkaws.String("key-name"), Values: []string{name}}}})
				if err == nil {
					la.keyKnown, la.keyExists = true, len(out.KeyPairs) > 0
				}
			}
			return nil
		})
		if vpcOK && subnetsOK {
			if v, err := subnetsOf(region, vpcID, subnets, p.opts.Subnets); err == nil {
				la.vpc = v
			}
		}
	}()
}

// takeLookahead waits for the lookahead of the cluster's network in a
// region, if one was started and is fresh, and hands it over (it is used
// once). It returns nil when there is none to use.
func (p *Provider) takeLookahead(ctx context.Context, cluster, region string) *lookahead {
	k := netKey{cluster, region}
	p.mu.Lock()
	la, ok := p.ahead[k]
	delete(p.ahead, k)
	p.mu.Unlock()
	if !ok || p.opts.Now().Sub(la.started) >= lookaheadTTL {
		return nil
	}
	select {
	case <-la.done:
		return la
	case <-ctx.Done():
		return nil
	}
}

// groupIn returns the lookahead's group in a VPC; known is false when the
// lookahead could not say.
func (la *lookahead) groupIn(vpc string) (sg *types.SecurityGroup, known bool) {
	if la == nil || !la.groupsKnown {
		return nil, false
	}
	for i := range la.groups {
		if sdkaws.ToString(la.groups[i].VpcId) == vpc {
			return &la.groups[i], true
		}
	}
	return nil, true
}
