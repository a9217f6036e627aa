package cli

import (
	"context"
	"fmt"
	"os"
	"os/user"
	"slices"
	"sync"
	"time"

	"github.com/spf13/pflag"

	"github.com/burstdev/burst/internal/cache"
	"github.com/burstdev/burst/internal/catalog"
	"github.com/burstdev/burst/internal/config"
	"github.com/burstdev/burst/internal/iostreams"
	"github.com/burstdev/burst/internal/progress"
	"github.com/burstdev/burst/internal/provider"
	"github.com/burstdev/burst/pkg/spec"
)

// BuildInfo is stamped into the binary at build time.
type BuildInfo struct {
	Version string
	Commit  string
	Date    string
}

// Factory holds what commands share, built lazily: nothing here reads a
// file or touches the network until a command asks, so `--help` and flag
// errors are instant and side-effect free.
type Factory struct {
	IO       *iostreams.IOStreams
	Registry *provider.Registry
	Now      func() time.Time
	Getenv   func(string) string
	Build    BuildInfo

	// configFile and flags are set by the root command before a command
	// runs.
	configFile string
	flags      *pflag.FlagSet

	mu        sync.Mutex
	cfg       *config.Config
	cfgErr    error
	cfgDone   bool
	providers map[string]provider.Provider
	noticed   bool
}

// Config loads the configuration once.
func (f *Factory) Config() (*config.Config, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.cfgDone {
		f.cfg, f.cfgErr = config.Load(config.Options{File: f.configFile, Flags: f.flags, Getenv: f.Getenv})
		f.cfgDone = true
	}
	return f.cfg, f.cfgErr
}

// Cache returns the cache directories.
func (f *Factory) Cache() (cache.Dir, error) {
	cfg, err := f.Config()
	if err != nil {
		return cache.Dir{}, err
	}
	return cache.Dir{State: cfg.StateDir, Cache: cfg.CacheDir}, nil
}

// Provider returns the named provider, built once per run.
func (f *Factory) Provider(ctx context.Context, name string) (provider.Provider, error) {
	cfg, err := f.Config()
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if p, ok := f.providers[name]; ok {
		return p, nil
	}
	p, err := f.Registry.New(ctx, name, provider.Env{Config: cfg, Now: f.Now})
	if err != nil {
		return nil, err
	}
	if f.providers == nil {
		f.providers = map[string]provider.Provider{}
	}
	f.providers[name] = p
	return p, nil
}

// ProviderNames resolves the providers a command uses: the explicit list if
// given, else the configuration's. Unknown names are usage errors. When
// nothing configured a provider, it prints a one-line notice that local is
// used.
func (f *Factory) ProviderNames(explicit []string) ([]string, error) {
	cfg, err := f.Config()
	if err != nil {
		return nil, err
	}
	names := explicit
	if len(names) == 0 {
		names = spec.SplitList(cfg.Provider)
		if cfg.ProviderFromDefault {
			f.mu.Lock()
			if !f.noticed {
				fmt.Fprintln(f.IO.ErrOut, "burst: no provider configured; using local (set --provider or BURST_PROVIDER to use a cloud)")
				f.noticed = true
			}
			f.mu.Unlock()
		}
	}
	if len(names) == 0 {
		return nil, usageErrorf(fmt.Errorf("no provider given"))
	}
	var out []string
	for _, n := range names {
		if err := f.Registry.Check(n); err != nil {
			return nil, err
		}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out, nil
}

// Catalog returns the merged catalog of the providers.
func (f *Factory) Catalog(ctx context.Context, names []string) (*catalog.Catalog, error) {
	var cats []*catalog.Catalog
	for _, n := range names {
		p, err := f.Provider(ctx, n)
		if err != nil {
			return nil, err
		}
		c, err := p.Catalog(ctx)
		if err != nil {
			return nil, fmt.Errorf("%s: catalog: %w", n, err)
		}
		cats = append(cats, c)
	}
	return catalog.Merge(cats...), nil
}

// Reporter returns the progress reporter for the output format: NDJSON on
// stdout for json, lines (and a bar on a terminal) on stderr for text.
func (f *Factory) Reporter(cfg *config.Config) progress.Reporter {
	if cfg.Output == "json" {
		return progress.NewJSON(f.IO.Out)
	}
	return progress.NewText(f.IO.ErrOut, f.IO.IsStderrTTY(), cfg.Verbose > 0)
}

// Owner is the burst-owner tag value: the local user name.
func (f *Factory) Owner() string {
	if u := f.Getenv("USER"); u != "" {
		return u
	}
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return "unknown"
}

// NewFactory returns a factory on the process's environment.
func NewFactory(ios *iostreams.IOStreams, reg *provider.Registry, build BuildInfo) *Factory {
	return &Factory{IO: ios, Registry: reg, Now: time.Now, Getenv: os.Getenv, Build: build}
}
