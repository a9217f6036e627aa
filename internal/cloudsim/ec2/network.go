package ec2

import (
	"crypto/ed25519"
	"crypto/md5"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/burstdev/burst/internal/cloudsim"
)

// Resource kinds the server keeps in the model.
const (
	KindSecurityGroup  = "security-group"
	KindKeyPair        = "key-pair"
	KindLaunchTemplate = "launch-template"
)

// SecurityGroup is the server's record of a security group (Resource.Data).
type SecurityGroup struct {
	VpcID, Description string
	Ingress            []Permission
}

// Permission is one ingress rule.
type Permission struct {
	Protocol         string
	FromPort, ToPort int
	CIDRs, IPv6CIDRs []string
	Groups           []string
}

// KeyPair is the server's record of a key pair.
type KeyPair struct {
	Fingerprint, Type string
}

// LaunchTemplate is the server's record of a launch template.
type LaunchTemplate struct {
	ImageID, InstanceType, KeyName, UserData, ShutdownBehavior string
	SecurityGroupIDs                                           []string
	HTTPTokens                                                 string
	HopLimit                                                   int
	RootDevice                                                 string
	VolumeSize                                                 int
	VolumeType                                                 string
	Encrypted, DeleteOnTermination                             bool
	TagSpecs                                                   map[string]map[string]string
}

func regionShort(region string) string {
	return strings.ReplaceAll(region, "-", "")
}

// DefaultVPC is the region's default VPC ID.
func DefaultVPC(region string) string { return "vpc-" + regionShort(region) }

// DefaultSubnet is the default subnet of a zone.
func DefaultSubnet(region, zone string) string {
	return "subnet-" + regionShort(region) + zone[len(zone)-1:]
}

func (s *Server) hasDefaultVPC(region string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.noVPC[region]
}

// zoneOfSubnet returns the zone of one of the region's default subnets.
func (s *Server) zoneOfSubnet(region, subnet string) (string, bool) {
	if !s.hasDefaultVPC(region) {
		return "", false
	}
	for _, z := range s.Model.Zones(region) {
		if DefaultSubnet(region, z) == subnet {
			return z, true
		}
	}
	return "", false
}

type azItem struct {
	ZoneName   string `xml:"zoneName"`
	ZoneID     string `xml:"zoneId"`
	State      string `xml:"zoneState"`
	RegionName string `xml:"regionName"`
	ZoneType   string `xml:"zoneType"`
}

func (s *Server) describeAvailabilityZones(r *request) (any, *apiError) {
	type out struct {
		Items []azItem `xml:"availabilityZoneInfo>item"`
	}
	var o out
	for i, z := range s.Model.Zones(r.region) {
		if names := r.params.strs("ZoneName"); len(names) > 0 && !contains(names, z) {
			continue
		}
		o.Items = append(o.Items, azItem{z, fmt.Sprintf("%s-az%d", regionShort(r.region)[:4], i+1), "available", r.region, "availability-zone"})
	}
	return o, nil
}

func (s *Server) describeRegions(r *request) (any, *apiError) {
	type item struct {
		Name     string `xml:"regionName"`
		Endpoint string `xml:"regionEndpoint"`
		OptIn    string `xml:"optInStatus"`
	}
	type out struct {
		Items []item `xml:"regionInfo>item"`
	}
	var names []string
	for n := range s.Model.Regions() {
		names = append(names, n)
	}
	sort.Strings(names)
	all, only, fs := r.params.bool("AllRegions"), r.params.strs("RegionName"), r.params.filters()
	var o out
	for _, n := range names {
		it := item{n, "ec2." + n + ".amazonaws.com", "opt-in-not-required"}
		if s.regionDisabled(n) {
			// EC2 lists a disabled region only when asked for all or by
			// name.
			if !all && len(only) == 0 {
				continue
			}
			it.OptIn = "not-opted-in"
		}
		if len(only) > 0 && !contains(only, n) {
			continue
		}
		ok := true
		for _, f := range fs {
			switch f.name {
			case "region-name":
				ok = ok && f.matchAny(n)
			case "opt-in-status":
				ok = ok && f.matchAny(it.OptIn)
			case "endpoint":
				ok = ok && f.matchAny(it.Endpoint)
			}
		}
		if ok {
			o.Items = append(o.Items, it)
		}
	}
	return o, nil
}

func (s *Server) describeVpcs(r *request) (any, *apiError) {
	type item struct {
		VpcID     string `xml:"vpcId"`
		State     string `xml:"state"`
		CIDR      string `xml:"cidrBlock"`
		IsDefault bool   `xml:"isDefault"`
		OwnerID   string `xml:"ownerId"`
	}
	type out struct {
		Items []item `xml:"vpcSet>item"`
	}
	var o out
	if !s.hasDefaultVPC(r.region) {
		return o, nil
	}
	v := item{DefaultVPC(r.region), "available", "172.31.0.0/16", true, s.AccountID}
	for _, f := range r.params.filters() {
		switch f.name {
		case "isDefault", "is-default":
			if !f.matchAny("true") {
				return o, nil
			}
		case "vpc-id":
			if !f.matchAny(v.VpcID) {
				return o, nil
			}
		}
	}
	if ids := r.params.strs("VpcId"); len(ids) > 0 && !contains(ids, v.VpcID) {
		return nil, &apiError{400, "InvalidVpcID.NotFound", fmt.Sprintf("The vpc ID '%s' does not exist", ids[0])}
	}
	o.Items = append(o.Items, v)
	return o, nil
}

func (s *Server) describeSubnets(r *request) (any, *apiError) {
	type item struct {
		SubnetID   string `xml:"subnetId"`
		VpcID      string `xml:"vpcId"`
		Zone       string `xml:"availabilityZone"`
		State      string `xml:"state"`
		CIDR       string `xml:"cidrBlock"`
		Free       int    `xml:"availableIpAddressCount"`
		DefaultAZ  bool   `xml:"defaultForAz"`
		MapPublic  bool   `xml:"mapPublicIpOnLaunch"`
		OwnerID    string `xml:"ownerId"`
		SubnetArn  string `xml:"subnetArn"`
		AssignIPv6 bool   `xml:"assignIpv6AddressOnCreation"`
	}
	type out struct {
		Items []item `xml:"subnetSet>item"`
	}
	var o out
	if !s.hasDefaultVPC(r.region) {
		return o, nil
	}
	ids := r.params.strs("SubnetId")
	for i, z := range s.Model.Zones(r.region) {
		it := item{DefaultSubnet(r.region, z), DefaultVPC(r.region), z, "available", fmt.Sprintf("172.31.%d.0/20", 16*i), 4091, true, true, s.AccountID,
			fmt.Sprintf("arn:aws:ec2:%s:%s:subnet/%s", r.region, s.AccountID, DefaultSubnet(r.region, z)), false}
		if len(ids) > 0 && !contains(ids, it.SubnetID) {
			continue
		}
		ok := true
		for _, f := range r.params.filters() {
			switch f.name {
			case "vpc-id":
				ok = ok && f.matchAny(it.VpcID)
			case "default-for-az", "defaultForAz":
				ok = ok && f.matchAny("true")
			case "availability-zone", "availabilityZone":
				ok = ok && f.matchAny(z)
			case "state":
				ok = ok && f.matchAny("available")
			}
		}
		if ok {
			o.Items = append(o.Items, it)
		}
	}
	return o, nil
}

// --- security groups ---

// EC2's naming rules (CreateSecurityGroup, CreateLaunchTemplate).
var (
	groupTextRE = regexp.MustCompile(`^[a-zA-Z0-9 ._\-:/()#,@\[\]+=&;{}!$*]{1,255}$`)
	ltNameRE    = regexp.MustCompile(`^[a-zA-Z0-9().\-/_]{3,128}$`)
)

// checkGroupText applies a VPC security group's rule for names and
// descriptions: up to 255 characters of a-z, A-Z, 0-9, spaces and
// ._-:/()#,@[]+=&;{}!$*.
func checkGroupText(what, v string) *apiError {
	if !groupTextRE.MatchString(v) {
		return errInvalid("Invalid %s '%s': up to 255 characters of a-z, A-Z, 0-9, spaces, and ._-:/()#,@[]+=&;{}!$*", what, v)
	}
	return nil
}

type sgItem struct {
	OwnerID     string    `xml:"ownerId"`
	GroupID     string    `xml:"groupId"`
	GroupName   string    `xml:"groupName"`
	Description string    `xml:"groupDescription"`
	VpcID       string    `xml:"vpcId"`
	Ingress     []permXML `xml:"ipPermissions>item"`
	Tags        *tagSet   `xml:"tagSet"`
}

type permXML struct {
	Protocol string      `xml:"ipProtocol"`
	FromPort *int        `xml:"fromPort"`
	ToPort   *int        `xml:"toPort"`
	Groups   []groupPair `xml:"groups>item"`
	Ranges   []ipRange   `xml:"ipRanges>item"`
	Ranges6  []ip6Range  `xml:"ipv6Ranges>item"`
}

type groupPair struct {
	UserID  string `xml:"userId"`
	GroupID string `xml:"groupId"`
}

type ipRange struct {
	CIDR string `xml:"cidrIp"`
}

type ip6Range struct {
	CIDR string `xml:"cidrIpv6"`
}

func (s *Server) sgByName(region, vpc, name string) (cloudsim.Resource, bool) {
	rs := s.Model.Resources(KindSecurityGroup, func(r *cloudsim.Resource) bool {
		return r.Region == region && r.Name == name && r.Data.(*SecurityGroup).VpcID == vpc
	})
	if len(rs) == 0 {
		return cloudsim.Resource{}, false
	}
	return rs[0], true
}

func (s *Server) createSecurityGroup(r *request) (any, *apiError) {
	name, desc := r.params.str("GroupName"), r.params.str("GroupDescription")
	if name == "" {
		return nil, errMissing("GroupName")
	}
	if desc == "" {
		return nil, errMissing("GroupDescription")
	}
	vpc := r.params.str("VpcId")
	if vpc == "" {
		if !s.hasDefaultVPC(r.region) {
			return nil, &apiError{400, "VPCIdNotSpecified", "No default VPC for this user"}
		}
		vpc = DefaultVPC(r.region)
	}
	if vpc != DefaultVPC(r.region) || !s.hasDefaultVPC(r.region) {
		return nil, &apiError{400, "InvalidVpcID.NotFound", fmt.Sprintf("The vpc ID '%s' does not exist", vpc)}
	}
	if err := checkGroupText("group name", name); err != nil {
		return nil, err
	}
	if strings.HasPrefix(name, "sg-") {
		return nil, errInvalid("Group names may not be in the format sg-*.")
	}
	if err := checkGroupText("group description", desc); err != nil {
		return nil, err
	}
	if _, dup := s.sgByName(r.region, vpc, name); dup {
		return nil, &apiError{400, "InvalidGroup.Duplicate", fmt.Sprintf("The security group '%s' already exists for VPC '%s'", name, vpc)}
	}
	id := s.newID("sg")
	s.Model.PutResource(cloudsim.Resource{Kind: KindSecurityGroup, ID: id, Name: name, Region: r.region,
		Tags: r.params.tagSpecs()["security-group"], Data: &SecurityGroup{VpcID: vpc, Description: desc}})
	type out struct {
		GroupID string  `xml:"groupId"`
		Tags    *tagSet `xml:"tagSet"`
	}
	return out{id, toTagSet(r.params.tagSpecs()["security-group"])}, nil
}

func (s *Server) findSG(r *request) (cloudsim.Resource, *apiError) {
	if id := r.params.str("GroupId"); id != "" {
		res, ok := s.Model.Resource(KindSecurityGroup, id)
		if !ok || res.Region != r.region {
			return res, &apiError{400, "InvalidGroup.NotFound", fmt.Sprintf("The security group '%s' does not exist", id)}
		}
		return res, nil
	}
	name := r.params.str("GroupName")
	if name == "" {
		return cloudsim.Resource{}, errMissing("GroupId")
	}
	res, ok := s.sgByName(r.region, DefaultVPC(r.region), name)
	if !ok {
		return res, &apiError{400, "InvalidGroup.NotFound", fmt.Sprintf("The security group '%s' does not exist in default VPC", name)}
	}
	return res, nil
}

func (s *Server) authorizeIngress(r *request) (any, *apiError) {
	sg, aerr := s.findSG(r)
	if aerr != nil {
		return nil, aerr
	}
	var add []Permission
	for _, p := range r.params.list("IpPermissions") {
		perm := Permission{Protocol: p.str("IpProtocol"), FromPort: p.int("FromPort", -1), ToPort: p.int("ToPort", -1)}
		for _, g := range p.list("Groups") {
			perm.Groups = append(perm.Groups, g.str("GroupId"))
		}
		for _, c := range p.list("IpRanges") {
			perm.CIDRs = append(perm.CIDRs, c.str("CidrIp"))
		}
		for _, c := range p.list("Ipv6Ranges") {
			perm.IPv6CIDRs = append(perm.IPv6CIDRs, c.str("CidrIpv6"))
		}
		add = append(add, perm)
	}
	if c := r.params.str("CidrIp"); c != "" {
		add = append(add, Permission{Protocol: r.params.str("IpProtocol"), FromPort: r.params.int("FromPort", -1), ToPort: r.params.int("ToPort", -1), CIDRs: []string{c}})
	}
	if len(add) == 0 {
		return nil, errMissing("IpPermissions")
	}
	var dup bool
	s.Model.UpdateResource(KindSecurityGroup, sg.ID, func(res *cloudsim.Resource) {
		d := res.Data.(*SecurityGroup)
		for _, a := range add {
			for _, e := range d.Ingress {
				if fmt.Sprint(e) == fmt.Sprint(a) {
					dup = true
				}
			}
		}
		if !dup {
			d.Ingress = append(d.Ingress, add...)
		}
	})
	if dup {
		return nil, &apiError{400, "InvalidPermission.Duplicate", "the specified rule already exists"}
	}
	type out struct {
		Return bool `xml:"return"`
	}
	return out{true}, nil
}

func (s *Server) deleteSecurityGroup(r *request) (any, *apiError) {
	sg, aerr := s.findSG(r)
	if aerr != nil {
		return nil, aerr
	}
	users := s.Model.Instances(func(in *cloudsim.Instance) bool {
		return in.Region == r.region && in.State != cloudsim.Terminated && contains(strings.Split(in.Attrs["SecurityGroupIds"], ","), sg.ID)
	})
	if len(users) > 0 {
		return nil, &apiError{400, "DependencyViolation", fmt.Sprintf("resource %s has a dependent object", sg.ID)}
	}
	s.Model.DeleteResource(KindSecurityGroup, sg.ID)
	type out struct {
		Return bool   `xml:"return"`
		ID     string `xml:"groupId"`
	}
	return out{true, sg.ID}, nil
}

func (s *Server) describeSecurityGroups(r *request) (any, *apiError) {
	ids, names, fs := r.params.strs("GroupId"), r.params.strs("GroupName"), r.params.filters()
	rs := s.Model.Resources(KindSecurityGroup, func(res *cloudsim.Resource) bool {
		if res.Region != r.region {
			return false
		}
		if len(ids) > 0 && !contains(ids, res.ID) || len(names) > 0 && !contains(names, res.Name) {
			return false
		}
		d := res.Data.(*SecurityGroup)
		for _, f := range fs {
			switch f.name {
			case "group-name":
				if !f.matchAny(res.Name) {
					return false
				}
			case "group-id":
				if !f.matchAny(res.ID) {
					return false
				}
			case "vpc-id":
				if !f.matchAny(d.VpcID) {
					return false
				}
			}
		}
		return tagFilter(fs, res.Tags)
	})
	if len(ids) > 0 && len(rs) < len(ids) {
		return nil, &apiError{400, "InvalidGroup.NotFound", "The security group does not exist"}
	}
	type out struct {
		Items []sgItem `xml:"securityGroupInfo>item"`
	}
	var o out
	for _, res := range rs {
		d := res.Data.(*SecurityGroup)
		it := sgItem{OwnerID: s.AccountID, GroupID: res.ID, GroupName: res.Name, Description: d.Description, VpcID: d.VpcID, Tags: toTagSet(res.Tags)}
		for _, p := range d.Ingress {
			px := permXML{Protocol: p.Protocol}
			if p.FromPort >= 0 {
				from, to := p.FromPort, p.ToPort
				px.FromPort, px.ToPort = &from, &to
			}
			for _, g := range p.Groups {
				px.Groups = append(px.Groups, groupPair{s.AccountID, g})
			}
			for _, c := range p.CIDRs {
				px.Ranges = append(px.Ranges, ipRange{c})
			}
			for _, c := range p.IPv6CIDRs {
				px.Ranges6 = append(px.Ranges6, ip6Range{c})
			}
			it.Ingress = append(it.Ingress, px)
		}
		o.Items = append(o.Items, it)
	}
	return o, nil
}

// --- key pairs ---

func (s *Server) keyByName(region, name string) (cloudsim.Resource, bool) {
	rs := s.Model.Resources(KindKeyPair, func(r *cloudsim.Resource) bool { return r.Region == region && r.Name == name })
	if len(rs) == 0 {
		return cloudsim.Resource{}, false
	}
	return rs[0], true
}

func (s *Server) createKeyPair(r *request) (any, *apiError) {
	name := r.params.str("KeyName")
	if name == "" {
		return nil, errMissing("KeyName")
	}
	if len(name) > 255 || strings.IndexFunc(name, func(c rune) bool { return c < 0x20 || c > 0x7e }) >= 0 {
		return nil, errInvalid("Key pair names are at most 255 printable ASCII characters: '%s'", name)
	}
	if _, dup := s.keyByName(r.region, name); dup {
		return nil, &apiError{400, "InvalidKeyPair.Duplicate", fmt.Sprintf("The keypair '%s' already exists.", name)}
	}
	kt := r.params.str("KeyType")
	if kt == "" {
		kt = "rsa"
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, &apiError{500, "InternalError", err.Error()}
	}
	der, _ := x509.MarshalPKCS8PrivateKey(priv)
	material := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	sum := md5.Sum(der)
	fp := fmt.Sprintf("%x", sum)
	id := s.newID("key")
	tags := r.params.tagSpecs()["key-pair"]
	s.Model.PutResource(cloudsim.Resource{Kind: KindKeyPair, ID: id, Name: name, Region: r.region, Tags: tags, Data: &KeyPair{Fingerprint: fp, Type: kt}})
	type out struct {
		Name        string  `xml:"keyName"`
		Fingerprint string  `xml:"keyFingerprint"`
		Material    string  `xml:"keyMaterial"`
		ID          string  `xml:"keyPairId"`
		Tags        *tagSet `xml:"tagSet"`
	}
	return out{name, fp, material, id, toTagSet(tags)}, nil
}

func (s *Server) describeKeyPairs(r *request) (any, *apiError) {
	names, ids, fs := r.params.strs("KeyName"), r.params.strs("KeyPairId"), r.params.filters()
	rs := s.Model.Resources(KindKeyPair, func(res *cloudsim.Resource) bool {
		if res.Region != r.region || len(names) > 0 && !contains(names, res.Name) || len(ids) > 0 && !contains(ids, res.ID) {
			return false
		}
		for _, f := range fs {
			if f.name == "key-name" && !f.matchAny(res.Name) {
				return false
			}
		}
		return tagFilter(fs, res.Tags)
	})
	if len(names)+len(ids) > 0 && len(rs) == 0 {
		return nil, &apiError{400, "InvalidKeyPair.NotFound", "The key pair does not exist"}
	}
	type item struct {
		ID          string  `xml:"keyPairId"`
		Name        string  `xml:"keyName"`
		Fingerprint string  `xml:"keyFingerprint"`
		Type        string  `xml:"keyType"`
		Created     string  `xml:"createTime"`
		Tags        *tagSet `xml:"tagSet"`
	}
	type out struct {
		Items []item `xml:"keySet>item"`
	}
	var o out
	for _, res := range rs {
		d := res.Data.(*KeyPair)
		o.Items = append(o.Items, item{res.ID, res.Name, d.Fingerprint, d.Type, res.CreatedAt.UTC().Format("2006-01-02T15:04:05.000Z"), toTagSet(res.Tags)})
	}
	return o, nil
}

func (s *Server) deleteKeyPair(r *request) (any, *apiError) {
	var res cloudsim.Resource
	var ok bool
	if id := r.params.str("KeyPairId"); id != "" {
		res, ok = s.Model.Resource(KindKeyPair, id)
	} else if name := r.params.str("KeyName"); name != "" {
		res, ok = s.keyByName(r.region, name)
	} else {
		return nil, errMissing("KeyName")
	}
	// EC2 answers success for a key pair that does not exist.
	if ok {
		s.Model.DeleteResource(KindKeyPair, res.ID)
	}
	type out struct {
		Return bool `xml:"return"`
	}
	return out{true}, nil
}

// --- images ---

func (s *Server) describeImages(r *request) (any, *apiError) {
	owners, ids, fs := r.params.strs("Owner"), r.params.strs("ImageId"), r.params.filters()
	s.mu.Lock()
	imgs := append([]Image(nil), s.images...)
	s.mu.Unlock()
	type item struct {
		ID           string `xml:"imageId"`
		Name         string `xml:"name"`
		State        string `xml:"imageState"`
		Owner        string `xml:"imageOwnerId"`
		Alias        string `xml:"imageOwnerAlias,omitempty"`
		Arch         string `xml:"architecture"`
		Created      string `xml:"creationDate"`
		RootDevice   string `xml:"rootDeviceName"`
		RootType     string `xml:"rootDeviceType"`
		Virt         string `xml:"virtualizationType"`
		Public       bool   `xml:"isPublic"`
		ImageType    string `xml:"imageType"`
		EnaSupported bool   `xml:"enaSupport"`
	}
	type out struct {
		Items []item `xml:"imagesSet>item"`
	}
	var o out
	for _, im := range imgs {
		if im.Region != r.region || len(ids) > 0 && !contains(ids, im.ID) {
			continue
		}
		if len(owners) > 0 && !contains(owners, im.Owner) && (im.OwnerAlias == "" || !contains(owners, im.OwnerAlias)) {
			continue
		}
		ok := true
		for _, f := range fs {
			switch f.name {
			case "name":
				ok = ok && f.matchAny(im.Name)
			case "architecture":
				ok = ok && f.matchAny(im.Arch)
			case "state":
				ok = ok && f.matchAny("available")
			case "owner-id":
				ok = ok && f.matchAny(im.Owner)
			case "root-device-type":
				ok = ok && f.matchAny("ebs")
			case "virtualization-type":
				ok = ok && f.matchAny("hvm")
			}
		}
		if ok {
			o.Items = append(o.Items, item{im.ID, im.Name, "available", im.Owner, im.OwnerAlias, im.Arch,
				im.Created.Format("2006-01-02T15:04:05.000Z"), im.RootDevice, "ebs", "hvm", true, "machine", true})
		}
	}
	return o, nil
}

func (s *Server) image(region, id string) (Image, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, im := range s.images {
		if im.Region == region && im.ID == id {
			return im, true
		}
	}
	return Image{}, false
}

// --- launch templates ---

func (s *Server) ltByName(region, name string) (cloudsim.Resource, bool) {
	rs := s.Model.Resources(KindLaunchTemplate, func(r *cloudsim.Resource) bool { return r.Region == region && r.Name == name })
	if len(rs) == 0 {
		return cloudsim.Resource{}, false
	}
	return rs[0], true
}

type ltItem struct {
	ID        string  `xml:"launchTemplateId"`
	Name      string  `xml:"launchTemplateName"`
	Created   string  `xml:"createTime"`
	CreatedBy string  `xml:"createdBy"`
	Default   int     `xml:"defaultVersionNumber"`
	Latest    int     `xml:"latestVersionNumber"`
	Tags      *tagSet `xml:"tagSet"`
}

func (s *Server) ltItem(res cloudsim.Resource) ltItem {
	return ltItem{res.ID, res.Name, res.CreatedAt.UTC().Format("2006-01-02T15:04:05.000Z"), "arn:aws:iam::" + s.AccountID + ":user/burst", 1, 1, toTagSet(res.Tags)}
}

func (s *Server) createLaunchTemplate(r *request) (any, *apiError) {
	name := r.params.str("LaunchTemplateName")
	if name == "" {
		return nil, errMissing("LaunchTemplateName")
	}
	if !ltNameRE.MatchString(name) {
		return nil, errInvalid("Launch template name '%s' must be 3 to 128 characters of a-z, A-Z, 0-9, ( ) . - / _", name)
	}
	if _, dup := s.ltByName(r.region, name); dup {
		return nil, &apiError{400, "InvalidLaunchTemplateName.AlreadyExistsException", fmt.Sprintf("Launch template name already in use: %s", name)}
	}
	d := r.params.get("LaunchTemplateData")
	if d == nil {
		return nil, errMissing("LaunchTemplateData")
	}
	lt := &LaunchTemplate{
		ImageID: d.str("ImageId"), InstanceType: d.str("InstanceType"), KeyName: d.str("KeyName"), UserData: d.str("UserData"),
		ShutdownBehavior: d.str("InstanceInitiatedShutdownBehavior"), SecurityGroupIDs: d.strs("SecurityGroupId"),
		HTTPTokens: d.str("MetadataOptions.HttpTokens"), HopLimit: d.int("MetadataOptions.HttpPutResponseHopLimit", 1),
		TagSpecs: d.tagSpecs(),
	}
	if len(lt.UserData) > 0 && len(lt.UserData) > 4*((16<<10)+2)/3 {
		return nil, errInvalid("User data is limited to 16384 bytes")
	}
	for _, b := range d.list("BlockDeviceMapping") {
		lt.RootDevice = b.str("DeviceName")
		lt.VolumeSize = b.int("Ebs.VolumeSize", 8)
		lt.VolumeType = b.str("Ebs.VolumeType")
		lt.Encrypted = b.bool("Ebs.Encrypted")
		lt.DeleteOnTermination = b.bool("Ebs.DeleteOnTermination")
	}
	if lt.ImageID != "" {
		if _, ok := s.image(r.region, lt.ImageID); !ok {
			return nil, &apiError{400, "InvalidAMIID.NotFound", fmt.Sprintf("The image id '[%s]' does not exist", lt.ImageID)}
		}
	}
	for _, sg := range lt.SecurityGroupIDs {
		if res, ok := s.Model.Resource(KindSecurityGroup, sg); !ok || res.Region != r.region {
			return nil, &apiError{400, "InvalidGroup.NotFound", fmt.Sprintf("The security group '%s' does not exist", sg)}
		}
	}
	id := s.newID("lt")
	s.Model.PutResource(cloudsim.Resource{Kind: KindLaunchTemplate, ID: id, Name: name, Region: r.region, Tags: r.params.tagSpecs()["launch-template"], Data: lt})
	res, _ := s.Model.Resource(KindLaunchTemplate, id)
	type out struct {
		LT ltItem `xml:"launchTemplate"`
	}
	return out{s.ltItem(res)}, nil
}

func (s *Server) describeLaunchTemplates(r *request) (any, *apiError) {
	ids, names, fs := r.params.strs("LaunchTemplateId"), r.params.strs("LaunchTemplateName"), r.params.filters()
	rs := s.Model.Resources(KindLaunchTemplate, func(res *cloudsim.Resource) bool {
		if res.Region != r.region || len(ids) > 0 && !contains(ids, res.ID) || len(names) > 0 && !contains(names, res.Name) {
			return false
		}
		for _, f := range fs {
			if f.name == "launch-template-name" && !f.matchAny(res.Name) {
				return false
			}
		}
		return tagFilter(fs, res.Tags)
	})
	if len(ids)+len(names) > 0 && len(rs) == 0 {
		return nil, &apiError{400, "InvalidLaunchTemplateName.NotFoundException", "At least one of the launch templates specified in the request does not exist."}
	}
	type out struct {
		Items []ltItem `xml:"launchTemplates>item"`
	}
	var o out
	for _, res := range rs {
		o.Items = append(o.Items, s.ltItem(res))
	}
	return o, nil
}

func (s *Server) describeLaunchTemplateVersions(r *request) (any, *apiError) {
	res, aerr := s.findLT(r.region, r.params.str("LaunchTemplateId"), r.params.str("LaunchTemplateName"))
	if aerr != nil {
		return nil, aerr
	}
	lt := res.Data.(*LaunchTemplate)
	type data struct {
		ImageID  string `xml:"imageId"`
		KeyName  string `xml:"keyName"`
		UserData string `xml:"userData"`
		Shutdown string `xml:"instanceInitiatedShutdownBehavior"`
	}
	type item struct {
		ID      string `xml:"launchTemplateId"`
		Name    string `xml:"launchTemplateName"`
		Version int    `xml:"versionNumber"`
		Default bool   `xml:"defaultVersion"`
		Data    data   `xml:"launchTemplateData"`
	}
	type out struct {
		Items []item `xml:"launchTemplateVersionSet>item"`
	}
	return out{[]item{{res.ID, res.Name, 1, true, data{lt.ImageID, lt.KeyName, lt.UserData, lt.ShutdownBehavior}}}}, nil
}

func (s *Server) findLT(region, id, name string) (cloudsim.Resource, *apiError) {
	var res cloudsim.Resource
	var ok bool
	switch {
	case id != "":
		res, ok = s.Model.Resource(KindLaunchTemplate, id)
		ok = ok && res.Region == region
	case name != "":
		res, ok = s.ltByName(region, name)
	default:
		return res, errMissing("LaunchTemplateId")
	}
	if !ok {
		return res, &apiError{400, "InvalidLaunchTemplateId.NotFound", fmt.Sprintf("The specified launch template, with template ID %s, does not exist.", id+name)}
	}
	return res, nil
}

func (s *Server) deleteLaunchTemplate(r *request) (any, *apiError) {
	res, aerr := s.findLT(r.region, r.params.str("LaunchTemplateId"), r.params.str("LaunchTemplateName"))
	if aerr != nil {
		return nil, aerr
	}
	s.Model.DeleteResource(KindLaunchTemplate, res.ID)
	type out struct {
		LT ltItem `xml:"launchTemplate"`
	}
	return out{s.ltItem(res)}, nil
}

// --- tags and account ---

func (s *Server) createTags(r *request) (any, *apiError) {
	tags := map[string]string{}
	for _, t := range r.params.list("Tag") {
		tags[t.str("Key")] = t.str("Value")
	}
	for _, id := range r.params.strs("ResourceId") {
		switch {
		case strings.HasPrefix(id, "i-"):
			if !s.Model.SetTags(id, tags) {
				return nil, &apiError{400, "InvalidInstanceID.NotFound", fmt.Sprintf("The instance ID '%s' does not exist", id)}
			}
		default:
			found := false
			for _, k := range []string{KindSecurityGroup, KindKeyPair, KindLaunchTemplate} {
				if s.Model.UpdateResource(k, id, func(res *cloudsim.Resource) {
					if res.Tags == nil {
						res.Tags = map[string]string{}
					}
					for k, v := range tags {
						res.Tags[k] = v
					}
				}) {
					found = true
				}
			}
			if !found {
				return nil, &apiError{400, "InvalidID", fmt.Sprintf("The ID '%s' is not valid", id)}
			}
		}
	}
	type out struct {
		Return bool `xml:"return"`
	}
	return out{true}, nil
}

func (s *Server) describeAccountAttributes(r *request) (any, *apiError) {
	type val struct {
		V string `xml:"attributeValue"`
	}
	type item struct {
		Name   string `xml:"attributeName"`
		Values []val  `xml:"attributeValueSet>item"`
	}
	type out struct {
		Items []item `xml:"accountAttributeSet>item"`
	}
	dv := "none"
	if s.hasDefaultVPC(r.region) {
		dv = DefaultVPC(r.region)
	}
	return out{[]item{{"supported-platforms", []val{{"VPC"}}}, {"default-vpc", []val{{dv}}}, {"max-instances", []val{{"20"}}}}}, nil
}
