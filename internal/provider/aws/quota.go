package aws

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/servicequotas"

	"github.com/burstdev/burst/internal/catalog"
	"github.com/burstdev/burst/internal/plan"
	"github.com/burstdev/burst/internal/provider"
)

// EC2's vCPU quotas (Service Quotas codes): one per capacity type and
// instance-family class, per region.
var vcpuQuotas = []struct {
	code, name, prefixes string
	spot                 bool
}{
	{"L-DB2E81BA", "Running On-Demand G and VT instances", "g vt", false},
	{"L-417A185B", "Running On-Demand P instances", "p", false},
	{"L-1949446A", "Running On-Demand DL instances", "dl", false},
	{"L-2C3B7624", "Running On-Demand Inf instances", "inf", false},
	{"L-7295265B", "Running On-Demand X instances", "x", false},
	{"L-74FC7D96", "Running On-Demand F instances", "f", false},
	{"L-6E869C2A", "Running On-Demand Trn instances", "trn", false},
	{"L-43DA4232", "Running On-Demand High Memory instances", "u-", false},
	{"L-1216C47A", "Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances", "", false},
	{"L-3819A6DF", "All G and VT Spot Instance Requests", "g vt", true},
	{"L-7212CCBC", "All P Spot Instance Requests", "p", true},
	{"L-85EED4F7", "All DL Spot Instance Requests", "dl", true},
	{"L-B5D1601B", "All Inf Spot Instance Requests", "inf", true},
	{"L-E3A00192", "All X Spot Instance Requests", "x", true},
	{"L-88CF9481", "All F Spot Instance Requests", "f", true},
	{"L-6B0D517C", "All Trn Spot Instance Requests", "trn", true},
	{"L-34B43A08", "All Standard (A, C, D, H, I, M, R, T, Z) Spot Instance Requests", "", true},
}

// quotaOf returns the vCPU quota an instance type counts against.
func quotaOf(instanceType string, capacity catalog.Capacity) (code, name string) {
	spot := capacity == catalog.Spot
	fam := strings.ToLower(strings.SplitN(instanceType, ".", 2)[0])
	for _, q := range vcpuQuotas {
		if q.spot != spot || q.prefixes == "" {
			continue
		}
		for _, pre := range strings.Fields(q.prefixes) {
			// A class prefix followed by a digit: "p5", "g6e", "inf2", but
			// not "r7g" for "r".
			if strings.HasPrefix(fam, pre) && len(fam) > len(pre) && (fam[len(pre)] >= '0' && fam[len(pre)] <= '9' || strings.HasSuffix(pre, "-")) {
				return q.code, q.name
			}
		}
	}
	for _, q := range vcpuQuotas {
		if q.spot == spot && q.prefixes == "" {
			return q.code, q.name
		}
	}
	return "", ""
}

type quotaKey struct{ region, code string }

// preflightCalls bounds the reads Preflight makes at once (Service Quotas
// allows about 10 GetServiceQuota calls a second).
const preflightCalls = 8

// Preflight implements provider.Preflighter. Before anything is created it
// checks that every image the plan needs exists, and that the account's
// vCPU quotas (Service Quotas, minus the vCPUs of running and pending
// instances) leave room for the plan: each group must fit, summed over the
// regions and quota classes of its offerings, counting the head and the
// workers against the same quotas. A group that cannot fit is refused with
// ErrQuota (exit 3) naming the quota, its limit, its use and the vCPUs
// needed. A quota burst cannot read (no servicequotas:GetServiceQuota
// permission) is not checked.
func (p *Provider) Preflight(ctx context.Context, req provider.PreflightRequest) error {
	type imgNeed struct {
		region, arch string
		gpu          bool
	}
	// Everything the check reads (images, quotas, the vCPUs in use) is
	// read side by side first; a failure is reported as the same calls
	// made one after another would report it.
	var images []imgNeed
	seen := map[imgNeed]bool{}
	var keys []quotaKey
	known := map[quotaKey]bool{}
	var regions []string
	for _, g := range req.Groups {
		for _, o := range g.Offerings {
			if k := (imgNeed{o.Region, archOf(o), o.GPUs > 0}); !seen[k] {
				seen[k] = true
				images = append(images, k)
			}
			if g.Count <= 0 {
				continue
			}
			code, _ := quotaOf(o.InstanceType, o.Capacity)
			if k := (quotaKey{o.Region, code}); !known[k] {
				known[k] = true
				keys = append(keys, k)
				if !slices.Contains(regions, o.Region) {
					regions = append(regions, o.Region)
				}
			}
		}
	}
	type limit struct {
		value float64
		known bool
		err   error
	}
	// The network Prepare will need (in every region of the plan, as
	// Prepare's) is read meanwhile, not waited for.
	var ahead []string
	for _, k := range images {
		if req.Cluster != "" && !slices.Contains(ahead, k.region) {
			ahead = append(ahead, k.region)
			p.startLookahead(ctx, req.Cluster, k.region)
		}
	}
	limitOf := make([]limit, len(keys))
	usageOf := make([]map[string]float64, len(regions))
	usageErr := make([]error, len(regions))
	calls := len(images) + len(keys) + len(regions)
	err := provider.Parallel(calls, preflightCalls, func(i int) error {
		switch {
		case i < len(images):
			k := images[i]
			_, err := p.image(ctx, k.region, k.arch, k.gpu)
			return err
		case i < len(images)+len(keys):
			j := i - len(images)
			l := &limitOf[j]
			l.value, l.known, l.err = p.quotaLimit(ctx, keys[j])
		default:
			j := i - len(images) - len(keys)
			usageOf[j], usageErr[j] = p.quotaUsage(ctx, regions[j])
		}
		return nil
	})
	if err != nil {
		return err
	}

	free := map[quotaKey]float64{}
	limits := map[quotaKey]float64{}
	used := map[quotaKey]float64{}
	load := func(k quotaKey) error {
		if _, ok := free[k]; ok {
			return nil
		}
		l := limitOf[slices.Index(keys, k)]
		if l.err != nil {
			return l.err
		}
		if !l.known {
			free[k] = math.Inf(1)
			return nil
		}
		r := slices.Index(regions, k.region)
		if usageErr[r] != nil {
			return usageErr[r]
		}
		u := usageOf[r][k.code]
		limits[k], used[k], free[k] = l.value, u, l.value-u
		return nil
	}
	for i, g := range req.Groups {
		if g.Count <= 0 || len(g.Offerings) == 0 {
			continue
		}
		// The smallest vCPU count per quota pool bounds how many machines
		// it can still take.
		minCPU := map[quotaKey]int{}
		var order []quotaKey
		for _, o := range g.Offerings {
			code, _ := quotaOf(o.InstanceType, o.Capacity)
			k := quotaKey{o.Region, code}
			if err := load(k); err != nil {
				return err
			}
			if _, ok := minCPU[k]; !ok {
				order = append(order, k)
				minCPU[k] = o.VCPUs
			}
			minCPU[k] = min(minCPU[k], max(o.VCPUs, 1))
		}
		fits := 0.0
		for _, k := range order {
			fits += math.Floor(math.Max(0, free[k]) / float64(minCPU[k]))
		}
		if fits >= float64(g.Count) {
			// Charge the group to its preferred pools, in plan order.
			left := g.Count
			for _, k := range order {
				n := min(float64(left), math.Floor(math.Max(0, free[k])/float64(minCPU[k])))
				free[k] -= n * float64(minCPU[k])
				left -= int(n)
			}
			continue
		}
		// A spot leg that does not fit may still be served by its
		// on-demand fallback; the fallback is checked on its own.
		if g.Capacity == catalog.Spot && i+1 < len(req.Groups) && req.Groups[i+1].Fallback {
			continue
		}
		return p.quotaError(g, order, minCPU, limits, used, free)
	}
	return nil
}

func (p *Provider) quotaError(g plan.Group, order []quotaKey, minCPU map[quotaKey]int, limits, used, free map[quotaKey]float64) error {
	k := order[0]
	_, name := quotaOf(g.Offerings[0].InstanceType, g.Offerings[0].Capacity)
	need := g.Count * minCPU[k]
	var others []string
	for _, o := range order[1:] {
		others = append(others, fmt.Sprintf("%s in %s: %g of %g vCPUs free", o.code, o.region, math.Max(0, free[o]), limits[o]))
	}
	msg := fmt.Sprintf("%d %s %s machines need %d vCPUs of quota %s (%q) in %s, which is %g vCPUs with %g in use",
		g.Count, g.Capacity, g.Role, need, k.code, name, k.region, limits[k], used[k])
	if len(others) > 0 {
		msg += "; other quotas of the plan: " + strings.Join(others, "; ")
	}
	msg += fmt.Sprintf(". Ask for more with: aws service-quotas request-service-quota-increase --service-code ec2 --quota-code %s --region %s --desired-value %d",
		k.code, k.region, int(used[k])+need)
	return &provider.Error{Kind: provider.ErrQuota, Scope: provider.ScopeRegion, Op: "Preflight", Code: "VcpuLimitExceeded", Msg: msg}
}

// quotaLimit reads a quota's applied value; known is false when burst may
// not read it.
func (p *Provider) quotaLimit(ctx context.Context, k quotaKey) (float64, bool, error) {
	c, err := p.quotaClient(ctx, k.region)
	if err != nil {
		return 0, false, err
	}
	out, err := c.GetServiceQuota(ctx, &servicequotas.GetServiceQuotaInput{ServiceCode: sdkaws.String("ec2"), QuotaCode: sdkaws.String(k.code)})
	if err != nil {
		switch code := apiCode(err); code {
		case "AccessDeniedException", "NoSuchResourceException", "ResourceNotFoundException":
			return 0, false, nil
		}
		return 0, false, classify("GetServiceQuota", err)
	}
	if out.Quota == nil || out.Quota.Value == nil {
		return 0, false, nil
	}
	return *out.Quota.Value, true, nil
}

// quotaUsage sums the vCPUs of the region's pending and running instances
// per quota.
func (p *Provider) quotaUsage(ctx context.Context, region string) (map[string]float64, error) {
	c, err := p.ec2Client(ctx, region)
	if err != nil {
		return nil, err
	}
	total := map[string]float64{}
	pg := ec2.NewDescribeInstancesPaginator(c, &ec2.DescribeInstancesInput{MaxResults: sdkaws.Int32(describePageSize), Filters: []types.Filter{
		{Name: sdkaws.String("instance-state-name"), Values: []string{"pending", "running"}},
	}})
	for pg.HasMorePages() {
		out, err := pg.NextPage(ctx)
		if err != nil {
			return nil, classify("DescribeInstances", err)
		}
		for _, r := range out.Reservations {
			for _, in := range r.Instances {
				capa := catalog.OnDemand
				if in.InstanceLifecycle == types.InstanceLifecycleTypeSpot {
					capa = catalog.Spot
				}
				code, _ := quotaOf(string(in.InstanceType), capa)
				if in.CpuOptions != nil {
					total[code] += float64(sdkaws.ToInt32(in.CpuOptions.CoreCount) * max(1, sdkaws.ToInt32(in.CpuOptions.ThreadsPerCore)))
				}
			}
		}
	}
	return total, nil
}
