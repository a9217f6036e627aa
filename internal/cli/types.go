package cli

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/burstdev/burst/internal/catalog"
	"github.com/burstdev/burst/pkg/spec"
)

// TypesOptions are the inputs of `burst types`.
type TypesOptions struct {
	Factory *Factory

	CPU, Memory, GPU, GPUMemory, Arch string
	MaxPrice                          string
	Spot                              bool
	Regions, InstanceTypes            []string
	All                               bool
	Limit                             int

	// set records which flags the user gave.
	set func(name string) bool
}

// NewCmdTypes builds `burst types`.
func NewCmdTypes(f *Factory, runF func(context.Context, *TypesOptions) error) *cobra.Command {
	opts := &TypesOptions{Factory: f}
	cmd := &cobra.Command{
		Use:   "types",
		Short: "List machine types and prices across clouds",
		Long: `List the machine types of the catalog with their shape and their cheapest
on-demand and spot prices, filtered with the resource flags of up and plan.
Cheapest first. Without --provider it lists every cloud of the catalog
(AWS, GCP, Azure).

Burstable and special-purpose (bare metal, FPGA, Inferentia, Trainium)
types are left out, as plans leave them out, unless --all is given or the
type is named with --instance-type.`,
		Example: `  burst types --gpu H100
  burst types --cpu 16 --memory 64GiB+ --arch arm64 --provider aws,gcp
  burst types --gpu A100:8 --region us-east-1,us-central1 -o json
  burst types --instance-type m7i.large,n2-standard-2`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.set = cmd.Flags().Changed
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return typesRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.CPU, "cpu", "", "vCPUs: N exactly or N+ at least")
	fl.StringVar(&opts.Memory, "memory", "", "memory: SIZE or SIZE+, e.g. 32GiB+")
	fl.StringVar(&opts.GPU, "gpu", "", "GPUs: --gpu for any, MODEL[:COUNT], or none")
	fl.Lookup("gpu").NoOptDefVal = "any"
	fl.StringVar(&opts.GPUMemory, "gpu-memory", "", "memory per GPU, e.g. 40GiB+")
	fl.StringVar(&opts.Arch, "arch", "", "x86_64 or arm64")
	fl.StringVar(&opts.MaxPrice, "max-price", "", "most per machine-hour, USD (on-demand, or spot with --spot)")
	fl.BoolVar(&opts.Spot, "spot", false, "sort and cap by the spot price; list only types with spot offerings")
	fl.StringSliceVar(&opts.Regions, "region", nil, "only prices in these regions, comma-separated")
	fl.StringSliceVar(&opts.InstanceTypes, "instance-type", nil, "only these types, comma-separated")
	fl.BoolVar(&opts.All, "all", false, "include burstable and special-purpose types")
	fl.IntVar(&opts.Limit, "limit", 50, "most rows on a terminal (0: all); -o json and pipes list all")
	return cmd
}

// TypeJSON is one element of `burst types -o json`.
type TypeJSON struct {
	Provider     string     `json:"provider"`
	InstanceType string     `json:"instance_type"`
	Family       string     `json:"family"`
	VCPUs        int        `json:"vcpus"`
	MemoryGiB    float64    `json:"memory_gib"`
	GPUs         int        `json:"gpus"`
	GPUModel     string     `json:"gpu_model"`
	GPUMemoryGiB float64    `json:"gpu_memory_gib"`
	Arch         string     `json:"arch"`
	Burstable    bool       `json:"burstable"`
	Exotic       bool       `json:"exotic"`
	Regions      int        `json:"regions"`
	OnDemand     *PriceJSON `json:"on_demand"`
	Spot         *PriceJSON `json:"spot"`
}

// PriceJSON is a type's cheapest price of one capacity type and where.
type PriceJSON struct {
	PricePerHour float64 `json:"price_per_hour"`
	Region       string  `json:"region"`
}

// TypesJSON is `burst types -o json`.
type TypesJSON struct {
	Types       []TypeJSON `json:"types"`
	CatalogDate string     `json:"catalog_date"`
}

func typesRun(ctx context.Context, opts *TypesOptions) error {
	f := opts.Factory
	cfg, err := f.Config()
	if err != nil {
		return err
	}
	set := opts.set
	if set == nil {
		set = func(string) bool { return false }
	}
	// The resource flags share up's grammar and errors.
	var pool spec.Pool
	in := spec.PoolInput{CPU: opts.CPU, Memory: opts.Memory, GPUMemory: opts.GPUMemory, Arch: opts.Arch, MaxPrice: opts.MaxPrice}
	if set("gpu") {
		in.GPU = opts.GPU
		if in.GPU == "" {
			return spec.Errorf("--gpu needs a value")
		}
	}
	if err := in.ApplyTo(&pool); err != nil {
		return err
	}
	r := pool.Resources
	if set("gpu") && !strings.Contains(opts.GPU, ":") && r.GPU.Wanted() {
		r.GPU.OrMore = true // --gpu H100 lists every H100 machine, whatever the count
	}
	anyGPU := !set("gpu") && !set("gpu-memory")
	for _, reg := range opts.Regions {
		if strings.TrimSpace(reg) == "" {
			return spec.Errorf("invalid region %q", reg)
		}
	}

	providers := explicitProviders(f)
	if len(providers) == 0 {
		providers = catalog.EmbeddedProviders()
	}
	for _, p := range providers {
		if err := f.CheckPlanProvider(p); err != nil {
			return err
		}
	}
	cat, err := f.Catalog(ctx, providers)
	if err != nil {
		return err
	}
	capacity := catalog.OnDemand
	if opts.Spot {
		capacity = catalog.Spot
	}
	var rows []TypeJSON
	for i := range cat.Types {
		t := &cat.Types[i]
		named := slices.ContainsFunc(opts.InstanceTypes, func(n string) bool { return strings.EqualFold(strings.TrimSpace(n), t.Name) })
		if len(opts.InstanceTypes) > 0 && !named || !opts.All && !named && (t.Burstable || t.Exotic) {
			continue
		}
		if !r.CPU.Matches(t.VCPUs) || !r.Memory.MatchesGiB(t.MemoryGiB) || r.Arch != "" && string(r.Arch) != t.Arch {
			continue
		}
		if !anyGPU && !r.GPU.Matches(t.GPUModel, t.GPUs) || !r.GPUMemory.IsZero() && !r.GPUMemory.MatchesGiB(t.GPUMemoryGiB) {
			continue
		}
		row := TypeJSON{Provider: t.Provider, InstanceType: t.Name, Family: t.Family, VCPUs: t.VCPUs, MemoryGiB: t.MemoryGiB, GPUs: t.GPUs,
			GPUModel: t.GPUModel, GPUMemoryGiB: t.GPUMemoryGiB, Arch: t.Arch, Burstable: t.Burstable, Exotic: t.Exotic}
		regions := map[string]bool{}
		for _, o := range t.Offerings {
			if len(opts.Regions) > 0 && !slices.Contains(opts.Regions, o.Region) {
				continue
			}
			regions[o.Region] = true
			dst := &row.OnDemand
			if o.Capacity == catalog.Spot {
				dst = &row.Spot
			}
			if *dst == nil || o.Price < (*dst).PricePerHour || o.Price == (*dst).PricePerHour && o.Region < (*dst).Region {
				*dst = &PriceJSON{PricePerHour: o.Price, Region: o.Region}
			}
		}
		row.Regions = len(regions)
		key := row.OnDemand
		if capacity == catalog.Spot {
			key = row.Spot
		}
		if key == nil || pool.MaxPrice > 0 && key.PricePerHour > pool.MaxPrice {
			continue
		}
		rows = append(rows, row)
	}
	price := func(t TypeJSON) float64 {
		if capacity == catalog.Spot {
			return t.Spot.PricePerHour
		}
		return t.OnDemand.PricePerHour
	}
	sort.Slice(rows, func(i, j int) bool {
		a, b := rows[i], rows[j]
		if pa, pb := price(a), price(b); pa != pb {
			return pa < pb
		}
		if a.Provider != b.Provider {
			return a.Provider < b.Provider
		}
		return a.InstanceType < b.InstanceType
	})
	if len(rows) == 0 {
		return fmt.Errorf("no machine type matches these filters")
	}
	if cfg.Output == "json" {
		return writeJSON(f.IO.Out, TypesJSON{Types: rows, CatalogDate: cat.Date.Format("2006-01-02")}, true)
	}
	tty := f.IO.IsStdoutTTY()
	shown := rows
	if tty && opts.Limit > 0 && len(rows) > opts.Limit {
		shown = rows[:opts.Limit]
	}
	tw := table(f.IO.Out, tty)
	w := &printer{w: tw}
	if tty {
		w.println(f.IO.Bold(strings.Join([]string{"PROVIDER", "INSTANCE TYPE", "VCPUS", "MEMORY", "GPUS", "GPU MEMORY", "ARCH", "ON-DEMAND $/H", "SPOT $/H", "REGIONS"}, "\t")))
	}
	for _, t := range shown {
		g, gm := "-", "-"
		if t.GPUs > 0 {
			g, gm = fmt.Sprintf("%dx %s", t.GPUs, t.GPUModel), gib(t.GPUMemoryGiB)
		}
		w.println(strings.Join([]string{t.Provider, t.InstanceType, strconv.Itoa(t.VCPUs), gib(t.MemoryGiB), g, gm, t.Arch,
			priceIn(t.OnDemand, tty), priceIn(t.Spot, tty), strconv.Itoa(t.Regions)}, "\t"))
	}
	if err := w.flush(tw); err != nil {
		return err
	}
	if tty {
		more := ""
		if len(shown) < len(rows) {
			more = fmt.Sprintf(" (%d shown; --limit 0 for all)", len(shown))
		}
		_, err := fmt.Fprintf(f.IO.Out, "\n%d types%s. Prices are the cheapest region's (USD per machine-hour), catalog of %s (%s old).\n",
			len(rows), more, cat.Date.Format("2006-01-02"), days(cat.Age(f.Now())))
		return err
	}
	return nil
}

func priceIn(p *PriceJSON, tty bool) string {
	if p == nil {
		return "-"
	}
	if tty {
		return money(p.PricePerHour) + " " + p.Region
	}
	return money(p.PricePerHour)
}
