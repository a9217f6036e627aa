package spec

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

func intp(n int) *int { return &n }

func TestParseFileFull(t *testing.T) {
	b := []byte(`apiVersion: burst.dev/v1alpha1
kind: Cluster
metadata:
  name: train
spec:
  provider: [AWS, gcp]
  region: [us-east-1, us-central1]
  zone: [us-east-1a]
  idleTimeout: 30m
  maxLifetime: 1d
  workload:
    name: dask
    pip: [xgboost]
    deathTimeout: 2m
  head:
    cpu: 4+
    memory: 16GiB+
  workers:
    count: 8
    cpu: 8
    memory: 61GiB
    gpu: A100:8
    gpuMemory: 40GiB+
    arch: x86_64
    disk: 200GiB
    spot: spot-with-fallback
    maxPrice: "40"
    instanceTypes: [p4d.24xlarge, a2-highgpu-8g]
`)
	in, err := ParseFile("train.yaml", b)
	if err != nil {
		t.Fatal(err)
	}
	c := Default("x")
	if err := in.ApplyTo(&c); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	want := Default("train")
	want.Providers = []string{"aws", "gcp"}
	want.Regions = []string{"us-east-1", "us-central1"}
	want.Zones = []string{"us-east-1a"}
	want.IdleTimeout = 30 * time.Minute
	want.MaxLifetime = 24 * time.Hour
	want.Workload.Pip = []string{"xgboost"}
	want.Workload.DeathTimeout = 2 * time.Minute
	want.Head.Resources = Resources{CPU: IntBound{4, true}, Memory: SizeBound{16 * GiB, true}}
	want.Workers = Pool{Count: 8, Spot: SpotWithFallback, MaxPrice: 40, Disk: 200 * GiB,
		InstanceTypes: []string{"p4d.24xlarge", "a2-highgpu-8g"},
		Resources: Resources{CPU: IntBound{8, false}, Memory: SizeBound{61 * GiB, false}, GPU: GPU{Model: "A100", Count: 8},
			GPUMemory: SizeBound{40 * GiB, true}, Arch: ArchX8664}}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("cluster:\n got %+v\nwant %+v", c, want)
	}
}

func TestParseFileScalars(t *testing.T) {
	// YAML numbers and booleans where the grammar has strings.
	in, err := ParseFile("f", []byte("apiVersion: burst.dev/v1alpha1\nkind: Cluster\nspec:\n  workers:\n    count: 3\n    cpu: 8\n    memory: 32\n    gpu: any\n    maxPrice: 1.5\n"))
	if err != nil {
		t.Fatal(err)
	}
	c := Default("x")
	if err := in.ApplyTo(&c); err != nil {
		t.Fatal(err)
	}
	if c.Workers.Count != 3 || c.Workers.Resources.CPU != (IntBound{8, false}) || c.Workers.Resources.Memory.Value != 32*GiB || !c.Workers.Resources.GPU.Wanted() || c.Workers.MaxPrice != 1.5 {
		t.Errorf("got %+v", c.Workers)
	}
}

// Every bad form of a cluster file is a one-line *Error.
func TestParseFileErrors(t *testing.T) {
	head := "apiVersion: burst.dev/v1alpha1\nkind: Cluster\n"
	for _, tt := range []struct{ name, in, want string }{
		{"empty", "", "is empty"},
		{"not yaml", "{{{", "cluster file f"},
		{"list", "- a\n- b\n", "cluster file f"},
		{"no apiVersion", "kind: Cluster\n", "apiVersion must be burst.dev/v1alpha1"},
		{"wrong apiVersion", "apiVersion: burst.dev/v2\nkind: Cluster\n", "apiVersion must be"},
		{"wrong kind", "apiVersion: burst.dev/v1alpha1\nkind: Pod\n", "kind must be Cluster"},
		{"unknown top field", head + "specs: {}\n", "field specs not found"},
		{"unknown spec field", head + "spec:\n  gpus: 1\n", "field gpus not found"},
		{"unknown pool field", head + "spec:\n  workers:\n    cpus: 4\n", "field cpus not found"},
		{"count not a number", head + "spec:\n  workers:\n    count: many\n", "cluster file f"},
		{"provider not a list", head + "spec:\n  provider: {a: b}\n", "cluster file f"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseFile("f", []byte(tt.in))
			checkErr(t, tt.in, err, tt.want)
		})
	}
}

// Every bad value in a pool is a one-line *Error naming the problem.
func TestApplyErrors(t *testing.T) {
	for _, tt := range []struct {
		name string
		in   PoolInput
		want string
	}{
		{"count negative", PoolInput{Count: intp(-1)}, "out of range"},
		{"count huge", PoolInput{Count: intp(MaxCount + 1)}, "out of range"},
		{"cpu", PoolInput{CPU: "lots"}, "invalid cpu"},
		{"memory", PoolInput{Memory: "32XB"}, "memory: invalid size"},
		{"memory zero", PoolInput{Memory: "0"}, "greater than zero"},
		{"gpu", PoolInput{GPU: "A100:0"}, "invalid gpu count"},
		{"gpu memory", PoolInput{GPUMemory: "big"}, "gpu memory: invalid size"},
		{"arch", PoolInput{Arch: "sparc"}, "invalid arch"},
		{"disk", PoolInput{Disk: "huge"}, "disk: invalid size"},
		{"disk small", PoolInput{Disk: "100MiB"}, "out of range"},
		{"disk large", PoolInput{Disk: "100TiB"}, "out of range"},
		{"spot", PoolInput{Spot: "cheap"}, "invalid spot policy"},
		{"max price", PoolInput{MaxPrice: "-3"}, "invalid price"},
		{"max price zero", PoolInput{MaxPrice: "0"}, "greater than zero"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var p Pool
			checkErr(t, tt.name, tt.in.ApplyTo(&p), tt.want)
		})
	}
	for _, tt := range []struct {
		name string
		in   Input
		want string
	}{
		{"idle", Input{IdleTimeout: "soon"}, "idle timeout: invalid duration"},
		{"lifetime", Input{MaxLifetime: "-1h"}, "max lifetime: invalid duration"},
		{"death", Input{Workload: WorkloadInput{DeathTimeout: "x"}}, "death timeout: invalid duration"},
		{"head", Input{Head: PoolInput{CPU: "0"}}, "invalid cpu"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := Default("x")
			checkErr(t, tt.name, tt.in.ApplyTo(&c), tt.want)
		})
	}
}

func TestGPUNoneAndImplied(t *testing.T) {
	c := Default("x")
	if err := (&PoolInput{GPU: "A100"}).ApplyTo(&c.Workers); err != nil {
		t.Fatal(err)
	}
	if err := (&PoolInput{GPU: "none"}).ApplyTo(&c.Workers); err != nil || c.Workers.Resources.GPU.Wanted() {
		t.Errorf("gpu none: %v %+v", err, c.Workers.Resources.GPU)
	}
	if err := (&PoolInput{GPUMemory: "24GiB+"}).ApplyTo(&c.Workers); err != nil || !c.Workers.Resources.GPU.Wanted() {
		t.Errorf("gpu-memory alone should imply a GPU: %v %+v", err, c.Workers.Resources.GPU)
	}
}

func TestValidate(t *testing.T) {
	ok := Default("ok")
	if err := ok.Validate(); err != nil {
		t.Fatalf("default: %v", err)
	}
	for _, tt := range []struct {
		name string
		edit func(c *Cluster)
		want string
	}{
		{"name", func(c *Cluster) { c.Name = "Bad Name" }, "invalid cluster name"},
		{"head count", func(c *Cluster) { c.Head.Count = 2 }, "head count must be 1"},
		{"spot head", func(c *Cluster) { c.Head.Spot = Spot }, "head must be on-demand"},
		{"workload", func(c *Cluster) { c.Workload.Name = "spark" }, "unknown workload"},
		{"pip", func(c *Cluster) { c.Workload.Pip = []string{"a; rm -rf /"} }, "invalid pip requirement"},
		{"image", func(c *Cluster) { c.Workload.Image = "a b" }, "invalid image"},
		{"gpu memory without gpu", func(c *Cluster) { c.Workers.Resources.GPUMemory = SizeBound{Value: GiB} }, "--gpu-memory needs --gpu"},
		{"instance type", func(c *Cluster) { c.Workers.InstanceTypes = []string{"m5.large", "a b"} }, "invalid instance type"},
		{"region", func(c *Cluster) { c.Regions = []string{"us east"} }, "invalid region"},
		{"zone", func(c *Cluster) { c.Zones = []string{""} }, "invalid zone"},
		{"spot policy", func(c *Cluster) { c.Workers.Spot = "maybe" }, "unknown spot policy"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := Default("ok")
			tt.edit(&c)
			checkErr(t, tt.name, c.Validate(), tt.want)
		})
	}
}

func TestReadFileMissing(t *testing.T) {
	_, err := ReadFile(filepath.Join(t.TempDir(), "nope.yaml"))
	checkErr(t, "missing", err, "cluster file")
}

// The examples directory holds cluster files users copy; each must parse
// and validate (internal/plan plans them too).
func TestExamplesParse(t *testing.T) {
	files, _ := filepath.Glob("../../examples/*.yaml")
	if len(files) == 0 {
		t.Fatal("no examples/*.yaml")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			in, err := ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			c := Default("x")
			if err := in.ApplyTo(&c); err != nil {
				t.Fatal(err)
			}
			if err := c.Validate(); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(f); err != nil {
				t.Fatal(err)
			}
		})
	}
}
