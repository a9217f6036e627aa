package plan

import (
	"sort"
	"testing"
	"time"

	"github.com/burstdev/burst/internal/catalog"
	"github.com/burstdev/burst/pkg/spec"
)

// benchSpecs are the specs of the planning benchmark: broad CPU asks (the
// worst case: nearly every type of every cloud fits), GPU asks, ARM, and a
// narrow one.
var benchSpecs = []struct {
	name string
	edit func(c *spec.Cluster)
}{
	{"default-10", func(c *spec.Cluster) { c.Workers.Count = 10 }},
	{"cpu8-mem32-spot-500", func(c *spec.Cluster) {
		c.Workers.Count = 500
		c.Workers.Resources = spec.Resources{CPU: spec.IntBound{Value: 8, OrMore: true}, Memory: spec.SizeBound{Value: 32 * spec.GiB, OrMore: true}}
		c.Workers.Spot = spec.SpotWithFallback
	}},
	{"a100x8-spot-100-aws-gcp", func(c *spec.Cluster) {
		c.Providers = []string{"aws", "gcp"}
		c.Workers.Count = 100
		c.Workers.Resources = spec.Resources{GPU: spec.GPU{Model: "A100", Count: 8}}
		c.Workers.Spot = spec.SpotWithFallback
	}},
	{"any-gpu-4", func(c *spec.Cluster) {
		c.Workers.Count = 4
		c.Workers.Resources = spec.Resources{GPU: spec.GPU{Count: 1, OrMore: true}}
	}},
	{"arm64-cpu16-eu", func(c *spec.Cluster) {
		c.Regions = []string{"eu-west-1", "europe-west4", "westeurope"}
		c.Workers.Count = 50
		c.Workers.Resources = spec.Resources{CPU: spec.IntBound{Value: 16}, Arch: spec.ArchARM64}
		c.Workers.Spot = spec.Spot
	}},
	{"mem512-ondemand", func(c *spec.Cluster) {
		c.Workers.Count = 2
		c.Workers.Resources = spec.Resources{Memory: spec.SizeBound{Value: 512 * spec.GiB, OrMore: true}}
	}},
}

// BenchmarkMake plans each spec over the full three-cloud snapshot. Besides
// ns/op it reports the median and 99th percentile of single plans.
func BenchmarkMake(b *testing.B) {
	cat, err := catalog.EmbeddedAll()
	if err != nil {
		b.Fatal(err)
	}
	for _, bs := range benchSpecs {
		c := spec.Default("bench")
		bs.edit(&c)
		b.Run(bs.name, func(b *testing.B) {
			b.ReportAllocs()
			var ds []time.Duration
			for b.Loop() {
				start := time.Now()
				if _, err := Make(&c, cat, Options{}); err != nil {
					b.Fatal(err)
				}
				ds = append(ds, time.Since(start))
			}
			sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
			b.ReportMetric(float64(ds[len(ds)/2].Microseconds()), "median-µs")
			b.ReportMetric(float64(ds[len(ds)*99/100].Microseconds()), "p99-µs")
		})
	}
}
