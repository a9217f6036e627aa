package azure

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
)

// Every resource burst makes has a name derived from what it is for, so a
// retried create PUTs the same name and changes nothing: ARM's idempotency
// is PUT-by-name.

// TagToken marks a scale set or head VM with the Launch token that made
// it, so a retried Launch finds it.
const TagToken = "burst-token"

// resourceGroup is the cluster's group in a location.
func resourceGroup(cluster, location string) string { return "burst-" + cluster + "-" + location }

func nsgName(cluster string) string      { return cluster + "-nsg" }
func vnetName(cluster string) string     { return cluster + "-vnet" }
func identityName(cluster string) string { return cluster + "-identity" }

const subnetName = "machines"

func hash(s string, n int) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])[:n]
}

// scaleSetName names the i-th scale set of a Launch: "<cluster>-w-<8 hex
// of the token>-<i>". Its VMs are "<set>_<8 hex>", as Azure names the VMs
// of a Flexible set.
func scaleSetName(cluster, token string, i int) string {
	return fmt.Sprintf("%s-w-%s-%d", cluster, hash(token, 8), i)
}

// headName names the head VM of a Launch's i-th attempt.
func headName(cluster, token string, i int) string {
	return fmt.Sprintf("%s-h-%s-%d", cluster, hash(token, 8), i)
}

// headComputerName is the head's host name.
func headComputerName(cluster string) string { return cluster + "-head" }

// computerNamePrefix is a scale set's host-name prefix: short enough for
// every OS limit; Azure appends six characters per VM.
func computerNamePrefix(set string) string { return "b" + hash(set, 8) }

// guid is a stable GUID-shaped name (role assignments must be named by a
// GUID).
func guid(parts ...string) string {
	h := hash(strings.Join(parts, "/"), 32)
	return h[:8] + "-" + h[8:12] + "-4" + h[13:16] + "-a" + h[17:20] + "-" + h[20:32]
}

// machineID is a machine's burst ID: "<resource group>/<VM name>", short
// enough for tables and enough to find the VM.
func machineID(rg, vm string) string { return rg + "/" + vm }

// parseMachineID splits a machine ID; ok is false for IDs burst did not
// make.
func parseMachineID(id string) (rg, vm string, ok bool) {
	rg, vm, ok = strings.Cut(id, "/")
	if !ok || !strings.HasPrefix(rg, "burst-") || vm == "" || strings.Contains(vm, "/") {
		return "", "", false
	}
	return rg, vm, true
}

// setOfVM returns the Flexible scale set a VM belongs to by its name
// ("<set>_<8 hex>"), or "" for a standalone VM.
func setOfVM(vm string) string {
	i := strings.LastIndexByte(vm, '_')
	if i < 0 {
		return ""
	}
	return vm[:i]
}

// resourceGroupOfID extracts the resource group from an ARM resource ID.
func resourceGroupOfID(id string) string {
	parts := strings.Split(id, "/")
	for i := 0; i+1 < len(parts); i++ {
		if strings.EqualFold(parts[i], "resourceGroups") {
			return parts[i+1]
		}
	}
	return ""
}
