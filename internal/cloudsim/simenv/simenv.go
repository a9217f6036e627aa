// Package simenv starts a cloud simulator by provider name and says how to
// point burst at it: the environment variables the burst binary (or a
// config.Config loaded from them) reads to reach the simulator with dummy
// credentials. The tests (internal/testenv) and the benchmark program
// (internal/tools/bench) share this one recipe.
package simenv

import (
	"fmt"
	"net/http/httptest"
	"time"

	"github.com/burstdev/burst/internal/cloudsim"
	"github.com/burstdev/burst/internal/cloudsim/arm"
	simec2 "github.com/burstdev/burst/internal/cloudsim/ec2"
	"github.com/burstdev/burst/internal/cloudsim/gce"
)

// CallerCIDR is the address range the simulated clusters let in from
// outside (a documentation range): burst never looks up this machine's
// public address against a simulator.
const CallerCIDR = "203.0.113.7/32"

// Clouds are the providers that have a simulator.
func Clouds() []string { return []string{"aws", "gcp", "azure"} }

// Options shape a simulator.
type Options struct {
	// Latency is added to every API call.
	Latency time.Duration
	// Throttles turns on the cloud's documented rate limits from the start
	// (see Sim.Throttle).
	Throttles bool
}

// Sim is a running simulator.
type Sim struct {
	// Provider is burst's name of the cloud: "aws", "gcp", "azure".
	Provider string
	// URL is the simulator's endpoint.
	URL string
	// Region is where the simulator has capacity for clusters.
	Region string
	// Env are the variables that point burst at the simulator (endpoint,
	// dummy credentials, allowed CIDRs, region), as KEY=VALUE.
	Env []string
	// Model is the simulated cloud: latency, buckets, request log.
	Model *cloudsim.Model

	throttle func()
	close    func()
}

// Start starts the named cloud's simulator on a loopback port.
func Start(name string, opts Options) (*Sim, error) {
	s := &Sim{Provider: name}
	switch name {
	case "aws":
		m := simec2.NewModel(cloudsim.Config{Latency: opts.Latency})
		srv := httptest.NewServer(simec2.New(m))
		s.Model, s.URL, s.Region, s.close = m, srv.URL, "us-east-1", srv.Close
		s.throttle = func() { simec2.SetDocumentedThrottles(m) }
		// The SDK's own chain, pointed at the simulator and nothing else:
		// no profile files, no instance metadata, no CA bundle override.
		s.Env = []string{"AWS_ENDPOINT_URL=" + srv.URL, "AWS_ACCESS_KEY_ID=AKIDSIMULATOR", "AWS_SECRET_ACCESS_KEY=simulator",
			"AWS_REGION=" + s.Region, "AWS_EC2_METADATA_DISABLED=true", "AWS_CONFIG_FILE=/dev/null",
			"AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_CA_BUNDLE=", "AWS_PROFILE=",
			"BURST_AWS_ALLOWED_CIDRS=" + CallerCIDR}
	case "gcp":
		cfg := gce.ModelConfig()
		cfg.Latency = opts.Latency
		m := cloudsim.New(cfg)
		srv := gce.Start(m, gce.Options{})
		s.Model, s.URL, s.Region, s.close = m, srv.URL(), "us-central1", srv.Close
		s.throttle = func() { gce.SetRateLimits(m) }
		s.Env = []string{"BURST_GCP_ENDPOINT=" + srv.URL(), "BURST_GCP_PROJECT=" + srv.Project(),
			"BURST_GCP_ALLOWED_CIDRS=" + CallerCIDR}
	case "azure":
		m := arm.NewModel(cloudsim.Config{Latency: opts.Latency})
		srv := arm.New(arm.Options{Model: m})
		s.Model, s.URL, s.Region, s.close = m, srv.Start(), "eastus", srv.Close
		s.throttle = srv.SetARMThrottles
		s.Env = []string{"BURST_AZURE_ENDPOINT=" + s.URL, "BURST_AZURE_PRICES_ENDPOINT=" + s.URL,
			"BURST_AZURE_SUBSCRIPTION=" + srv.Subscription(), "BURST_AZURE_CALLER_CIDR=" + CallerCIDR}
	default:
		return nil, fmt.Errorf("simenv: no simulator for provider %q (have %v)", name, Clouds())
	}
	s.Env = append(s.Env, "BURST_PROVIDER="+name, "BURST_REGION="+s.Region)
	if opts.Throttles {
		s.Throttle()
	}
	return s, nil
}

// Throttle installs the cloud's documented rate limits as model buckets,
// full: EC2's request and resource buckets (simec2.DocumentedThrottles),
// GCE's per-minute and bulk limits (gce.SetRateLimits), ARM's read, write,
// delete and VM-creation budgets (arm.Server.SetARMThrottles). Calling it
// again refills them.
func (s *Sim) Throttle() { s.throttle() }

// Getenv reads Env, for config.Options.Getenv and the providers' own
// look-ups; keys it does not set read as empty.
func (s *Sim) Getenv(key string) string {
	for _, kv := range s.Env {
		if len(kv) > len(key) && kv[:len(key)] == key && kv[len(key)] == '=' {
			return kv[len(key)+1:]
		}
	}
	return ""
}

// Close stops the simulator.
func (s *Sim) Close() { s.close() }
