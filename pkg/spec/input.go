package spec

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"gopkg.in/yaml.v3"
)

// Input is a cluster spec as a user typed it: strings in the grammar, empty
// for "not given". Flags and cluster files both produce an Input; applying
// Inputs in order (config defaults, then the file, then flags) gives the
// documented precedence.
type Input struct {
	Name        string        `yaml:"-"`
	Providers   []string      `yaml:"provider,omitempty"`
	Regions     []string      `yaml:"region,omitempty"`
	Zones       []string      `yaml:"zone,omitempty"`
	IdleTimeout string        `yaml:"idleTimeout,omitempty"`
	MaxLifetime string        `yaml:"maxLifetime,omitempty"`
	Workload    WorkloadInput `yaml:"workload,omitempty"`
	Head        PoolInput     `yaml:"head,omitempty"`
	Workers     PoolInput     `yaml:"workers,omitempty"`
}

// WorkloadInput is the workload part of an Input.
type WorkloadInput struct {
	Name         string   `yaml:"name,omitempty"`
	Image        string   `yaml:"image,omitempty"`
	Pip          []string `yaml:"pip,omitempty"`
	DeathTimeout string   `yaml:"deathTimeout,omitempty"`
}

// PoolInput is one pool's part of an Input.
type PoolInput struct {
	Count         *int     `yaml:"count,omitempty"`
	CPU           string   `yaml:"cpu,omitempty"`
	Memory        string   `yaml:"memory,omitempty"`
	GPU           string   `yaml:"gpu,omitempty"` // "any", "none", MODEL[:COUNT]
	GPUMemory     string   `yaml:"gpuMemory,omitempty"`
	Arch          string   `yaml:"arch,omitempty"`
	Disk          string   `yaml:"disk,omitempty"`
	Spot          string   `yaml:"spot,omitempty"`
	MaxPrice      string   `yaml:"maxPrice,omitempty"`
	InstanceTypes []string `yaml:"instanceTypes,omitempty"`
}

// ApplyTo overwrites c's fields with every field the input sets.
func (in *Input) ApplyTo(c *Cluster) error {
	if in.Name != "" {
		c.Name = in.Name
	}
	if len(in.Providers) > 0 {
		c.Providers = lower(in.Providers)
	}
	if len(in.Regions) > 0 {
		c.Regions = in.Regions
	}
	if len(in.Zones) > 0 {
		c.Zones = in.Zones
	}
	var err error
	if in.IdleTimeout != "" {
		if c.IdleTimeout, err = ParseDuration(in.IdleTimeout); err != nil {
			return fmt.Errorf("idle timeout: %w", err)
		}
	}
	if in.MaxLifetime != "" {
		if c.MaxLifetime, err = ParseDuration(in.MaxLifetime); err != nil {
			return fmt.Errorf("max lifetime: %w", err)
		}
	}
	w := in.Workload
	if w.Name != "" {
		c.Workload.Name = strings.ToLower(w.Name)
	}
	if w.Image != "" {
		c.Workload.Image = w.Image
	}
	if len(w.Pip) > 0 {
		c.Workload.Pip = append([]string(nil), w.Pip...)
	}
	if w.DeathTimeout != "" {
		if c.Workload.DeathTimeout, err = ParseDuration(w.DeathTimeout); err != nil {
			return fmt.Errorf("death timeout: %w", err)
		}
	}
	if err := in.Head.ApplyTo(&c.Head); err != nil {
		return err
	}
	return in.Workers.ApplyTo(&c.Workers)
}

// ApplyTo overwrites p's fields with every field the input sets.
func (in *PoolInput) ApplyTo(p *Pool) error {
	var err error
	if in.Count != nil {
		if *in.Count < 0 || *in.Count > MaxCount {
			return Errorf("count %d is out of range 0..%d", *in.Count, MaxCount)
		}
		p.Count = *in.Count
	}
	if in.CPU != "" {
		if p.Resources.CPU, err = ParseCPU(in.CPU); err != nil {
			return err
		}
	}
	if in.Memory != "" {
		if p.Resources.Memory, err = ParseSizeBound(in.Memory); err != nil {
			return fmt.Errorf("memory: %w", err)
		}
	}
	switch strings.ToLower(in.GPU) {
	case "":
	case "none", "false", "0":
		p.Resources.GPU = GPU{}
	default:
		if p.Resources.GPU, err = ParseGPU(in.GPU); err != nil {
			return err
		}
	}
	if in.GPUMemory != "" {
		if p.Resources.GPUMemory, err = ParseSizeBound(in.GPUMemory); err != nil {
			return fmt.Errorf("gpu memory: %w", err)
		}
		if p.Resources.GPU.Count == 0 { // --gpu-memory alone implies "some GPU"
			p.Resources.GPU = GPU{Count: 1, OrMore: true}
		}
	}
	if in.Arch != "" {
		if p.Resources.Arch, err = ParseArch(in.Arch); err != nil {
			return err
		}
	}
	if in.Disk != "" {
		if p.Disk, err = ParseSize(in.Disk); err != nil {
			return fmt.Errorf("disk: %w", err)
		}
		if p.Disk < GiB || p.Disk > 64*TiB {
			return Errorf("disk %s is out of range 1GiB..64TiB", in.Disk)
		}
	}
	if in.Spot != "" {
		if p.Spot, err = ParseSpotPolicy(in.Spot); err != nil {
			return err
		}
	}
	if in.MaxPrice != "" {
		if p.MaxPrice, err = ParsePrice(in.MaxPrice); err != nil {
			return err
		}
		if p.MaxPrice == 0 {
			return Errorf("invalid max price %q: must be greater than zero (leave it out for no cap)", in.MaxPrice)
		}
	}
	if len(in.InstanceTypes) > 0 {
		p.InstanceTypes = append([]string(nil), in.InstanceTypes...)
	}
	return nil
}

// File is a cluster file (-f cluster.yaml).
type File struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name string `yaml:"name"`
	} `yaml:"metadata"`
	Spec Input `yaml:"spec"`
}

// APIVersion and Kind of cluster files.
const (
	APIVersion = "burst.dev/v1alpha1"
	Kind       = "Cluster"
)

// ReadFile reads and checks a cluster file. Unknown fields are errors, so a
// typo never silently falls back to a default.
func ReadFile(path string) (*Input, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, Errorf("cluster file: %v", err)
	}
	return ParseFile(path, b)
}

// ParseFile parses cluster-file bytes; name is used in messages only.
func ParseFile(name string, b []byte) (*Input, error) {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var f File
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, Errorf("cluster file %s is empty", name)
		}
		return nil, Errorf("cluster file %s: %s", name, oneLine(err.Error()))
	}
	if f.APIVersion != APIVersion {
		return nil, Errorf("cluster file %s: apiVersion must be %s, got %q", name, APIVersion, f.APIVersion)
	}
	if f.Kind != Kind {
		return nil, Errorf("cluster file %s: kind must be %s, got %q", name, Kind, f.Kind)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, Errorf("cluster file %s holds more than one YAML document; put one cluster in a file", name)
	}
	in := f.Spec
	in.Name = f.Metadata.Name
	return &in, nil
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", "; ")
	return strings.TrimPrefix(s, "yaml: ")
}

func lower(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = strings.ToLower(strings.TrimSpace(s))
	}
	return out
}
