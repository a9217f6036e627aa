// Package azure is burst's Azure provider, built on azure-sdk-for-go
// (armcompute, armnetwork, armresources, armmsi, armauthorization).
//
// A cluster lives in one resource group per location, named
// burst-<cluster>-<location> and tagged burst-cluster and burst-owner. The
// group holds the cluster's NSG (traffic inside the virtual network, SSH
// and the Dask ports only from the caller's address), its virtual network
// and subnet, and a user-assigned managed identity whose only role is
// Virtual Machine Contributor on that group, which is what lets a machine
// delete itself when idle or past its deadline (a guest shutdown would
// leave an Azure VM allocated and billed).
//
// Workers are Flexible VM scale sets: one PUT sets a set's capacity (up to
// 1000 VMs, 200 for N- and H-series), with an instance mix of up to five
// sizes where they can share one, Spot with eviction policy Delete and
// maxPrice -1, and NICs and OS disks with deleteOption Delete. The head is
// a single VM with a public address. Every resource has a deterministic
// name, so a retried create is a PUT of the same name and changes nothing.
// `down` deletes the resource groups: one call removes everything.
//
// `burst gc` (provider.Collector) lists the groups as the cluster's
// resources, dated by their burst-created tag, and deletes them as down
// does, retrying deletes a dependency blocks until its context ends.
// Machines reports a VM shut down from inside (stopped but allocated and
// billed) or deallocated as stopped, so gc deletes it.
//
// Credentials come from DefaultAzureCredential; the subscription from
// configuration, AZURE_SUBSCRIPTION_ID or the Azure CLI's profile. Nothing
// is resolved or called until the first operation. The provider is tested
// over HTTP against the ARM simulator in internal/cloudsim/arm.
package azure
