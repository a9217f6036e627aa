// Command burst gives you a compute cluster on AWS, GCP or Azure in one
// command, and takes it away again. See README.md.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/burstdev/burst/internal/cli"
	"github.com/burstdev/burst/internal/iostreams"
	"github.com/burstdev/burst/internal/provider/all"
)

// Set by the linker (see Makefile).
var (
	version = "dev"
	commit  = "none"
	date    = "unknown"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], iostreams.System(), all.Registry(), cli.BuildInfo{Version: version, Commit: commit, Date: date})
	stop()
	os.Exit(code)
}
