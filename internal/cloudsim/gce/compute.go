package gce

import (
	"fmt"
	"hash/fnv"
	"net/http"
	"sort"
	"strings"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"

	"github.com/burstdev/burst/internal/cloudsim"
)

// image is a public image family the simulator knows.
type image struct {
	project, family, name, arch string
}

// images are the public image families launches may boot from.
var images = []image{
	{"ubuntu-os-cloud", "ubuntu-2404-lts-amd64", "ubuntu-2404-noble-amd64-v20261101", "X86_64"},
	{"ubuntu-os-cloud", "ubuntu-2404-lts-arm64", "ubuntu-2404-noble-arm64-v20261101", "ARM64"},
	{"ubuntu-os-cloud", "ubuntu-2204-lts", "ubuntu-2204-jammy-v20261101", "X86_64"},
	{"ubuntu-os-cloud", "ubuntu-2204-lts-arm64", "ubuntu-2204-jammy-arm64-v20261101", "ARM64"},
	{"debian-cloud", "debian-12", "debian-12-bookworm-v20261101", "X86_64"},
	{"debian-cloud", "debian-12-arm64", "debian-12-bookworm-arm64-v20261101", "ARM64"},
	{"ubuntu-os-accelerator-images", "ubuntu-accelerator-2404-amd64-with-nvidia-570", "ubuntu-accelerator-2404-amd64-with-nvidia-570-v20261101", "X86_64"},
	{"deeplearning-platform-release", "common-cu128-ubuntu-2204-nvidia-570", "common-cu128-ubuntu-2204-nvidia-570-v20261101", "X86_64"},
}

// publicImageProjects may be named in image paths by any project.
var publicImageProjects = map[string]bool{}

func init() {
	for _, im := range images {
		publicImageProjects[im.project] = true
	}
}

// findImage resolves "projects/P/global/images/family/F", ".../images/N"
// or a full URL of either.
func findImage(ref string) (image, bool) {
	ref = strings.TrimPrefix(ref, "https://www.googleapis.com/compute/v1/")
	ref = strings.TrimPrefix(ref, "https://compute.googleapis.com/compute/v1/")
	parts := strings.Split(ref, "/")
	if len(parts) < 5 || parts[0] != "projects" || parts[2] != "global" || parts[3] != "images" {
		return image{}, false
	}
	for _, im := range images {
		if im.project != parts[1] {
			continue
		}
		if len(parts) == 6 && parts[4] == "family" && parts[5] == im.family || len(parts) == 5 && parts[4] == im.name {
			return im, true
		}
	}
	return image{}, false
}

func (s *Server) getImageFromFamily(r *http.Request) (proto.Message, *apiError) {
	ref := fmt.Sprintf("projects/%s/global/images/family/%s", r.PathValue("project"), r.PathValue("family"))
	im, ok := findImage(ref)
	if !ok {
		return nil, notFound(ref)
	}
	return &computepb.Image{
		Kind: proto.String("compute#image"), Name: proto.String(im.name), Family: proto.String(im.family),
		Architecture: proto.String(im.arch), Status: proto.String("READY"),
		SelfLink: proto.String("https://www.googleapis.com/compute/v1/projects/" + im.project + "/global/images/" + im.name),
	}, nil
}

func (s *Server) getNetwork(r *http.Request) (proto.Message, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	name := r.PathValue("name")
	if !s.networks[name] {
		return nil, notFound("projects/" + s.opts.Project + "/global/networks/" + name)
	}
	return &computepb.Network{Kind: proto.String("compute#network"), Name: proto.String(name),
		SelfLink: proto.String(s.base() + "/global/networks/" + name), AutoCreateSubnetworks: proto.Bool(true)}, nil
}

// quotas returns the model's quotas of a region ("" for the project's
// global ones) in GCE's form.
func (s *Server) quotas(region string) []*computepb.Quota {
	var out []*computepb.Quota
	for k, lu := range s.m.Quotas() {
		if k.Region == region {
			out = append(out, &computepb.Quota{Metric: proto.String(k.Name), Limit: proto.Float64(lu[0]), Usage: proto.Float64(lu[1])})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].GetMetric() < out[j].GetMetric() })
	return out
}

func (s *Server) getProject(r *http.Request) (proto.Message, *apiError) {
	return &computepb.Project{
		Kind: proto.String("compute#project"), Name: proto.String(s.opts.Project), Id: proto.Uint64(idOf(s.opts.Project)),
		Quotas: s.quotas(""), DefaultServiceAccount: proto.String("1234567890-compute@developer.gserviceaccount.com"),
		SelfLink: proto.String(s.base()),
	}, nil
}

func (s *Server) region(name string) *computepb.Region {
	zs := regionZones[name]
	out := &computepb.Region{Kind: proto.String("compute#region"), Name: proto.String(name), Id: proto.Uint64(idOf(name)),
		Status: proto.String("UP"), SelfLink: proto.String(s.regionLink(name)), Quotas: s.quotas(name)}
	for _, z := range zs {
		out.Zones = append(out.Zones, s.zoneLink(z))
	}
	return out
}

func (s *Server) getRegion(r *http.Request) (proto.Message, *apiError) {
	name := r.PathValue("region")
	if _, ok := regionZones[name]; !ok {
		return nil, notFound("projects/" + s.opts.Project + "/regions/" + name)
	}
	return s.region(name), nil
}

func (s *Server) listRegions(r *http.Request) (proto.Message, *apiError) {
	var all []*computepb.Region
	for _, name := range sortedKeys(regionZones) {
		all = append(all, s.region(name))
	}
	items, next, e := page(r, all)
	if e != nil {
		return nil, e
	}
	out := &computepb.RegionList{Kind: proto.String("compute#regionList"), Items: items}
	if next != "" {
		out.NextPageToken = proto.String(next)
	}
	return out, nil
}

type scoped[T any] struct {
	zone string
	item T
}

func (s *Server) aggregatedMachineTypes(r *http.Request) (proto.Message, *apiError) {
	var all []scoped[*computepb.MachineType]
	for _, name := range sortedKeys(machineTypes) {
		t := machineTypes[name]
		if t.attached {
			continue
		}
		for _, region := range t.regionsOf() {
			for _, z := range regionZones[region] {
				mt := &computepb.MachineType{
					Kind: proto.String("compute#machineType"), Name: proto.String(t.name), Id: proto.Uint64(idOf(t.name)),
					GuestCpus: proto.Int32(int32(t.vcpus)), MemoryMb: proto.Int32(int32(t.memGiB * 1024)),
					Zone: proto.String(z), IsSharedCpu: proto.Bool(t.shared > 0),
					Architecture: proto.String(map[string]string{"x86_64": "X86_64", "arm64": "ARM64"}[families[t.family].arch]),
					Description:  proto.String(fmt.Sprintf("%d vCPUs, %g GB RAM", t.vcpus, t.memGiB)),
					SelfLink:     proto.String(s.zoneLink(z) + "/machineTypes/" + t.name),
				}
				if t.accel != "" {
					mt.Accelerators = []*computepb.Accelerators{{GuestAcceleratorType: proto.String(t.accel), GuestAcceleratorCount: proto.Int32(int32(t.accelCount))}}
				}
				all = append(all, scoped[*computepb.MachineType]{z, mt})
			}
		}
	}
	items, next, e := page(r, all)
	if e != nil {
		return nil, e
	}
	out := &computepb.MachineTypeAggregatedList{Kind: proto.String("compute#machineTypeAggregatedList"), Items: map[string]*computepb.MachineTypesScopedList{}}
	for _, it := range items {
		k := "zones/" + it.zone
		if out.Items[k] == nil {
			out.Items[k] = &computepb.MachineTypesScopedList{}
		}
		out.Items[k].MachineTypes = append(out.Items[k].MachineTypes, it.item)
	}
	if next != "" {
		out.NextPageToken = proto.String(next)
	}
	return out, nil
}

func (s *Server) aggregatedAcceleratorTypes(r *http.Request) (proto.Message, *apiError) {
	var all []scoped[*computepb.AcceleratorType]
	for _, name := range sortedKeys(accelerators) {
		a := accelerators[name]
		maxCards := 16
		if a.n1 != nil {
			maxCards = 0
			for c := range a.n1 {
				maxCards = max(maxCards, c)
			}
		}
		for _, region := range a.regions {
			for _, z := range regionZones[region] {
				all = append(all, scoped[*computepb.AcceleratorType]{z, &computepb.AcceleratorType{
					Kind: proto.String("compute#acceleratorType"), Name: proto.String(a.name), Id: proto.Uint64(idOf(a.name)),
					Description: proto.String("NVIDIA " + a.model), MaximumCardsPerInstance: proto.Int32(int32(maxCards)),
					Zone: proto.String(s.zoneLink(z)), SelfLink: proto.String(s.zoneLink(z) + "/acceleratorTypes/" + a.name),
				}})
			}
		}
	}
	items, next, e := page(r, all)
	if e != nil {
		return nil, e
	}
	out := &computepb.AcceleratorTypeAggregatedList{Kind: proto.String("compute#acceleratorTypeAggregatedList"), Items: map[string]*computepb.AcceleratorTypesScopedList{}}
	for _, it := range items {
		k := "zones/" + it.zone
		if out.Items[k] == nil {
			out.Items[k] = &computepb.AcceleratorTypesScopedList{}
		}
		out.Items[k].AcceleratorTypes = append(out.Items[k].AcceleratorTypes, it.item)
	}
	if next != "" {
		out.NextPageToken = proto.String(next)
	}
	return out, nil
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func idOf(s string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(s))
	return h.Sum64() >> 1
}

// SetQuota sets a GCE quota on the model: region "" for a project-wide
// quota such as GPUS_ALL_REGIONS.
func SetQuota(m *cloudsim.Model, region, metric string, limit float64) {
	m.SetQuota(cloudsim.QuotaKey{Region: region, Name: metric}, limit)
}
