package provider

import (
	"context"
	"time"

	"github.com/burstdev/burst/internal/bootstrap"
	"github.com/burstdev/burst/internal/catalog"
	"github.com/burstdev/burst/internal/plan"
	"github.com/burstdev/burst/pkg/spec"
)

// Provider is a cloud (or this host) that can run machines.
//
// Every machine a Provider creates carries the request's tags from the
// moment it exists, so Machines finds it even if the process that launched
// it died before Launch returned. Implementations must be safe for
// concurrent use.
type Provider interface {
	// Name is the registry name: "aws", "gcp", "azure", "local", "fake".
	Name() string

	// Catalog returns the machine types this provider offers, with their
	// offerings. It may call the cloud (a live refresh); callers cache it.
	Catalog(ctx context.Context) (*catalog.Catalog, error)

	// Launch starts up to req.Count machines, trying req.Offerings in order
	// (a provider may spread one call over several offerings, as EC2 Fleet
	// does). Partial success is normal: the result lists the machines that
	// exist and, per offering, why more could not be had. The error is
	// non-nil only when the call as a whole failed (auth, throttled after
	// retries, invalid request); machines that exist are still returned.
	//
	// Launch is idempotent per req.Token: calling it again with the same
	// token returns the same machines and creates none.
	Launch(ctx context.Context, req LaunchRequest) (*LaunchResult, error)

	// Machines lists the machines tagged with the filter's cluster (all
	// burst machines when Cluster is empty), in every region the filter
	// names or, with none named, every region the provider is configured
	// for. Terminated machines the cloud still reports may be included with
	// State Terminated.
	Machines(ctx context.Context, f Filter) ([]Machine, error)

	// Terminate ends the given machines. It is idempotent: machines that are
	// already gone are not an error. It returns once the cloud accepted the
	// request; machines may still be shutting down.
	Terminate(ctx context.Context, ms []Machine) error
}

// LaunchRequest asks for Count machines of one role.
type LaunchRequest struct {
	Cluster string
	Role    spec.Role
	Count   int
	// Offerings to try, in order. All belong to this provider and share a
	// capacity type.
	Offerings []plan.Offering
	// Token makes the call idempotent: at most 64 characters of [a-z0-9-].
	Token string
	// Tags go on every resource the launch creates (machine, disks, fleet).
	Tags map[string]string
	// Boot is what the machine runs; the provider renders it for its target.
	Boot bootstrap.Config
	// Disk is the root disk size; 0 means the provider's default.
	Disk spec.Size
	// AllOrNothing asks for Count machines or none (GCE minCount).
	AllOrNothing bool
}

// LaunchResult is what a Launch achieved.
type LaunchResult struct {
	Machines []Machine
	// Failures say, per offering tried, why it gave fewer machines than
	// asked. Errors carry a Kind (ErrNoCapacity, ErrQuota, ...).
	Failures []OfferingError
}

// OfferingError is a failure of one offering within a Launch.
type OfferingError struct {
	Offering plan.Offering
	Err      error
}

// Filter selects machines (and, for a Collector, resources).
type Filter struct {
	// Cluster selects one cluster; empty selects every burst cluster.
	Cluster string
	// Regions limits the search; empty means at least the regions the
	// provider is configured for (providers whose listing is global, GCE
	// and Azure, search every region at the same cost).
	Regions []string
	// AllRegions searches every region the account can use (burst gc
	// --all-regions); it overrides Regions.
	AllRegions bool
	// Live asks only for machines that have not ended (terminated): the
	// engine's observations need no others, and a cloud that keeps
	// terminated machines listed for a while (EC2: about an hour) then
	// sends less. A provider may ignore it; callers still skip ended
	// machines.
	Live bool
	// Brief asks only which machines exist and whether they have ended,
	// as down's first observation needs: a provider may then leave out
	// addresses, and states short of ended, that cost it calls of their
	// own (Azure: the power states and the NIC and public IP lists; a VM
	// shut down from inside is then reported running). A machine reported
	// ended must still have ended. A provider may ignore it.
	Brief bool
}

// State is a machine's lifecycle state, normalised across clouds.
type State string

// Machine states.
const (
	Pending    State = "pending"
	Running    State = "running"
	Stopping   State = "stopping"
	Stopped    State = "stopped"
	Terminated State = "terminated"
)

// Live reports whether a machine in this state exists and may bill.
func (s State) Live() bool { return s == Pending || s == Running }

// Machine is one machine as the cloud reports it.
type Machine struct {
	ID           string            `json:"id"`
	Cluster      string            `json:"cluster"`
	Role         spec.Role         `json:"role"`
	State        State             `json:"state"`
	Provider     string            `json:"provider"`
	Region       string            `json:"region"`
	Zone         string            `json:"zone"`
	InstanceType string            `json:"instance_type"`
	Capacity     catalog.Capacity  `json:"capacity"`
	PrivateIP    string            `json:"private_ip"`
	PublicIP     string            `json:"public_ip,omitempty"`
	LaunchedAt   time.Time         `json:"launched_at"`
	Tags         map[string]string `json:"-"`
}

// The tags burst puts on every resource it creates. GCE labels allow only
// lower-case letters, digits, "-" and "_", which these keys respect.
const (
	TagCluster = "burst-cluster"
	TagRole    = "burst-role"
	TagOwner   = "burst-owner"
	TagCreated = "burst-created"
	TagExpires = "burst-expires"
	TagSpec    = "burst-spec"
	// TagWorkload says what the machines run ("dask", "none").
	TagWorkload = "burst-workload"
	// TagSchedulerPort and TagDashboardPort are set on a head whose ports
	// differ from the workload's defaults (the local provider on a shared
	// host).
	TagSchedulerPort = "burst-scheduler-port"
	TagDashboardPort = "burst-dashboard-port"
)

// Optional interfaces. The provision engine finds them by type assertion.

// Preparer creates and removes what a cluster needs besides machines:
// networks, security groups or firewalls, key pairs, resource groups.
type Preparer interface {
	// Prepare makes sure the cluster's shared resources exist, tagged. It is
	// idempotent.
	Prepare(ctx context.Context, req PrepareRequest) error
	// Cleanup removes the cluster's shared resources once its machines are
	// gone. It is idempotent.
	Cleanup(ctx context.Context, cluster string, regions []string) error
}

// IndependentPreparer is a Preparer whose shared resources no machine
// refers to: a machine can be launched before they exist, and they can be
// removed while machines still run (GCE firewall rules pick machines by
// network tag; nothing in an instance names them). The engine then runs
// Prepare beside the head's launch, done before any worker is launched,
// and Cleanup beside the machines' termination in down.
type IndependentPreparer interface {
	Preparer
	// Independent reports whether the provider's shared resources are
	// independent of its machines as described above.
	Independent() bool
}

// EarlyCleaner is a Preparer part of whose clean-up needs no machine gone
// first: reads that find what Cleanup will delete, and deletions of what
// no running machine uses and no later Prepare would miss (AWS: the
// launch templates, made afresh by each launch; the lookups of the
// security group and key pair). Down calls CleanupEarly beside its
// observation and the machines' termination, and Cleanup once the
// machines are gone and CleanupEarly has returned, as it would without
// it. CleanupEarly must leave the cluster's machines as they are, able to
// run and to end on their own, so that a down that fails after it leaves
// a cluster that still works. Cleanup must remove everything on its own
// when CleanupEarly failed or was not called.
type EarlyCleaner interface {
	Preparer
	CleanupEarly(ctx context.Context, cluster string, regions []string) error
}

// ClusterRemover is implemented by providers that can remove a cluster's
// machines and shared resources in one operation (Azure: deleting the
// cluster's resource groups). Down then calls RemoveCluster instead of
// Terminate, waiting and Cleanup. It returns once everything of the
// cluster in the regions (all regions when none) is gone, and is
// idempotent.
type ClusterRemover interface {
	RemoveCluster(ctx context.Context, cluster string, regions []string) error
}

// PrepareRequest describes the cluster Prepare sets up.
type PrepareRequest struct {
	Cluster string
	Regions []string
	Tags    map[string]string
}

// Preflighter checks, before anything is created, that a plan can run:
// quotas, images, local dependencies. A failure is returned as a kinded
// error (ErrQuota, ErrInvalid, ErrMissing) and nothing has been created.
type Preflighter interface {
	Preflight(ctx context.Context, req PreflightRequest) error
}

// PreflightRequest is the part of a plan that falls to one provider.
type PreflightRequest struct {
	Cluster  string
	Workload spec.Workload
	// Groups are the plan's groups restricted to this provider's offerings;
	// Count is what may be launched on it.
	Groups []plan.Group
	// Note tells the user something worth knowing about how the plan will
	// run (never nil when called by the engine).
	Note func(msg string)
}

// Limits describes how a provider likes launches cut up.
type Limits struct {
	// MaxPerLaunch is the most machines one Launch call may ask for.
	MaxPerLaunch int
	// MaxInFlight is how many Launch calls may run at once.
	MaxInFlight int
}

// Limiter is implemented by providers whose launches need chunking.
type Limiter interface {
	Limits() Limits
}

// DefaultLimits apply to providers that do not implement Limiter.
var DefaultLimits = Limits{MaxPerLaunch: 1000, MaxInFlight: 4}

// LimitsOf returns p's limits.
func LimitsOf(p Provider) Limits {
	if l, ok := p.(Limiter); ok {
		lim := l.Limits()
		if lim.MaxPerLaunch <= 0 {
			lim.MaxPerLaunch = DefaultLimits.MaxPerLaunch
		}
		if lim.MaxInFlight <= 0 {
			lim.MaxInFlight = DefaultLimits.MaxInFlight
		}
		return lim
	}
	return DefaultLimits
}

// Sleep waits d, or until ctx ends, whichever comes first; it returns
// ctx's error if ctx ended. It is the real clock behind the Sleep options
// of the engine and the cloud providers, which tests replace.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
