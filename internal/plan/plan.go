package plan

import (
	"fmt"
	"strings"
	"time"

	"github.com/burstdev/burst/internal/catalog"
	"github.com/burstdev/burst/pkg/spec"
)

// Plan is what burst would launch for a cluster.
type Plan struct {
	Cluster string  `json:"cluster"`
	Groups  []Group `json:"groups"`
	// PricePerHour is the expected total: each group's count times its first
	// offering's price (fallback legs excluded: they launch only on shortfall).
	PricePerHour float64   `json:"price_per_hour"`
	CatalogDate  time.Time `json:"catalog_date"`
	// Site is where the whole cluster runs: the provider and region of every
	// group's offerings.
	Site Site `json:"site"`
	// Alternatives are the runner-up sites, cheapest first, with what the
	// same cluster would cost there.
	Alternatives []Alternative `json:"alternatives,omitempty"`
}

// Alternative is a runner-up site and the cluster's price per hour there.
type Alternative struct {
	Provider     string  `json:"provider"`
	Region       string  `json:"region"`
	PricePerHour float64 `json:"price_per_hour"`
}

// Call is one launch API call a group expects to make with its first
// choices (for display: the provision engine chunks by the provider's own
// limits and fails over on its own).
type Call struct {
	Provider string `json:"provider"`
	Region   string `json:"region"`
	// API names the cloud call: CreateFleet, regionInstances.bulkInsert,
	// virtualMachineScaleSets.createOrUpdate.
	API   string `json:"api"`
	Count int    `json:"count"`
	// InstanceTypes are the types the call may use, in preference order.
	InstanceTypes []string `json:"instance_types"`
}

// Group is a number of machines of one role and capacity type, with the
// offerings to try in order.
type Group struct {
	Role     spec.Role        `json:"role"`
	Count    int              `json:"count"`
	Capacity catalog.Capacity `json:"capacity"`
	// Fallback marks the on-demand leg of spot-with-fallback: it launches
	// only what the spot leg before it could not.
	Fallback bool `json:"fallback,omitempty"`
	// Offerings, cheapest first; the first is the planner's choice.
	Offerings []Offering `json:"offerings"`
	// Calls are the launch calls the group expects (see Call).
	Calls []Call `json:"calls,omitempty"`
}

// Offering is one launchable option: a type in a place at a capacity type.
type Offering struct {
	Provider     string           `json:"provider"`
	Region       string           `json:"region"`
	Zone         string           `json:"zone"`
	InstanceType string           `json:"instance_type"`
	VCPUs        int              `json:"vcpus"`
	MemoryGiB    float64          `json:"memory_gib"`
	GPUs         int              `json:"gpus"`
	GPUModel     string           `json:"gpu_model"`
	Arch         string           `json:"arch"`
	Capacity     catalog.Capacity `json:"capacity"`
	Price        float64          `json:"price_per_hour"`
}

// Key identifies the capacity pool an offering draws from.
func (o Offering) Key() Key {
	return Key{Provider: o.Provider, InstanceType: o.InstanceType, Region: o.Region, Zone: o.Zone, Capacity: o.Capacity}
}

func (o Offering) String() string {
	where := o.Region
	if o.Zone != "" {
		where = o.Zone
	}
	return fmt.Sprintf("%s/%s/%s/%s", o.Provider, where, o.InstanceType, o.Capacity)
}

// Head returns the head group, or nil.
func (p *Plan) Head() *Group {
	for i := range p.Groups {
		if p.Groups[i].Role == spec.RoleHead {
			return &p.Groups[i]
		}
	}
	return nil
}

// Workers returns the worker groups in launch order (a spot leg before its
// fallback).
func (p *Plan) Workers() []Group {
	var out []Group
	for _, g := range p.Groups {
		if g.Role == spec.RoleWorker {
			out = append(out, g)
		}
	}
	return out
}

// Providers lists the providers the plan uses, in first-use order.
func (p *Plan) Providers() []string {
	var out []string
	seen := map[string]bool{}
	for _, g := range p.Groups {
		for _, o := range g.Offerings {
			if !seen[o.Provider] {
				seen[o.Provider] = true
				out = append(out, o.Provider)
			}
		}
	}
	return out
}

// InfeasibleError says no offering satisfies a spec, with the nearest
// alternatives that would. The CLI maps it to exit code 3.
type InfeasibleError struct {
	Role         spec.Role
	Reason       string
	Alternatives []string
}

func (e *InfeasibleError) Error() string {
	role := "workers"
	if e.Role == spec.RoleHead {
		role = "head"
	}
	msg := fmt.Sprintf("no offering fits the %s: %s", role, e.Reason)
	if len(e.Alternatives) > 0 {
		msg += "; nearest: " + strings.Join(e.Alternatives, ", ")
	}
	return msg
}
