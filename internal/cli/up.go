package cli

import (
	"context"
	"time"

	"github.com/spf13/cobra"
)

// UpOptions are the inputs of `burst up`.
type UpOptions struct {
	Factory *Factory
	Name    string
	Spec    specFlags
	Yes     bool
	Wait    string
	Timeout time.Duration
}

// NewCmdUp builds `burst up`. runF replaces the run function in tests.
func NewCmdUp(f *Factory, runF func(context.Context, *UpOptions) error) *cobra.Command {
	opts := &UpOptions{Factory: f}
	cmd := &cobra.Command{
		Use:   "up [NAME]",
		Short: "Create a cluster or bring it to its spec",
		Long: `Create a cluster, or bring an existing one to its spec: one head and the
asked number of workers, with Dask running.

up is a reconcile: it finds the cluster's machines by tag, launches only
what is missing and removes what is extra. Running it twice changes
nothing; running it after a crash or Ctrl-C finishes the job.

On a terminal, up shows what it will create and its price per hour and asks
before spending; --yes skips the question. Without a terminal it never asks.

Flags override the cluster file (-f), which overrides the cluster's last
spec, the config file and the defaults. Sizes take B, KB, MB, GB, TB, KiB,
MiB, GiB or TiB (a bare number is GiB); durations take s, m, h and d.`,
		Example: `  burst up -n 3                                   # local Dask cluster on this machine
  burst up etl -n 100 --cpu 8+ --memory 32GiB+ --provider aws --spot
  burst up train -n 4 --gpu A100:8 --provider gcp --max-lifetime 6h
  burst up -f cluster.yaml --yes -o json`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				opts.Name = args[0]
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return upRun(cmd.Context(), opts)
		},
	}
	addSpecFlags(cmd, &opts.Spec, true)
	addConvergeFlags(cmd, &opts.Yes, &opts.Wait, &opts.Timeout)
	return cmd
}

func addConvergeFlags(cmd *cobra.Command, yes *bool, wait *string, timeout *time.Duration) {
	cmd.Flags().BoolVarP(yes, "yes", "y", false, "do not ask before creating machines")
	cmd.Flags().StringVar(wait, "wait", "scheduler", "wait until: scheduler (answers), machines (running) or none")
	cmd.Flags().DurationVar(timeout, "timeout", 10*time.Minute, "give up after this long, saying what exists (exit 1)")
}

func upRun(ctx context.Context, opts *UpOptions) error {
	return converge(ctx, opts.Factory, &clusterRequest{
		Name: opts.Name, Flags: &opts.Spec, Providers: explicitProviders(opts.Factory),
		Yes: opts.Yes, Wait: opts.Wait, Timeout: opts.Timeout,
	})
}
