package config

// GCP configures the gcp provider. Credentials come from Application
// Default Credentials (GOOGLE_APPLICATION_CREDENTIALS, gcloud's
// application-default login, or the metadata server), except with an
// Endpoint, which means a simulator and no authentication. Every key has
// an env var BURST_GCP_<KEY>, e.g. BURST_GCP_PROJECT, BURST_GCP_ENDPOINT.
type GCP struct {
	// Project is the Google Cloud project; empty means GOOGLE_CLOUD_PROJECT,
	// CLOUDSDK_CORE_PROJECT, then ADC's project.
	Project string `mapstructure:"project"`
	// Region limits the live catalog to these regions (comma-separated);
	// empty means every region the project sees.
	Region string `mapstructure:"region"`
	// Endpoint overrides the Compute and Cloud Billing API endpoint (for
	// simulators, e.g. http://127.0.0.1:8080); it turns authentication off.
	Endpoint string `mapstructure:"endpoint"`
	// Network is the VPC network machines join (default "default");
	// Subnetwork the subnetwork name in each region, if the network has
	// custom-mode subnets.
	Network    string `mapstructure:"network"`
	Subnetwork string `mapstructure:"subnetwork"`
	// AllowedCIDRs may reach the cluster's SSH and Dask ports from outside;
	// empty means this machine's public address, detected through
	// IPDetectURL. Never 0.0.0.0/0 unless written here.
	AllowedCIDRs []string `mapstructure:"allowed_cidrs"`
	// IPDetectURL answers with the caller's public IP address as text
	// (default https://checkip.amazonaws.com).
	IPDetectURL string `mapstructure:"ip_detect_url"`
	// ServiceAccount is the e-mail of the service account machines run as;
	// it needs compute.instances.delete on its own instance for
	// self-removal. Empty means the project's default compute account.
	ServiceAccount string `mapstructure:"service_account"`
	// Image, ARMImage and GPUImage are the boot images (image or family
	// paths, "projects/P/global/images/family/F") for x86, Arm and GPU
	// machines; empty means Ubuntu 24.04 LTS, and Ubuntu's accelerator image
	// with NVIDIA drivers for GPUs.
	Image    string `mapstructure:"image"`
	ARMImage string `mapstructure:"arm_image"`
	GPUImage string `mapstructure:"gpu_image"`
	// NoPublicIP launches machines without external addresses (for
	// networks with Cloud NAT; the laptop must then reach the private IPs).
	NoPublicIP bool `mapstructure:"no_public_ip"`
	// MutationsPerMinute sizes burst's client-side limit on instance
	// deletes and other writes (default 1500, GCE's default quota).
	MutationsPerMinute int `mapstructure:"mutations_per_minute"`
}
