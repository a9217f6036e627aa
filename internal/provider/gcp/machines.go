package gcp

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"github.com/googleapis/gax-go/v2/callctx"
	"google.golang.org/protobuf/proto"

	"github.com/burstdev/burst/internal/catalog"
	"github.com/burstdev/burst/internal/provider"
	"github.com/burstdev/burst/pkg/spec"
)

// Machines implements provider.Provider with one instances.aggregatedList
// over every zone of every region, filtered by the cluster label on the
// server (or by the presence of the label for all clusters) and paginated:
// one call per 500 machines whatever the number of regions. Filter.Regions
// is applied here; with none, or with AllRegions (which overrides them),
// every region is searched, which costs nothing more on GCE. A machine a
// guest shutdown stopped is listed as Stopped (GCE's TERMINATED): it still
// holds its disk, and down and gc delete it.
func (p *Provider) Machines(ctx context.Context, f provider.Filter) ([]provider.Machine, error) {
	if err := p.init(ctx); err != nil {
		return nil, err
	}
	filter := fmt.Sprintf("labels.%s:*", provider.TagCluster)
	if f.Cluster != "" {
		filter = fmt.Sprintf(`labels.%s = "%s"`, provider.TagCluster, f.Cluster)
	}
	ms, err := p.list(ctx, filter)
	if err != nil {
		return nil, err
	}
	if len(f.Regions) > 0 && !f.AllRegions {
		ms = slices.DeleteFunc(ms, func(m provider.Machine) bool { return !slices.Contains(f.Regions, m.Region) })
	}
	return ms, nil
}

// list returns the machines an aggregatedList filter selects, sorted by ID.
// Each page is one call, retried on throttling; a page that fails fails
// the list, so a caller never mistakes a partial view for the truth.
//
// Each page asks for a partial response (listMask): only the fields
// machineOf reads. A full instance carries the startup script in its
// metadata, most of its size; at 5000 machines a listing without the mask
// is tens of megabytes to download and decode on every observation.
func (p *Provider) list(ctx context.Context, filter string) ([]provider.Machine, error) {
	ctx = callctx.SetHeaders(ctx, "X-Goog-FieldMask", listMask)
	var out []provider.Machine
	token := ""
	for {
		var resp *computepb.InstanceAggregatedList
		err := p.do(ctx, "instances.aggregatedList", func(ctx context.Context) error {
			it := p.c.instances.AggregatedList(ctx, &computepb.AggregatedListInstancesRequest{
				Project: p.project, Filter: proto.String(filter),
			}, noRetry)
			// InternalFetch makes exactly one page call; the iterator's Next
			// would fetch on past empty pages by itself, without retries.
			if _, _, err := it.InternalFetch(500, token); err != nil {
				return err
			}
			resp, _ = it.Response.(*computepb.InstanceAggregatedList)
			return nil
		})
		if err != nil {
			return nil, err
		}
		if resp == nil {
			break
		}
		for _, scoped := range resp.GetItems() {
			for _, in := range scoped.GetInstances() {
				out = append(out, machineOf(in))
			}
		}
		token = resp.GetNextPageToken()
		if token == "" {
			break
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// listMask is the X-Goog-FieldMask of a listing: the page token and each
// instance's fields machineOf reads. Keep the two in step; the providertest
// suite checks every Machine field over the wire against the simulator,
// which honours the mask.
const listMask = "nextPageToken,items/*/instances(name,zone,machineType,status,labels,creationTimestamp," +
	"scheduling(provisioningModel,preemptible),guestAccelerators(acceleratorType,acceleratorCount)," +
	"networkInterfaces(networkIP,accessConfigs(natIP)))"

// machineOf converts a GCE instance.
func machineOf(in *computepb.Instance) provider.Machine {
	zone := lastSegment(in.GetZone())
	m := provider.Machine{
		ID: in.GetName(), Provider: Name, Zone: zone, Region: regionOf(zone),
		InstanceType: lastSegment(in.GetMachineType()), State: stateOf(in.GetStatus()),
		Capacity: catalog.OnDemand, Tags: in.GetLabels(),
		Cluster: in.GetLabels()[provider.TagCluster], Role: spec.Role(in.GetLabels()[provider.TagRole]),
	}
	if in.GetScheduling().GetProvisioningModel() == "SPOT" || in.GetScheduling().GetPreemptible() {
		m.Capacity = catalog.Spot
	}
	if accels := in.GetGuestAccelerators(); len(accels) > 0 && familyOf(m.InstanceType) == "n1" {
		m.InstanceType = TypeName(m.InstanceType, lastSegment(accels[0].GetAcceleratorType()), int(accels[0].GetAcceleratorCount()))
	}
	if t, err := time.Parse(time.RFC3339, in.GetCreationTimestamp()); err == nil {
		m.LaunchedAt = t
	}
	if nics := in.GetNetworkInterfaces(); len(nics) > 0 {
		m.PrivateIP = nics[0].GetNetworkIP()
		if acs := nics[0].GetAccessConfigs(); len(acs) > 0 {
			m.PublicIP = acs[0].GetNatIP()
		}
	}
	return m
}

// stateOf maps GCE's instance statuses to burst's states. TERMINATED is
// GCE's word for a stopped VM, not a deleted one: a deleted VM is not
// listed at all.
func stateOf(status string) provider.State {
	switch status {
	case "PROVISIONING", "STAGING", "PENDING":
		return provider.Pending
	case "RUNNING", "REPAIRING":
		return provider.Running
	case "STOPPING", "SUSPENDING", "PENDING_STOP":
		return provider.Stopping
	case "TERMINATED", "SUSPENDED", "STOPPED":
		return provider.Stopped
	}
	return provider.Pending
}
