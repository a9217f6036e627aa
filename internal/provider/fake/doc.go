// Package fake is an in-memory provider for tests. It records every call,
// injects errors per call, models finite capacity per offering and slow
// boots, and honours idempotency tokens, so the provision engine and the CLI
// can be tested against the provider contract without a cloud.
package fake
