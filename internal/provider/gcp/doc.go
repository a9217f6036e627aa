// Package gcp is burst's Google Compute Engine provider, over the REST
// clients of cloud.google.com/go/compute.
//
// Launch is one regionInstances.bulkInsert per machine type and region
// tried: count and minCount (1, or the count when all-or-nothing is asked),
// a namePattern from the cluster and the launch token, a locationPolicy
// over the region's zones (or those the offerings name), labels for
// burst's tags, the bootstrap as startup-script metadata, and a requestId
// derived from the token, so a retried call never creates twice. Spot
// machines use provisioningModel=SPOT with instanceTerminationAction=DELETE;
// a max lifetime becomes maxRunDuration with DELETE. GPU machines get
// onHostMaintenance=TERMINATE, an image with NVIDIA's driver, and for N1
// the accelerators attached ("n1-standard-8+nvidia-tesla-t4x1" in the
// catalog). At most 10 bulk operations run at once.
//
// Machines is one paginated instances.aggregatedList filtered by the
// cluster label. Terminate is instances.delete per machine (GCE has no
// bulk delete), sent as calls of Google's batch requests (up to 1000 a
// request; a lone machine as a plain call) under a client-side limiter
// sized to the per-minute write quota that takes a token per call; stopped
// machines (GCE's TERMINATED, left by a guest shutdown) are deleted too. Prepare and Cleanup manage a cluster's firewall rules on
// its network tag (internal, and client rules per address family); the
// Collector side (Resources, DeleteResources) finds burst's rules for
// `burst gc` by name and description, since rules carry no labels.
// Preflight checks images and quotas (regions.get,
// projects.get) before anything is created. Catalog reads machine and
// accelerator types live and prices from the Cloud Billing Catalog.
//
// Credentials are Application Default Credentials, resolved on first use;
// with an endpoint configured (a simulator, see internal/cloudsim/gce) no
// authentication is used. Error mapping, limits and the self-removal design
// are in docs/design/gcp.md.
package gcp
