package azure

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/authorization/armauthorization/v2"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/msi/armmsi"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v6"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources"

	"github.com/burstdev/burst/internal/bootstrap"
	"github.com/burstdev/burst/internal/provider"
	"github.com/burstdev/burst/pkg/spec"
)

// VirtualMachineContributor is the built-in role a cluster's managed
// identity gets on the cluster's resource group, so a machine can delete
// itself (and nothing outside its cluster).
const VirtualMachineContributor = "9980e02c-c2be-4d73-94e8-173b1dc7cf3c"

// Address space of a cluster's virtual network: one /16 subnet holds far
// more than the largest cluster.
const (
	vnetPrefix   = "10.0.0.0/16"
	subnetPrefix = "10.0.0.0/16"
)

// Prepare implements provider.Preparer: in each location, the cluster's
// resource group, NSG, virtual network and subnet, and the managed identity
// with its role on the group. Every step is a PUT by name, so Prepare is
// idempotent; a process does it once per cluster and location (each run of
// burst again, which also brings the NSG up to the caller's current
// address). It also makes the cluster's SSH key. Up to four locations are
// prepared at once.
func (p *Provider) Prepare(ctx context.Context, req provider.PrepareRequest) error {
	if err := p.init(); err != nil {
		return err
	}
	if _, err := p.publicKey(req.Cluster); err != nil {
		return err
	}
	// Locations are independent of each other: they are prepared at once,
	// and the error is the first location's, in the request's order.
	locs := dedupe(req.Regions)
	return provider.Parallel(len(locs), 4, func(i int) error {
		return p.ensureRegion(ctx, req.Cluster, locs[i], req.Tags)
	})
}

func dedupe(ss []string) []string {
	var out []string
	for _, s := range ss {
		if s != "" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// groupTags are the tags of a cluster's shared resources: the cluster's
// own, without the per-role ones. burst-created is always set (now, when
// the caller gave none): `burst gc` dates a group by it, and a group is
// PUT again by each run of burst, so it says when burst last prepared the
// cluster there.
func (p *Provider) groupTags(cluster string, tags map[string]string) map[string]*string {
	out := map[string]*string{provider.TagCluster: to.Ptr(cluster)}
	for k, v := range tags {
		switch k {
		case provider.TagRole, TagToken, "Name":
			continue
		}
		out[k] = to.Ptr(v)
	}
	if _, ok := out[provider.TagOwner]; !ok {
		out[provider.TagOwner] = to.Ptr("unknown")
	}
	if _, ok := out[provider.TagCreated]; !ok {
		out[provider.TagCreated] = to.Ptr(strconv.FormatInt(p.opts.Now().Unix(), 10))
	}
	return out
}

// ensureRegion prepares a location once per process: Launch calls it, so a
// launch that fails over to a location Prepare did not know still has its
// network.
// Concurrent launches into a new location wait for one preparation rather
// than PUT the same network at once (ARM answers a second concurrent write
// of a virtual network with AnotherOperationInProgress).
func (p *Provider) ensureRegion(ctx context.Context, cluster, location string, tags map[string]string) error {
	key := cluster + "/" + location
	p.mu.Lock()
	if p.prepared[key] {
		p.mu.Unlock()
		return nil
	}
	lock, ok := p.preparing[key]
	if !ok {
		lock = &sync.Mutex{}
		p.preparing[key] = lock
	}
	p.mu.Unlock()
	lock.Lock()
	defer lock.Unlock()
	p.mu.Lock()
	done := p.prepared[key]
	p.mu.Unlock()
	if done {
		return nil
	}
	return p.prepareRegion(ctx, cluster, location, tags)
}

// prepareRegion PUTs the group (while the caller's address is looked up,
// which against Azure is a call to an echo service), then, at once, the
// two chains that need the group and nothing of each other: NSG ->
// virtual network (its subnet names the NSG) and identity -> role
// assignment (it names the identity's principal).
func (p *Provider) prepareRegion(ctx context.Context, cluster, location string, tags map[string]string) error {
	rg := resourceGroup(cluster, location)
	gt := p.groupTags(cluster, tags)
	var (
		cidrs   []string
		cidrErr error
		lookup  sync.WaitGroup
	)
	lookup.Add(1)
	go func() { defer lookup.Done(); cidrs, cidrErr = p.callerCIDRs(ctx) }()
	var answer *http.Response
	_, err := p.c.groups.CreateOrUpdate(capture(ctx, &answer), rg, armresources.ResourceGroup{Location: to.Ptr(location), Tags: gt}, nil)
	lookup.Wait()
	if err != nil {
		return classify("ResourceGroups.CreateOrUpdate", err)
	}
	if answer != nil && answer.StatusCode == http.StatusCreated {
		// 201: this PUT made the group, so it held nothing of any
		// earlier run (see launched).
		p.mu.Lock()
		p.fresh[strings.ToLower(rg)] = true
		p.mu.Unlock()
	}
	if cidrErr != nil {
		return cidrErr
	}
	var wg sync.WaitGroup
	var netErr, idErr error
	wg.Add(2)
	go func() {
		defer wg.Done()
		netErr = p.prepareNetwork(ctx, cluster, rg, location, cidrs, gt, answer != nil && answer.StatusCode == http.StatusCreated)
	}()
	go func() {
		defer wg.Done()
		idErr = p.prepareIdentity(ctx, cluster, rg, location, gt)
	}()
	wg.Wait()
	if err := errors.Join(netErr, idErr); err != nil {
		return err
	}
	p.mu.Lock()
	p.prepared[cluster+"/"+location] = true
	p.mu.Unlock()
	return nil
}

// prepareNetwork makes the NSG and the virtual network. The NSG keeps
// Azure's default rules, which allow traffic inside the virtual network
// (the cluster) and deny other inbound traffic, and adds SSH and the Dask
// ports from the caller's address only. The subnet keeps default outbound
// access so machines can pull images without a NAT gateway.
//
// Every VM burst makes carries the NSG on its own NIC (profile.go), so
// the subnet need not hold it. In a group this run's PUT created (fresh),
// nothing runs yet: the NSG and a network whose subnet names no NSG are
// made side by side, one write and one poll instead of two of each one
// after the other (ARM refuses a subnet naming an NSG whose operation is
// still running, so with the NSG on the subnet the network waits for it).
// In a group that existed, the subnet keeps the NSG as before: a network
// PUT replaces its subnets, and one without the NSG would strip it from
// the VMs an earlier burst made, whose NICs do not carry it.
func (p *Provider) prepareNetwork(ctx context.Context, cluster, rg, location string, cidrs []string, tags map[string]*string, fresh bool) error {
	rule := func(name string, prio int32, ports ...string) *armnetwork.SecurityRule {
		r := &armnetwork.SecurityRule{Name: to.Ptr(name), Properties: &armnetwork.SecurityRulePropertiesFormat{
			Priority: to.Ptr(prio), Direction: to.Ptr(armnetwork.SecurityRuleDirectionInbound),
			Access: to.Ptr(armnetwork.SecurityRuleAccessAllow), Protocol: to.Ptr(armnetwork.SecurityRuleProtocolTCP),
			SourcePortRange: to.Ptr("*"), DestinationAddressPrefix: to.Ptr("*"),
			Description: to.Ptr("burst: from the address that ran burst"),
		}}
		if len(cidrs) == 1 {
			r.Properties.SourceAddressPrefix = to.Ptr(cidrs[0])
		} else {
			r.Properties.SourceAddressPrefixes = to.SliceOfPtrs(cidrs...)
		}
		if len(ports) == 1 {
			r.Properties.DestinationPortRange = to.Ptr(ports[0])
		} else {
			r.Properties.DestinationPortRanges = to.SliceOfPtrs(ports...)
		}
		return r
	}
	nsg := armnetwork.SecurityGroup{Location: to.Ptr(location), Tags: tags, Properties: &armnetwork.SecurityGroupPropertiesFormat{
		SecurityRules: []*armnetwork.SecurityRule{
			rule("burst-ssh", 100, "22"),
			rule("burst-dask", 110, fmt.Sprint(bootstrap.SchedulerPort), fmt.Sprint(bootstrap.DashboardPort)),
		},
	}}
	subnet := &armnetwork.SubnetPropertiesFormat{
		AddressPrefix:         to.Ptr(subnetPrefix),
		DefaultOutboundAccess: to.Ptr(true),
	}
	if !fresh {
		subnet.NetworkSecurityGroup = &armnetwork.SecurityGroup{ID: to.Ptr(p.nsgID(rg, cluster))}
	}
	vnet := armnetwork.VirtualNetwork{Location: to.Ptr(location), Tags: tags, Properties: &armnetwork.VirtualNetworkPropertiesFormat{
		AddressSpace: &armnetwork.AddressSpace{AddressPrefixes: to.SliceOfPtrs(vnetPrefix)},
		Subnets:      []*armnetwork.Subnet{{Name: to.Ptr(subnetName), Properties: subnet}},
	}}
	// Each waits for its operation to succeed (the VMs name both), but
	// not for a GET after it: the IDs are known by name, and nothing else
	// of them is needed (settle).
	steps := []func() error{
		func() error {
			return putSettled(ctx, p, "NetworkSecurityGroups.CreateOrUpdate", func(ctx context.Context) (*runtime.Poller[armnetwork.SecurityGroupsClientCreateOrUpdateResponse], error) {
				return p.c.nsgs.BeginCreateOrUpdate(ctx, rg, nsgName(cluster), nsg, nil)
			})
		},
		func() error {
			return putSettled(ctx, p, "VirtualNetworks.CreateOrUpdate", func(ctx context.Context) (*runtime.Poller[armnetwork.VirtualNetworksClientCreateOrUpdateResponse], error) {
				return p.c.vnets.BeginCreateOrUpdate(ctx, rg, vnetName(cluster), vnet, nil)
			})
		},
	}
	if fresh {
		return provider.Parallel(len(steps), 0, func(i int) error { return steps[i]() })
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

// putSettled starts a PUT with begin and waits for its operation to end
// (settle), classifying a failure as op.
func putSettled[T any](ctx context.Context, p *Provider, op string, begin func(context.Context) (*runtime.Poller[T], error)) error {
	var first *http.Response
	poller, err := begin(capture(ctx, &first))
	if err == nil {
		err = settle(ctx, p, poller, first)
	}
	if err != nil {
		return classify(op, err)
	}
	return nil
}

// prepareIdentity makes the cluster's user-assigned managed identity and
// gives it Virtual Machine Contributor on the cluster's resource group and
// nothing else: what a machine needs to delete itself.
func (p *Provider) prepareIdentity(ctx context.Context, cluster, rg, location string, tags map[string]*string) error {
	id, err := p.c.ids.CreateOrUpdate(ctx, rg, identityName(cluster), armmsi.Identity{Location: to.Ptr(location), Tags: tags}, nil)
	if err != nil {
		return classify("UserAssignedIdentities.CreateOrUpdate", err)
	}
	if id.Properties == nil || id.Properties.PrincipalID == nil {
		return fmt.Errorf("azure: the identity %s has no principal ID", identityName(cluster))
	}
	scope := p.groupID(rg)
	params := armauthorization.RoleAssignmentCreateParameters{Properties: &armauthorization.RoleAssignmentProperties{
		PrincipalID:      id.Properties.PrincipalID,
		RoleDefinitionID: to.Ptr("/subscriptions/" + p.sub + "/providers/Microsoft.Authorization/roleDefinitions/" + VirtualMachineContributor),
		// Saying what the principal is lets ARM assign a just-made
		// identity before it replicates through Entra ID.
		PrincipalType: to.Ptr(armauthorization.PrincipalTypeServicePrincipal),
	}}
	backoff := 2 * time.Second
	for try := 0; ; try++ {
		_, err = p.c.roles.Create(ctx, scope, p.roleAssignmentName(rg, cluster), params, nil)
		if err == nil {
			return nil
		}
		e := classify("RoleAssignments.Create", err)
		var pe *provider.Error
		if errors.As(e, &pe) {
			switch pe.Code {
			case "RoleAssignmentExists":
				return nil
			case "PrincipalNotFound":
				// A new identity can take a while to reach the directory.
				if try < 8 {
					if err := p.opts.Sleep(ctx, backoff); err != nil {
						return err
					}
					backoff = min(2*backoff, 30*time.Second)
					continue
				}
			}
			if errors.Is(pe.Kind, provider.ErrAuth) {
				pe.Msg += " (burst assigns its cluster identity a role on the cluster's resource group: it needs Microsoft.Authorization/roleAssignments/write, see `burst policy azure`)"
			}
		}
		return e
	}
}

func (p *Provider) groupID(rg string) string {
	return "/subscriptions/" + p.sub + "/resourceGroups/" + rg
}

func (p *Provider) identityID(rg, cluster string) string {
	return p.groupID(rg) + "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/" + identityName(cluster)
}

func (p *Provider) nsgID(rg, cluster string) string {
	return p.groupID(rg) + "/providers/Microsoft.Network/networkSecurityGroups/" + nsgName(cluster)
}

func (p *Provider) subnetID(rg, cluster string) string {
	return p.groupID(rg) + "/providers/Microsoft.Network/virtualNetworks/" + vnetName(cluster) + "/subnets/" + subnetName
}

func (p *Provider) roleAssignmentName(rg, cluster string) string {
	return guid(p.sub, rg, identityName(cluster), VirtualMachineContributor)
}

// callerCIDRs are the address ranges allowed in from outside: what
// azure.caller_cidr lists (comma-separated, taken as written, so
// 0.0.0.0/0 opens SSH and Dask to everyone only when a person wrote it
// there), else this machine's own public address, a /32 (127.0.0.1/32
// against a simulator).
func (p *Provider) callerCIDRs(ctx context.Context) ([]string, error) {
	if c := spec.SplitList(p.opts.CallerCIDR); len(c) > 0 {
		var out []string
		for _, s := range c {
			n, err := normaliseCIDR(s)
			if err != nil {
				return nil, err
			}
			if !slices.Contains(out, n) {
				out = append(out, n)
			}
		}
		return out, nil
	}
	if p.sim {
		return []string{"127.0.0.1/32"}, nil
	}
	lookup := p.opts.CallerIP
	if lookup == nil {
		lookup = p.publicIP
	}
	ip, err := lookup(ctx)
	if err != nil {
		return nil, &provider.Error{Kind: provider.ErrInvalid, Scope: provider.ScopeProvider, Op: "caller address",
			Msg: fmt.Sprintf("cannot find this machine's public address to open SSH and Dask to it (%v); set azure.caller_cidr (BURST_AZURE_CALLER_CIDR)", err)}
	}
	if net.ParseIP(strings.TrimSpace(ip)) == nil {
		return nil, &provider.Error{Kind: provider.ErrInvalid, Scope: provider.ScopeProvider, Op: "caller address",
			Msg: fmt.Sprintf("the address lookup answered %q, not an IP address; set azure.caller_cidr (BURST_AZURE_CALLER_CIDR)", ip)}
	}
	n, err := normaliseCIDR(ip)
	if err != nil {
		return nil, err
	}
	return []string{n}, nil
}

// normaliseCIDR turns an address or range into a canonical CIDR (an
// address becomes a /32 or /128).
func normaliseCIDR(s string) (string, error) {
	s = strings.TrimSpace(s)
	if _, n, err := net.ParseCIDR(s); err == nil {
		return n.String(), nil
	}
	ip := net.ParseIP(s)
	if ip == nil {
		return "", &provider.Error{Kind: provider.ErrInvalid, Scope: provider.ScopeProvider, Op: "caller address", Msg: fmt.Sprintf("%q is not an IP address or CIDR", s)}
	}
	if ip.To4() != nil {
		return ip.String() + "/32", nil
	}
	return ip.String() + "/128", nil
}

// publicIP asks a public echo service for this machine's address.
func (p *Provider) publicIP(ctx context.Context) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://api.ipify.org", nil)
	if err != nil {
		return "", err
	}
	resp, err := p.opts.HTTPClient.Do(req)
	if err != nil {
		return "", err
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 100))
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("api.ipify.org answered %s", resp.Status)
	}
	return strings.TrimSpace(string(b)), nil
}

// Cleanup implements provider.Preparer: it removes the cluster's role
// assignment and deletes its resource groups (one call removes everything
// in a group), waits until they are gone, and removes the SSH key.
// Already-gone groups are not an error; a delete something blocks is
// retried (see deleteGroup).
//
// The role assignments of the groups this process already knows are the
// cluster's (it prepared them, or its last listing found them: see hints)
// are deleted while the group list runs: each is the cluster identity's
// own, named from the cluster, group and role, so deleting it is down's
// work whatever the list then says (it is gone with the group anyway, or
// 404 if the group is). A group is deleted only once the list has it and
// its assignment is gone.
func (p *Provider) Cleanup(ctx context.Context, cluster string, regions []string) error {
	return p.removeGroups(ctx, cluster, regions)
}

// RemoveCluster implements provider.ClusterRemover: deleting the
// cluster's resource groups (what Cleanup does) takes its VMs and scale
// sets with them, so down needs no Terminate and no wait before it. It
// returns once the groups are gone.
func (p *Provider) RemoveCluster(ctx context.Context, cluster string, regions []string) error {
	return p.removeGroups(ctx, cluster, regions)
}

// forceDeletionTypes are the kinds of resource a group deletion deletes
// without a graceful shutdown.
const forceDeletionTypes = "Microsoft.Compute/virtualMachines,Microsoft.Compute/virtualMachineScaleSets"

// removeGroups deletes the cluster's resource groups in the regions (all
// when none), each after the identity's role assignment on it.
func (p *Provider) removeGroups(ctx context.Context, cluster string, regions []string) error {
	if err := p.init(); err != nil {
		return err
	}
	early := p.deleteRoles(ctx, cluster, p.knownGroups(cluster, regions))
	groups, err := p.clusterGroups(ctx, cluster, regions)
	if err != nil {
		early.wait()
		return err
	}
	names := make([]string, len(groups))
	for i, g := range groups {
		names[i] = *g.Name
	}
	err = p.deleteGroups(ctx, cluster, names, early)
	early.wait()
	if err != nil {
		return err
	}
	if len(regions) == 0 {
		return p.forgetKey(cluster)
	}
	return nil
}

// roleDeletes are role assignment deletes started early, by group.
type roleDeletes struct {
	wg   sync.WaitGroup
	done map[string]*lookup[struct{}]
}

// deleteRoles starts deleting the cluster's role assignments on groups.
func (p *Provider) deleteRoles(ctx context.Context, cluster string, groups []string) *roleDeletes {
	rd := &roleDeletes{done: map[string]*lookup[struct{}]{}}
	for _, rg := range groups {
		l := &lookup[struct{}]{done: make(chan struct{})}
		rd.done[rg] = l
		rd.wg.Add(1)
		go func() {
			defer rd.wg.Done()
			defer close(l.done)
			l.err = p.deleteRole(ctx, cluster, rg)
		}()
	}
	return rd
}

func (rd *roleDeletes) wait() {
	if rd != nil {
		rd.wg.Wait()
	}
}

// of is the early delete of a group's assignment, or nil.
func (rd *roleDeletes) of(rg string) *lookup[struct{}] {
	if rd == nil {
		return nil
	}
	return rd.done[rg]
}

// deleteGroups deletes a cluster's groups at once, and forgets that this
// process prepared them. early holds role assignment deletes already
// started (nil: none).
func (p *Provider) deleteGroups(ctx context.Context, cluster string, groups []string, early *roleDeletes) error {
	errs := make([]error, len(groups))
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for i, rg := range groups {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			errs[i] = p.deleteGroup(ctx, cluster, rg, early.of(rg))
		}()
	}
	wg.Wait()
	p.forgetGroups(cluster, groups)
	p.mu.Lock()
	for k := range p.prepared {
		if c, loc, _ := strings.Cut(k, "/"); c == cluster && slices.Contains(groups, resourceGroup(cluster, loc)) {
			delete(p.prepared, k)
		}
	}
	p.mu.Unlock()
	return errors.Join(errs...)
}

// deleteGroup removes a cluster's group: the identity's role assignment
// first, then the group and everything in it, waiting until it is gone. A
// delete that something in the group blocks for now (a VM still being
// deleted, another operation in progress: see blocked) is tried again,
// backing off from 2 to 30 seconds, until ctx ends. roleDone, when given,
// is the assignment's delete already under way: the first try waits for
// it instead of making its own.
//
// Why the assignment goes first, and not beside the group's delete: it is
// an extension resource addressed under the group's scope
// (/subscriptions/S/resourceGroups/G/providers/Microsoft.Authorization/
// roleAssignments/GUID), and requests under a group that is gone are
// answered ResourceGroupNotFound (the simulator does so too). Were Azure
// to keep the assignment after its group (the simulator removes it with
// the group; nobody checked that against a live subscription), burst could
// no longer delete it by that path, and it would count against the
// subscription's role assignment limit for an identity that no longer
// exists. Deleting it first costs one call on down's path (Cleanup starts
// it early where it can); if it fails, the group stays for the next try.
func (p *Provider) deleteGroup(ctx context.Context, cluster, rg string, roleDone *lookup[struct{}]) error {
	backoff := 2 * time.Second
	for {
		err := p.deleteGroupOnce(ctx, cluster, rg, roleDone)
		roleDone = nil
		if err == nil || !blocked(err) {
			return err
		}
		if serr := p.opts.Sleep(ctx, backoff); serr != nil {
			// The context's end is why this gave up; the last refusal
			// is only reported, so its kind does not classify the error.
			return fmt.Errorf("azure: deleting resource group %s: %w (last: %s)", rg, serr, err.Error())
		}
		backoff = min(2*backoff, 30*time.Second)
	}
}

func (p *Provider) deleteGroupOnce(ctx context.Context, cluster, rg string, roleDone *lookup[struct{}]) error {
	var err error
	if roleDone != nil {
		_, err = roleDone.get()
	} else {
		err = p.deleteRole(ctx, cluster, rg)
	}
	if err != nil {
		return err
	}
	// VMs and scale sets still in the group are force-deleted, as
	// Terminate deletes them: no graceful shutdown for machines that are
	// going anyway.
	poller, err := p.c.groups.BeginDelete(ctx, rg, &armresources.ResourceGroupsClientBeginDeleteOptions{ForceDeletionTypes: to.Ptr(forceDeletionTypes)})
	if err != nil {
		if isNotFound(err) {
			return nil
		}
		return classify("ResourceGroups.Delete", err)
	}
	if _, err := wait(ctx, p, poller); err != nil && !isNotFound(err) {
		return classify("ResourceGroups.Delete", err)
	}
	return nil
}

// deleteRole deletes the cluster identity's role assignment on a group;
// one already gone is not an error.
func (p *Provider) deleteRole(ctx context.Context, cluster, rg string) error {
	if _, err := p.c.roles.Delete(ctx, p.groupID(rg), p.roleAssignmentName(rg, cluster), nil); err != nil && !isNotFound(err) {
		return classify("RoleAssignments.Delete", err)
	}
	return nil
}

// blockedCodes are ARM's answers to a delete that another resource's state
// blocks for now: it may pass once that resource is gone or done.
var blockedCodes = map[string]bool{
	"Conflict":                                 true,
	"AnotherOperationInProgress":               true,
	"OperationPreempted":                       true,
	"RetryableError":                           true,
	"ResourceGroupDeletionBlocked":             true,
	"InUseSubnetCannotBeDeleted":               true,
	"InUseNetworkSecurityGroupCannotBeDeleted": true,
	"NicInUse":                                 true,
	"NicReservedForAnotherVm":                  true,
}

// blocked reports whether a failed delete may pass if tried again later:
// a dependency conflict (any 409 but a lock, which needs a person) or
// throttling that outlasted the throttle policy's retries.
func blocked(err error) bool {
	if errors.Is(err, provider.ErrThrottled) {
		return true
	}
	var re *azcore.ResponseError
	if !errors.As(err, &re) {
		return false
	}
	return blockedCodes[re.ErrorCode] || (re.StatusCode == http.StatusConflict && re.ErrorCode != "ScopeLocked")
}

// clusterGroups lists the resource groups tagged with the cluster (every
// burst group when cluster is empty), in the given locations (all when
// none).
func (p *Provider) clusterGroups(ctx context.Context, cluster string, regions []string) ([]*armresources.ResourceGroup, error) {
	filter := fmt.Sprintf("tagName eq '%s'", provider.TagCluster)
	if cluster != "" {
		filter += fmt.Sprintf(" and tagValue eq '%s'", cluster)
	}
	var out []*armresources.ResourceGroup
	pager := p.c.groups.NewListPager(&armresources.ResourceGroupsClientListOptions{Filter: to.Ptr(filter)})
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, classify("ResourceGroups.List", err)
		}
		for _, g := range page.Value {
			if g == nil || g.Name == nil || g.Location == nil {
				continue
			}
			if len(regions) > 0 && !slices.Contains(regions, *g.Location) {
				continue
			}
			out = append(out, g)
		}
	}
	return out, nil
}
