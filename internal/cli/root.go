package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/burstdev/burst/internal/iostreams"
	"github.com/burstdev/burst/internal/provider"
)

// Main runs burst with args and returns the exit code.
func Main(ctx context.Context, args []string, ios *iostreams.IOStreams, reg *provider.Registry, build BuildInfo) int {
	return Run(ctx, NewFactory(ios, reg, build), args)
}

// Run runs burst on a prepared factory (tests inject streams, environment
// and providers through it).
func Run(ctx context.Context, f *Factory, args []string) int {
	root := NewRootCmd(f)
	root.SetArgs(normalizeGPUArgs(args))
	root.SetIn(f.IO.In)
	root.SetOut(f.IO.Out)
	root.SetErr(f.IO.ErrOut)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return ExitOK
	}
	if isCobraUsage(err) && !errors.As(err, new(*UsageError)) {
		err = usageErrorf(err)
	}
	code := ExitCode(err)
	var silent *silentError
	if !errors.As(err, &silent) {
		msg := oneLine(err.Error())
		if code == ExitInterrupted {
			msg = "interrupted"
		}
		if code == ExitUsage && cmd != nil && isCobraUsage(err) {
			msg += fmt.Sprintf(" (see %s --help)", cmd.CommandPath())
		}
		_, _ = fmt.Fprintf(f.IO.ErrOut, "burst: %s\n", msg)
	}
	return code
}

// silentError carries an exit code for an error already reported.
type silentError struct{ err error }

func (e *silentError) Error() string { return e.err.Error() }
func (e *silentError) Unwrap() error { return e.err }

// NewRootCmd builds the command tree.
func NewRootCmd(f *Factory) *cobra.Command {
	root := &cobra.Command{
		Use:   "burst",
		Short: "A compute cluster on AWS, GCP or Azure in one command, gone when idle",
		Long: `burst gives you a Dask cluster on AWS, GCP or Azure in one command, straight
through each cloud's VM API, and takes it away again. No Kubernetes, no
always-on control plane, nothing billed while nothing runs: every machine
removes itself when idle or past its deadline, even if this laptop is gone.

Ask for resources, not instance names; burst picks the cheapest offerings
that fit. Without a cloud configured, burst runs the same cluster as
processes on this machine (the local provider).`,
		Example: `  burst up -n 3                      # 1 head + 3 workers, Dask running
  burst up etl -n 100 --cpu 8+ --memory 32GiB+ --spot --provider aws
  burst scale etl 20                 # grow or shrink
  burst status etl -o json
  burst down etl --yes`,
		SilenceErrors: true,
		SilenceUsage:  true,
		Version:       f.Build.Version,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			f.configFile, _ = cmd.Flags().GetString("config")
			f.flags = cmd.Flags()
			return nil
		},
	}
	root.SetVersionTemplate("burst {{.Version}}\n")
	pf := root.PersistentFlags()
	pf.String("provider", "", "cloud provider(s), comma-separated: local, aws, gcp, azure (env BURST_PROVIDER)")
	pf.StringP("output", "o", "text", "output format: text or json (env BURST_OUTPUT)")
	pf.String("config", "", "config file (env BURST_CONFIG; default $XDG_CONFIG_HOME/burst/config.yaml)")
	pf.CountP("verbose", "v", "print more detail on stderr (repeat for more)")
	pf.String("profile", "", "AWS shared-config profile (env BURST_AWS_PROFILE; default the SDK's)")
	pf.String("project", "", "Google Cloud project (env BURST_GCP_PROJECT; default ADC's)")
	pf.String("subscription", "", "Azure subscription ID (env BURST_AZURE_SUBSCRIPTION; default the Azure CLI's)")
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error { return usageErrorf(err) })

	root.AddGroup(&cobra.Group{ID: "cluster", Title: "Cluster commands:"})
	for _, c := range []*cobra.Command{
		NewCmdUp(f, nil),
		NewCmdScale(f, nil),
		NewCmdStatus(f, nil),
		NewCmdDown(f, nil),
		NewCmdLs(f, nil),
		NewCmdGC(f, nil),
	} {
		c.GroupID = "cluster"
		root.AddCommand(c)
	}
	root.AddGroup(&cobra.Group{ID: "planning", Title: "Planning commands:"})
	for _, c := range []*cobra.Command{
		NewCmdPlan(f, nil),
		NewCmdTypes(f, nil),
		NewCmdCatalog(f),
	} {
		c.GroupID = "planning"
		root.AddCommand(c)
	}
	root.AddCommand(NewCmdPolicy(f))
	root.AddCommand(NewCmdVersion(f))
	root.AddCommand(&cobra.Command{
		Use:   "exit-codes",
		Short: "What burst's exit codes mean",
		Long:  exitCodesHelp,
	})
	return root
}

// nameArg returns the cluster name from args, or the configured default.
func nameArg(f *Factory, args []string) (string, error) {
	cfg, err := f.Config()
	if err != nil {
		return "", err
	}
	name := cfg.Cluster
	if len(args) > 0 {
		name = args[0]
	}
	name = strings.TrimSpace(name)
	return name, nil
}
