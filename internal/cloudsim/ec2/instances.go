package ec2

import (
	"encoding/xml"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/burstdev/burst/internal/cloudsim"
)

func instanceName(seq int) (string, string) { return fmt.Sprintf("i-%017x", seq), "" }

func (s *Server) quotaUse(region, typ, capacity string) []cloudsim.QuotaUse {
	t, ok := s.Model.Type(typ)
	if !ok {
		return nil
	}
	return []cloudsim.QuotaUse{{Key: cloudsim.QuotaKey{Region: region, Name: QuotaCode(typ, capacity)}, Amount: float64(t.VCPUs)}}
}

func (s *Server) price(region, zone, typ, capacity string) float64 {
	t, ok := s.Model.Type(typ)
	if !ok {
		return math.Inf(1)
	}
	best := math.Inf(1)
	for _, o := range t.Offerings {
		if o.Region == region && string(o.Capacity) == capacity && (o.Zone == "" || o.Zone == zone) {
			best = math.Min(best, o.Price)
		}
	}
	return best
}

// --- CreateFleet ---

type override struct {
	ltID, ltVersion                  string
	lt                               *LaunchTemplate
	typ, subnet, zone, image         string
	priority                         float64
	hasPriority                      bool
	index                            int
	launched                         []string
	errCode, errMsg                  string
	remainingCapacity, unitPriceSort float64
}

type fleetOverridesXML struct {
	InstanceType string `xml:"instanceType"`
	SubnetID     string `xml:"subnetId,omitempty"`
	Zone         string `xml:"availabilityZone,omitempty"`
	ImageID      string `xml:"imageId,omitempty"`
	Priority     string `xml:"priority,omitempty"`
}

type ltAndOverrides struct {
	Spec struct {
		ID      string `xml:"launchTemplateId"`
		Version string `xml:"version"`
	} `xml:"launchTemplateSpecification"`
	Overrides fleetOverridesXML `xml:"overrides"`
}

type fleetErrorXML struct {
	LTO       ltAndOverrides `xml:"launchTemplateAndOverrides"`
	Lifecycle string         `xml:"lifecycle"`
	Code      string         `xml:"errorCode"`
	Message   string         `xml:"errorMessage"`
}

type fleetInstanceXML struct {
	LTO          ltAndOverrides `xml:"launchTemplateAndOverrides"`
	Lifecycle    string         `xml:"lifecycle"`
	InstanceIDs  []string       `xml:"instanceIds>item"`
	InstanceType string         `xml:"instanceType"`
	Platform     string         `xml:"platform,omitempty"`
}

type createFleetXML struct {
	XMLName   xml.Name           `xml:"CreateFleetResponse"`
	XMLNS     string             `xml:"xmlns,attr"`
	RequestID string             `xml:"requestId"`
	FleetID   string             `xml:"fleetId"`
	Errors    []fleetErrorXML    `xml:"errorSet>item"`
	Instances []fleetInstanceXML `xml:"fleetInstanceSet>item"`
}

func (o *override) lto() ltAndOverrides {
	var x ltAndOverrides
	x.Spec.ID, x.Spec.Version = o.ltID, o.ltVersion
	x.Overrides = fleetOverridesXML{InstanceType: o.typ, SubnetID: o.subnet, Zone: o.zone, ImageID: o.image}
	if o.hasPriority {
		x.Overrides.Priority = strconv.FormatFloat(o.priority, 'f', -1, 64)
	}
	return x
}

func (s *Server) createFleet(r *request) (any, *apiError) {
	p := r.params
	if t := p.str("Type"); t != "instant" {
		return nil, errInvalid("the simulator supports only fleets of type instant, not %q", t)
	}
	token := p.str("ClientToken")
	if len(token) > 64 {
		return nil, errInvalid("ClientToken is longer than 64 characters")
	}
	// Fleets are made one at a time, so a retried token always sees the
	// first call's outcome.
	s.mu.Lock()
	defer s.mu.Unlock()
	digest := idempotencyDigest(p)
	if token != "" {
		if rep, ok := s.fleetTokens[tokenKey(r.region, token)]; ok {
			if rep.digest != digest {
				return nil, errParameterMismatch(token)
			}
			return rawXML(rep.body), nil
		}
	}
	total := p.int("TargetCapacitySpecification.TotalTargetCapacity", 0)
	if total <= 0 {
		return nil, errInvalid("TotalTargetCapacity must be at least 1")
	}
	capType := p.str("TargetCapacitySpecification.DefaultTargetCapacityType")
	if capType != cloudsim.OnDemand && capType != cloudsim.Spot {
		return nil, errInvalid("DefaultTargetCapacityType must be on-demand or spot, not %q", capType)
	}
	strategy := p.str("OnDemandOptions.AllocationStrategy")
	if capType == cloudsim.Spot {
		strategy = p.str("SpotOptions.AllocationStrategy")
	}
	var ovs []*override
	for _, c := range p.list("LaunchTemplateConfigs") {
		spec := c.get("LaunchTemplateSpecification")
		if spec == nil {
			return nil, errMissing("LaunchTemplateSpecification")
		}
		res, aerr := s.findLTLocked(r.region, spec.str("LaunchTemplateId"), spec.str("LaunchTemplateName"))
		if aerr != nil {
			return nil, aerr
		}
		lt := res.Data.(*LaunchTemplate)
		ver := spec.str("Version")
		if ver == "" {
			ver = "1"
		}
		list := c.list("Overrides")
		if len(list) == 0 {
			list = []*params{{}}
		}
		for _, o := range list {
			ov := &override{ltID: res.ID, ltVersion: ver, lt: lt, typ: o.str("InstanceType"), subnet: o.str("SubnetId"), zone: o.str("AvailabilityZone"), image: o.str("ImageId"), index: len(ovs)}
			if ps := o.str("Priority"); ps != "" {
				ov.priority, _ = strconv.ParseFloat(ps, 64)
				ov.hasPriority = true
			}
			if ov.typ == "" {
				ov.typ = lt.InstanceType
			}
			if _, ok := s.Model.Type(ov.typ); !ok {
				return nil, errInvalid("The instance type '%s' does not exist", ov.typ)
			}
			if ov.subnet != "" {
				z, ok := s.zoneOfSubnetLocked(r.region, ov.subnet)
				if !ok {
					return nil, &apiError{400, "InvalidSubnetID.NotFound", fmt.Sprintf("The subnet ID '%s' does not exist", ov.subnet)}
				}
				ov.zone = z
			}
			if ov.zone == "" {
				ov.zone = s.Model.Zones(r.region)[0]
			}
			img := ov.image
			if img == "" {
				img = lt.ImageID
			}
			if _, ok := s.imageLocked(r.region, img); !ok {
				return nil, &apiError{400, "InvalidAMIID.NotFound", fmt.Sprintf("The image id '[%s]' does not exist", img)}
			}
			ovs = append(ovs, ov)
		}
	}
	if len(ovs) == 0 {
		return nil, errMissing("LaunchTemplateConfigs")
	}
	if len(ovs) > 300 {
		return nil, errInvalid("a fleet may have at most 300 overrides")
	}
	if !s.Model.Take(BucketName(r.region, BucketLaunchResource), total) {
		return nil, &apiError{503, "RequestLimitExceeded", "Request limit exceeded."}
	}
	s.seq++
	fleetID := fmt.Sprintf("fleet-%08x-%04x-4%03x-8%03x-%012x", s.seq, s.seq%0xffff, s.seq%0xfff, s.seq%0xfff, s.seq)
	tags := p.tagSpecs()

	// Allocation order.
	for _, o := range ovs {
		o.unitPriceSort = s.price(r.region, o.zone, o.typ, capType)
		if n, limited := s.Model.Capacity(cloudsim.PoolKey{Type: o.typ, Zone: o.zone, Capacity: capType}); limited {
			o.remainingCapacity = float64(n)
		} else {
			o.remainingCapacity = math.Inf(1)
		}
	}
	sort.SliceStable(ovs, func(i, j int) bool {
		a, b := ovs[i], ovs[j]
		switch strategy {
		case "prioritized":
			if a.hasPriority != b.hasPriority {
				return a.hasPriority
			}
			return a.priority < b.priority
		case "capacity-optimized", "capacity-optimized-prioritized":
			return a.remainingCapacity > b.remainingCapacity
		case "price-capacity-optimized":
			// Pools deep enough come first, then the cheapest of them.
			da, db := a.remainingCapacity > 0, b.remainingCapacity > 0
			if da != db {
				return da
			}
			return a.unitPriceSort < b.unitPriceSort
		}
		return a.unitPriceSort < b.unitPriceSort // lowest-price, the default
	})

	left := total
	for _, o := range ovs {
		if left == 0 {
			break
		}
		if f := r.fault; f != nil {
			e := faultError(f)
			if f.Kind == cloudsim.KindQuota && capType == cloudsim.Spot && f.Code == "" {
				e.code = "MaxSpotInstanceCountExceeded"
			}
			o.errCode, o.errMsg = e.code, e.msg
			continue
		}
		lt := o.lt
		img := o.image
		if img == "" {
			img = lt.ImageID
		}
		attrs := map[string]string{
			"ImageId": img, "KeyName": lt.KeyName, "SecurityGroupIds": strings.Join(lt.SecurityGroupIDs, ","),
			"InstanceInitiatedShutdownBehavior": lt.ShutdownBehavior, "HttpTokens": orDefault(lt.HTTPTokens, "optional"),
			"HttpPutResponseHopLimit": strconv.Itoa(lt.HopLimit), "SubnetId": orDefault(o.subnet, DefaultSubnet(r.region, o.zone)),
			"VpcId": DefaultVPC(r.region), "FleetId": fleetID, "LaunchTemplateId": o.ltID, "ClientToken": token,
			"RootDeviceName": lt.RootDevice, "RootVolumeType": orDefault(lt.VolumeType, "gp2"), "RootVolumeSize": strconv.Itoa(lt.VolumeSize),
			"RootVolumeEncrypted": strconv.FormatBool(lt.Encrypted), "RootDeleteOnTermination": strconv.FormatBool(lt.DeleteOnTermination),
		}
		for k, v := range mergeTags(lt.TagSpecs["volume"], tags["volume"]) {
			attrs["VolumeTag:"+k] = v
		}
		got, err := s.Model.Launch(cloudsim.LaunchSpec{
			Region: r.region, Zone: o.zone, Type: o.typ, Capacity: capType, Count: left,
			Tags: mergeTags(lt.TagSpecs["instance"], tags["instance"]), UserData: lt.UserData, Attrs: attrs,
			Quotas: s.quotaUse(r.region, o.typ, capType), PublicIP: true, Group: fleetID, Name: instanceName,
		})
		for _, in := range got {
			o.launched = append(o.launched, in.ID)
		}
		left -= len(got)
		if err != nil {
			e := modelError(err, capType)
			o.errCode, o.errMsg = e.code, e.msg
		}
	}

	doc := createFleetXML{XMLNS: XMLNS, RequestID: requestID(), FleetID: fleetID}
	var ids []string
	for _, o := range ovs {
		if len(o.launched) > 0 {
			doc.Instances = append(doc.Instances, fleetInstanceXML{LTO: o.lto(), Lifecycle: lifecycle(capType), InstanceIDs: o.launched, InstanceType: o.typ})
			ids = append(ids, o.launched...)
		}
		if o.errCode != "" {
			doc.Errors = append(doc.Errors, fleetErrorXML{LTO: o.lto(), Lifecycle: lifecycle(capType), Code: o.errCode, Message: o.errMsg})
		}
	}
	if left > 0 && len(doc.Errors) == 0 {
		doc.Errors = append(doc.Errors, fleetErrorXML{LTO: ovs[0].lto(), Lifecycle: lifecycle(capType), Code: "UnfulfillableCapacity",
			Message: "Unable to fulfill capacity due to your request configuration."})
	}
	body, err := xml.Marshal(doc)
	if err != nil {
		return nil, &apiError{500, "InternalError", err.Error()}
	}
	body = append([]byte(xml.Header), body...)
	s.fleets[fleetID] = &Fleet{ID: fleetID, Region: r.region, Type: "instant", ClientToken: token, Tags: tags["fleet"], InstanceIDs: ids,
		Overrides: len(ovs), TargetCapacity: total, CapacityType: capType, Strategy: strategy}
	if token != "" {
		s.fleetTokens[tokenKey(r.region, token)] = fleetReply{body: body, fleet: fleetID, digest: digest}
	}
	return rawXML(body), nil
}

func lifecycle(capType string) string {
	if capType == cloudsim.Spot {
		return "spot"
	}
	return "on-demand"
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func mergeTags(ms ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

// Locked variants for CreateFleet, which holds s.mu.

func (s *Server) findLTLocked(region, id, name string) (cloudsim.Resource, *apiError) {
	return s.findLT(region, id, name)
}

func (s *Server) zoneOfSubnetLocked(region, subnet string) (string, bool) {
	if s.noVPC[region] {
		return "", false
	}
	for _, z := range s.Model.Zones(region) {
		if DefaultSubnet(region, z) == subnet {
			return z, true
		}
	}
	return "", false
}

func (s *Server) imageLocked(region, id string) (Image, bool) {
	for _, im := range s.images {
		if im.Region == region && im.ID == id {
			return im, true
		}
	}
	return Image{}, false
}

// --- RunInstances ---

func (s *Server) runInstances(r *request) (any, *apiError) {
	p := r.params
	minN, maxN := p.int("MinCount", 0), p.int("MaxCount", 0)
	if minN <= 0 || maxN < minN {
		return nil, errInvalid("MinCount and MaxCount must be positive, MinCount <= MaxCount")
	}
	typ := orDefault(p.str("InstanceType"), "m1.small")
	if _, ok := s.Model.Type(typ); !ok {
		return nil, errInvalid("Invalid value '%s' for InstanceType.", typ)
	}
	img := p.str("ImageId")
	if img == "" {
		return nil, errMissing("ImageId")
	}
	if _, ok := s.image(r.region, img); !ok {
		return nil, &apiError{400, "InvalidAMIID.NotFound", fmt.Sprintf("The image id '[%s]' does not exist", img)}
	}
	zone := p.str("Placement.AvailabilityZone")
	subnet := p.str("SubnetId")
	if subnet != "" {
		z, ok := s.zoneOfSubnet(r.region, subnet)
		if !ok {
			return nil, &apiError{400, "InvalidSubnetID.NotFound", fmt.Sprintf("The subnet ID '%s' does not exist", subnet)}
		}
		zone = z
	}
	if zone == "" {
		zone = s.Model.Zones(r.region)[0]
	}
	if !contains(s.Model.Zones(r.region), zone) {
		return nil, errInvalid("Invalid availability zone: [%s]", zone)
	}
	capType := cloudsim.OnDemand
	if p.str("InstanceMarketOptions.MarketType") == "spot" {
		capType = cloudsim.Spot
	}
	token := p.str("ClientToken")
	digest := idempotencyDigest(p)
	seen, same := s.runToken(r.region, token, digest)
	if seen && !same {
		return nil, errParameterMismatch(token)
	}
	if !seen {
		if !s.Model.Take(BucketName(r.region, BucketLaunchResource), maxN) {
			return nil, &apiError{503, "RequestLimitExceeded", "Request limit exceeded."}
		}
	}
	tags := p.tagSpecs()
	sgs := p.strs("SecurityGroupId")
	attrs := map[string]string{
		"ImageId": img, "KeyName": p.str("KeyName"), "SecurityGroupIds": strings.Join(sgs, ","),
		"InstanceInitiatedShutdownBehavior": orDefault(p.str("InstanceInitiatedShutdownBehavior"), "stop"),
		"HttpTokens":                        orDefault(p.str("MetadataOptions.HttpTokens"), "optional"), "SubnetId": orDefault(subnet, DefaultSubnet(r.region, zone)),
		"VpcId": DefaultVPC(r.region), "ClientToken": token, "RootDeviceName": "/dev/sda1", "RootVolumeType": "gp2", "RootVolumeSize": "8",
		"RootDeleteOnTermination": "true", "RootVolumeEncrypted": "false",
	}
	for k, v := range tags["volume"] {
		attrs["VolumeTag:"+k] = v
	}
	resID := s.runReservation(r.region, token, digest)
	modelToken := ""
	if token != "" {
		modelToken = "run/" + r.region + "/" + token
	}
	got, err := s.Model.Launch(cloudsim.LaunchSpec{
		Region: r.region, Zone: zone, Type: typ, Capacity: capType, Count: maxN, MinCount: minN,
		Tags: tags["instance"], UserData: p.str("UserData"), Attrs: attrs, Quotas: s.quotaUse(r.region, typ, capType),
		Token: modelToken, PublicIP: true, Group: resID, Name: instanceName,
	})
	if len(got) < minN {
		if err == nil {
			err = fmt.Errorf("launched %d of at least %d", len(got), minN)
		}
		return nil, modelError(err, capType)
	}
	type out struct {
		ReservationID string        `xml:"reservationId"`
		OwnerID       string        `xml:"ownerId"`
		Instances     []instanceXML `xml:"instancesSet>item"`
	}
	o := out{ReservationID: resID, OwnerID: s.AccountID}
	for i, in := range got {
		o.Instances = append(o.Instances, s.instanceXML(in, i))
	}
	return o, nil
}

// runToken reports whether a RunInstances ClientToken was used before in
// the region, and if so whether with the same parameters.
func (s *Server) runToken(region, token, digest string) (seen, same bool) {
	if token == "" {
		return false, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rep, ok := s.runTokens[tokenKey(region, token)]
	return ok, ok && rep.digest == digest
}

func (s *Server) runReservation(region, token, digest string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if rep, ok := s.runTokens[tokenKey(region, token)]; ok && token != "" {
		return rep.reservation
	}
	s.seq++
	id := fmt.Sprintf("r-%017x", s.seq)
	if token != "" {
		s.runTokens[tokenKey(region, token)] = runReply{reservation: id, digest: digest}
	}
	return id
}

// --- DescribeInstances ---

type instanceXML struct {
	InstanceID     string `xml:"instanceId"`
	ImageID        string `xml:"imageId"`
	State          state  `xml:"instanceState"`
	PrivateDNS     string `xml:"privateDnsName"`
	DNSName        string `xml:"dnsName"`
	KeyName        string `xml:"keyName,omitempty"`
	AmiLaunchIndex int    `xml:"amiLaunchIndex"`
	InstanceType   string `xml:"instanceType"`
	LaunchTime     string `xml:"launchTime"`
	Placement      struct {
		Zone    string `xml:"availabilityZone"`
		Tenancy string `xml:"tenancy"`
	} `xml:"placement"`
	Monitoring struct {
		State string `xml:"state"`
	} `xml:"monitoring"`
	SubnetID     string      `xml:"subnetId"`
	VpcID        string      `xml:"vpcId"`
	PrivateIP    string      `xml:"privateIpAddress,omitempty"`
	PublicIP     string      `xml:"ipAddress,omitempty"`
	Groups       []groupXML  `xml:"groupSet>item"`
	StateReason  *reasonXML  `xml:"stateReason"`
	Architecture string      `xml:"architecture"`
	RootType     string      `xml:"rootDeviceType"`
	RootDevice   string      `xml:"rootDeviceName"`
	Devices      []deviceXML `xml:"blockDeviceMapping>item"`
	Lifecycle    string      `xml:"instanceLifecycle,omitempty"`
	ClientToken  string      `xml:"clientToken,omitempty"`
	Tags         *tagSet     `xml:"tagSet"`
	Hypervisor   string      `xml:"hypervisor"`
	CPU          struct {
		Cores   int `xml:"coreCount"`
		Threads int `xml:"threadsPerCore"`
	} `xml:"cpuOptions"`
	Metadata struct {
		State    string `xml:"state"`
		Tokens   string `xml:"httpTokens"`
		HopLimit int    `xml:"httpPutResponseHopLimit"`
		Endpoint string `xml:"httpEndpoint"`
	} `xml:"metadataOptions"`
}

type state struct {
	Code int    `xml:"code"`
	Name string `xml:"name"`
}

type groupXML struct {
	ID   string `xml:"groupId"`
	Name string `xml:"groupName"`
}

type reasonXML struct {
	Code    string `xml:"code"`
	Message string `xml:"message"`
}

type deviceXML struct {
	Name string `xml:"deviceName"`
	EBS  struct {
		VolumeID            string `xml:"volumeId"`
		Status              string `xml:"status"`
		DeleteOnTermination bool   `xml:"deleteOnTermination"`
	} `xml:"ebs"`
}

var stateCodes = map[string]int{cloudsim.Pending: 0, cloudsim.Running: 16, cloudsim.ShuttingDown: 32, cloudsim.Terminated: 48, cloudsim.Stopping: 64, cloudsim.Stopped: 80}

func (s *Server) instanceXML(in cloudsim.Instance, idx int) instanceXML {
	x := instanceXML{InstanceID: in.ID, ImageID: in.Attrs["ImageId"], State: state{stateCodes[in.State], in.State},
		KeyName: in.Attrs["KeyName"], AmiLaunchIndex: idx, InstanceType: in.Type, LaunchTime: in.LaunchedAt.UTC().Format("2006-01-02T15:04:05.000Z"),
		SubnetID: in.Attrs["SubnetId"], VpcID: in.Attrs["VpcId"], RootType: "ebs", RootDevice: in.Attrs["RootDeviceName"],
		ClientToken: in.Attrs["ClientToken"], Tags: toTagSet(in.Tags), Hypervisor: "xen"}
	x.Placement.Zone, x.Placement.Tenancy = in.Zone, "default"
	x.Monitoring.State = "disabled"
	if in.State != cloudsim.Terminated {
		x.PrivateIP, x.PublicIP = in.PrivateIP, in.PublicIP
		x.PrivateDNS = "ip-" + strings.ReplaceAll(in.PrivateIP, ".", "-") + ".ec2.internal"
		for _, g := range strings.Split(in.Attrs["SecurityGroupIds"], ",") {
			if g != "" {
				x.Groups = append(x.Groups, groupXML{ID: g})
			}
		}
		var d deviceXML
		d.Name = in.Attrs["RootDeviceName"]
		d.EBS.VolumeID, d.EBS.Status = "vol-"+strings.TrimPrefix(in.ID, "i-"), "attached"
		d.EBS.DeleteOnTermination = in.Attrs["RootDeleteOnTermination"] == "true"
		x.Devices = append(x.Devices, d)
	}
	switch in.StateReason {
	case "spot-interruption":
		x.StateReason = &reasonXML{"Server.SpotInstanceTermination", "Server.SpotInstanceTermination: Spot instance termination"}
	case "user":
		x.StateReason = &reasonXML{"Client.UserInitiatedShutdown", "Client.UserInitiatedShutdown: User initiated shutdown"}
	case "guest-shutdown":
		x.StateReason = &reasonXML{"Client.InstanceInitiatedShutdown", "Client.InstanceInitiatedShutdown: Instance initiated shutdown"}
	}
	if in.Capacity == cloudsim.Spot {
		x.Lifecycle = "spot"
	}
	if t, ok := s.Model.Type(in.Type); ok {
		x.Architecture = t.Arch
		threads := 2
		if t.Arch == "arm64" || t.VCPUs == 1 {
			threads = 1
		}
		x.CPU.Cores, x.CPU.Threads = t.VCPUs/threads, threads
	}
	x.Metadata.State, x.Metadata.Tokens, x.Metadata.Endpoint = "applied", in.Attrs["HttpTokens"], "enabled"
	x.Metadata.HopLimit, _ = strconv.Atoi(orDefault(in.Attrs["HttpPutResponseHopLimit"], "1"))
	return x
}

var instanceIDRE = regexp.MustCompile(`^i-[0-9a-f]{8,17}$`)

func (s *Server) describeInstances(r *request) (any, *apiError) {
	p := r.params
	ids, fs := p.strs("InstanceId"), p.filters()
	for _, id := range ids {
		if !instanceIDRE.MatchString(id) {
			return nil, &apiError{400, "InvalidInstanceID.Malformed", fmt.Sprintf("Invalid id: \"%s\"", id)}
		}
	}
	maxResults := p.int("MaxResults", 0)
	if maxResults != 0 && len(ids) > 0 {
		return nil, &apiError{400, "InvalidParameterCombination", "The parameter instancesSet cannot be used with the parameter maxResults"}
	}
	if maxResults != 0 && (maxResults < 5 || maxResults > 1000) {
		return nil, errInvalid("MaxResults must be between 5 and 1000")
	}
	ins := s.Model.Instances(func(in *cloudsim.Instance) bool {
		if in.Region != r.region || len(ids) > 0 && !contains(ids, in.ID) {
			return false
		}
		for _, f := range fs {
			var v string
			switch f.name {
			case "instance-state-name":
				v = in.State
			case "instance-id":
				v = in.ID
			case "instance-type":
				v = in.Type
			case "availability-zone":
				v = in.Zone
			case "instance-lifecycle":
				v = map[string]string{cloudsim.Spot: "spot"}[in.Capacity]
			case "instance.group-id":
				if !f.matchAnyOf(strings.Split(in.Attrs["SecurityGroupIds"], ",")) {
					return false
				}
				continue
			case "key-name":
				v = in.Attrs["KeyName"]
			default:
				continue
			}
			if !f.matchAny(v) {
				return false
			}
		}
		return tagFilter(fs, in.Tags)
	})
	if len(ids) > 0 {
		seen := map[string]bool{}
		for _, in := range ins {
			seen[in.ID] = true
		}
		var missing []string
		for _, id := range ids {
			if !seen[id] {
				missing = append(missing, id)
			}
		}
		if len(missing) > 0 && len(fs) == 0 {
			return nil, &apiError{400, "InvalidInstanceID.NotFound", fmt.Sprintf("The instance IDs '%s' do not exist", strings.Join(missing, ", "))}
		}
	}
	start := 0
	if tok := p.str("NextToken"); tok != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(tok, "page-"))
		if err != nil || n < 0 || n > len(ins) {
			return nil, &apiError{400, "InvalidParameterValue", "The value for NextToken is not valid"}
		}
		start = n
	}
	end := len(ins)
	if maxResults > 0 {
		end = min(start+maxResults, len(ins))
	}
	type reservation struct {
		ID        string        `xml:"reservationId"`
		OwnerID   string        `xml:"ownerId"`
		Instances []instanceXML `xml:"instancesSet>item"`
	}
	type out struct {
		Reservations []reservation `xml:"reservationSet>item"`
		NextToken    string        `xml:"nextToken,omitempty"`
	}
	var o out
	byGroup := map[string]int{}
	for i, in := range ins[start:end] {
		g := in.Group
		k, ok := byGroup[g]
		if !ok {
			rid := g
			if strings.HasPrefix(g, "fleet-") {
				rid = "r-" + strings.ReplaceAll(g[6:], "-", "")[:17]
			}
			o.Reservations = append(o.Reservations, reservation{ID: rid, OwnerID: s.AccountID})
			k = len(o.Reservations) - 1
			byGroup[g] = k
		}
		o.Reservations[k].Instances = append(o.Reservations[k].Instances, s.instanceXML(in, i))
	}
	if end < len(ins) {
		o.NextToken = fmt.Sprintf("page-%d", end)
	}
	return o, nil
}

func (f filter) matchAnyOf(vs []string) bool {
	for _, v := range vs {
		if f.matchAny(v) {
			return true
		}
	}
	return false
}

func (s *Server) describeInstanceAttribute(r *request) (any, *apiError) {
	id := r.params.str("InstanceId")
	in, ok := s.Model.Instance(id)
	if !ok || in.Region != r.region {
		return nil, &apiError{400, "InvalidInstanceID.NotFound", fmt.Sprintf("The instance ID '%s' does not exist", id)}
	}
	type val struct {
		V string `xml:"value"`
	}
	type out struct {
		ID       string `xml:"instanceId"`
		Shutdown *val   `xml:"instanceInitiatedShutdownBehavior"`
		UserData *val   `xml:"userData"`
	}
	o := out{ID: id}
	switch a := r.params.str("Attribute"); a {
	case "instanceInitiatedShutdownBehavior":
		o.Shutdown = &val{in.Attrs["InstanceInitiatedShutdownBehavior"]}
	case "userData":
		o.UserData = &val{in.UserData}
	default:
		return nil, errInvalid("unsupported attribute %q", a)
	}
	return o, nil
}

// --- TerminateInstances ---

func (s *Server) terminateInstances(r *request) (any, *apiError) {
	ids := r.params.strs("InstanceId")
	if len(ids) == 0 {
		return nil, errMissing("InstanceId")
	}
	if len(ids) > 1000 {
		return nil, errInvalid("at most 1000 instance IDs per call")
	}
	var missing []string
	prev := map[string]string{}
	for _, id := range ids {
		if !instanceIDRE.MatchString(id) {
			return nil, &apiError{400, "InvalidInstanceID.Malformed", fmt.Sprintf("Invalid id: \"%s\"", id)}
		}
		in, ok := s.Model.Instance(id)
		if !ok || in.Region != r.region {
			missing = append(missing, id)
			continue
		}
		prev[id] = in.State
	}
	if len(missing) > 0 {
		return nil, &apiError{400, "InvalidInstanceID.NotFound", fmt.Sprintf("The instance IDs '%s' do not exist", strings.Join(missing, ", "))}
	}
	if !s.Model.Take(BucketName(r.region, BucketTerminateResource), len(ids)) {
		return nil, &apiError{503, "RequestLimitExceeded", "Request limit exceeded."}
	}
	s.Model.Terminate(ids, "user")
	type item struct {
		ID      string `xml:"instanceId"`
		Current state  `xml:"currentState"`
		Prev    state  `xml:"previousState"`
	}
	type out struct {
		Items []item `xml:"instancesSet>item"`
	}
	var o out
	for _, id := range ids {
		in, _ := s.Model.Instance(id)
		o.Items = append(o.Items, item{id, state{stateCodes[in.State], in.State}, state{stateCodes[prev[id]], prev[id]}})
	}
	return o, nil
}

// GuestShutdown is what happens when an instance's OS shuts down: with
// InstanceInitiatedShutdownBehavior=terminate the instance terminates,
// otherwise it stops (and its disk keeps billing).
func (s *Server) GuestShutdown(id string) (string, bool) {
	in, ok := s.Model.Instance(id)
	if !ok {
		return "", false
	}
	if in.Attrs["InstanceInitiatedShutdownBehavior"] == "terminate" {
		s.Model.Terminate([]string{id}, "guest-shutdown")
	} else {
		s.Model.Stop([]string{id}, "guest-shutdown")
	}
	in, _ = s.Model.Instance(id)
	return in.State, true
}
