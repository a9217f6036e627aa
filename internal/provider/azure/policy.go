package azure

import (
	"encoding/json"
	"slices"
)

// Actions are the ARM operations burst performs, as a custom role lists
// them: every request the provider makes, and the linked checks ARM makes
// on the caller when a VM joins a subnet and NSG, gets its NIC and public
// IP made for it, and is given the cluster's identity. A test runs the
// provider against the simulator and checks that every operation it logs
// is here and every action here was used.
var Actions = []string{
	"Microsoft.Resources/subscriptions/resourceGroups/read",
	"Microsoft.Resources/subscriptions/resourceGroups/write",
	"Microsoft.Resources/subscriptions/resourceGroups/delete",
	"Microsoft.Resources/subscriptions/operationresults/read",
	"Microsoft.Compute/skus/read",
	"Microsoft.Compute/locations/usages/read",
	"Microsoft.Compute/locations/operations/read",
	"Microsoft.Compute/virtualMachines/read",
	"Microsoft.Compute/virtualMachines/write",
	"Microsoft.Compute/virtualMachines/delete",
	"Microsoft.Compute/virtualMachineScaleSets/read",
	"Microsoft.Compute/virtualMachineScaleSets/write",
	"Microsoft.Compute/virtualMachineScaleSets/delete/action",
	"Microsoft.Network/locations/operations/read",
	"Microsoft.Network/networkSecurityGroups/read",
	"Microsoft.Network/networkSecurityGroups/write",
	"Microsoft.Network/networkSecurityGroups/join/action",
	"Microsoft.Network/virtualNetworks/read",
	"Microsoft.Network/virtualNetworks/write",
	"Microsoft.Network/virtualNetworks/subnets/join/action",
	"Microsoft.Network/networkInterfaces/read",
	"Microsoft.Network/networkInterfaces/write",
	"Microsoft.Network/networkInterfaces/join/action",
	"Microsoft.Network/publicIPAddresses/read",
	"Microsoft.Network/publicIPAddresses/write",
	"Microsoft.Network/publicIPAddresses/join/action",
	"Microsoft.ManagedIdentity/userAssignedIdentities/read",
	"Microsoft.ManagedIdentity/userAssignedIdentities/write",
	"Microsoft.ManagedIdentity/userAssignedIdentities/assign/action",
	"Microsoft.Authorization/roleAssignments/write",
	"Microsoft.Authorization/roleAssignments/delete",
}

// FallbackActions are the actions of Actions that a normal life does not
// use: reads of resources burst PUTs and then does not read back (settle:
// the operation's status says enough), kept because the SDK's poller reads
// the resource when ARM answers a PUT without Azure-AsyncOperation, or
// with a status burst cannot read. Dropping them would turn that case into
// an authorization failure.
var FallbackActions = []string{
	"Microsoft.Network/networkSecurityGroups/read",
	"Microsoft.Network/virtualNetworks/read",
}

// Policy returns the custom role definition burst needs, in the shape `az
// role definition create --role-definition @file` reads. Replace
// {subscriptionId}; assign the role to whoever runs burst. Since it may
// write role assignments, assign it with a condition that limits them to
// the Virtual Machine Contributor role (burst gives only that, and only on
// its clusters' resource groups).
func Policy() string {
	def := struct {
		Name             string   `json:"Name"`
		IsCustom         bool     `json:"IsCustom"`
		Description      string   `json:"Description"`
		Actions          []string `json:"Actions"`
		NotActions       []string `json:"NotActions"`
		DataActions      []string `json:"DataActions"`
		NotDataActions   []string `json:"NotDataActions"`
		AssignableScopes []string `json:"AssignableScopes"`
	}{
		Name:     "burst",
		IsCustom: true,
		Description: "What burst needs to run clusters: a resource group per cluster with its network, managed identity and " +
			"Flexible VM scale sets. Role assignments it makes give Virtual Machine Contributor (" + VirtualMachineContributor +
			") on a cluster's own resource group to the cluster's identity; constrain roleAssignments/write to that role with an assignment condition.",
		Actions:          slices.Clone(Actions),
		NotActions:       []string{},
		DataActions:      []string{},
		NotDataActions:   []string{},
		AssignableScopes: []string{"/subscriptions/{subscriptionId}"},
	}
	b, err := json.MarshalIndent(def, "", "  ")
	if err != nil {
		panic(err) // a fixed struct always marshals
	}
	return string(b) + "\n"
}
