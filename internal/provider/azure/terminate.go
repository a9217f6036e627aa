package azure

import (
	"context"
	"errors"
	"sort"
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v6"

	"github.com/burstdev/burst/internal/provider"
)

// Terminate implements provider.Provider. VMs of a Flexible scale set go in
// one delete-instances call per set (which also lowers the set's
// capacity); a standalone VM (the head) in one delete each. Deletes are
// forced (no graceful shutdown: the machine's work is being thrown away)
// and take the VM's NIC, disk and public IP with them (deleteOption
// Delete). Terminate returns once Azure accepted the deletes. Machines
// already gone, and IDs burst did not make, are not an error.
func (p *Provider) Terminate(ctx context.Context, ms []provider.Machine) error {
	if len(ms) == 0 {
		return nil
	}
	if err := p.init(); err != nil {
		return err
	}
	type setKey struct{ rg, set string }
	sets := map[setKey][]string{}
	var single []setKey // rg, vm
	for _, m := range ms {
		rg, vm, ok := parseMachineID(m.ID)
		if !ok {
			continue
		}
		if set := setOfVM(vm); set != "" {
			k := setKey{rg, set}
			sets[k] = append(sets[k], vm)
		} else {
			single = append(single, setKey{rg, vm})
		}
	}
	type job func() error
	var jobs []job
	keys := make([]setKey, 0, len(sets))
	for k := range sets {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].rg+keys[i].set < keys[j].rg+keys[j].set })
	for _, k := range keys {
		names := sets[k]
		jobs = append(jobs, func() error {
			_, err := p.c.sets.BeginDeleteInstances(ctx, k.rg, k.set,
				armcompute.VirtualMachineScaleSetVMInstanceRequiredIDs{InstanceIDs: to.SliceOfPtrs(names...)},
				&armcompute.VirtualMachineScaleSetsClientBeginDeleteInstancesOptions{ForceDeletion: to.Ptr(true)})
			if err != nil && !isNotFound(err) {
				return classify("VirtualMachineScaleSets.DeleteInstances", err)
			}
			return nil
		})
	}
	for _, k := range single {
		jobs = append(jobs, func() error { return p.deleteVM(ctx, k.rg, k.set) })
	}
	errs := make([]error, len(jobs))
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for i, j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			errs[i] = j()
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}
