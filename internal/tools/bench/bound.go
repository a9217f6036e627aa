package main

import (
	"fmt"
	"math"
	"time"

	simec2 "github.com/burstdev/burst/internal/cloudsim/ec2"
)

// Bound is the least wall time any client needs for a phase: the largest
// of three lower bounds, each of which holds on its own.
//
//   - Throttle: the documented token buckets, full at the start of the
//     phase. For each bucket, the tokens the job needs beyond the bucket's
//     burst, divided by its refill rate; the largest of these.
//   - Latency: the per-call latency times the calls on the shortest chain
//     of calls that depend on each other's answers (Chain). Calls that can
//     run beside the chain are left out, however many there are.
//   - Paced: the same chain, where a call that spends a bucket's tokens
//     (a launch, a terminate) cannot start before the bucket holds them,
//     after what the chain's earlier calls spent. The other two bounds
//     each ignore the other's cause: at N = 1000 on EC2 the head's launch
//     spends one of the 1000 tokens, so the workers' launch, however late
//     in the chain, waits for the refill, and the chain cannot end before
//     that wait and the calls after it. Tokens are taken as early as they
//     could be, when a call starts, so the bound never counts a wait a
//     client could avoid.
//
// The bound counts only what the job needs whoever does it (one head, then
// N workers told the head's address; machines running; afterwards nothing
// left), not the calls burst happens to make.
type Bound struct {
	Throttle   float64  `json:"throttle_s"`
	ThrottleBy string   `json:"throttle_by"`
	Chain      []string `json:"chain"`
	Latency    float64  `json:"latency_s"`
	Paced      float64  `json:"paced_s"`
}

// Seconds is the bound.
func (b Bound) Seconds() float64 { return math.Max(b.Paced, math.Max(b.Throttle, b.Latency)) }

// bucket is a documented token bucket: Size tokens, refilled at Rate a
// second.
type bucket struct {
	Name string
	Size float64
	Rate float64
}

// need is the time a bucket needs to admit n tokens, starting full.
func (b bucket) need(n float64) float64 { return math.Max(0, n-b.Size) / b.Rate }

// paced is the time a chain of calls takes at the given latency a call
// when the calls named in spend take that many of the bucket's tokens as
// they start, each waiting until the bucket, full at time 0 and refilled
// continuously up to its size, holds them. A call needing more than the
// bucket's size takes what it holds and the rest as it refills.
func (b bucket) paced(chain []string, spend map[string]float64, latency float64) float64 {
	t, level, at := 0.0, b.Size, 0.0
	for _, call := range chain {
		if k := spend[call]; k > 0 {
			level, at = math.Min(b.Size, level+b.Rate*(t-at)), t
			if level < k {
				t += (k - level) / b.Rate
				level, at = k, t
			}
			level -= k
		}
		t += latency
	}
	return t
}

// The documented buckets that bind a scale cycle (DESIGN.md, "Cloud facts
// that set the limits"); the simulators install the same figures
// (simec2.SetDocumentedThrottles, gce.SetRateLimits,
// arm.Server.SetARMThrottles).
var (
	ec2Launch    = bucket{"EC2 instances launched", simec2.DocumentedThrottles[simec2.BucketLaunchResource][0], simec2.DocumentedThrottles[simec2.BucketLaunchResource][1]}
	ec2Terminate = bucket{"EC2 instances terminated", simec2.DocumentedThrottles[simec2.BucketTerminateResource][0], simec2.DocumentedThrottles[simec2.BucketTerminateResource][1]}
	gceRequests  = bucket{"GCE requests per minute", 1500, 1500.0 / 60}
	armVMCreate  = bucket{"Compute RP VM creations", 1500, 500.0 / 60}
)

// The shortest chains of dependent calls, per cloud and phase. Each call
// needs something only the one before it returns.
var chains = map[string]map[string][]string{
	"aws": {
		// CreateFleet needs a launch template, which names the cluster's
		// security group, which needs the VPC's ID; CreateFleet answers
		// instance IDs only, so the head's private address (which the
		// workers' user data carries) takes a DescribeInstances. Images,
		// subnets, the key pair and the ingress rule run beside the chain.
		"up": {"DescribeVpcs", "CreateSecurityGroup", "CreateLaunchTemplate (head)", "CreateFleet (head)",
			"DescribeInstances (head address)", "CreateLaunchTemplate (workers)", "CreateFleet (workers)", "DescribeInstances (running)"},
		// The security group can go only once no instance holds it. The
		// launch templates and the key pair go beside the chain.
		"down": {"DescribeInstances (by tag)", "TerminateInstances", "DescribeInstances (terminated)", "DeleteSecurityGroup"},
	},
	"gcp": {
		// bulkInsert takes up to 5000 machines of one type a call; a
		// listing shows the head's address once its operation is done. The
		// firewall rules and the image lookup run beside the chain.
		"up": {"regionInstances.bulkInsert (head)", "instances.aggregatedList (head address)",
			"regionInstances.bulkInsert (workers)", "instances.aggregatedList (running)"},
		// GCE has no bulk delete for machines made by bulkInsert: one
		// instances.delete per machine (sent in batch requests of up to
		// 1000, each delete still charged as a request), all at once at
		// best. Firewall rules go beside the chain.
		"down": {"instances.aggregatedList (by label)", "instances.delete (each machine, batched)", "instances.aggregatedList (gone)"},
	},
	"azure": {
		// The head VM joins the virtual network's subnet, its NIC names
		// the NSG (a subnet need not: the NSG and the network can be made
		// side by side); its NIC holds the address the workers' scale set
		// is told. NSG, identity, role assignment and SKU reads run
		// beside the chain.
		"up": {"resourceGroups PUT", "virtualNetworks PUT (NSG beside it)", "virtualMachines PUT (head)",
			"networkInterfaces list (head address)", "virtualMachineScaleSets PUT (workers)", "virtualMachines list (running)"},
		// Deleting the cluster's resource group takes every VM, NIC, disk
		// and network with it; its operation says when it is done. The
		// group's name is burst's own, so nothing needs finding first.
		"down": {"resourceGroups DELETE", "operation poll (done)"},
	},
}

// spends is the tokens each call of a phase's chain takes from the
// phase's bucket (lowerBound's), for one head and n workers.
func spends(cloud, phase string, n int) map[string]float64 {
	machines, workers := float64(n+1), float64(n)
	switch cloud + "/" + phase {
	case "aws/up":
		return map[string]float64{"CreateFleet (head)": 1, "CreateFleet (workers)": workers}
	case "aws/down":
		return map[string]float64{"TerminateInstances": machines}
	case "gcp/down":
		return map[string]float64{"instances.aggregatedList (by label)": 1, "instances.delete (each machine, batched)": machines, "instances.aggregatedList (gone)": 1}
	case "azure/up":
		return map[string]float64{"virtualMachines PUT (head)": 1, "virtualMachineScaleSets PUT (workers)": workers}
	}
	return nil
}

// lowerBound is the bound of a cloud's phase for a cluster of one head and
// n workers, at the given per-call latency.
func lowerBound(cloud, phase string, n int, latency time.Duration) Bound {
	chain := chains[cloud][phase]
	b := Bound{Chain: chain, Latency: float64(len(chain)) * latency.Seconds(), ThrottleBy: "none binds"}
	var bk bucket
	var tokens float64
	machines := float64(n + 1)
	switch cloud + "/" + phase {
	case "aws/up":
		bk, tokens = ec2Launch, machines
	case "aws/down":
		bk, tokens = ec2Terminate, machines
	case "gcp/down":
		// One delete per machine, and the chain's two listings.
		bk, tokens = gceRequests, machines+2
	case "azure/up":
		bk, tokens = armVMCreate, machines
	default:
		// gcp/up: two bulkInserts and a few reads, far inside 1500 a
		// minute. azure/down: one delete. Request buckets of every cloud
		// hold the chain's calls.
		b.Paced = b.Latency
		return b
	}
	spend := spends(cloud, phase, n)
	b.Paced = bk.paced(chain, spend, latency.Seconds())
	b.Throttle = bk.need(tokens)
	if b.Throttle > 0 {
		b.ThrottleBy = fmt.Sprintf("%s: %.0f tokens, %.0f beyond the burst of %.0f, at %.3g/s", bk.Name, tokens, tokens-bk.Size, bk.Size, bk.Rate)
	} else {
		b.ThrottleBy = fmt.Sprintf("%s: %.0f tokens within the burst of %.0f", bk.Name, tokens, bk.Size)
	}
	return b
}
