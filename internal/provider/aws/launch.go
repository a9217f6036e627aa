package aws

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/burstdev/burst/internal/bootstrap"
	"github.com/burstdev/burst/internal/catalog"
	"github.com/burstdev/burst/internal/plan"
	"github.com/burstdev/burst/internal/provider"
	"github.com/burstdev/burst/pkg/spec"
)

// MaxOverrides caps a fleet's overrides (types x subnets). EC2 accepts more
// in one launch template config, but the planner keeps at most
// plan.MaxOfferings offerings, and a few dozen pools are plenty to
// diversify; this matches what the planner expects of one call.
const MaxOverrides = plan.MaxOfferings

// Root disk sizes when the spec gives none: the container image and the
// Dask environment fit in 30 GiB; NVIDIA's deep learning base image's own
// snapshot is larger, so GPU machines get more.
const (
	defaultDiskGiB    = 30
	defaultGPUDiskGiB = 120
)

var tokenRE = regexp.MustCompile(`^[a-z0-9-]{1,64}$`)

// Launch implements provider.Provider with EC2 Fleet in instant mode: one
// CreateFleet call per region the offerings name (in their order), whose
// overrides are the region's offerings times one subnet per zone. Spot uses
// price-capacity-optimized, on-demand lowest-price. Tags go on the
// instances, their volumes and the fleet at creation. The fleet's
// ClientToken derives from req.Token and the region, so a retried call (by
// the SDK's retryer, or a later Launch with the same token) returns the
// first call's instances and creates none.
//
// Per-pool errors in the fleet's answer become Failures (a zone's
// stock-out names the zone, so the engine rules out only that zone). The
// shortfall of one region goes to the next region's offerings.
func (p *Provider) Launch(ctx context.Context, req provider.LaunchRequest) (*provider.LaunchResult, error) {
	res := &provider.LaunchResult{}
	switch {
	case req.Cluster == "" || req.Count <= 0 || len(req.Offerings) == 0:
		return res, provider.Errorf(provider.ErrInvalid, provider.ScopeOffering, "aws: launch needs a cluster, a count and offerings")
	case !tokenRE.MatchString(req.Token):
		return res, provider.Errorf(provider.ErrInvalid, provider.ScopeOffering, "aws: launch token %q is not 1 to 64 characters of [a-z0-9-]", req.Token)
	}
	var regions []string
	for _, o := range req.Offerings {
		if o.Provider != Name {
			return res, provider.Errorf(provider.ErrInvalid, provider.ScopeOffering, "aws: offering %s belongs to provider %q", o, o.Provider)
		}
		if o.Capacity != req.Offerings[0].Capacity {
			return res, provider.Errorf(provider.ErrInvalid, provider.ScopeOffering, "aws: offerings mix %s and %s capacity", req.Offerings[0].Capacity, o.Capacity)
		}
		if !slices.Contains(regions, o.Region) {
			regions = append(regions, o.Region)
		}
	}
	left := req.Count
	for _, region := range regions {
		if left == 0 {
			break
		}
		var offs []plan.Offering
		for _, o := range req.Offerings {
			if o.Region == region {
				offs = append(offs, o)
			}
		}
		got, fails, err := p.launchRegion(ctx, req, region, offs, left)
		res.Machines = append(res.Machines, got...)
		res.Failures = append(res.Failures, fails...)
		left -= len(got)
		if err != nil {
			if k := provider.KindOf(err); errors.Is(k, provider.ErrNoCapacity) || errors.Is(k, provider.ErrQuota) {
				// The region as a whole said no; the next one may not.
				for _, o := range offs {
					res.Failures = append(res.Failures, provider.OfferingError{Offering: o, Err: err})
				}
				continue
			}
			return res, err
		}
	}
	return res, nil
}

// fleetToken is the ClientToken of a Launch's fleet in a region: at most 64
// characters, the same for the same token and region.
func fleetToken(token, region string) string {
	sum := sha256.Sum256([]byte(token + "/" + region))
	return token[:min(len(token), 40)] + "-" + hex.EncodeToString(sum[:])[:16]
}

// TagLaunch is put on every instance a fleet launches, with the fleet's
// ClientToken as its value: the one way back from a token to the
// instances of an instant fleet (DescribeFleets lists an instant fleet
// only by its ID, which a lost answer never told us).
const TagLaunch = "burst-launch"

func (p *Provider) launchRegion(ctx context.Context, req provider.LaunchRequest, region string, offs []plan.Offering, want int) ([]provider.Machine, []provider.OfferingError, error) {
	capacity := offs[0].Capacity
	c, err := p.ec2Client(ctx, region)
	if err != nil {
		return nil, nil, err
	}
	nw, err := p.ensureNetwork(ctx, req.Cluster, region, req.Tags)
	if err != nil {
		return nil, nil, err
	}
	userData, err := bootstrap.Render(req.Boot, bootstrap.Options{Target: bootstrap.AWS})
	if err != nil {
		return nil, nil, &provider.Error{Kind: provider.ErrInvalid, Scope: provider.ScopeProvider, Op: "Launch", Msg: err.Error(), Err: err}
	}
	gpu := slices.ContainsFunc(offs, func(o plan.Offering) bool { return o.GPUs > 0 })
	images := map[string]imageInfo{}
	for _, o := range offs {
		arch := archOf(o)
		if _, ok := images[arch]; ok {
			continue
		}
		im, err := p.image(ctx, region, arch, o.GPUs > 0)
		if err != nil {
			return nil, nil, err
		}
		images[arch] = im
	}
	def := images[archOf(offs[0])]
	disk := int32(defaultDiskGiB)
	if gpu {
		disk = defaultGPUDiskGiB
	}
	if req.Disk > 0 {
		disk = int32(max(1, (int64(req.Disk)+(1<<30)-1)>>30))
	}
	ltID, err := p.launchTemplate(ctx, c, req, region, nw, userData, def, disk)
	if err != nil {
		return nil, nil, err
	}

	// Overrides: each offering in plan order, in each of its zones. A pool
	// that is dry costs nothing but an entry in the answer's error set, so
	// the engine's unavailable cache is the only memory of stock-outs.
	var overrides []types.FleetLaunchTemplateOverridesRequest
	var fails []provider.OfferingError
	seen := map[[2]string]bool{}
	tried := map[string]int{} // type -> zones in the overrides
	for i, o := range offs {
		zones := nw.vpc.zones()
		if o.Zone != "" {
			zones = []string{o.Zone}
		}
		for _, z := range zones {
			subnet, ok := nw.vpc.subnets[z]
			if !ok || seen[[2]string{o.InstanceType, subnet}] || len(overrides) == MaxOverrides {
				continue
			}
			seen[[2]string{o.InstanceType, subnet}] = true
			tried[o.InstanceType]++
			ov := types.FleetLaunchTemplateOverridesRequest{
				InstanceType: types.InstanceType(o.InstanceType), SubnetId: sdkaws.String(subnet), Priority: sdkaws.Float64(float64(i)),
			}
			if im := images[archOf(o)]; im.id != def.id {
				ov.ImageId = sdkaws.String(im.id)
			}
			overrides = append(overrides, ov)
		}
	}
	if len(overrides) == 0 {
		return nil, nil, &provider.Error{Kind: provider.ErrInvalid, Scope: provider.ScopeRegion, Op: "CreateFleet",
			Msg: fmt.Sprintf("no subnet of %s is in the offerings' zones", region)}
	}
	if err := p.regionLimiters(region).wait(ctx, FamilyLaunchInstances, want); err != nil {
		return nil, fails, err
	}
	token := fleetToken(req.Token, region)
	tags := maps.Clone(req.Tags)
	instanceTags := maps.Clone(req.Tags)
	if instanceTags == nil {
		instanceTags = map[string]string{}
	}
	instanceTags[TagLaunch] = token
	in := &ec2.CreateFleetInput{
		Type:        types.FleetTypeInstant,
		ClientToken: sdkaws.String(token),
		LaunchTemplateConfigs: []types.FleetLaunchTemplateConfigRequest{{
			LaunchTemplateSpecification: &types.FleetLaunchTemplateSpecificationRequest{LaunchTemplateId: sdkaws.String(ltID), Version: sdkaws.String("$Default")},
			Overrides:                   overrides,
		}},
		TargetCapacitySpecification: &types.TargetCapacitySpecificationRequest{TotalTargetCapacity: sdkaws.Int32(int32(want))},
		TagSpecifications: []types.TagSpecification{
			tagSpec(types.ResourceTypeInstance, instanceTags), tagSpec(types.ResourceTypeVolume, tags), tagSpec(types.ResourceTypeFleet, tags),
		},
	}
	if capacity == catalog.Spot {
		in.TargetCapacitySpecification.DefaultTargetCapacityType = types.DefaultTargetCapacityTypeSpot
		in.SpotOptions = &types.SpotOptionsRequest{AllocationStrategy: types.SpotAllocationStrategyPriceCapacityOptimized}
	} else {
		in.TargetCapacitySpecification.DefaultTargetCapacityType = types.DefaultTargetCapacityTypeOnDemand
		in.OnDemandOptions = &types.OnDemandOptionsRequest{AllocationStrategy: types.FleetOnDemandAllocationStrategyLowestPrice}
	}
	out, err := c.CreateFleet(ctx, in)
	if err != nil {
		if apiCode(err) == "IdempotentParameterMismatch" {
			// The token launched before, with another request. The
			// contract is that the same token returns the same machines:
			// find them by the tag that carries the token.
			earlier, lerr := p.launchedWith(ctx, c, region, token)
			if lerr != nil {
				return nil, fails, lerr
			}
			if len(earlier) > 0 {
				return earlier, fails, nil
			}
		}
		return nil, fails, p.fleetCallError(err, offs, want, region, token)
	}

	now := p.opts.Now().UTC()
	var got []provider.Machine
	gotType := map[string]int{}
	for _, fi := range out.Instances {
		zone, typ := p.fleetPool(nw, fi.LaunchTemplateAndOverrides)
		if typ == "" {
			typ = string(fi.InstanceType)
		}
		capa := capacity
		switch fi.Lifecycle {
		case types.InstanceLifecycleSpot:
			capa = catalog.Spot
		case types.InstanceLifecycleOnDemand:
			capa = catalog.OnDemand
		}
		for _, id := range fi.InstanceIds {
			got = append(got, provider.Machine{
				ID: id, Cluster: req.Cluster, Role: req.Role, State: provider.Pending, Provider: Name, Region: region, Zone: zone,
				InstanceType: typ, Capacity: capa, LaunchedAt: now, Tags: maps.Clone(req.Tags),
			})
			gotType[typ]++
		}
	}
	reported := map[string]bool{}
	dryZones := map[string]map[string]bool{} // type -> zones that answered no capacity
	for _, fe := range out.Errors {
		zone, typ := p.fleetPool(nw, fe.LaunchTemplateAndOverrides)
		code, msg := sdkaws.ToString(fe.ErrorCode), sdkaws.ToString(fe.ErrorMessage)
		o, ok := offeringFor(offs, typ, zone)
		if !ok {
			o = offs[0]
		}
		err := codeError("CreateFleet", code, msg, nil)
		var pe *provider.Error
		if errors.As(err, &pe) {
			switch k := provider.KindOf(err); {
			case errors.Is(k, provider.ErrNoCapacity):
				if typ != "" && zone != "" {
					if dryZones[typ] == nil {
						dryZones[typ] = map[string]bool{}
					}
					dryZones[typ][zone] = true
					if o.Zone == "" {
						o.Zone = zone // a zone's stock-out, not the region's
					}
				}
			case errors.Is(k, provider.ErrQuota):
				pe.Msg = quotaDetail(o, want, msg)
				o.Zone = ""
			}
		}
		key := o.String() + "/" + code
		if reported[key] {
			continue
		}
		reported[key] = true
		fails = append(fails, provider.OfferingError{Offering: o, Err: err})
	}
	// A region-level offering that got nothing and whose every zone said
	// no capacity is dry in the whole region; say so, so the engine's cache
	// blocks it too.
	for _, o := range offs {
		if o.Zone != "" || gotType[o.InstanceType] > 0 || tried[o.InstanceType] == 0 || len(dryZones[o.InstanceType]) < tried[o.InstanceType] {
			continue
		}
		if !reported[o.String()+"/region"] {
			reported[o.String()+"/region"] = true
			fails = append(fails, provider.OfferingError{Offering: o, Err: &provider.Error{Kind: provider.ErrNoCapacity, Scope: provider.ScopeOffering,
				Op: "CreateFleet", Code: "InsufficientInstanceCapacity", Msg: fmt.Sprintf("no zone of %s has %s %s capacity", region, capacity, o.InstanceType)}})
		}
	}
	return got, fails, nil
}

// fleetCallError classifies a failed CreateFleet call; a quota error names
// the vCPUs the call needed, and a reused token says what happened.
func (p *Provider) fleetCallError(err error, offs []plan.Offering, want int, region, token string) error {
	err = classify("CreateFleet", err)
	var pe *provider.Error
	if !errors.As(err, &pe) {
		return err
	}
	switch {
	case errors.Is(pe.Kind, provider.ErrQuota):
		pe.Msg = quotaDetail(offs[0], want, pe.Msg)
	case pe.Code == "IdempotentParameterMismatch":
		pe.Msg = mismatchDetail(region, token, want, offs)
	}
	return err
}

// launchedWith returns the instances, in any state EC2 still reports, of
// the fleet whose ClientToken was token.
func (p *Provider) launchedWith(ctx context.Context, c *ec2.Client, region, token string) ([]provider.Machine, error) {
	return describeMachines(ctx, c, region, types.Filter{Name: sdkaws.String("tag:" + TagLaunch), Values: []string{token}})
}

// mismatchDetail explains an IdempotentParameterMismatch that burst could
// not answer itself: the token launched before with another request (a
// run interrupted a moment ago sends the same token with tags and a
// launch template of another second), and none of that launch's
// instances is listed yet. This call launched nothing; once EC2 lists the
// earlier machines, the next run counts them.
func mismatchDetail(region, token string, want int, offs []plan.Offering) string {
	var types []string
	for _, o := range offs {
		if !slices.Contains(types, o.InstanceType) {
			types = append(types, o.InstanceType)
		}
	}
	what := strings.Join(types, ", ")
	if len(types) > 3 {
		what = fmt.Sprintf("%s and %d more types", strings.Join(types[:3], ", "), len(types)-3)
	}
	return fmt.Sprintf("EC2 refused this CreateFleet in %s (%d x %s) because its ClientToken %s was used by an earlier CreateFleet with other parameters, "+
		"and EC2 lists none of that launch's instances yet (most likely a run interrupted a moment ago). "+
		"This call launched nothing; run the command again in a minute, when the earlier machines are listed and counted",
		region, want, what, token)
}

// quotaDetail says which vCPU quota a launch hit and how many vCPUs it
// needed.
func quotaDetail(o plan.Offering, n int, msg string) string {
	code, name := quotaOf(o.InstanceType, o.Capacity)
	return fmt.Sprintf("%d x %s need %d vCPUs of quota %s (%q) in %s: %s", n, o.InstanceType, n*o.VCPUs, code, name, o.Region, msg)
}

// fleetPool returns the zone and type a fleet answer's overrides name.
func (p *Provider) fleetPool(nw *network, lto *types.LaunchTemplateAndOverridesResponse) (zone, typ string) {
	if lto == nil || lto.Overrides == nil {
		return "", ""
	}
	ov := lto.Overrides
	zone = sdkaws.ToString(ov.AvailabilityZone)
	if z, ok := nw.vpc.zoneOf[sdkaws.ToString(ov.SubnetId)]; ok {
		zone = z
	}
	return zone, string(ov.InstanceType)
}

func offeringFor(offs []plan.Offering, typ, zone string) (plan.Offering, bool) {
	for _, o := range offs {
		if o.InstanceType == typ && (o.Zone == zone || o.Zone == "") {
			return o, true
		}
	}
	return plan.Offering{}, false
}

func archOf(o plan.Offering) string {
	if o.Arch == "arm64" {
		return "arm64"
	}
	return "x86_64"
}

func templatePrefix(cluster, region string) string { return region + "/burst-" + cluster + "-" }

// launchTemplate returns the ID of a launch template holding what every
// machine of this launch shares: image, user data, security group, key,
// IMDSv2 required (hop limit 2, so containers reach it), an encrypted gp3
// root volume deleted on termination, and shutdown behaviour terminate, so
// the machine's own `shutdown -h now` ends its billing. Its name carries a
// hash of that content, so equal launches share one template and a changed
// one (a new head address) gets its own; Cleanup deletes them by tag.
func (p *Provider) launchTemplate(ctx context.Context, c *ec2.Client, req provider.LaunchRequest, region string, nw *network, userData string, im imageInfo, disk int32) (string, error) {
	ud := base64.StdEncoding.EncodeToString([]byte(userData))
	sum := sha256.Sum256([]byte(fmt.Sprint(ud, "\x00", im.id, "\x00", im.rootDevice, "\x00", nw.sgID, "\x00", nw.keyName, "\x00", disk)))
	h := hex.EncodeToString(sum[:])
	role := "w"
	if req.Role == spec.RoleHead {
		role = "h"
	}
	name := fmt.Sprintf("burst-%s-%s-%s", req.Cluster, role, h[:12])
	key := region + "/" + name
	defer p.lock("lt/" + key)()
	p.mu.Lock()
	id, ok := p.templates[key]
	p.mu.Unlock()
	if ok {
		return id, nil
	}
	data := &types.RequestLaunchTemplateData{
		ImageId: sdkaws.String(im.id), KeyName: sdkaws.String(nw.keyName), SecurityGroupIds: []string{nw.sgID},
		UserData: sdkaws.String(ud), InstanceInitiatedShutdownBehavior: types.ShutdownBehaviorTerminate,
		MetadataOptions: &types.LaunchTemplateInstanceMetadataOptionsRequest{
			HttpTokens: types.LaunchTemplateHttpTokensStateRequired, HttpEndpoint: types.LaunchTemplateInstanceMetadataEndpointStateEnabled,
			HttpPutResponseHopLimit: sdkaws.Int32(2),
		},
		BlockDeviceMappings: []types.LaunchTemplateBlockDeviceMappingRequest{{
			DeviceName: sdkaws.String(im.rootDevice),
			Ebs: &types.LaunchTemplateEbsBlockDeviceRequest{
				VolumeSize: sdkaws.Int32(disk), VolumeType: types.VolumeTypeGp3, Encrypted: sdkaws.Bool(true), DeleteOnTermination: sdkaws.Bool(true),
			},
		}},
	}
	out, err := c.CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{
		LaunchTemplateName: sdkaws.String(name), ClientToken: sdkaws.String(h[:32]), LaunchTemplateData: data,
		TagSpecifications: []types.TagSpecification{tagSpec(types.ResourceTypeLaunchTemplate, sharedTags(req.Cluster, req.Tags))},
	})
	switch {
	case err == nil:
		id = sdkaws.ToString(out.LaunchTemplate.LaunchTemplateId)
	case apiCode(err) == "InvalidLaunchTemplateName.AlreadyExistsException":
		d, derr := c.DescribeLaunchTemplates(ctx, &ec2.DescribeLaunchTemplatesInput{LaunchTemplateNames: []string{name}})
		if derr != nil || len(d.LaunchTemplates) == 0 {
			return "", fmt.Errorf("launch template %s exists but cannot be read: %w", name, classify("DescribeLaunchTemplates", derr))
		}
		id = sdkaws.ToString(d.LaunchTemplates[0].LaunchTemplateId)
	default:
		return "", classify("CreateLaunchTemplate", err)
	}
	p.mu.Lock()
	p.templates[key] = id
	// A clean-up's early lookups no longer tell the whole story: Cleanup
	// looks for itself.
	delete(p.cleanAhead, netKey{req.Cluster, region})
	p.mu.Unlock()
	return id, nil
}
