package gce

import (
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/burstdev/burst/internal/cloudsim"
)

// Instance attributes the server records on the model's instances (in
// cloudsim.Instance.Attrs), for tests to check what a launch asked for.
const (
	AttrMachineType       = "machineType"
	AttrAccelerators      = "guestAccelerators" // "nvidia-tesla-t4x1"
	AttrProvisioningModel = "provisioningModel"
	AttrTerminationAction = "instanceTerminationAction"
	AttrMaxRunDuration    = "maxRunDuration" // seconds
	AttrTerminationTime   = "terminationTime"
	AttrOnHostMaintenance = "onHostMaintenance"
	AttrAutomaticRestart  = "automaticRestart"
	AttrNetwork           = "network"
	AttrNetworkTags       = "tags" // comma-separated
	AttrImage             = "sourceImage"
	AttrDiskType          = "diskType"
	AttrDiskSizeGb        = "diskSizeGb"
	// AttrDiskEncryption is how the boot disk is encrypted at rest: GCE
	// always encrypts; "google-managed" keys unless the request names a
	// Cloud KMS key ("kms:KEY") or supplies its own ("csek", whose key
	// material travelled in the request).
	AttrDiskEncryption = "diskEncryption"
	// AttrDiskAutoDelete is whether the boot disk goes with the VM.
	AttrDiskAutoDelete = "diskAutoDelete"
	AttrServiceAccount = "serviceAccount"
	AttrScopes         = "scopes"
	AttrRequestID      = "requestId"
)

var (
	labelKeyRE   = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,62}$`)
	labelValueRE = regexp.MustCompile(`^[a-z0-9_-]{0,63}$`)
	nameRE       = regexp.MustCompile(`^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$`)
	uuidRE       = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	patternRE    = regexp.MustCompile(`^([a-z][-a-z0-9]*?)(#+)([-a-z0-9]*)$`)
)

// validRequestID checks GCE's rule: a UUID other than the zero UUID.
func validRequestID(id string) *apiError {
	if id == "" {
		return nil
	}
	if !uuidRE.MatchString(id) || id == "00000000-0000-0000-0000-000000000000" {
		return invalid("Invalid value for field 'requestId': '%s'. The request ID must be a valid UUID with the exception that zero UUID is not supported.", id)
	}
	return nil
}

func validLabels(field string, labels map[string]string) *apiError {
	if len(labels) > 64 {
		return invalid("Invalid value for field '%s': at most 64 labels are allowed", field)
	}
	for k, v := range labels {
		if !labelKeyRE.MatchString(k) {
			return invalid("Invalid value for field '%s': '%s'. Label keys must start with a lowercase character and contain only hyphens (-), underscores (_), lowercase characters, and numbers.", field, k)
		}
		if !labelValueRE.MatchString(v) {
			return invalid("Invalid value for field '%s.%s': '%s'. Label values can only contain hyphens (-), underscores (_), lowercase characters, and numbers, up to 63 characters.", field, k, v)
		}
	}
	return nil
}

// bulkPlan is a validated bulk insert.
type bulkPlan struct {
	region       string
	t            machineType
	capacity     string
	count, min   int
	zones        []string
	shape        string
	prefix, sfx  string
	digits       int
	props        *computepb.InstanceProperties
	attrs        map[string]string
	publicIP     bool
	startup      string
	network      string
	requestID    string
	maxRun       time.Duration
	terminateAt  time.Time
	terminateAct string
}

func (s *Server) bulkInsert(r *http.Request) (proto.Message, *apiError) {
	body := &computepb.BulkInsertInstanceResource{}
	if e := readBody(r, body); e != nil {
		return nil, e
	}
	region := r.PathValue("region")
	requestID := r.URL.Query().Get("requestId")
	if e := validRequestID(requestID); e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if name, ok := s.requests[requestID]; ok && requestID != "" {
		// GCE answers a repeated requestId with the first request's
		// operation and does nothing else.
		o := s.ops[name]
		s.advanceOp(o)
		return proto.Clone(o.proto), nil
	}
	if _, ok := regionZones[region]; !ok {
		return nil, notFound("projects/" + s.opts.Project + "/regions/" + region)
	}
	if !s.m.Take(BucketBulk, 1) {
		return nil, kindError(cloudsim.KindThrottle, "rateLimitExceeded", "Bulk insert rate limit exceeded: at most 20 requests per second.")
	}
	if s.bulkLive >= MaxConcurrentBulk {
		return nil, kindError(cloudsim.KindThrottle, "rateLimitExceeded", fmt.Sprintf("Too many concurrent bulk insert operations: at most %d may run at once.", MaxConcurrentBulk))
	}
	p, e := s.planBulk(region, requestID, body)
	if e != nil {
		return nil, e
	}
	// Upfront validation, as GCE does for bulk requests: enough capacity
	// for minCount in the allowed zones, and quota for what will be made.
	avail := map[string]int{}
	total := 0
	for _, z := range p.zones {
		n, limited := s.m.Capacity(cloudsim.PoolKey{Type: p.t.name, Zone: z, Capacity: p.capacity})
		if !limited {
			n = p.count
		}
		avail[z] = min(n, p.count)
		total += avail[z]
	}
	alloc := allocate(p, avail)
	made := 0
	for _, n := range alloc {
		made += n
	}
	if made < p.min || made == 0 {
		return nil, errorf(http.StatusServiceUnavailable, "insufficientCapacity",
			"ZONE_RESOURCE_POOL_EXHAUSTED_WITH_DETAILS: There is not enough capacity for %d x %s (%s) in %s: %d available in zones %s, minCount %d.",
			p.count, p.t.name, p.capacity, region, total, strings.Join(p.zones, ","), p.min)
	}
	uses := quotaUses(s.m, p.t, region, p.capacity, p.publicIP)
	for _, u := range uses {
		if lim, used, ok := s.m.Quota(u.Key); ok && used+u.Amount*float64(made) > lim+1e-9 {
			where := "in region " + region
			if u.Key.Region == "" {
				where = "globally"
			}
			e := errorf(http.StatusForbidden, "quotaExceeded", "Quota '%s' exceeded.  Limit: %.1f %s.", u.Key.Name, lim, where)
			e.domain = "usageLimits"
			return nil, e
		}
	}
	op := s.newOperation("bulkInsert", "region", region, s.regionLink(region)+"/instances/bulkInsert", requestID)
	op.bulk = true
	s.bulkLive++
	op.fault = s.m.TakeFault(Service, "compute.regionInstances.bulkInsert"+OperationSuffix)
	status := &computepb.InstancesBulkInsertOperationMetadata{PerLocationStatus: map[string]*computepb.BulkInsertOperationStatus{}}
	var created []string
	var launchErr error
	zones := make([]string, 0, len(alloc))
	for z := range alloc {
		zones = append(zones, z)
	}
	sort.Strings(zones)
	for _, z := range zones {
		n := alloc[z]
		if n == 0 {
			continue
		}
		ins, err := s.launchZone(p, z, n, uses)
		for _, in := range ins {
			created = append(created, in.ID)
		}
		status.PerLocationStatus["zones/"+z] = &computepb.BulkInsertOperationStatus{
			TargetVmCount: proto.Int32(int32(n)), CreatedVmCount: proto.Int32(int32(len(ins))),
			FailedToCreateVmCount: proto.Int32(int32(n - len(ins))), Status: proto.String("CREATING"),
		}
		if err != nil {
			launchErr = err
		}
	}
	op.proto.InstancesBulkInsertOperationMetadata = status
	if launchErr != nil && len(created) < p.min {
		// The model refused part of the launch after validation (a quota
		// that other machines filled meanwhile): roll back like GCE.
		s.m.Terminate(created, "rollback")
		failOp(op, "QUOTA_EXCEEDED", http.StatusForbidden, launchErr.Error())
		created = nil
	}
	op.finish = func(failed bool) {
		for _, st := range status.PerLocationStatus {
			st.Status = proto.String("DONE")
		}
		if failed {
			for _, st := range status.PerLocationStatus {
				st.DeletedVmCount = st.CreatedVmCount
				st.CreatedVmCount = proto.Int32(0)
			}
			s.m.Terminate(created, "rollback")
		}
	}
	if made < p.count && op.proto.Error == nil && op.fault == nil {
		op.proto.Warnings = append(op.proto.Warnings, &computepb.Warnings{
			Code:    proto.String("PARTIAL_SUCCESS"),
			Message: proto.String(fmt.Sprintf("ZONE_RESOURCE_POOL_EXHAUSTED: created %d of %d instances of %s in %s; the allowed zones have no more %s capacity.", made, p.count, p.t.name, region, p.capacity)),
		})
	}
	resp := proto.Clone(op.proto).(*computepb.Operation)
	s.advanceOp(op)
	return resp, nil
}

// allocate spreads the machines to create over the zones with capacity,
// by the location policy's target shape.
func allocate(p *bulkPlan, avail map[string]int) map[string]int {
	out := map[string]int{}
	left := p.count
	switch p.shape {
	case "ANY_SINGLE_ZONE":
		best := ""
		for _, z := range p.zones {
			if best == "" || avail[z] > avail[best] {
				best = z
			}
		}
		if best != "" {
			out[best] = min(left, avail[best])
		}
	case "BALANCED":
		for left > 0 {
			progress := false
			for _, z := range p.zones {
				if left > 0 && out[z] < avail[z] {
					out[z]++
					left--
					progress = true
				}
			}
			if !progress {
				break
			}
		}
	default: // ANY: fill the zones with the most room first.
		zs := slices.Clone(p.zones)
		sort.SliceStable(zs, func(i, j int) bool { return avail[zs[i]] > avail[zs[j]] })
		for _, z := range zs {
			n := min(left, avail[z])
			if n > 0 {
				out[z] = n
				left -= n
			}
		}
	}
	return out
}

// planBulk validates a bulk insert body the way GCE does and returns what
// to create. The caller holds s.mu.
func (s *Server) planBulk(region, requestID string, b *computepb.BulkInsertInstanceResource) (*bulkPlan, *apiError) {
	p := &bulkPlan{region: region, requestID: requestID, attrs: map[string]string{}}
	if b.SourceInstanceTemplate != nil || len(b.PerInstanceProperties) > 0 {
		return nil, invalid("the simulator supports only instanceProperties with a namePattern")
	}
	p.count = int(b.GetCount())
	if p.count < 1 || p.count > 5000 {
		return nil, invalid("Invalid value for field 'resource.count': '%d'. Must be between 1 and 5000.", p.count)
	}
	p.min = p.count
	if b.MinCount != nil {
		p.min = int(b.GetMinCount())
		if p.min < 1 || p.min > p.count {
			return nil, invalid("Invalid value for field 'resource.minCount': '%d'. Must be between 1 and count.", p.min)
		}
	}
	m := patternRE.FindStringSubmatch(b.GetNamePattern())
	if m == nil || len(b.GetNamePattern()) > 63 {
		return nil, invalid("Invalid value for field 'resource.namePattern': '%s'. The pattern must be a valid instance name with one run of '#' characters.", b.GetNamePattern())
	}
	p.prefix, p.digits, p.sfx = m[1], len(m[2]), m[3]
	props := b.GetInstanceProperties()
	if props == nil {
		return nil, invalid("Required field 'resource.instanceProperties' not specified")
	}
	p.props = props
	var accel string
	var accelCount int
	switch len(props.GetGuestAccelerators()) {
	case 0:
	case 1:
		a := props.GetGuestAccelerators()[0]
		accel, accelCount = lastSegment(a.GetAcceleratorType()), int(a.GetAcceleratorCount())
		if _, ok := accelerators[accel]; !ok {
			return nil, invalid("Invalid value for field 'resource.guestAccelerators[0].acceleratorType': '%s'. Accelerator type does not exist.", a.GetAcceleratorType())
		}
	default:
		return nil, invalid("Invalid value for field 'resource.guestAccelerators': at most one accelerator type is supported")
	}
	t, e := lookupType(props.GetMachineType(), accel, accelCount)
	if e != nil {
		return nil, e
	}
	p.t = t
	if e := validLabels("resource.instanceProperties.labels", props.GetLabels()); e != nil {
		return nil, e
	}
	// Zones: the region's zones where the type is offered, narrowed by the
	// location policy.
	offered := slices.Contains(t.regionsOf(), region)
	allowed := map[string]bool{}
	denied := map[string]bool{}
	lp := b.GetLocationPolicy()
	for key, loc := range lp.GetLocations() {
		z := lastSegment(key)
		if !strings.HasPrefix(key, "zones/") || !slices.Contains(regionZones[region], z) {
			return nil, invalid("Invalid value for field 'resource.locationPolicy.locations': '%s'. Zone is not in region %s.", key, region)
		}
		switch loc.GetPreference() {
		case "ALLOW", "PREFERRED", "":
			allowed[z] = true
		case "DENY":
			denied[z] = true
		default:
			return nil, invalid("Invalid value for field 'resource.locationPolicy.locations[%s].preference': '%s'", key, loc.GetPreference())
		}
	}
	for _, z := range regionZones[region] {
		if denied[z] || (len(allowed) > 0 && !allowed[z]) {
			continue
		}
		p.zones = append(p.zones, z)
	}
	if !offered {
		return nil, invalid("Invalid value for field 'resource.instanceProperties.machineType': '%s'. Machine type is not available in region %s.", t.name, region)
	}
	if len(p.zones) == 0 {
		return nil, invalid("Invalid value for field 'resource.locationPolicy': no zone of region %s is allowed", region)
	}
	p.shape = lp.GetTargetShape()
	switch p.shape {
	case "", "ANY", "ANY_SINGLE_ZONE", "BALANCED":
	default:
		return nil, invalid("Invalid value for field 'resource.locationPolicy.targetShape': '%s'", p.shape)
	}
	// Scheduling.
	sch := props.GetScheduling()
	p.capacity = cloudsim.OnDemand
	switch sch.GetProvisioningModel() {
	case "", "STANDARD":
	case "SPOT":
		p.capacity = cloudsim.Spot
	default:
		return nil, invalid("Invalid value for field 'resource.scheduling.provisioningModel': '%s'", sch.GetProvisioningModel())
	}
	act := sch.GetInstanceTerminationAction()
	switch act {
	case "", "STOP", "DELETE":
	default:
		return nil, invalid("Invalid value for field 'resource.scheduling.instanceTerminationAction': '%s'", act)
	}
	if p.capacity == cloudsim.Spot && sch.GetAutomaticRestart() {
		return nil, invalid("Invalid value for field 'resource.scheduling.automaticRestart': 'true'. Spot instances cannot be restarted automatically.")
	}
	ohm := sch.GetOnHostMaintenance()
	if ohm == "" {
		ohm = "MIGRATE"
		if p.capacity == cloudsim.Spot || t.accel != "" {
			ohm = "TERMINATE"
		}
	}
	if ohm == "MIGRATE" && (t.accel != "" || p.capacity == cloudsim.Spot) {
		return nil, invalid("Invalid value for field 'resource.scheduling.onHostMaintenance': 'MIGRATE'. Instances with guest accelerators or Spot provisioning do not support live migration.")
	}
	if d := sch.GetMaxRunDuration(); d != nil {
		p.maxRun = time.Duration(d.GetSeconds())*time.Second + time.Duration(d.GetNanos())
		if p.maxRun < 30*time.Second || p.maxRun > 120*24*time.Hour {
			return nil, invalid("Invalid value for field 'resource.scheduling.maxRunDuration': must be between 30 seconds and 120 days")
		}
	}
	if tt := sch.GetTerminationTime(); tt != "" {
		at, err := time.Parse(time.RFC3339, tt)
		if err != nil {
			return nil, invalid("Invalid value for field 'resource.scheduling.terminationTime': '%s'", tt)
		}
		p.terminateAt = at
	}
	if (p.maxRun > 0 || !p.terminateAt.IsZero()) && act == "" {
		return nil, invalid("Invalid value for field 'resource.scheduling.instanceTerminationAction': an instance with maxRunDuration or terminationTime needs instanceTerminationAction")
	}
	if act == "" && p.capacity == cloudsim.Spot {
		act = "STOP"
	}
	p.terminateAct = act
	// Disks: one boot disk from an image that exists.
	disks := props.GetDisks()
	if len(disks) == 0 || !disks[0].GetBoot() || disks[0].GetInitializeParams() == nil {
		return nil, invalid("Invalid value for field 'resource.instanceProperties.disks': a boot disk with initializeParams is required")
	}
	ip := disks[0].GetInitializeParams()
	img := ip.GetSourceImage()
	if _, ok := findImage(img); !ok {
		return nil, invalid("Invalid value for field 'resource.instanceProperties.disks[0].initializeParams.sourceImage': '%s'. The referenced image resource cannot be found.", img)
	}
	if e := validLabels("resource.instanceProperties.disks[0].initializeParams.labels", ip.GetLabels()); e != nil {
		return nil, e
	}
	diskType := or(ip.GetDiskType(), "pd-standard")
	if needsHyperdisk(t.family) && !strings.HasPrefix(diskType, "hyperdisk") {
		return nil, invalid("Invalid value for field 'resource.instanceProperties.disks[0].initializeParams.diskType': '%s'. %s machines support only Hyperdisk.", diskType, strings.ToUpper(t.family))
	}
	// Network: one interface on a network that exists.
	nics := props.GetNetworkInterfaces()
	network := "default"
	if len(nics) > 0 && nics[0].GetNetwork() != "" {
		network = lastSegment(nics[0].GetNetwork())
	}
	if !s.networks[network] {
		return nil, invalid("Invalid value for field 'resource.instanceProperties.networkInterfaces[0].network': '%s'. The referenced network resource cannot be found.", network)
	}
	p.network = network
	p.publicIP = len(nics) > 0 && len(nics[0].GetAccessConfigs()) > 0
	for _, it := range props.GetMetadata().GetItems() {
		if it.GetKey() == "startup-script" {
			p.startup = it.GetValue()
		}
	}
	if len(p.startup) > 256<<10 {
		return nil, invalid("Invalid value for field 'resource.instanceProperties.metadata': the startup-script exceeds 256 KB")
	}
	if tags := props.GetTags().GetItems(); len(tags) > 0 {
		for _, tg := range tags {
			if !nameRE.MatchString(tg) {
				return nil, invalid("Invalid value for field 'resource.instanceProperties.tags.items': '%s'", tg)
			}
		}
		p.attrs[AttrNetworkTags] = strings.Join(tags, ",")
	}
	p.attrs[AttrMachineType] = t.machineName()
	if t.attached {
		p.attrs[AttrAccelerators] = fmt.Sprintf("%sx%d", t.accel, t.accelCount)
	}
	p.attrs[AttrProvisioningModel] = or(sch.GetProvisioningModel(), "STANDARD")
	if act != "" {
		p.attrs[AttrTerminationAction] = act
	}
	if p.maxRun > 0 {
		p.attrs[AttrMaxRunDuration] = strconv.FormatInt(int64(p.maxRun/time.Second), 10)
	}
	if !p.terminateAt.IsZero() {
		p.attrs[AttrTerminationTime] = p.terminateAt.UTC().Format(time.RFC3339)
	}
	p.attrs[AttrOnHostMaintenance] = ohm
	p.attrs[AttrAutomaticRestart] = strconv.FormatBool(sch.GetAutomaticRestart())
	p.attrs[AttrNetwork] = network
	p.attrs[AttrImage] = img
	p.attrs[AttrDiskType] = diskType
	p.attrs[AttrDiskSizeGb] = strconv.FormatInt(ip.GetDiskSizeGb(), 10)
	p.attrs[AttrDiskAutoDelete] = strconv.FormatBool(disks[0].GetAutoDelete())
	p.attrs[AttrDiskEncryption] = "google-managed"
	switch k := disks[0].GetDiskEncryptionKey(); {
	case k.GetRawKey() != "" || k.GetRsaEncryptedKey() != "":
		p.attrs[AttrDiskEncryption] = "csek"
	case k.GetKmsKeyName() != "":
		p.attrs[AttrDiskEncryption] = "kms:" + k.GetKmsKeyName()
	}
	if sas := props.GetServiceAccounts(); len(sas) > 0 {
		p.attrs[AttrServiceAccount] = sas[0].GetEmail()
		p.attrs[AttrScopes] = strings.Join(sas[0].GetScopes(), ",")
	}
	if requestID != "" {
		p.attrs[AttrRequestID] = requestID
	}
	return p, nil
}

// needsHyperdisk reports whether a family boots only from Hyperdisk.
func needsHyperdisk(fam string) bool {
	switch fam {
	case "c4", "c4a":
		return true
	}
	return false
}

// quotaUses is the quota one instance of t takes, by GCE's quota metrics.
func quotaUses(m *cloudsim.Model, t machineType, region, capacity string, publicIP bool) []cloudsim.QuotaUse {
	cpus := float64(t.vcpus)
	var out []cloudsim.QuotaUse
	// Spot VMs count against a PREEMPTIBLE_ quota when the project has one
	// above zero, else against the regular quota, as on GCE.
	hasPreemptible := func(metric string) bool {
		lim, _, ok := m.Quota(cloudsim.QuotaKey{Region: region, Name: metric})
		return ok && lim > 0
	}
	if capacity == cloudsim.Spot && hasPreemptible("PREEMPTIBLE_CPUS") {
		out = append(out, cloudsim.QuotaUse{Key: cloudsim.QuotaKey{Region: region, Name: "PREEMPTIBLE_CPUS"}, Amount: cpus})
	} else {
		out = append(out, cloudsim.QuotaUse{Key: cloudsim.QuotaKey{Region: region, Name: families[t.family].quota}, Amount: cpus})
	}
	out = append(out, cloudsim.QuotaUse{Key: cloudsim.QuotaKey{Name: "CPUS_ALL_REGIONS"}, Amount: cpus})
	if t.accel != "" {
		q := accelerators[t.accel].quota
		if capacity == cloudsim.Spot && hasPreemptible(preemptible(q)) {
			q = preemptible(q)
		}
		n := float64(t.accelCount)
		out = append(out,
			cloudsim.QuotaUse{Key: cloudsim.QuotaKey{Region: region, Name: q}, Amount: n},
			cloudsim.QuotaUse{Key: cloudsim.QuotaKey{Name: "GPUS_ALL_REGIONS"}, Amount: n})
	}
	if publicIP {
		out = append(out, cloudsim.QuotaUse{Key: cloudsim.QuotaKey{Region: region, Name: "IN_USE_ADDRESSES"}, Amount: 1})
	}
	return out
}

// launchZone creates n instances of a bulk plan in one zone. The caller
// holds s.mu.
func (s *Server) launchZone(p *bulkPlan, zone string, n int, uses []cloudsim.QuotaUse) ([]cloudsim.Instance, error) {
	key := p.prefix + strings.Repeat("#", p.digits) + p.sfx
	var names []string
	var nameErr error
	token := ""
	if p.requestID != "" {
		token = p.requestID + "/" + zone + "/" + key
	}
	s.deadlinesKnown = false // new machines may carry deadlines
	ins, err := s.m.Launch(cloudsim.LaunchSpec{
		Region: p.region, Zone: zone, Type: p.t.name, Capacity: p.capacity, Count: n, MinCount: n,
		Tags: p.props.GetLabels(), UserData: p.startup, Attrs: p.attrs, Quotas: uses, PublicIP: p.publicIP,
		Token: token,
		Name: func(int) (string, string) {
			s.patterns[key]++
			num := s.patterns[key]
			if num >= pow10(p.digits) {
				nameErr = fmt.Errorf("namePattern %s has no numbers left", key)
			}
			s.seq++
			name := fmt.Sprintf("%s%0*d%s", p.prefix, p.digits, num, p.sfx)
			names = append(names, name)
			return strconv.FormatUint(s.seq, 10), name
		},
	})
	if nameErr != nil && err == nil {
		err = nameErr
	}
	for _, in := range ins {
		s.instances[in.ID] = s.instanceProto(p, in)
		s.byName[zone+"/"+in.Name] = in.ID
	}
	return ins, err
}

func pow10(n int) int {
	out := 1
	for i := 0; i < n; i++ {
		out *= 10
	}
	return out
}

// instanceProto is the stored GCE view of a new instance; its status is
// filled from the model at read time.
func (s *Server) instanceProto(p *bulkPlan, in cloudsim.Instance) *computepb.Instance {
	pr := proto.Clone(p.props).(*computepb.InstanceProperties)
	zl := s.zoneLink(in.Zone)
	id, _ := strconv.ParseUint(in.ID, 10, 64)
	inst := &computepb.Instance{
		Kind: proto.String("compute#instance"), Id: proto.Uint64(id), Name: proto.String(in.Name),
		Zone: proto.String(zl), MachineType: proto.String(zl + "/machineTypes/" + p.t.machineName()),
		CreationTimestamp: proto.String(timestamp(in.LaunchedAt)),
		SelfLink:          proto.String(zl + "/instances/" + in.Name),
		Labels:            pr.GetLabels(), Tags: pr.GetTags(), Metadata: pr.GetMetadata(), Scheduling: pr.GetScheduling(),
		ServiceAccounts: pr.GetServiceAccounts(), CpuPlatform: proto.String("Intel Cascade Lake"),
		Description: pr.Description,
	}
	if inst.Scheduling == nil {
		inst.Scheduling = &computepb.Scheduling{}
	}
	inst.Scheduling.OnHostMaintenance = proto.String(p.attrs[AttrOnHostMaintenance])
	if p.terminateAct != "" {
		inst.Scheduling.InstanceTerminationAction = proto.String(p.terminateAct)
	}
	for _, a := range pr.GetGuestAccelerators() {
		inst.GuestAccelerators = append(inst.GuestAccelerators, &computepb.AcceleratorConfig{
			AcceleratorType: proto.String(zl + "/acceleratorTypes/" + lastSegment(a.GetAcceleratorType())), AcceleratorCount: a.AcceleratorCount})
	}
	if p.t.accel != "" && !p.t.attached {
		inst.GuestAccelerators = []*computepb.AcceleratorConfig{{
			AcceleratorType: proto.String(zl + "/acceleratorTypes/" + p.t.accel), AcceleratorCount: proto.Int32(int32(p.t.accelCount))}}
	}
	nic := &computepb.NetworkInterface{
		Name: proto.String("nic0"), Network: proto.String(s.base() + "/global/networks/" + p.network),
		Subnetwork: proto.String(s.regionLink(in.Region) + "/subnetworks/" + p.network), NetworkIP: proto.String(in.PrivateIP),
	}
	if nics := pr.GetNetworkInterfaces(); len(nics) > 0 && nics[0].GetSubnetwork() != "" {
		nic.Subnetwork = proto.String(nics[0].GetSubnetwork())
	}
	if p.publicIP {
		nic.AccessConfigs = []*computepb.AccessConfig{{Kind: proto.String("compute#accessConfig"), Name: proto.String("External NAT"),
			Type: proto.String("ONE_TO_ONE_NAT"), NatIP: proto.String(in.PublicIP), NetworkTier: proto.String("PREMIUM")}}
	}
	inst.NetworkInterfaces = []*computepb.NetworkInterface{nic}
	for i, d := range pr.GetDisks() {
		dn := in.Name
		if i > 0 {
			dn = fmt.Sprintf("%s-%d", in.Name, i)
		}
		inst.Disks = append(inst.Disks, &computepb.AttachedDisk{
			Boot: d.Boot, AutoDelete: d.AutoDelete, DeviceName: proto.String(or(d.GetDeviceName(), "persistent-disk-0")),
			Index: proto.Int32(int32(i)), Mode: proto.String("READ_WRITE"), Type: proto.String("PERSISTENT"),
			Source: proto.String(zl + "/disks/" + dn), DiskSizeGb: d.GetInitializeParams().DiskSizeGb,
		})
	}
	return inst
}

// gceStatus maps the model's lifecycle states to GCE's statuses; ok is
// false for an instance GCE no longer shows (deleted).
func gceStatus(state string) (status string, ok bool) {
	switch state {
	case cloudsim.Pending:
		return "PROVISIONING", true
	case cloudsim.Running:
		return "RUNNING", true
	case cloudsim.Stopping, cloudsim.ShuttingDown:
		return "STOPPING", true
	case cloudsim.Stopped:
		return "TERMINATED", true
	}
	return "", false
}

// view returns the instance as GCE shows it now, or false if it is gone.
// The caller holds s.mu.
func (s *Server) view(in cloudsim.Instance) (*computepb.Instance, bool) {
	base, ok := s.instances[in.ID]
	if !ok {
		return nil, false
	}
	st, ok := gceStatus(in.State)
	if !ok {
		return nil, false
	}
	out := proto.Clone(base).(*computepb.Instance)
	out.Status = proto.String(st)
	out.Labels = in.Tags
	if st == "TERMINATED" && in.StateReason != "" {
		out.StatusMessage = proto.String(in.StateReason)
	}
	return out, true
}

// shown is an instance GCE shows: the model's record (a copy), the stored
// GCE view and its status then. Listings filter, sort and page these and
// build the full view (a copy) only of the page they return.
type shown struct {
	in     cloudsim.Instance
	base   *computepb.Instance
	status string
}

// listHook, when set (by tests), runs as a listing copies each instance
// of its page.
var listHook func()

// liveInstances returns the instances GCE shows that keep selects (nil:
// all), in zone and name order. It holds s.mu only to take the snapshot:
// the model's records (copies) and the stored views, which are never
// changed once stored (view copies them); so a listing reflects one
// moment, and its sorting and copying do not hold up the calls beside it.
func (s *Server) liveInstances(keep func(base *computepb.Instance, status string, labels map[string]string) bool) []shown {
	out := s.snapshot(keep)
	sort.Slice(out, func(i, j int) bool {
		if out[i].base.GetZone() != out[j].base.GetZone() {
			return out[i].base.GetZone() < out[j].base.GetZone()
		}
		return out[i].base.GetName() < out[j].base.GetName()
	})
	return out
}

// snapshot is liveInstances unsorted, taken under s.mu. keep is asked
// (under the model's lock) before a record is copied, so the instances a
// listing does not select, and the deleted ones GCE no longer shows, cost
// no copy: a listing's filter picks a cluster among all of a project's
// machines, or a part of one.
func (s *Server) snapshot(keep func(base *computepb.Instance, status string, labels map[string]string) bool) []shown {
	s.mu.Lock()
	defer s.mu.Unlock()
	ins := s.m.Instances(func(in *cloudsim.Instance) bool {
		base, ok := s.instances[in.ID]
		if !ok {
			return false
		}
		st, ok := gceStatus(in.State)
		return ok && (keep == nil || keep(base, st, in.Tags))
	})
	out := make([]shown, 0, len(ins))
	for _, in := range ins {
		st, _ := gceStatus(in.State)
		out = append(out, shown{in: in, base: s.instances[in.ID], status: st})
	}
	return out
}

// listed is the GCE view of a listed instance as its snapshot shows it,
// copying only the fields mask selects (nil: all), as the response mask
// would leave them: writeJSON prunes the rest, so the answer is the same
// as a whole copy's, without copying the fields it would drop.
func listed(x shown, mask maskNode) *computepb.Instance {
	if h := listHook; h != nil {
		h()
	}
	var out *computepb.Instance
	if mask == nil {
		out = proto.Clone(x.base).(*computepb.Instance)
	} else {
		// A shallow copy of the selected fields (aliasing the stored
		// view, only read), then a deep copy of that.
		sel := &computepb.Instance{}
		dst := sel.ProtoReflect()
		_, star := mask["*"]
		x.base.ProtoReflect().Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
			if _, ok := mask[fd.JSONName()]; ok || star {
				dst.Set(fd, v)
			}
			return true
		})
		out = proto.Clone(sel).(*computepb.Instance)
	}
	out.Status = proto.String(x.status)
	out.Labels = x.in.Tags
	if x.status == "TERMINATED" && x.in.StateReason != "" {
		out.StatusMessage = proto.String(x.in.StateReason)
	}
	return out
}

// maskAt is what mask selects under path, as pruneMessage walks it: nil
// for all of it, empty for nothing.
func maskAt(mask maskNode, path ...string) maskNode {
	for _, k := range path {
		if mask == nil {
			return nil
		}
		sub, ok := mask[k]
		if !ok {
			sub, ok = mask["*"]
		}
		if !ok {
			return maskNode{}
		}
		mask = sub
	}
	return mask
}

// listMask is the request's response mask; method has already answered a
// malformed one, so an error here cannot happen (nil copies all).
func listMask(r *http.Request) maskNode {
	m, e := requestMask(r)
	if e != nil {
		return nil
	}
	return m
}

// page cuts a list at the request's pageToken and maxResults (GCE's
// default and cap are 500).
func page[T any](r *http.Request, items []T) ([]T, string, *apiError) {
	q := r.URL.Query()
	size := 500
	if v := q.Get("maxResults"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 500 {
			return nil, "", invalid("Invalid value for field 'maxResults': '%s'. Must be between 0 and 500.", v)
		}
		if n > 0 {
			size = n
		}
	}
	start := 0
	if t := q.Get("pageToken"); t != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(t, "p"))
		if err != nil || n < 0 || n > len(items) {
			return nil, "", invalid("Invalid value for field 'pageToken': '%s'", t)
		}
		start = n
	}
	end := min(start+size, len(items))
	next := ""
	if end < len(items) {
		next = "p" + strconv.Itoa(end)
	}
	return items[start:end], next, nil
}

// filtered is what the request's filter selects of the instances GCE
// shows, in zone and name order. The caller does not hold s.mu.
func (s *Server) filtered(r *http.Request) ([]shown, *apiError) {
	f, err := parseFilter(r.URL.Query().Get("filter"))
	if err != nil {
		return nil, invalid("Invalid value for field 'filter': '%s'. %v", r.URL.Query().Get("filter"), err)
	}
	var ferr error
	out := s.liveInstances(func(base *computepb.Instance, status string, labels map[string]string) bool {
		if ferr != nil {
			return false
		}
		ok, err := f.matchFunc(instanceField(base, status, labels))
		ferr = err
		return ok && err == nil
	})
	if ferr != nil {
		return nil, invalid("Invalid value for field 'filter': %v", ferr)
	}
	return out, nil
}

func (s *Server) aggregatedInstances(r *http.Request) (proto.Message, *apiError) {
	all, e := s.filtered(r)
	if e != nil {
		return nil, e
	}
	items, next, e := page(r, all)
	if e != nil {
		return nil, e
	}
	out := &computepb.InstanceAggregatedList{Kind: proto.String("compute#instanceAggregatedList"), Id: proto.String("projects/" + s.opts.Project + "/aggregated/instances"),
		Items: map[string]*computepb.InstancesScopedList{}, SelfLink: proto.String(s.base() + "/aggregated/instances")}
	mask := listMask(r)
	for _, x := range items {
		k := "zones/" + lastSegment(x.base.GetZone())
		if out.Items[k] == nil {
			out.Items[k] = &computepb.InstancesScopedList{}
		}
		out.Items[k].Instances = append(out.Items[k].Instances, listed(x, maskAt(mask, "items", k, "instances")))
	}
	if next != "" {
		out.NextPageToken = proto.String(next)
	}
	return fresh{out}, nil
}

func (s *Server) listInstances(r *http.Request) (proto.Message, *apiError) {
	zone := r.PathValue("zone")
	if _, ok := s.m.RegionOfZone(zone); !ok {
		return nil, notFound("projects/" + s.opts.Project + "/zones/" + zone)
	}
	all, e := s.filtered(r)
	if e != nil {
		return nil, e
	}
	all = slices.DeleteFunc(all, func(in shown) bool { return lastSegment(in.base.GetZone()) != zone })
	items, next, e := page(r, all)
	if e != nil {
		return nil, e
	}
	mask := maskAt(listMask(r), "items")
	out := &computepb.InstanceList{Kind: proto.String("compute#instanceList"), Items: make([]*computepb.Instance, 0, len(items))}
	for _, x := range items {
		out.Items = append(out.Items, listed(x, mask))
	}
	if next != "" {
		out.NextPageToken = proto.String(next)
	}
	return fresh{out}, nil
}

// lookup finds an instance by zone and name, as GCE shows it now (a
// copy). The caller holds s.mu.
func (s *Server) lookup(zone, name string) (cloudsim.Instance, *computepb.Instance, bool) {
	in, _, ok := s.stored(zone, name)
	if !ok {
		return cloudsim.Instance{}, nil, false
	}
	v, ok := s.view(in)
	return in, v, ok
}

// stored finds an instance GCE shows by zone and name: the model's record
// and the stored view, which is never changed once stored and is only to
// be read (its status and labels are the record's, see view). The caller
// holds s.mu.
func (s *Server) stored(zone, name string) (cloudsim.Instance, *computepb.Instance, bool) {
	id, ok := s.byName[zone+"/"+name]
	if !ok {
		return cloudsim.Instance{}, nil, false
	}
	in, ok := s.m.Instance(id)
	if !ok {
		return cloudsim.Instance{}, nil, false
	}
	base, ok := s.instances[in.ID]
	if _, shown := gceStatus(in.State); !ok || !shown {
		return cloudsim.Instance{}, nil, false
	}
	return in, base, true
}

func (s *Server) getInstance(r *http.Request) (proto.Message, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, v, ok := s.lookup(r.PathValue("zone"), r.PathValue("name"))
	if !ok {
		return nil, notFound(fmt.Sprintf("projects/%s/zones/%s/instances/%s", s.opts.Project, r.PathValue("zone"), r.PathValue("name")))
	}
	return v, nil
}

func (s *Server) deleteInstance(r *http.Request) (proto.Message, *apiError) {
	zone, name := r.PathValue("zone"), r.PathValue("name")
	requestID := r.URL.Query().Get("requestId")
	if e := validRequestID(requestID); e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if opName, ok := s.requests[requestID]; ok && requestID != "" {
		o := s.ops[opName]
		s.advanceOp(o)
		return proto.Clone(o.proto), nil
	}
	in, base, ok := s.stored(zone, name)
	if !ok {
		return nil, notFound(fmt.Sprintf("projects/%s/zones/%s/instances/%s", s.opts.Project, zone, name))
	}
	op := s.newOperation("delete", "zone", zone, base.GetSelfLink(), requestID)
	op.proto.TargetId = proto.Uint64(base.GetId())
	op.fault = s.m.TakeFault(Service, "compute.instances.delete"+OperationSuffix)
	if op.fault == nil {
		// A VM being deleted shows STOPPING until it is gone.
		s.m.Terminate([]string{in.ID}, "user")
	}
	resp := proto.Clone(op.proto).(*computepb.Operation)
	s.advanceOp(op)
	return resp, nil
}

// sweep applies what the clock has made happen: operations that ended,
// and machines past their maxRunDuration or terminationTime, which GCE
// deletes or stops by their instanceTerminationAction. The machines are
// looked at only once the earliest deadline seen has come (or new machines
// were made since), so a burst of calls does not copy every machine each.
func (s *Server) sweep() {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.m.Now()
	for _, o := range s.ops {
		if !o.done {
			s.advanceOp(o)
		}
	}
	if s.deadlinesKnown && (s.nextDeadline.IsZero() || now.Before(s.nextDeadline)) {
		return
	}
	var del, stop []string
	var next time.Time
	for _, in := range s.m.Instances(func(in *cloudsim.Instance) bool {
		return (in.State == cloudsim.Running || in.State == cloudsim.Pending) && (in.Attrs[AttrMaxRunDuration] != "" || in.Attrs[AttrTerminationTime] != "")
	}) {
		deadline := time.Time{}
		if secs, err := strconv.Atoi(in.Attrs[AttrMaxRunDuration]); err == nil {
			deadline = in.LaunchedAt.Add(time.Duration(secs) * time.Second)
		}
		if at, err := time.Parse(time.RFC3339, in.Attrs[AttrTerminationTime]); err == nil && (deadline.IsZero() || at.Before(deadline)) {
			deadline = at
		}
		if deadline.IsZero() {
			continue
		}
		if now.Before(deadline) {
			if next.IsZero() || deadline.Before(next) {
				next = deadline
			}
			continue
		}
		if in.Attrs[AttrTerminationAction] == "DELETE" {
			del = append(del, in.ID)
		} else {
			stop = append(stop, in.ID)
		}
	}
	// Machines only leave the candidates from here on (deleted, stopped,
	// preempted) until new ones are made, so next is early or exact.
	s.nextDeadline, s.deadlinesKnown = next, true
	if len(del) > 0 {
		s.m.Terminate(del, "max-run-duration")
	}
	if len(stop) > 0 {
		s.m.Stop(stop, "max-run-duration")
	}
}

// Test hooks.

// Instance returns an instance by name (in any zone) as GCE shows it, with
// the model's record of it.
func (s *Server) Instance(name string) (*computepb.Instance, cloudsim.Instance, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for key, id := range s.byName {
		if strings.HasSuffix(key, "/"+name) {
			in, ok := s.m.Instance(id)
			if !ok {
				continue
			}
			v, _ := s.view(in)
			return v, in, true
		}
	}
	return nil, cloudsim.Instance{}, false
}

// Preempt reclaims a Spot VM as GCE does: by its instanceTerminationAction
// it is deleted or stopped (TERMINATED). It reports whether it did.
func (s *Server) Preempt(name string) bool {
	_, in, ok := s.Instance(name)
	if !ok || in.Capacity != cloudsim.Spot {
		return false
	}
	if in.Attrs[AttrTerminationAction] == "DELETE" {
		return s.m.Interrupt(in.ID)
	}
	s.m.Stop([]string{in.ID}, "spot-interruption")
	return true
}

// GuestShutdown powers a VM off from inside, as `shutdown -h now` does: GCE
// stops it (status TERMINATED) and keeps its disk, billing for it.
func (s *Server) GuestShutdown(name string) bool {
	_, in, ok := s.Instance(name)
	if !ok {
		return false
	}
	s.m.Stop([]string{in.ID}, "guest-shutdown")
	return true
}
