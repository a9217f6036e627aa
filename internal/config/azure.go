package config

// Azure configures the azure provider. Credentials come from
// DefaultAzureCredential.
type Azure struct {
	// Subscription is the subscription ID; empty means the Azure CLI's.
	Subscription string `mapstructure:"subscription"`
	// Location is the default region.
	Location string `mapstructure:"location"`
	// Endpoint overrides the ARM endpoint (for simulators).
	Endpoint string `mapstructure:"endpoint"`
}
