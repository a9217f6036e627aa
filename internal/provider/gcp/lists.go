package gcp

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/googleapis/gax-go/v2/apierror"
	"google.golang.org/api/googleapi"

	"github.com/burstdev/burst/internal/catalog"
	"github.com/burstdev/burst/internal/provider"
	"github.com/burstdev/burst/pkg/spec"
)

// Instance listings (instances.aggregatedList) are
// read here rather than through the REST client's iterators: the client
// decodes a page with protojson into computepb messages, field by field
// through protobuf reflection. A 500-instance page under burst's field
// mask costs it about 1.7 times the CPU and 3 times the allocation of
// encoding/json into the few fields burst reads (docs/design/gcp.md,
// "Listing", has the figures), and a 1000-machine `up` ends with a dozen
// pages side by side.
//
// The requests are the client's own: the same paths and query (filter,
// maxResults, pageToken; url.Values sorts them as the client's do), the
// same X-Goog-FieldMask and x-goog-api-version headers, through the same
// authenticated HTTP client (the one the batch deletes use), with the
// client's per-call timeout. A failed page is the same error: the
// *googleapi.Error of googleapi.CheckResponseWithBody, as the client's
// executeHTTPRequest makes it, wrapped in an *apierror.APIError as
// gax.Invoke wraps it; so classify and do treat it alike (403 quota or
// permission, 404, 429 and 5xx retried with the same backoff).
// TestListsDecodeAsSDK checks both paths answer the same.

// apiVersion is the x-goog-api-version header the compute v1.75.0 REST
// clients send.
const apiVersion = "2026-09-01"

// listTimeout is the client's own timeout for an instances list call
// (defaultInstancesRESTCallOptions: 600 s).
const listTimeout = 600 * time.Second

// leanInstance is an instance as listed under instanceMask: the fields
// burst reads, named as GCE's JSON names them.
type leanInstance struct {
	Name              string            `json:"name"`
	Zone              string            `json:"zone"`
	MachineType       string            `json:"machineType"`
	Status            string            `json:"status"`
	Labels            map[string]string `json:"labels"`
	CreationTimestamp string            `json:"creationTimestamp"`
	Scheduling        struct {
		ProvisioningModel string `json:"provisioningModel"`
		Preemptible       bool   `json:"preemptible"`
	} `json:"scheduling"`
	GuestAccelerators []struct {
		AcceleratorType  string `json:"acceleratorType"`
		AcceleratorCount int32  `json:"acceleratorCount"`
	} `json:"guestAccelerators"`
	NetworkInterfaces []struct {
		NetworkIP     string `json:"networkIP"`
		AccessConfigs []struct {
			NatIP string `json:"natIP"`
		} `json:"accessConfigs"`
	} `json:"networkInterfaces"`
}

// leanAggregated is an instances.aggregatedList page: instances by scope
// ("zones/us-central1-a").
type leanAggregated struct {
	Items map[string]struct {
		Instances []leanInstance `json:"instances"`
	} `json:"items"`
	NextPageToken string `json:"nextPageToken"`
}

// machine converts a listed instance to a provider.Machine (the test's
// machineOf does the same from a computepb.Instance).
func (in *leanInstance) machine() provider.Machine {
	zone := lastSegment(in.Zone)
	m := provider.Machine{
		ID: in.Name, Provider: Name, Zone: zone, Region: regionOf(zone),
		InstanceType: lastSegment(in.MachineType), State: stateOf(in.Status),
		Capacity: catalog.OnDemand, Tags: in.Labels,
		Cluster: in.Labels[provider.TagCluster], Role: spec.Role(in.Labels[provider.TagRole]),
	}
	if in.Scheduling.ProvisioningModel == "SPOT" || in.Scheduling.Preemptible {
		m.Capacity = catalog.Spot
	}
	if accels := in.GuestAccelerators; len(accels) > 0 && familyOf(m.InstanceType) == "n1" {
		m.InstanceType = TypeName(m.InstanceType, lastSegment(accels[0].AcceleratorType), int(accels[0].AcceleratorCount))
	}
	if t, err := time.Parse(time.RFC3339, in.CreationTimestamp); err == nil {
		m.LaunchedAt = t
	}
	if nics := in.NetworkInterfaces; len(nics) > 0 {
		m.PrivateIP = nics[0].NetworkIP
		if acs := nics[0].AccessConfigs; len(acs) > 0 {
			m.PublicIP = acs[0].NatIP
		}
	}
	return m
}

// getList is one list call of a page of up to max items (pageSize when
// 0): GET path?query with the field mask, the body decoded into out.
// Errors are the REST client's: *googleapi.Error for an HTTP error,
// *url.Error for a broken connection.
func (p *Provider) getList(ctx context.Context, path, filter, token, mask string, max int, out any) error {
	if max <= 0 {
		max = pageSize
	}
	ctx, cancel := context.WithTimeout(ctx, listTimeout)
	defer cancel()
	q := url.Values{}
	q.Set("filter", filter)
	q.Set("maxResults", strconv.Itoa(max))
	if token != "" {
		q.Set("pageToken", token)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.apiBase+path+"?"+q.Encode(), nil)
	if err != nil {
		return err
	}
	req.Header.Set("X-Goog-FieldMask", mask)
	req.Header.Set("X-Goog-Api-Version", apiVersion)
	resp, err := p.batchHTTP.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if err := googleapi.CheckResponseWithBody(resp, b); err != nil {
		// gax.Invoke hands the REST client's callers the same error
		// wrapped as an *apierror.APIError (which still unwraps to the
		// *googleapi.Error classify reads).
		if ae, ok := apierror.FromError(err); ok {
			return ae
		}
		return err
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("decoding %s: %w", path, err)
	}
	return nil
}

// aggregatedListPath is the REST client's path.
func (p *Provider) aggregatedListPath() string {
	return fmt.Sprintf("/compute/v1/projects/%s/aggregated/instances", url.PathEscape(p.project))
}
