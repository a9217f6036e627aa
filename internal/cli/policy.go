package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// NewCmdPolicy builds `burst policy`.
func NewCmdPolicy(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "policy PROVIDER",
		Short: "Print the least-privilege permissions burst needs on a cloud",
		Long: `Print the permissions burst needs on a cloud, as that cloud writes them: an
IAM policy document for aws, a custom role for gcp, a role definition for
azure. Nothing more than what burst calls is in it.`,
		Example: `  burst policy aws > burst-policy.json
  aws iam create-policy --policy-name burst --policy-document file://burst-policy.json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := strings.ToLower(args[0])
			e, ok := f.Registry.Lookup(name)
			if !ok {
				return f.Registry.Check(name)
			}
			if e.Policy == nil {
				return usageErrorf(fmt.Errorf("the %s provider needs no cloud permissions", name))
			}
			_, err := fmt.Fprintln(f.IO.Out, strings.TrimRight(e.Policy(), "\n"))
			return err
		},
	}
}
