package gcp

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"

	"github.com/burstdev/burst/internal/bootstrap"
	"github.com/burstdev/burst/internal/catalog"
	"github.com/burstdev/burst/internal/plan"
	"github.com/burstdev/burst/internal/provider"
)

// attempt is one bulkInsert: a machine type in a region at a capacity
// type, over the zones the offerings allow (all of the region's when an
// offering names none).
type attempt struct {
	offerings []plan.Offering
	typ       string
	region    string
	capacity  catalog.Capacity
	zones     []string // empty: any zone of the region
}

// attempts groups the request's offerings, in order, into bulkInserts:
// consecutive offerings of one type, region and capacity become one call
// whose location policy allows their zones.
func attempts(offs []plan.Offering) []attempt {
	var out []attempt
	for _, o := range offs {
		if n := len(out); n > 0 {
			a := &out[n-1]
			if a.typ == o.InstanceType && a.region == o.Region && a.capacity == o.Capacity {
				a.offerings = append(a.offerings, o)
				if o.Zone == "" || len(a.zones) == 0 {
					a.zones = nil
				} else if !slices.Contains(a.zones, o.Zone) {
					a.zones = append(a.zones, o.Zone)
				}
				continue
			}
		}
		a := attempt{offerings: []plan.Offering{o}, typ: o.InstanceType, region: o.Region, capacity: o.Capacity}
		if o.Zone != "" {
			a.zones = []string{o.Zone}
		}
		out = append(out, a)
	}
	return out
}

// Launch implements provider.Provider. Each group of offerings (one
// machine type in one region) is one regionInstances.bulkInsert for what is
// still missing, tried in order until Count machines exist. Without
// AllOrNothing the call asks minCount 1, so GCE creates what capacity
// allows and the shortfall moves to the next offering; with it, minCount
// is the count and GCE creates all or none.
//
// Idempotency: every bulkInsert carries a requestId derived from the token
// and the attempt, and labels its machines with the token's hash and the
// attempt. A repeated Launch makes the same calls with the same requestIds;
// GCE answers each with the first call's operation (it keeps requestIds
// for at least 60 minutes, and a token changes every 15: see
// provision.launchKey), and the listing after each operation returns the
// machines it made, so nothing is made twice. No listing is needed
// before the first call.
func (p *Provider) Launch(ctx context.Context, req provider.LaunchRequest) (*provider.LaunchResult, error) {
	res := &provider.LaunchResult{}
	if req.Count <= 0 || len(req.Offerings) == 0 || req.Token == "" || req.Cluster == "" {
		return res, provider.Errorf(provider.ErrInvalid, provider.ScopeOffering, "gcp: a launch needs a cluster, a count, offerings and a token")
	}
	for _, o := range req.Offerings {
		if o.Provider != Name {
			return res, provider.Errorf(provider.ErrInvalid, provider.ScopeOffering, "gcp: offering %s belongs to provider %q", o, o.Provider)
		}
	}
	if err := p.init(ctx); err != nil {
		return res, err
	}
	tokenHash := shortHash(req.Token, 16)
	script, err := bootstrap.Render(req.Boot, bootstrap.Options{Target: bootstrap.GCP, WorkerName: req.Cluster + "-worker"})
	if err != nil {
		return res, &provider.Error{Kind: provider.ErrInvalid, Scope: provider.ScopeProvider, Op: "bootstrap", Msg: err.Error(), Err: err}
	}
	left := req.Count
	var blocked []provider.Scope
	var blockedRegions []string
	for i, a := range attempts(req.Offerings) {
		if left == 0 {
			break
		}
		if slices.Contains(blocked, provider.ScopeProvider) || slices.Contains(blockedRegions, a.region) {
			continue
		}
		made, err := p.bulkInsert(ctx, req, a, i, left, tokenHash, script)
		res.Machines = append(res.Machines, made...)
		left -= len(made)
		if err == nil {
			continue
		}
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
		switch k := provider.KindOf(err); {
		case errors.Is(k, provider.ErrNoCapacity), errors.Is(k, provider.ErrQuota):
			for _, o := range a.offerings {
				res.Failures = append(res.Failures, provider.OfferingError{Offering: o, Err: err})
			}
			switch provider.ScopeOf(err) {
			case provider.ScopeRegion:
				blockedRegions = append(blockedRegions, a.region)
			case provider.ScopeProvider:
				blocked = append(blocked, provider.ScopeProvider)
			}
		default:
			// Auth, invalid requests, throttling past retries: the call as
			// a whole failed.
			return res, err
		}
	}
	return res, nil
}

// bulkInsert creates up to n machines for one attempt and returns those
// that exist afterwards. A shortfall is reported as a kinded error.
func (p *Provider) bulkInsert(ctx context.Context, req provider.LaunchRequest, a attempt, idx, n int, tokenHash, script string) ([]provider.Machine, error) {
	machine, accel, accelCount, err := ParseTypeName(a.typ)
	if err != nil {
		return nil, &provider.Error{Kind: provider.ErrInvalid, Scope: provider.ScopeOffering, Op: "bulkInsert", Msg: err.Error()}
	}
	o := a.offerings[0]
	gpus := o.GPUs > 0 || accelCount > 0
	props := p.instanceProperties(req, a, machine, accel, accelCount, gpus, tokenHash, idx, script)
	minCount := int64(1)
	if req.AllOrNothing {
		minCount = int64(n)
	}
	loc := &computepb.LocationPolicy{TargetShape: proto.String("ANY")}
	if len(a.zones) > 0 {
		loc.Locations = map[string]*computepb.LocationPolicyLocation{}
		for _, z := range a.zones {
			loc.Locations["zones/"+z] = &computepb.LocationPolicyLocation{Preference: proto.String("ALLOW")}
		}
	}
	body := &computepb.BulkInsertInstanceResource{
		Count: proto.Int64(int64(n)), MinCount: proto.Int64(minCount),
		NamePattern:        proto.String(namePattern(req.Cluster, string(req.Role), req.Token, idx)),
		InstanceProperties: props, LocationPolicy: loc,
	}
	rid := requestID(req.Token, idx)
	select {
	case p.bulk <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	// The machines the call made are found by their labels. That listing
	// starts as soon as GCE has accepted the call, beside the operation's
	// wait, and is kept only if the finished operation vouches for it
	// (madeBy); else it is made again after the wait.
	var early *pendingList
	op, err := func() (*computepb.Operation, error) {
		defer func() { <-p.bulk }()
		if err := p.waitMutation(ctx); err != nil {
			return nil, err
		}
		var started *compute.Operation
		err := p.do(ctx, "regionInstances.bulkInsert", func(ctx context.Context) (err error) {
			started, err = p.c.regionInstances.BulkInsert(ctx, &computepb.BulkInsertRegionInstanceRequest{
				Project: p.project, Region: a.region, RequestId: proto.String(rid), BulkInsertInstanceResourceResource: body,
			}, noRetry)
			return err
		})
		if err != nil {
			return nil, err
		}
		early = p.startList(ctx, req.Cluster, a, tokenHash, idx, n)
		return p.waitRegion(ctx, a.region, started.Proto())
	}()
	if err != nil && op == nil && provider.KindOf(err) != nil {
		// Refused upfront (no capacity, quota, invalid): nothing was made.
		if early != nil {
			early.discard()
		}
		return nil, err
	}
	// Whatever the operation says, the labels say what exists.
	var made []provider.Machine
	var lerr error
	if early != nil {
		made, lerr = early.wait()
	}
	if early == nil || lerr != nil || err != nil || !madeBy(op, len(made)) {
		made, lerr = p.listMade(ctx, req.Cluster, a, tokenHash, idx, n)
	}
	p.addExpected(req.Cluster, made)
	if err != nil {
		return made, err
	}
	if lerr != nil {
		return made, lerr
	}
	if opErr := operationError("regionInstances.bulkInsert", op); opErr != nil {
		return made, opErr
	}
	if len(made) < n {
		msg := fmt.Sprintf("bulkInsert made %d of %d %s %s machines in %s", len(made), n, a.capacity, a.typ, a.region)
		for _, w := range op.GetWarnings() {
			msg += ": " + w.GetMessage()
		}
		return made, &provider.Error{Kind: provider.ErrNoCapacity, Scope: provider.ScopeOffering, Op: "regionInstances.bulkInsert",
			Code: "ZONE_RESOURCE_POOL_EXHAUSTED", Msg: msg}
	}
	return made, nil
}

// listMade lists the machines one attempt made, by their token and
// attempt labels: the aggregatedList in as many parts as the n asked for
// call for (listParts), those in the attempt's region.
func (p *Provider) listMade(ctx context.Context, cluster string, a attempt, tokenHash string, idx, n int) ([]provider.Machine, error) {
	sel := selector{eq: [][2]string{{provider.TagCluster, cluster}, {labelToken, tokenHash}, {labelAttempt, strconv.Itoa(idx)}}}
	ms, err := p.listParts(ctx, sel, partsFor(n))
	return inRegions(ms, []string{a.region}), err
}

// pendingList is a listMade running in the background.
type pendingList struct {
	cancel context.CancelFunc
	done   chan struct{}
	ms     []provider.Machine
	err    error
}

func (p *Provider) startList(ctx context.Context, cluster string, a attempt, tokenHash string, idx, n int) *pendingList {
	ctx, cancel := context.WithCancel(ctx)
	l := &pendingList{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(l.done)
		l.ms, l.err = p.listMade(ctx, cluster, a, tokenHash, idx, n)
	}()
	return l
}

func (l *pendingList) wait() ([]provider.Machine, error) {
	<-l.done
	l.cancel()
	return l.ms, l.err
}

func (l *pendingList) discard() {
	l.cancel()
	<-l.done
}

// madeBy reports whether a finished bulkInsert operation vouches for a
// listing of listed machines that started before it finished: it ended
// without an error, and its per-zone status (GCE's
// instancesBulkInsertOperationMetadata.perLocationStatus) counts as many
// machines created (createdVmCount, "count of VMs successfully created so
// far") as were listed, and none deleted (deletedVmCount, "count of VMs
// that got deleted during rollback"). A listing made while GCE was still
// creating would count fewer; an operation without the metadata vouches
// for nothing.
func madeBy(op *computepb.Operation, listed int) bool {
	if op.GetStatus() != computepb.Operation_DONE || op.GetError() != nil {
		return false
	}
	st := op.GetInstancesBulkInsertOperationMetadata().GetPerLocationStatus()
	if len(st) == 0 {
		return false
	}
	created := 0
	for _, s := range st {
		if s.GetDeletedVmCount() != 0 {
			return false
		}
		created += int(s.GetCreatedVmCount())
	}
	return created == listed
}

// waitRegion waits for a regional operation with regionOperations.wait,
// which GCE holds open until the operation ends or about two minutes
// pass; it polls again, with a short pause, if it returns early.
func (p *Provider) waitRegion(ctx context.Context, region string, op *computepb.Operation) (*computepb.Operation, error) {
	return p.waitOp(ctx, op, func(ctx context.Context) (*computepb.Operation, error) {
		return p.c.regionOps.Wait(ctx, &computepb.WaitRegionOperationRequest{Project: p.project, Region: region, Operation: op.GetName()}, noRetry)
	}, "regionOperations.wait")
}

func (p *Provider) waitGlobal(ctx context.Context, op *computepb.Operation) (*computepb.Operation, error) {
	return p.waitOp(ctx, op, func(ctx context.Context) (*computepb.Operation, error) {
		return p.c.globalOps.Wait(ctx, &computepb.WaitGlobalOperationRequest{Project: p.project, Operation: op.GetName()}, noRetry)
	}, "globalOperations.wait")
}

func (p *Provider) waitOp(ctx context.Context, op *computepb.Operation, wait func(context.Context) (*computepb.Operation, error), name string) (*computepb.Operation, error) {
	pause := 100 * time.Millisecond
	for op.GetStatus() != computepb.Operation_DONE {
		var next *computepb.Operation
		err := p.do(ctx, name, func(ctx context.Context) (err error) {
			next, err = wait(ctx)
			return err
		})
		if err != nil {
			return op, err
		}
		op = next
		if op.GetStatus() == computepb.Operation_DONE {
			break
		}
		if err := p.opts.Sleep(ctx, pause); err != nil {
			return op, err
		}
		pause = min(2*pause, 5*time.Second)
	}
	return op, nil
}

// instanceProperties is what every machine of one bulkInsert gets.
func (p *Provider) instanceProperties(req provider.LaunchRequest, a attempt, machine, accel string, accelCount int, gpus bool, tokenHash string, idx int, script string) *computepb.InstanceProperties {
	o := a.offerings[0]
	lbl := labels(req.Tags)
	lbl[labelToken] = tokenHash
	lbl[labelAttempt] = strconv.Itoa(idx)
	image := p.opts.Image
	switch {
	case gpus:
		image = p.opts.GPUImage
	case o.Arch == "arm64":
		image = p.opts.ARMImage
	}
	diskGiB := int64(defaultDiskGiB)
	if gpus {
		diskGiB = defaultGPUDiskGiB
	}
	if req.Disk > 0 {
		diskGiB = int64(math.Ceil(req.Disk.GiB()))
	}
	diskLabels := labels(req.Tags)
	nic := &computepb.NetworkInterface{Network: proto.String("global/networks/" + p.opts.Network)}
	if p.opts.Subnetwork != "" {
		nic.Subnetwork = proto.String("regions/" + a.region + "/subnetworks/" + p.opts.Subnetwork)
	}
	if !p.opts.NoPublicIP {
		nic.AccessConfigs = []*computepb.AccessConfig{{Name: proto.String("External NAT"), Type: proto.String("ONE_TO_ONE_NAT")}}
	}
	sa := p.opts.ServiceAccount
	if sa == "" {
		sa = "default"
	}
	props := &computepb.InstanceProperties{
		MachineType: proto.String(machine),
		Labels:      lbl,
		Tags:        &computepb.Tags{Items: []string{NetworkTag(req.Cluster)}},
		Metadata: &computepb.Metadata{Items: []*computepb.Items{
			{Key: proto.String("startup-script"), Value: proto.String(script)},
		}},
		Disks: []*computepb.AttachedDisk{{
			Boot: proto.Bool(true), AutoDelete: proto.Bool(true),
			InitializeParams: &computepb.AttachedDiskInitializeParams{
				SourceImage: proto.String(image), DiskSizeGb: proto.Int64(diskGiB),
				DiskType: proto.String(diskType(machine)), Labels: diskLabels,
			},
		}},
		NetworkInterfaces: []*computepb.NetworkInterface{nic},
		// The compute scope lets the machine delete itself (see the gcp
		// block of internal/bootstrap/targets.tmpl); what it may delete is
		// bounded by the service account's role.
		ServiceAccounts: []*computepb.ServiceAccount{{Email: proto.String(sa), Scopes: []string{"https://www.googleapis.com/auth/compute"}}},
		Scheduling:      p.scheduling(a.capacity, gpus, req.Boot.ExpiresAt),
	}
	if accel != "" {
		props.GuestAccelerators = []*computepb.AcceleratorConfig{{AcceleratorType: proto.String(accel), AcceleratorCount: proto.Int32(int32(accelCount))}}
	}
	return props
}

// scheduling is how GCE runs the machines: Spot VMs are deleted when
// preempted; GPU machines cannot live-migrate; a max lifetime becomes
// maxRunDuration with DELETE, so the cloud removes the machine on time
// even if its own watchdog does not.
func (p *Provider) scheduling(capacity catalog.Capacity, gpus bool, expires time.Time) *computepb.Scheduling {
	s := &computepb.Scheduling{ProvisioningModel: proto.String("STANDARD"), OnHostMaintenance: proto.String("MIGRATE"), AutomaticRestart: proto.Bool(true)}
	if gpus {
		s.OnHostMaintenance = proto.String("TERMINATE")
	}
	if capacity == catalog.Spot {
		s.ProvisioningModel = proto.String("SPOT")
		s.InstanceTerminationAction = proto.String("DELETE")
		s.OnHostMaintenance = proto.String("TERMINATE")
		s.AutomaticRestart = proto.Bool(false)
	}
	if !expires.IsZero() {
		d := expires.Sub(p.opts.Now()).Round(time.Second)
		d = max(d, 30*time.Second)   // GCE's minimum
		d = min(d, 120*24*time.Hour) // and maximum
		s.MaxRunDuration = &computepb.Duration{Seconds: proto.Int64(int64(d / time.Second))}
		s.InstanceTerminationAction = proto.String("DELETE")
	}
	return s
}

// diskType is the boot disk type: families that boot only from Hyperdisk
// get hyperdisk-balanced, the rest pd-balanced.
func diskType(machine string) string {
	switch familyOf(machine) {
	case "c4", "c4a", "c4d", "n4", "x4", "a4", "a4x":
		return "hyperdisk-balanced"
	}
	return "pd-balanced"
}
