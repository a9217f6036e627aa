package aws

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/burstdev/burst/internal/provider"
)

// Dask ports opened to the allowed CIDRs besides SSH.
const (
	daskFromPort = 8786
	daskToPort   = 8787
)

// vpcInfo is a region's network: a VPC and one subnet per zone.
type vpcInfo struct {
	vpcID   string
	subnets map[string]string // zone -> subnet
	zoneOf  map[string]string // subnet -> zone
}

func (v *vpcInfo) zones() []string {
	out := make([]string, 0, len(v.subnets))
	for z := range v.subnets {
		out = append(out, z)
	}
	sort.Strings(out)
	return out
}

type netKey struct{ cluster, region string }

// network is what a cluster's machines in a region launch into.
type network struct {
	vpc     *vpcInfo
	sgID    string
	keyName string
}

// ResourceName is the name of a cluster's security group and key pair.
func ResourceName(cluster string) string { return "burst-" + cluster }

// KeyPath is where a cluster's private key for a region is kept.
func (p *Provider) KeyPath(cluster, region string) string {
	return filepath.Join(p.opts.DataDir, "aws", "keys", cluster+"."+region+".pem")
}

// sharedTags are the tags of a cluster's non-machine resources: the
// request's tags minus the machine role, plus a Name.
func sharedTags(cluster string, tags map[string]string) map[string]string {
	out := map[string]string{provider.TagCluster: cluster}
	for k, v := range tags {
		if k != provider.TagRole && k != "Name" && v != "" {
			out[k] = v
		}
	}
	out["Name"] = ResourceName(cluster)
	return out
}

func tagSpec(rt types.ResourceType, tags map[string]string) types.TagSpecification {
	ts := types.TagSpecification{ResourceType: rt}
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		ts.Tags = append(ts.Tags, types.Tag{Key: sdkaws.String(k), Value: sdkaws.String(tags[k])})
	}
	return ts
}

// Prepare implements provider.Preparer: in each region, the cluster's
// security group and key pair exist, tagged. It is idempotent.
func (p *Provider) Prepare(ctx context.Context, req provider.PrepareRequest) error {
	regions := req.Regions
	if len(regions) == 0 {
		rs, err := p.regions(ctx)
		if err != nil {
			return err
		}
		regions = rs[:1]
	}
	for _, r := range regions {
		if _, err := p.ensureNetwork(ctx, req.Cluster, r, req.Tags); err != nil {
			return err
		}
	}
	return nil
}

// ensureNetwork returns the cluster's network in a region, creating the
// security group and key pair if they do not exist.
func (p *Provider) ensureNetwork(ctx context.Context, cluster, region string, tags map[string]string) (*network, error) {
	k := netKey{cluster, region}
	p.use(region)
	defer p.lock("net/" + cluster + "/" + region)()
	p.mu.Lock()
	n, ok := p.nets[k]
	p.mu.Unlock()
	if ok {
		return n, nil
	}
	c, err := p.ec2Client(ctx, region)
	if err != nil {
		return nil, err
	}
	st := sharedTags(cluster, tags)
	// What Preflight read ahead (the VPC, subnets, group and key pair), if
	// it did.
	la := p.takeLookahead(ctx, cluster, region)
	// Three strands, side by side: the VPC, then its subnets beside the
	// security group; the key pair; this machine's address for the
	// ingress rules (which the security group strand waits for last).
	var (
		vpc *vpcInfo
		sg  string
		key string
	)
	err = provider.Parallel(3, 0, func(i int) (err error) {
		switch i {
		case 0:
			vpc, sg, err = p.vpcAndGroup(ctx, c, cluster, region, st, la)
		case 1:
			key, err = p.ensureKeyPair(ctx, c, cluster, region, st, la)
		default:
			_, err = p.allowedCIDRs(ctx)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	n = &network{vpc: vpc, sgID: sg, keyName: key}
	p.mu.Lock()
	p.nets[k] = n
	p.mu.Unlock()
	return n, nil
}

// vpcAndGroup returns the region's VPC and the cluster's security group
// in it. With the default VPC, its subnets are read beside the group.
// What a lookahead read is not read again.
func (p *Provider) vpcAndGroup(ctx context.Context, c *ec2.Client, cluster, region string, tags map[string]string, la *lookahead) (*vpcInfo, string, error) {
	if la != nil && la.vpc != nil && p.cachedVPC(region) == nil {
		p.mu.Lock()
		p.vpcs[region] = la.vpc
		p.mu.Unlock()
	}
	if v := p.cachedVPC(region); v != nil || len(p.opts.Subnets) > 0 {
		v, err := p.vpc(ctx, c, region)
		if err != nil {
			return nil, "", err
		}
		sg, err := p.ensureSecurityGroup(ctx, c, cluster, v.vpcID, tags, la)
		return v, sg, err
	}
	vpcID, err := p.defaultVPC(ctx, c, region)
	if err != nil {
		return nil, "", err
	}
	var (
		v  *vpcInfo
		sg string
	)
	err = provider.Parallel(2, 0, func(i int) (err error) {
		if i == 0 {
			v, err = p.loadSubnets(ctx, c, region, vpcID)
		} else {
			sg, err = p.ensureSecurityGroup(ctx, c, cluster, vpcID, tags, la)
		}
		return err
	})
	return v, sg, err
}

func (p *Provider) cachedVPC(region string) *vpcInfo {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.vpcs[region]
}

// vpc finds the region's VPC and subnets: the configured subnets, or the
// default VPC's default subnet in each zone.
func (p *Provider) vpc(ctx context.Context, c *ec2.Client, region string) (*vpcInfo, error) {
	if v := p.cachedVPC(region); v != nil {
		return v, nil
	}
	vpcID := ""
	if len(p.opts.Subnets) == 0 {
		id, err := p.defaultVPC(ctx, c, region)
		if err != nil {
			return nil, err
		}
		vpcID = id
	}
	return p.loadSubnets(ctx, c, region, vpcID)
}

// defaultVPC returns the ID of the region's default VPC.
func (p *Provider) defaultVPC(ctx context.Context, c *ec2.Client, region string) (string, error) {
	out, err := c.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{Filters: []types.Filter{{Name: sdkaws.String("is-default"), Values: []string{"true"}}}})
	if err != nil {
		return "", classify("DescribeVpcs", err)
	}
	if len(out.Vpcs) == 0 {
		return "", &provider.Error{Kind: provider.ErrInvalid, Scope: provider.ScopeRegion, Op: "DescribeVpcs", Code: "NoDefaultVpc",
			Msg: fmt.Sprintf("region %s has no default VPC; set aws.subnets (BURST_AWS_SUBNETS) to the subnets to launch into", region)}
	}
	return sdkaws.ToString(out.Vpcs[0].VpcId), nil
}

// loadSubnets reads the subnets to launch into, one per zone: the
// configured ones (vpcID empty), or vpcID's default subnets, and keeps
// them for the region.
func (p *Provider) loadSubnets(ctx context.Context, c *ec2.Client, region, vpcID string) (*vpcInfo, error) {
	in := &ec2.DescribeSubnetsInput{Filters: []types.Filter{{Name: sdkaws.String("subnet-id"), Values: p.opts.Subnets}}}
	if vpcID != "" {
		in = &ec2.DescribeSubnetsInput{Filters: []types.Filter{
			{Name: sdkaws.String("vpc-id"), Values: []string{vpcID}},
			{Name: sdkaws.String("default-for-az"), Values: []string{"true"}},
		}}
	}
	var all []types.Subnet
	pg := ec2.NewDescribeSubnetsPaginator(c, in)
	for pg.HasMorePages() {
		out, err := pg.NextPage(ctx)
		if err != nil {
			return nil, classify("DescribeSubnets", err)
		}
		all = append(all, out.Subnets...)
	}
	v, err := subnetsOf(region, vpcID, all, p.opts.Subnets)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	p.vpcs[region] = v
	p.mu.Unlock()
	return v, nil
}

// subnetsOf keeps one subnet per zone: of vpcID's subnets, or, with no
// vpcID, of the configured ones, which must share a VPC.
func subnetsOf(region, vpcID string, subnets []types.Subnet, configured []string) (*vpcInfo, error) {
	v := &vpcInfo{vpcID: vpcID, subnets: map[string]string{}, zoneOf: map[string]string{}}
	for _, s := range subnets {
		z, id, in := sdkaws.ToString(s.AvailabilityZone), sdkaws.ToString(s.SubnetId), sdkaws.ToString(s.VpcId)
		switch {
		case vpcID != "" && in != vpcID:
			continue
		case v.vpcID == "":
			v.vpcID = in
		case in != v.vpcID:
			return nil, &provider.Error{Kind: provider.ErrInvalid, Scope: provider.ScopeRegion, Op: "DescribeSubnets",
				Msg: fmt.Sprintf("the configured subnets of %s are in more than one VPC (%s, %s)", region, v.vpcID, in)}
		}
		if _, dup := v.subnets[z]; !dup {
			v.subnets[z] = id
			v.zoneOf[id] = z
		}
	}
	if len(v.subnets) == 0 {
		return nil, &provider.Error{Kind: provider.ErrInvalid, Scope: provider.ScopeRegion, Op: "DescribeSubnets", Code: "NoSubnet",
			Msg: fmt.Sprintf("no subnet to launch into in %s (configured: %v)", region, configured)}
	}
	return v, nil
}

// ensureSecurityGroup returns the cluster's group in the VPC: it allows all
// traffic from its own members, and SSH and Dask from the allowed CIDRs
// only (never 0.0.0.0/0 unless configured so).
func (p *Provider) ensureSecurityGroup(ctx context.Context, c *ec2.Client, cluster, vpc string, tags map[string]string, la *lookahead) (string, error) {
	name := ResourceName(cluster)
	find := func() (*types.SecurityGroup, error) {
		out, err := c.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{Filters: []types.Filter{
			{Name: sdkaws.String("group-name"), Values: []string{name}},
			{Name: sdkaws.String("vpc-id"), Values: []string{vpc}},
		}})
		if err != nil {
			return nil, classify("DescribeSecurityGroups", err)
		}
		if len(out.SecurityGroups) == 0 {
			return nil, nil
		}
		return &out.SecurityGroups[0], nil
	}
	sg, known := la.groupIn(vpc)
	if !known {
		var err error
		if sg, err = find(); err != nil {
			return "", err
		}
	}
	if sg == nil {
		out, err := c.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{
			GroupName: sdkaws.String(name), VpcId: sdkaws.String(vpc),
			Description:       sdkaws.String("burst cluster " + cluster + ": all traffic inside the cluster, SSH and Dask from the owner"),
			TagSpecifications: []types.TagSpecification{tagSpec(types.ResourceTypeSecurityGroup, tags)},
		})
		switch {
		case apiCode(err) == "InvalidGroup.Duplicate":
			if sg, err = find(); err != nil || sg == nil {
				return "", fmt.Errorf("security group %s exists but cannot be read: %w", name, err)
			}
		case err != nil:
			return "", classify("CreateSecurityGroup", err)
		default:
			sg = &types.SecurityGroup{GroupId: out.GroupId}
		}
	}
	id := sdkaws.ToString(sg.GroupId)
	cidrs, err := p.allowedCIDRs(ctx)
	if err != nil {
		return "", err
	}
	want := []types.IpPermission{{IpProtocol: sdkaws.String("-1"), UserIdGroupPairs: []types.UserIdGroupPair{{GroupId: sdkaws.String(id)}}}}
	for _, ports := range [][2]int32{{22, 22}, {daskFromPort, daskToPort}} {
		perm := types.IpPermission{IpProtocol: sdkaws.String("tcp"), FromPort: sdkaws.Int32(ports[0]), ToPort: sdkaws.Int32(ports[1])}
		for _, c := range cidrs {
			if strings.Contains(c, ":") {
				perm.Ipv6Ranges = append(perm.Ipv6Ranges, types.Ipv6Range{CidrIpv6: sdkaws.String(c), Description: sdkaws.String("burst owner")})
			} else {
				perm.IpRanges = append(perm.IpRanges, types.IpRange{CidrIp: sdkaws.String(c), Description: sdkaws.String("burst owner")})
			}
		}
		want = append(want, perm)
	}
	var missing []types.IpPermission
	for _, w := range want {
		if !hasPermission(sg.IpPermissions, w) {
			missing = append(missing, w)
		}
	}
	if len(missing) > 0 {
		_, err := c.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: sdkaws.String(id), IpPermissions: missing})
		if err != nil && apiCode(err) != "InvalidPermission.Duplicate" {
			return "", classify("AuthorizeSecurityGroupIngress", err)
		}
	}
	return id, nil
}

// hasPermission reports whether have already grants everything in w.
func hasPermission(have []types.IpPermission, w types.IpPermission) bool {
	for _, h := range have {
		if sdkaws.ToString(h.IpProtocol) != sdkaws.ToString(w.IpProtocol) || sdkaws.ToInt32(h.FromPort) != sdkaws.ToInt32(w.FromPort) || sdkaws.ToInt32(h.ToPort) != sdkaws.ToInt32(w.ToPort) {
			continue
		}
		ok := true
		for _, g := range w.UserIdGroupPairs {
			ok = ok && slices.ContainsFunc(h.UserIdGroupPairs, func(x types.UserIdGroupPair) bool { return sdkaws.ToString(x.GroupId) == sdkaws.ToString(g.GroupId) })
		}
		for _, r := range w.IpRanges {
			ok = ok && slices.ContainsFunc(h.IpRanges, func(x types.IpRange) bool { return sdkaws.ToString(x.CidrIp) == sdkaws.ToString(r.CidrIp) })
		}
		for _, r := range w.Ipv6Ranges {
			ok = ok && slices.ContainsFunc(h.Ipv6Ranges, func(x types.Ipv6Range) bool { return sdkaws.ToString(x.CidrIpv6) == sdkaws.ToString(r.CidrIpv6) })
		}
		if ok {
			return true
		}
	}
	return false
}

// allowedCIDRs returns the configured CIDRs or the caller's public address
// as a /32 (or /128), looked up once.
func (p *Provider) allowedCIDRs(ctx context.Context) ([]string, error) {
	p.cidrMu.Lock()
	defer p.cidrMu.Unlock()
	p.mu.Lock()
	if p.cidrs != nil {
		defer p.mu.Unlock()
		return p.cidrs, nil
	}
	p.mu.Unlock()
	var cidrs []string
	if len(p.opts.AllowedCIDRs) > 0 {
		for _, c := range p.opts.AllowedCIDRs {
			if _, _, err := net.ParseCIDR(c); err != nil {
				return nil, &provider.Error{Kind: provider.ErrInvalid, Scope: provider.ScopeProvider, Op: "Config", Msg: fmt.Sprintf("aws.allowed_cidrs: %q is not a CIDR", c)}
			}
			cidrs = append(cidrs, c)
		}
	} else {
		ip, err := p.publicIP(ctx)
		if err != nil {
			return nil, fmt.Errorf("finding this machine's public address for the security group (set aws.allowed_cidrs to skip this): %w", err)
		}
		if ip.To4() != nil {
			cidrs = []string{ip.String() + "/32"}
		} else {
			cidrs = []string{ip.String() + "/128"}
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cidrs = cidrs
	return cidrs, nil
}

func (p *Provider) publicIP(ctx context.Context) (net.IP, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.opts.CheckIPURL, nil)
	if err != nil {
		return nil, err
	}
	resp, err := p.opts.HTTPClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 256))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s answered %s", p.opts.CheckIPURL, resp.Status)
	}
	ip := net.ParseIP(strings.TrimSpace(string(b)))
	if ip == nil {
		return nil, fmt.Errorf("%s answered %q, not an IP address", p.opts.CheckIPURL, strings.TrimSpace(string(b)))
	}
	return ip, nil
}

// ensureKeyPair makes sure the cluster's key pair exists in the region and
// its private key is on this machine (0600). If the key pair exists but the
// private key was lost, the key pair is replaced: machines launched before
// keep the old key (SSH to them needs the old file), new ones get the new.
func (p *Provider) ensureKeyPair(ctx context.Context, c *ec2.Client, cluster, region string, tags map[string]string, la *lookahead) (string, error) {
	name := ResourceName(cluster)
	path := p.KeyPath(cluster, region)
	exists := la != nil && la.keyExists
	if la == nil || !la.keyKnown {
		out, err := c.DescribeKeyPairs(ctx, &ec2.DescribeKeyPairsInput{Filters: []types.Filter{{Name: sdkaws.String("key-name"), Values: []string{name}}}})
		if err != nil {
			return "", classify("DescribeKeyPairs", err)
		}
		exists = len(out.KeyPairs) > 0
	}
	if exists {
		if _, err := os.Stat(path); err == nil {
			return name, nil
		}
		if _, err := c.DeleteKeyPair(ctx, &ec2.DeleteKeyPairInput{KeyName: sdkaws.String(name)}); err != nil {
			return "", classify("DeleteKeyPair", err)
		}
	}
	kp, err := c.CreateKeyPair(ctx, &ec2.CreateKeyPairInput{
		KeyName: sdkaws.String(name), KeyType: types.KeyTypeEd25519, KeyFormat: types.KeyFormatPem,
		TagSpecifications: []types.TagSpecification{tagSpec(types.ResourceTypeKeyPair, tags)},
	})
	if apiCode(err) == "InvalidKeyPair.Duplicate" {
		// Another burst made it a moment ago; its key file is the one.
		return name, nil
	}
	if err != nil {
		return "", classify("CreateKeyPair", err)
	}
	if err := writeKey(path, sdkaws.ToString(kp.KeyMaterial)); err != nil {
		return "", fmt.Errorf("saving the private key of %s: %w", name, err)
	}
	return name, nil
}

// writeKey writes a private key 0600 (its directory 0700), atomically.
func writeKey(path, material string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".key-*")
	if err != nil {
		return err
	}
	defer func() { _ = os.Remove(tmp.Name()) }() // gone already once renamed
	if err := tmp.Chmod(0o600); err != nil {
		_ = tmp.Close()
		return err
	}
	if _, err := tmp.WriteString(material); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// Cleanup implements provider.Preparer: it deletes the cluster's launch
// templates, security group (retrying while instances still hold it) and
// key pair in each region, and the local private keys. It is idempotent.
func (p *Provider) Cleanup(ctx context.Context, cluster string, regions []string) error {
	return p.inEveryRegion(ctx, regions, func(region string) error { return p.cleanupRegion(ctx, cluster, region) })
}

// inEveryRegion runs fn in each region side by side (every region burst
// may use when none are given), to the end in each whatever the others
// do: a clean-up that fails in one region still cleans the rest. The
// failures, each naming its region, are joined.
func (p *Provider) inEveryRegion(ctx context.Context, regions []string, fn func(region string) error) error {
	if len(regions) == 0 {
		rs, err := p.regions(ctx)
		if err != nil {
			return err
		}
		regions = rs
	}
	errs := make([]error, len(regions))
	_ = provider.Parallel(len(regions), 0, func(i int) error {
		if err := fn(regions[i]); err != nil {
			errs[i] = fmt.Errorf("%s: %w", regions[i], err)
		}
		return nil
	})
	return errors.Join(errs...)
}

// cleanupRegion removes a cluster's launch templates, security group and
// key pair in a region, side by side: the lookups at once, then each
// deletion as soon as its lookup answers. The private key on this machine
// goes only once the group is gone, since a group that cannot go means
// machines that still run and may need the key for SSH. (The key pair in
// EC2 may go first: instances keep the key they were launched with.)
func (p *Provider) cleanupRegion(ctx context.Context, cluster, region string) error {
	c, err := p.ec2Client(ctx, region)
	if err != nil {
		return err
	}
	byTag := []types.Filter{{Name: sdkaws.String("tag:" + provider.TagCluster), Values: []string{cluster}}}
	known := p.takeCleanLookups(cluster, region)
	err = provider.Parallel(3, 0, func(i int) (err error) {
		switch i {
		case 0:
			if known != nil {
				return nil // gone already, in CleanupEarly
			}
			return p.deleteLaunchTemplates(ctx, c, byTag)
		case 1:
			groups := known.groupIDs()
			if known == nil {
				if groups, err = securityGroupIDs(ctx, c, byTag); err != nil {
					return err
				}
			}
			return provider.Parallel(len(groups), 0, func(j int) error {
				return p.deleteSecurityGroup(ctx, c, groups[j], p.opts.Now().Add(p.opts.CleanupTimeout))
			})
		default:
			keys := known.keyIDs()
			if known == nil {
				if keys, err = keyPairIDs(ctx, c, byTag); err != nil {
					return err
				}
			}
			return provider.Parallel(len(keys), 0, func(j int) error {
				if _, err := c.DeleteKeyPair(ctx, &ec2.DeleteKeyPairInput{KeyPairId: sdkaws.String(keys[j])}); err != nil {
					return classify("DeleteKeyPair", err)
				}
				return nil
			})
		}
	})
	if err != nil {
		return err
	}
	if err := os.Remove(p.KeyPath(cluster, region)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	p.forget(cluster, region)
	return nil
}

// deleteSecurityGroup deletes a group. While instances still hold it EC2
// answers DependencyViolation; if they are all shutting down (terminated
// by down or gc a moment ago), it is tried again every CleanupPoll until
// the deadline (zero: until ctx ends). If a live instance holds it,
// nothing burst is doing will free it, and the error names the instances
// at once. Already gone is success.
func (p *Provider) deleteSecurityGroup(ctx context.Context, c *ec2.Client, id string, deadline time.Time) error {
	for {
		_, err := c.DeleteSecurityGroup(ctx, &ec2.DeleteSecurityGroupInput{GroupId: sdkaws.String(id)})
		switch code := apiCode(err); {
		case err == nil, code == "InvalidGroup.NotFound":
			return nil
		case code != "DependencyViolation":
			return classify("DeleteSecurityGroup", err)
		}
		holders, herr := groupHolders(ctx, c, id)
		if herr != nil {
			return herr
		}
		if len(holders) > 0 {
			named := strings.Join(holders[:min(len(holders), 5)], ", ")
			if len(holders) > 5 {
				named += fmt.Sprintf(" and %d more", len(holders)-5)
			}
			return fmt.Errorf("security group %s is still in use by instances that are not shutting down (%s); terminate them, or run burst down for their cluster, then try again: %w",
				id, named, classify("DeleteSecurityGroup", err))
		}
		if !deadline.IsZero() && !p.opts.Now().Before(deadline) {
			return fmt.Errorf("security group %s is still in use after %s (its instances have not finished terminating); run burst down again: %w",
				id, p.opts.CleanupTimeout, classify("DeleteSecurityGroup", err))
		}
		if err := p.opts.Sleep(ctx, p.opts.CleanupPoll); err != nil {
			return err
		}
	}
}

// groupHolders returns the instances (with their state) that hold a
// security group and are not shutting down or terminated.
func groupHolders(ctx context.Context, c *ec2.Client, id string) ([]string, error) {
	var out []string
	pg := ec2.NewDescribeInstancesPaginator(c, &ec2.DescribeInstancesInput{Filters: []types.Filter{
		{Name: sdkaws.String("instance.group-id"), Values: []string{id}},
		{Name: sdkaws.String("instance-state-name"), Values: []string{"pending", "running", "stopping", "stopped"}},
	}})
	for pg.HasMorePages() {
		page, err := pg.NextPage(ctx)
		if err != nil {
			return nil, classify("DescribeInstances", err)
		}
		for _, r := range page.Reservations {
			for _, in := range r.Instances {
				st := ""
				if in.State != nil {
					st = string(in.State.Name)
				}
				out = append(out, sdkaws.ToString(in.InstanceId)+" ("+st+")")
			}
		}
	}
	return out, nil
}

// deleteLaunchTemplates deletes the launch templates a filter finds, a
// page's worth side by side. Already gone is success.
func (p *Provider) deleteLaunchTemplates(ctx context.Context, c *ec2.Client, filters []types.Filter) error {
	lts := ec2.NewDescribeLaunchTemplatesPaginator(c, &ec2.DescribeLaunchTemplatesInput{Filters: filters})
	for lts.HasMorePages() {
		out, err := lts.NextPage(ctx)
		if err != nil {
			return classify("DescribeLaunchTemplates", err)
		}
		err = provider.Parallel(len(out.LaunchTemplates), 8, func(i int) error {
			_, err := c.DeleteLaunchTemplate(ctx, &ec2.DeleteLaunchTemplateInput{LaunchTemplateId: out.LaunchTemplates[i].LaunchTemplateId})
			if err != nil && !strings.Contains(apiCode(err), "NotFound") {
				return classify("DeleteLaunchTemplate", err)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}
