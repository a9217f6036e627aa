package local

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/burstdev/burst/internal/catalog"
	"github.com/burstdev/burst/internal/provider"
)

// Name is the local provider's registry name.
const Name = "local"

// Region and zone names of this host.
const (
	Region = "local"
	Zone   = "local"
	// TypeName is the one machine type: this host.
	TypeName = "local"
)

// Entry registers the local provider.
var Entry = provider.Entry{
	Name:        Name,
	Description: "processes on this machine (no cloud account needed)",
	New: func(ctx context.Context, env provider.Env) (provider.Provider, error) {
		return New(Options{
			Dir:         filepath.Join(env.Config.StateDir, "local"),
			Python:      env.Config.Local.Python,
			MaxMachines: env.Config.Local.MaxMachines,
			Now:         env.Now,
		})
	},
}

// Options configure the local provider.
type Options struct {
	// Dir is where machine directories live.
	Dir string
	// Python is the interpreter with Dask; empty means discover it.
	Python string
	// MaxMachines caps live machines on this host; 0 derives it from memory.
	MaxMachines int
	// Tick is the watchdog's poll period (0: the bootstrap's default).
	Tick time.Duration
	// Now is the clock.
	Now func() time.Time
}

// Provider is the local provider.
type Provider struct {
	opts Options
	host catalog.Type
	// mu serialises launches and terminations within this process; a file
	// lock does the same across burst processes.
	mu sync.Mutex

	pyOnce    sync.Once
	python    string
	pyVersion string
	pyErr     error
}

var (
	_ provider.Provider    = (*Provider)(nil)
	_ provider.Preflighter = (*Provider)(nil)
	_ provider.Limiter     = (*Provider)(nil)
	_ provider.Preparer    = (*Provider)(nil)
)

// New returns a local provider. It inspects the host (CPUs, memory, GPUs)
// but starts nothing.
func New(opts Options) (*Provider, error) {
	if opts.Dir == "" {
		return nil, fmt.Errorf("local: no state directory")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	host := HostType()
	if opts.MaxMachines <= 0 {
		// A Dask worker process needs a few hundred MiB; allow two per GiB,
		// at least four.
		opts.MaxMachines = max(4, int(host.MemoryGiB*2))
	}
	return &Provider{opts: opts, host: host}, nil
}

// Name implements provider.Provider.
func (p *Provider) Name() string { return Name }

// Limits implements provider.Limiter: launches are cheap and local.
func (p *Provider) Limits() provider.Limits {
	return provider.Limits{MaxPerLaunch: p.opts.MaxMachines, MaxInFlight: 1}
}

// Catalog implements provider.Provider: one type, this host, free.
func (p *Provider) Catalog(ctx context.Context) (*catalog.Catalog, error) {
	return &catalog.Catalog{
		Date:   p.opts.Now().UTC().Truncate(time.Second),
		Source: "host",
		Types:  []catalog.Type{p.host},
		Zones:  map[string][]string{Region: {Zone}},
	}, nil
}

func (p *Provider) clusterDir(cluster string) string { return filepath.Join(p.opts.Dir, cluster) }

func (p *Provider) lock() (func(), error) {
	p.mu.Lock()
	if err := os.MkdirAll(p.opts.Dir, 0o755); err != nil {
		p.mu.Unlock()
		return nil, err
	}
	unlock, err := flock(filepath.Join(p.opts.Dir, ".lock"))
	if err != nil {
		p.mu.Unlock()
		return nil, err
	}
	return func() { unlock(); p.mu.Unlock() }, nil
}

// SetMaxMachines changes the cap on live machines (for tests of partial
// capacity).
func (p *Provider) SetMaxMachines(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.opts.MaxMachines = n
}

// Dir is where the provider keeps machine directories.
func (p *Provider) Dir() string { return p.opts.Dir }
