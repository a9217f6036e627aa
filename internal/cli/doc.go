// Package cli is burst's command line: the root command, one file per
// command, flag and config binding, and the mapping of errors to exit codes.
//
// Every command follows one shape (from gh): NewCmdX(f, runF) builds the
// cobra command and fills an XOptions; xRun(opts) does the work and never
// sees cobra, so tests can parse argv into options without running, and run
// with fake streams and providers.
package cli
