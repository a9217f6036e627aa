// Package arm is a stateful simulator of Azure Resource Manager for
// burst's azure provider: an HTTP server speaking the REST shapes of the
// resource groups, Flexible VM scale sets, VMs, resource SKUs and usages,
// virtual networks, NSGs, NICs, public IPs, user-assigned managed
// identities and role assignments that burst uses, plus the Retail Prices
// API and a per-VM Instance Metadata Service.
//
// It sits on the shared cloudsim model (capacity pools, quotas, token
// buckets, latency, injected faults, instance lifecycle, request log) and
// maps the model's generic errors to ARM's codes: AllocationFailed,
// ZonalAllocationFailed, SkuNotAvailable, OperationNotAllowed (quota, 409;
// Compute RP throttling, 429), TooManyRequests (429 with Retry-After),
// AuthorizationFailed, InvalidParameter, ResourceNotFound.
//
// It is an HTTP server rather than the SDK's fake server factories
// (armcompute/v6/fake and friends) because the fakes replace ARM's
// long-running-operation protocol with their own "Fake-Poller-Status"
// protocol and route by an in-process context key: against them the
// provider's pollers, error parsing, Retry-After handling and endpoint
// configuration would never meet the shapes real ARM sends, and a VM's
// own self-deletion (curl from the bootstrap script with an IMDS token)
// could not reach them at all. Request and response bodies are the SDK's
// own model types, marshalled with the SDK's serde, so the shapes are the
// SDK's.
package arm
