// Package all builds the registry of every provider burst ships. This is the
// one place providers are listed; adding a provider means adding its Entry
// here.
package all

import (
	"github.com/burstdev/burst/internal/provider"
	"github.com/burstdev/burst/internal/provider/azure"
	"github.com/burstdev/burst/internal/provider/local"
)

// Registry returns the registry of shipped providers.
func Registry() *provider.Registry {
	return provider.NewRegistry(
		local.Entry,
		azure.Entry,
	)
}
