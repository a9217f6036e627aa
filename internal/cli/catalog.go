package cli

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/burstdev/burst/internal/catalog"
)

// NewCmdCatalog builds `burst catalog` and its subcommands.
func NewCmdCatalog(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "catalog",
		Short: "Show or refresh the machine catalog plans are made from",
		Long: `burst plans from a catalog of machine types and prices. Each build embeds a
snapshot of AWS, GCP and Azure; burst catalog refresh pulls live data
through a cloud's own APIs (with that cloud's credentials) into a cache,
which plans prefer over the snapshot while it is fresh (30 days) and newer.
Plans never call a cloud for the catalog.`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(NewCmdCatalogRefresh(f, nil), NewCmdCatalogInfo(f, nil))
	return cmd
}

// CatalogRefreshOptions are the inputs of `burst catalog refresh`.
type CatalogRefreshOptions struct {
	Factory *Factory
}

// NewCmdCatalogRefresh builds `burst catalog refresh`.
func NewCmdCatalogRefresh(f *Factory, runF func(context.Context, *CatalogRefreshOptions) error) *cobra.Command {
	opts := &CatalogRefreshOptions{Factory: f}
	return &cobra.Command{
		Use:   "refresh",
		Short: "Pull live machine types and prices into the catalog cache",
		Long: `Pull the machine types, offerings and prices of each provider through its
own APIs (EC2 DescribeInstanceTypes and spot price history, the Compute
Engine machine types and the Cloud Billing catalog, Azure resource SKUs and
retail prices) and write them to the cache directory, where later plans
prefer them over the embedded snapshot while they are fresh.

Without --provider it refreshes every configured cloud provider. The local
provider has nothing to refresh: its catalog is this host, read live.`,
		Example: `  burst catalog refresh --provider aws
  burst catalog refresh --provider aws,gcp -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return catalogRefreshRun(cmd.Context(), opts)
		},
	}
}

// CatalogInfoJSON describes the catalog of one provider.
type CatalogInfoJSON struct {
	Provider  string  `json:"provider"`
	Source    string  `json:"source"`
	Cached    bool    `json:"cached"`
	Date      string  `json:"date"`
	AgeDays   float64 `json:"age_days"`
	Types     int     `json:"types"`
	Offerings int     `json:"offerings"`
	Regions   int     `json:"regions"`
	Path      string  `json:"path,omitempty"`
}

func catalogRefreshRun(ctx context.Context, opts *CatalogRefreshOptions) error {
	f := opts.Factory
	cfg, err := f.Config()
	if err != nil {
		return err
	}
	dir, err := f.Cache()
	if err != nil {
		return err
	}
	names := explicitProviders(f)
	if len(names) == 0 {
		if names, err = f.ProviderNames(nil); err != nil {
			return err
		}
		var clouds []string
		for _, n := range names {
			if n != localProvider {
				clouds = append(clouds, n)
			}
		}
		if len(clouds) == 0 {
			return usageErrorf(fmt.Errorf("no cloud provider to refresh (the local provider's catalog is this host); use --provider"))
		}
		names = clouds
	}
	var out []CatalogInfoJSON
	for _, n := range names {
		if n == localProvider {
			return usageErrorf(fmt.Errorf("the local provider has no catalog to refresh: it is this host, read on every run"))
		}
		if err := f.Registry.Check(n); err != nil {
			return err
		}
		p, err := f.Provider(ctx, n)
		if err != nil {
			return err
		}
		_, _ = fmt.Fprintf(f.IO.ErrOut, "Refreshing the %s catalog...\n", n)
		c, err := p.Catalog(ctx)
		if err != nil {
			return fmt.Errorf("%s: catalog refresh: %w", n, err)
		}
		if c.Date.IsZero() {
			c.Date = f.Now().UTC()
		}
		if err := catalog.SaveCache(dir.Cache, n, c); err != nil {
			return err
		}
		out = append(out, infoOf(f, n, c, true, catalog.CachePath(dir.Cache, n)))
	}
	if cfg.Output == "json" {
		return writeJSON(f.IO.Out, struct {
			Providers []CatalogInfoJSON `json:"providers"`
		}{out}, true)
	}
	w := &printer{w: f.IO.Out}
	for _, i := range out {
		w.printf("%s: %d types, %d offerings in %d regions -> %s\n", i.Provider, i.Types, i.Offerings, i.Regions, i.Path)
	}
	return w.err
}

// CatalogInfoOptions are the inputs of `burst catalog info`.
type CatalogInfoOptions struct {
	Factory *Factory
}

// NewCmdCatalogInfo builds `burst catalog info`.
func NewCmdCatalogInfo(f *Factory, runF func(context.Context, *CatalogInfoOptions) error) *cobra.Command {
	opts := &CatalogInfoOptions{Factory: f}
	return &cobra.Command{
		Use:   "info",
		Short: "Show which catalog plans use, its date and size",
		Example: `  burst catalog info
  burst catalog info --provider gcp -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return catalogInfoRun(cmd.Context(), opts)
		},
	}
}

func catalogInfoRun(ctx context.Context, opts *CatalogInfoOptions) error {
	f := opts.Factory
	cfg, err := f.Config()
	if err != nil {
		return err
	}
	dir, err := f.Cache()
	if err != nil {
		return err
	}
	names := explicitProviders(f)
	if len(names) == 0 {
		names = catalog.EmbeddedProviders()
	}
	var out []CatalogInfoJSON
	for _, n := range names {
		if err := f.CheckPlanProvider(n); err != nil {
			return err
		}
		c, err := f.Catalog(ctx, []string{n})
		if err != nil {
			return err
		}
		cached := catalogCached(dir.Cache, n) && !strings.HasPrefix(c.Source, "embedded")
		path := ""
		if cached {
			path = catalog.CachePath(dir.Cache, n)
		}
		out = append(out, infoOf(f, n, c, cached, path))
	}
	if cfg.Output == "json" {
		return writeJSON(f.IO.Out, struct {
			Providers []CatalogInfoJSON `json:"providers"`
		}{out}, true)
	}
	tty := f.IO.IsStdoutTTY()
	tw := table(f.IO.Out, tty)
	w := &printer{w: tw}
	if tty {
		w.println(f.IO.Bold("PROVIDER\tDATE\tAGE\tTYPES\tOFFERINGS\tREGIONS\tSOURCE"))
	}
	for _, i := range out {
		w.println(strings.Join([]string{i.Provider, i.Date, strconv.FormatFloat(i.AgeDays, 'f', 0, 64) + "d", strconv.Itoa(i.Types), strconv.Itoa(i.Offerings), strconv.Itoa(i.Regions), i.Source}, "\t"))
	}
	return w.flush(tw)
}

func infoOf(f *Factory, name string, c *catalog.Catalog, cached bool, path string) CatalogInfoJSON {
	regions := map[string]bool{}
	for _, t := range c.Types {
		for _, o := range t.Offerings {
			regions[o.Region] = true
		}
	}
	return CatalogInfoJSON{Provider: name, Source: c.Source, Cached: cached, Date: c.Date.Format("2006-01-02"),
		AgeDays: float64(int(c.Age(f.Now()).Hours()/24*10)) / 10, Types: len(c.Types), Offerings: c.Offerings(), Regions: len(regions), Path: path}
}
