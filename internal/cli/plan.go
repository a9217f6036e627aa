package cli

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/burstdev/burst/internal/catalog"
	"github.com/burstdev/burst/internal/plan"
	"github.com/burstdev/burst/pkg/spec"
)

// PlanOptions are the inputs of `burst plan`.
type PlanOptions struct {
	Factory *Factory
	Name    string
	Spec    specFlags
	// Offerings is how many runner-up offerings per group a terminal shows.
	Offerings int
}

// NewCmdPlan builds `burst plan`.
func NewCmdPlan(f *Factory, runF func(context.Context, *PlanOptions) error) *cobra.Command {
	opts := &PlanOptions{Factory: f}
	cmd := &cobra.Command{
		Use:   "plan [NAME]",
		Short: "Show what up would launch and what it costs, without launching",
		Long: `Show the plan burst up would run for the same flags: for the head and the
workers, the offerings (provider, region, zones, instance type) it would try
in order, their price per machine-hour and the total, the runner-up sites,
the launch calls it expects, and the age of the catalog the prices come from.

plan has no side effects: it reads the catalog (the embedded snapshot, or
the cache of burst catalog refresh), never calls a cloud and needs no
credentials. It takes every flag of up. A spec no machine satisfies exits
with code 3 and names the nearest alternatives.

Head and workers share one site (provider and region), since workers reach
the scheduler on the head's private address: plan picks the site where the
whole cluster costs least. Sizes take B, KB, MB, GB, TB, KiB, MiB, GiB or
TiB (a bare number is GiB); --gpu takes any, MODEL or MODEL:COUNT (A100,
A100-80GB, H100, H200, L4, L40S, A10G, A10, T4, V100, ...), case-insensitive;
--spot means --spot-policy spot-with-fallback.`,
		Example: `  burst plan -n 100 --gpu A100:8 --spot-policy spot-with-fallback --provider aws,gcp
  burst plan -n 500 --cpu 8+ --memory 32GiB+ --spot --provider aws --region us-east-1,us-east-2
  burst plan -f examples/gpu-training.yaml -o json`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				opts.Name = args[0]
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return planRun(cmd.Context(), opts)
		},
	}
	addSpecFlags(cmd, &opts.Spec, true)
	cmd.Flags().IntVar(&opts.Offerings, "offerings", 4, "runner-up offerings shown per group on a terminal")
	return cmd
}

// PlanJSON is `burst plan -o json`: the plan as up runs it, plus where its
// prices come from.
type PlanJSON struct {
	*plan.Plan
	CatalogSource  string  `json:"catalog_source"`
	CatalogAgeDays float64 `json:"catalog_age_days"`
}

func planRun(ctx context.Context, opts *PlanOptions) error {
	f := opts.Factory
	cfg, err := f.Config()
	if err != nil {
		return err
	}
	pl, cat, err := makePlan(ctx, f, &clusterRequest{Name: opts.Name, Flags: &opts.Spec, Providers: explicitProviders(f), PlanOnly: true})
	if err != nil {
		return err
	}
	age := cat.Age(f.Now())
	if cfg.Output == "json" {
		return writeJSON(f.IO.Out, PlanJSON{Plan: pl, CatalogSource: cat.Source, CatalogAgeDays: float64(int(age.Hours()/24*10)) / 10}, true)
	}
	return printPlan(f, pl, cat, opts.Offerings)
}

// makePlan resolves the spec as up does and plans it over the catalog up
// would use, with the unavailable offerings up would skip. It writes
// nothing.
func makePlan(ctx context.Context, f *Factory, req *clusterRequest) (*plan.Plan, *catalog.Catalog, error) {
	c, _, err := resolveSpec(f, req)
	if err != nil {
		return nil, nil, err
	}
	dir, err := f.Cache()
	if err != nil {
		return nil, nil, err
	}
	cat, err := f.Catalog(ctx, c.Providers)
	if err != nil {
		return nil, nil, err
	}
	pl, err := plan.Make(c, cat, plan.Options{Unavailable: dir.LoadUnavailable(f.Now()), Now: f.Now()})
	return pl, cat, err
}

func printPlan(f *Factory, pl *plan.Plan, cat *catalog.Catalog, runnersUp int) error {
	w := &printer{w: f.IO.Out}
	tty := f.IO.IsStdoutTTY()
	if tty {
		w.printf("Plan for cluster %s on %s %s: $%s/h\n\n", pl.Cluster, pl.Site.Provider, pl.Site.Region, money(pl.PricePerHour))
	}
	tw := table(f.IO.Out, tty)
	tp := &printer{w: tw, err: w.err}
	if tty {
		tp.println(f.IO.Bold(strings.Join([]string{"ROLE", "COUNT", "CAPACITY", "PROVIDER", "REGION", "ZONES", "INSTANCE TYPE", "VCPUS", "MEMORY", "GPUS", "$/H EACH", "$/H TOTAL"}, "\t")))
	}
	for _, g := range pl.Groups {
		if len(g.Offerings) == 0 {
			continue
		}
		o := g.Offerings[0]
		role, count, total := string(g.Role), strconv.Itoa(g.Count), money(float64(g.Count)*o.Price)
		if g.Role == spec.RoleWorker {
			role = "workers"
		}
		if g.Fallback {
			// The fallback leg launches only the spot leg's shortfall.
			count, total = "≤"+count, "("+total+")"
			if !tty {
				count = "0-" + strconv.Itoa(g.Count)
			}
		}
		tp.println(strings.Join([]string{role, count, string(g.Capacity), o.Provider, o.Region, zonesOf(g, o.InstanceType),
			o.InstanceType, strconv.Itoa(o.VCPUs), gib(o.MemoryGiB), gpus(o), money(o.Price), total}, "\t"))
	}
	w.err = tp.flush(tw)
	if !tty {
		return w.err
	}
	w.printf("\nCatalog: %s, data of %s (%s old)\n", cat.Source, cat.Date.Format("2006-01-02"), days(cat.Age(f.Now())))

	if runnersUp > 0 {
		var lines []string
		for _, g := range pl.Groups {
			var alts []string
			seen := []string{g.Offerings[0].InstanceType}
			for _, o := range g.Offerings[1:] {
				if len(alts) == runnersUp {
					break
				}
				if slices.Contains(seen, o.InstanceType) {
					continue
				}
				seen = append(seen, o.InstanceType)
				alts = append(alts, fmt.Sprintf("%s $%s", o.InstanceType, money(o.Price)))
			}
			if len(alts) > 0 {
				more := ""
				if n := distinctTypes(g.Offerings) - len(alts) - 1; n > 0 {
					more = fmt.Sprintf(" (+%d more)", n)
				}
				lines = append(lines, fmt.Sprintf("  %-8s %-9s %s%s", groupName(g), g.Capacity, strings.Join(alts, ", "), more))
			}
		}
		if len(lines) > 0 {
			w.println("\nRunner-up offerings, tried in order when the first has no capacity:")
			w.println(strings.Join(lines, "\n"))
		}
	}
	if len(pl.Alternatives) > 0 {
		var alts []string
		for _, a := range pl.Alternatives {
			pct := ""
			if pl.PricePerHour > 0 {
				pct = fmt.Sprintf(" (+%.0f%%)", (a.PricePerHour/pl.PricePerHour-1)*100)
			}
			alts = append(alts, fmt.Sprintf("%s %s $%s/h%s", a.Provider, a.Region, money(a.PricePerHour), pct))
		}
		w.printf("\nRunner-up sites: %s\n", strings.Join(alts, "; "))
	}
	var calls []string
	for _, g := range pl.Groups {
		if g.Fallback || len(g.Calls) == 0 {
			continue
		}
		c := g.Calls[0]
		calls = append(calls, fmt.Sprintf("%s: %d x %s (%s, up to %d types)", groupName(g), len(g.Calls), c.API, plural(g.Count, "machine"), len(c.InstanceTypes)))
	}
	if len(calls) > 0 {
		w.printf("API calls: %s\n", strings.Join(calls, "; "))
	}
	return w.err
}

func groupName(g plan.Group) string {
	if g.Role == spec.RoleWorker {
		return "workers"
	}
	return string(g.Role)
}

// zonesOf names the zones the group's first type is offered in: "any" for
// a zone-less offering (the provider picks).
func zonesOf(g plan.Group, typ string) string {
	var zs []string
	for _, o := range g.Offerings {
		if o.InstanceType != typ {
			continue
		}
		if o.Zone == "" {
			return "any"
		}
		if !slices.Contains(zs, o.Zone) {
			zs = append(zs, o.Zone)
		}
	}
	return strings.Join(zs, ",")
}

func distinctTypes(offs []plan.Offering) int {
	var seen []string
	for _, o := range offs {
		if !slices.Contains(seen, o.InstanceType) {
			seen = append(seen, o.InstanceType)
		}
	}
	return len(seen)
}

func money(v float64) string {
	switch {
	case v == 0:
		return "0"
	case v < 1:
		return strconv.FormatFloat(v, 'f', 4, 64)
	case v < 100:
		return strconv.FormatFloat(v, 'f', 3, 64)
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}

func gib(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) + " GiB" }

func gpus(o plan.Offering) string {
	if o.GPUs == 0 {
		return "-"
	}
	return fmt.Sprintf("%dx %s", o.GPUs, o.GPUModel)
}

func days(d time.Duration) string {
	n := int(d.Hours() / 24)
	switch {
	case d < 24*time.Hour:
		return "less than a day"
	case n == 1:
		return "1 day"
	}
	return fmt.Sprintf("%d days", n)
}
