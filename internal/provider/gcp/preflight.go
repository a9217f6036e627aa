package gcp

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"cloud.google.com/go/compute/apiv1/computepb"

	"github.com/burstdev/burst/internal/catalog"
	"github.com/burstdev/burst/internal/plan"
	"github.com/burstdev/burst/internal/provider"
)

// Preflight implements provider.Preflighter: before anything is created it
// checks that the boot images exist (images.getFromFamily) and that some
// offering of every group fits the project's quotas for the group's count:
// the regional vCPU quota of the machine's family (CPUS, N2_CPUS, ...; for
// Spot PREEMPTIBLE_CPUS when the project has that quota), the GPU quota
// (NVIDIA_T4_GPUS, PREEMPTIBLE_NVIDIA_T4_GPUS, ...) and IN_USE_ADDRESSES
// from regions.get, and CPUS_ALL_REGIONS and GPUS_ALL_REGIONS from
// projects.get. A group no offering fits fails with ErrQuota naming the
// quota of its first offering; nothing has been created.
//
// The reads it is sure to make go out side by side: every image lookup,
// projects.get, and regions.get for the region of each group's first
// offering. The checks then run in their original order over what came
// back, so the error returned is the one a one-at-a-time preflight would
// return (the first failing image, then the first failing group). The
// regions of later offerings are read only when an earlier offering does
// not fit, as before.
func (p *Provider) Preflight(ctx context.Context, req provider.PreflightRequest) error {
	if err := p.init(ctx); err != nil {
		return err
	}
	images := p.imageFamilies(req.Groups)
	imageErrs := make([]error, len(images))
	q := &quotaView{p: p, regions: map[string]*quotaRead{}}
	var wg sync.WaitGroup
	for i, img := range images {
		wg.Go(func() { imageErrs[i] = p.checkImage(ctx, img) })
	}
	q.prefetch(ctx, &wg, firstRegions(req.Groups))
	// What Prepare reads before it writes, read now: Prepare may run
	// beside the head's launch (Independent), and a missing network or
	// an undetectable address must stop up before anything is created.
	var netErr, addrErr error
	wg.Go(func() { netErr, addrErr = p.readAhead(ctx) })
	// The cluster's firewall rules, read for Prepare and not waited for
	// here (lookahead.go): nothing about them can stop up.
	p.startRulesAhead(ctx, req.Cluster)
	wg.Wait()
	for _, err := range imageErrs {
		if err != nil {
			return err
		}
	}
	if netErr != nil {
		return netErr
	}
	if addrErr != nil {
		return addrErr
	}
	for _, g := range req.Groups {
		if g.Count <= 0 || len(g.Offerings) == 0 {
			continue
		}
		var first error
		fits := false
		for _, o := range g.Offerings {
			if o.Provider != Name {
				continue
			}
			err := q.check(ctx, o, g.Count)
			if err == nil {
				fits = true
				break
			}
			if !errors.Is(provider.KindOf(err), provider.ErrQuota) {
				return err
			}
			if first == nil {
				first = err
			}
		}
		if !fits && first != nil {
			return first
		}
	}
	return nil
}

// firstRegions returns the region of each group's first offering of this
// provider, in group order without repeats: the regions.get calls the
// quota check makes whatever the quotas say.
func firstRegions(groups []plan.Group) []string {
	var out []string
	for _, g := range groups {
		if g.Count <= 0 {
			continue
		}
		for _, o := range g.Offerings {
			if o.Provider != Name {
				continue
			}
			if !slices.Contains(out, o.Region) {
				out = append(out, o.Region)
			}
			break
		}
	}
	return out
}

// imageFamilies returns the image families the groups would boot from,
// sorted; specific images are checked by the launch itself.
func (p *Provider) imageFamilies(groups []plan.Group) []string {
	need := map[string]bool{}
	for _, g := range groups {
		for _, o := range g.Offerings {
			if o.Provider != Name {
				continue
			}
			_, _, accel, _ := ParseTypeName(o.InstanceType)
			switch {
			case o.GPUs > 0 || accel > 0:
				need[p.opts.GPUImage] = true
			case o.Arch == "arm64":
				need[p.opts.ARMImage] = true
			default:
				need[p.opts.Image] = true
			}
		}
	}
	var out []string
	for _, img := range sortedKeys(need) {
		if _, _, ok := imageFamily(img); ok {
			out = append(out, img)
		}
	}
	return out
}

// checkImage fetches an image family; a missing one is ErrInvalid naming
// the configuration keys.
func (p *Provider) checkImage(ctx context.Context, img string) error {
	project, family, _ := imageFamily(img)
	err := p.do(ctx, "images.getFromFamily", func(ctx context.Context) error {
		_, err := p.c.images.GetFromFamily(ctx, &computepb.GetFromFamilyImageRequest{Project: project, Family: family}, noRetry)
		return err
	})
	if errors.Is(err, provider.ErrNotFound) {
		return &provider.Error{Kind: provider.ErrInvalid, Scope: provider.ScopeProvider, Op: "images.getFromFamily",
			Msg: fmt.Sprintf("image family %s does not exist in project %s; set gcp.image, gcp.arm_image or gcp.gpu_image", family, project), Err: err}
	}
	return err
}

// imageFamily splits "projects/P/global/images/family/F".
func imageFamily(ref string) (project, family string, ok bool) {
	parts := strings.Split(strings.TrimPrefix(ref, "https://www.googleapis.com/compute/v1/"), "/")
	if len(parts) == 6 && parts[0] == "projects" && parts[2] == "global" && parts[3] == "images" && parts[4] == "family" {
		return parts[1], parts[5], true
	}
	return "", "", false
}

// quotaView caches regions.get and projects.get for one preflight, with
// their errors: a read that failed is not repeated, and the check that
// needs it returns its error.
type quotaView struct {
	p       *Provider
	regions map[string]*quotaRead
	global  *quotaRead
}

// quotaRead is one regions.get or projects.get and what it returned.
type quotaRead struct {
	quotas map[string]*computepb.Quota
	err    error
}

func quotaMap(qs []*computepb.Quota) map[string]*computepb.Quota {
	out := map[string]*computepb.Quota{}
	for _, q := range qs {
		out[q.GetMetric()] = q
	}
	return out
}

// prefetch starts projects.get and regions.get for each region on wg.
// The view must not be used until wg is done.
func (v *quotaView) prefetch(ctx context.Context, wg *sync.WaitGroup, regions []string) {
	if len(regions) == 0 {
		return // no group to check: no quota to read
	}
	v.global = &quotaRead{}
	wg.Go(func() { v.global.quotas, v.global.err = v.readProject(ctx) })
	for _, r := range regions {
		if _, ok := v.regions[r]; ok {
			continue
		}
		read := &quotaRead{}
		v.regions[r] = read
		wg.Go(func() { read.quotas, read.err = v.readRegion(ctx, r) })
	}
}

func (v *quotaView) region(ctx context.Context, r string) (map[string]*computepb.Quota, error) {
	read, ok := v.regions[r]
	if !ok {
		read = &quotaRead{}
		read.quotas, read.err = v.readRegion(ctx, r)
		v.regions[r] = read
	}
	return read.quotas, read.err
}

func (v *quotaView) project(ctx context.Context) (map[string]*computepb.Quota, error) {
	if v.global == nil {
		v.global = &quotaRead{}
		v.global.quotas, v.global.err = v.readProject(ctx)
	}
	return v.global.quotas, v.global.err
}

func (v *quotaView) readRegion(ctx context.Context, r string) (map[string]*computepb.Quota, error) {
	reg, err := v.p.getRegion(ctx, r)
	if err != nil {
		return nil, err
	}
	return quotaMap(reg.GetQuotas()), nil
}

func (v *quotaView) readProject(ctx context.Context) (map[string]*computepb.Quota, error) {
	var pr *computepb.Project
	err := v.p.do(ctx, "projects.get", func(ctx context.Context) (err error) {
		pr, err = v.p.c.projects.Get(ctx, &computepb.GetProjectRequest{Project: v.p.project}, noRetry)
		return err
	})
	if err != nil {
		return nil, err
	}
	return quotaMap(pr.GetQuotas()), nil
}

// need is one quota an offering uses.
type need struct {
	metric string
	global bool
	amount float64
}

// needs returns the quotas count machines of an offering take.
func (p *Provider) needs(o plan.Offering, count int, regional map[string]*computepb.Quota) []need {
	machine, accel, naccel, _ := ParseTypeName(o.InstanceType)
	n := float64(count)
	cpus := float64(o.VCPUs) * n
	var out []need
	preemptible := func(metric string) string {
		// Spot VMs use the PREEMPTIBLE_ quota when the project has one
		// (a limit above zero); otherwise they count against the regular
		// quota, as GCE does.
		if q, ok := regional["PREEMPTIBLE_"+metric]; o.Capacity == catalog.Spot && ok && q.GetLimit() > 0 {
			return "PREEMPTIBLE_" + metric
		}
		return metric
	}
	cpuMetric := cpuQuota(familyOf(machine))
	if q, ok := regional["PREEMPTIBLE_CPUS"]; o.Capacity == catalog.Spot && ok && q.GetLimit() > 0 {
		cpuMetric = "PREEMPTIBLE_CPUS"
	}
	out = append(out, need{metric: cpuMetric, amount: cpus}, need{metric: "CPUS_ALL_REGIONS", global: true, amount: cpus})
	if accel == "" && o.GPUs > 0 {
		accel, naccel = acceleratorOfModel(o.GPUModel), o.GPUs
	}
	if accel != "" {
		if g, ok := gpus[accel]; ok {
			out = append(out, need{metric: preemptible(g.quota), amount: float64(naccel) * n})
		}
		out = append(out, need{metric: "GPUS_ALL_REGIONS", global: true, amount: float64(naccel) * n})
	}
	if !p.opts.NoPublicIP {
		out = append(out, need{metric: "IN_USE_ADDRESSES", amount: n})
	}
	return out
}

// cpuQuota is the regional vCPU quota metric of a family.
func cpuQuota(fam string) string {
	switch fam {
	case "n1", "e2", "f1", "g1":
		return "CPUS"
	}
	return strings.ToUpper(fam) + "_CPUS"
}

// check returns an ErrQuota error naming the first quota count machines
// of o would exceed. Quotas the project does not list are not limits.
func (v *quotaView) check(ctx context.Context, o plan.Offering, count int) error {
	regional, err := v.region(ctx, o.Region)
	if err != nil {
		return err
	}
	global, err := v.project(ctx)
	if err != nil {
		return err
	}
	var short []string
	scope := provider.ScopeRegion
	for _, nd := range v.p.needs(o, count, regional) {
		qs, where := regional, "in "+o.Region
		if nd.global {
			qs, where = global, "in all regions"
		}
		q, ok := qs[nd.metric]
		if !ok {
			continue
		}
		if free := q.GetLimit() - q.GetUsage(); nd.amount > free+1e-9 {
			short = append(short, fmt.Sprintf("%s %s: need %g, %g of %g free", nd.metric, where, nd.amount, max(free, 0), q.GetLimit()))
			if nd.global {
				scope = provider.ScopeProvider
			}
		}
	}
	if len(short) == 0 {
		return nil
	}
	metric, _, _ := strings.Cut(short[0], " ")
	return &provider.Error{Kind: provider.ErrQuota, Scope: scope, Op: "preflight", Code: "QUOTA_EXCEEDED:" + metric,
		Msg: fmt.Sprintf("%d x %s (%s) does not fit the project's quota: %s; ask for more at https://console.cloud.google.com/iam-admin/quotas",
			count, o.InstanceType, o.Capacity, strings.Join(short, "; "))}
}
