package config

// AWS configures the aws provider. Credentials come from the SDK's default
// chain (env, shared config and SSO profiles, instance roles); endpoints
// from AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_EC2 as the SDK defines them.
type AWS struct {
	// Profile is the shared-config profile; empty means the SDK default.
	Profile string `mapstructure:"profile"`
	// Region overrides the SDK's region (AWS_REGION, profile).
	Region string `mapstructure:"region"`
}
