package azure

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/authorization/armauthorization/v2"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v6"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/msi/armmsi"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v6"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources"

	"github.com/burstdev/burst/internal/provider"
)

// Name is the azure provider's registry name.
const Name = "azure"

// Entry registers the azure provider.
var Entry = provider.Entry{
	Name:        Name,
	Description: "Microsoft Azure: Flexible VM scale sets in one resource group per cluster",
	New: func(ctx context.Context, env provider.Env) (provider.Provider, error) {
		return New(OptionsFromConfig(env.Config, env.Now))
	},
	Policy: Policy,
}

// Options configure the provider. The zero value of every field has a
// working default; tests inject the clock, sleeper, credential and
// transport.
type Options struct {
	// Subscription is the subscription ID; empty means AZURE_SUBSCRIPTION_ID,
	// then the Azure CLI's default subscription.
	Subscription string
	// Endpoint is the ARM endpoint; empty means Azure's public cloud. A
	// simulator endpoint (http:// or loopback) gets a static token.
	Endpoint string
	// PricesEndpoint is the Retail Prices API's base URL (see
	// config.Azure.PricesEndpoint).
	PricesEndpoint string
	// Locations limit the live catalog; empty means every location.
	Locations []string
	// CallerCIDR is who may reach SSH and Dask from outside; empty means
	// this machine's public address (127.0.0.1/32 against a simulator).
	CallerCIDR string
	// Images override the marketplace images.
	Images Images
	// DataDir holds per-cluster SSH keys (<DataDir>/azure/<cluster>); empty
	// keeps keys in memory only.
	DataDir string

	// Credential replaces DefaultAzureCredential.
	Credential azcore.TokenCredential
	// Transport carries ARM requests; nil means azcore's default.
	Transport policy.Transporter
	// HTTPClient carries Retail Prices and caller-address requests.
	HTTPClient *http.Client
	// CallerIP returns this machine's public address; nil asks
	// https://api.ipify.org.
	CallerIP func(ctx context.Context) (string, error)
	// Getenv and ConfigDir locate the Azure CLI's profile (AZURE_CONFIG_DIR,
	// else ~/.azure).
	Getenv func(string) string
	// Now is the clock; Sleep waits between polls and throttle retries.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
	// PollInterval is the longest pause between polls of a long-running
	// operation (default 5s): the first poll comes 50ms after the
	// operation's first answer and each pause doubles up to it (the SDK's
	// PollUntilDone refuses less than 1s, so burst polls itself).
	PollInterval time.Duration
	// MaxRetries bounds retries of a throttled (429) request (default 6).
	MaxRetries int
	// MaxRetryDelay caps one wait for a throttled request (default 2m).
	MaxRetryDelay time.Duration
}

// Provider is the azure provider. Build it with New; its clients and
// credentials are made on first use, so constructing it touches nothing.
type Provider struct {
	opts Options

	once    sync.Once
	initErr error
	sub     string
	sim     bool
	c       clients
	raw     *arm.Client // the pipeline lists page through (lists.go)

	mu       sync.Mutex
	prepared map[string]bool // cluster + "/" + location
	// fresh are the groups (lower case) this process's PUT created (ARM
	// answered 201 Created), and tokens the launch tokens this process
	// has launched with: a token's resources can be in a fresh group only
	// if this process launched the token there.
	fresh     map[string]bool
	tokens    map[string]bool
	preparing map[string]*sync.Mutex
	keys      map[string]string // cluster -> authorized_keys line
	skuCache  map[string]map[string]skuInfo
	seen      hints
}

type clients struct {
	vms    *armcompute.VirtualMachinesClient
	sets   *armcompute.VirtualMachineScaleSetsClient
	skus   *armcompute.ResourceSKUsClient
	usage  *armcompute.UsageClient
	nsgs   *armnetwork.SecurityGroupsClient
	vnets  *armnetwork.VirtualNetworksClient
	nics   *armnetwork.InterfacesClient
	pips   *armnetwork.PublicIPAddressesClient
	groups *armresources.ResourceGroupsClient
	ids    *armmsi.UserAssignedIdentitiesClient
	roles  *armauthorization.RoleAssignmentsClient
}

var (
	_ provider.Provider    = (*Provider)(nil)
	_ provider.Preparer    = (*Provider)(nil)
	_ provider.Preflighter = (*Provider)(nil)
	_ provider.Limiter     = (*Provider)(nil)
)

// New returns the provider. It reads no file and makes no call.
func New(opts Options) (*Provider, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Sleep == nil {
		opts.Sleep = provider.Sleep
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = 5 * time.Second
	}
	if opts.MaxRetries == 0 {
		opts.MaxRetries = 6
	}
	if opts.MaxRetryDelay <= 0 {
		opts.MaxRetryDelay = 2 * time.Minute
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: 60 * time.Second}
	}
	opts.Images = opts.Images.withDefaults()
	if err := opts.Images.validate(); err != nil {
		return nil, err
	}
	return &Provider{opts: opts, prepared: map[string]bool{}, fresh: map[string]bool{}, tokens: map[string]bool{}, preparing: map[string]*sync.Mutex{}, keys: map[string]string{}, skuCache: map[string]map[string]skuInfo{},
		seen: hints{groups: map[string]map[string]string{}, inGroup: map[string]groupHint{}}}, nil
}

// Name implements provider.Provider.
func (p *Provider) Name() string { return Name }

// Limits implements provider.Limiter: a Flexible scale set holds up to 1000
// VMs, so one Launch asks for at most that (Launch itself splits limited
// families, which sets cap at 200). Four launches at once stay well inside
// ARM's 200-write burst.
func (p *Provider) Limits() provider.Limits {
	return provider.Limits{MaxPerLaunch: 1000, MaxInFlight: 4}
}

// init resolves the subscription and credential and builds the clients,
// once. Nothing here calls Azure: clients only do on their first request.
func (p *Provider) init() error {
	p.once.Do(func() { p.initErr = p.setup() })
	return p.initErr
}

func (p *Provider) setup() error {
	sub, err := p.subscription()
	if err != nil {
		return err
	}
	p.sub = sub
	cloudCfg, sim, err := cloudConfig(p.opts.Endpoint)
	if err != nil {
		return err
	}
	p.sim = sim
	cred, err := p.credential(cloudCfg)
	if err != nil {
		return err
	}
	co := &arm.ClientOptions{
		ClientOptions: policy.ClientOptions{
			Cloud:     cloudCfg,
			Transport: p.opts.Transport,
			// 429s are retried by burst's throttle policy (Retry-After,
			// injectable sleep); the SDK retries transient 5xx and timeouts.
			Retry: policy.RetryOptions{MaxRetries: 3, StatusCodes: []int{
				http.StatusRequestTimeout, http.StatusInternalServerError, http.StatusBadGateway,
				http.StatusServiceUnavailable, http.StatusGatewayTimeout}},
			PerCallPolicies:                 []policy.Policy{&throttlePolicy{p: p}},
			InsecureAllowCredentialWithHTTP: sim,
		},
		// Registering resource providers needs rights burst does not ask
		// for; an unregistered provider is reported instead.
		DisableRPRegistration: true,
	}
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	var e error
	p.c.vms, e = armcompute.NewVirtualMachinesClient(sub, cred, co)
	add(e)
	p.c.sets, e = armcompute.NewVirtualMachineScaleSetsClient(sub, cred, co)
	add(e)
	p.c.skus, e = armcompute.NewResourceSKUsClient(sub, cred, co)
	add(e)
	p.c.usage, e = armcompute.NewUsageClient(sub, cred, co)
	add(e)
	p.c.nsgs, e = armnetwork.NewSecurityGroupsClient(sub, cred, co)
	add(e)
	p.c.vnets, e = armnetwork.NewVirtualNetworksClient(sub, cred, co)
	add(e)
	p.c.nics, e = armnetwork.NewInterfacesClient(sub, cred, co)
	add(e)
	p.c.pips, e = armnetwork.NewPublicIPAddressesClient(sub, cred, co)
	add(e)
	p.c.groups, e = armresources.NewResourceGroupsClient(sub, cred, co)
	add(e)
	p.c.ids, e = armmsi.NewUserAssignedIdentitiesClient(sub, cred, co)
	add(e)
	p.c.roles, e = armauthorization.NewRoleAssignmentsClient(sub, cred, co)
	add(e)
	// The pipeline the listings page through (lists.go).
	p.raw, e = arm.NewClient("burst/azure", "v1.0.0", cred, co)
	add(e)
	if len(errs) > 0 {
		return fmt.Errorf("azure: building clients: %w", errs[0])
	}
	return nil
}
