package azure

import (
	"context"
	"sort"
	"strings"
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v6"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v6"

	"github.com/burstdev/burst/internal/catalog"
	"github.com/burstdev/burst/internal/provider"
	"github.com/burstdev/burst/pkg/spec"
)

// addresses of a VM, by lower-case VM ID.
type addresses struct{ private, public string }

// Machines implements provider.Provider. It finds the cluster's resource
// groups by tag (every burst group when the filter names no cluster), and
// in each lists, at once, the VMs, the scale sets (whose tags a Flexible
// set's VMs inherit here: Azure does not copy a set's tags onto its VMs),
// the NICs and the public IPs: four lists per location, paged, whatever
// the cluster's size. VMs being deleted are reported as
// stopping; deleted VMs are gone from Azure at once and from the list.
func (p *Provider) Machines(ctx context.Context, f provider.Filter) ([]provider.Machine, error) {
	if err := p.init(); err != nil {
		return nil, err
	}
	groups, err := p.clusterGroups(ctx, f.Cluster, f.Regions)
	if err != nil {
		return nil, err
	}
	results := make([][]provider.Machine, len(groups))
	errs := make([]error, len(groups))
	sem := make(chan struct{}, 4)
	var wg sync.WaitGroup
	for i, g := range groups {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			results[i], errs[i] = p.groupMachines(ctx, *g.Name)
		}()
	}
	wg.Wait()
	var out []provider.Machine
	for i := range groups {
		if errs[i] != nil {
			if isNotFound(errs[i]) {
				continue // deleted since it was listed
			}
			return nil, errs[i]
		}
		for _, m := range results[i] {
			if m.Cluster == "" || (f.Cluster != "" && m.Cluster != f.Cluster) {
				continue
			}
			out = append(out, m)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// groupMachines lists a group's VMs with their sets' tags and their
// addresses; the four lists run at once.
func (p *Provider) groupMachines(ctx context.Context, rg string) ([]provider.Machine, error) {
	var (
		vms   []*armcompute.VirtualMachine
		sets  []*armcompute.VirtualMachineScaleSet
		addrs map[string]addresses
		errs  [3]error
		wg    sync.WaitGroup
	)
	wg.Add(3)
	go func() { defer wg.Done(); vms, errs[0] = p.listVMs(ctx, rg, "") }()
	go func() { defer wg.Done(); sets, errs[1] = p.listSets(ctx, rg) }()
	go func() { defer wg.Done(); addrs, errs[2] = p.addresses(ctx, rg) }()
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	setTags := map[string]map[string]*string{}
	for _, s := range sets {
		if s.ID != nil {
			setTags[strings.ToLower(*s.ID)] = s.Tags
		}
	}
	out := make([]provider.Machine, 0, len(vms))
	for _, vm := range vms {
		var st map[string]*string
		if vm.Properties != nil && vm.Properties.VirtualMachineScaleSet != nil && vm.Properties.VirtualMachineScaleSet.ID != nil {
			st = setTags[strings.ToLower(*vm.Properties.VirtualMachineScaleSet.ID)]
		}
		out = append(out, p.machine(vm, st, addrs))
	}
	return out, nil
}

// addresses maps a group's VMs to their private and public IPs, listing
// its NICs and public IPs at once.
func (p *Provider) addresses(ctx context.Context, rg string) (map[string]addresses, error) {
	var (
		nics   []*armnetwork.Interface
		ips    []*armnetwork.PublicIPAddress
		nicErr error
		ipErr  error
		wg     sync.WaitGroup
	)
	wg.Add(2)
	go func() {
		defer wg.Done()
		pager := p.c.nics.NewListPager(rg, nil)
		for pager.More() {
			page, err := pager.NextPage(ctx)
			if err != nil {
				nicErr = classify("NetworkInterfaces.List", err)
				return
			}
			nics = append(nics, page.Value...)
		}
	}()
	go func() {
		defer wg.Done()
		pager := p.c.pips.NewListPager(rg, nil)
		for pager.More() {
			page, err := pager.NextPage(ctx)
			if err != nil {
				ipErr = classify("PublicIPAddresses.List", err)
				return
			}
			ips = append(ips, page.Value...)
		}
	}()
	wg.Wait()
	if nicErr != nil {
		return nil, nicErr
	}
	if ipErr != nil {
		return nil, ipErr
	}
	public := map[string]string{} // public IP ID -> address
	for _, ip := range ips {
		if ip.ID != nil && ip.Properties != nil && ip.Properties.IPAddress != nil {
			public[strings.ToLower(*ip.ID)] = *ip.Properties.IPAddress
		}
	}
	out := map[string]addresses{}
	for _, nic := range nics {
		if nic.Properties == nil || nic.Properties.VirtualMachine == nil || nic.Properties.VirtualMachine.ID == nil {
			continue
		}
		vm := strings.ToLower(*nic.Properties.VirtualMachine.ID)
		a := out[vm]
		for _, ip := range nic.Properties.IPConfigurations {
			if ip.Properties == nil {
				continue
			}
			if a.private == "" && ip.Properties.PrivateIPAddress != nil {
				a.private = *ip.Properties.PrivateIPAddress
			}
			if pub := ip.Properties.PublicIPAddress; pub != nil && pub.ID != nil && a.public == "" {
				a.public = public[strings.ToLower(*pub.ID)]
			}
		}
		out[vm] = a
	}
	return out, nil
}

// machine describes a VM. setTags are its scale set's, which its own
// override.
func (p *Provider) machine(vm *armcompute.VirtualMachine, setTags map[string]*string, addrs map[string]addresses) provider.Machine {
	tags := map[string]string{}
	for k, v := range setTags {
		if v != nil {
			tags[k] = *v
		}
	}
	for k, v := range vm.Tags {
		if v != nil {
			tags[k] = *v
		}
	}
	id := deref(vm.ID)
	m := provider.Machine{
		ID:       machineID(resourceGroupOfID(id), deref(vm.Name)),
		Cluster:  tags[provider.TagCluster],
		Role:     spec.Role(tags[provider.TagRole]),
		Provider: Name,
		Region:   deref(vm.Location),
		Capacity: catalog.OnDemand,
		State:    provider.Running,
		Tags:     tags,
	}
	if len(vm.Zones) > 0 && vm.Zones[0] != nil {
		m.Zone = *vm.Zones[0] // Azure's zone name within the location: "1"
	}
	if a, ok := addrs[strings.ToLower(id)]; ok {
		m.PrivateIP, m.PublicIP = a.private, a.public
	}
	if pr := vm.Properties; pr != nil {
		if pr.HardwareProfile != nil && pr.HardwareProfile.VMSize != nil {
			m.InstanceType = string(*pr.HardwareProfile.VMSize)
		}
		if pr.Priority != nil && (*pr.Priority == armcompute.VirtualMachinePriorityTypesSpot || *pr.Priority == armcompute.VirtualMachinePriorityTypesLow) {
			m.Capacity = catalog.Spot
		}
		if pr.TimeCreated != nil {
			m.LaunchedAt = *pr.TimeCreated
		}
		m.State = vmState(pr)
	}
	return m
}

// vmState maps a VM's provisioning state (and power state, when the
// instance view came along) to burst's states.
func vmState(pr *armcompute.VirtualMachineProperties) provider.State {
	if iv := pr.InstanceView; iv != nil {
		for _, s := range iv.Statuses {
			switch strings.ToLower(deref(s.Code)) {
			case "powerstate/deallocated", "powerstate/stopped":
				return provider.Stopped
			case "powerstate/deallocating", "powerstate/stopping":
				return provider.Stopping
			}
		}
	}
	switch strings.ToLower(deref(pr.ProvisioningState)) {
	case "creating":
		return provider.Pending
	case "deleting":
		return provider.Stopping
	case "failed":
		// A VM whose creation failed runs nothing; Terminate removes it.
		return provider.Stopped
	}
	return provider.Running
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
