// Package provider defines the contract between burst and a cloud: the
// Provider interface every backend implements, the optional interfaces found
// by type assertion, the error kinds, and the registry of backends.
//
// Provider packages (aws, gcp, azure, local, fake) are the only code that
// talks to a cloud; only they see SDK types. Everything above them
// (provision, cli) speaks in the types of this package.
package provider
