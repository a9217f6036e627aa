// Package all builds the registry of every provider burst ships. This is the
// one place providers are listed; adding a provider means adding its Entry
// here.
package all
