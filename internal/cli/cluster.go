package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/burstdev/burst/internal/cache"
	"github.com/burstdev/burst/internal/config"
	"github.com/burstdev/burst/internal/plan"
	"github.com/burstdev/burst/internal/progress"
	"github.com/burstdev/burst/internal/provider"
	"github.com/burstdev/burst/internal/provision"
	"github.com/burstdev/burst/pkg/spec"
)

// clusterRequest is what up and scale share: a spec to reach and how.
type clusterRequest struct {
	Name      string
	Flags     *specFlags
	Providers []string // --provider, if given
	Count     *int     // scale's positional count
	Yes       bool
	Wait      string
	Timeout   time.Duration
	// RequireExisting makes a missing cluster an error (scale).
	RequireExisting bool
	// PlanOnly accepts, besides registered providers, the clouds the
	// embedded catalog covers: `burst plan` needs no provider to run.
	PlanOnly bool
}

// resolveSpec builds the cluster spec: the remembered spec of an existing
// cluster, or the defaults and configuration, then the cluster file, then
// flags. It returns whether the spec was remembered.
func resolveSpec(f *Factory, req *clusterRequest) (*spec.Cluster, bool, error) {
	cfg, err := f.Config()
	if err != nil {
		return nil, false, err
	}
	var fileIn *spec.Input
	if req.Flags.File != "" {
		if fileIn, err = spec.ReadFile(req.Flags.File); err != nil {
			return nil, false, err
		}
	}
	name := req.Name
	if name == "" && fileIn != nil && fileIn.Name != "" {
		name = fileIn.Name
	}
	if name == "" {
		name = cfg.Cluster
	}
	if err := spec.ValidateName(name); err != nil {
		return nil, false, err
	}
	flagIn, err := req.Flags.input()
	if err != nil {
		return nil, false, err
	}
	dir, err := f.Cache()
	if err != nil {
		return nil, false, err
	}
	cached, err := dir.LoadSpec(name)
	if err != nil {
		return nil, false, err
	}
	var c spec.Cluster
	if cached != nil {
		c = *cached
	} else {
		c = spec.Default(name)
		if err := configInput(cfg).ApplyTo(&c); err != nil {
			return nil, false, fmt.Errorf("config: %w", err)
		}
	}
	if fileIn != nil {
		fileIn.Name = ""
		if err := fileIn.ApplyTo(&c); err != nil {
			return nil, false, err
		}
	}
	if err := flagIn.ApplyTo(&c); err != nil {
		return nil, false, err
	}
	if req.Count != nil {
		c.Workers.Count = *req.Count
	}
	c.Name = name
	switch {
	case len(req.Providers) > 0:
		c.Providers = req.Providers
	case len(c.Providers) == 0:
		if c.Providers, err = f.ProviderNames(nil); err != nil {
			return nil, false, err
		}
	}
	check := f.Registry.Check
	if req.PlanOnly {
		check = f.CheckPlanProvider
	}
	for _, p := range c.Providers {
		if err := check(p); err != nil {
			return nil, false, err
		}
	}
	if err := c.Validate(); err != nil {
		return nil, false, err
	}
	return &c, cached != nil, nil
}

// knownRegions returns, per provider, the regions to look for a cluster's
// machines in: the ones remembered from earlier runs plus the ones given.
// Filter.Regions restricts a search, so with no cluster name (ls) only the
// given regions count. A provider with none searches its configured
// regions (every region, for GCP and Azure, whose listings are global).
func knownRegions(dir cache.Dir, name string, providers, regions []string) map[string][]string {
	out := map[string][]string{}
	if name != "" {
		out = dir.Sites(name)
	}
	for _, p := range providers {
		for _, r := range regions {
			if !slices.Contains(out[p], r) {
				out[p] = append(out[p], r)
			}
		}
	}
	return out
}

// configInput turns the configuration's spec defaults into an Input.
func configInput(cfg *config.Config) *spec.Input {
	in := &spec.Input{IdleTimeout: cfg.IdleTimeout, MaxLifetime: cfg.MaxLifetime}
	in.Workload.Name = cfg.Workload
	in.Workload.Image = cfg.Image
	in.Workers.Spot = cfg.SpotPolicy
	in.Regions = spec.SplitList(cfg.Region)
	return in
}

// explicitProviders returns the --provider list if the flag was given.
func explicitProviders(f *Factory) []string {
	if f.flags == nil || !f.flags.Changed("provider") {
		return nil
	}
	v, _ := f.flags.GetString("provider")
	return spec.SplitList(strings.ToLower(v))
}

// engine builds the reconcile engine for a command.
func (f *Factory) engine(cfg *config.Config, rep progress.Reporter, unavailable *plan.Unavailable, timeout time.Duration) *provision.Engine {
	return &provision.Engine{
		Provider:    f.Provider,
		Report:      rep,
		Unavailable: unavailable,
		Owner:       f.Owner(),
		Now:         f.Now,
		WaitTimeout: timeout,
	}
}

// converge plans a spec and runs it through the engine: the body of up and
// scale.
func converge(ctx context.Context, f *Factory, req *clusterRequest) error {
	cfg, err := f.Config()
	if err != nil {
		return err
	}
	wait := provision.WaitMode(req.Wait)
	switch wait {
	case provision.WaitNone, provision.WaitMachines, provision.WaitScheduler:
	default:
		return usageErrorf(fmt.Errorf("invalid --wait %q (want scheduler, machines or none)", req.Wait))
	}
	c, existing, err := resolveSpec(f, req)
	if err != nil {
		return err
	}
	if req.RequireExisting && !existing {
		return fmt.Errorf("cluster %s is not known here; create it with `burst up %s` (or pass its spec with -f)", c.Name, c.Name)
	}
	dir, err := f.Cache()
	if err != nil {
		return err
	}
	unavailable := dir.LoadUnavailable(f.Now())
	cat, err := f.Catalog(ctx, c.Providers)
	if err != nil {
		return err
	}
	makePlan := func(c *spec.Cluster) (*plan.Plan, error) {
		return plan.Make(c, cat, plan.Options{Unavailable: unavailable, Now: f.Now()})
	}
	pl, err := makePlan(c)
	if err != nil {
		return err
	}

	rep := f.Reporter(cfg)
	eng := f.engine(cfg, rep, unavailable, req.Timeout)
	eng.Regions = knownRegions(dir, c.Name, c.Providers, c.Regions)
	eng.Existing = len(dir.Sites(c.Name)) > 0
	// The engine pins re-plans to the head's site (see Engine.Replan).
	eng.Replan = func(c *spec.Cluster, site plan.Site) (*plan.Plan, error) {
		return plan.Make(c, cat, plan.Options{Unavailable: unavailable, Now: f.Now(), Site: site})
	}

	if f.IO.CanPrompt() && !req.Yes && cfg.Output != "json" {
		diff, err := eng.Preview(ctx, c, pl)
		if err != nil {
			return err
		}
		if diff.Launches() {
			_, _ = fmt.Fprint(f.IO.ErrOut, describeDiff(c, pl, diff))
			ok, err := f.IO.Confirm("Create these machines?")
			if err != nil {
				return err
			}
			if !ok {
				return &silentError{err: errors.New("cancelled")}
			}
		}
	}
	// Remember the spec and where it goes before launching, so a crash
	// still leaves the shape and the place for the next run.
	if err := dir.SaveSpec(c); err != nil {
		return err
	}
	if err := dir.AddSites(c.Name, map[string][]string{pl.Site.Provider: {pl.Site.Region}}); err != nil {
		return err
	}
	opCtx := ctx
	if req.Timeout > 0 {
		var cancel context.CancelFunc
		opCtx, cancel = context.WithTimeout(ctx, req.Timeout)
		defer cancel()
	}
	res, err := eng.Up(opCtx, c, pl, wait)
	rep.Close()
	if serr := dir.SaveUnavailable(unavailable, f.Now()); serr != nil && err == nil {
		err = serr
	}
	// Whatever error the provider wrapped it in, a dead context says why
	// the operation stopped.
	switch {
	case err != nil && ctx.Err() != nil:
		reportInterrupted(f, c.Name, c.Providers, "interrupted")
		return &silentError{err: context.Canceled}
	case err != nil && opCtx.Err() != nil:
		reportInterrupted(f, c.Name, c.Providers, fmt.Sprintf("gave up after --timeout %s", req.Timeout))
		return &silentError{err: &timeoutError{err}}
	}
	if res != nil {
		sites := map[string][]string{}
		for _, m := range res.Machines {
			sites[m.Provider] = append(sites[m.Provider], m.Region)
		}
		if serr := dir.AddSites(c.Name, sites); serr != nil && err == nil {
			err = serr
		}
		res.PricePerHour = priceOf(res.Machines, cat)
		if perr := printUpResult(f, cfg, c, res, err); perr != nil && err == nil {
			err = perr
		}
	}
	return err
}

// reportInterrupted says, on one line, what exists after Ctrl-C: the
// machines already launched stay (they are tagged and carry their own
// deadline), and the user chooses to finish or remove them.
func reportInterrupted(f *Factory, name string, providers []string, what string) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	eng := &provision.Engine{Provider: f.Provider, Now: f.Now}
	res, err := eng.Status(ctx, name, providers)
	if err != nil {
		_, _ = fmt.Fprintf(f.IO.ErrOut, "burst: %s; could not list cluster %s: %v\n", what, name, err)
		return
	}
	live := 0
	for _, m := range res.Machines {
		if m.State.Live() {
			live++
		}
	}
	_, _ = fmt.Fprintf(f.IO.ErrOut, "burst: %s; cluster %s has %d live machines. Run `burst up %s` to finish or `burst down %s` to remove them.\n", what, name, live, name, name)
}

func describeDiff(c *spec.Cluster, pl *plan.Plan, d provision.Diff) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Cluster %s on %s:\n", c.Name, strings.Join(pl.Providers(), ","))
	if d.Head {
		if g := pl.Head(); g != nil && len(g.Offerings) > 0 {
			o := g.Offerings[0]
			fmt.Fprintf(&b, "  + 1 head     %s %s in %s  $%.4f/h\n", o.InstanceType, o.Capacity, o.Region, o.Price)
		}
	}
	if d.AddWorkers > 0 {
		for _, g := range pl.Workers() {
			if g.Fallback || len(g.Offerings) == 0 {
				continue
			}
			o := g.Offerings[0]
			fmt.Fprintf(&b, "  + %d workers  %s %s in %s  $%.4f/h each\n", d.AddWorkers, o.InstanceType, o.Capacity, o.Region, o.Price)
			break
		}
	}
	if d.RemoveWorkers > 0 {
		fmt.Fprintf(&b, "  - %d workers\n", d.RemoveWorkers)
	}
	fmt.Fprintf(&b, "  total when up: $%.4f/h\n", pl.PricePerHour)
	return b.String()
}

// priceOf sums the catalog prices of live machines.
func priceOf(ms []provider.Machine, cat interface {
	Price(provider, name, region string, capacity string) (float64, bool)
}) float64 {
	total := 0.0
	for _, m := range ms {
		if !m.State.Live() {
			continue
		}
		if p, ok := cat.Price(m.Provider, m.InstanceType, m.Region, string(m.Capacity)); ok {
			total += p
		}
	}
	return total
}

func writeJSONLine(w io.Writer, v any) error {
	return writeJSON(w, v, false)
}

// timeoutError is an operation that ran out of --timeout: exit code 1, not
// 130 (nobody interrupted it).
type timeoutError struct{ err error }

func (e *timeoutError) Error() string { return "timed out: " + e.err.Error() }
