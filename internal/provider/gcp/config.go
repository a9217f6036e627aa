package gcp

import (
	"context"
	"net/http"
	"os"
	"time"

	"github.com/burstdev/burst/internal/config"
	"github.com/burstdev/burst/internal/provider"
	"github.com/burstdev/burst/pkg/spec"
)

// Default boot images: Ubuntu 24.04 LTS per architecture, and for GPU
// machines Canonical's accelerator image with NVIDIA's driver installed,
// so a GPU machine needs only the container toolkit at boot.
const (
	DefaultImage    = "projects/ubuntu-os-cloud/global/images/family/ubuntu-2404-lts-amd64"
	DefaultARMImage = "projects/ubuntu-os-cloud/global/images/family/ubuntu-2404-lts-arm64"
	DefaultGPUImage = "projects/ubuntu-os-accelerator-images/global/images/family/ubuntu-accelerator-2404-amd64-with-nvidia-570"
	// DefaultIPDetectURL answers with the caller's public address.
	DefaultIPDetectURL = "https://checkip.amazonaws.com"
	// DefaultMutationsPerMinute is GCE's default per-project request quota.
	DefaultMutationsPerMinute = 1500
	// defaultDiskGiB is the boot disk size when the spec sets none: room for
	// the workload image; GPU images and CUDA containers get more.
	defaultDiskGiB    = 50
	defaultGPUDiskGiB = 100
)

// Options configure the provider.
type Options struct {
	Project  string
	Endpoint string
	// Regions limits the live catalog; empty means all.
	Regions    []string
	Network    string
	Subnetwork string
	// AllowedCIDRs may reach SSH and Dask from outside; empty means the
	// address IPDetectURL reports.
	AllowedCIDRs []string
	IPDetectURL  string
	// ServiceAccount machines run as; "" means the project's default.
	ServiceAccount string
	Image          string
	ARMImage       string
	GPUImage       string
	NoPublicIP     bool
	// MutationsPerMinute sizes the client-side write limiter: that many
	// a minute, 90% of them at once.
	MutationsPerMinute int
	// Retries is how many times a throttled or transiently failed call is
	// repeated before it fails (default 6).
	Retries int
	// HTTPClient is used for the APIs when an Endpoint is set, and to
	// detect the caller's address; nil means a default client.
	HTTPClient *http.Client
	// Now, Sleep and Getenv are injected for tests.
	Now    func() time.Time
	Sleep  func(ctx context.Context, d time.Duration) error
	Getenv func(string) string
}

func (o *Options) defaults() {
	if o.Network == "" {
		o.Network = "default"
	}
	if o.IPDetectURL == "" {
		o.IPDetectURL = DefaultIPDetectURL
	}
	if o.Image == "" {
		o.Image = DefaultImage
	}
	if o.ARMImage == "" {
		o.ARMImage = DefaultARMImage
	}
	if o.GPUImage == "" {
		o.GPUImage = DefaultGPUImage
	}
	if o.MutationsPerMinute <= 0 {
		o.MutationsPerMinute = DefaultMutationsPerMinute
	}
	if o.Retries <= 0 {
		o.Retries = 6
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Sleep == nil {
		o.Sleep = provider.Sleep
	}
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
}

// OptionsFromConfig maps burst's gcp configuration to provider options.
func OptionsFromConfig(c config.GCP, now func() time.Time) Options {
	return Options{
		Project: c.Project, Endpoint: c.Endpoint, Regions: spec.SplitList(c.Region),
		Network: c.Network, Subnetwork: c.Subnetwork, AllowedCIDRs: c.AllowedCIDRs, IPDetectURL: c.IPDetectURL,
		ServiceAccount: c.ServiceAccount, Image: c.Image, ARMImage: c.ARMImage, GPUImage: c.GPUImage,
		NoPublicIP: c.NoPublicIP, MutationsPerMinute: c.MutationsPerMinute, Now: now,
	}
}
