package cli

import (
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/burstdev/burst/pkg/spec"
)

// specFlags are the flags that shape a cluster, shared by up, scale and
// plan. Only flags the user set take effect, on top of the cluster file, the
// remembered spec and the configuration.
type specFlags struct {
	fs *pflag.FlagSet

	File    string
	Workers string

	CPU, Memory, GPU, GPUMemory, Arch, Disk string
	SpotPolicy                              string
	Spot                                    bool
	MaxPrice                                string
	Regions, Zones, InstanceTypes           []string
	HeadCPU, HeadMemory                     string
	HeadInstanceTypes                       []string

	Workload, Image string
	Pip             []string
	IdleTimeout     string
	MaxLifetime     string
	DeathTimeout    string
}

// addSpecFlags registers the flags on cmd; withCount adds -n.
func addSpecFlags(cmd *cobra.Command, sf *specFlags, withCount bool) {
	fl := cmd.Flags()
	sf.fs = fl
	fl.StringVarP(&sf.File, "file", "f", "", "cluster file (YAML, kind: Cluster); flags override its fields")
	if withCount {
		fl.StringVarP(&sf.Workers, "workers", "n", "", "number of workers (default: the cluster's current count, or 0)")
	}
	fl.StringVar(&sf.CPU, "cpu", "", "vCPUs per worker: N exactly or N+ at least (default 2+)")
	fl.StringVar(&sf.Memory, "memory", "", "memory per worker: SIZE or SIZE+, e.g. 32GiB+ (default 4GiB+)")
	fl.StringVar(&sf.GPU, "gpu", "", "GPUs per worker: --gpu for any, or MODEL[:COUNT], e.g. A100:8, L4")
	fl.Lookup("gpu").NoOptDefVal = "any"
	fl.StringVar(&sf.GPUMemory, "gpu-memory", "", "memory per GPU, e.g. 40GiB+")
	fl.StringVar(&sf.Arch, "arch", "", "CPU architecture: x86_64 or arm64 (default any)")
	fl.StringVar(&sf.Disk, "disk", "", "root disk size per machine, e.g. 100GiB")
	fl.StringVar(&sf.SpotPolicy, "spot-policy", "", "on-demand, spot or spot-with-fallback (env BURST_SPOT_POLICY)")
	fl.BoolVar(&sf.Spot, "spot", false, "shorthand for --spot-policy spot-with-fallback")
	fl.StringVar(&sf.MaxPrice, "max-price", "", "most to pay per worker-hour, USD")
	fl.StringSliceVar(&sf.Regions, "region", nil, "regions to use, comma-separated (env BURST_REGION)")
	fl.StringSliceVar(&sf.Zones, "zone", nil, "zones to use, comma-separated")
	fl.StringSliceVar(&sf.InstanceTypes, "instance-type", nil, "only these worker instance types, comma-separated")
	fl.StringVar(&sf.HeadCPU, "head-cpu", "", "vCPUs of the head (default 2+)")
	fl.StringVar(&sf.HeadMemory, "head-memory", "", "memory of the head (default 4GiB+)")
	fl.StringSliceVar(&sf.HeadInstanceTypes, "head-instance-type", nil, "only these head instance types")
	fl.StringVar(&sf.Workload, "workload", "", "what the machines run: dask or none (env BURST_WORKLOAD; default dask)")
	fl.StringVar(&sf.Image, "image", "", "container image for the workload on clouds (env BURST_IMAGE; default "+spec.DefaultImage+")")
	fl.StringArrayVar(&sf.Pip, "pip", nil, "extra Python package to install at boot (repeatable), like EXTRA_PIP_PACKAGES")
	fl.StringVar(&sf.IdleTimeout, "idle-timeout", "", "remove the cluster after this long with no tasks and no clients; 0 disables (env BURST_IDLE_TIMEOUT; default 20m)")
	fl.StringVar(&sf.MaxLifetime, "max-lifetime", "", "remove the cluster this long after launch, busy or not; 0 disables (env BURST_MAX_LIFETIME; default 12h)")
	fl.StringVar(&sf.DeathTimeout, "death-timeout", "", "how long a worker waits for a lost scheduler before it exits (default 60s)")
}

// input returns the spec fields the user set by flag.
func (sf *specFlags) input() (spec.Input, error) {
	var in spec.Input
	changed := func(name string) bool { return sf.fs != nil && sf.fs.Changed(name) }
	if changed("workers") {
		n, err := spec.ParseCount(sf.Workers)
		if err != nil {
			return in, err
		}
		in.Workers.Count = &n
	}
	w := &in.Workers
	set := func(name string, dst *string, v string) {
		if changed(name) {
			*dst = v
		}
	}
	set("cpu", &w.CPU, sf.CPU)
	set("memory", &w.Memory, sf.Memory)
	set("gpu", &w.GPU, sf.GPU)
	set("gpu-memory", &w.GPUMemory, sf.GPUMemory)
	set("arch", &w.Arch, sf.Arch)
	set("disk", &w.Disk, sf.Disk)
	set("spot-policy", &w.Spot, sf.SpotPolicy)
	if changed("spot") {
		if sf.Spot {
			w.Spot = string(spec.SpotWithFallback)
		} else {
			w.Spot = string(spec.OnDemand)
		}
	}
	set("max-price", &w.MaxPrice, sf.MaxPrice)
	for _, name := range []string{"cpu", "memory", "gpu-memory", "arch", "disk", "spot-policy", "max-price", "workload", "image", "idle-timeout", "max-lifetime", "death-timeout", "head-cpu", "head-memory"} {
		if changed(name) && sf.fs.Lookup(name).Value.String() == "" {
			return in, spec.Errorf("--%s needs a value", name)
		}
	}
	if changed("instance-type") {
		w.InstanceTypes = sf.InstanceTypes
	}
	set("head-cpu", &in.Head.CPU, sf.HeadCPU)
	set("head-memory", &in.Head.Memory, sf.HeadMemory)
	if changed("head-instance-type") {
		in.Head.InstanceTypes = sf.HeadInstanceTypes
	}
	if changed("disk") {
		in.Head.Disk = sf.Disk
	}
	if changed("arch") {
		in.Head.Arch = sf.Arch
	}
	if changed("region") {
		in.Regions = sf.Regions
	}
	if changed("zone") {
		in.Zones = sf.Zones
	}
	set("workload", &in.Workload.Name, sf.Workload)
	set("image", &in.Workload.Image, sf.Image)
	if changed("pip") {
		in.Workload.Pip = sf.Pip
	}
	set("idle-timeout", &in.IdleTimeout, sf.IdleTimeout)
	set("max-lifetime", &in.MaxLifetime, sf.MaxLifetime)
	set("death-timeout", &in.Workload.DeathTimeout, sf.DeathTimeout)
	return in, nil
}
