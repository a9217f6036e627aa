package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/burstdev/burst/pkg/spec"
)

// ScaleOptions are the inputs of `burst scale`.
type ScaleOptions struct {
	Factory *Factory
	Name    string
	Count   int
	Spec    specFlags
	Yes     bool
	Wait    string
	Timeout time.Duration
}

// NewCmdScale builds `burst scale`.
func NewCmdScale(f *Factory, runF func(context.Context, *ScaleOptions) error) *cobra.Command {
	opts := &ScaleOptions{Factory: f}
	cmd := &cobra.Command{
		Use:   "scale [NAME] N",
		Short: "Grow or shrink a cluster to N workers",
		Long: `Grow or shrink a running cluster to N workers. New workers have the
cluster's spec; removed workers are pending ones first, then the newest.
The head is never removed (burst down does that).`,
		Example: `  burst scale 20
  burst scale etl 0          # keep the head, drop every worker`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			countArg := args[len(args)-1]
			if len(args) == 2 {
				opts.Name = args[0]
			}
			n, err := spec.ParseCount(countArg)
			if err != nil {
				return usageErrorf(fmt.Errorf("scale: %w", err))
			}
			opts.Count = n
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return scaleRun(cmd.Context(), opts)
		},
	}
	addSpecFlags(cmd, &opts.Spec, false)
	addConvergeFlags(cmd, &opts.Yes, &opts.Wait, &opts.Timeout)
	return cmd
}

func scaleRun(ctx context.Context, opts *ScaleOptions) error {
	return converge(ctx, opts.Factory, &clusterRequest{
		Name: opts.Name, Flags: &opts.Spec, Providers: explicitProviders(opts.Factory), Count: &opts.Count,
		Yes: opts.Yes, Wait: opts.Wait, Timeout: opts.Timeout, RequireExisting: opts.Spec.File == "",
	})
}
