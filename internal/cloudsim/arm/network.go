package arm

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v6"

	"github.com/burstdev/burst/internal/cloudsim"
)

// defaultSecurityRules are the rules Azure adds to every NSG.
func defaultSecurityRules(nsgID string) []*armnetwork.SecurityRule {
	rule := func(name, dir, src, dst string, prio int32, access string) *armnetwork.SecurityRule {
		return &armnetwork.SecurityRule{
			ID: ptr(nsgID + "/defaultSecurityRules/" + name), Name: ptr(name),
			Properties: &armnetwork.SecurityRulePropertiesFormat{
				Access: ptr(armnetwork.SecurityRuleAccess(access)), Direction: ptr(armnetwork.SecurityRuleDirection(dir)),
				Protocol: ptr(armnetwork.SecurityRuleProtocolAsterisk), Priority: ptr(prio),
				SourceAddressPrefix: ptr(src), DestinationAddressPrefix: ptr(dst),
				SourcePortRange: ptr("*"), DestinationPortRange: ptr("*"), ProvisioningState: ptr(armnetwork.ProvisioningStateSucceeded),
			},
		}
	}
	return []*armnetwork.SecurityRule{
		rule("AllowVnetInBound", "Inbound", "VirtualNetwork", "VirtualNetwork", 65000, "Allow"),
		rule("AllowAzureLoadBalancerInBound", "Inbound", "AzureLoadBalancer", "*", 65001, "Allow"),
		rule("DenyAllInBound", "Inbound", "*", "*", 65500, "Deny"),
		rule("AllowVnetOutBound", "Outbound", "VirtualNetwork", "VirtualNetwork", 65000, "Allow"),
		rule("AllowInternetOutBound", "Outbound", "*", "Internet", 65001, "Allow"),
		rule("DenyAllOutBound", "Outbound", "*", "*", 65500, "Deny"),
	}
}

// networkResource serves PUT and GET of NSGs and virtual networks. PUTs are
// long-running operations, as in Azure, that finish at once.
func (c *ctx) networkResource() {
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	rg, ok := c.requireRG()
	if !ok {
		return
	}
	kind := c.ns + "/" + c.typ
	id := c.resourceID()
	existing, exists := s.m.Resource(kind, lowerID(id))
	if c.r.Method == http.MethodGet {
		if !exists {
			c.fail(errorf(http.StatusNotFound, "ResourceNotFound", "The Resource '%s/%s' under resource group '%s' was not found.", kind, c.name, c.rg))
			return
		}
		c.reply(http.StatusOK, existing.Data, nil)
		return
	}
	status := http.StatusCreated
	if exists {
		status = http.StatusOK
	}
	what := map[string]string{KindNSG: NameNSG, KindVNet: NameVNet}[kind]
	if e := checkName(what, c.name); e != nil {
		c.fail(e)
		return
	}
	var loc string
	var tags map[string]string
	var data any
	switch kind {
	case KindNSG:
		var in armnetwork.SecurityGroup
		if e := c.decode(&in); e != nil {
			c.fail(e)
			return
		}
		if in.Properties == nil {
			in.Properties = &armnetwork.SecurityGroupPropertiesFormat{}
		}
		for _, r := range in.Properties.SecurityRules {
			if e := validateRule(r); e != nil {
				c.fail(e)
				return
			}
			if e := checkName(NameSecurityRule, deref(r.Name)); e != nil {
				c.fail(e)
				return
			}
			r.ID = ptr(id + "/securityRules/" + deref(r.Name))
			r.Properties.ProvisioningState = ptr(armnetwork.ProvisioningStateSucceeded)
		}
		in.ID, in.Name, in.Type = ptr(id), ptr(c.name), ptr(kind)
		in.Properties.DefaultSecurityRules = defaultSecurityRules(id)
		in.Properties.ProvisioningState = ptr(armnetwork.ProvisioningStateSucceeded)
		loc, tags, data = deref(in.Location), tagsOf(in.Tags), &in
	case KindVNet:
		var in armnetwork.VirtualNetwork
		if e := c.decode(&in); e != nil {
			c.fail(e)
			return
		}
		if in.Properties == nil || in.Properties.AddressSpace == nil || len(in.Properties.AddressSpace.AddressPrefixes) == 0 {
			c.fail(errorf(http.StatusBadRequest, "InvalidRequestFormat", "A virtual network needs an address space."))
			return
		}
		for _, sn := range in.Properties.Subnets {
			if e := checkName(NameSubnet, deref(sn.Name)); e != nil {
				c.fail(e)
				return
			}
			if sn.Properties == nil || (deref(sn.Properties.AddressPrefix) == "" && len(sn.Properties.AddressPrefixes) == 0) {
				c.fail(errorf(http.StatusBadRequest, "InvalidRequestFormat", "Subnet '%s' needs an address prefix.", deref(sn.Name)))
				return
			}
			if nsg := sn.Properties.NetworkSecurityGroup; nsg != nil {
				if _, ok := s.m.Resource(KindNSG, lowerID(deref(nsg.ID))); !ok {
					c.fail(errorf(http.StatusBadRequest, "InvalidResourceReference", "Resource %s referenced by resource %s/subnets/%s was not found.", deref(nsg.ID), id, deref(sn.Name)))
					return
				}
				s.link("Microsoft.Network/networkSecurityGroups/join/action")
			}
			sn.ID = ptr(id + "/subnets/" + deref(sn.Name))
			sn.Properties.ProvisioningState = ptr(armnetwork.ProvisioningStateSucceeded)
		}
		in.ID, in.Name, in.Type = ptr(id), ptr(c.name), ptr(kind)
		in.Properties.ProvisioningState = ptr(armnetwork.ProvisioningStateSucceeded)
		loc, tags, data = deref(in.Location), tagsOf(in.Tags), &in
	}
	if loc == "" {
		c.fail(errorf(http.StatusBadRequest, "LocationRequired", "The location property is required for this definition."))
		return
	}
	s.m.PutResource(cloudsim.Resource{Kind: kind, ID: lowerID(id), Name: c.name, Region: loc, Tags: tags, Parent: rg.ID, Data: data})
	op := s.newOp("Microsoft.Network", loc, nil, nil, nil)
	// The first answer says Updating, as Azure's does: the client polls
	// the operation, then GETs the resource.
	var first map[string]any
	b, _ := json.Marshal(data)
	_ = json.Unmarshal(b, &first)
	if props, ok := first["properties"].(map[string]any); ok {
		props["provisioningState"] = "Updating"
	}
	c.accepted(status, first, op)
}

func validateRule(r *armnetwork.SecurityRule) *apiError {
	if r == nil || r.Properties == nil || r.Name == nil {
		return errorf(http.StatusBadRequest, "InvalidRequestFormat", "A security rule needs a name and properties.")
	}
	p := r.Properties
	if p.Priority == nil || *p.Priority < 100 || *p.Priority > 4096 {
		return errorf(http.StatusBadRequest, "SecurityRuleInvalidPriority", "Security rule %s has invalid Priority. Value provided: %d Allowed range 100-4096.", *r.Name, deref(p.Priority))
	}
	if p.Access == nil || p.Direction == nil || p.Protocol == nil {
		return errorf(http.StatusBadRequest, "InvalidRequestFormat", "Security rule %s needs access, direction and protocol.", *r.Name)
	}
	if p.SourceAddressPrefix == nil && len(p.SourceAddressPrefixes) == 0 {
		return errorf(http.StatusBadRequest, "SecurityRuleParameterContainsUnsupportedValue", "Security rule %s needs a source address prefix.", *r.Name)
	}
	if p.DestinationPortRange == nil && len(p.DestinationPortRanges) == 0 {
		return errorf(http.StatusBadRequest, "SecurityRuleParameterContainsUnsupportedValue", "Security rule %s needs a destination port range.", *r.Name)
	}
	return nil
}

// subnet returns the subnet with the given ID, if its virtual network
// exists.
func (s *Server) subnet(id string) (*armnetwork.Subnet, bool) {
	low := lowerID(id)
	i := strings.Index(low, "/subnets/")
	if i < 0 {
		return nil, false
	}
	r, ok := s.m.Resource(KindVNet, low[:i])
	if !ok {
		return nil, false
	}
	for _, sn := range r.Data.(*armnetwork.VirtualNetwork).Properties.Subnets {
		if lowerID(deref(sn.ID)) == low {
			return sn, true
		}
	}
	return nil, false
}

func (c *ctx) listNetworkChildren() {
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	rg, ok := c.requireRG()
	if !ok {
		return
	}
	kind := c.ns + "/" + c.typ
	rs := s.m.Resources(kind, func(r *cloudsim.Resource) bool { return r.Parent == rg.ID })
	c.page(len(rs), func(i int) any { return s.networkChildJSON(rs[i]) })
}

func (c *ctx) getNetworkChild() {
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := c.requireRG(); !ok {
		return
	}
	kind := c.ns + "/" + c.typ
	r, ok := s.m.Resource(kind, lowerID(c.resourceID()))
	if !ok {
		c.fail(errorf(http.StatusNotFound, "ResourceNotFound", "The Resource '%s/%s' under resource group '%s' was not found.", kind, c.name, c.rg))
		return
	}
	c.reply(http.StatusOK, s.networkChildJSON(r), nil)
}

// networkChildJSON is a NIC or public IP as ARM shows it: the stored
// object, which the handler encodes before it lets go of the server's
// lock (reply runs under it), so nothing changes it meanwhile.
func (s *Server) networkChildJSON(r cloudsim.Resource) any {
	return r.Data
}
