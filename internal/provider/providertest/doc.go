// Package providertest is the conformance suite every provider passes: the
// contract of provider.Provider, checked the same way for the fake, the
// local provider, and each cloud provider over the wire against its
// simulator.
package providertest
