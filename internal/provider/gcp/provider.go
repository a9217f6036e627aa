package gcp

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/auth/credentials"
	compute "cloud.google.com/go/compute/apiv1"
	gax "github.com/googleapis/gax-go/v2"
	"golang.org/x/time/rate"
	cloudbilling "google.golang.org/api/cloudbilling/v1"
	"google.golang.org/api/option"
	gtransport "google.golang.org/api/transport/http"

	"github.com/burstdev/burst/internal/provider"
)

// Name is the provider's registry name.
const Name = "gcp"

// Limits GCE puts on bulk creation: one bulkInsert may ask for 5000
// machines, and at most 10 bulk operations may run at once per project.
// burst asks for at most 1000 a call, so a big launch becomes several
// operations that run side by side within the 10.
const (
	maxPerBulk      = 1000
	maxBulkInFlight = 10
)

// Entry registers the gcp provider.
var Entry = provider.Entry{
	Name:        Name,
	Description: "Google Compute Engine (bulkInsert, Spot, per-cluster firewall rules)",
	New: func(ctx context.Context, env provider.Env) (provider.Provider, error) {
		return New(OptionsFromConfig(env.Config.GCP, env.Now)), nil
	},
	Policy: Policy,
}

// Provider is the GCE provider. Construction touches nothing; credentials
// and clients are resolved on first use.
type Provider struct {
	opts Options

	initOnce sync.Once
	initErr  error
	c        *clients
	project  string

	bulk      chan struct{}
	mutations *rate.Limiter

	// batchHTTP and batchURL send Terminate's batch requests: the same
	// authenticated HTTP client the REST clients use, and the batch path
	// under the same endpoint.
	batchHTTP *http.Client
	batchURL  string
	// apiBase is that endpoint, for the instance listings read without
	// the REST client (lists.go).
	apiBase string

	// mu guards what the provider learnt while it ran: how many
	// machines each cluster had at the last listing or launch
	// (machines.go), which only chooses how to list, never what a
	// listing answers.
	mu     sync.Mutex
	expect map[string]int
	// noSplit is set once GCE refused a listing split by the
	// regular-expression filter form (listParts): later ones list whole.
	noSplit bool
	// netOK and cidrs are what Prepare needs to read before it writes:
	// the network exists, and the caller's address ranges. Preflight
	// reads them for the next Prepare (readAhead in network.go), so a
	// missing network or an undetectable address stops up before anything
	// is created.
	netOK bool
	cidrs []string
	// ahead are the reads of each cluster's firewall rules Preflight
	// started for Prepare (lookahead.go).
	ahead map[string]*rulesAhead
	// regionReads are the regions.get calls in flight, shared (zones.go).
	regionReads map[string]*regionRead
}

var (
	_ provider.Provider    = (*Provider)(nil)
	_ provider.Preparer    = (*Provider)(nil)
	_ provider.Preflighter = (*Provider)(nil)
	_ provider.Limiter     = (*Provider)(nil)

	_ provider.IndependentPreparer = (*Provider)(nil)
)

// clients are the REST clients burst uses.
type clients struct {
	instances       *compute.InstancesClient
	regionInstances *compute.RegionInstancesClient
	regionOps       *compute.RegionOperationsClient
	zoneOps         *compute.ZoneOperationsClient
	globalOps       *compute.GlobalOperationsClient
	regions         *compute.RegionsClient
	projects        *compute.ProjectsClient
	machineTypes    *compute.MachineTypesClient
	accelTypes      *compute.AcceleratorTypesClient
	images          *compute.ImagesClient
	networks        *compute.NetworksClient
	firewalls       *compute.FirewallsClient
	billing         *cloudbilling.APIService
}

// New returns a provider. It does not call the cloud.
func New(opts Options) *Provider {
	opts.defaults()
	perSecond := float64(opts.MutationsPerMinute) / 60
	return &Provider{
		opts: opts,
		bulk: make(chan struct{}, maxBulkInFlight),
		// GCE's quota is a budget per minute, and the big spender is a
		// teardown, which is what stops the billing: 90% of the minute's
		// budget may go at once (1350 of 1500, so 1000 machines are
		// deleted without waiting), and 10% is left for reads and for
		// other tools sharing the project's quota.
		mutations: rate.NewLimiter(rate.Limit(perSecond), mutationBurst(opts.MutationsPerMinute)),
	}
}

// mutationBurst is how many writes may go at once: 90% of the per-minute
// quota.
func mutationBurst(perMinute int) int { return max(1, perMinute*9/10) }

// Name implements provider.Provider.
func (p *Provider) Name() string { return Name }

// Limits implements provider.Limiter: a launch is one bulkInsert per
// offering tried, and GCE runs at most 10 bulk operations at once.
func (p *Provider) Limits() provider.Limits {
	return provider.Limits{MaxPerLaunch: maxPerBulk, MaxInFlight: maxBulkInFlight}
}

// Project returns the project the provider works in, resolving
// credentials if needed.
func (p *Provider) Project(ctx context.Context) (string, error) {
	if err := p.init(ctx); err != nil {
		return "", err
	}
	return p.project, nil
}

// noRetry turns off the client's own retries: burst retries throttled and
// transient failures itself, with its injected clock, and knows which
// calls are safe to repeat.
var noRetry = gax.WithRetry(func() gax.Retryer { return nil })

// computeScope is what burst's calls need; the billing catalog accepts any
// Google credential.
var scopes = []string{"https://www.googleapis.com/auth/compute", "https://www.googleapis.com/auth/cloud-billing.readonly"}

func (p *Provider) init(ctx context.Context) error {
	p.initOnce.Do(func() { p.initErr = p.connect(ctx) })
	return p.initErr
}

// connect builds the clients: against the configured endpoint without
// authentication (a simulator), else with Application Default
// Credentials. It fails with ErrAuth, naming what it tried, when there are
// no credentials or no project.
func (p *Provider) connect(ctx context.Context) error {
	var opts []option.ClientOption
	project := p.opts.Project
	tried := []string{"gcp.project / BURST_GCP_PROJECT"}
	for _, env := range []string{"GOOGLE_CLOUD_PROJECT", "CLOUDSDK_CORE_PROJECT"} {
		if project == "" {
			project = p.opts.Getenv(env)
		}
		tried = append(tried, env)
	}
	apiBase := "https://compute.googleapis.com"
	if p.opts.Endpoint != "" {
		apiBase = strings.TrimRight(p.opts.Endpoint, "/")
		opts = append(opts, option.WithEndpoint(strings.TrimRight(p.opts.Endpoint, "/")), option.WithoutAuthentication())
		if p.opts.HTTPClient != nil {
			opts = append(opts, option.WithHTTPClient(p.opts.HTTPClient))
		}
	} else {
		creds, err := credentials.DetectDefault(&credentials.DetectOptions{Scopes: scopes})
		if err != nil {
			return &provider.Error{Kind: provider.ErrAuth, Scope: provider.ScopeProvider, Op: "credentials",
				Msg: "no Google Application Default Credentials (tried GOOGLE_APPLICATION_CREDENTIALS, gcloud's application_default_credentials.json and the GCE metadata server); run `gcloud auth application-default login`", Err: err}
		}
		if project == "" {
			if id, err := creds.ProjectID(ctx); err == nil {
				project = id
			}
			tried = append(tried, "the credentials' project")
		}
		opts = append(opts, option.WithAuthCredentials(creds))
	}
	if project == "" {
		return &provider.Error{Kind: provider.ErrAuth, Scope: provider.ScopeProvider, Op: "credentials",
			Msg: "no Google Cloud project (tried " + strings.Join(tried, ", ") + "); set gcp.project or BURST_GCP_PROJECT"}
	}
	c := &clients{}
	var err error
	build := func(f func() error) {
		if err == nil {
			err = f()
		}
	}
	build(func() (e error) { c.instances, e = compute.NewInstancesRESTClient(ctx, opts...); return })
	build(func() (e error) { c.regionInstances, e = compute.NewRegionInstancesRESTClient(ctx, opts...); return })
	build(func() (e error) { c.regionOps, e = compute.NewRegionOperationsRESTClient(ctx, opts...); return })
	build(func() (e error) { c.zoneOps, e = compute.NewZoneOperationsRESTClient(ctx, opts...); return })
	build(func() (e error) { c.globalOps, e = compute.NewGlobalOperationsRESTClient(ctx, opts...); return })
	build(func() (e error) { c.regions, e = compute.NewRegionsRESTClient(ctx, opts...); return })
	build(func() (e error) { c.projects, e = compute.NewProjectsRESTClient(ctx, opts...); return })
	build(func() (e error) { c.machineTypes, e = compute.NewMachineTypesRESTClient(ctx, opts...); return })
	build(func() (e error) { c.accelTypes, e = compute.NewAcceleratorTypesRESTClient(ctx, opts...); return })
	build(func() (e error) { c.images, e = compute.NewImagesRESTClient(ctx, opts...); return })
	build(func() (e error) { c.networks, e = compute.NewNetworksRESTClient(ctx, opts...); return })
	build(func() (e error) { c.firewalls, e = compute.NewFirewallsRESTClient(ctx, opts...); return })
	billingOpts := opts
	if p.opts.Endpoint != "" {
		// The billing client joins paths to its base URL, which must end
		// in "/"; the simulator serves both APIs on one endpoint.
		billingOpts = append(append([]option.ClientOption{}, opts...), option.WithEndpoint(strings.TrimRight(p.opts.Endpoint, "/")+"/"))
	}
	build(func() (e error) { c.billing, e = cloudbilling.NewService(ctx, billingOpts...); return })
	// Batch requests are plain HTTP: the client the REST clients build
	// from the same options (credentials, or the simulator's client).
	var batchHTTP *http.Client
	build(func() (e error) { batchHTTP, _, e = gtransport.NewClient(ctx, opts...); return })
	if err != nil {
		return fmt.Errorf("gcp: building clients: %w", err)
	}
	p.c, p.project = c, project
	p.batchHTTP, p.batchURL, p.apiBase = batchHTTP, apiBase+batchPath, apiBase
	return nil
}

// sleep waits d or until ctx ends.
// httpClient is used to detect the caller's address.
func (p *Provider) httpClient() *http.Client {
	if p.opts.HTTPClient != nil {
		return p.opts.HTTPClient
	}
	return &http.Client{Timeout: 10 * time.Second}
}
