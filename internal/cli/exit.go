package cli

import (
	"context"
	"errors"
	"strings"

	"github.com/burstdev/burst/internal/config"
	"github.com/burstdev/burst/internal/plan"
	"github.com/burstdev/burst/internal/provider"
	"github.com/burstdev/burst/internal/provision"
	"github.com/burstdev/burst/pkg/spec"
)

// Exit codes. `burst help exit-codes` prints this table; keep them in sync.
const (
	ExitOK          = 0
	ExitError       = 1
	ExitUsage       = 2
	ExitInfeasible  = 3
	ExitAuth        = 4
	ExitPartial     = 5
	ExitInterrupted = 130
)

const exitCodesHelp = `burst exits with one of these codes:

  0    success
  1    error (a failed API call, a missing dependency, anything else)
  2    usage: a bad flag, argument, config value or cluster spec; nothing was done
  3    infeasible or no capacity: no offering fits the spec, a quota is too
       small, or the clouds had no machines; nothing billable was left behind
  4    credentials: missing, expired or lacking a permission
  5    partial: some of what was asked exists (see the output); run the
       command again to retry the rest, or burst down to remove it
  130  interrupted (Ctrl-C); the output says what exists

Scripts can rely on these codes; they will not change meaning.`

// UsageError is a bad flag, argument or value: exit code 2.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

func usageErrorf(err error) error { return &UsageError{Err: err} }

// ExitCode maps an error to burst's documented exit code.
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var (
		ue  *UsageError
		ce  *config.Error
		pe  *provider.UnknownError
		ie  *plan.InfeasibleError
		nce *provision.NoCapacityError
		pa  *provision.PartialError
	)
	var te *timeoutError
	switch {
	case errors.As(err, &te):
		return ExitError
	case errors.Is(err, context.Canceled):
		return ExitInterrupted
	case errors.As(err, &ue), errors.As(err, &ce), errors.As(err, &pe), spec.IsError(err):
		return ExitUsage
	case errors.As(err, &pa):
		return ExitPartial
	case errors.As(err, &ie), errors.As(err, &nce):
		return ExitInfeasible
	}
	switch k := provider.KindOf(err); {
	case errors.Is(k, provider.ErrAuth):
		return ExitAuth
	case errors.Is(k, provider.ErrQuota), errors.Is(k, provider.ErrNoCapacity):
		return ExitInfeasible
	}
	return ExitError
}

// isCobraUsage recognises cobra's own argument and command errors, which
// are plain errors.
func isCobraUsage(err error) bool {
	msg := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand flag", "accepts ", "requires ", "invalid argument", "flag needs an argument", "bad flag syntax", "required flag", "if any flags in the group"} {
		if strings.HasPrefix(msg, p) || strings.Contains(msg, " "+p) {
			return true
		}
	}
	return false
}

// oneLine squeezes an error message onto one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", " ")), " ")
}
