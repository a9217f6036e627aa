package gcp

import (
	"errors"
	"testing"

	"github.com/burstdev/burst/internal/cloudsim"
	"github.com/burstdev/burst/internal/cloudsim/gce"
	"github.com/burstdev/burst/internal/plan"
	"github.com/burstdev/burst/internal/provider"
	"github.com/burstdev/burst/internal/provider/providertest"
)

// faultActions are the GCE methods behind each provider call the
// conformance suite injects faults into.
var faultActions = map[string]string{
	"Launch":    "compute.regionInstances.bulkInsert",
	"Machines":  "compute.instances.aggregatedList",
	"Terminate": "compute.instances.delete",
}

var faultKinds = map[error]cloudsim.Kind{
	provider.ErrNoCapacity: cloudsim.KindCapacity,
	provider.ErrQuota:      cloudsim.KindQuota,
	provider.ErrThrottled:  cloudsim.KindThrottle,
	provider.ErrAuth:       cloudsim.KindAuth,
	provider.ErrInvalid:    cloudsim.KindInvalid,
	provider.ErrNotFound:   cloudsim.KindNotFound,
}

// TestConformance runs the provider contract suite over the wire against
// the GCE simulator.
func TestConformance(t *testing.T) {
	providertest.Run(t, func(t *testing.T) *providertest.Harness {
		e := newSim(t)
		return &providertest.Harness{
			Provider: e.p,
			SetCapacity: func(o plan.Offering, n int) {
				e.setRegionCapacity(o.InstanceType, o.Region, o.Capacity, n)
			},
			Fail: func(method string, kind error) {
				f := cloudsim.Fault{Service: gce.Service, Action: faultActions[method], Kind: faultKinds[kind], Times: 1}
				if errors.Is(kind, provider.ErrThrottled) {
					// The provider retries throttled calls; make every try fail.
					f.Times = e.opts.Retries + 1
				}
				e.model.Inject(f)
			},
		}
	})
}
