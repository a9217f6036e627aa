package arm

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v6"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v6"

	"github.com/burstdev/burst/internal/catalog"
	"github.com/burstdev/burst/internal/cloudsim"
)

// Limits Azure puts on Flexible scale sets.
const (
	// MaxScaleSetVMs is the most VMs one Flexible scale set holds.
	MaxScaleSetVMs = 1000
	// MaxLimitedScaleSetVMs is the most for limited families (N-series,
	// HPC).
	MaxLimitedScaleSetVMs = 200
	// MaxMixSizes is the most VM sizes an instance mix lists.
	MaxMixSizes = 5
)

// vmSpec is what a VM or a scale set's VM profile asks for.
type vmSpec struct {
	sizes        []catalog.Type
	ranks        map[string]int32
	strategy     armcompute.AllocationStrategy
	capacity     string // cloudsim.OnDemand or cloudsim.Spot
	priority     string
	eviction     string
	maxPrice     *float64
	identities   []string
	adminUser    string
	customData   string // decoded
	image        armcompute.ImageReference
	osDiskDelete string
	osDiskSizeGB int32
	osDiskType   string
	// osDiskEncryption is how Azure encrypts the OS disk at rest:
	// EncryptionAtRestWithPlatformKey (always, unless a disk encryption set
	// names a customer key: Azure has no switch that turns it off).
	osDiskEncryption string
	// adeSettings is "enabled" or "disabled" when the VM asked for Azure
	// Disk Encryption settings, "" when it said nothing.
	adeSettings string
	// encryptionAtHost is "true" or "false" when asked, "" otherwise.
	encryptionAtHost string
	nicName          string
	ipConfigName     string
	nicDelete        string
	subnetID         string
	nsgID            string
	pipName          string
	pipDelete        string
	computerName     string // a VM's name, a set's prefix
	zones            []string
}

// vmRecord is one VM the server created.
type vmRecord struct {
	id, name, rg, location string
	set                    string // lower-case scale set ID; "" for a standalone VM
	size                   string
	zone                   string // Azure's zone number, "" when regional
	spec                   *vmSpec
	computerName           string
	nicID, diskID, pipID   string
	tags                   map[string]string // the VM's own tags
	created                time.Time
	vmID                   string
	deleted                bool // a delete was asked for
	counted                bool // still counted in its set's capacity
	// listed caches the VM as lists show it, by what it depends on that
	// changes (the instance's state, the instance view asked for): a list
	// of thousands renders each VM once a state, not once a page asked.
	// Cleared when the VM's own data changes (its tags).
	listed map[listedKey]json.RawMessage
}

type listedKey struct {
	state  string
	reason string
	expand bool
}

// listedJSON is a VM as lists show it, rendered once per state.
func (s *Server) listedJSON(rec *vmRecord, in cloudsim.Instance, expand bool) json.RawMessage {
	k := listedKey{in.State, in.StateReason, expand}
	if b, ok := rec.listed[k]; ok {
		return b
	}
	b, err := json.Marshal(s.vmJSONOf(rec, in, expand))
	if err != nil {
		panic(err) // the SDK's own model
	}
	if rec.listed == nil {
		rec.listed = map[listedKey]json.RawMessage{}
	}
	rec.listed[k] = b
	return b
}

// setState is a Flexible scale set.
type setState struct {
	obj      armcompute.VirtualMachineScaleSet
	spec     *vmSpec
	id       string
	rg       string
	capacity int64
	lastOp   *operation
	seq      int
}

func quotaUses(t catalog.Type, location, capacity string) []cloudsim.QuotaUse {
	v := float64(t.VCPUs)
	uses := []cloudsim.QuotaUse{{Key: cloudsim.QuotaKey{Region: location, Name: "virtualMachines"}, Amount: 1}}
	if capacity == cloudsim.Spot {
		return append(uses, cloudsim.QuotaUse{Key: cloudsim.QuotaKey{Region: location, Name: "lowPriorityCores"}, Amount: v})
	}
	return append(uses,
		cloudsim.QuotaUse{Key: cloudsim.QuotaKey{Region: location, Name: "cores"}, Amount: v},
		cloudsim.QuotaUse{Key: cloudsim.QuotaKey{Region: location, Name: t.Family}, Amount: v})
}

// quotaDisplay is the name Azure's quota errors give a quota.
func quotaDisplay(name string) string {
	switch name {
	case "cores":
		return "Total Regional Cores"
	case "lowPriorityCores":
		return "Total Regional Low-priority Cores"
	case "virtualMachines":
		return "Total Regional Virtual Machines"
	}
	return name + " Cores"
}

func quotaError(location string, k cloudsim.QuotaKey, limit, usage, need float64) *apiError {
	return errorf(http.StatusConflict, "OperationNotAllowed",
		"Operation could not be completed as it results in exceeding approved %s quota. Additional details - Deployment Model: Resource Manager, Location: %s, Current Limit: %g, Current Usage: %g, Additional Required: %g, (Minimum) New Limit Required: %g. Setup Alerts when Quota reaches threshold. Learn more at https://aka.ms/quotamonitoringalerting . Submit a request for Quota increase at https://aka.ms/ProdportalCRP/#blade/Microsoft_Azure_Capacity/UsageAndQuota.ReactView/Parameters/ by specifying parameters listed in the 'Details' section for deployment to succeed.",
		quotaDisplay(k.Name), location, limit, usage, need, usage+need)
}

// quotaCheck is ARM's synchronous quota validation of n more VMs: it
// passes when one of the sizes fits entirely, else it names the first
// size's binding quota.
func (s *Server) quotaCheck(location string, spec *vmSpec, n int) *apiError {
	var first *apiError
	for _, t := range spec.sizes {
		var e *apiError
		for _, u := range quotaUses(t, location, spec.capacity) {
			limit, usage, ok := s.m.Quota(u.Key)
			if ok && usage+u.Amount*float64(n) > limit+1e-9 {
				e = quotaError(location, u.Key, limit, usage, u.Amount*float64(n))
				break
			}
		}
		if e == nil {
			return nil
		}
		if first == nil {
			first = e
		}
	}
	return first
}

func skuNotAvailable(size, location string) *apiError {
	return errorf(http.StatusConflict, "SkuNotAvailable",
		"The requested VM size %s is currently not available in location '%s'. Please try another size or deploy to a different location or different zone. See https://aka.ms/azureskunotavailable for details.", size, location)
}

func offered(t catalog.Type, location, capacity string) bool {
	for _, o := range t.Offerings {
		if o.Region == location && string(o.Capacity) == capacity {
			return true
		}
	}
	return false
}

func imageArch(img armcompute.ImageReference) string {
	if strings.Contains(strings.ToLower(deref(img.SKU)), "arm64") {
		return "arm64"
	}
	return "x86_64"
}

// resolveSizes checks the sizes a VM or set asks for in a location.
func (s *Server) resolveSizes(names []string, location string) ([]catalog.Type, *apiError) {
	var out []catalog.Type
	for _, n := range names {
		t, ok := s.m.Type(n)
		if !ok {
			for _, mt := range s.m.Types() {
				if strings.EqualFold(mt.Name, n) {
					t, ok = mt, true
				}
			}
		}
		if !ok || !offered(t, location, cloudsim.OnDemand) || s.restricted[strings.ToLower(n)+"/"+location] {
			return nil, skuNotAvailable(n, location)
		}
		out = append(out, t)
	}
	return out, nil
}

// validate checks what both VMs and sets need, and logs the linked access
// checks ARM makes.
func (s *Server) validate(spec *vmSpec, location string, mix bool) *apiError {
	if _, ok := s.m.Regions()[location]; !ok {
		return errorf(http.StatusBadRequest, "LocationNotAvailableForResourceType", "The provided location '%s' is not available for resource type 'Microsoft.Compute/virtualMachineScaleSets'.", location)
	}
	if mix {
		if len(spec.sizes) > MaxMixSizes {
			return errorf(http.StatusBadRequest, "InvalidParameter", "skuProfile.vmSizes lists %d sizes; at most %d are allowed.", len(spec.sizes), MaxMixSizes)
		}
		for _, t := range spec.sizes {
			if t.GPUs > 0 {
				return errorf(http.StatusBadRequest, "InvalidParameter", "VM size %s is not supported in an instance mix.", t.Name)
			}
			if t.Arch != spec.sizes[0].Arch {
				return errorf(http.StatusBadRequest, "InvalidParameter", "All VM sizes of an instance mix must share a CPU architecture (%s is %s, %s is %s).", t.Name, t.Arch, spec.sizes[0].Name, spec.sizes[0].Arch)
			}
		}
	}
	if spec.capacity == cloudsim.Spot {
		for _, t := range spec.sizes {
			if !offered(t, location, cloudsim.Spot) {
				return errorf(http.StatusBadRequest, "InvalidParameter", "Spot priority is not supported for VM size %s.", t.Name)
			}
		}
	}
	if spec.adminUser == "" {
		return errorf(http.StatusBadRequest, "InvalidParameter", "Required parameter 'adminUsername' is missing (null).")
	}
	if spec.image.Publisher == nil && spec.image.ID == nil {
		return errorf(http.StatusBadRequest, "InvalidParameter", "Required parameter 'imageReference' is missing (null).")
	}
	for _, t := range spec.sizes {
		if a := imageArch(spec.image); a != t.Arch {
			return errorf(http.StatusBadRequest, "BadRequest", "The selected VM size '%s' cannot boot an image of architecture '%s'. Use an image for architecture '%s'.", t.Name, a, t.Arch)
		}
	}
	if len(spec.customData) > 64<<10 {
		return errorf(http.StatusBadRequest, "InvalidParameter", "Custom data is %d bytes; the limit is 65536.", len(spec.customData))
	}
	if spec.osDiskEncryption == "" {
		spec.osDiskEncryption = diskEncryption(nil, nil)
	}
	if spec.subnetID == "" {
		return errorf(http.StatusBadRequest, "InvalidParameter", "A network interface configuration with an IP configuration on a subnet is required.")
	}
	for _, n := range []struct{ what, name string }{{NameNIC, spec.nicName}, {NameIPConfig, spec.ipConfigName}, {NamePublicIP, spec.pipName}} {
		if n.name != "" {
			if e := checkName(n.what, n.name); e != nil {
				return e
			}
		}
	}
	if _, ok := s.subnet(spec.subnetID); !ok {
		return errorf(http.StatusBadRequest, "InvalidResourceReference", "Resource %s referenced by the VM profile was not found.", spec.subnetID)
	}
	s.link("Microsoft.Network/virtualNetworks/subnets/join/action")
	s.link("Microsoft.Network/networkInterfaces/write")
	s.link("Microsoft.Network/networkInterfaces/join/action")
	if spec.pipName != "" {
		s.link("Microsoft.Network/publicIPAddresses/write")
		s.link("Microsoft.Network/publicIPAddresses/join/action")
	}
	if spec.nsgID != "" {
		if _, ok := s.m.Resource(KindNSG, lowerID(spec.nsgID)); !ok {
			return errorf(http.StatusBadRequest, "InvalidResourceReference", "Resource %s referenced by the VM profile was not found.", spec.nsgID)
		}
		s.link("Microsoft.Network/networkSecurityGroups/join/action")
	}
	for _, id := range spec.identities {
		if _, ok := s.identityByID(id); !ok {
			return errorf(http.StatusBadRequest, "FailedIdentityOperation", "Identity '%s' does not exist or could not be assigned.", id)
		}
		s.link("Microsoft.ManagedIdentity/userAssignedIdentities/assign/action")
	}
	for _, z := range spec.zones {
		if z != "1" && z != "2" && z != "3" {
			return errorf(http.StatusBadRequest, "InvalidParameter", "Zone '%s' is not valid; use 1, 2 or 3.", z)
		}
	}
	return nil
}

func decodeCustomData(b64 *string) (string, *apiError) {
	if b64 == nil {
		return "", nil
	}
	raw, err := base64.StdEncoding.DecodeString(*b64)
	if err != nil {
		return "", errorf(http.StatusBadRequest, "InvalidParameter", "Custom data in OSProfile must be in Base64 encoding and with a maximum length of 87380 characters.")
	}
	return string(raw), nil
}

func priorityOf(p *armcompute.VirtualMachinePriorityTypes, e *armcompute.VirtualMachineEvictionPolicyTypes) (capacity, priority, eviction string) {
	priority = string(armcompute.VirtualMachinePriorityTypesRegular)
	if p != nil {
		priority = string(*p)
	}
	capacity = cloudsim.OnDemand
	if priority == string(armcompute.VirtualMachinePriorityTypesSpot) || priority == string(armcompute.VirtualMachinePriorityTypesLow) {
		capacity = cloudsim.Spot
		eviction = string(armcompute.VirtualMachineEvictionPolicyTypesDeallocate) // Azure's default
		if e != nil {
			eviction = string(*e)
		}
	}
	return
}

func identityIDs(ids map[string]*armcompute.UserAssignedIdentitiesValue) []string {
	var out []string
	for id := range ids {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

// parseScaleSet reads a scale set body.
func (s *Server) parseScaleSet(in *armcompute.VirtualMachineScaleSet, location string) (*vmSpec, int64, *apiError) {
	p := in.Properties
	if p == nil || p.VirtualMachineProfile == nil {
		return nil, 0, errorf(http.StatusBadRequest, "InvalidParameter", "Required parameter 'virtualMachineProfile' is missing (null).")
	}
	if p.OrchestrationMode == nil || *p.OrchestrationMode != armcompute.OrchestrationModeFlexible {
		return nil, 0, errorf(http.StatusBadRequest, "InvalidParameter", "The simulator serves Flexible orchestration only.")
	}
	if in.SKU == nil || in.SKU.Capacity == nil || in.SKU.Name == nil {
		return nil, 0, errorf(http.StatusBadRequest, "InvalidParameter", "Required parameters 'sku.name' and 'sku.capacity' are missing (null).")
	}
	spec := &vmSpec{strategy: armcompute.AllocationStrategyLowestPrice, ranks: map[string]int32{}}
	var names []string
	mix := p.SKUProfile != nil && len(p.SKUProfile.VMSizes) > 0
	if mix {
		if !strings.EqualFold(*in.SKU.Name, "Mix") {
			return nil, 0, errorf(http.StatusBadRequest, "InvalidParameter", "With skuProfile.vmSizes, sku.name must be 'Mix', not '%s'.", *in.SKU.Name)
		}
		for _, v := range p.SKUProfile.VMSizes {
			names = append(names, deref(v.Name))
			spec.ranks[deref(v.Name)] = deref(v.Rank)
		}
		if p.SKUProfile.AllocationStrategy != nil {
			spec.strategy = *p.SKUProfile.AllocationStrategy
		}
	} else {
		names = []string{*in.SKU.Name}
	}
	sizes, e := s.resolveSizes(names, location)
	if e != nil {
		return nil, 0, e
	}
	spec.sizes = sizes
	vp := p.VirtualMachineProfile
	spec.capacity, spec.priority, spec.eviction = priorityOf(vp.Priority, vp.EvictionPolicy)
	if vp.BillingProfile != nil {
		spec.maxPrice = vp.BillingProfile.MaxPrice
	}
	if in.Identity != nil {
		spec.identities = identityIDs(in.Identity.UserAssignedIdentities)
	}
	if os := vp.OSProfile; os != nil {
		spec.adminUser = deref(os.AdminUsername)
		spec.computerName = deref(os.ComputerNamePrefix)
		if e := checkName(NameComputerNamePrefix, spec.computerName); spec.computerName != "" && e != nil {
			return nil, 0, e
		}
		if e := checkLinux(os.LinuxConfiguration, os.AdminPassword); e != nil {
			return nil, 0, e
		}
		if spec.customData, e = decodeCustomData(os.CustomData); e != nil {
			return nil, 0, e
		}
	}
	if st := vp.StorageProfile; st != nil {
		if st.ImageReference != nil {
			spec.image = *st.ImageReference
		}
		if d := st.OSDisk; d != nil {
			spec.osDiskDelete = string(deref(d.DeleteOption))
			spec.osDiskSizeGB = deref(d.DiskSizeGB)
			if d.ManagedDisk != nil {
				spec.osDiskType = string(deref(d.ManagedDisk.StorageAccountType))
				spec.osDiskEncryption = diskEncryption(d.ManagedDisk.DiskEncryptionSet, d.ManagedDisk.SecurityProfile)
			}
		}
	}
	if sp := vp.SecurityProfile; sp != nil && sp.EncryptionAtHost != nil {
		spec.encryptionAtHost = strconv.FormatBool(*sp.EncryptionAtHost)
	}
	if np := vp.NetworkProfile; np != nil {
		if len(np.NetworkInterfaceConfigurations) > 0 && np.NetworkAPIVersion == nil {
			return nil, 0, errorf(http.StatusBadRequest, "InvalidParameter", "networkProfile.networkApiVersion is required for scale sets with Flexible orchestration.")
		}
		for _, nc := range np.NetworkInterfaceConfigurations {
			if nc.Properties == nil || len(nc.Properties.IPConfigurations) == 0 {
				continue
			}
			spec.nicName = deref(nc.Name)
			spec.nicDelete = string(deref(nc.Properties.DeleteOption))
			if nc.Properties.NetworkSecurityGroup != nil {
				spec.nsgID = deref(nc.Properties.NetworkSecurityGroup.ID)
			}
			ip := nc.Properties.IPConfigurations[0]
			spec.ipConfigName = deref(ip.Name)
			if ip.Properties != nil && ip.Properties.Subnet != nil {
				spec.subnetID = deref(ip.Properties.Subnet.ID)
			}
			if ip.Properties != nil && ip.Properties.PublicIPAddressConfiguration != nil {
				spec.pipName = deref(ip.Properties.PublicIPAddressConfiguration.Name)
				if pp := ip.Properties.PublicIPAddressConfiguration.Properties; pp != nil {
					spec.pipDelete = string(deref(pp.DeleteOption))
				}
			}
			break
		}
	}
	for _, z := range in.Zones {
		spec.zones = append(spec.zones, deref(z))
	}
	if e := s.validate(spec, location, mix); e != nil {
		return nil, 0, e
	}
	limit := int64(MaxScaleSetVMs)
	for _, t := range spec.sizes {
		if Limited(t.Name) {
			limit = MaxLimitedScaleSetVMs
		}
	}
	capacity := *in.SKU.Capacity
	if capacity < 0 || capacity > limit {
		return nil, 0, errorf(http.StatusBadRequest, "InvalidParameter", "The capacity %d of a Flexible scale set of %s is out of range; the maximum is %d.", capacity, strings.Join(names, ", "), limit)
	}
	return spec, capacity, nil
}

// diskEncryption is the at-rest encryption Azure gives a managed OS disk:
// server-side encryption with platform-managed keys, always, unless a disk
// encryption set (directly or through a confidential VM's security
// profile) names a customer-managed key. No request turns it off.
func diskEncryption(set *armcompute.DiskEncryptionSetParameters, sec *armcompute.VMDiskSecurityProfile) string {
	if (set != nil && deref(set.ID) != "") || (sec != nil && sec.DiskEncryptionSet != nil && deref(sec.DiskEncryptionSet.ID) != "") {
		return "EncryptionAtRestWithCustomerKey"
	}
	return "EncryptionAtRestWithPlatformKey"
}

func checkLinux(lc *armcompute.LinuxConfiguration, password *string) *apiError {
	keys := 0
	if lc != nil && lc.SSH != nil {
		keys = len(lc.SSH.PublicKeys)
	}
	if keys == 0 && deref(password) == "" {
		return errorf(http.StatusBadRequest, "InvalidParameter", "A Linux VM needs an SSH public key or an admin password.")
	}
	if lc != nil && deref(lc.DisablePasswordAuthentication) && keys == 0 {
		return errorf(http.StatusBadRequest, "InvalidParameter", "Password authentication is disabled but no SSH public key is given.")
	}
	return nil
}

// parseVM reads a standalone VM body.
func (s *Server) parseVM(in *armcompute.VirtualMachine, location string) (*vmSpec, *apiError) {
	p := in.Properties
	if p == nil || p.HardwareProfile == nil || p.HardwareProfile.VMSize == nil {
		return nil, errorf(http.StatusBadRequest, "InvalidParameter", "Required parameter 'hardwareProfile.vmSize' is missing (null).")
	}
	sizes, e := s.resolveSizes([]string{string(*p.HardwareProfile.VMSize)}, location)
	if e != nil {
		return nil, e
	}
	spec := &vmSpec{sizes: sizes}
	spec.capacity, spec.priority, spec.eviction = priorityOf(p.Priority, p.EvictionPolicy)
	if p.BillingProfile != nil {
		spec.maxPrice = p.BillingProfile.MaxPrice
	}
	if in.Identity != nil {
		spec.identities = identityIDs(in.Identity.UserAssignedIdentities)
	}
	if os := p.OSProfile; os != nil {
		spec.adminUser = deref(os.AdminUsername)
		spec.computerName = deref(os.ComputerName)
		if e := checkName(NameComputer, spec.computerName); spec.computerName != "" && e != nil {
			return nil, e
		}
		if e := checkLinux(os.LinuxConfiguration, os.AdminPassword); e != nil {
			return nil, e
		}
		if spec.customData, e = decodeCustomData(os.CustomData); e != nil {
			return nil, e
		}
	}
	if st := p.StorageProfile; st != nil {
		if st.ImageReference != nil {
			spec.image = *st.ImageReference
		}
		if d := st.OSDisk; d != nil {
			spec.osDiskDelete = string(deref(d.DeleteOption))
			spec.osDiskSizeGB = deref(d.DiskSizeGB)
			if d.ManagedDisk != nil {
				spec.osDiskType = string(deref(d.ManagedDisk.StorageAccountType))
				spec.osDiskEncryption = diskEncryption(d.ManagedDisk.DiskEncryptionSet, d.ManagedDisk.SecurityProfile)
			}
			if es := d.EncryptionSettings; es != nil && es.Enabled != nil {
				spec.adeSettings = map[bool]string{true: "enabled", false: "disabled"}[*es.Enabled]
			}
		}
	}
	if sp := p.SecurityProfile; sp != nil && sp.EncryptionAtHost != nil {
		spec.encryptionAtHost = strconv.FormatBool(*sp.EncryptionAtHost)
	}
	if np := p.NetworkProfile; np != nil {
		if len(np.NetworkInterfaceConfigurations) > 0 && np.NetworkAPIVersion == nil {
			return nil, errorf(http.StatusBadRequest, "InvalidParameter", "networkProfile.networkApiVersion is required with networkInterfaceConfigurations.")
		}
		for _, nc := range np.NetworkInterfaceConfigurations {
			if nc.Properties == nil || len(nc.Properties.IPConfigurations) == 0 {
				continue
			}
			spec.nicName = deref(nc.Name)
			spec.nicDelete = string(deref(nc.Properties.DeleteOption))
			if nc.Properties.NetworkSecurityGroup != nil {
				spec.nsgID = deref(nc.Properties.NetworkSecurityGroup.ID)
			}
			ip := nc.Properties.IPConfigurations[0]
			spec.ipConfigName = deref(ip.Name)
			if ip.Properties != nil && ip.Properties.Subnet != nil {
				spec.subnetID = deref(ip.Properties.Subnet.ID)
			}
			if ip.Properties != nil && ip.Properties.PublicIPAddressConfiguration != nil {
				spec.pipName = deref(ip.Properties.PublicIPAddressConfiguration.Name)
				if pp := ip.Properties.PublicIPAddressConfiguration.Properties; pp != nil {
					spec.pipDelete = string(deref(pp.DeleteOption))
				}
			}
			break
		}
	}
	for _, z := range in.Zones {
		spec.zones = append(spec.zones, deref(z))
	}
	if len(spec.zones) > 1 {
		return nil, errorf(http.StatusBadRequest, "InvalidParameter", "A virtual machine takes at most one zone.")
	}
	if e := s.validate(spec, location, false); e != nil {
		return nil, e
	}
	return spec, nil
}

// allocate creates up to n VMs of spec in location, trying its sizes in
// the allocation strategy's order and spreading over the zones. It returns
// the VMs made and, when fewer than n, why.
func (s *Server) allocate(rg cloudsim.Resource, location, set string, spec *vmSpec, n int, tags map[string]string, name func(seq int) string, fault *cloudsim.Fault) ([]*vmRecord, *apiError) {
	if fault != nil {
		e := faultError(fault, "", "")
		e.Status = http.StatusOK
		return nil, e
	}
	order := append([]catalog.Type(nil), spec.sizes...)
	price := func(t catalog.Type) float64 {
		for _, o := range t.Offerings {
			if o.Region == location && string(o.Capacity) == spec.capacity {
				return o.Price
			}
		}
		return math.Inf(1)
	}
	switch spec.strategy {
	case armcompute.AllocationStrategyLowestPrice:
		sort.SliceStable(order, func(i, j int) bool { return price(order[i]) < price(order[j]) })
	case armcompute.AllocationStrategyPrioritized:
		sort.SliceStable(order, func(i, j int) bool { return spec.ranks[order[i].Name] < spec.ranks[order[j].Name] })
	case armcompute.AllocationStrategyCapacityOptimized:
		// Deepest pools first: the model's unlimited pools, then by what is
		// left.
		left := func(t catalog.Type) int {
			total := 0
			for _, k := range s.PoolKeys(t.Name, location, spec.capacity) {
				c, limited := s.m.Capacity(k)
				if !limited {
					return math.MaxInt32
				}
				total += c
			}
			return total
		}
		sort.SliceStable(order, func(i, j int) bool { return left(order[i]) > left(order[j]) })
	}
	zones := spec.zones
	if len(zones) == 0 {
		for _, z := range s.m.Zones(location) {
			zones = append(zones, zoneNumber(z))
		}
	}
	var out []*vmRecord
	remaining := n
	var capErr, quotaErr *apiError
	for _, t := range order {
		left := append([]string(nil), zones...)
		for remaining > 0 && len(left) > 0 && quotaErr == nil {
			share := (remaining + len(left) - 1) / len(left)
			var next []string
			progress := false
			for _, z := range left {
				if remaining == 0 {
					break
				}
				k := min(share, remaining)
				ins, err := s.m.Launch(cloudsim.LaunchSpec{
					Region: location, Zone: ZoneName(location, z), Type: t.Name, Capacity: spec.capacity, Count: k,
					Tags: tags, UserData: spec.customData, Quotas: quotaUses(t, location, spec.capacity),
					PublicIP: spec.pipName != "", Group: set, Attrs: spec.attrs(set),
					Name: func(seq int) (string, string) {
						nm := name(seq)
						return lowerID(s.vmID(rg.Name, nm)), nm
					},
				})
				for _, in := range ins {
					out = append(out, s.recordVM(rg, location, set, spec, in, z))
				}
				remaining -= len(ins)
				progress = progress || len(ins) > 0
				var me *cloudsim.Error
				switch {
				case err == nil:
					next = append(next, z)
				case errors.As(err, &me) && me.Kind == cloudsim.KindQuota:
					quotaErr = quotaError(location, me.Quota, me.Limit, me.Usage, me.Needed)
				default:
					code := "AllocationFailed"
					if len(spec.zones) == 1 {
						code = "ZonalAllocationFailed"
					}
					capErr = &apiError{Status: http.StatusOK, Code: code,
						Message: "Allocation failed. We do not have sufficient capacity for the requested VM size in this region. Read more about improving likelihood of allocation success at http://aka.ms/allocation-guidance"}
				}
				if quotaErr != nil {
					break
				}
			}
			if !progress {
				break
			}
			left = next
		}
		if remaining == 0 {
			break
		}
	}
	if remaining == 0 {
		return out, nil
	}
	if capErr != nil {
		return out, capErr
	}
	if quotaErr != nil {
		quotaErr.Status = http.StatusOK
		return out, quotaErr
	}
	return out, &apiError{Status: http.StatusOK, Code: "AllocationFailed", Message: "Allocation failed."}
}

func (spec *vmSpec) attrs(set string) map[string]string {
	a := map[string]string{
		"priority":                 spec.priority,
		"evictionPolicy":           spec.eviction,
		"osDiskDeleteOption":       spec.osDiskDelete,
		"nicDeleteOption":          spec.nicDelete,
		"publicIPDeleteOption":     spec.pipDelete,
		"identity":                 strings.ToLower(strings.Join(spec.identities, ",")),
		"image":                    fmt.Sprintf("%s:%s:%s:%s", deref(spec.image.Publisher), deref(spec.image.Offer), deref(spec.image.SKU), deref(spec.image.Version)),
		"adminUsername":            spec.adminUser,
		"osDiskType":               spec.osDiskType,
		"osDiskEncryption":         spec.osDiskEncryption,
		"osDiskEncryptionSettings": spec.adeSettings,
		"encryptionAtHost":         spec.encryptionAtHost,
		"osDiskSizeGB":             strconv.Itoa(int(spec.osDiskSizeGB)),
		"scaleSet":                 set,
	}
	if spec.maxPrice != nil {
		a["maxPrice"] = strconv.FormatFloat(*spec.maxPrice, 'f', -1, 64)
	}
	return a
}

func (s *Server) vmID(rg, name string) string {
	return s.rgID(rg) + "/providers/Microsoft.Compute/virtualMachines/" + name
}

// recordVM records a VM the model launched, with its NIC, OS disk and
// public IP.
func (s *Server) recordVM(rg cloudsim.Resource, location, set string, spec *vmSpec, in cloudsim.Instance, zone string) *vmRecord {
	id := s.vmID(rg.Name, in.Name)
	rec := &vmRecord{
		id: id, name: in.Name, rg: rg.Name, location: location, set: set, size: in.Type, spec: spec,
		created: in.LaunchedAt, vmID: uuidOf("vm" + lowerID(id)), counted: set != "",
	}
	if len(spec.zones) > 0 {
		rec.zone = zone
	}
	rec.computerName = spec.computerName
	if set != "" {
		rec.computerName = spec.computerName + fmt.Sprintf("%06x", s.seqOf(in.Name))
	}
	if set == "" {
		rec.tags = in.Tags
	}
	nicName := in.Name + "-" + spec.nicName
	rec.nicID = s.rgID(rg.Name) + "/providers/Microsoft.Network/networkInterfaces/" + nicName
	ipcfg := &armnetwork.InterfaceIPConfiguration{
		Name: ptr("ipconfig1"), ID: ptr(rec.nicID + "/ipConfigurations/ipconfig1"),
		Properties: &armnetwork.InterfaceIPConfigurationPropertiesFormat{
			PrivateIPAddress: ptr(in.PrivateIP), PrivateIPAllocationMethod: ptr(armnetwork.IPAllocationMethodDynamic),
			Primary: ptr(true), Subnet: &armnetwork.Subnet{ID: ptr(spec.subnetID)},
		},
	}
	if spec.pipName != "" {
		pipName := in.Name + "-" + spec.pipName
		rec.pipID = s.rgID(rg.Name) + "/providers/Microsoft.Network/publicIPAddresses/" + pipName
		ipcfg.Properties.PublicIPAddress = &armnetwork.PublicIPAddress{ID: ptr(rec.pipID)}
		pip := &armnetwork.PublicIPAddress{
			ID: ptr(rec.pipID), Name: ptr(pipName), Type: ptr(KindPublicIP), Location: ptr(location),
			SKU: &armnetwork.PublicIPAddressSKU{Name: ptr(armnetwork.PublicIPAddressSKUNameStandard)},
			Properties: &armnetwork.PublicIPAddressPropertiesFormat{
				IPAddress: ptr(in.PublicIP), PublicIPAllocationMethod: ptr(armnetwork.IPAllocationMethodStatic),
				IPConfiguration: &armnetwork.IPConfiguration{ID: ipcfg.ID}, ProvisioningState: ptr(armnetwork.ProvisioningStateSucceeded),
			},
		}
		s.m.PutResource(cloudsim.Resource{Kind: KindPublicIP, ID: lowerID(rec.pipID), Name: pipName, Region: location, Parent: rg.ID, Data: pip})
	}
	nic := &armnetwork.Interface{
		ID: ptr(rec.nicID), Name: ptr(nicName), Type: ptr(KindNIC), Location: ptr(location),
		Properties: &armnetwork.InterfacePropertiesFormat{
			IPConfigurations: []*armnetwork.InterfaceIPConfiguration{ipcfg}, Primary: ptr(true),
			VirtualMachine: &armnetwork.SubResource{ID: ptr(id)}, ProvisioningState: ptr(armnetwork.ProvisioningStateSucceeded),
		},
	}
	if spec.nsgID != "" {
		nic.Properties.NetworkSecurityGroup = &armnetwork.SecurityGroup{ID: ptr(spec.nsgID)}
	}
	s.m.PutResource(cloudsim.Resource{Kind: KindNIC, ID: lowerID(rec.nicID), Name: nicName, Region: location, Parent: rg.ID, Data: nic})
	diskName := in.Name + "_OsDisk_1_" + strings.ReplaceAll(uuidOf("disk"+lowerID(id)), "-", "")
	rec.diskID = s.rgID(rg.Name) + "/providers/Microsoft.Compute/disks/" + diskName
	s.m.PutResource(cloudsim.Resource{Kind: KindDisk, ID: lowerID(rec.diskID), Name: diskName, Region: location, Parent: rg.ID, Data: id})
	s.vms[lowerID(id)] = rec
	return rec
}

func (s *Server) seqOf(name string) int {
	if i := strings.LastIndexByte(name, '_'); i >= 0 {
		v, _ := strconv.ParseUint(name[i+1:], 16, 32)
		return int(v) & 0xffffff
	}
	return 0
}

// flexName names the seq-th VM of a Flexible scale set: the set's name and
// eight hex digits, as Azure does.
func flexName(set string, seq int) string {
	return fmt.Sprintf("%s_%08x", set, uint32(seq)*2654435761)
}

// reap forgets VMs that are gone and deletes, by their delete options, the
// NIC, OS disk and public IP they leave. Callers hold s.mu.
func (s *Server) reap() {
	for key, rec := range s.vms {
		in, ok := s.m.Instance(key)
		if ok && in.State != cloudsim.Terminated {
			continue
		}
		if rec.counted {
			s.uncount(rec)
		}
		if rec.spec.nicDelete == string(armcompute.DiskDeleteOptionTypesDelete) {
			s.m.DeleteResource(KindNIC, lowerID(rec.nicID))
		} else {
			s.m.UpdateResource(KindNIC, lowerID(rec.nicID), func(r *cloudsim.Resource) {
				r.Data.(*armnetwork.Interface).Properties.VirtualMachine = nil
			})
		}
		if rec.spec.osDiskDelete == string(armcompute.DiskDeleteOptionTypesDelete) {
			s.m.DeleteResource(KindDisk, lowerID(rec.diskID))
		} else {
			s.m.UpdateResource(KindDisk, lowerID(rec.diskID), func(r *cloudsim.Resource) { r.Data = "" })
		}
		if rec.pipID != "" {
			if rec.spec.pipDelete == string(armcompute.DiskDeleteOptionTypesDelete) {
				s.m.DeleteResource(KindPublicIP, lowerID(rec.pipID))
			} else {
				s.m.UpdateResource(KindPublicIP, lowerID(rec.pipID), func(r *cloudsim.Resource) {
					r.Data.(*armnetwork.PublicIPAddress).Properties.IPConfiguration = nil
				})
			}
		}
		delete(s.vms, key)
	}
}

// uncount takes a VM out of its Flexible set's capacity, as deleting a
// VM of a Flexible set does.
func (s *Server) uncount(rec *vmRecord) {
	rec.counted = false
	if rec.set == "" {
		return
	}
	s.m.UpdateResource(KindScaleSet, rec.set, func(r *cloudsim.Resource) {
		if st := r.Data.(*setState); st.capacity > 0 {
			st.capacity--
		}
	})
}

// deleteVMs starts deleting VMs; the returned operation finishes when they
// are gone.
func (s *Server) deleteVMs(recs []*vmRecord, location string) *operation {
	var ids []string
	for _, rec := range recs {
		if rec.deleted {
			continue
		}
		rec.deleted = true
		if rec.counted {
			s.uncount(rec)
		}
		ids = append(ids, lowerID(rec.id))
	}
	s.m.Terminate(ids, "user")
	return s.newOp("Microsoft.Compute", location, func() bool {
		for _, id := range ids {
			if in, ok := s.m.Instance(id); ok && in.State != cloudsim.Terminated {
				return false
			}
		}
		return true
	}, s.reap, nil)
}

// creating returns an operation that finishes when the VMs have booted.
func (s *Server) creating(recs []*vmRecord, location string, err *apiError) *operation {
	ids := make([]string, len(recs))
	for i, r := range recs {
		ids[i] = lowerID(r.id)
	}
	return s.newOp("Microsoft.Compute", location, func() bool {
		for _, id := range ids {
			if in, ok := s.m.Instance(id); ok && in.State == cloudsim.Pending {
				return false
			}
		}
		return true
	}, nil, err)
}

func (s *Server) members(set string) []*vmRecord {
	var out []*vmRecord
	for _, rec := range s.vms {
		if rec.set == set && !rec.deleted {
			out = append(out, rec)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].created.Equal(out[j].created) {
			return out[i].created.Before(out[j].created)
		}
		return out[i].name < out[j].name
	})
	return out
}

// setJSON is a set as ARM shows it; state, when set, is its provisioning
// state (a PUT's first answer says Creating or Updating whatever follows).
func (s *Server) setJSON(st *setState, state string) armcompute.VirtualMachineScaleSet {
	obj := st.obj
	sku := *obj.SKU
	sku.Capacity = ptr(st.capacity)
	obj.SKU = &sku
	props := *obj.Properties
	if state == "" && st.lastOp != nil {
		state = "Succeeded"
		switch {
		case !s.settle(st.lastOp):
			state = "Creating"
			if st.seq > 1 {
				state = "Updating"
			}
		case st.lastOp.err != nil:
			state = "Failed"
		}
	}
	if state == "" {
		state = "Succeeded"
	}
	props.ProvisioningState = ptr(state)
	obj.Properties = &props
	r, _ := s.m.Resource(KindScaleSet, lowerID(st.id))
	obj.Tags = tagPtrs(r.Tags)
	return obj
}

func (c *ctx) listScaleSets() {
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	rg, ok := c.requireRG()
	if !ok {
		return
	}
	var items []any
	for _, r := range s.m.Resources(KindScaleSet, func(r *cloudsim.Resource) bool { return r.Parent == rg.ID }) {
		items = append(items, s.setJSON(r.Data.(*setState), ""))
	}
	c.pageOf(items)
}

func (c *ctx) scaleSet() {
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	rg, ok := c.requireRG()
	if !ok {
		return
	}
	id := c.resourceID()
	existing, exists := s.m.Resource(KindScaleSet, lowerID(id))
	var st *setState
	if exists {
		st = existing.Data.(*setState)
	}
	switch c.r.Method {
	case http.MethodGet:
		if !exists {
			c.fail(errorf(http.StatusNotFound, "ResourceNotFound", "The Resource 'Microsoft.Compute/virtualMachineScaleSets/%s' under resource group '%s' was not found.", c.name, c.rg))
			return
		}
		c.reply(http.StatusOK, s.setJSON(st, ""), nil)
	case http.MethodDelete:
		if !exists {
			c.reply(http.StatusNoContent, nil, nil)
			return
		}
		op := s.deleteVMs(s.members(lowerID(id)), existing.Region)
		inner := op.finish
		op.finish = func() {
			inner()
			s.m.DeleteResource(KindScaleSet, lowerID(id))
		}
		c.accepted(http.StatusAccepted, nil, op)
	case http.MethodPatch:
		if !exists {
			c.fail(errorf(http.StatusNotFound, "ResourceNotFound", "The Resource 'Microsoft.Compute/virtualMachineScaleSets/%s' under resource group '%s' was not found.", c.name, c.rg))
			return
		}
		var in armcompute.VirtualMachineScaleSetUpdate
		if e := c.decode(&in); e != nil {
			c.fail(e)
			return
		}
		if in.Tags != nil {
			tags := tagsOf(in.Tags)
			s.m.UpdateResource(KindScaleSet, lowerID(id), func(r *cloudsim.Resource) { r.Tags = tags })
		}
		capacity := st.capacity
		if in.SKU != nil && in.SKU.Capacity != nil {
			capacity = *in.SKU.Capacity
		}
		c.resize(rg, existing, st, capacity, http.StatusOK)
	case http.MethodPut:
		var in armcompute.VirtualMachineScaleSet
		if e := c.decode(&in); e != nil {
			c.fail(e)
			return
		}
		loc := deref(in.Location)
		if loc == "" {
			c.fail(errorf(http.StatusBadRequest, "LocationRequired", "The location property is required for this definition."))
			return
		}
		if e := checkName(NameScaleSet, c.name); e != nil && !exists {
			c.fail(e)
			return
		}
		spec, capacity, e := s.parseScaleSet(&in, loc)
		if e != nil {
			c.fail(e)
			return
		}
		if exists {
			if st.lastOp != nil && !s.settle(st.lastOp) {
				c.fail(errorf(http.StatusConflict, "OperationNotAllowed", "Operation 'PUT' is not allowed on the scale set %s since it is in the middle of another operation.", c.name))
				return
			}
			tags := tagsOf(in.Tags)
			s.m.UpdateResource(KindScaleSet, lowerID(id), func(r *cloudsim.Resource) { r.Tags = tags })
			c.resize(rg, existing, st, capacity, http.StatusOK)
			return
		}
		if e := s.quotaCheck(loc, spec, int(capacity)); e != nil {
			c.fail(e)
			return
		}
		if e := s.takeVMCreate(int(capacity)); e != nil {
			c.fail(e)
			return
		}
		in.ID, in.Name, in.Type = ptr(id), ptr(c.name), ptr(KindScaleSet)
		in.Properties.ProvisioningState = nil
		in.Properties.TimeCreated = ptr(s.m.Now().UTC())
		in.Properties.UniqueID = ptr(uuidOf("vmss" + lowerID(id)))
		vp := *in.Properties.VirtualMachineProfile
		if vp.OSProfile != nil {
			osp := *vp.OSProfile
			osp.CustomData = nil // ARM never returns custom data
			vp.OSProfile = &osp
		}
		in.Properties.VirtualMachineProfile = &vp
		st = &setState{obj: in, spec: spec, id: id, rg: rg.Name}
		if spec.computerName == "" {
			spec.computerName = c.name
		}
		tags := tagsOf(in.Tags)
		s.m.PutResource(cloudsim.Resource{Kind: KindScaleSet, ID: lowerID(id), Name: c.name, Region: loc, Tags: tags, Parent: rg.ID, Data: st})
		existing, _ = s.m.Resource(KindScaleSet, lowerID(id))
		c.resize(rg, existing, st, capacity, http.StatusCreated)
	}
}

// resize brings a set to capacity: it launches the missing VMs or deletes
// the newest extra ones, and answers with the operation.
func (c *ctx) resize(rg, res cloudsim.Resource, st *setState, capacity int64, status int) {
	s := c.s
	if capacity < 0 || capacity > MaxScaleSetVMs {
		c.fail(errorf(http.StatusBadRequest, "InvalidParameter", "The capacity %d is out of range.", capacity))
		return
	}
	for _, t := range st.spec.sizes {
		if Limited(t.Name) && capacity > MaxLimitedScaleSetVMs {
			c.fail(errorf(http.StatusBadRequest, "InvalidParameter", "The capacity %d of a Flexible scale set of %s is out of range; the maximum is %d.", capacity, t.Name, MaxLimitedScaleSetVMs))
			return
		}
	}
	set := lowerID(st.id)
	members := s.members(set)
	delta := int(capacity) - len(members)
	var op *operation
	switch {
	case delta > 0:
		if status != http.StatusCreated {
			if e := s.quotaCheck(res.Region, st.spec, delta); e != nil {
				c.fail(e)
				return
			}
			if e := s.takeVMCreate(delta); e != nil {
				c.fail(e)
				return
			}
		}
		recs, err := s.allocate(rg, res.Region, set, st.spec, delta, res.Tags, func(seq int) string { return flexName(res.Name, seq) }, c.fault)
		op = s.creating(recs, res.Region, err)
	case delta < 0:
		op = s.deleteVMs(members[len(members)+delta:], res.Region)
	default:
		op = s.newOp("Microsoft.Compute", res.Region, nil, nil, nil)
	}
	st.capacity = capacity
	st.seq++
	st.lastOp = op
	state := "Updating"
	if status == http.StatusCreated {
		state = "Creating"
	}
	c.accepted(status, s.setJSON(st, state), op)
}

func (c *ctx) deleteInstances() {
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := c.requireRG(); !ok {
		return
	}
	id := c.resourceID()
	res, ok := s.m.Resource(KindScaleSet, lowerID(id))
	if !ok {
		c.fail(errorf(http.StatusNotFound, "ResourceNotFound", "The Resource 'Microsoft.Compute/virtualMachineScaleSets/%s' under resource group '%s' was not found.", c.name, c.rg))
		return
	}
	var in armcompute.VirtualMachineScaleSetVMInstanceRequiredIDs
	if e := c.decode(&in); e != nil {
		c.fail(e)
		return
	}
	if len(in.InstanceIDs) == 0 {
		c.fail(errorf(http.StatusBadRequest, "InvalidParameter", "Required parameter 'instanceIds' is missing (null)."))
		return
	}
	want := map[string]bool{}
	for _, n := range in.InstanceIDs {
		want[strings.ToLower(deref(n))] = true
	}
	var recs []*vmRecord
	for _, rec := range s.members(lowerID(id)) {
		if want[strings.ToLower(rec.name)] {
			recs = append(recs, rec)
		}
	}
	c.accepted(http.StatusAccepted, nil, s.deleteVMs(recs, res.Region))
}

var vmssFilter = regexp.MustCompile(`(?i)^\s*'?virtualMachineScaleSet/id'?\s+eq\s+'([^']+)'\s*$`)

func (c *ctx) listVMs() {
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := c.requireRG(); !ok {
		return
	}
	set := ""
	if f := c.query("$filter"); f != "" {
		m := vmssFilter.FindStringSubmatch(f)
		if m == nil {
			c.fail(errorf(http.StatusBadRequest, "InvalidParameter", "The $filter '%s' is not supported; use virtualMachineScaleSet/id eq '<id>'.", f))
			return
		}
		set = lowerID(m[1])
	}
	expand := strings.EqualFold(c.query("$expand"), "instanceView")
	if expand && set == "" {
		c.fail(errorf(http.StatusBadRequest, "InvalidParameter", "$expand=instanceView needs a $filter on virtualMachineScaleSet/id."))
		return
	}
	prefix := lowerID(s.rgID(c.rg)) + "/"
	var recs []*vmRecord
	for key, rec := range s.vms {
		if strings.HasPrefix(key, prefix) && (set == "" || rec.set == set) {
			recs = append(recs, rec)
		}
	}
	sort.Slice(recs, func(i, j int) bool { return recs[i].name < recs[j].name })
	// Only the page's VMs are rendered.
	type listed struct {
		rec *vmRecord
		in  cloudsim.Instance
	}
	// The states come under one lock of the model, not a copy of each
	// instance: every page asks which of the group's VMs are listed.
	ids := make([]string, len(recs))
	for i, rec := range recs {
		ids[i] = lowerID(rec.id)
	}
	var vms []listed
	for i, in := range s.m.InstanceStates(ids) {
		if in.ID != "" && in.State != cloudsim.Terminated {
			vms = append(vms, listed{recs[i], in})
		}
	}
	c.pageRaw(len(vms), func(i int) json.RawMessage { return s.listedJSON(vms[i].rec, vms[i].in, expand) })
}

func (c *ctx) virtualMachine() {
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	rg, ok := c.requireRG()
	if !ok {
		return
	}
	id := c.resourceID()
	rec := s.vms[lowerID(id)]
	switch c.r.Method {
	case http.MethodGet:
		if rec != nil {
			if vm, ok := s.vmJSON(rec, strings.EqualFold(c.query("$expand"), "instanceView")); ok {
				c.reply(http.StatusOK, vm, nil)
				return
			}
		}
		c.fail(errorf(http.StatusNotFound, "ResourceNotFound", "The Resource 'Microsoft.Compute/virtualMachines/%s' under resource group '%s' was not found.", c.name, c.rg))
	case http.MethodDelete:
		if rec == nil || rec.deleted {
			c.reply(http.StatusNoContent, nil, nil)
			return
		}
		c.accepted(http.StatusAccepted, nil, s.deleteVMs([]*vmRecord{rec}, rec.location))
	case http.MethodPut:
		var in armcompute.VirtualMachine
		if e := c.decode(&in); e != nil {
			c.fail(e)
			return
		}
		if rec != nil && !rec.deleted {
			// An existing VM: only its tags change here.
			tags := tagsOf(in.Tags)
			rec.tags = tags
			rec.listed = nil
			s.m.SetTags(lowerID(id), tags)
			vm, _ := s.vmJSON(rec, false)
			c.accepted(http.StatusOK, vm, s.newOp("Microsoft.Compute", rec.location, nil, nil, nil))
			return
		}
		loc := deref(in.Location)
		if loc == "" {
			c.fail(errorf(http.StatusBadRequest, "LocationRequired", "The location property is required for this definition."))
			return
		}
		if e := checkName(NameVM, c.name); e != nil {
			c.fail(e)
			return
		}
		spec, e := s.parseVM(&in, loc)
		if e != nil {
			c.fail(e)
			return
		}
		if e := s.quotaCheck(loc, spec, 1); e != nil {
			c.fail(e)
			return
		}
		if e := s.takeVMCreate(1); e != nil {
			c.fail(e)
			return
		}
		if spec.computerName == "" {
			spec.computerName = c.name
		}
		recs, err := s.allocate(rg, loc, "", spec, 1, tagsOf(in.Tags), func(int) string { return c.name }, c.fault)
		op := s.creating(recs, loc, err)
		var body any = in
		if len(recs) == 1 {
			vm, _ := s.vmJSON(recs[0], false)
			vm.Properties.ProvisioningState = ptr("Creating") // the first answer, whatever follows
			body = vm
		} else {
			in.ID, in.Name = ptr(id), ptr(c.name)
			in.Properties.ProvisioningState = ptr("Creating")
			in.Properties.OSProfile.CustomData = nil
		}
		c.accepted(http.StatusCreated, body, op)
	}
}

// vmJSON is a VM as ARM shows it; false when the VM is gone.
func (s *Server) vmJSON(rec *vmRecord, expand bool) (armcompute.VirtualMachine, bool) {
	in, ok := s.listedVM(rec)
	if !ok {
		return armcompute.VirtualMachine{}, false
	}
	return s.vmJSONOf(rec, in, expand), true
}

// listedVM is a VM's instance in the model, unless it is gone.
func (s *Server) listedVM(rec *vmRecord) (cloudsim.Instance, bool) {
	in, ok := s.m.Instance(lowerID(rec.id))
	return in, ok && in.State != cloudsim.Terminated
}

// vmJSONOf is a VM as ARM shows it, from its instance in the model.
func (s *Server) vmJSONOf(rec *vmRecord, in cloudsim.Instance, expand bool) armcompute.VirtualMachine {
	spec := rec.spec
	state, power := "Succeeded", "PowerState/running"
	switch in.State {
	case cloudsim.Pending:
		state, power = "Creating", "PowerState/starting"
	case cloudsim.ShuttingDown:
		state, power = "Deleting", "PowerState/stopping"
	case cloudsim.Stopping:
		power = "PowerState/deallocating"
		if in.StateReason == ReasonGuestShutdown {
			power = "PowerState/stopping"
		}
	case cloudsim.Stopped:
		// A guest shutdown stops the VM but keeps it allocated (it bills
		// as if running); a deallocated VM bills for its disk only.
		power = "PowerState/deallocated"
		if in.StateReason == ReasonGuestShutdown {
			power = "PowerState/stopped"
		}
	}
	size := armcompute.VirtualMachineSizeTypes(rec.size)
	vm := armcompute.VirtualMachine{
		ID: ptr(rec.id), Name: ptr(rec.name), Type: ptr("Microsoft.Compute/virtualMachines"), Location: ptr(rec.location),
		Tags: tagPtrs(rec.tags),
		Properties: &armcompute.VirtualMachineProperties{
			HardwareProfile: &armcompute.HardwareProfile{VMSize: &size},
			StorageProfile: &armcompute.StorageProfile{
				ImageReference: &spec.image,
				OSDisk: &armcompute.OSDisk{
					Name: ptr(rec.diskID[strings.LastIndexByte(rec.diskID, '/')+1:]), OSType: ptr(armcompute.OperatingSystemTypesLinux),
					CreateOption: ptr(armcompute.DiskCreateOptionTypesFromImage), DeleteOption: ptr(armcompute.DiskDeleteOptionTypes(orDetach(spec.osDiskDelete))),
					ManagedDisk: &armcompute.ManagedDiskParameters{ID: ptr(rec.diskID)},
				},
			},
			OSProfile: &armcompute.OSProfile{
				ComputerName: ptr(rec.computerName), AdminUsername: ptr(spec.adminUser),
				LinuxConfiguration: &armcompute.LinuxConfiguration{DisablePasswordAuthentication: ptr(true)},
			},
			NetworkProfile: &armcompute.NetworkProfile{NetworkInterfaces: []*armcompute.NetworkInterfaceReference{{
				ID: ptr(rec.nicID), Properties: &armcompute.NetworkInterfaceReferenceProperties{
					Primary: ptr(true), DeleteOption: ptr(armcompute.DeleteOptions(orDetach(spec.nicDelete))),
				},
			}}},
			ProvisioningState: ptr(state), TimeCreated: ptr(rec.created.UTC()), VMID: ptr(rec.vmID),
		},
	}
	if spec.osDiskSizeGB > 0 {
		vm.Properties.StorageProfile.OSDisk.DiskSizeGB = ptr(spec.osDiskSizeGB)
	}
	if rec.zone != "" {
		vm.Zones = []*string{ptr(rec.zone)}
	}
	if spec.priority != "" {
		vm.Properties.Priority = ptr(armcompute.VirtualMachinePriorityTypes(spec.priority))
	}
	if spec.eviction != "" {
		vm.Properties.EvictionPolicy = ptr(armcompute.VirtualMachineEvictionPolicyTypes(spec.eviction))
	}
	if spec.maxPrice != nil {
		vm.Properties.BillingProfile = &armcompute.BillingProfile{MaxPrice: spec.maxPrice}
	}
	if rec.set != "" {
		r, _ := s.m.Resource(KindScaleSet, rec.set)
		setID := rec.set
		if st, ok := r.Data.(*setState); ok {
			setID = st.id
		}
		vm.Properties.VirtualMachineScaleSet = &armcompute.SubResource{ID: ptr(setID)}
	}
	if len(spec.identities) > 0 {
		ids := map[string]*armcompute.UserAssignedIdentitiesValue{}
		for _, id := range spec.identities {
			v := &armcompute.UserAssignedIdentitiesValue{}
			if st, ok := s.identityByID(id); ok {
				v.PrincipalID, v.ClientID = st.obj.Properties.PrincipalID, st.obj.Properties.ClientID
			}
			ids[id] = v
		}
		vm.Identity = &armcompute.VirtualMachineIdentity{Type: ptr(armcompute.ResourceIdentityTypeUserAssigned), UserAssignedIdentities: ids}
	}
	if expand {
		vm.Properties.InstanceView = &armcompute.VirtualMachineInstanceView{Statuses: []*armcompute.InstanceViewStatus{
			{Code: ptr("ProvisioningState/" + strings.ToLower(state))}, {Code: ptr(power)},
		}}
	}
	return vm
}

func orDetach(opt string) string {
	if opt == "" {
		return "Detach"
	}
	return opt
}
