package catalog

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

func sample() *Catalog {
	return &Catalog{
		Date:   time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC),
		Source: "test",
		Zones:  map[string][]string{"r1": {"r1a", "r1b"}, "r2": {}},
		Types: []Type{
			{Provider: "p", Name: "small", Family: "s", VCPUs: 2, MemoryGiB: 3.75, Arch: "x86_64", Generation: 3, Burstable: true,
				Offerings: []Offering{{Region: "r1", Capacity: OnDemand, Price: 0.0416}, {Region: "r1", Zone: "r1b", Capacity: Spot, Price: 0.012345}}},
			{Provider: "p", Name: "gpu", Family: "g", VCPUs: 8, MemoryGiB: 61, GPUs: 1, GPUModel: "V100", GPUMemoryGiB: 16, Arch: "arm64", Exotic: true,
				Offerings: []Offering{{Region: "r2", Capacity: OnDemand, Price: 3.06}}},
			{Provider: "q", Name: "other", VCPUs: 1, MemoryGiB: 0.5, Arch: "x86_64"},
		},
	}
}

func TestCodecRoundTrip(t *testing.T) {
	c := sample()
	var buf bytes.Buffer
	if err := Encode(&buf, c); err != nil {
		t.Fatal(err)
	}
	got, err := Decode(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	for i := range got.Types {
		if len(got.Types[i].Offerings) == 0 {
			got.Types[i].Offerings = nil
		}
	}
	if !reflect.DeepEqual(got, c) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, c)
	}
	// Same catalog, same bytes.
	var again bytes.Buffer
	if err := Encode(&again, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again.Bytes(), buf.Bytes()) {
		t.Error("encoding is not deterministic")
	}
}

func TestDecodeRejectsCorruptInput(t *testing.T) {
	var buf bytes.Buffer
	if err := Encode(&buf, sample()); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	for _, in := range [][]byte{nil, []byte("BCAT"), []byte("JSON{}"), b[:len(b)/2], append(slices.Clone(b), 0xff)} {
		if _, err := Decode(in); err == nil {
			t.Errorf("Decode(%d bytes) succeeded", len(in))
		}
	}
	// Every truncation fails cleanly (no panic).
	for i := range b {
		_, _ = Decode(b[:i])
	}
}

var knownGPUs = []string{"A100", "A100-80GB", "H100", "H200", "L4", "L40S", "A10G", "A10", "T4", "V100", "K80", "M60", "P100", "P4", "P40", "MI300X", "V520"}

func TestEmbeddedSnapshot(t *testing.T) {
	if got := EmbeddedProviders(); !reflect.DeepEqual(got, []string{"aws", "azure", "gcp"}) {
		t.Fatalf("EmbeddedProviders = %v", got)
	}
	nameRE := map[string]*regexp.Regexp{
		"aws":   regexp.MustCompile(`^[a-z0-9-]+\.[a-z0-9-]+$`),
		"azure": regexp.MustCompile(`^Standard_[A-Za-z0-9_-]+$`),
		"gcp":   regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)+(\+nvidia-[a-z0-9-]+x[0-9]+)?$`),
	}
	for _, p := range EmbeddedProviders() {
		c, err := Embedded(p)
		if err != nil {
			t.Fatal(err)
		}
		if c.Date.Before(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)) || !strings.HasPrefix(c.Source, "embedded") {
			t.Errorf("%s: date %v source %q", p, c.Date, c.Source)
		}
		if len(c.Types) < 300 {
			t.Errorf("%s: only %d types", p, len(c.Types))
		}
		seen := map[string]bool{}
		for _, ty := range c.Types {
			if ty.Provider != p || seen[ty.Name] || !nameRE[p].MatchString(ty.Name) {
				t.Errorf("%s: bad or duplicate type %q (provider %q)", p, ty.Name, ty.Provider)
			}
			seen[ty.Name] = true
			if ty.VCPUs <= 0 || ty.MemoryGiB <= 0 || (ty.Arch != "x86_64" && ty.Arch != "arm64") {
				t.Errorf("%s/%s: bad shape %+v", p, ty.Name, ty)
			}
			if (ty.GPUs > 0) != (ty.GPUModel != "") || ty.GPUs > 0 && ty.GPUMemoryGiB <= 0 {
				t.Errorf("%s/%s: GPU fields disagree: %d %q %g", p, ty.Name, ty.GPUs, ty.GPUModel, ty.GPUMemoryGiB)
			}
			if ty.GPUModel != "" && !slices.Contains(knownGPUs, ty.GPUModel) {
				t.Errorf("%s/%s: GPU model %q is not normalised", p, ty.Name, ty.GPUModel)
			}
			if len(ty.Offerings) == 0 {
				t.Errorf("%s/%s: no offerings", p, ty.Name)
			}
			for _, o := range ty.Offerings {
				if o.Price <= 0 || math.IsNaN(o.Price) || o.Region == "" || (o.Capacity != OnDemand && o.Capacity != Spot) {
					t.Errorf("%s/%s: bad offering %+v", p, ty.Name, o)
				}
				if _, ok := c.Zones[o.Region]; !ok {
					t.Errorf("%s/%s: region %s has no zone list", p, ty.Name, o.Region)
				}
			}
		}
	}
}

func TestEmbeddedMarks(t *testing.T) {
	all, err := EmbeddedAll()
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		provider, name    string
		burstable, exotic bool
		gpus              int
		model, arch       string
	}{
		{"aws", "t3.micro", true, false, 0, "", "x86_64"},
		{"aws", "t4g.large", true, false, 0, "", "arm64"},
		{"aws", "m7g.large", false, false, 0, "", "arm64"},
		{"aws", "c5.metal", false, true, 0, "", "x86_64"},
		{"aws", "inf2.xlarge", false, true, 0, "", "x86_64"},
		{"aws", "trn1.2xlarge", false, true, 0, "", "x86_64"},
		{"aws", "f1.2xlarge", false, true, 0, "", "x86_64"},
		{"aws", "p4d.24xlarge", false, false, 8, "A100", "x86_64"},
		{"aws", "p4de.24xlarge", false, false, 8, "A100-80GB", "x86_64"},
		{"aws", "p5.48xlarge", false, false, 8, "H100", "x86_64"},
		{"aws", "g5.xlarge", false, false, 1, "A10G", "x86_64"},
		{"aws", "g6.xlarge", false, false, 1, "L4", "x86_64"},
		{"aws", "g6e.xlarge", false, false, 1, "L40S", "x86_64"},
		{"aws", "g4dn.xlarge", false, false, 1, "T4", "x86_64"},
		{"gcp", "e2-micro", true, false, 0, "", "x86_64"},
		{"gcp", "e2-standard-4", false, false, 0, "", "x86_64"},
		{"gcp", "t2a-standard-4", false, false, 0, "", "arm64"},
		{"gcp", "c4a-standard-8", false, false, 0, "", "arm64"},
		{"gcp", "a2-highgpu-8g", false, false, 8, "A100", "x86_64"},
		{"gcp", "a2-ultragpu-1g", false, false, 1, "A100-80GB", "x86_64"},
		{"gcp", "a3-highgpu-8g", false, false, 8, "H100", "x86_64"},
		{"gcp", "g2-standard-4", false, false, 1, "L4", "x86_64"},
		{"gcp", "n1-standard-8+nvidia-tesla-t4x1", false, false, 1, "T4", "x86_64"},
		{"azure", "Standard_B2s", true, false, 0, "", "x86_64"},
		{"azure", "Standard_D4s_v5", false, false, 0, "", "x86_64"},
		{"azure", "Standard_D4ps_v5", false, false, 0, "", "arm64"},
		{"azure", "Standard_NC24ads_A100_v4", false, false, 1, "A100-80GB", "x86_64"},
		{"azure", "Standard_ND96isr_H100_v5", false, false, 8, "H100", "x86_64"},
		{"azure", "Standard_NV6ads_A10_v5", false, true, 0, "", "x86_64"},
	} {
		ty := all.Find(tt.provider, tt.name)
		if ty == nil {
			t.Errorf("%s/%s missing", tt.provider, tt.name)
			continue
		}
		if ty.Burstable != tt.burstable || ty.Exotic != tt.exotic || ty.GPUs != tt.gpus || ty.GPUModel != tt.model || ty.Arch != tt.arch {
			t.Errorf("%s/%s = burstable %v exotic %v gpus %d %q %s, want %v %v %d %q %s", tt.provider, tt.name,
				ty.Burstable, ty.Exotic, ty.GPUs, ty.GPUModel, ty.Arch, tt.burstable, tt.exotic, tt.gpus, tt.model, tt.arch)
		}
	}
}

func TestSplitAttached(t *testing.T) {
	for _, tt := range []struct {
		in, machine, accel string
		n                  int
		ok                 bool
	}{
		{"n1-standard-8+nvidia-tesla-t4x2", "n1-standard-8", "nvidia-tesla-t4", 2, true},
		{"n1-highmem-96+nvidia-tesla-v100x8", "n1-highmem-96", "nvidia-tesla-v100", 8, true},
		{"n2-standard-8", "n2-standard-8", "", 0, false},
		{"n1-standard-8+x", "n1-standard-8+x", "", 0, false},
		{"n1-standard-8+nvidia-tesla-t4x0", "n1-standard-8+nvidia-tesla-t4x0", "", 0, false},
	} {
		m, a, n, ok := SplitAttached(tt.in)
		if m != tt.machine || a != tt.accel || n != tt.n || ok != tt.ok {
			t.Errorf("SplitAttached(%q) = %q %q %d %v", tt.in, m, a, n, ok)
		}
	}
}

func TestLoadPrefersFreshCache(t *testing.T) {
	dir := t.TempDir()
	emb, err := Embedded("aws")
	if err != nil {
		t.Fatal(err)
	}
	now := emb.Date.Add(100 * 24 * time.Hour)

	// No cache: the snapshot.
	ch, err := Load(dir, "aws", now, DefaultCacheTTL)
	if err != nil || ch.Cached || ch.Catalog != emb || ch.Note != "" {
		t.Fatalf("no cache: %+v %v", ch, err)
	}

	fresh := &Catalog{Date: now.Add(-time.Hour), Source: "live", Zones: map[string][]string{"r": {"ra"}},
		Types: []Type{{Provider: "aws", Name: "x.large", VCPUs: 2, MemoryGiB: 8, Arch: "x86_64", Offerings: []Offering{{Region: "r", Capacity: OnDemand, Price: 1}}}}}
	if err := SaveCache(dir, "aws", fresh); err != nil {
		t.Fatal(err)
	}
	ch, err = Load(dir, "aws", now, DefaultCacheTTL)
	if err != nil || !ch.Cached || ch.Catalog.Source != "live" || len(ch.Catalog.Types) != 1 {
		t.Fatalf("fresh cache: %+v %v", ch, err)
	}

	// Stale: the snapshot, with a note.
	ch, err = Load(dir, "aws", now.Add(DefaultCacheTTL), DefaultCacheTTL)
	if err != nil || ch.Cached || !strings.Contains(ch.Note, "days old") {
		t.Fatalf("stale cache: %+v %v", ch, err)
	}

	// Older than the snapshot (burst was upgraded): the snapshot, quietly.
	old := *fresh
	old.Date = emb.Date.Add(-time.Hour)
	if err := SaveCache(dir, "aws", &old); err != nil {
		t.Fatal(err)
	}
	ch, err = Load(dir, "aws", emb.Date.Add(time.Hour), DefaultCacheTTL)
	if err != nil || ch.Cached || ch.Note != "" {
		t.Fatalf("older cache: %+v %v", ch, err)
	}

	// Corrupt: the snapshot, with a note.
	if err := os.WriteFile(CachePath(dir, "aws"), []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	ch, err = Load(dir, "aws", now, DefaultCacheTTL)
	if err != nil || ch.Cached || !strings.Contains(ch.Note, "malformed") {
		t.Fatalf("corrupt cache: %+v %v", ch, err)
	}

	// Nothing for an unknown provider.
	if _, err := Load(dir, "nope", now, DefaultCacheTTL); err == nil {
		t.Error("Load(nope) succeeded")
	}
	if err := SaveCache(filepath.Join(dir, "x"), "gcp", fresh); err == nil {
		t.Error("SaveCache of a catalog without the provider's types succeeded")
	}
}

func BenchmarkDecodeSnapshot(b *testing.B) {
	for _, p := range EmbeddedProviders() {
		raw, err := snapshotFS.ReadFile("snapshot/" + p + ".bin")
		if err != nil {
			b.Fatal(err)
		}
		b.Run(p, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Decode(raw); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
