package config

// Azure configures the azure provider. Credentials come from
// DefaultAzureCredential (environment, workload identity, managed identity,
// the Azure CLI, Azure Developer CLI, Azure PowerShell).
type Azure struct {
	// Subscription is the subscription ID (env BURST_AZURE_SUBSCRIPTION);
	// empty means AZURE_SUBSCRIPTION_ID, then the Azure CLI's default
	// subscription (~/.azure/azureProfile.json).
	Subscription string `mapstructure:"subscription"`
	// Location is the default region.
	Location string `mapstructure:"location"`
	// Endpoint overrides the ARM endpoint (env BURST_AZURE_ENDPOINT). An
	// http:// or loopback endpoint is a simulator: burst then sends a
	// static token instead of asking DefaultAzureCredential.
	Endpoint string `mapstructure:"endpoint"`
	// PricesEndpoint overrides the Retail Prices API's base URL; empty
	// means the simulator's when Endpoint is one, else
	// https://prices.azure.com.
	PricesEndpoint string `mapstructure:"prices_endpoint"`
	// Locations, comma-separated, limit what `burst catalog refresh` asks
	// the Retail Prices API about; empty means every location the Resource
	// SKUs API reports.
	Locations string `mapstructure:"locations"`
	// CallerCIDR lists (comma-separated) the address ranges allowed to
	// reach SSH and Dask from outside the cluster; empty means this
	// machine's public address, found at Prepare. 0.0.0.0/0 or ::/0 open
	// the ports to everyone, and only when written here.
	CallerCIDR string `mapstructure:"caller_cidr"`
	// Image, ArmImage and GPUImage override the marketplace images
	// ("publisher:offer:sku:version") for x86_64, arm64 and GPU sizes.
	Image    string `mapstructure:"image"`
	ArmImage string `mapstructure:"arm_image"`
	GPUImage string `mapstructure:"gpu_image"`
}
