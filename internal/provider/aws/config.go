package aws

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/pricing"
	"github.com/aws/aws-sdk-go-v2/service/servicequotas"
	"github.com/aws/smithy-go"

	"github.com/burstdev/burst/internal/provider"
)

// pricingRegion is where the Price List API answers (it has endpoints in
// us-east-1, eu-central-1 and ap-south-1 only).
const pricingRegion = "us-east-1"

// config loads the SDK configuration once, on first use, and checks that
// credentials resolve, so a missing or expired credential fails with
// ErrAuth naming the sources tried rather than deep inside a call. Endpoint
// overrides (AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_EC2, endpoint_url in a
// profile) are the SDK's own business: burst sets no endpoint.
func (p *Provider) config(ctx context.Context) (sdkaws.Config, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cfg != nil {
		return *p.cfg, nil
	}
	opts := []func(*config.LoadOptions) error{
		config.WithRetryer(p.retryer),
	}
	if p.opts.Profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(p.opts.Profile))
	}
	if p.opts.Region != "" {
		opts = append(opts, config.WithRegion(p.opts.Region))
	}
	opts = append(opts, p.opts.ConfigOptions...)
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		var nf config.SharedConfigProfileNotExistError
		if errors.As(err, &nf) {
			return cfg, &provider.Error{Kind: provider.ErrAuth, Scope: provider.ScopeProvider, Op: "LoadConfig", Err: err,
				Msg: fmt.Sprintf("AWS profile %q is not in the shared config or credentials files (set aws.profile, BURST_AWS_PROFILE or AWS_PROFILE)", nf.Profile)}
		}
		return cfg, &provider.Error{Kind: provider.ErrAuth, Scope: provider.ScopeProvider, Op: "LoadConfig", Err: err, Msg: err.Error()}
	}
	if cfg.Region == "" {
		return cfg, &provider.Error{Kind: provider.ErrInvalid, Scope: provider.ScopeProvider, Op: "LoadConfig",
			Msg: "no AWS region: pass --region, set aws.region (BURST_AWS_REGION) or AWS_REGION, or give the profile a region"}
	}
	if _, err := cfg.Credentials.Retrieve(ctx); err != nil {
		return cfg, p.credentialsError(err)
	}
	p.cfg = &cfg
	return cfg, nil
}

// credentialsError explains a credential failure: which sources the SDK's
// default chain tried, and for an expired SSO session, how to renew it.
func (p *Provider) credentialsError(err error) error {
	profile := p.opts.Profile
	if profile == "" {
		profile = os.Getenv("AWS_PROFILE")
	}
	if profile == "" {
		profile = "default"
	}
	msg := err.Error()
	low := strings.ToLower(msg)
	if strings.Contains(low, "sso") && (strings.Contains(low, "expired") || strings.Contains(low, "token")) {
		return &provider.Error{Kind: provider.ErrAuth, Scope: provider.ScopeProvider, Op: "Credentials", Err: err,
			Msg: fmt.Sprintf("the SSO session of profile %q has expired or is missing; run: aws sso login --profile %s (%s)", profile, profile, msg)}
	}
	credFile := os.Getenv("AWS_SHARED_CREDENTIALS_FILE")
	if credFile == "" {
		credFile = "~/.aws/credentials"
	}
	cfgFile := os.Getenv("AWS_CONFIG_FILE")
	if cfgFile == "" {
		cfgFile = "~/.aws/config"
	}
	tried := []string{
		"environment (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)",
		fmt.Sprintf("shared credentials file %s and config file %s (profile %q, including SSO and assume-role)", credFile, cfgFile, profile),
		"web identity token (AWS_WEB_IDENTITY_TOKEN_FILE)",
		"container credentials (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI/FULL_URI)",
	}
	if strings.EqualFold(os.Getenv("AWS_EC2_METADATA_DISABLED"), "true") {
		tried = append(tried, "EC2 instance role (skipped: AWS_EC2_METADATA_DISABLED=true)")
	} else {
		tried = append(tried, "EC2 instance role (IMDS)")
	}
	return &provider.Error{Kind: provider.ErrAuth, Scope: provider.ScopeProvider, Op: "Credentials", Err: err,
		Msg: "no usable AWS credentials; tried: " + strings.Join(tried, "; ") + ". Run aws configure or aws sso login, or set AWS_PROFILE"}
}

// retryer retries throttled and 5xx calls with jittered exponential backoff
// (the SDK's standard retryer). burst paces calls with its own per-family
// buckets, so the SDK's client-side retry quota is off; capacity errors are
// never retried in place, since another offering is the cure.
func (p *Provider) retryer() sdkaws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = p.opts.MaxAttempts
		o.MaxBackoff = p.opts.RetryMaxBackoff
		o.Backoff = retry.NewExponentialJitterBackoff(p.opts.RetryMaxBackoff)
		o.RateLimiter = ratelimit.None
		o.Retryables = append([]retry.IsErrorRetryable{retry.IsErrorRetryableFunc(func(err error) sdkaws.Ternary {
			var ae smithy.APIError
			if errors.As(err, &ae) && capacityCodes[ae.ErrorCode()] {
				return sdkaws.FalseTernary
			}
			return sdkaws.UnknownTernary
		})}, o.Retryables...)
	})
}

// ec2Client returns the EC2 client of a region.
func (p *Provider) ec2Client(ctx context.Context, region string) (*ec2.Client, error) {
	cfg, err := p.config(ctx)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if c, ok := p.ec2[region]; ok {
		return c, nil
	}
	lim := p.limitersLocked(region)
	c := ec2.NewFromConfig(cfg, func(o *ec2.Options) {
		o.Region = region
		o.APIOptions = append(o.APIOptions, lim.middleware)
	})
	p.ec2[region] = c
	return c, nil
}

func (p *Provider) quotaClient(ctx context.Context, region string) (*servicequotas.Client, error) {
	cfg, err := p.config(ctx)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if c, ok := p.quotas[region]; ok {
		return c, nil
	}
	c := servicequotas.NewFromConfig(cfg, func(o *servicequotas.Options) { o.Region = region })
	p.quotas[region] = c
	return c, nil
}

func (p *Provider) pricingClient(ctx context.Context) (*pricing.Client, error) {
	cfg, err := p.config(ctx)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.pricing == nil {
		p.pricing = pricing.NewFromConfig(cfg, func(o *pricing.Options) { o.Region = pricingRegion })
	}
	return p.pricing, nil
}
