package aws_test

import (
	"testing"

	"github.com/burstdev/burst/internal/provider/providertest"
)

// TestConformance runs the provider contract over the wire: the AWS SDK
// against the EC2 simulator, with capacity and faults set in its model.
func TestConformance(t *testing.T) {
	providertest.Run(t, func(t *testing.T) *providertest.Harness {
		e := newEnv(t)
		return &providertest.Harness{Provider: e.p, SetCapacity: e.setCapacity, Fail: e.fail}
	})
}
