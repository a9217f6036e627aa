package azure_test

import (
	"errors"
	"testing"

	"github.com/burstdev/burst/internal/cloudsim"
	"github.com/burstdev/burst/internal/plan"
	"github.com/burstdev/burst/internal/provider"
	"github.com/burstdev/burst/internal/provider/providertest"
)

// TestConformance runs the provider contract suite over HTTP against the
// ARM simulator, with capacity and faults injected in the simulator.
func TestConformance(t *testing.T) {
	providertest.Run(t, func(t *testing.T) *providertest.Harness {
		e := newEnv(t)
		return &providertest.Harness{
			Provider: e.p,
			SetCapacity: func(o plan.Offering, n int) {
				e.sim.SetRegionCapacity(o.InstanceType, o.Region, string(o.Capacity), n)
			},
			Fail: func(method string, kind error) {
				action := map[string]string{
					"Launch":    "Microsoft.Compute/virtualMachineScaleSets/write",
					"Machines":  "Microsoft.Resources/subscriptions/resourceGroups/read",
					"Terminate": "Microsoft.Compute/virtualMachineScaleSets/delete/action",
				}[method]
				f := cloudsim.Fault{Service: "arm", Action: action, Times: 1}
				switch {
				case errors.Is(kind, provider.ErrNoCapacity):
					f.Kind = cloudsim.KindCapacity
				case errors.Is(kind, provider.ErrQuota):
					f.Kind = cloudsim.KindQuota
				case errors.Is(kind, provider.ErrThrottled):
					// Every try, the first and MaxRetries retries, is throttled.
					f.Kind, f.Times = cloudsim.KindThrottle, e.opts.MaxRetries+1
				case errors.Is(kind, provider.ErrAuth):
					f.Kind = cloudsim.KindAuth
				case errors.Is(kind, provider.ErrInvalid):
					f.Kind = cloudsim.KindInvalid
				default:
					t.Fatalf("no fault for %v", kind)
				}
				e.model.Inject(f)
			},
		}
	})
}
