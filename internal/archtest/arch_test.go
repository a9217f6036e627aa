// Package archtest checks burst's layering rules on every test run (the
// same rules .golangci.yml states for depguard, enforced without it).
package archtest

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"

	"github.com/burstdev/burst/internal/testenv"
)

const module = "github.com/burstdev/burst"

type pkg struct {
	ImportPath   string
	Imports      []string
	TestImports  []string
	XTestImports []string
}

func listPackages(t *testing.T) []pkg {
	t.Helper()
	goTool, err := testenv.GoTool()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(goTool, "list", "-json", module+"/...")
	cmd.Dir = "../.."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []pkg
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p pkg
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

// sdks maps each cloud SDK import prefix to the packages allowed to import
// it: the cloud's provider and its simulator.
var sdks = map[string][]string{
	"github.com/aws/":              {"internal/provider/aws", "internal/cloudsim/ec2"},
	"cloud.google.com/go/compute":  {"internal/provider/gcp", "internal/cloudsim/gce"},
	"google.golang.org/api":        {"internal/provider/gcp", "internal/cloudsim/gce"},
	"github.com/Azure/":            {"internal/provider/azure", "internal/cloudsim/arm"},
	"github.com/LeanerCloud/":      {"internal/catalog/gen", "tools/"},
	"github.com/spf13/cobra":       {"internal/cli", "internal/tools/gendocs", "cmd/burst"},
	"github.com/spf13/viper":       {"internal/config"},
	"github.com/schollz/":          {"internal/progress"},
	"github.com/rogpeppe/":         {"cmd/burst"},
	"github.com/mattn/go-isatty":   {"internal/iostreams"},
	"github.com/cpuguy83/":         {"internal/tools/gendocs"},
	"github.com/spf13/cobra/doc":   {"internal/tools/gendocs"},
	"github.com/go-viper/":         {"internal/config"},
	"github.com/spf13/pflag":       {"internal/cli", "internal/config"},
	"google.golang.org/protobuf":   {"internal/provider/gcp", "internal/cloudsim/gce"},
	"google.golang.org/genproto":   {"internal/provider/gcp", "internal/cloudsim/gce"},
	"github.com/googleapis/gax-go": {"internal/provider/gcp", "internal/cloudsim/gce"},
	// The benchmark program draws its chart; burst itself draws nothing.
	"gonum.org/v1/plot": {"internal/tools/bench"},
}

// pure packages take data and return data: no SDK, CLI or config library.
var pure = []string{"pkg/spec", "internal/catalog", "internal/plan", "internal/bootstrap", "internal/provision", "internal/provider"}

func rel(p string) string { return strings.TrimPrefix(strings.TrimPrefix(p, module), "/") }

func under(p, dir string) bool {
	return p == dir || strings.HasPrefix(p, strings.TrimSuffix(dir, "/")+"/")
}

func TestLayering(t *testing.T) {
	for _, p := range listPackages(t) {
		me := rel(p.ImportPath)
		all := append(append(append([]string{}, p.Imports...), p.TestImports...), p.XTestImports...)
		for _, imp := range all {
			for prefix, allowed := range sdks {
				if !strings.HasPrefix(imp, prefix) {
					continue
				}
				ok := false
				for _, a := range allowed {
					if under(me, a) {
						ok = true
					}
				}
				if !ok {
					t.Errorf("%s imports %s; only %v may", me, imp, allowed)
				}
			}
			if under(me, "internal/provider") || under(me, "internal/provision") || under(me, "internal/cloudsim") {
				if under(rel(imp), "internal/cli") && strings.HasPrefix(imp, module) {
					t.Errorf("%s imports the CLI (%s): providers and the engine never do", me, imp)
				}
			}
		}
		for _, dir := range pure {
			if me != dir {
				continue
			}
			for _, imp := range p.Imports {
				for _, bad := range []string{"github.com/spf13/", "github.com/aws/", "cloud.google.com/", "github.com/Azure/", "google.golang.org/api"} {
					if strings.HasPrefix(imp, bad) {
						t.Errorf("%s must stay free of SDKs and CLI libraries but imports %s", me, imp)
					}
				}
			}
		}
	}
}
