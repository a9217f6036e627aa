package provider

import (
	"context"
	"time"
)

// Collector is implemented by providers that create resources besides
// machines (security groups, firewall rules, key pairs, launch templates,
// resource groups, networks). `burst gc` uses it to find what a cluster left
// behind; `down` uses Preparer.Cleanup for one cluster.
type Collector interface {
	// Resources lists every burst-tagged resource that is not a machine, in
	// the filter's regions (Filter.Cluster empty: every cluster). Resources
	// that are global (key pairs in some clouds) are listed once with an
	// empty Region.
	Resources(ctx context.Context, f Filter) ([]Resource, error)
	// DeleteResources deletes resources. It is idempotent: resources that
	// are already gone are not an error. A resource that cannot go yet (a
	// security group still used by a terminating machine) is retried by
	// the provider until ctx ends.
	DeleteResources(ctx context.Context, rs []Resource) error
}

// Resource is a tagged non-machine resource.
type Resource struct {
	Kind      string            `json:"kind"` // the cloud's name: "security-group", "firewall", "resource-group", ...
	ID        string            `json:"id"`
	Name      string            `json:"name,omitempty"`
	Provider  string            `json:"provider"`
	Region    string            `json:"region,omitempty"`
	Cluster   string            `json:"cluster"`
	CreatedAt time.Time         `json:"created_at"`
	Tags      map[string]string `json:"-"`
}
