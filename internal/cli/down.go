package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/burstdev/burst/internal/cache"
	"github.com/burstdev/burst/internal/config"
	"github.com/burstdev/burst/pkg/spec"
)

// DownOptions are the inputs of `burst down`.
type DownOptions struct {
	Factory *Factory
	Name    string
	Yes     bool
	Timeout time.Duration
	Regions []string
}

// NewCmdDown builds `burst down`.
func NewCmdDown(f *Factory, runF func(context.Context, *DownOptions) error) *cobra.Command {
	opts := &DownOptions{Factory: f}
	cmd := &cobra.Command{
		Use:   "down [NAME]",
		Short: "Remove a cluster and everything burst created for it",
		Long: `Terminate every machine of the cluster (found by tag, so it works from any
machine and after any crash), wait until they are gone, and remove the
cluster's network rules, keys and other shared resources.

On a terminal, down asks first; without one it needs --yes.`,
		Example: `  burst down
  burst down etl --yes --provider aws`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				opts.Name = args[0]
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return downRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVarP(&opts.Yes, "yes", "y", false, "do not ask; required without a terminal")
	cmd.Flags().StringSliceVar(&opts.Regions, "region", nil, "regions to look in besides the ones burst remembers for the cluster")
	cmd.Flags().DurationVar(&opts.Timeout, "timeout", 10*time.Minute, "give up after this long (exit 1; run down again to finish)")
	return cmd
}

// clusterProviders returns the providers to look for a cluster on: --provider,
// else the cluster's remembered providers, else the configured ones.
func clusterProviders(f *Factory, name string) ([]string, *spec.Cluster, error) {
	dir, err := f.Cache()
	if err != nil {
		return nil, nil, err
	}
	cached, err := dir.LoadSpec(name)
	if err != nil {
		return nil, nil, err
	}
	if ex := explicitProviders(f); len(ex) > 0 {
		names, err := f.ProviderNames(ex)
		return names, cached, err
	}
	if cached != nil && len(cached.Providers) > 0 {
		names, err := f.ProviderNames(cached.Providers)
		return names, cached, err
	}
	names, err := f.ProviderNames(nil)
	return names, cached, err
}

// clusterScope is where a command about one existing cluster starts: its
// name, the providers and regions to look on, the cache.
type clusterScope struct {
	cfg       *config.Config
	name      string
	providers []string
	regions   map[string][]string
	dir       cache.Dir
}

// resolveCluster builds the scope of a command on the named cluster (the
// configured default when name is empty); regions are --region values.
func resolveCluster(f *Factory, name string, regions []string) (*clusterScope, error) {
	cfg, err := f.Config()
	if err != nil {
		return nil, err
	}
	if name, err = nameArg(f, optsName(name)); err != nil {
		return nil, err
	}
	if err := spec.ValidateName(name); err != nil {
		return nil, err
	}
	providers, _, err := clusterProviders(f, name)
	if err != nil {
		return nil, err
	}
	dir, err := f.Cache()
	if err != nil {
		return nil, err
	}
	return &clusterScope{cfg: cfg, name: name, providers: providers, dir: dir, regions: knownRegions(dir, name, providers, regions)}, nil
}

func downRun(ctx context.Context, opts *DownOptions) error {
	f := opts.Factory
	sc, err := resolveCluster(f, opts.Name, opts.Regions)
	if err != nil {
		return err
	}
	cfg, name, providers, dir := sc.cfg, sc.name, sc.providers, sc.dir
	if !opts.Yes {
		if !f.IO.CanPrompt() {
			return usageErrorf(fmt.Errorf("down removes cluster %s: pass --yes to confirm (no terminal to ask on)", name))
		}
		ok, err := f.IO.Confirm(fmt.Sprintf("Remove cluster %s and all its machines on %v?", name, providers))
		if err != nil {
			return err
		}
		if !ok {
			return &silentError{err: errors.New("cancelled")}
		}
	}
	rep := f.Reporter(cfg)
	eng := f.engine(cfg, rep, nil, opts.Timeout)
	eng.Regions = sc.regions
	opCtx := ctx
	if opts.Timeout > 0 {
		var cancel context.CancelFunc
		opCtx, cancel = context.WithTimeout(ctx, opts.Timeout)
		defer cancel()
	}
	res, err := eng.Down(opCtx, name, providers)
	rep.Close()
	if err != nil && opCtx.Err() != nil && ctx.Err() == nil {
		return &timeoutError{fmt.Errorf("down gave up after --timeout %s; run burst down %s again", opts.Timeout, name)}
	}
	if err != nil {
		return err
	}
	if err := dir.RemoveSpec(name); err != nil {
		return err
	}
	if cfg.Output == "json" {
		return writeJSONLine(f.IO.Out, summaryOf(res, name))
	}
	if res.Terminated == 0 {
		_, err = fmt.Fprintf(f.IO.Out, "Cluster %s has no machines; nothing to remove.\n", name)
	} else {
		_, err = fmt.Fprintf(f.IO.Out, "Cluster %s is down: %s terminated.\n", name, plural(res.Terminated, "machine"))
	}
	return err
}

func optsName(n string) []string {
	if n == "" {
		return nil
	}
	return []string{n}
}
