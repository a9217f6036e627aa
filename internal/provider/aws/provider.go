package aws

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/pricing"
	"github.com/aws/aws-sdk-go-v2/service/servicequotas"

	"github.com/burstdev/burst/internal/provider"
)

// Name is the provider's registry name.
const Name = "aws"

// Entry registers the AWS provider.
var Entry = provider.Entry{
	Name:        Name,
	Description: "Amazon EC2 (CreateFleet; credentials from the AWS SDK's default chain)",
	New: func(ctx context.Context, env provider.Env) (provider.Provider, error) {
		c := env.Config.AWS
		// The run's --region (config key "region") may list several
		// regions; the first is the SDK's unless aws.region is set, and
		// all of them are listed by Machines.
		region := c.Region
		regions := slices.Clone(c.Regions)
		for _, r := range strings.Split(strings.Trim(env.Config.Region, "[] "), ",") {
			if r = strings.TrimSpace(r); r == "" {
				continue
			}
			if region == "" {
				region = r
			}
			regions = append(regions, r)
		}
		return New(Options{
			Profile: c.Profile, Region: region, Regions: regions, AllowedCIDRs: c.AllowedCIDRs, CheckIPURL: c.CheckIPURL,
			AMI: c.AMI, Subnets: c.Subnets, MaxAttempts: c.MaxAttempts, DataDir: env.Config.DataDir, Now: env.Now,
		}), nil
	},
	Policy: Policy,
}

// Options configure the provider. The zero value works: the SDK's default
// region and credentials, the default VPC, the caller's public address.
type Options struct {
	// Profile and Region override the SDK's defaults.
	Profile, Region string
	// Regions are further regions to list and catalog.
	Regions []string
	// AllowedCIDRs may reach SSH and Dask; empty means the caller's public
	// address, read from CheckIPURL.
	AllowedCIDRs []string
	CheckIPURL   string
	// AMI replaces image discovery.
	AMI string
	// Subnets replace the default VPC's subnets.
	Subnets []string
	// DataDir is where per-cluster private keys are kept (0600).
	DataDir string
	// MaxAttempts bounds tries per API call (default 8); RetryMaxBackoff
	// caps the jittered exponential backoff between them (default 20s).
	MaxAttempts     int
	RetryMaxBackoff time.Duration
	// Throttles are the client-side token buckets per API family; nil means
	// EC2's documented defaults (DocumentedThrottles).
	Throttles map[string]Bucket
	// CleanupTimeout bounds how long Cleanup retries deleting a security
	// group that instances still use (default 5m); CleanupPoll is the pause
	// between tries (default 5s).
	CleanupTimeout, CleanupPoll time.Duration
	// HTTPClient is used for the public-address lookup (default
	// http.DefaultClient with a 10s timeout).
	HTTPClient *http.Client
	// ConfigOptions are appended to config.LoadDefaultConfig's options.
	ConfigOptions []func(*config.LoadOptions) error
	// Now and Sleep are the clock.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
}

// Provider is the AWS provider. Construction touches nothing; the SDK
// configuration, credentials and clients are resolved on first use.
type Provider struct {
	opts Options

	mu       sync.Mutex
	cfg      *sdkaws.Config
	ec2      map[string]*ec2.Client
	quotas   map[string]*servicequotas.Client
	pricing  *pricing.Client
	limiters map[string]*limiters
	// Caches of what Prepare and Launch found or made.
	vpcs  map[string]*vpcInfo
	nets  map[netKey]*network
	ahead map[netKey]*lookahead
	// The lookups of down's early clean-up, for its Cleanup.
	cleanAhead map[netKey]*cleanLookups
	locks      map[string]*sync.Mutex
	images     map[imageKey]imageInfo
	templates  map[string]string
	cidrs      []string
	cidrMu     sync.Mutex // held while the caller's address is looked up, so it is looked up once
	// used are regions this process launched into or prepared; Machines
	// lists them too, so a plan's region outside the configured ones is
	// still observed.
	used []string
	// allRegions caches DescribeRegions: the regions enabled for the
	// account.
	allRegions []string
}

var (
	_ provider.Provider    = (*Provider)(nil)
	_ provider.Preparer    = (*Provider)(nil)
	_ provider.Preflighter = (*Provider)(nil)
	_ provider.Limiter     = (*Provider)(nil)
	_ provider.Collector   = (*Provider)(nil)
)

// New returns a provider. It does not call AWS.
func New(opts Options) *Provider {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Sleep == nil {
		opts.Sleep = provider.Sleep
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = 8
	}
	if opts.RetryMaxBackoff <= 0 {
		opts.RetryMaxBackoff = 20 * time.Second
	}
	if opts.CleanupTimeout <= 0 {
		opts.CleanupTimeout = 5 * time.Minute
	}
	if opts.CleanupPoll <= 0 {
		opts.CleanupPoll = 5 * time.Second
	}
	if opts.CheckIPURL == "" {
		opts.CheckIPURL = "https://checkip.amazonaws.com"
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if opts.Throttles == nil {
		opts.Throttles = DocumentedThrottles
	}
	return &Provider{
		opts: opts, ec2: map[string]*ec2.Client{}, quotas: map[string]*servicequotas.Client{}, limiters: map[string]*limiters{},
		vpcs: map[string]*vpcInfo{}, nets: map[netKey]*network{}, ahead: map[netKey]*lookahead{}, cleanAhead: map[netKey]*cleanLookups{}, locks: map[string]*sync.Mutex{},
		images: map[imageKey]imageInfo{}, templates: map[string]string{},
	}
}

// Name implements provider.Provider.
func (p *Provider) Name() string { return Name }

// Limits implements provider.Limiter. A CreateFleet call asks for at most
// 500 machines (the chunk size, half of EC2's 1000-instance launch
// bucket, so one chunk never drains it). Four calls in flight keep the
// 50-token mutating bucket and the launch bucket busy without bursting past
// them; the client-side limiter paces anything beyond.
func (p *Provider) Limits() provider.Limits {
	return provider.Limits{MaxPerLaunch: 500, MaxInFlight: 4}
}

// regions returns the configured regions: the SDK's (or Options.Region)
// first, then Options.Regions.
func (p *Provider) regions(ctx context.Context) ([]string, error) {
	cfg, err := p.config(ctx)
	if err != nil {
		return nil, err
	}
	out := []string{cfg.Region}
	p.mu.Lock()
	more := append(slices.Clone(p.opts.Regions), p.used...)
	p.mu.Unlock()
	for _, r := range more {
		if r != "" && !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	return out, nil
}

// use records a region this process works in.
func (p *Provider) use(region string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !slices.Contains(p.used, region) {
		p.used = append(p.used, region)
	}
}

// lock serialises work on one key (a cluster's network in a region, a
// launch template), so concurrent launch chunks create it once.
func (p *Provider) lock(key string) func() {
	p.mu.Lock()
	l, ok := p.locks[key]
	if !ok {
		l = &sync.Mutex{}
		p.locks[key] = l
	}
	p.mu.Unlock()
	l.Lock()
	return l.Unlock
}
