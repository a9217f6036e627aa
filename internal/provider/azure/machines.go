package azure

import (
	"context"
	"sort"
	"strings"
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v6"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v6"

	"github.com/burstdev/burst/internal/catalog"
	"github.com/burstdev/burst/internal/provider"
	"github.com/burstdev/burst/pkg/spec"
)

// addresses of a VM, by lower-case VM ID.
type addresses struct{ private, public string }

// Machines implements provider.Provider. It finds the cluster's resource
// groups by tag (every burst group when the filter names no cluster) with
// one subscription-wide list, whatever the filter's regions (Filter.Regions
// keeps the groups of those locations; with none, or with AllRegions, every
// location counts). In each group it lists, at once, the VMs, the scale
// sets (whose tags a Flexible set's VMs inherit here: Azure does not copy a
// set's tags onto its VMs), the NICs and the public IPs: four lists per
// location, paged, whatever the cluster's size; and the power states, which
// the group's VM list leaves out: one list per scale set with VMs, as soon
// as the set list is in, and then one GET per standalone VM (setViews,
// standaloneViews). A VM shut down from inside is "stopped" but still
// allocated and billed, a deallocated one still bills for its disk: both
// are reported Stopped. VMs being deleted are reported as stopping;
// deleted VMs are gone from Azure at once and from the list.
func (p *Provider) Machines(ctx context.Context, f provider.Filter) ([]provider.Machine, error) {
	if err := p.init(); err != nil {
		return nil, err
	}
	groups, err := p.clusterGroups(ctx, f.Cluster, filterRegions(f))
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
		views map[string]*armcompute.VirtualMachineInstanceView
		addrs map[string]addresses
		errs  [3]error
		wg    sync.WaitGroup
	)
	wg.Add(3)
	go func() { defer wg.Done(); vms, errs[0] = p.listVMs(ctx, rg, "") }()
	go func() {
		defer wg.Done()
		if sets, errs[1] = p.listSets(ctx, rg); errs[1] == nil {
			views, errs[1] = p.setViews(ctx, rg, sets)
		}
	}()
	go func() { defer wg.Done(); addrs, errs[2] = p.addresses(ctx, rg) }()
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	gone, err := p.standaloneViews(ctx, rg, vms, views)
	if err != nil {
		return nil, err
	}
	setTags := map[string]map[string]*string{}
	for _, s := range sets {
		if s.ID != nil {
			setTags[strings.ToLower(*s.ID)] = s.Tags
		}
	}
	out := make([]provider.Machine, 0, len(vms))
	for _, vm := range vms {
		id := strings.ToLower(deref(vm.ID))
		if gone[id] {
			continue
		}
		if iv, ok := views[id]; ok && vm.Properties != nil {
			pr := *vm.Properties
			pr.InstanceView = iv
			v := *vm
			v.Properties = &pr
			vm = &v
		}
		var st map[string]*string
		if vm.Properties != nil && vm.Properties.VirtualMachineScaleSet != nil && vm.Properties.VirtualMachineScaleSet.ID != nil {
			st = setTags[strings.ToLower(*vm.Properties.VirtualMachineScaleSet.ID)]
		}
		out = append(out, p.machine(vm, st, addrs))
	}
	return out, nil
}

// filterRegions is the locations a filter keeps; nil keeps every one.
func filterRegions(f provider.Filter) []string {
	if f.AllRegions {
		return nil
	}
	return f.Regions
}

// setViews fetches the instance views (power states) of a group's scale
// set VMs, which ARM puts in a VM list only when it is filtered by scale
// set: one list per set that has VMs, paged, at most four sets at once. It
// runs while the group's other lists run.
func (p *Provider) setViews(ctx context.Context, rg string, sets []*armcompute.VirtualMachineScaleSet) (map[string]*armcompute.VirtualMachineInstanceView, error) {
	views := map[string]*armcompute.VirtualMachineInstanceView{}
	var ids []string
	for _, s := range sets {
		if s.ID != nil && (s.SKU == nil || s.SKU.Capacity == nil || *s.SKU.Capacity > 0) {
			ids = append(ids, *s.ID)
		}
	}
	var mu sync.Mutex
	err := parallel(len(ids), 4, func(i int) error {
		got, err := p.listVMsExpanded(ctx, rg, ids[i])
		if isNotFound(err) {
			return nil // the set went since it was listed
		}
		if err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		for _, vm := range got {
			if vm.ID != nil && vm.Properties != nil && vm.Properties.InstanceView != nil {
				views[strings.ToLower(*vm.ID)] = vm.Properties.InstanceView
			}
		}
		return nil
	})
	return views, err
}

// standaloneViews adds to views the instance views of a group's standalone
// VMs (the head, and a failed-over head's leftovers): one GET each with
// $expand=instanceView, at most four at once. VMs being created or deleted
// need none, their provisioning state says enough. It returns the VMs
// deleted since they were listed.
func (p *Provider) standaloneViews(ctx context.Context, rg string, vms []*armcompute.VirtualMachine, views map[string]*armcompute.VirtualMachineInstanceView) (map[string]bool, error) {
	var names []string
	for _, vm := range vms {
		if vm.Properties == nil || vm.Name == nil || vm.Properties.VirtualMachineScaleSet != nil {
			continue
		}
		switch strings.ToLower(deref(vm.Properties.ProvisioningState)) {
		case "creating", "deleting":
			continue
		}
		names = append(names, *vm.Name)
	}
	gone := map[string]bool{}
	var mu sync.Mutex
	err := parallel(len(names), 4, func(i int) error {
		vm, err := p.c.vms.Get(ctx, rg, names[i], &armcompute.VirtualMachinesClientGetOptions{Expand: to.Ptr(armcompute.InstanceViewTypesInstanceView)})
		mu.Lock()
		defer mu.Unlock()
		switch {
		case isNotFound(err):
			gone[strings.ToLower(p.groupID(rg)+"/providers/Microsoft.Compute/virtualMachines/"+names[i])] = true
		case err != nil:
			return classify("VirtualMachines.Get", err)
		case vm.ID != nil && vm.Properties != nil && vm.Properties.InstanceView != nil:
			views[strings.ToLower(*vm.ID)] = vm.Properties.InstanceView
		}
		return nil
	})
	return gone, err
}

// parallel runs f(0..n-1), at most limit at once, and returns the first
// error.
func parallel(n, limit int, f func(i int) error) error {
	errs := make([]error, n)
	sem := make(chan struct{}, limit)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			errs[i] = f(i)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
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

// vmState maps a VM's provisioning state and, when the instance view came
// along, its power state to burst's states. A VM being deleted is
// stopping whatever its power; otherwise the power state wins: a VM shut
// down from inside ("stopped": still allocated, billed as if running) and a
// deallocated one (its disk still bills) are Stopped, so `burst gc`
// deletes them.
func vmState(pr *armcompute.VirtualMachineProperties) provider.State {
	prov := strings.ToLower(deref(pr.ProvisioningState))
	if prov == "deleting" {
		return provider.Stopping
	}
	if iv := pr.InstanceView; iv != nil {
		for _, s := range iv.Statuses {
			switch strings.ToLower(deref(s.Code)) {
			case "powerstate/deallocated", "powerstate/stopped":
				return provider.Stopped
			case "powerstate/deallocating", "powerstate/stopping":
				return provider.Stopping
			case "powerstate/starting":
				return provider.Pending
			case "powerstate/running":
				return provider.Running
			}
		}
	}
	switch prov {
	case "creating":
		return provider.Pending
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
