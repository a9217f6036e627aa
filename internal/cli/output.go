package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/burstdev/burst/internal/config"
	"github.com/burstdev/burst/internal/progress"
	"github.com/burstdev/burst/internal/provider"
	"github.com/burstdev/burst/internal/provision"
	"github.com/burstdev/burst/pkg/spec"
)

// The JSON documents below are burst's API (docs/json.md); add fields, never
// rename or remove them.

// StatusJSON is `burst status -o json`.
type StatusJSON struct {
	Cluster          string             `json:"cluster"`
	Provider         string             `json:"provider"`
	Providers        []string           `json:"providers"`
	SchedulerAddress string             `json:"scheduler_address"`
	DashboardAddress string             `json:"dashboard_address"`
	PricePerHour     float64            `json:"price_per_hour"`
	Machines         []provider.Machine `json:"machines"`
}

// SummaryJSON is the last NDJSON event of up, scale and down.
type SummaryJSON struct {
	Type             string   `json:"type"`
	Cluster          string   `json:"cluster"`
	Provider         string   `json:"provider"`
	Providers        []string `json:"providers"`
	SchedulerAddress string   `json:"scheduler_address"`
	DashboardAddress string   `json:"dashboard_address"`
	Machines         int      `json:"machines"`
	Workers          int      `json:"workers"`
	Launched         int      `json:"launched"`
	Terminated       int      `json:"terminated"`
	Shortfall        int      `json:"shortfall"`
	PricePerHour     float64  `json:"price_per_hour"`
	// Error is set when the operation failed; the other fields say what
	// exists anyway.
	Error string `json:"error,omitempty"`
}

// ClusterJSON is one element of `burst ls -o json`.
type ClusterJSON struct {
	Cluster          string    `json:"cluster"`
	Provider         string    `json:"provider"`
	Head             bool      `json:"head"`
	Workers          int       `json:"workers"`
	Machines         int       `json:"machines"`
	SchedulerAddress string    `json:"scheduler_address"`
	PricePerHour     float64   `json:"price_per_hour"`
	LaunchedAt       time.Time `json:"launched_at"`
}

func writeJSON(w io.Writer, v any, indent bool) error {
	enc := json.NewEncoder(w)
	if indent {
		enc.SetIndent("", "  ")
	}
	return enc.Encode(v)
}

func summaryOf(res *provision.Result, c string) SummaryJSON {
	return SummaryJSON{
		Type: progress.TypeSummary, Cluster: c, Provider: strings.Join(res.Providers, ","), Providers: nonNil(res.Providers),
		SchedulerAddress: res.SchedulerAddress, DashboardAddress: res.DashboardAddress,
		Machines: len(res.Machines), Workers: res.Workers(), Launched: res.Launched, Terminated: res.Terminated,
		Shortfall: res.Shortfall, PricePerHour: round4(res.PricePerHour),
	}
}

// printUpResult prints what up or scale left: the cluster's machines and
// addresses, also after a failure (opErr), when it says what exists.
func printUpResult(f *Factory, cfg *config.Config, c *spec.Cluster, res *provision.Result, opErr error) error {
	if cfg.Output == "json" {
		sum := summaryOf(res, c.Name)
		if opErr != nil {
			sum.Error = oneLine(opErr.Error())
		}
		return writeJSONLine(f.IO.Out, sum)
	}
	w := &printer{w: f.IO.Out}
	head := "no head"
	if res.Head != nil {
		head = "1 head"
	}
	state := "is up"
	if opErr != nil {
		state = "is incomplete"
	}
	w.printf("Cluster %s %s on %s: %s + %s, $%.4f/h\n", c.Name, state, strings.Join(res.Providers, ","), head, plural(res.Workers(), "worker"), res.PricePerHour)
	if res.SchedulerAddress != "" {
		w.printf("  scheduler  %s\n", res.SchedulerAddress)
		w.printf("  dashboard  %s\n", res.DashboardAddress)
	}
	if res.Shortfall > 0 {
		w.printf("  missing    %s (no capacity; run burst up again to retry)\n", plural(res.Shortfall, "worker"))
	}
	if res.SchedulerAddress != "" {
		w.printf("Connect: from dask.distributed import Client; client = Client(%q)\n", res.SchedulerAddress)
	}
	lifetime := []string{}
	if c.IdleTimeout > 0 {
		lifetime = append(lifetime, "after "+c.IdleTimeout.String()+" idle")
	}
	if c.MaxLifetime > 0 {
		lifetime = append(lifetime, "at the latest "+c.MaxLifetime.String()+" after launch")
	}
	if len(lifetime) > 0 {
		w.printf("It removes itself %s; burst down %s removes it now.\n", strings.Join(lifetime, ", "), c.Name)
	} else {
		w.printf("It runs until burst down %s.\n", c.Name)
	}
	return w.err
}

func printMachines(f *Factory, ms []provider.Machine) error {
	tty := f.IO.IsStdoutTTY()
	tw := table(f.IO.Out, tty)
	w := &printer{w: tw}
	header := []string{"ID", "ROLE", "STATE", "PROVIDER", "ZONE", "TYPE", "CAPACITY", "PRIVATE IP", "AGE"}
	if tty {
		w.println(f.IO.Bold(strings.Join(header, "\t")))
	}
	now := f.Now()
	for _, m := range ms {
		w.println(strings.Join([]string{m.ID, string(m.Role), string(m.State), m.Provider, m.Zone, m.InstanceType, string(m.Capacity), dash(m.PrivateIP), age(now, m.LaunchedAt)}, "\t"))
	}
	return w.flush(tw)
}

func age(now, t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := now.Sub(t)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

func round4(f float64) float64 { return float64(int64(f*10000+0.5)) / 10000 }

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// table returns a writer for rows of tab-separated cells: aligned columns on
// a terminal, the tabs themselves (stable, cut-able) in a pipe.
func table(w io.Writer, tty bool) interface {
	io.Writer
	Flush() error
} {
	if tty {
		return tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	}
	return plainTable{w}
}

type plainTable struct{ io.Writer }

func (plainTable) Flush() error { return nil }

// printer prints text output and keeps the first write error, which the
// command returns as it returns writeJSON's: output that could not be
// written is a failure, not a success.
type printer struct {
	w   io.Writer
	err error
}

func (p *printer) printf(format string, args ...any) {
	if p.err == nil {
		_, p.err = fmt.Fprintf(p.w, format, args...)
	}
}

func (p *printer) println(args ...any) {
	if p.err == nil {
		_, p.err = fmt.Fprintln(p.w, args...)
	}
}

// flush flushes the table p printed into and returns the first error of
// the writes and the flush.
func (p *printer) flush(tw interface{ Flush() error }) error {
	if err := tw.Flush(); p.err == nil {
		p.err = err
	}
	return p.err
}
