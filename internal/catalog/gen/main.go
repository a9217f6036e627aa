// Command gen builds burst's embedded catalog snapshot
// (internal/catalog/snapshot/*.bin) from offline sources:
//
//   - EC2 and Azure: the JSON data of the Go module
//     github.com/LeanerCloud/ec2-instances-info at the pinned version below,
//     located with `go mod download -json` and read as files (the module is
//     never linked into burst, and not even required by go.mod);
//   - GCE: the hand-built table in gce.go (per-family vCPU and GiB rates,
//     bundled GPU machine prices, regional multipliers).
//
// Run it from the repository root:
//
//	go run ./internal/catalog/gen            # all providers
//	go run ./internal/catalog/gen -provider gcp
//
// It also writes snapshot/SUMMARY.txt, a reviewable digest of what changed.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/burstdev/burst/internal/catalog"
)

// Module is the pinned source of EC2 and Azure data.
const (
	Module        = "github.com/LeanerCloud/ec2-instances-info"
	ModuleVersion = "v0.0.0-20250528091325-32acf84f42eb"
)

// ModuleDate is the date of the pinned module's data (its pseudo-version).
var ModuleDate = time.Date(2025, 5, 28, 0, 0, 0, 0, time.UTC)

func main() {
	log.SetFlags(0)
	log.SetPrefix("catalog-gen: ")
	out := flag.String("out", "internal/catalog/snapshot", "output directory")
	only := flag.String("provider", "", "build only this provider (aws, azure, gcp)")
	data := flag.String("data", "", "directory of instances.json and azure-instances.json (default: the pinned module's data/)")
	flag.Parse()

	want := func(p string) bool { return *only == "" || *only == p }
	dataDir := *data
	if dataDir == "" && (want("aws") || want("azure")) {
		dataDir = moduleDataDir()
	}
	var cats []*catalog.Catalog
	if want("aws") {
		cats = append(cats, must(buildAWS(filepath.Join(dataDir, "instances.json"))))
	}
	if want("azure") {
		cats = append(cats, must(buildAzure(filepath.Join(dataDir, "azure-instances.json"))))
	}
	if want("gcp") {
		cats = append(cats, buildGCP())
	}
	for _, c := range cats {
		p := c.Types[0].Provider
		sortCatalog(c)
		var buf bytes.Buffer
		if err := catalog.Encode(&buf, c); err != nil {
			log.Fatal(err)
		}
		back, err := catalog.Decode(buf.Bytes())
		if err != nil || len(back.Types) != len(c.Types) {
			log.Fatalf("%s: the snapshot does not decode: %v", p, err)
		}
		path := filepath.Join(*out, p+".bin")
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			log.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(*out, p+".summary.txt"), summary(back), 0o644); err != nil {
			log.Fatal(err)
		}
		n := 0
		for _, t := range c.Types {
			n += len(t.Offerings)
		}
		log.Printf("%s: %d types, %d offerings, %d regions, %d bytes -> %s", p, len(c.Types), n, len(c.Zones), buf.Len(), path)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		log.Fatal(err)
	}
	return v
}

// moduleDataDir finds the pinned module's data directory in the module
// cache, downloading the module through the Go proxy if needed.
func moduleDataDir() string {
	out, err := exec.Command("go", "mod", "download", "-json", Module+"@"+ModuleVersion).Output()
	if err != nil {
		log.Fatalf("go mod download %s@%s: %v", Module, ModuleVersion, err)
	}
	var m struct{ Dir string }
	if err := json.Unmarshal(out, &m); err != nil || m.Dir == "" {
		log.Fatalf("go mod download: no directory in %s", out)
	}
	return filepath.Join(m.Dir, "data")
}

// sortCatalog orders types by name and offerings by region, zone and
// capacity, so the snapshot is byte-for-byte reproducible.
func sortCatalog(c *catalog.Catalog) {
	sort.Slice(c.Types, func(i, j int) bool { return c.Types[i].Name < c.Types[j].Name })
	for i := range c.Types {
		o := c.Types[i].Offerings
		sort.Slice(o, func(a, b int) bool {
			if o[a].Region != o[b].Region {
				return o[a].Region < o[b].Region
			}
			if o[a].Zone != o[b].Zone {
				return o[a].Zone < o[b].Zone
			}
			return o[a].Capacity < o[b].Capacity
		})
	}
}

// summary is one line per type: what a reviewer diffs after a refresh.
func summary(c *catalog.Catalog) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s snapshot, data of %s: %d types, %d regions\n", c.Types[0].Provider, c.Date.Format("2006-01-02"), len(c.Types), len(c.Zones))
	fmt.Fprintf(&b, "# type family vcpus memory_gib gpus gpu_model gpu_mem_gib arch gen flags regions min_on_demand min_spot\n")
	for _, t := range c.Types {
		flags := "-"
		if t.Burstable {
			flags = "burstable"
		}
		if t.Exotic {
			flags = "exotic"
		}
		regions := map[string]bool{}
		od, sp := 0.0, 0.0
		for _, o := range t.Offerings {
			regions[o.Region] = true
			if o.Capacity == catalog.OnDemand && (od == 0 || o.Price < od) {
				od = o.Price
			}
			if o.Capacity == catalog.Spot && (sp == 0 || o.Price < sp) {
				sp = o.Price
			}
		}
		model := t.GPUModel
		if model == "" {
			model = "-"
		}
		fmt.Fprintf(&b, "%s %s %d %g %d %s %g %s %d %s %d %.4f %.4f\n", t.Name, t.Family, t.VCPUs, t.MemoryGiB, t.GPUs, model, t.GPUMemoryGiB, t.Arch, t.Generation, flags, len(regions), od, sp)
	}
	return []byte(b.String())
}
