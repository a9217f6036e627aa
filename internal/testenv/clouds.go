package testenv

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/burstdev/burst/internal/cloudsim"
	"github.com/burstdev/burst/internal/cloudsim/simenv"
	"github.com/burstdev/burst/internal/provider"
	"github.com/burstdev/burst/internal/provider/local"
)

// Clouds lists the providers the cross-cloud suites run against: local on
// this host, and each cloud over the wire against its simulator.
func Clouds() []string { return []string{"local", "aws", "gcp", "azure"} }

// CloudOptions shape a simulator.
type CloudOptions struct {
	// Latency is added to every API call.
	Latency time.Duration
	// Throttles turns on the cloud's documented rate limits.
	Throttles bool
}

// Cloud is a provider under test, with what checks need to look behind
// burst's back.
type Cloud struct {
	Name string
	// Model is the simulator's model (nil for local).
	Model *cloudsim.Model
	// Region is where the simulator has capacity for tests.
	Region string
	s      *Sandbox
}

// StartCloud starts the named provider's simulator (nothing for local) and
// points the sandbox's burst at it, with simenv's recipe.
func StartCloud(t testing.TB, s *Sandbox, name string, opts CloudOptions) *Cloud {
	t.Helper()
	c := &Cloud{Name: name, s: s}
	if name == "local" {
		s.Env = append(s.Env, "BURST_PROVIDER="+name)
		c.Region = local.Region
		return c
	}
	sim, err := simenv.Start(name, simenv.Options{Latency: opts.Latency, Throttles: opts.Throttles})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	c.Model, c.Region = sim.Model, sim.Region
	s.Env = append(s.Env, sim.Env...)
	// Plan from the simulator's own catalog, as a user plans from their
	// account's after `burst catalog refresh`: the embedded snapshot lists
	// every size of the real cloud, the simulator a subset.
	if r := s.Run("catalog", "refresh", "--provider", name); r.Code != 0 {
		t.Fatalf("catalog refresh against the %s simulator: exit %d\n%s", name, r.Code, r.Stderr)
	}
	c.Model.ResetRequests()
	return c
}

// Count returns a cluster's live heads and workers as the cloud (not burst)
// sees them.
func (c *Cloud) Count(cluster string) (heads, workers int) {
	if c.Model == nil {
		p, err := local.New(local.Options{Dir: c.s.State + "/burst/local"})
		if err != nil {
			c.s.T.Fatal(err)
		}
		ms, err := p.Machines(context.Background(), provider.Filter{Cluster: cluster})
		if err != nil {
			c.s.T.Fatal(err)
		}
		for _, m := range ms {
			if m.State.Live() {
				if m.Role == "head" {
					heads++
				} else {
					workers++
				}
			}
		}
		return heads, workers
	}
	for _, in := range c.Model.Instances(func(in *cloudsim.Instance) bool {
		return in.Tags[provider.TagCluster] == cluster && (in.State == cloudsim.Pending || in.State == cloudsim.Running)
	}) {
		if in.Tags[provider.TagRole] == "head" {
			heads++
		} else {
			workers++
		}
	}
	return heads, workers
}

// Leaks lists everything burst created that still exists: simulator
// instances (not terminated) and tagged resources, or local machine
// directories and processes.
func (c *Cloud) Leaks() []string {
	if c.Model == nil {
		var out []string
		clusters, _ := os.ReadDir(filepath.Join(c.s.State, "burst", "local"))
		for _, cl := range clusters {
			if cl.IsDir() && cl.Name()[0] != '.' {
				for _, m := range c.s.LocalMachineDirs(cl.Name()) {
					out = append(out, "local/"+cl.Name()+"/"+m)
				}
			}
		}
		return append(out, c.s.Processes()...)
	}
	return c.Model.Leaks(provider.TagCluster)
}

// Requests counts API requests the simulator has served (0 for local).
func (c *Cloud) Requests() int {
	if c.Model == nil {
		return 0
	}
	return len(c.Model.Requests())
}
