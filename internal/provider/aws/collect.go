package aws

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/burstdev/burst/internal/provider"
	"github.com/burstdev/burst/pkg/spec"
)

// Kinds of the resources burst creates on EC2 besides instances. Instant
// fleets are not among them: a fleet of type instant is the record of one
// launch call, bills nothing, and launches nothing after the call; its
// instances are machines, found and terminated as such.
const (
	KindSecurityGroup  = "security-group"
	KindKeyPair        = "key-pair"
	KindLaunchTemplate = "launch-template"
)

// Resources implements provider.Collector: the security groups, key pairs
// and launch templates that carry the burst-cluster tag (the filter's
// cluster, or any), in each region of the filter (every enabled region
// with AllRegions, the configured ones when it names none), up to
// MaxRegionsInFlight regions at once. Three Describe calls per region, more
// only when a region holds over 1000 groups or 200 templates.
//
// CreatedAt is the later of the burst-created tag and EC2's own creation
// time (key pairs and launch templates have one; security groups do not).
// A resource with neither has a zero CreatedAt: it was not made by burst,
// which always writes the tag, and gc treats it as old.
func (p *Provider) Resources(ctx context.Context, f provider.Filter) ([]provider.Resource, error) {
	regions, err := p.searchRegions(ctx, f)
	if err != nil {
		return nil, err
	}
	filter := []types.Filter{clusterFilter(f.Cluster)}
	return eachRegion(ctx, regions, func(ctx context.Context, region string) ([]provider.Resource, error) {
		c, err := p.ec2Client(ctx, region)
		if err != nil {
			return nil, err
		}
		var out []provider.Resource
		lts := ec2.NewDescribeLaunchTemplatesPaginator(c, &ec2.DescribeLaunchTemplatesInput{Filters: filter, MaxResults: sdkaws.Int32(200)})
		for lts.HasMorePages() {
			page, err := lts.NextPage(ctx)
			if err != nil {
				return nil, classify("DescribeLaunchTemplates", err)
			}
			for _, lt := range page.LaunchTemplates {
				out = append(out, resource(KindLaunchTemplate, sdkaws.ToString(lt.LaunchTemplateId), sdkaws.ToString(lt.LaunchTemplateName), region, lt.Tags, lt.CreateTime))
			}
		}
		kps, err := c.DescribeKeyPairs(ctx, &ec2.DescribeKeyPairsInput{Filters: filter})
		if err != nil {
			return nil, classify("DescribeKeyPairs", err)
		}
		for _, kp := range kps.KeyPairs {
			out = append(out, resource(KindKeyPair, sdkaws.ToString(kp.KeyPairId), sdkaws.ToString(kp.KeyName), region, kp.Tags, kp.CreateTime))
		}
		sgs := ec2.NewDescribeSecurityGroupsPaginator(c, &ec2.DescribeSecurityGroupsInput{Filters: filter, MaxResults: sdkaws.Int32(1000)})
		for sgs.HasMorePages() {
			page, err := sgs.NextPage(ctx)
			if err != nil {
				return nil, classify("DescribeSecurityGroups", err)
			}
			for _, sg := range page.SecurityGroups {
				out = append(out, resource(KindSecurityGroup, sdkaws.ToString(sg.GroupId), sdkaws.ToString(sg.GroupName), region, sg.Tags, nil))
			}
		}
		return out, nil
	})
}

func resource(kind, id, name, region string, tags []types.Tag, created *time.Time) provider.Resource {
	tm := map[string]string{}
	for _, t := range tags {
		tm[sdkaws.ToString(t.Key)] = sdkaws.ToString(t.Value)
	}
	r := provider.Resource{Kind: kind, ID: id, Name: name, Provider: Name, Region: region, Cluster: tm[provider.TagCluster], Tags: tm}
	if created != nil {
		r.CreatedAt = created.UTC()
	}
	if v, err := strconv.ParseInt(tm[provider.TagCreated], 10, 64); err == nil && v > 0 {
		if t := time.Unix(v, 0).UTC(); t.After(r.CreatedAt) {
			r.CreatedAt = t
		}
	}
	return r
}

// DeleteResources implements provider.Collector. Per region (up to
// MaxRegionsInFlight at once) it deletes the launch templates, then the
// key pairs and their private key files on this machine, then the
// security groups. A group that instances still hold answers
// DependencyViolation: while those instances are shutting down it is tried
// again every CleanupPoll until ctx ends; if a live instance holds it
// (one gc is not terminating), waiting cannot help and the error names
// the instance. Resources already gone are not an error.
func (p *Provider) DeleteResources(ctx context.Context, rs []provider.Resource) error {
	byRegion := map[string][]provider.Resource{}
	var regions []string
	for _, r := range rs {
		switch r.Kind {
		case KindSecurityGroup, KindKeyPair, KindLaunchTemplate:
		default:
			return provider.Errorf(provider.ErrInvalid, provider.ScopeProvider, "aws: cannot delete a resource of kind %q (%s)", r.Kind, r.ID)
		}
		if r.Region == "" {
			return provider.Errorf(provider.ErrInvalid, provider.ScopeProvider, "aws: %s %s has no region", r.Kind, r.ID)
		}
		if _, ok := byRegion[r.Region]; !ok {
			regions = append(regions, r.Region)
		}
		byRegion[r.Region] = append(byRegion[r.Region], r)
	}
	_, err := eachRegion(ctx, regions, func(ctx context.Context, region string) ([]struct{}, error) {
		return nil, p.deleteRegionResources(ctx, region, byRegion[region])
	})
	return err
}

func (p *Provider) deleteRegionResources(ctx context.Context, region string, rs []provider.Resource) error {
	c, err := p.ec2Client(ctx, region)
	if err != nil {
		return err
	}
	// Whatever goes, this process must not launch into it again from its
	// caches.
	defer func() {
		for _, r := range rs {
			p.forget(r.Cluster, region)
		}
	}()
	for _, kind := range []string{KindLaunchTemplate, KindKeyPair, KindSecurityGroup} {
		for _, r := range rs {
			if r.Kind != kind {
				continue
			}
			var err error
			switch kind {
			case KindLaunchTemplate:
				_, err = c.DeleteLaunchTemplate(ctx, &ec2.DeleteLaunchTemplateInput{LaunchTemplateId: sdkaws.String(r.ID)})
				if err != nil && !strings.Contains(apiCode(err), "NotFound") {
					return classify("DeleteLaunchTemplate", err)
				}
			case KindKeyPair:
				_, err = c.DeleteKeyPair(ctx, &ec2.DeleteKeyPairInput{KeyPairId: sdkaws.String(r.ID)})
				if err != nil && !strings.Contains(apiCode(err), "NotFound") {
					return classify("DeleteKeyPair", err)
				}
				if err := p.removeKeyFile(r.Cluster, region); err != nil {
					return err
				}
			case KindSecurityGroup:
				if err := p.deleteSecurityGroup(ctx, c, r.ID, time.Time{}); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// removeKeyFile removes a cluster's private key for a region. The cluster
// name comes from a tag, which anyone with tagging rights can write, so a
// name burst would not have made never becomes a path.
func (p *Provider) removeKeyFile(cluster, region string) error {
	if spec.ValidateName(cluster) != nil || strings.ContainsAny(region, `/\.`) || region == "" {
		return nil
	}
	if err := os.Remove(p.KeyPath(cluster, region)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("removing the private key of %s in %s: %w", cluster, region, err)
	}
	return nil
}

// forget drops what this process cached of a cluster's network and
// launch templates in a region.
func (p *Provider) forget(cluster, region string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.nets, netKey{cluster, region})
	p.forgetTemplatesLocked(cluster, region)
}

// forgetTemplatesLocked drops the launch templates of a cluster in a
// region from the cache. p.mu is held.
func (p *Provider) forgetTemplatesLocked(cluster, region string) {
	for name := range p.templates {
		if strings.HasPrefix(name, templatePrefix(cluster, region)) {
			delete(p.templates, name)
		}
	}
}
