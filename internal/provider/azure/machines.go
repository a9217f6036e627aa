package azure

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v6"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources"

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
// as the set list is in, and one GET per standalone VM, as soon as the VM
// list is in (groupMachines). A VM shut down from inside is "stopped" but
// still allocated and billed, a deallocated one still bills for its disk:
// both are reported Stopped. VMs being deleted are reported as stopping;
// deleted VMs are gone from Azure at once and from the list.
//
// What this process already knows is asked for at once, beside the lists
// that would otherwise have to come first (see hints): the groups of the
// cluster it prepared or saw in its last listing are listed while the
// group list runs, and the sets with VMs and the standalone VMs a group
// had last time (or that Launch just made) get their power states while
// the group's lists run. The answer is the same: only groups in the group
// list count, only VMs in the group's VM list, and a power state only
// where it would have been asked for; a call made for something that is
// gone since (a 404, a group that is not listed) is dropped, as one made
// after the list would have been.
func (p *Provider) Machines(ctx context.Context, f provider.Filter) ([]provider.Machine, error) {
	if err := p.init(); err != nil {
		return nil, err
	}
	regions := filterRegions(f)
	gl := p.newGroupLists(ctx, f.Brief)
	early := append(p.knownGroups(f.Cluster, regions), p.keyedGroups(f.Cluster, regions)...)
	for _, rg := range early {
		gl.start(rg)
	}
	groups, err := p.clusterGroups(ctx, f.Cluster, regions)
	if err != nil {
		gl.abandon()
		return nil, err
	}
	for _, g := range groups {
		gl.start(*g.Name)
	}
	gl.wg.Wait()
	// A group asked for early that answered 404 may have been made
	// since: one the group list names is asked again, as it would have
	// been asked only after the list.
	for _, g := range groups {
		if slices.Contains(early, *g.Name) && isNotFound(gl.jobs[*g.Name].err) {
			delete(gl.jobs, *g.Name)
			gl.start(*g.Name)
		}
	}
	gl.wait()
	p.rememberGroups(f.Cluster, regions, groups)
	var out []provider.Machine
	for _, g := range groups {
		r := gl.jobs[*g.Name]
		if r.err != nil {
			if isNotFound(r.err) {
				continue // deleted since it was listed
			}
			return nil, r.err
		}
		for _, m := range r.ms {
			if m.Cluster == "" || (f.Cluster != "" && m.Cluster != f.Cluster) {
				continue
			}
			out = append(out, m)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// groupLists lists groups' machines, at most four groups at once, each
// once.
type groupLists struct {
	p      *Provider
	ctx    context.Context
	cancel context.CancelFunc
	sem    chan struct{}
	wg     sync.WaitGroup
	jobs   map[string]*groupJob
	brief  bool
}

type groupJob struct {
	ms  []provider.Machine
	err error
}

func (p *Provider) newGroupLists(ctx context.Context, brief bool) *groupLists {
	ctx, cancel := context.WithCancel(ctx)
	return &groupLists{p: p, ctx: ctx, cancel: cancel, sem: make(chan struct{}, 4), jobs: map[string]*groupJob{}, brief: brief}
}

func (gl *groupLists) start(rg string) {
	if _, ok := gl.jobs[rg]; ok {
		return
	}
	j := &groupJob{}
	gl.jobs[rg] = j
	gl.wg.Add(1)
	go func() {
		defer gl.wg.Done()
		gl.sem <- struct{}{}
		defer func() { <-gl.sem }()
		if gl.brief {
			j.ms, j.err = gl.p.groupMachinesBrief(gl.ctx, rg)
		} else {
			j.ms, j.err = gl.p.groupMachines(gl.ctx, rg)
		}
	}()
}

func (gl *groupLists) wait() {
	gl.wg.Wait()
	gl.cancel()
}

// abandon stops the lists started and waits for them.
func (gl *groupLists) abandon() {
	gl.cancel()
	gl.wg.Wait()
}

// hints are what this process last saw of a cluster's groups, so that
// the next listing can ask for them without waiting for the lists that
// name them. They only decide what is asked for early, never what is
// reported.
type hints struct {
	// groups: cluster -> resource group -> location, from the last
	// listing of the cluster's groups.
	groups map[string]map[string]string
	// inGroup: resource group -> what it held.
	inGroup map[string]groupHint
}

type groupHint struct {
	// sets are the IDs of the scale sets that had VMs.
	sets []string
	// vms are the names of the standalone VMs that were neither being
	// created nor deleted (whose power state was asked for).
	vms []string
}

// knownGroups are the groups of cluster, in the filter's locations (all
// with none), that this process prepared or saw in its last listing.
func (p *Provider) knownGroups(cluster string, regions []string) []string {
	if cluster == "" {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	add := func(rg, loc string) {
		if (len(regions) == 0 || slices.Contains(regions, loc)) && !slices.Contains(out, rg) {
			out = append(out, rg)
		}
	}
	for k := range p.prepared {
		if c, loc, _ := strings.Cut(k, "/"); c == cluster {
			add(resourceGroup(cluster, loc), loc)
		}
	}
	for rg, loc := range p.seen.groups[cluster] {
		add(rg, loc)
	}
	sort.Strings(out)
	return out
}

// keyedGroups are the groups cluster would have in the filter's
// locations, when this machine holds the cluster's SSH key (made by the
// Launch that made its machines, removed once RemoveCluster deleted its
// groups): a `burst down` or `status` in a new process then asks for
// those groups' lists beside the group list instead of after it. Nothing
// without a cluster and locations, or without the key; a guess that is
// wrong costs the 404s of one group's lists.
func (p *Provider) keyedGroups(cluster string, regions []string) []string {
	if cluster == "" || len(regions) == 0 {
		return nil
	}
	p.mu.Lock()
	_, ok := p.keys[cluster]
	p.mu.Unlock()
	if dir := p.keyDir(cluster); !ok && dir != "" {
		_, err := os.Stat(filepath.Join(dir, "id_ed25519.pub"))
		ok = err == nil
	}
	if !ok {
		return nil
	}
	var out []string
	for _, loc := range regions {
		out = append(out, resourceGroup(cluster, loc))
	}
	return out
}

// rememberGroups keeps a cluster's groups as a listing found them, in the
// locations it looked at.
func (p *Provider) rememberGroups(cluster string, regions []string, groups []*armresources.ResourceGroup) {
	if cluster == "" {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	m := p.seen.groups[cluster]
	if m == nil {
		m = map[string]string{}
		p.seen.groups[cluster] = m
	}
	for rg, loc := range m {
		if len(regions) == 0 || slices.Contains(regions, loc) {
			delete(m, rg)
		}
	}
	for _, g := range groups {
		m[*g.Name] = *g.Location
	}
}

func (p *Provider) groupHint(rg string) groupHint {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.seen.inGroup[strings.ToLower(rg)]
}

func (p *Provider) setGroupHint(rg string, h groupHint) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.seen.inGroup[strings.ToLower(rg)] = h
}

// hintLaunched adds a scale set with VMs or a standalone VM that Launch
// made to its group's hints.
func (p *Provider) hintLaunched(rg, setID, vm string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	h := p.seen.inGroup[strings.ToLower(rg)]
	if setID != "" && !slices.ContainsFunc(h.sets, func(s string) bool { return strings.EqualFold(s, setID) }) {
		h.sets = append(slices.Clip(h.sets), setID)
	}
	if vm != "" && !slices.Contains(h.vms, vm) {
		h.vms = append(slices.Clip(h.vms), vm)
	}
	p.seen.inGroup[strings.ToLower(rg)] = h
}

// forgetGroups drops what this process saw of groups it deleted.
func (p *Provider) forgetGroups(cluster string, groups []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, rg := range groups {
		delete(p.seen.groups[cluster], rg)
		delete(p.seen.inGroup, strings.ToLower(rg))
		delete(p.fresh, strings.ToLower(rg))
	}
}

// groupMachinesBrief lists a group's VMs with their sets' tags, for a
// brief filter: the VM list and the set list side by side, no addresses
// and no power states, so a VM's state is what its provisioning state says
// (being deleted: stopping; else running, or pending while created).
func (p *Provider) groupMachinesBrief(ctx context.Context, rg string) ([]provider.Machine, error) {
	var (
		vms           []*armcompute.VirtualMachine
		sets          []*armcompute.VirtualMachineScaleSet
		vmErr, setErr error
		wg            sync.WaitGroup
	)
	wg.Add(1)
	go func() { defer wg.Done(); sets, setErr = p.listSets(ctx, rg) }()
	vms, vmErr = p.pageVMs(ctx, rg, nil, nil)
	wg.Wait()
	if vmErr != nil {
		return nil, vmErr
	}
	if setErr != nil {
		return nil, setErr
	}
	setTags := tagsBySet(sets)
	out := make([]provider.Machine, 0, len(vms))
	for _, vm := range vms {
		var st map[string]*string
		if vm.Properties != nil && vm.Properties.VirtualMachineScaleSet != nil && vm.Properties.VirtualMachineScaleSet.ID != nil {
			st = setTags[strings.ToLower(*vm.Properties.VirtualMachineScaleSet.ID)]
		}
		out = append(out, p.machine(vm, st, nil))
	}
	return out, nil
}

// groupMachines lists a group's VMs with their sets' tags, addresses and
// power states. Four chains run at once: the VM list, then a GET of each
// standalone VM's instance view; the set list, then an instance-view list
// of each set with VMs; the NIC and public IP lists; and the power states
// of the sets and standalone VMs the group's hint names, which need no
// list first. Whatever a hint asked for early is used only where the
// lists say it would have been asked for.
func (p *Provider) groupMachines(ctx context.Context, rg string) ([]provider.Machine, error) {
	hint := p.groupHint(rg)
	var (
		vms      []*armcompute.VirtualMachine
		sets     []*armcompute.VirtualMachineScaleSet
		setViews = map[string]*armcompute.VirtualMachineInstanceView{} // by lower-case VM ID
		vmViews  = map[string]vmView{}                                 // by VM name
		early    = map[string]error{}                                  // hinted calls' errors, by set ID or VM name
		addrs    map[string]addresses
		errs     [4]error
		mu       sync.Mutex
		wg       sync.WaitGroup
		// Hinted and listed sets (VMs) share four lists (GETs) at once.
		setSem, vmSem = make(chan struct{}, 4), make(chan struct{}, 4)
		hintedSet     = func(id string) bool {
			return slices.ContainsFunc(hint.sets, func(s string) bool { return strings.EqualFold(s, id) })
		}
	)
	getViews := func(names []string) error {
		return p.standaloneViews(ctx, rg, names, vmSem, func(name string, v vmView, err error) {
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				early[name] = err
				return
			}
			vmViews[name] = v
		})
	}
	listSetViews := func(ids []string) error {
		return p.setViews(ctx, rg, ids, setSem, func(id string, got []*armcompute.VirtualMachine, err error) {
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				early[strings.ToLower(id)] = err
				return
			}
			for _, vm := range got {
				if vm.ID != nil && vm.Properties != nil && vm.Properties.InstanceView != nil {
					setViews[strings.ToLower(*vm.ID)] = vm.Properties.InstanceView
				}
			}
		})
	}
	wg.Add(5)
	go func() {
		defer wg.Done()
		// Each page's standalone VMs get their GETs as soon as the page
		// is in (the head is usually on the first of many).
		var (
			gets    sync.WaitGroup
			getErrs []*error // a page's GETs' first error, in page order
		)
		vms, errs[0] = p.pageVMs(ctx, rg, nil, func(page []*armcompute.VirtualMachine) {
			var names []string
			for _, n := range viewedVMs(page) {
				if !slices.Contains(hint.vms, n) {
					names = append(names, n)
				}
			}
			if len(names) == 0 {
				return
			}
			slot := new(error)
			getErrs = append(getErrs, slot)
			gets.Add(1)
			go func() { defer gets.Done(); *slot = getViews(names) }()
		})
		gets.Wait()
		for _, e := range getErrs {
			if *e != nil && errs[3] == nil {
				errs[3] = *e
			}
		}
	}()
	go func() {
		defer wg.Done()
		if sets, errs[1] = p.listSets(ctx, rg); errs[1] == nil {
			var ids []string
			for _, id := range setsWithVMs(sets) {
				if !hintedSet(id) {
					ids = append(ids, id)
				}
			}
			errs[1] = listSetViews(ids)
		}
	}()
	go func() { defer wg.Done(); addrs, errs[2] = p.addresses(ctx, rg) }()
	go func() { defer wg.Done(); _ = getViews(hint.vms) }()
	go func() { defer wg.Done(); _ = listSetViews(hint.sets) }()
	wg.Wait()
	// Errors in the order the calls used to come: the VM list, the set
	// list and the sets' power states, the addresses, the standalone VMs'
	// power states. A hinted call's error counts where the lists say the
	// call was needed, as it would have been made then.
	if errs[0] != nil {
		return nil, errs[0]
	}
	if errs[1] != nil {
		return nil, errs[1]
	}
	withVMs := setsWithVMs(sets)
	for _, id := range withVMs {
		if err := early[strings.ToLower(id)]; err != nil {
			return nil, err
		}
	}
	if errs[2] != nil {
		return nil, errs[2]
	}
	if errs[3] != nil {
		return nil, errs[3]
	}
	viewed := viewedVMs(vms)
	for _, n := range viewed {
		if err := early[n]; err != nil {
			return nil, err
		}
	}
	setTags := tagsBySet(sets)
	out := make([]provider.Machine, 0, len(vms))
	for _, vm := range vms {
		id := strings.ToLower(deref(vm.ID))
		var iv *armcompute.VirtualMachineInstanceView
		var st map[string]*string
		if vm.Properties != nil && vm.Properties.VirtualMachineScaleSet != nil && vm.Properties.VirtualMachineScaleSet.ID != nil {
			set := *vm.Properties.VirtualMachineScaleSet.ID
			st = setTags[strings.ToLower(set)]
			if slices.ContainsFunc(withVMs, func(s string) bool { return strings.EqualFold(s, set) }) {
				iv = setViews[id]
			}
		} else if slices.Contains(viewed, deref(vm.Name)) {
			v := vmViews[deref(vm.Name)]
			if v.gone {
				continue // deleted since it was listed
			}
			iv = v.view
		}
		if iv != nil && vm.Properties != nil {
			pr := *vm.Properties
			pr.InstanceView = iv
			v := *vm
			v.Properties = &pr
			vm = &v
		}
		out = append(out, p.machine(vm, st, addrs))
	}
	p.setGroupHint(rg, groupHint{sets: withVMs, vms: viewed})
	return out, nil
}

// tagsBySet maps the sets' lower-case IDs to their tags, which their VMs
// take (see Machines).
func tagsBySet(sets []*armcompute.VirtualMachineScaleSet) map[string]map[string]*string {
	out := map[string]map[string]*string{}
	for _, s := range sets {
		if s.ID != nil {
			out[strings.ToLower(*s.ID)] = s.Tags
		}
	}
	return out
}

// filterRegions is the locations a filter keeps; nil keeps every one.
func filterRegions(f provider.Filter) []string {
	if f.AllRegions {
		return nil
	}
	return f.Regions
}

// setsWithVMs are the IDs of the sets whose capacity is not zero.
func setsWithVMs(sets []*armcompute.VirtualMachineScaleSet) []string {
	var ids []string
	for _, s := range sets {
		if s.ID != nil && (s.SKU == nil || s.SKU.Capacity == nil || *s.SKU.Capacity > 0) {
			ids = append(ids, *s.ID)
		}
	}
	return ids
}

// viewedVMs are the names of a group's standalone VMs (the head, and a
// failed-over head's leftovers) whose power state is asked for: VMs being
// created or deleted need none, their provisioning state says enough.
func viewedVMs(vms []*armcompute.VirtualMachine) []string {
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
	return names
}

// setViews fetches the instance views (power states) of scale set VMs,
// which ARM puts in a VM list only when it is filtered by scale set: one
// list per set, paged, as many at once as sem lets. A set gone since (404)
// gets nothing; other errors go to got and end the fetching.
func (p *Provider) setViews(ctx context.Context, rg string, ids []string, sem chan struct{}, got func(id string, vms []*armcompute.VirtualMachine, err error)) error {
	return provider.ParallelIn(len(ids), sem, func(i int) error {
		vms, err := p.listVMsExpanded(ctx, rg, ids[i])
		if isNotFound(err) {
			return nil // the set went since it was listed
		}
		got(ids[i], vms, err)
		return err
	})
}

// vmView is a standalone VM's instance view, or that it is gone.
type vmView struct {
	view *armcompute.VirtualMachineInstanceView
	gone bool
}

// standaloneViews GETs standalone VMs with $expand=instanceView, as many
// at once as sem lets, and hands each answer to got (gone for a 404:
// deleted since it was listed).
func (p *Provider) standaloneViews(ctx context.Context, rg string, names []string, sem chan struct{}, got func(name string, v vmView, err error)) error {
	return provider.ParallelIn(len(names), sem, func(i int) error {
		vm, err := p.c.vms.Get(ctx, rg, names[i], &armcompute.VirtualMachinesClientGetOptions{Expand: to.Ptr(armcompute.InstanceViewTypesInstanceView)})
		switch {
		case isNotFound(err):
			got(names[i], vmView{gone: true}, nil)
		case err != nil:
			err = classify("VirtualMachines.Get", err)
			got(names[i], vmView{}, err)
			return err
		case vm.Properties != nil:
			got(names[i], vmView{view: slimVM(&vm.VirtualMachine).Properties.InstanceView}, nil)
		default:
			got(names[i], vmView{}, nil)
		}
		return nil
	})
}

// addresses maps a group's VMs to their private and public IPs.
func (p *Provider) addresses(ctx context.Context, rg string) (map[string]addresses, error) {
	out, _, err := p.readAddresses(ctx, rg)
	return out, err
}

// readAddresses lists a group's NICs and public IPs at once and joins them
// (joinAddresses). Each page is boiled down as it comes (a NIC to its VM,
// first private address and public address IDs; a public IP to its
// address): a listed NIC decodes into far more than that, and a cluster of
// thousands has a NIC per VM. The NICs' error comes first.
func (p *Provider) readAddresses(ctx context.Context, rg string) (map[string]addresses, map[string]bool, error) {
	var (
		nics          []nicAddr
		public        map[string]string
		nicErr, ipErr error
		wg            sync.WaitGroup
	)
	wg.Add(2)
	go func() { defer wg.Done(); nics, nicErr = p.listNICs(ctx, rg) }()
	go func() { defer wg.Done(); public, ipErr = p.listPublicIPs(ctx, rg) }()
	wg.Wait()
	if nicErr != nil {
		return nil, nil, nicErr
	}
	if ipErr != nil {
		return nil, nil, ipErr
	}
	out, complete := joinAddresses(nics, public)
	return out, complete, nil
}

// joinAddresses maps VMs (lower-case IDs) to their addresses, and says
// which VMs are complete: a private address, and each public address
// their NICs name known.
func joinAddresses(nics []nicAddr, public map[string]string) (map[string]addresses, map[string]bool) {
	out := make(map[string]addresses, len(nics))
	complete := make(map[string]bool, len(nics))
	for _, n := range nics {
		a := out[n.vm]
		ok, seen := complete[n.vm]
		if !seen {
			ok = true
		}
		if a.private == "" {
			a.private = n.private
		}
		for _, id := range n.publicIDs {
			ip, known := public[id]
			ok = ok && known && ip != ""
			if a.public == "" {
				a.public = ip
			}
		}
		out[n.vm] = a
		complete[n.vm] = ok && a.private != ""
	}
	return out, complete
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
