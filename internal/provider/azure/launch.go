package azure

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v6"

	"github.com/burstdev/burst/internal/bootstrap"
	"github.com/burstdev/burst/internal/plan"
	"github.com/burstdev/burst/internal/provider"
	"github.com/burstdev/burst/pkg/spec"
)

// Scale set limits: a Flexible scale set holds up to 1000 VMs, 200 of the
// limited families (N-series GPUs, H-series HPC); an instance mix lists up
// to five sizes.
const (
	maxSetVMs        = 1000
	maxLimitedSetVMs = 200
	maxMixSizes      = 5
	// setVMs is the most VMs burst puts in one set, below Azure's 1000:
	// once a set's operation has succeeded its VMs are listed, a chain of
	// pages read one after another (a nextLink cannot be asked for before
	// the page that carries it), so a count goes into sets of at most
	// this many, created and listed side by side. 1000 workers are four
	// sets, four lists of a quarter of the pages each, at the cost of
	// three more writes and their operations' polls; every later
	// listing's power states (one list per set) are split the same way.
	setVMs = 250
	// setsInFlight bounds the scale sets one Launch creates at once.
	setsInFlight = 4
)

// limited reports whether a size belongs to a family Azure caps at 200
// VMs per Flexible scale set.
func limited(size string) bool {
	n := strings.TrimPrefix(size, "Standard_")
	return strings.HasPrefix(n, "N") || strings.HasPrefix(n, "H")
}

// mixable reports whether a size may join an instance mix: not a GPU size
// and not a limited family.
func mixable(o plan.Offering) bool { return o.GPUs == 0 && !limited(o.InstanceType) }

// batch is one scale set's worth of offerings: a location and the sizes it
// may use (several make an instance mix).
type batch struct {
	location, zone string
	offerings      []plan.Offering
}

// batches groups offerings, keeping the planner's order: each batch starts
// at the next unused offering and, when that size can join an instance
// mix, takes the next mixable sizes of the same location (and zone, for a
// zonal offering) and architecture, up to five. Capacity for a cluster is then sought size by size inside a
// location before another location is tried.
func batches(offs []plan.Offering) []batch {
	used := make([]bool, len(offs))
	var out []batch
	for i, o := range offs {
		if used[i] {
			continue
		}
		used[i] = true
		b := batch{location: o.Region, zone: o.Zone, offerings: []plan.Offering{o}}
		if mixable(o) {
			for j := i + 1; j < len(offs) && len(b.offerings) < maxMixSizes; j++ {
				q := offs[j]
				if used[j] || q.Region != o.Region || q.Zone != o.Zone || q.Arch != o.Arch || !mixable(q) ||
					slices.ContainsFunc(b.offerings, func(x plan.Offering) bool { return x.InstanceType == q.InstanceType }) {
					continue
				}
				used[j] = true
				b.offerings = append(b.offerings, q)
			}
		}
		out = append(out, b)
	}
	return out
}

// setLimit is the most VMs Azure lets one of the batch's sets hold.
func (b batch) setLimit() int {
	for _, o := range b.offerings {
		if limited(o.InstanceType) {
			return maxLimitedSetVMs
		}
	}
	return maxSetVMs
}

// setCounts splits n VMs over as few sets of at most size as hold them,
// as evenly as it goes (sizes differ by one at most), so that no set's
// listing is much longer than another's.
func setCounts(n, size int) []int {
	if n <= 0 {
		return nil
	}
	k := (n + size - 1) / size
	out := make([]int, k)
	for i := range out {
		out[i] = n / k
		if i < n%k {
			out[i]++
		}
	}
	return out
}

// Launch implements provider.Provider. Workers go into Flexible scale sets
// whose capacity is set in one PUT each (several sets past setVMs VMs, or
// 200 for limited families, created side by side); the head is a single
// VM. Offerings are tried in
// order, a location's mixable sizes together as an instance mix. A set
// that got fewer VMs than asked is scaled down to what it got, so Azure
// does not fill it later unasked, and the shortfall is a failure of its
// offerings with ErrNoCapacity or ErrQuota.
//
// Sets and head VMs are named from req.Token and tagged with it; a Launch
// that finds its token's resources returns their machines and creates
// nothing.
func (p *Provider) Launch(ctx context.Context, req provider.LaunchRequest) (*provider.LaunchResult, error) {
	res := &provider.LaunchResult{}
	if req.Count <= 0 || len(req.Offerings) == 0 || req.Token == "" || req.Cluster == "" {
		return res, provider.Errorf(provider.ErrInvalid, provider.ScopeOffering, "azure: a launch needs a cluster, a count, offerings and a token")
	}
	for _, o := range req.Offerings {
		if o.Provider != Name {
			return res, provider.Errorf(provider.ErrInvalid, provider.ScopeOffering, "azure: offering %s is not an azure offering", o)
		}
		if o.Capacity != req.Offerings[0].Capacity {
			return res, provider.Errorf(provider.ErrInvalid, provider.ScopeOffering, "azure: one launch takes one capacity type (%s and %s)", req.Offerings[0].Capacity, o.Capacity)
		}
	}
	if err := p.init(); err != nil {
		return res, err
	}
	found, ms, err := p.launched(ctx, req)
	if err != nil {
		return res, err
	}
	if found {
		res.Machines = ms
		return res, nil
	}
	key, err := p.publicKey(req.Cluster)
	if err != nil {
		return res, err
	}
	// One custom data serves every VM of a set, so no worker name is given:
	// each Dask worker is named after its host.
	script, err := bootstrap.Render(req.Boot, bootstrap.Options{Target: bootstrap.Azure, APIEndpoint: p.opts.Endpoint})
	if err != nil {
		return res, &provider.Error{Kind: provider.ErrInvalid, Scope: provider.ScopeProvider, Op: "bootstrap", Msg: err.Error(), Err: err}
	}
	tags := map[string]*string{}
	for k, v := range req.Tags {
		tags[k] = to.Ptr(v)
	}
	tags[provider.TagCluster] = to.Ptr(req.Cluster)
	tags[provider.TagRole] = to.Ptr(string(req.Role))
	tags[TagToken] = to.Ptr(req.Token)
	prof := vmProfile{cluster: req.Cluster, capacity: req.Offerings[0].Capacity, tags: tags,
		customData: encodeCustomData(script), sshKey: key, diskGB: diskGB(int64(req.Disk))}
	if req.Role == spec.RoleHead {
		err = p.launchHeads(ctx, req, prof, res)
	} else {
		err = p.launchWorkers(ctx, req, prof, res)
	}
	return res, err
}

// retryable reports whether another offering may succeed where err failed.
func retryable(err error) bool {
	return errors.Is(err, provider.ErrNoCapacity) || errors.Is(err, provider.ErrQuota)
}

// regional reports whether err rules out the rest of a location for this
// capacity type: the regional vCPU quota, on demand or Spot.
func regional(err error) bool {
	var pe *provider.Error
	return errors.As(err, &pe) && errors.Is(pe.Kind, provider.ErrQuota) && strings.Contains(pe.Msg, "Total Regional")
}

func addFailures(res *provider.LaunchResult, offs []plan.Offering, err error) {
	for _, o := range offs {
		res.Failures = append(res.Failures, provider.OfferingError{Offering: o, Err: err})
	}
}

func (p *Provider) launchWorkers(ctx context.Context, req provider.LaunchRequest, prof vmProfile, res *provider.LaunchResult) error {
	remaining := req.Count
	setIdx := 0
	blocked := map[string]error{}
	for _, b := range batches(req.Offerings) {
		if remaining == 0 {
			break
		}
		if err := blocked[b.location]; err != nil {
			addFailures(res, b.offerings, err)
			continue
		}
		if err := p.ensureRegion(ctx, req.Cluster, b.location, req.Tags); err != nil {
			if !retryable(err) {
				return err
			}
			addFailures(res, b.offerings, err)
			continue
		}
		v := prof
		v.location, v.zone, v.rg = b.location, b.zone, resourceGroup(req.Cluster, b.location)
		counts := setCounts(remaining, min(setVMs, b.setLimit()))
		type result struct {
			ms  []provider.Machine
			err error
		}
		results := make([]result, len(counts))
		sem := make(chan struct{}, setsInFlight)
		var wg sync.WaitGroup
		for i, n := range counts {
			name := scaleSetName(req.Cluster, req.Token, setIdx+i)
			wg.Add(1)
			go func() {
				defer wg.Done()
				sem <- struct{}{}
				defer func() { <-sem }()
				results[i].ms, results[i].err = p.createSet(ctx, v, name, b.offerings, n)
			}()
		}
		wg.Wait()
		setIdx += len(counts)
		var batchErr error
		for _, r := range results {
			res.Machines = append(res.Machines, r.ms...)
			remaining -= len(r.ms)
			if r.err != nil && (batchErr == nil || retryable(batchErr) && !retryable(r.err)) {
				batchErr = r.err
			}
		}
		if batchErr == nil {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if !retryable(batchErr) {
			return batchErr
		}
		addFailures(res, b.offerings, batchErr)
		if regional(batchErr) {
			blocked[b.location] = batchErr
		}
	}
	return nil
}

// createSet makes one Flexible scale set of n VMs and returns the machines
// it got.
func (p *Provider) createSet(ctx context.Context, v vmProfile, name string, sizes []plan.Offering, n int) ([]provider.Machine, error) {
	const op = "VirtualMachineScaleSets.CreateOrUpdate"
	body := p.scaleSetBody(v, name, sizes, n)
	var first *http.Response
	poller, err := p.c.sets.BeginCreateOrUpdate(capture(ctx, &first), v.rg, name, body, nil)
	if err != nil {
		return nil, classify(op, err)
	}
	// The set itself is not read back: its VMs are listed next.
	opErr := settle(ctx, p, poller, first)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	setID := p.groupID(v.rg) + "/providers/Microsoft.Compute/virtualMachineScaleSets/" + name
	vms, err := p.listVMs(ctx, v.rg, setID)
	if err != nil {
		return nil, err
	}
	ms := make([]provider.Machine, 0, len(vms))
	for _, vm := range vms {
		ms = append(ms, p.machine(vm, v.tags, nil))
	}
	if len(ms) > 0 {
		p.hintLaunched(v.rg, setID, "")
	}
	if len(ms) >= n {
		return ms, nil
	}
	// Azure keeps a set's capacity at what was asked and may fill it
	// later, unasked: bring it down to what exists.
	if err := p.resizeSet(ctx, v.rg, name, body.SKU, len(ms)); err != nil && opErr == nil {
		opErr = err
	}
	if opErr == nil {
		opErr = &provider.Error{Kind: provider.ErrNoCapacity, Scope: provider.ScopeOffering, Op: op, Code: "AllocationFailed",
			Msg: fmt.Sprintf("scale set %s got %d of %d VMs", name, len(ms), n)}
	}
	return ms, classify(op, opErr)
}

func (p *Provider) resizeSet(ctx context.Context, rg, name string, sku *armcompute.SKU, capacity int) error {
	s := *sku
	s.Capacity = to.Ptr(int64(capacity))
	var first *http.Response
	poller, err := p.c.sets.BeginUpdate(capture(ctx, &first), rg, name, armcompute.VirtualMachineScaleSetUpdate{SKU: &s}, nil)
	if err != nil {
		return classify("VirtualMachineScaleSets.Update", err)
	}
	if err := settle(ctx, p, poller, first); err != nil {
		return classify("VirtualMachineScaleSets.Update", err)
	}
	return nil
}

// launchHeads makes req.Count single VMs (the engine asks for one head),
// each trying the offerings in order.
func (p *Provider) launchHeads(ctx context.Context, req provider.LaunchRequest, prof vmProfile, res *provider.LaunchResult) error {
	const op = "VirtualMachines.CreateOrUpdate"
	for k := 0; k < req.Count; k++ {
		got := false
		for i, o := range req.Offerings {
			if err := p.ensureRegion(ctx, req.Cluster, o.Region, req.Tags); err != nil {
				if !retryable(err) {
					return err
				}
				addFailures(res, []plan.Offering{o}, err)
				continue
			}
			v := prof
			v.location, v.zone, v.rg = o.Region, o.Zone, resourceGroup(req.Cluster, o.Region)
			name := headName(req.Cluster, req.Token, k*len(req.Offerings)+i)
			var first *http.Response
			poller, err := p.c.vms.BeginCreateOrUpdate(capture(ctx, &first), v.rg, name, p.vmBody(v, name, o), nil)
			var (
				vm    *armcompute.VirtualMachine
				addrs *headAddresses
			)
			if err == nil {
				// The head's addresses are read while its operation
				// runs (see headAddresses).
				addrs = p.readHeadAddresses(ctx, v.rg, p.groupID(v.rg)+"/providers/Microsoft.Compute/virtualMachines/"+name)
				if err = settle(ctx, p, poller, first); err == nil {
					vm, err = createdVM(ctx, poller, first)
				}
			}
			if err != nil {
				if addrs != nil {
					addrs.abandon()
				}
				if cerr := ctx.Err(); cerr != nil {
					return cerr
				}
				e := classify(op, err)
				if !retryable(e) {
					return e
				}
				addFailures(res, []plan.Offering{o}, e)
				// A VM whose allocation failed stays behind, Failed.
				// Deleting it is best effort: if that fails too, it is
				// still in the cluster's resource group, which down and
				// gc delete.
				_ = p.deleteVM(ctx, v.rg, name)
				continue
			}
			res.Machines = append(res.Machines, p.machine(vm, nil, addrs.get()))
			p.hintLaunched(v.rg, "", name)
			got = true
			break
		}
		if !got {
			break
		}
	}
	return nil
}

// headAddresses reads a new head's addresses beside its create operation.
// A NIC's private address is allocated when the NIC is created and a
// Standard static public address when the public IP is, and the compute RP
// makes both (from the VM's networkInterfaceConfigurations) as part of the
// VM's creation, before the VM can succeed. So the group's NICs and public
// IPs are listed once as soon as the PUT is answered, while the operation
// is polled; if that read did not find both of the head's addresses (its
// NIC not made yet, which on ARM is likely: a VM takes tens of seconds),
// they are listed again once the operation has succeeded, when they exist.
// Either way the head comes back from Launch with its addresses, which
// the engine would otherwise have had to list the cluster for (waitHead);
// the second read costs what that listing would have, the first one saves
// it where the NIC was there early.
type headAddresses struct {
	p      *Provider
	ctx    context.Context
	cancel context.CancelFunc
	rg, id string
	done   chan struct{}
	a      addresses
	ok     bool
}

func (p *Provider) readHeadAddresses(ctx context.Context, rg, vmID string) *headAddresses {
	ctx, cancel := context.WithCancel(ctx)
	h := &headAddresses{p: p, ctx: ctx, cancel: cancel, rg: rg, id: strings.ToLower(vmID), done: make(chan struct{})}
	go func() {
		defer close(h.done)
		h.a, h.ok = h.read()
	}()
	return h
}

func (h *headAddresses) read() (addresses, bool) {
	all, complete, err := h.p.readAddresses(h.ctx, h.rg)
	if err != nil {
		return addresses{}, false
	}
	return all[h.id], complete[h.id]
}

// get returns the head's addresses (its VM's lower-case ID to them), once
// its operation succeeded: the early read's if complete, else a second
// read's; nil when neither got them (the engine then lists the cluster,
// as it would have).
func (h *headAddresses) get() map[string]addresses {
	<-h.done
	defer h.cancel()
	a, ok := h.a, h.ok
	if !ok {
		a, ok = h.read()
	}
	if !ok {
		return nil
	}
	return map[string]addresses{h.id: a}
}

// abandon stops the read; the operation failed.
func (h *headAddresses) abandon() {
	h.cancel()
	<-h.done
}

// createdVM is the VM a create made, once its operation succeeded: the
// VM as the PUT's first answer described it (its name, ID, location,
// tags, size, priority and zones are what was asked), with the
// provisioning state the operation ended in, Succeeded. That spares the
// GET the SDK's Result would make; a first answer that carries no VM
// falls back to it.
func createdVM(ctx context.Context, poller *runtime.Poller[armcompute.VirtualMachinesClientCreateOrUpdateResponse], first *http.Response) (*armcompute.VirtualMachine, error) {
	var vm armcompute.VirtualMachine
	if first != nil && readJSON(first, &vm) && vm.ID != nil && vm.Name != nil && vm.Properties != nil {
		vm.Properties.ProvisioningState = to.Ptr("Succeeded")
		return slimVM(&vm), nil
	}
	r, err := poller.Result(ctx)
	if err != nil {
		return nil, err
	}
	return slimVM(&r.VirtualMachine), nil
}

// deleteVM asks Azure to delete a VM and does not wait.
func (p *Provider) deleteVM(ctx context.Context, rg, name string) error {
	_, err := p.c.vms.BeginDelete(ctx, rg, name, &armcompute.VirtualMachinesClientBeginDeleteOptions{ForceDeletion: to.Ptr(true)})
	if err != nil && !isNotFound(err) {
		return classify("VirtualMachines.Delete", err)
	}
	return nil
}

// launched finds what an earlier Launch with req.Token made. A group
// this process created (its PUT was answered 201 Created: it did not
// exist) is not listed for a token this process has not launched with
// before: whatever is in it was made since, by this process, under other
// tokens. A group that existed (200 OK), as after a crash, is listed.
func (p *Provider) launched(ctx context.Context, req provider.LaunchRequest) (bool, []provider.Machine, error) {
	found := false
	var out []provider.Machine
	var locs []string
	for _, o := range req.Offerings {
		locs = append(locs, o.Region)
	}
	p.mu.Lock()
	again := p.tokens[req.Token]
	p.tokens[req.Token] = true
	p.mu.Unlock()
	for _, loc := range dedupe(locs) {
		rg := resourceGroup(req.Cluster, loc)
		p.mu.Lock()
		fresh := p.fresh[strings.ToLower(rg)]
		p.mu.Unlock()
		if fresh && !again {
			continue
		}
		if req.Role == spec.RoleHead {
			vms, err := p.listVMs(ctx, rg, "")
			if isNotFound(err) {
				continue
			}
			if err != nil {
				return false, nil, err
			}
			for _, vm := range vms {
				if vm.Tags[TagToken] != nil && *vm.Tags[TagToken] == req.Token {
					found = true
					out = append(out, p.machine(vm, nil, nil))
				}
			}
			continue
		}
		sets, err := p.listSets(ctx, rg)
		if isNotFound(err) {
			continue
		}
		if err != nil {
			return false, nil, err
		}
		for _, s := range sets {
			if s.Tags[TagToken] == nil || *s.Tags[TagToken] != req.Token || s.ID == nil {
				continue
			}
			found = true
			vms, err := p.listVMs(ctx, rg, *s.ID)
			if err != nil {
				return false, nil, err
			}
			for _, vm := range vms {
				out = append(out, p.machine(vm, s.Tags, nil))
			}
		}
	}
	return found, out, nil
}

func (p *Provider) listSets(ctx context.Context, rg string) ([]*armcompute.VirtualMachineScaleSet, error) {
	var out []*armcompute.VirtualMachineScaleSet
	pager := p.c.sets.NewListPager(rg, nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, classify("VirtualMachineScaleSets.List", err)
		}
		out = append(out, page.Value...)
	}
	return out, nil
}

// listVMs lists a group's VMs, or one scale set's when setID is given.
func (p *Provider) listVMs(ctx context.Context, rg, setID string) ([]*armcompute.VirtualMachine, error) {
	var opts *armcompute.VirtualMachinesClientListOptions
	if setID != "" {
		opts = &armcompute.VirtualMachinesClientListOptions{Filter: to.Ptr(fmt.Sprintf("'virtualMachineScaleSet/id' eq '%s'", setID))}
	}
	return p.pageVMs(ctx, rg, opts, nil)
}

// listVMsExpanded lists a scale set's VMs with their instance views (ARM
// expands them only for a list filtered by scale set).
func (p *Provider) listVMsExpanded(ctx context.Context, rg, setID string) ([]*armcompute.VirtualMachine, error) {
	return p.pageVMs(ctx, rg, &armcompute.VirtualMachinesClientListOptions{
		Filter: to.Ptr(fmt.Sprintf("'virtualMachineScaleSet/id' eq '%s'", setID)),
		Expand: to.Ptr(armcompute.ExpandTypeForListVMsInstanceView),
	}, nil)
}

// slimVM keeps the parts of a listed VM that burst reads (names, tags,
// zone, size, priority, creation time, states, scale set) and drops the
// rest, which the SDK decodes in full: profiles, extensions, identities.
// A cluster of thousands is listed on every observation, and holding whole
// VMs made most of `burst up`'s memory (docs/benchmarks.md).
func slimVM(vm *armcompute.VirtualMachine) *armcompute.VirtualMachine {
	if vm == nil {
		return nil
	}
	s := &armcompute.VirtualMachine{ID: vm.ID, Name: vm.Name, Location: vm.Location, Tags: vm.Tags, Zones: vm.Zones}
	pr := vm.Properties
	if pr == nil {
		return s
	}
	s.Properties = &armcompute.VirtualMachineProperties{
		HardwareProfile: pr.HardwareProfile, Priority: pr.Priority, TimeCreated: pr.TimeCreated,
		ProvisioningState: pr.ProvisioningState, VirtualMachineScaleSet: pr.VirtualMachineScaleSet,
	}
	if iv := pr.InstanceView; iv != nil {
		v := &armcompute.VirtualMachineInstanceView{}
		for _, st := range iv.Statuses {
			if st != nil {
				v.Statuses = append(v.Statuses, &armcompute.InstanceViewStatus{Code: st.Code})
			}
		}
		s.Properties.InstanceView = v
	}
	return s
}
