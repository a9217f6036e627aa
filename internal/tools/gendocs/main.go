// Command gendocs writes burst's command-line reference as Markdown, one
// file per command, from the cobra command tree: `make docs`.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra/doc"

	"github.com/burstdev/burst/internal/cli"
	"github.com/burstdev/burst/internal/iostreams"
	"github.com/burstdev/burst/internal/provider/all"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: gendocs DIR")
		os.Exit(2)
	}
	dir := os.Args[1]
	if err := os.MkdirAll(dir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	root := cli.NewRootCmd(cli.NewFactory(iostreams.System(), all.Registry(), cli.BuildInfo{Version: "dev"}))
	root.DisableAutoGenTag = true
	if err := doc.GenMarkdownTree(root, dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
