package cli

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/burstdev/burst/internal/provider"
)

// GCOptions are the inputs of `burst gc`.
type GCOptions struct {
	Factory    *Factory
	Regions    []string
	AllRegions bool
	Yes        bool
	Timeout    time.Duration
}

// OrphanJSON is one element of `burst gc -o json`'s "orphans".
type OrphanJSON struct {
	Provider     string    `json:"provider"`
	Region       string    `json:"region"`
	Cluster      string    `json:"cluster"`
	Kind         string    `json:"kind"`
	ID           string    `json:"id"`
	Reason       string    `json:"reason"`
	PricePerHour float64   `json:"price_per_hour"`
	CreatedAt    time.Time `json:"created_at"`
}

// GCJSON is `burst gc -o json`.
type GCJSON struct {
	Orphans      []OrphanJSON `json:"orphans"`
	PricePerHour float64      `json:"price_per_hour"`
	Deleted      bool         `json:"deleted"`
}

// NewCmdGC builds `burst gc`.
func NewCmdGC(f *Factory, runF func(context.Context, *GCOptions) error) *cobra.Command {
	opts := &GCOptions{Factory: f}
	cmd := &cobra.Command{
		Use:   "gc",
		Short: "Find and delete what burst left behind",
		Long: `Find every burst-tagged resource that nothing uses any more: machines of
clusters without a head, machines past their max lifetime, stopped machines
(their disks still bill), and networks, firewalls, key pairs or resource
groups of clusters with no machines. Things younger than 10 minutes are left
alone, since a cluster may be starting.

gc lists what it finds with its cost per hour, and deletes only with --yes.`,
		Example: `  burst gc --provider aws --all-regions
  burst gc --provider gcp --region us-central1 --yes`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.AllRegions && len(opts.Regions) > 0 {
				return usageErrorf(fmt.Errorf("--region and --all-regions exclude each other"))
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return gcRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringSliceVar(&opts.Regions, "region", nil, "regions to search, comma-separated (default: the configured ones)")
	cmd.Flags().BoolVar(&opts.AllRegions, "all-regions", false, "search every region")
	cmd.Flags().BoolVarP(&opts.Yes, "yes", "y", false, "delete what is found")
	cmd.Flags().DurationVar(&opts.Timeout, "timeout", 10*time.Minute, "give up after this long (a resource something else holds can block its deletion)")
	return cmd
}

func gcRun(ctx context.Context, opts *GCOptions) error {
	f := opts.Factory
	cfg, providers, cat, err := f.fleet(ctx)
	if err != nil {
		return err
	}
	rep := f.Reporter(cfg)
	eng := f.engine(cfg, rep, nil, 0)
	orphans, err := eng.Orphans(ctx, providers, provider.Filter{Regions: opts.Regions, AllRegions: opts.AllRegions})
	if err != nil {
		return err
	}
	doc := GCJSON{Orphans: []OrphanJSON{}}
	for _, o := range orphans {
		oj := OrphanJSON{Provider: o.Provider, Region: o.Region, Cluster: o.Cluster, Kind: o.Kind, ID: o.ID, Reason: o.Reason, CreatedAt: o.CreatedAt}
		if o.Machine != nil && o.Machine.State.Live() {
			oj.PricePerHour = round4(priceOf([]provider.Machine{*o.Machine}, cat))
		}
		doc.PricePerHour += oj.PricePerHour
		doc.Orphans = append(doc.Orphans, oj)
	}
	doc.PricePerHour = round4(doc.PricePerHour)
	if opts.Yes && len(orphans) > 0 {
		opCtx, cancel := context.WithTimeout(ctx, opts.Timeout)
		err := eng.Collect(opCtx, orphans)
		cancel()
		if err != nil {
			rep.Close()
			if opCtx.Err() != nil && ctx.Err() == nil {
				return &timeoutError{fmt.Errorf("gc gave up after --timeout %s: %w; run burst gc again", opts.Timeout, err)}
			}
			return err
		}
		doc.Deleted = true
	}
	rep.Close()
	if cfg.Output == "json" {
		return writeJSON(f.IO.Out, doc, true)
	}
	if len(orphans) == 0 {
		_, err := fmt.Fprintf(f.IO.Out, "Nothing left behind on %s.\n", strings.Join(providers, ","))
		return err
	}
	tw := table(f.IO.Out, f.IO.IsStdoutTTY())
	w := &printer{w: tw}
	if f.IO.IsStdoutTTY() {
		w.println(f.IO.Bold("PROVIDER\tREGION\tCLUSTER\tKIND\tID\tREASON\t$/H\tAGE"))
	}
	for _, o := range doc.Orphans {
		w.printf("%s\t%s\t%s\t%s\t%s\t%s\t%.4f\t%s\n", o.Provider, dash(o.Region), o.Cluster, o.Kind, o.ID, o.Reason, o.PricePerHour, age(f.Now(), o.CreatedAt))
	}
	if err := w.flush(tw); err != nil {
		return err
	}
	if doc.Deleted {
		_, _ = fmt.Fprintf(f.IO.ErrOut, "Deleted %s ($%.4f/h).\n", plural(len(orphans), "orphan"), doc.PricePerHour)
	} else {
		_, _ = fmt.Fprintf(f.IO.ErrOut, "%s costing $%.4f/h; run burst gc --yes to delete them.\n", plural(len(orphans), "orphan"), doc.PricePerHour)
	}
	return nil
}
