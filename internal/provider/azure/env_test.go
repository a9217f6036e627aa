package azure_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/burstdev/burst/internal/cloudsim"
	"github.com/burstdev/burst/internal/cloudsim/arm"
	"github.com/burstdev/burst/internal/provider/azure"
)

// env is a provider talking HTTP to a fresh ARM simulator on a manual
// clock: the provider's sleeps (polls, throttle backoff) advance the clock
// instead of waiting.
type env struct {
	t     *testing.T
	clock *cloudsim.Clock
	model *cloudsim.Model
	sim   *arm.Server
	url   string
	opts  azure.Options
	p     *azure.Provider
	// slept records the provider's sleeps.
	slept []time.Duration
}

type envOption func(*cloudsim.Config, *azure.Options)

func newEnv(t *testing.T, mods ...envOption) *env {
	t.Helper()
	e := &env{t: t, clock: cloudsim.NewClock(time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC))}
	cfg := cloudsim.Config{Now: e.clock.Now, Sleep: e.clock.Sleep, BootDelay: 20 * time.Second, TerminateDelay: 10 * time.Second}
	e.opts = azure.Options{
		DataDir: t.TempDir(), Now: e.clock.Now, PollInterval: 5 * time.Second, MaxRetries: 2,
		Sleep: func(ctx context.Context, d time.Duration) error {
			e.slept = append(e.slept, d)
			e.clock.Advance(d)
			return ctx.Err()
		},
		HTTPClient: &http.Client{Timeout: 30 * time.Second},
	}
	for _, m := range mods {
		m(&cfg, &e.opts)
	}
	e.model = arm.NewModel(cfg)
	e.sim = arm.New(arm.Options{Model: e.model})
	e.url = e.sim.Start()
	t.Cleanup(e.sim.Close)
	e.opts.Subscription = e.sim.Subscription()
	e.opts.Endpoint = e.url
	p, err := azure.New(e.opts)
	if err != nil {
		t.Fatal(err)
	}
	e.p = p
	return e
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return c
}
