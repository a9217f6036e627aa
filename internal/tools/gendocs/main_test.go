package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/spf13/cobra/doc"

	"github.com/burstdev/burst/internal/cli"
	"github.com/burstdev/burst/internal/iostreams"
	"github.com/burstdev/burst/internal/provider/all"
)

// TestDocsUpToDate fails when docs/cli no longer matches the commands: run
// `make docs`.
func TestDocsUpToDate(t *testing.T) {
	dir := t.TempDir()
	root := cli.NewRootCmd(cli.NewFactory(iostreams.System(), all.Registry(), cli.BuildInfo{Version: "dev"}))
	root.DisableAutoGenTag = true
	if err := doc.GenMarkdownTree(root, dir); err != nil {
		t.Fatal(err)
	}
	fresh, _ := filepath.Glob(filepath.Join(dir, "*.md"))
	committed, _ := filepath.Glob(filepath.Join("..", "..", "..", "docs", "cli", "*.md"))
	if len(fresh) != len(committed) {
		t.Fatalf("docs/cli has %d files, the commands make %d: run make docs", len(committed), len(fresh))
	}
	for _, f := range fresh {
		want, _ := os.ReadFile(f)
		got, err := os.ReadFile(filepath.Join("..", "..", "..", "docs", "cli", filepath.Base(f)))
		if err != nil || string(got) != string(want) {
			t.Errorf("docs/cli/%s is stale: run make docs", filepath.Base(f))
		}
	}
}
