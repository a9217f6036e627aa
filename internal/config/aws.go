package config

// AWS configures the aws provider. Credentials come from the SDK's default
// chain (env, shared config and SSO profiles, instance roles); endpoints
// from AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_EC2 as the SDK defines them.
type AWS struct {
	// Profile is the shared-config profile; empty means the SDK default.
	Profile string `mapstructure:"profile"`
	// Region overrides the SDK's region (AWS_REGION, profile).
	Region string `mapstructure:"region"`
	// Regions are further regions burst lists machines in and refreshes the
	// catalog of, besides Region (a plan's --region may name any of them).
	Regions []string `mapstructure:"regions"`
	// AllowedCIDRs may reach SSH and the Dask ports from outside the
	// cluster (BURST_AWS_ALLOWED_CIDRS="203.0.113.7/32,198.51.100.0/24").
	// Empty means the caller's own public address, found at CheckIPURL.
	AllowedCIDRs []string `mapstructure:"allowed_cidrs"`
	// CheckIPURL answers the caller's public IP address as plain text;
	// empty means https://checkip.amazonaws.com.
	CheckIPURL string `mapstructure:"check_ip_url"`
	// AMI, when set, is the image of every machine instead of the current
	// Ubuntu LTS (or the NVIDIA deep learning image for GPU types).
	AMI string `mapstructure:"ami"`
	// Subnets, when set, are used instead of the default VPC's subnets (at
	// most one per zone is used; they must share a VPC per region).
	Subnets []string `mapstructure:"subnets"`
	// MaxAttempts bounds tries of a throttled or failed API call (default 8).
	MaxAttempts int `mapstructure:"max_attempts"`
}
