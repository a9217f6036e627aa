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
	notices   map[string]bool
}

// Config loads the configuration once.
func (f *Factory) Config() (*config.Config, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.cfgDone {
		// Known names: registered providers, and clouds burst can plan for
		// from its snapshot alone (burst plan needs no provider).
		known := f.Registry.Names()
		for _, p := range catalog.EmbeddedProviders() {
			if !slices.Contains(known, p) {
				known = append(known, p)
			}
		}
		f.cfg, f.cfgErr = config.Load(config.Options{File: f.configFile, Flags: f.flags, Getenv: f.Getenv, Providers: known})
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
				_, _ = fmt.Fprintln(f.IO.ErrOut, "burst: no provider configured; using local (set --provider or BURST_PROVIDER to use a cloud)")
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

// CatalogTTL is how long a catalog written by `burst catalog refresh` is
// preferred over the embedded snapshot.
var CatalogTTL = catalog.DefaultCacheTTL

// Catalog returns the merged catalog of the providers, without touching the
// network for a cloud: each cloud's catalog is the cache written by `burst
// catalog refresh` while it is fresh (see CatalogTTL) and newer than the
// embedded snapshot, else the snapshot. The local provider (and test
// providers without a snapshot or cache) answer with their live Catalog:
// for local that is this host. A stale or broken cache is reported once on
// stderr.
func (f *Factory) Catalog(ctx context.Context, names []string) (*catalog.Catalog, error) {
	var cats []*catalog.Catalog
	for _, n := range names {
		c, err := f.providerCatalog(ctx, n)
		if err != nil {
			return nil, err
		}
		cats = append(cats, c)
	}
	if len(cats) == 1 {
		return cats[0], nil
	}
	return catalog.Merge(cats...), nil
}

func (f *Factory) providerCatalog(ctx context.Context, name string) (*catalog.Catalog, error) {
	if name != localProvider {
		dir, err := f.Cache()
		if err != nil {
			return nil, err
		}
		if catalog.HasEmbedded(name) || catalogCached(dir.Cache, name) {
			ch, err := catalog.Load(dir.Cache, name, f.Now(), CatalogTTL)
			if err != nil {
				return nil, err
			}
			if ch.Note != "" {
				f.notice("catalog:"+name, ch.Note)
			}
			return ch.Catalog, nil
		}
	}
	p, err := f.Provider(ctx, name)
	if err != nil {
		return nil, err
	}
	c, err := p.Catalog(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: catalog: %w", name, err)
	}
	return c, nil
}

// localProvider is the provider whose catalog is this host, always live.
const localProvider = "local"

func catalogCached(dir, name string) bool {
	_, err := os.Stat(catalog.CachePath(dir, name))
	return err == nil
}

// notice prints a one-line message on stderr once per run and key.
func (f *Factory) notice(key, msg string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.notices == nil {
		f.notices = map[string]bool{}
	}
	if f.notices[key] {
		return
	}
	f.notices[key] = true
	_, _ = fmt.Fprintf(f.IO.ErrOut, "burst: %s\n", msg)
}

// CheckPlanProvider accepts a provider burst can plan for without running
// it: a registered provider, or a cloud the embedded catalog covers (so
// `burst plan --provider gcp` works in a build without the gcp provider or
// its credentials).
func (f *Factory) CheckPlanProvider(name string) error {
	if catalog.HasEmbedded(name) {
		return nil
	}
	return f.Registry.Check(name)
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

// fleet is where a command about every cluster (ls, gc) starts: the
// configuration, the providers (--provider or configured), and their
// catalogs for prices.
func (f *Factory) fleet(ctx context.Context) (*config.Config, []string, *catalog.Catalog, error) {
	cfg, err := f.Config()
	if err != nil {
		return nil, nil, nil, err
	}
	providers, err := f.ProviderNames(explicitProviders(f))
	if err != nil {
		return nil, nil, nil, err
	}
	cat, err := f.Catalog(ctx, providers)
	if err != nil {
		return nil, nil, nil, err
	}
	return cfg, providers, cat, nil
}
