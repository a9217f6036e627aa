package testenv

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/burstdev/burst/internal/cloudsim"
	"github.com/burstdev/burst/internal/cloudsim/arm"
	simec2 "github.com/burstdev/burst/internal/cloudsim/ec2"
	"github.com/burstdev/burst/internal/cloudsim/gce"
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
// points the sandbox's burst at it.
func StartCloud(t testing.TB, s *Sandbox, name string, opts CloudOptions) *Cloud {
	t.Helper()
	c := &Cloud{Name: name, s: s}
	s.Env = append(s.Env, "BURST_PROVIDER="+name)
	switch name {
	case "local":
		c.Region = local.Region
	case "gcp":
		cfg := gce.ModelConfig()
		cfg.Latency = opts.Latency
		m := cloudsim.New(cfg)
		if opts.Throttles {
			gce.SetRateLimits(m)
		}
		srv := gce.Start(m, gce.Options{})
		t.Cleanup(srv.Close)
		c.Model, c.Region = m, "us-central1"
		s.Env = append(s.Env, "BURST_GCP_ENDPOINT="+srv.URL(), "BURST_GCP_PROJECT="+srv.Project(),
			"BURST_GCP_ALLOWED_CIDRS=203.0.113.7/32", "BURST_REGION="+c.Region)
	case "aws":
		m := simec2.NewModel(cloudsim.Config{Latency: opts.Latency})
		if opts.Throttles {
			simec2.SetDocumentedThrottles(m)
		}
		srv := httptest.NewServer(simec2.New(m))
		t.Cleanup(srv.Close)
		c.Model, c.Region = m, "us-east-1"
		// The SDK's own chain, pointed at the simulator and nothing else:
		// no profile files, no instance metadata, no CA bundle override.
		s.Env = append(s.Env, "AWS_ENDPOINT_URL="+srv.URL, "AWS_ACCESS_KEY_ID=AKIDSIMULATOR", "AWS_SECRET_ACCESS_KEY=simulator",
			"AWS_REGION="+c.Region, "AWS_EC2_METADATA_DISABLED=true", "AWS_CONFIG_FILE=/dev/null",
			"AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_CA_BUNDLE=", "AWS_PROFILE=",
			"BURST_AWS_ALLOWED_CIDRS=203.0.113.7/32", "BURST_REGION="+c.Region)
	case "azure":
		m := arm.NewModel(cloudsim.Config{Latency: opts.Latency})
		srv := arm.New(arm.Options{Model: m})
		if opts.Throttles {
			srv.SetARMThrottles()
		}
		url := srv.Start()
		t.Cleanup(srv.Close)
		c.Model, c.Region = m, "eastus"
		s.Env = append(s.Env, "BURST_AZURE_ENDPOINT="+url, "BURST_AZURE_PRICES_ENDPOINT="+url, "BURST_AZURE_SUBSCRIPTION="+srv.Subscription(),
			"BURST_AZURE_CALLER_CIDR=203.0.113.7/32", "BURST_REGION="+c.Region)
	default:
		t.Fatalf("no simulator for provider %q", name)
	}
	if c.Model != nil {
		// Plan from the simulator's own catalog, as a user plans from their
		// account's after `burst catalog refresh`: the embedded snapshot
		// lists every size of the real cloud, the simulator a subset.
		if r := s.Run("catalog", "refresh", "--provider", name); r.Code != 0 {
			t.Fatalf("catalog refresh against the %s simulator: exit %d\n%s", name, r.Code, r.Stderr)
		}
		c.Model.ResetRequests()
	}
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
