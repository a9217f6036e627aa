package config

// GCP configures the gcp provider. Credentials come from Application
// Default Credentials.
type GCP struct {
	// Project is the Google Cloud project; empty means ADC's project.
	Project string `mapstructure:"project"`
	// Region is the default region.
	Region string `mapstructure:"region"`
	// Endpoint overrides the Compute API endpoint (for simulators).
	Endpoint string `mapstructure:"endpoint"`
}
