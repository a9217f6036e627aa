package local_test

import (
	"testing"
	"time"

	"github.com/burstdev/burst/internal/plan"
	"github.com/burstdev/burst/internal/provider/local"
	"github.com/burstdev/burst/internal/provider/providertest"
)

func TestConformance(t *testing.T) {
	providertest.Run(t, func(t *testing.T) *providertest.Harness {
		p, err := local.New(local.Options{Dir: t.TempDir(), Tick: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		return &providertest.Harness{
			Provider:    p,
			SetCapacity: func(o plan.Offering, n int) { p.SetMaxMachines(n) },
		}
	})
}
