package all

import (
	"github.com/burstdev/burst/internal/provider"
	"github.com/burstdev/burst/internal/provider/aws"
	"github.com/burstdev/burst/internal/provider/azure"
	"github.com/burstdev/burst/internal/provider/gcp"
	"github.com/burstdev/burst/internal/provider/local"
)

// Registry returns the registry of shipped providers.
func Registry() *provider.Registry {
	return provider.NewRegistry(
		local.Entry,
		aws.Entry,
		gcp.Entry,
		azure.Entry,
	)
}
