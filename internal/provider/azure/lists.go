package azure

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v6"
)

// The lists a listing of the cluster pages through (a group's VMs, a
// scale set's VMs, a group's NICs and public IPs) are read here rather
// than through the SDK's pagers, for two reasons that hold against ARM as
// much as against the simulator:
//
//   - The next page is asked for as soon as a page's nextLink is read,
//     before its items are decoded, so decoding a page overlaps the next
//     page's round trip instead of adding to it. A list is a chain of
//     pages (each nextLink is in the page before), and a 1000-VM cluster's
//     VM and NIC lists are several pages each (ARM's VM lists have been
//     seen paging at 50).
//   - Items decode into the few fields burst reads. The SDK's models
//     decode every field, each level through a map of raw messages that
//     is scanned again a level down; a listed VM or NIC is a few KB of
//     JSON, and that decoding was most of the client's CPU at N = 1000
//     (docs/design/azure.md).
//
// The requests are the SDK's own (same paths, query and api-versions as
// its VirtualMachinesClient, InterfacesClient and PublicIPAddressesClient)
// through the same pipeline (credential, retries, throttle policy), and
// a failed page is the same *azcore.ResponseError.
const (
	computeAPIVersion     = "2024-11-01" // armcompute/v6 VirtualMachinesClient
	networkListAPIVersion = "2024-05-01" // armnetwork/v6 InterfacesClient, PublicIPAddressesClient
)

// pages GETs a list and then each nextLink, and hands each page's body to
// each, in order. The request for a page goes out as soon as the previous
// page's nextLink is read, so at most two pages are held at once.
func (p *Provider) pages(ctx context.Context, path string, query url.Values, each func(body []byte) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type page struct {
		body []byte
		err  error
	}
	fetch := func(u string) <-chan page {
		ch := make(chan page, 1)
		go func() {
			b, err := p.getPage(ctx, u)
			ch <- page{b, err}
		}()
		return ch
	}
	u := runtime.JoinPaths(p.raw.Endpoint(), path)
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	pending := fetch(u)
	for pending != nil {
		pg := <-pending
		pending = nil
		if pg.err != nil {
			return pg.err
		}
		var next struct {
			NextLink string `json:"nextLink"`
		}
		if err := json.Unmarshal(pg.body, &next); err != nil {
			return err
		}
		if next.NextLink != "" {
			pending = fetch(next.NextLink)
		}
		if err := each(pg.body); err != nil {
			if pending != nil {
				cancel()
				<-pending
			}
			return err
		}
	}
	return nil
}

// getPage GETs one page of a list.
func (p *Provider) getPage(ctx context.Context, u string) ([]byte, error) {
	req, err := runtime.NewRequest(ctx, http.MethodGet, u)
	if err != nil {
		return nil, err
	}
	req.Raw().Header["Accept"] = []string{"application/json"}
	resp, err := p.raw.Pipeline().Do(req)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	if !runtime.HasStatusCode(resp, http.StatusOK) {
		return nil, runtime.NewResponseError(resp)
	}
	return runtime.Payload(resp)
}

func (p *Provider) groupPath(rg string) string {
	return "/subscriptions/" + url.PathEscape(p.sub) + "/resourceGroups/" + url.PathEscape(rg)
}

// listedVM is a listed VM, as far as burst reads it.
type listedVM struct {
	ID       *string            `json:"id"`
	Name     *string            `json:"name"`
	Location *string            `json:"location"`
	Tags     map[string]*string `json:"tags"`
	Zones    []*string          `json:"zones"`
	Props    *struct {
		HardwareProfile *struct {
			VMSize *string `json:"vmSize"`
		} `json:"hardwareProfile"`
		Priority               *string `json:"priority"`
		TimeCreated            *string `json:"timeCreated"`
		ProvisioningState      *string `json:"provisioningState"`
		VirtualMachineScaleSet *struct {
			ID *string `json:"id"`
		} `json:"virtualMachineScaleSet"`
		InstanceView *struct {
			Statuses []*struct {
				Code *string `json:"code"`
			} `json:"statuses"`
		} `json:"instanceView"`
	} `json:"properties"`
}

// vm is the slim VM (as slimVM makes) a listed VM stands for.
func (l *listedVM) vm() *armcompute.VirtualMachine {
	vm := &armcompute.VirtualMachine{ID: l.ID, Name: l.Name, Location: l.Location, Tags: l.Tags, Zones: l.Zones}
	pr := l.Props
	if pr == nil {
		return vm
	}
	vm.Properties = &armcompute.VirtualMachineProperties{ProvisioningState: pr.ProvisioningState}
	if h := pr.HardwareProfile; h != nil {
		vm.Properties.HardwareProfile = &armcompute.HardwareProfile{}
		if h.VMSize != nil {
			vm.Properties.HardwareProfile.VMSize = (*armcompute.VirtualMachineSizeTypes)(h.VMSize)
		}
	}
	if pr.Priority != nil {
		vm.Properties.Priority = (*armcompute.VirtualMachinePriorityTypes)(pr.Priority)
	}
	if pr.TimeCreated != nil {
		if t, ok := parseARMTime(*pr.TimeCreated); ok {
			vm.Properties.TimeCreated = &t
		}
	}
	if s := pr.VirtualMachineScaleSet; s != nil {
		vm.Properties.VirtualMachineScaleSet = &armcompute.SubResource{ID: s.ID}
	}
	if iv := pr.InstanceView; iv != nil {
		v := &armcompute.VirtualMachineInstanceView{}
		for _, st := range iv.Statuses {
			if st != nil {
				v.Statuses = append(v.Statuses, &armcompute.InstanceViewStatus{Code: st.Code})
			}
		}
		vm.Properties.InstanceView = v
	}
	return vm
}

// parseARMTime reads a date-time as the SDK does: RFC 3339, or without a
// zone (UTC).
func parseARMTime(s string) (time.Time, bool) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02T15:04:05.999999999Z07:00"} {
		if t, err := time.Parse(layout, strings.ToUpper(s)); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// pageVMs lists a group's VMs (filter and expand as the SDK's
// VirtualMachinesClientListOptions: a scale set filter, instanceView),
// slimmed; onPage, when given, sees each page's as it comes.
func (p *Provider) pageVMs(ctx context.Context, rg string, opts *armcompute.VirtualMachinesClientListOptions, onPage func([]*armcompute.VirtualMachine)) ([]*armcompute.VirtualMachine, error) {
	q := url.Values{}
	if opts != nil && opts.Expand != nil {
		q.Set("$expand", string(*opts.Expand))
	}
	if opts != nil && opts.Filter != nil {
		q.Set("$filter", *opts.Filter)
	}
	q.Set("api-version", computeAPIVersion)
	var out []*armcompute.VirtualMachine
	err := p.pages(ctx, p.groupPath(rg)+"/providers/Microsoft.Compute/virtualMachines", q, func(body []byte) error {
		var page struct {
			Value []*listedVM `json:"value"`
		}
		if err := json.Unmarshal(body, &page); err != nil {
			return err
		}
		n := len(out)
		for _, l := range page.Value {
			if l != nil {
				out = append(out, l.vm())
			}
		}
		if onPage != nil {
			onPage(out[n:])
		}
		return nil
	})
	if err != nil {
		return nil, classify("VirtualMachines.List", err)
	}
	return out, nil
}

// nicAddr is a NIC boiled down: its VM, first private address and public
// address IDs.
type nicAddr struct {
	vm, private string
	publicIDs   []string
}

// listNICs lists a group's NICs, boiled down page by page.
func (p *Provider) listNICs(ctx context.Context, rg string) ([]nicAddr, error) {
	var out []nicAddr
	err := p.pages(ctx, p.groupPath(rg)+"/providers/Microsoft.Network/networkInterfaces", url.Values{"api-version": {networkListAPIVersion}}, func(body []byte) error {
		var page struct {
			Value []*struct {
				Props *struct {
					VirtualMachine *struct {
						ID *string `json:"id"`
					} `json:"virtualMachine"`
					IPConfigurations []*struct {
						Props *struct {
							PrivateIPAddress *string `json:"privateIPAddress"`
							PublicIPAddress  *struct {
								ID *string `json:"id"`
							} `json:"publicIPAddress"`
						} `json:"properties"`
					} `json:"ipConfigurations"`
				} `json:"properties"`
			} `json:"value"`
		}
		if err := json.Unmarshal(body, &page); err != nil {
			return err
		}
		for _, nic := range page.Value {
			if nic == nil || nic.Props == nil || nic.Props.VirtualMachine == nil || nic.Props.VirtualMachine.ID == nil {
				continue
			}
			a := nicAddr{vm: strings.ToLower(*nic.Props.VirtualMachine.ID)}
			for _, ip := range nic.Props.IPConfigurations {
				if ip == nil || ip.Props == nil {
					continue
				}
				if a.private == "" && ip.Props.PrivateIPAddress != nil {
					a.private = *ip.Props.PrivateIPAddress
				}
				if pub := ip.Props.PublicIPAddress; pub != nil && pub.ID != nil {
					a.publicIDs = append(a.publicIDs, strings.ToLower(*pub.ID))
				}
			}
			out = append(out, a)
		}
		return nil
	})
	if err != nil {
		return nil, classify("NetworkInterfaces.List", err)
	}
	return out, nil
}

// listPublicIPs maps a group's public IP IDs (lower case) to their
// addresses.
func (p *Provider) listPublicIPs(ctx context.Context, rg string) (map[string]string, error) {
	out := map[string]string{}
	err := p.pages(ctx, p.groupPath(rg)+"/providers/Microsoft.Network/publicIPAddresses", url.Values{"api-version": {networkListAPIVersion}}, func(body []byte) error {
		var page struct {
			Value []*struct {
				ID    *string `json:"id"`
				Props *struct {
					IPAddress *string `json:"ipAddress"`
				} `json:"properties"`
			} `json:"value"`
		}
		if err := json.Unmarshal(body, &page); err != nil {
			return err
		}
		for _, ip := range page.Value {
			if ip != nil && ip.ID != nil && ip.Props != nil && ip.Props.IPAddress != nil {
				out[strings.ToLower(*ip.ID)] = *ip.Props.IPAddress
			}
		}
		return nil
	})
	if err != nil {
		return nil, classify("PublicIPAddresses.List", err)
	}
	return out, nil
}
