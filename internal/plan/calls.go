package plan

import "slices"

// CallLimit is how one cloud's bulk launch call can be cut: the most
// machines one call may ask for, and how many instance types it may mix.
type CallLimit struct {
	API        string
	MaxPerCall int
	// MaxTypes is the most instance types one call may try; MaxPairs, when
	// set, bounds types x zones instead (EC2 Fleet overrides).
	MaxTypes int
	MaxPairs int
}

// CallLimits are the documented limits of each cloud's launch call (see
// DESIGN.md, "Cloud facts"): EC2 CreateFleet (instant) with overrides of
// types x subnets; GCE regionInstances.bulkInsert, one machine type per
// call; an Azure Flexible scale set per pool with an instance mix of up to
// five sizes. Providers not listed launch one type at a time, 1000 a call.
var CallLimits = map[string]CallLimit{
	"aws":   {API: "CreateFleet", MaxPerCall: 1000, MaxPairs: 60},
	"gcp":   {API: "regionInstances.bulkInsert", MaxPerCall: 5000, MaxTypes: 1},
	"azure": {API: "virtualMachineScaleSets.createOrUpdate", MaxPerCall: 1000, MaxTypes: 5},
}

var defaultCallLimit = CallLimit{API: "Launch", MaxPerCall: 1000, MaxTypes: 1}

// calls splits a group's count into the launch calls its provider expects
// with its first choices.
func calls(s Site, g Group, zones []string) []Call {
	if len(g.Offerings) == 0 || g.Count <= 0 {
		return nil
	}
	lim, ok := CallLimits[s.Provider]
	if !ok {
		lim = defaultCallLimit
	}
	maxTypes := lim.MaxTypes
	if lim.MaxPairs > 0 {
		perType := max(len(zones), 1)
		if g.Offerings[0].Zone != "" {
			perType = 1
		}
		maxTypes = max(lim.MaxPairs/perType, 1)
	}
	var types []string
	for _, o := range g.Offerings {
		if len(types) == maxTypes {
			break
		}
		if !slices.Contains(types, o.InstanceType) {
			types = append(types, o.InstanceType)
		}
	}
	var out []Call
	for left := g.Count; left > 0; left -= lim.MaxPerCall {
		out = append(out, Call{Provider: s.Provider, Region: s.Region, API: lim.API, Count: min(left, lim.MaxPerCall), InstanceTypes: types})
	}
	return out
}
