package fake_test

import (
	"testing"

	"github.com/burstdev/burst/internal/plan"
	"github.com/burstdev/burst/internal/provider"
	"github.com/burstdev/burst/internal/provider/fake"
	"github.com/burstdev/burst/internal/provider/providertest"
)

func TestConformance(t *testing.T) {
	providertest.Run(t, func(t *testing.T) *providertest.Harness {
		p := fake.New()
		return &providertest.Harness{
			Provider:    p,
			SetCapacity: func(o plan.Offering, n int) { p.SetCapacity(o.Key(), n) },
			Fail: func(method string, kind error) {
				p.Fail(method, &provider.Error{Kind: kind, Op: method, Code: "Injected"})
			},
		}
	})
}
