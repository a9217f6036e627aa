package gcp

import (
	"fmt"
	"strings"
)

// Permissions is every IAM permission burst's calls need, and no more:
// the methods it calls (bulkInsert with labels, metadata, network tags, a
// service account, an external IP and a boot disk from a public image;
// aggregated lists; deletes; operation waits; regions, projects, machine
// and accelerator types and images for the catalog and preflight;
// firewall rules and the network they sit on, and listing them for gc). A test checks it against
// the IAM permissions of every method in the simulator's request logs.
var Permissions = []string{
	"compute.acceleratorTypes.list",
	"compute.disks.create",
	"compute.firewalls.create",
	"compute.firewalls.delete",
	"compute.firewalls.get",
	"compute.firewalls.list",
	"compute.firewalls.update",
	"compute.globalOperations.get",
	"compute.images.getFromFamily",
	"compute.images.useReadOnly",
	"compute.instances.create",
	"compute.instances.delete",
	"compute.instances.list",
	"compute.instances.setLabels",
	"compute.instances.setMetadata",
	"compute.instances.setServiceAccount",
	"compute.instances.setTags",
	"compute.machineTypes.list",
	"compute.networks.get",
	"compute.networks.updatePolicy",
	"compute.projects.get",
	"compute.regionOperations.get",
	"compute.regions.get",
	"compute.regions.list",
	"compute.subnetworks.use",
	"compute.subnetworks.useExternalIp",
	"iam.serviceAccounts.actAs",
}

// Policy returns burst's custom role for `gcloud iam roles create burst
// --project PROJECT --file FILE`. Machines delete themselves with their
// own service account, which needs compute.instances.delete (a separate,
// smaller role; see docs/design/gcp.md).
func Policy() string {
	var b strings.Builder
	b.WriteString("# burst's custom role: gcloud iam roles create burst --project PROJECT --file burst-role.yaml\n")
	b.WriteString("title: burst\n")
	b.WriteString("description: Launch, list and delete burst clusters (Compute Engine bulkInsert, firewall rules, quotas, catalog)\n")
	b.WriteString("stage: GA\n")
	b.WriteString("includedPermissions:\n")
	for _, p := range Permissions {
		fmt.Fprintf(&b, "- %s\n", p)
	}
	return b.String()
}
