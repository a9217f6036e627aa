package arm

import (
	"net/http"
	"regexp"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/authorization/armauthorization/v2"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/msi/armmsi"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources"

	"github.com/burstdev/burst/internal/cloudsim"
)

// Resource kinds in the model.
const (
	KindResourceGroup  = "Microsoft.Resources/resourceGroups"
	KindScaleSet       = "Microsoft.Compute/virtualMachineScaleSets"
	KindDisk           = "Microsoft.Compute/disks"
	KindVNet           = "Microsoft.Network/virtualNetworks"
	KindNSG            = "Microsoft.Network/networkSecurityGroups"
	KindNIC            = "Microsoft.Network/networkInterfaces"
	KindPublicIP       = "Microsoft.Network/publicIPAddresses"
	KindIdentity       = "Microsoft.ManagedIdentity/userAssignedIdentities"
	KindRoleAssignment = "Microsoft.Authorization/roleAssignments"
)

// VirtualMachineContributor is the built-in role burst assigns to a
// cluster's managed identity on its resource group.
const VirtualMachineContributor = "9980e02c-c2be-4d73-94e8-173b1dc7cf3c"

// builtinRoles are the role definitions the simulator knows, by GUID, with
// the actions they allow (a suffix "*" is a wildcard, as in Azure).
var builtinRoles = map[string][]string{
	VirtualMachineContributor: {
		"Microsoft.Authorization/*/read",
		"Microsoft.Compute/locations/*",
		"Microsoft.Compute/virtualMachines/*",
		"Microsoft.Compute/virtualMachineScaleSets/*",
		"Microsoft.Compute/disks/write",
		"Microsoft.Compute/disks/read",
		"Microsoft.Compute/disks/delete",
		"Microsoft.Network/networkInterfaces/*",
		"Microsoft.Network/publicIPAddresses/read",
		"Microsoft.Network/locations/*",
		"Microsoft.Resources/subscriptions/resourceGroups/read",
	},
}

// identityTokenPrefix marks the access tokens IMDS hands a managed
// identity; the rest of the token is the identity's principal ID.
const identityTokenPrefix = "mi:"

func lowerID(id string) string { return strings.ToLower(id) }

// rgID is the canonical ID of a resource group.
func (s *Server) rgID(name string) string {
	return "/subscriptions/" + s.sub + "/resourceGroups/" + name
}

// resourceGroup returns the live resource group, if any.
func (s *Server) resourceGroup(name string) (cloudsim.Resource, bool) {
	r, ok := s.m.Resource(KindResourceGroup, lowerID(s.rgID(name)))
	if !ok || r.Data.(*rgState).deleting {
		return cloudsim.Resource{}, false
	}
	return r, true
}

type rgState struct {
	id       string // canonical case
	deleting bool
}

func (c *ctx) rgNotFound() *apiError {
	return errorf(http.StatusNotFound, "ResourceGroupNotFound", "Resource group '%s' could not be found.", c.rg)
}

func rgJSON(r cloudsim.Resource, state string) armresources.ResourceGroup {
	return armresources.ResourceGroup{
		ID: ptr(r.Data.(*rgState).id), Name: ptr(r.Name), Type: ptr("Microsoft.Resources/resourceGroups"),
		Location: ptr(r.Region), Tags: tagPtrs(r.Tags),
		Properties: &armresources.ResourceGroupProperties{ProvisioningState: ptr(state)},
	}
}

func (c *ctx) resourceGroup() {
	s := c.s
	switch c.r.Method {
	case http.MethodGet, http.MethodHead:
		r, ok := s.resourceGroup(c.rg)
		if !ok {
			if c.r.Method == http.MethodHead {
				c.reply(http.StatusNotFound, nil, nil)
				return
			}
			c.fail(c.rgNotFound())
			return
		}
		if c.r.Method == http.MethodHead {
			c.reply(http.StatusNoContent, nil, nil)
			return
		}
		c.reply(http.StatusOK, rgJSON(r, "Succeeded"), nil)
	case http.MethodPut, http.MethodPatch:
		var in armresources.ResourceGroup
		if e := c.decode(&in); e != nil {
			c.fail(e)
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		id := s.rgID(c.rg)
		existing, exists := s.m.Resource(KindResourceGroup, lowerID(id))
		if exists && existing.Data.(*rgState).deleting {
			c.fail(errorf(http.StatusConflict, "ResourceGroupBeingDeleted", "The resource group '%s' is in deprovisioning state and cannot perform this operation.", c.rg))
			return
		}
		loc := deref(in.Location)
		if exists {
			if c.r.Method == http.MethodPut && loc != "" && !strings.EqualFold(loc, existing.Region) {
				c.fail(errorf(http.StatusConflict, "InvalidResourceGroupLocation", "Invalid resource group location '%s'. The Resource group already exists in location '%s'.", loc, existing.Region))
				return
			}
			tags := tagsOf(in.Tags)
			s.m.UpdateResource(KindResourceGroup, lowerID(id), func(r *cloudsim.Resource) { r.Tags = tags })
			r, _ := s.m.Resource(KindResourceGroup, lowerID(id))
			c.reply(http.StatusOK, rgJSON(r, "Succeeded"), nil)
			return
		}
		if c.r.Method == http.MethodPatch {
			c.fail(c.rgNotFound())
			return
		}
		if ValidName(NameResourceGroup, c.rg) != nil {
			c.fail(errorf(http.StatusBadRequest, "InvalidResourceGroupName", "Resource group name '%s' is invalid: %v.", c.rg, ValidName(NameResourceGroup, c.rg)))
			return
		}
		if _, ok := s.m.Regions()[loc]; !ok {
			c.fail(errorf(http.StatusBadRequest, "LocationNotAvailableForResourceGroup", "The provided location '%s' is not available for resource group.", loc))
			return
		}
		r := cloudsim.Resource{Kind: KindResourceGroup, ID: lowerID(id), Name: c.rg, Region: loc, Tags: tagsOf(in.Tags), Data: &rgState{id: id}}
		s.m.PutResource(r)
		r, _ = s.m.Resource(KindResourceGroup, lowerID(id))
		c.reply(http.StatusCreated, rgJSON(r, "Succeeded"), nil)
	case http.MethodDelete:
		// ARM force-deletes only VMs and scale sets; any other type is
		// refused before anything is deleted.
		if f := c.query("forceDeletionTypes"); f != "" {
			for _, t := range strings.Split(f, ",") {
				if !strings.EqualFold(t, "Microsoft.Compute/virtualMachines") && !strings.EqualFold(t, "Microsoft.Compute/virtualMachineScaleSets") {
					c.fail(errorf(http.StatusBadRequest, "InvalidForceDeletionType", "Force deletion of resource type '%s' is not supported.", t))
					return
				}
			}
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		r, ok := s.resourceGroup(c.rg)
		if !ok {
			c.fail(c.rgNotFound())
			return
		}
		op := s.deleteResourceGroupLocked(r)
		c.reply(http.StatusAccepted, nil, map[string]string{
			"Location":    c.base + "/subscriptions/" + s.sub + "/operationresults/" + op.id + "?api-version=" + c.query("api-version"),
			"Retry-After": "15",
		})
	}
}

// deleteResourceGroupLocked starts deleting a group and everything in it:
// its VMs shut down, and when they are gone every resource of the group
// goes, role assignments at its scope included.
func (s *Server) deleteResourceGroupLocked(r cloudsim.Resource) *operation {
	st := r.Data.(*rgState)
	st.deleting = true
	prefix := lowerID(st.id) + "/"
	var ids []string
	for id, rec := range s.vms {
		if strings.HasPrefix(id, prefix) {
			ids = append(ids, id)
			rec.deleted = true
		}
	}
	s.m.Terminate(ids, "user")
	done := func() bool {
		for _, id := range ids {
			if in, ok := s.m.Instance(id); ok && in.State != cloudsim.Terminated {
				return false
			}
		}
		return true
	}
	finish := func() {
		s.reap()
		for _, res := range s.m.Resources("", func(x *cloudsim.Resource) bool {
			return x.Parent == r.ID || strings.HasPrefix(x.ID, prefix)
		}) {
			s.m.DeleteResource(res.Kind, res.ID)
		}
		s.m.DeleteResource(KindResourceGroup, r.ID)
	}
	return s.newOp("Microsoft.Resources", r.Region, done, finish, nil)
}

func (c *ctx) operationResult() {
	s := c.s
	s.mu.Lock()
	op, ok := s.ops[c.name]
	finished := ok && s.settle(op)
	s.mu.Unlock()
	switch {
	case !ok:
		c.fail(errorf(http.StatusNotFound, "NotFound", "The operation '%s' was not found.", c.name))
	case !finished:
		c.reply(http.StatusAccepted, nil, map[string]string{"Location": c.base + c.r.URL.RequestURI(), "Retry-After": "15"})
	case op.err != nil:
		c.fail(op.err)
	default:
		c.reply(http.StatusOK, nil, nil)
	}
}

var tagFilter = regexp.MustCompile(`^\s*tagName eq '([^']*)'(?:\s+and\s+tagValue eq '([^']*)')?\s*$`)

func (c *ctx) listResourceGroups() {
	filter := c.query("$filter")
	var key, value string
	byValue := false
	if filter != "" {
		m := tagFilter.FindStringSubmatch(filter)
		if m == nil {
			c.fail(errorf(http.StatusBadRequest, "InvalidFilterInQueryString", "Invalid $filter '%s' specified in the query string.", filter))
			return
		}
		key, value = m[1], m[2]
		byValue = strings.Contains(filter, "tagValue")
	}
	var items []any
	for _, r := range c.s.m.Resources(KindResourceGroup, nil) {
		st := r.Data.(*rgState)
		if key != "" {
			v, ok := r.Tags[key]
			if !ok || (byValue && v != value) {
				continue
			}
		}
		state := "Succeeded"
		if st.deleting {
			state = "Deleting"
		}
		items = append(items, rgJSON(r, state))
	}
	c.pageOf(items)
}

// requireRG answers 404 and returns false when the routed group is missing.
func (c *ctx) requireRG() (cloudsim.Resource, bool) {
	r, ok := c.s.resourceGroup(c.rg)
	if !ok {
		c.fail(c.rgNotFound())
	}
	return r, ok
}

type identityState struct {
	obj armmsi.Identity
}

func (c *ctx) identity() {
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	rg, ok := c.requireRG()
	if !ok {
		return
	}
	id := c.resourceID()
	existing, exists := s.m.Resource(KindIdentity, lowerID(id))
	switch c.r.Method {
	case http.MethodGet:
		if !exists {
			c.fail(errorf(http.StatusNotFound, "ResourceNotFound", "The Resource '%s/%s' under resource group '%s' was not found.", KindIdentity, c.name, c.rg))
			return
		}
		c.reply(http.StatusOK, existing.Data.(*identityState).obj, nil)
	case http.MethodDelete:
		if exists {
			s.m.DeleteResource(KindIdentity, lowerID(id))
			c.reply(http.StatusOK, nil, nil)
			return
		}
		c.reply(http.StatusNoContent, nil, nil)
	case http.MethodPut:
		var in armmsi.Identity
		if e := c.decode(&in); e != nil {
			c.fail(e)
			return
		}
		loc := deref(in.Location)
		if loc == "" {
			loc = rg.Region
		}
		status := http.StatusOK
		st := &identityState{}
		now := s.m.Now().UTC()
		if exists {
			st = existing.Data.(*identityState)
			st.obj.SystemData.LastModifiedAt = ptr(now)
		} else {
			if e := checkName(NameIdentity, c.name); e != nil {
				c.fail(e)
				return
			}
			status = http.StatusCreated
			principal := uuidOf("principal" + lowerID(id))
			st.obj = armmsi.Identity{
				ID: ptr(id), Name: ptr(c.name), Type: ptr(KindIdentity), Location: ptr(loc),
				Properties: &armmsi.UserAssignedIdentityProperties{
					PrincipalID: ptr(principal), ClientID: ptr(uuidOf("client" + lowerID(id))), TenantID: ptr(DefaultTenant),
				},
				SystemData: &armmsi.SystemData{CreatedAt: ptr(now), LastModifiedAt: ptr(now)},
			}
		}
		st.obj.Tags = in.Tags
		s.m.PutResource(cloudsim.Resource{Kind: KindIdentity, ID: lowerID(id), Name: c.name, Region: loc, Tags: tagsOf(in.Tags), Parent: rg.ID, Data: st})
		c.reply(status, st.obj, nil)
	}
}

// identityByID returns a live identity by resource ID.
func (s *Server) identityByID(id string) (*identityState, bool) {
	r, ok := s.m.Resource(KindIdentity, lowerID(id))
	if !ok {
		return nil, false
	}
	return r.Data.(*identityState), true
}

func (s *Server) principalExists(p string) bool {
	for _, r := range s.m.Resources(KindIdentity, nil) {
		if deref(r.Data.(*identityState).obj.Properties.PrincipalID) == p {
			return true
		}
	}
	return false
}

type roleAssignmentState struct {
	obj   armauthorization.RoleAssignment
	scope string // lower case
	role  string // role definition GUID, lower case
}

func (c *ctx) roleAssignment() {
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	scope := s.rgID(c.rg)
	if _, ok := c.requireRG(); !ok {
		return
	}
	id := c.resourceID()
	existing, exists := s.m.Resource(KindRoleAssignment, lowerID(id))
	switch c.r.Method {
	case http.MethodGet:
		if !exists {
			c.fail(errorf(http.StatusNotFound, "RoleAssignmentNotFound", "The role assignment '%s' is not found.", c.name))
			return
		}
		c.reply(http.StatusOK, existing.Data.(*roleAssignmentState).obj, nil)
	case http.MethodDelete:
		if !exists {
			c.reply(http.StatusNoContent, nil, nil)
			return
		}
		s.m.DeleteResource(KindRoleAssignment, lowerID(id))
		c.reply(http.StatusOK, existing.Data.(*roleAssignmentState).obj, nil)
	case http.MethodPut:
		var in armauthorization.RoleAssignmentCreateParameters
		if e := c.decode(&in); e != nil {
			c.fail(e)
			return
		}
		if !validGUID.MatchString(c.name) {
			c.fail(errorf(http.StatusBadRequest, "InvalidRoleAssignmentId", "The role assignment ID '%s' is not valid. The role assignment ID must be a GUID.", c.name))
			return
		}
		if in.Properties == nil || deref(in.Properties.PrincipalID) == "" || deref(in.Properties.RoleDefinitionID) == "" {
			c.fail(errorf(http.StatusBadRequest, "InvalidRequestContent", "A role assignment needs properties.principalId and properties.roleDefinitionId."))
			return
		}
		principal := deref(in.Properties.PrincipalID)
		roleDef := lowerID(deref(in.Properties.RoleDefinitionID))
		role := roleDef[strings.LastIndexByte(roleDef, '/')+1:]
		if _, ok := builtinRoles[role]; !ok {
			c.fail(errorf(http.StatusBadRequest, "RoleDefinitionDoesNotExist", "The specified role definition with ID '%s' does not exist.", role))
			return
		}
		if !s.principalExists(principal) {
			c.fail(errorf(http.StatusBadRequest, "PrincipalNotFound", "Principal %s does not exist in the directory %s.", principal, DefaultTenant))
			return
		}
		if exists {
			st := existing.Data.(*roleAssignmentState)
			if deref(st.obj.Properties.PrincipalID) != principal || st.role != role {
				c.fail(errorf(http.StatusConflict, "RoleAssignmentUpdateNotPermitted", "Tenant ID, application ID, principal ID, and scope are not allowed to be updated."))
				return
			}
			c.reply(http.StatusCreated, st.obj, nil)
			return
		}
		for _, r := range s.m.Resources(KindRoleAssignment, nil) {
			st := r.Data.(*roleAssignmentState)
			if st.scope == lowerID(scope) && st.role == role && deref(st.obj.Properties.PrincipalID) == principal {
				c.fail(errorf(http.StatusConflict, "RoleAssignmentExists", "The role assignment already exists."))
				return
			}
		}
		st := &roleAssignmentState{scope: lowerID(scope), role: role, obj: armauthorization.RoleAssignment{
			ID: ptr(id), Name: ptr(c.name), Type: ptr(KindRoleAssignment),
			Properties: &armauthorization.RoleAssignmentProperties{
				PrincipalID: ptr(principal), RoleDefinitionID: in.Properties.RoleDefinitionID, Scope: ptr(scope),
				PrincipalType: in.Properties.PrincipalType, CreatedOn: ptr(s.m.Now().UTC()),
			},
		}}
		s.m.PutResource(cloudsim.Resource{Kind: KindRoleAssignment, ID: lowerID(id), Name: c.name, Parent: lowerID(scope), Data: st})
		c.reply(http.StatusCreated, st.obj, nil)
	}
}

var validGUID = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// authorizedLocked reports whether a managed identity's role assignments
// allow action on resource id.
func (s *Server) authorizedLocked(principal, action, id string) bool {
	id = lowerID(id)
	for _, r := range s.m.Resources(KindRoleAssignment, nil) {
		st := r.Data.(*roleAssignmentState)
		if deref(st.obj.Properties.PrincipalID) != principal {
			continue
		}
		if id != st.scope && !strings.HasPrefix(id, st.scope+"/") {
			continue
		}
		for _, a := range builtinRoles[st.role] {
			if actionMatches(a, action) {
				return true
			}
		}
	}
	return false
}

// actionMatches matches an RBAC action pattern ("*" matches any run of
// characters) against an action, case-insensitively.
func actionMatches(pattern, action string) bool {
	p, a := strings.ToLower(pattern), strings.ToLower(action)
	parts := strings.Split(p, "*")
	if len(parts) == 1 {
		return p == a
	}
	if !strings.HasPrefix(a, parts[0]) {
		return false
	}
	a = a[len(parts[0]):]
	for i, part := range parts[1:] {
		if i == len(parts)-2 {
			return strings.HasSuffix(a, part)
		}
		j := strings.Index(a, part)
		if j < 0 {
			return false
		}
		a = a[j+len(part):]
	}
	return true
}

// ActionMatches is actionMatches for tests of role definitions.
func ActionMatches(pattern, action string) bool { return actionMatches(pattern, action) }
