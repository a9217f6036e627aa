package cli

import (
	"fmt"
	"runtime"

	"github.com/spf13/cobra"
)

// NewCmdVersion builds `burst version`.
func NewCmdVersion(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:     "version",
		Short:   "Print burst's version",
		Example: `  burst version -o json`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := f.Config()
			if err != nil {
				return err
			}
			b := f.Build
			if cfg.Output == "json" {
				return writeJSON(f.IO.Out, map[string]string{
					"version": b.Version, "commit": b.Commit, "date": b.Date,
					"go": runtime.Version(), "os": runtime.GOOS, "arch": runtime.GOARCH,
				}, true)
			}
			_, err = fmt.Fprintf(f.IO.Out, "burst %s (commit %s, built %s, %s %s/%s)\n", b.Version, b.Commit, b.Date, runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return err
		},
	}
}
