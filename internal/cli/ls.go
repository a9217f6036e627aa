package cli

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/burstdev/burst/internal/provider"
	"github.com/burstdev/burst/internal/provision"
	"github.com/burstdev/burst/pkg/spec"
)

// LsOptions are the inputs of `burst ls`.
type LsOptions struct {
	Factory    *Factory
	Regions    []string
	AllRegions bool
}

// NewCmdLs builds `burst ls`.
func NewCmdLs(f *Factory, runF func(context.Context, *LsOptions) error) *cobra.Command {
	opts := &LsOptions{Factory: f}
	cmd := &cobra.Command{
		Use:     "ls",
		Aliases: []string{"list"},
		Short:   "List clusters",
		Long:    `List every cluster with live machines on the providers, found by tag.`,
		Example: `  burst ls
  burst ls --provider aws,gcp -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.AllRegions && len(opts.Regions) > 0 {
				return usageErrorf(fmt.Errorf("--region and --all-regions exclude each other"))
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return lsRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringSliceVar(&opts.Regions, "region", nil, "regions to look in (default: the configured ones; every region on GCP and Azure)")
	cmd.Flags().BoolVar(&opts.AllRegions, "all-regions", false, "look in every region")
	return cmd
}

func lsRun(ctx context.Context, opts *LsOptions) error {
	f := opts.Factory
	cfg, providers, cat, err := f.fleet(ctx)
	if err != nil {
		return err
	}
	dir, err := f.Cache()
	if err != nil {
		return err
	}
	regions := knownRegions(dir, "", providers, opts.Regions)
	type key struct{ cluster, provider string }
	groups := map[key][]provider.Machine{}
	for _, name := range providers {
		p, err := f.Provider(ctx, name)
		if err != nil {
			return err
		}
		ms, err := p.Machines(ctx, provider.Filter{Regions: regions[name], AllRegions: opts.AllRegions})
		if err != nil {
			return fmt.Errorf("%s: listing machines: %w", name, err)
		}
		for _, m := range ms {
			if m.State.Live() && m.Cluster != "" {
				k := key{m.Cluster, name}
				groups[k] = append(groups[k], m)
			}
		}
	}
	var out []ClusterJSON
	for k, ms := range groups {
		cj := ClusterJSON{Cluster: k.cluster, Provider: k.provider, Machines: len(ms), PricePerHour: round4(priceOf(ms, cat))}
		for _, m := range ms {
			if m.Role == spec.RoleHead {
				cj.Head = true
				cj.SchedulerAddress, _ = provision.Addresses(m)
			} else {
				cj.Workers++
			}
			if cj.LaunchedAt.IsZero() || m.LaunchedAt.Before(cj.LaunchedAt) {
				cj.LaunchedAt = m.LaunchedAt
			}
		}
		out = append(out, cj)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Cluster != out[j].Cluster {
			return out[i].Cluster < out[j].Cluster
		}
		return out[i].Provider < out[j].Provider
	})
	if cfg.Output == "json" {
		return writeJSON(f.IO.Out, nonNil(out), true)
	}
	if len(out) == 0 {
		_, _ = fmt.Fprintf(f.IO.ErrOut, "No clusters on %s.\n", strings.Join(providers, ","))
		return nil
	}
	tty := f.IO.IsStdoutTTY()
	tw := table(f.IO.Out, tty)
	w := &printer{w: tw}
	if tty {
		w.println(f.IO.Bold("NAME\tPROVIDER\tHEAD\tWORKERS\t$/H\tAGE\tSCHEDULER"))
	}
	for _, c := range out {
		head := "no"
		if c.Head {
			head = "yes"
		}
		w.printf("%s\t%s\t%s\t%d\t%.4f\t%s\t%s\n", c.Cluster, c.Provider, head, c.Workers, c.PricePerHour, age(f.Now(), c.LaunchedAt), dash(c.SchedulerAddress))
	}
	return w.flush(tw)
}
