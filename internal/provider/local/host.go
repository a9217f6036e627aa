package local

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/burstdev/burst/internal/catalog"
)

// HostType describes this host as the local provider's one machine type.
func HostType() catalog.Type {
	arch := "x86_64"
	if runtime.GOARCH == "arm64" {
		arch = "arm64"
	}
	t := catalog.Type{
		Provider:  Name,
		Name:      TypeName,
		Family:    "host",
		VCPUs:     runtime.NumCPU(),
		MemoryGiB: hostMemoryGiB(),
		Arch:      arch,
		Offerings: []catalog.Offering{{Region: Region, Zone: Zone, Capacity: catalog.OnDemand, Price: 0}},
	}
	t.GPUs, t.GPUModel, t.GPUMemoryGiB = hostGPUs()
	return t
}

func hostMemoryGiB() float64 {
	f, err := os.Open("/proc/meminfo")
	if err == nil {
		defer func() { _ = f.Close() }()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) >= 2 && fields[0] == "MemTotal:" {
				kb, _ := strconv.ParseFloat(fields[1], 64)
				return round2(kb / (1 << 20))
			}
		}
	}
	// macOS and others: ask sysctl.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "sysctl", "-n", "hw.memsize").Output(); err == nil {
		b, _ := strconv.ParseFloat(strings.TrimSpace(string(out)), 64)
		return round2(b / (1 << 30))
	}
	return 0
}

// hostGPUs asks nvidia-smi, when present, for the host's GPUs.
func hostGPUs() (count int, model string, memGiB float64) {
	path, err := exec.LookPath("nvidia-smi")
	if err != nil {
		return 0, "", 0
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, "--query-gpu=name,memory.total", "--format=csv,noheader,nounits").Output()
	if err != nil {
		return 0, "", 0
	}
	for _, line := range bytes.Split(bytes.TrimSpace(out), []byte("\n")) {
		name, mem, ok := strings.Cut(string(line), ",")
		if !ok {
			continue
		}
		count++
		model = GPUModel(name)
		mib, _ := strconv.ParseFloat(strings.TrimSpace(mem), 64)
		memGiB = round2(mib / 1024)
	}
	return count, model, memGiB
}

// GPUModel maps an nvidia-smi name ("NVIDIA A100-SXM4-80GB") to the
// catalog's model names ("A100-80GB").
func GPUModel(name string) string {
	n := strings.ToUpper(strings.TrimSpace(name))
	n = strings.TrimPrefix(n, "NVIDIA ")
	n = strings.TrimPrefix(n, "TESLA ")
	fields := strings.FieldsFunc(n, func(r rune) bool { return r == ' ' || r == '-' })
	if len(fields) == 0 {
		return n
	}
	model := fields[0]
	if model == "A100" && strings.Contains(n, "80GB") {
		return "A100-80GB"
	}
	return model
}

func round2(f float64) float64 { return float64(int(f*100+0.5)) / 100 }
