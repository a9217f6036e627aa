package cli

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/burstdev/burst/internal/provider"
	"github.com/spf13/cobra"
)

// StatusOptions are the inputs of `burst status`.
type StatusOptions struct {
	Factory *Factory
	Name    string
	Regions []string
}

// NewCmdStatus builds `burst status`.
func NewCmdStatus(f *Factory, runF func(context.Context, *StatusOptions) error) *cobra.Command {
	opts := &StatusOptions{Factory: f}
	cmd := &cobra.Command{
		Use:   "status [NAME]",
		Short: "Show a cluster's machines, addresses and price",
		Long: `Show what runs in a cluster: its machines as the cloud reports them (found
by tag), the scheduler and dashboard addresses, and the price per hour.`,
		Example: `  burst status
  burst status etl -o json | jq -r .scheduler_address`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				opts.Name = args[0]
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return statusRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringSliceVar(&opts.Regions, "region", nil, "regions to look in besides the ones burst remembers for the cluster")
	return cmd
}

func statusRun(ctx context.Context, opts *StatusOptions) error {
	f := opts.Factory
	sc, err := resolveCluster(f, opts.Name, opts.Regions)
	if err != nil {
		return err
	}
	cfg, name, providers := sc.cfg, sc.name, sc.providers
	eng := f.engine(cfg, nil, nil, 0)
	eng.Regions = sc.regions
	res, err := eng.Status(ctx, name, providers)
	if err != nil {
		return err
	}
	cat, err := f.Catalog(ctx, providers)
	if err != nil {
		return err
	}
	price := priceOf(res.Machines, cat)
	if cfg.Output == "json" {
		return writeJSON(f.IO.Out, StatusJSON{
			Cluster: name, Provider: strings.Join(providers, ","), Providers: providers,
			SchedulerAddress: res.SchedulerAddress, DashboardAddress: res.DashboardAddress,
			PricePerHour: round4(price), Machines: nonNil(res.Machines),
		}, true)
	}
	if len(res.Machines) == 0 {
		_, err := fmt.Fprintf(f.IO.Out, "Cluster %s has no machines on %s.\n", name, strings.Join(providers, ","))
		return err
	}
	live := 0
	for _, m := range res.Machines {
		if m.State.Live() {
			live++
		}
	}
	w := &printer{w: f.IO.Out}
	w.printf("Cluster %s on %s: %d live machines, $%.4f/h\n", name, strings.Join(providers, ","), live, price)
	if res.SchedulerAddress != "" {
		w.printf("  scheduler  %s\n  dashboard  %s\n", res.SchedulerAddress, res.DashboardAddress)
	}
	if res.Head != nil {
		if v, err := strconv.ParseInt(res.Head.Tags[provider.TagExpires], 10, 64); err == nil && v > 0 {
			at := time.Unix(v, 0).UTC()
			w.printf("  expires    %s (in %s), or sooner when idle\n", at.Format("2006-01-02 15:04 MST"), at.Sub(f.Now()).Round(time.Minute))
		}
	}
	w.println()
	if w.err != nil {
		return w.err
	}
	return printMachines(f, res.Machines)
}
