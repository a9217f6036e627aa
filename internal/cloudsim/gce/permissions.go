package gce

import "sort"

// permissions maps each GCE method the simulator serves (by its method
// ID, as logged) to the IAM permissions Google documents for calling it
// the way burst does. bulkInsert's list follows the instance properties
// burst sets: labels, metadata (startup-script), network tags, a service
// account, an external IP, and a boot disk from a public image.
var permissions = map[string][]string{
	"compute.regionInstances.bulkInsert": {
		"compute.instances.create", "compute.disks.create", "compute.images.useReadOnly",
		"compute.instances.setLabels", "compute.instances.setMetadata", "compute.instances.setTags",
		"compute.instances.setServiceAccount", "iam.serviceAccounts.actAs",
		"compute.subnetworks.use", "compute.subnetworks.useExternalIp",
	},
	"compute.instances.aggregatedList":        {"compute.instances.list"},
	"compute.instances.list":                  {"compute.instances.list"},
	"compute.instances.get":                   {"compute.instances.get"},
	"compute.instances.delete":                {"compute.instances.delete"},
	"compute.regionOperations.get":            {"compute.regionOperations.get"},
	"compute.regionOperations.wait":           {"compute.regionOperations.get"},
	"compute.zoneOperations.get":              {"compute.zoneOperations.get"},
	"compute.zoneOperations.wait":             {"compute.zoneOperations.get"},
	"compute.globalOperations.get":            {"compute.globalOperations.get"},
	"compute.globalOperations.wait":           {"compute.globalOperations.get"},
	"compute.projects.get":                    {"compute.projects.get"},
	"compute.regions.list":                    {"compute.regions.list"},
	"compute.regions.get":                     {"compute.regions.get"},
	"compute.machineTypes.aggregatedList":     {"compute.machineTypes.list"},
	"compute.acceleratorTypes.aggregatedList": {"compute.acceleratorTypes.list"},
	"compute.images.getFromFamily":            {"compute.images.getFromFamily"},
	"compute.networks.get":                    {"compute.networks.get"},
	"compute.firewalls.insert":                {"compute.firewalls.create", "compute.networks.updatePolicy"},
	"compute.firewalls.list":                  {"compute.firewalls.list"},
	"compute.firewalls.get":                   {"compute.firewalls.get"},
	"compute.firewalls.patch":                 {"compute.firewalls.update", "compute.networks.updatePolicy"},
	"compute.firewalls.delete":                {"compute.firewalls.delete", "compute.networks.updatePolicy"},
	// A batch request needs no permission of its own; each call in it
	// is checked (and logged) as itself.
	BatchAction: {},
	// The Cloud Billing Catalog is readable by any authenticated caller.
	"cloudbilling.services.skus.list": {},
}

// Permissions returns the IAM permissions a logged method needs, and false
// for a method the table does not know (a test should fail on it).
func Permissions(method string) ([]string, bool) {
	p, ok := permissions[method]
	return p, ok
}

// PermissionsFor returns the sorted union of the permissions the methods
// need and the methods the table does not know.
func PermissionsFor(methods []string) (perms, unknown []string) {
	set := map[string]bool{}
	for _, m := range methods {
		p, ok := permissions[m]
		if !ok {
			unknown = append(unknown, m)
			continue
		}
		for _, x := range p {
			set[x] = true
		}
	}
	for x := range set {
		perms = append(perms, x)
	}
	sort.Strings(perms)
	sort.Strings(unknown)
	return perms, unknown
}
