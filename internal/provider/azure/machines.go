package azure

import (
	"context"
	"sort"
	"strings"
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v6"

	"github.com/burstdev/burst/internal/catalog"
	"github.com/burstdev/burst/internal/provider"
	"github.com/burstdev/burst/pkg/spec"
)

// addresses of a VM, by lower-case VM ID.
type addresses struct{ private, public string }

// Machines implements provider.Provider. It finds the cluster's resource
// groups by tag (every burst group when the filter names no cluster), and
// in each lists the VMs, the scale sets (whose tags a Flexible set's VMs
// inherit here: Azure does not copy a set's tags onto its VMs), the NICs
// and, when some VM has one, the public IPs: a handful of calls per
// location, whatever the cluster's size. VMs being deleted are reported as
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

func (p *Provider) groupMachines(ctx context.Context, rg string) ([]provider.Machine, error) {
	vms, err := p.listVMs(ctx, rg, "")
	if err != nil || len(vms) == 0 {
		return nil, err
	}
	setTags := map[string]map[string]*string{}
	inSet := false
	for _, vm := range vms {
		if vm.Properties != nil && vm.Properties.VirtualMachineScaleSet != nil {
			inSet = true
		}
	}
	if inSet {
		sets, err := p.listSets(ctx, rg)
		if err != nil {
			return nil, err
		}
		for _, s := range sets {
			if s.ID != nil {
				setTags[strings.ToLower(*s.ID)] = s.Tags
			}
		}
	}
	addrs, err := p.addresses(ctx, rg)
	if err != nil {
		return nil, err
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

// addresses maps a group's VMs to their private and public IPs.
func (p *Provider) addresses(ctx context.Context, rg string) (map[string]addresses, error) {
	out := map[string]addresses{}
	publicOf := map[string]string{} // public IP ID -> VM ID
	pager := p.c.nics.NewListPager(rg, nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, classify("NetworkInterfaces.List", err)
		}
		for _, nic := range page.Value {
			if nic.Properties == nil || nic.Properties.VirtualMachine == nil || nic.Properties.VirtualMachine.ID == nil {
				continue
			}
			vm := strings.ToLower(*nic.Properties.VirtualMachine.ID)
			for _, ip := range nic.Properties.IPConfigurations {
				if ip.Properties == nil {
					continue
				}
				a := out[vm]
				if a.private == "" && ip.Properties.PrivateIPAddress != nil {
					a.private = *ip.Properties.PrivateIPAddress
				}
				out[vm] = a
				if pub := ip.Properties.PublicIPAddress; pub != nil && pub.ID != nil {
					publicOf[strings.ToLower(*pub.ID)] = vm
				}
			}
		}
	}
	if len(publicOf) == 0 {
		return out, nil
	}
	ipPager := p.c.pips.NewListPager(rg, nil)
	for ipPager.More() {
		page, err := ipPager.NextPage(ctx)
		if err != nil {
			return nil, classify("PublicIPAddresses.List", err)
		}
		for _, ip := range page.Value {
			if ip.ID == nil || ip.Properties == nil || ip.Properties.IPAddress == nil {
				continue
			}
			if vm, ok := publicOf[strings.ToLower(*ip.ID)]; ok {
				a := out[vm]
				a.public = *ip.Properties.IPAddress
				out[vm] = a
			}
		}
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
		m.Zone = m.Region + "-" + *vm.Zones[0]
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
