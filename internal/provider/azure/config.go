package azure

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/burstdev/burst/internal/config"
	"github.com/burstdev/burst/internal/provider"
	"github.com/burstdev/burst/pkg/spec"
)

// OptionsFromConfig maps burst's configuration to provider options.
func OptionsFromConfig(cfg *config.Config, now func() time.Time) Options {
	if cfg == nil {
		cfg = &config.Config{}
	}
	a := cfg.Azure
	return Options{
		Subscription:   strings.TrimSpace(a.Subscription),
		Endpoint:       strings.TrimRight(strings.TrimSpace(a.Endpoint), "/"),
		PricesEndpoint: strings.TrimRight(strings.TrimSpace(a.PricesEndpoint), "/"),
		Locations:      spec.SplitList(a.Locations),
		CallerCIDR:     strings.TrimSpace(a.CallerCIDR),
		Images:         Images{X86: a.Image, Arm: a.ArmImage, GPU: a.GPUImage},
		DataDir:        cfg.DataDir,
		Now:            now,
	}
}

func (p *Provider) getenv(k string) string {
	if p.opts.Getenv != nil {
		return p.opts.Getenv(k)
	}
	return os.Getenv(k)
}

// subscription resolves the subscription: the option (config or
// BURST_AZURE_SUBSCRIPTION), AZURE_SUBSCRIPTION_ID, then the Azure CLI's
// default subscription in azureProfile.json.
func (p *Provider) subscription() (string, error) {
	if s := p.opts.Subscription; s != "" {
		return s, nil
	}
	if s := strings.TrimSpace(p.getenv("AZURE_SUBSCRIPTION_ID")); s != "" {
		return s, nil
	}
	dir := p.getenv("AZURE_CONFIG_DIR")
	if dir == "" {
		home := p.getenv("HOME")
		if home == "" {
			home, _ = os.UserHomeDir()
		}
		dir = filepath.Join(home, ".azure")
	}
	file := filepath.Join(dir, "azureProfile.json")
	s, err := cliSubscription(file)
	if err != nil {
		return "", &provider.Error{Kind: provider.ErrAuth, Scope: provider.ScopeProvider, Op: "subscription",
			Msg: fmt.Sprintf("no Azure subscription: set azure.subscription (BURST_AZURE_SUBSCRIPTION) or AZURE_SUBSCRIPTION_ID, or run `az login` (%v)", err)}
	}
	return s, nil
}

// cliSubscription reads the default subscription from the Azure CLI's
// profile, which the CLI writes with a UTF-8 byte-order mark.
func cliSubscription(file string) (string, error) {
	b, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("%s does not exist", file)
	}
	if err != nil {
		return "", err
	}
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
	var prof struct {
		Subscriptions []struct {
			ID        string `json:"id"`
			IsDefault bool   `json:"isDefault"`
			State     string `json:"state"`
		} `json:"subscriptions"`
	}
	if err := json.Unmarshal(b, &prof); err != nil {
		return "", fmt.Errorf("reading %s: %w", file, err)
	}
	for _, s := range prof.Subscriptions {
		if s.IsDefault && s.ID != "" {
			return s.ID, nil
		}
	}
	return "", fmt.Errorf("%s names no default subscription (az account set -s ...)", file)
}

// cloudConfig returns the cloud configuration for an endpoint override and
// whether the endpoint is a simulator (plain HTTP or a loopback host).
func cloudConfig(endpoint string) (cloud.Configuration, bool, error) {
	if endpoint == "" {
		return cloud.AzurePublic, false, nil
	}
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return cloud.Configuration{}, false, &provider.Error{Kind: provider.ErrInvalid, Scope: provider.ScopeProvider, Op: "endpoint",
			Msg: fmt.Sprintf("azure.endpoint %q is not an http(s) URL", endpoint)}
	}
	host := u.Hostname()
	ip := net.ParseIP(host)
	sim := u.Scheme == "http" || host == "localhost" || (ip != nil && ip.IsLoopback())
	cfg := cloud.Configuration{
		ActiveDirectoryAuthorityHost: cloud.AzurePublic.ActiveDirectoryAuthorityHost,
		Services: map[cloud.ServiceName]cloud.ServiceConfiguration{
			cloud.ResourceManager: {Audience: endpoint, Endpoint: endpoint},
		},
	}
	return cfg, sim, nil
}

// credential returns the injected credential, a static one for a
// simulator, or DefaultAzureCredential; every failure to get a token
// becomes ErrAuth naming what was tried.
func (p *Provider) credential(cfg cloud.Configuration) (azcore.TokenCredential, error) {
	if p.opts.Credential != nil {
		return authCredential{p.opts.Credential}, nil
	}
	if p.sim {
		return staticCredential("burst-simulator"), nil
	}
	cred, err := azidentity.NewDefaultAzureCredential(&azidentity.DefaultAzureCredentialOptions{
		ClientOptions: policy.ClientOptions{Cloud: cfg},
	})
	if err != nil {
		return nil, &provider.Error{Kind: provider.ErrAuth, Scope: provider.ScopeProvider, Op: "DefaultAzureCredential", Msg: err.Error(), Err: err}
	}
	return authCredential{cred}, nil
}

// staticCredential hands a simulator a fixed token; it never leaves the
// machine's loopback or a plain-HTTP test endpoint.
type staticCredential string

// GetToken implements azcore.TokenCredential.
func (s staticCredential) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: string(s), ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// authCredential marks token failures so they classify as ErrAuth.
type authCredential struct{ azcore.TokenCredential }

// GetToken implements azcore.TokenCredential.
func (a authCredential) GetToken(ctx context.Context, o policy.TokenRequestOptions) (azcore.AccessToken, error) {
	t, err := a.TokenCredential.GetToken(ctx, o)
	if err != nil && ctx.Err() == nil {
		return t, &credentialError{err: err}
	}
	return t, err
}

type credentialError struct{ err error }

func (e *credentialError) Error() string { return e.err.Error() }
func (e *credentialError) Unwrap() error { return e.err }

// Images are the marketplace images, as "publisher:offer:sku:version".
type Images struct {
	X86, Arm, GPU string
}

// Default images: Ubuntu 24.04 LTS per architecture, and for GPU sizes the
// Ubuntu 22.04 HPC image, which carries the NVIDIA driver, CUDA, Docker
// and the NVIDIA container toolkit the container workload needs.
const (
	DefaultImage    = "Canonical:ubuntu-24_04-lts:server:latest"
	DefaultArmImage = "Canonical:ubuntu-24_04-lts:server-arm64:latest"
	DefaultGPUImage = "microsoft-dsvm:ubuntu-hpc:2204:latest"
)

func (im Images) withDefaults() Images {
	if im.X86 == "" {
		im.X86 = DefaultImage
	}
	if im.Arm == "" {
		im.Arm = DefaultArmImage
	}
	if im.GPU == "" {
		im.GPU = DefaultGPUImage
	}
	return im
}

func (im Images) validate() error {
	for _, s := range []string{im.X86, im.Arm, im.GPU} {
		if len(strings.Split(s, ":")) != 4 {
			return &provider.Error{Kind: provider.ErrInvalid, Scope: provider.ScopeProvider, Op: "image",
				Msg: fmt.Sprintf("image %q is not publisher:offer:sku:version", s)}
		}
	}
	return nil
}
