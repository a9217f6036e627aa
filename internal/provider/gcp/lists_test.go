package gcp

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"github.com/googleapis/gax-go/v2/callctx"
	"google.golang.org/protobuf/proto"

	"github.com/burstdev/burst/internal/catalog"
	"github.com/burstdev/burst/internal/cloudsim"
	"github.com/burstdev/burst/internal/cloudsim/gce"
	"github.com/burstdev/burst/internal/plan"
	"github.com/burstdev/burst/internal/provider"
	"github.com/burstdev/burst/pkg/spec"
)

// The REST client's instance listings, as the provider made them before
// lists.go: the reference the lean path is checked against.

// sdkAggregatedPage is one instances.aggregatedList page through the REST
// client, with the field mask.
func (p *Provider) sdkAggregatedPage(ctx context.Context, filter, token string) ([]provider.Machine, string, error) {
	ctx = callctx.SetHeaders(ctx, "X-Goog-FieldMask", listMask)
	it := p.c.instances.AggregatedList(ctx, &computepb.AggregatedListInstancesRequest{
		Project: p.project, Filter: proto.String(filter),
	}, noRetry)
	if _, _, err := it.InternalFetch(pageSize, token); err != nil {
		return nil, "", err
	}
	resp, _ := it.Response.(*computepb.InstanceAggregatedList)
	var out []provider.Machine
	for _, scoped := range resp.GetItems() {
		for _, in := range scoped.GetInstances() {
			out = append(out, machineOf(in))
		}
	}
	sortMachines(out)
	return out, resp.GetNextPageToken(), nil
}

// leanAggregatedPage is the same page through getList.
func (p *Provider) leanAggregatedPage(ctx context.Context, filter, token string) ([]provider.Machine, string, error) {
	var resp leanAggregated
	if err := p.getList(ctx, p.aggregatedListPath(), filter, token, listMask, 0, &resp); err != nil {
		return nil, "", err
	}
	var out []provider.Machine
	for _, scoped := range resp.Items {
		for i := range scoped.Instances {
			out = append(out, scoped.Instances[i].machine())
		}
	}
	sortMachines(out)
	return out, resp.NextPageToken, nil
}

func sortMachines(ms []provider.Machine) {
	for i := 1; i < len(ms); i++ {
		for j := i; j > 0 && ms[j].ID < ms[j-1].ID; j-- {
			ms[j], ms[j-1] = ms[j-1], ms[j]
		}
	}
}

// TestListsDecodeAsSDK: for the same simulator state, every listing page
// the lean path reads (aggregatedList, each filter form burst sends,
// every page) is the page the REST client and
// machineOf made of it, machine for machine and token for token; and a
// failed page is the same error once classified (kind, scope, code,
// message, whether it is retried).
func TestListsDecodeAsSDK(t *testing.T) {
	e := newSim(t)
	ctx := ctxT(t)
	launch := func(cluster string, n int, role spec.Role, o plan.Offering) {
		t.Helper()
		req := launchRequest(cluster, n, o)
		req.Role = role
		req.Tags[provider.TagRole] = string(role)
		req.Token = cluster + "-" + string(role) + "-0123456789abcdef"
		if res, err := e.p.Launch(ctx, req); err != nil || len(res.Machines) != n {
			t.Fatalf("Launch %s: %d machines, %v", cluster, len(res.Machines), err)
		}
	}
	launch("alpha", 1, spec.RoleHead, offering(t, "e2-standard-4", "us-central1", catalog.OnDemand))
	launch("alpha", 620, spec.RoleWorker, offering(t, "e2-standard-2", "us-central1", catalog.Spot))
	launch("beta", 3, spec.RoleWorker, offering(t, "n1-standard-8+nvidia-tesla-t4x1", "us-central1", catalog.Spot))
	launch("gamma", 2, spec.RoleWorker, offering(t, "e2-standard-2", "europe-west1", catalog.OnDemand))
	alpha := e.machines(t, "alpha")
	if !e.srv.GuestShutdown(alpha[7].ID) {
		t.Fatal("GuestShutdown failed")
	}

	cluster := func(c string) selector { return selector{eq: [][2]string{{provider.TagCluster, c}}} }
	filters := []string{
		cluster("alpha").aip(), cluster("beta").aip(), cluster("gamma").aip(), cluster("none").aip(),
		fmt.Sprintf("labels.%s:*", provider.TagCluster),
		cluster("alpha").part(0, 3), cluster("alpha").part(2, 3),
		fmt.Sprintf(`name = "%s"`, alpha[3].ID),
	}
	pages, seenGPU, seenStopped := 0, false, false
	check := func(what string, sdk, lean func(token string) ([]provider.Machine, string, error)) {
		t.Helper()
		token := ""
		for {
			want, wantNext, err := sdk(token)
			if err != nil {
				t.Fatalf("%s, REST client: %v", what, err)
			}
			got, next, err := lean(token)
			if err != nil {
				t.Fatalf("%s, lean: %v", what, err)
			}
			if !reflect.DeepEqual(got, want) || next != wantNext {
				t.Fatalf("%s page %q: lean gave %d machines, next %q\n%+v\nthe REST client %d, next %q\n%+v",
					what, token, len(got), next, head(got), len(want), wantNext, head(want))
			}
			pages++
			for _, m := range got {
				seenGPU = seenGPU || m.InstanceType == "n1-standard-8+nvidia-tesla-t4x1"
				seenStopped = seenStopped || m.State == provider.Stopped
			}
			if token = next; token == "" {
				return
			}
		}
	}
	for _, f := range filters {
		check("aggregatedList "+f,
			func(tok string) ([]provider.Machine, string, error) { return e.p.sdkAggregatedPage(ctx, f, tok) },
			func(tok string) ([]provider.Machine, string, error) { return e.p.leanAggregatedPage(ctx, f, tok) })
	}
	if pages < 10 || !seenGPU || !seenStopped {
		t.Fatalf("compared %d pages (GPU machine seen %v, stopped machine seen %v): the state does not cover what it should", pages, seenGPU, seenStopped)
	}

	// Errors: each kind a listing can fail with, once through each path.
	for _, k := range []cloudsim.Kind{cloudsim.KindQuota, cloudsim.KindThrottle, cloudsim.KindAuth, cloudsim.KindInvalid, cloudsim.KindNotFound, cloudsim.KindInternal} {
		for _, action := range []string{"compute.instances.aggregatedList"} {
			e.model.Inject(cloudsim.Fault{Service: gce.Service, Action: action, Kind: k, Times: 2})
			_, _, sdkErr := e.p.sdkAggregatedPage(ctx, filters[0], "")
			_, _, leanErr := e.p.leanAggregatedPage(ctx, filters[0], "")
			if sdkErr == nil || leanErr == nil {
				t.Fatalf("%s %s: errors %v, %v; want both to fail", action, k, sdkErr, leanErr)
			}
			want, got := classify(action, sdkErr), classify(action, leanErr)
			if got.Error() != want.Error() || fmt.Sprint(provider.KindOf(got)) != fmt.Sprint(provider.KindOf(want)) || transient(got) != transient(want) {
				t.Errorf("%s %s: lean %v (kind %v, transient %v), REST client %v (kind %v, transient %v)",
					action, k, got, provider.KindOf(got), transient(got), want, provider.KindOf(want), transient(want))
			}
			var gp, wp *provider.Error
			if errors.As(got, &gp) != errors.As(want, &wp) || gp != nil && (gp.Scope != wp.Scope || gp.Code != wp.Code) {
				t.Errorf("%s %s: lean %+v, REST client %+v", action, k, gp, wp)
			}
		}
	}
}

func head(ms []provider.Machine) []provider.Machine { return ms[:min(2, len(ms))] }

// machineOf converts a GCE instance as the REST client decodes it: what
// the provider did before leanInstance.machine, kept as its reference.
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
