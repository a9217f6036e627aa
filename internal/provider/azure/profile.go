package azure

import (
	"encoding/base64"
	"math"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v6"

	"github.com/burstdev/burst/internal/catalog"
	"github.com/burstdev/burst/internal/plan"
)

// networkAPIVersion lets the compute RP create each VM's NIC (and the
// head's public IP) itself, with delete options, instead of burst making
// them one by one.
const networkAPIVersion = armcompute.NetworkAPIVersionTwoThousandTwenty1101

// vmProfile is what every VM of one launch shares.
type vmProfile struct {
	cluster, rg, location string
	// zone pins the VMs to one of the location's zones ("1"); empty lets
	// Azure place them anywhere in the location.
	zone       string
	capacity   catalog.Capacity
	tags       map[string]*string
	customData string // base64
	sshKey     string
	diskGB     int32
}

// imageFor picks the marketplace image of an offering: GPU sizes get the
// image with the NVIDIA driver, the rest Ubuntu LTS for their
// architecture.
func (p *Provider) imageFor(o plan.Offering) *armcompute.ImageReference {
	urn := p.opts.Images.X86
	switch {
	case o.GPUs > 0:
		urn = p.opts.Images.GPU
	case o.Arch == "arm64":
		urn = p.opts.Images.Arm
	}
	f := strings.Split(urn, ":")
	return &armcompute.ImageReference{Publisher: to.Ptr(f[0]), Offer: to.Ptr(f[1]), SKU: to.Ptr(f[2]), Version: to.Ptr(f[3])}
}

func (v vmProfile) zones() []*string {
	if v.zone == "" {
		return nil
	}
	return []*string{to.Ptr(v.zone)}
}

func diskGB(bytes int64) int32 {
	if bytes <= 0 {
		return 0
	}
	return int32(math.Ceil(float64(bytes) / (1 << 30)))
}

func encodeCustomData(script string) string {
	return base64.StdEncoding.EncodeToString([]byte(script))
}

func (v vmProfile) osDisk() *armcompute.VirtualMachineScaleSetOSDisk {
	d := &armcompute.VirtualMachineScaleSetOSDisk{
		CreateOption: to.Ptr(armcompute.DiskCreateOptionTypesFromImage),
		Caching:      to.Ptr(armcompute.CachingTypesReadWrite),
		DeleteOption: to.Ptr(armcompute.DiskDeleteOptionTypesDelete),
		ManagedDisk:  &armcompute.VirtualMachineScaleSetManagedDiskParameters{StorageAccountType: to.Ptr(armcompute.StorageAccountTypesStandardSSDLRS)},
	}
	if v.diskGB > 0 {
		d.DiskSizeGB = to.Ptr(v.diskGB)
	}
	return d
}

func (v vmProfile) linux() *armcompute.LinuxConfiguration {
	return &armcompute.LinuxConfiguration{
		DisablePasswordAuthentication: to.Ptr(true),
		SSH: &armcompute.SSHConfiguration{PublicKeys: []*armcompute.SSHPublicKey{{
			Path: to.Ptr("/home/" + adminUser + "/.ssh/authorized_keys"), KeyData: to.Ptr(v.sshKey),
		}}},
	}
}

// spot sets a VM profile's priority: Spot VMs are deleted, not
// deallocated, on eviction (a deallocated VM keeps billing for its disk),
// and pay up to the on-demand price (maxPrice -1), so price never evicts
// them.
func spot(c catalog.Capacity) (*armcompute.VirtualMachinePriorityTypes, *armcompute.VirtualMachineEvictionPolicyTypes, *armcompute.BillingProfile) {
	if c != catalog.Spot {
		return to.Ptr(armcompute.VirtualMachinePriorityTypesRegular), nil, nil
	}
	return to.Ptr(armcompute.VirtualMachinePriorityTypesSpot), to.Ptr(armcompute.VirtualMachineEvictionPolicyTypesDelete),
		&armcompute.BillingProfile{MaxPrice: to.Ptr(-1.0)}
}

// scaleSetBody is a Flexible scale set of count VMs of the sizes (an
// instance mix when there are several). VMs get no public address; they
// reach the internet through the subnet's default outbound access. Each
// VM's NIC carries the cluster's NSG, as the head's does: a subnet made
// in a fresh group has none (prepareNetwork).
func (p *Provider) scaleSetBody(v vmProfile, name string, sizes []plan.Offering, count int) armcompute.VirtualMachineScaleSet {
	priority, eviction, billing := spot(v.capacity)
	sku := &armcompute.SKU{Name: to.Ptr(sizes[0].InstanceType), Tier: to.Ptr("Standard"), Capacity: to.Ptr(int64(count))}
	var mix *armcompute.SKUProfile
	if len(sizes) > 1 {
		sku.Name, sku.Tier = to.Ptr("Mix"), nil
		// Spot capacity is the scarce thing: put Spot VMs where the pools
		// are deepest. On demand, take the cheapest size with capacity.
		strategy := armcompute.AllocationStrategyLowestPrice
		if v.capacity == catalog.Spot {
			strategy = armcompute.AllocationStrategyCapacityOptimized
		}
		mix = &armcompute.SKUProfile{AllocationStrategy: to.Ptr(strategy)}
		for _, o := range sizes {
			mix.VMSizes = append(mix.VMSizes, &armcompute.SKUProfileVMSize{Name: to.Ptr(o.InstanceType)})
		}
	}
	return armcompute.VirtualMachineScaleSet{
		Location: to.Ptr(v.location),
		Zones:    v.zones(),
		Tags:     v.tags,
		SKU:      sku,
		Identity: &armcompute.VirtualMachineScaleSetIdentity{
			Type:                   to.Ptr(armcompute.ResourceIdentityTypeUserAssigned),
			UserAssignedIdentities: map[string]*armcompute.UserAssignedIdentitiesValue{p.identityID(v.rg, v.cluster): {}},
		},
		Properties: &armcompute.VirtualMachineScaleSetProperties{
			OrchestrationMode: to.Ptr(armcompute.OrchestrationModeFlexible),
			// Regional placement unless the offering names a zone, spread
			// over fault domains: no zone constraint narrows the capacity
			// Azure can find.
			PlatformFaultDomainCount: to.Ptr[int32](1),
			SKUProfile:               mix,
			VirtualMachineProfile: &armcompute.VirtualMachineScaleSetVMProfile{
				OSProfile: &armcompute.VirtualMachineScaleSetOSProfile{
					ComputerNamePrefix: to.Ptr(computerNamePrefix(name)),
					AdminUsername:      to.Ptr(adminUser),
					CustomData:         to.Ptr(v.customData),
					LinuxConfiguration: v.linux(),
				},
				StorageProfile: &armcompute.VirtualMachineScaleSetStorageProfile{
					ImageReference: p.imageFor(sizes[0]),
					OSDisk:         v.osDisk(),
				},
				NetworkProfile: &armcompute.VirtualMachineScaleSetNetworkProfile{
					NetworkAPIVersion: to.Ptr(networkAPIVersion),
					NetworkInterfaceConfigurations: []*armcompute.VirtualMachineScaleSetNetworkConfiguration{{
						Name: to.Ptr("nic"),
						Properties: &armcompute.VirtualMachineScaleSetNetworkConfigurationProperties{
							Primary:              to.Ptr(true),
							DeleteOption:         to.Ptr(armcompute.DeleteOptionsDelete),
							NetworkSecurityGroup: &armcompute.SubResource{ID: to.Ptr(p.nsgID(v.rg, v.cluster))},
							IPConfigurations: []*armcompute.VirtualMachineScaleSetIPConfiguration{{
								Name: to.Ptr("ipconfig"),
								Properties: &armcompute.VirtualMachineScaleSetIPConfigurationProperties{
									Primary: to.Ptr(true),
									Subnet:  &armcompute.APIEntityReference{ID: to.Ptr(p.subnetID(v.rg, v.cluster))},
								},
							}},
						},
					}},
				},
				Priority:       priority,
				EvictionPolicy: eviction,
				BillingProfile: billing,
			},
		},
	}
}

// vmBody is the head: one VM with a public address (the laptop reaches
// Dask through it), its NIC, disk and address all deleted with it.
func (p *Provider) vmBody(v vmProfile, name string, o plan.Offering) armcompute.VirtualMachine {
	priority, eviction, billing := spot(v.capacity)
	d := v.osDisk()
	size := armcompute.VirtualMachineSizeTypes(o.InstanceType)
	return armcompute.VirtualMachine{
		Location: to.Ptr(v.location),
		Zones:    v.zones(),
		Tags:     v.tags,
		Identity: &armcompute.VirtualMachineIdentity{
			Type:                   to.Ptr(armcompute.ResourceIdentityTypeUserAssigned),
			UserAssignedIdentities: map[string]*armcompute.UserAssignedIdentitiesValue{p.identityID(v.rg, v.cluster): {}},
		},
		Properties: &armcompute.VirtualMachineProperties{
			HardwareProfile: &armcompute.HardwareProfile{VMSize: &size},
			OSProfile: &armcompute.OSProfile{
				ComputerName:       to.Ptr(headComputerName(v.cluster)),
				AdminUsername:      to.Ptr(adminUser),
				CustomData:         to.Ptr(v.customData),
				LinuxConfiguration: v.linux(),
			},
			StorageProfile: &armcompute.StorageProfile{
				ImageReference: p.imageFor(o),
				OSDisk: &armcompute.OSDisk{
					CreateOption: d.CreateOption, Caching: d.Caching, DeleteOption: d.DeleteOption, DiskSizeGB: d.DiskSizeGB,
					ManagedDisk: &armcompute.ManagedDiskParameters{StorageAccountType: d.ManagedDisk.StorageAccountType},
				},
			},
			NetworkProfile: &armcompute.NetworkProfile{
				NetworkAPIVersion: to.Ptr(networkAPIVersion),
				NetworkInterfaceConfigurations: []*armcompute.VirtualMachineNetworkInterfaceConfiguration{{
					Name: to.Ptr("nic"),
					Properties: &armcompute.VirtualMachineNetworkInterfaceConfigurationProperties{
						Primary:              to.Ptr(true),
						DeleteOption:         to.Ptr(armcompute.DeleteOptionsDelete),
						NetworkSecurityGroup: &armcompute.SubResource{ID: to.Ptr(p.nsgID(v.rg, v.cluster))},
						IPConfigurations: []*armcompute.VirtualMachineNetworkInterfaceIPConfiguration{{
							Name: to.Ptr("ipconfig"),
							Properties: &armcompute.VirtualMachineNetworkInterfaceIPConfigurationProperties{
								Primary: to.Ptr(true),
								Subnet:  &armcompute.SubResource{ID: to.Ptr(p.subnetID(v.rg, v.cluster))},
								PublicIPAddressConfiguration: &armcompute.VirtualMachinePublicIPAddressConfiguration{
									Name: to.Ptr("pip"),
									SKU: &armcompute.PublicIPAddressSKU{
										Name: to.Ptr(armcompute.PublicIPAddressSKUNameStandard),
										Tier: to.Ptr(armcompute.PublicIPAddressSKUTierRegional),
									},
									Properties: &armcompute.VirtualMachinePublicIPAddressConfigurationProperties{
										DeleteOption:             to.Ptr(armcompute.DeleteOptionsDelete),
										PublicIPAllocationMethod: to.Ptr(armcompute.PublicIPAllocationMethodStatic),
									},
								},
							},
						}},
					},
				}},
			},
			Priority:       priority,
			EvictionPolicy: eviction,
			BillingProfile: billing,
		},
	}
}
