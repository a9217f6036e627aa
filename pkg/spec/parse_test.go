package spec

import (
	"strings"
	"testing"
	"time"
)

// checkErr asserts err is a one-line *Error mentioning want.
func checkErr(t *testing.T, in string, err error, want string) {
	t.Helper()
	if err == nil {
		t.Errorf("%q: no error, want one mentioning %q", in, want)
		return
	}
	if !IsError(err) {
		t.Errorf("%q: error %v is not a *spec.Error (exit 2)", in, err)
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("%q: error is not one line: %q", in, err)
	}
	if !strings.Contains(err.Error(), want) {
		t.Errorf("%q: error %q does not mention %q", in, err, want)
	}
}

func TestParseCPU(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want IntBound
	}{
		{"4", IntBound{4, false}},
		{"4+", IntBound{4, true}},
		{" 8+ ", IntBound{8, true}},
		{"8 +", IntBound{8, true}},
		{"1", IntBound{1, false}},
		{"4096", IntBound{4096, false}},
	} {
		got, err := ParseCPU(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseCPU(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	for _, in := range []string{"", "+", "0", "0+", "-1", "+8", "4++", "four", "4.5", "4097", "1e3", "8-", "8 cores", "99999999999"} {
		_, err := ParseCPU(in)
		checkErr(t, in, err, "invalid cpu")
	}
}

func TestParseSize(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want Size
	}{
		{"32", 32 * GiB},
		{"32GiB", 32 * GiB},
		{"32gib", 32 * GiB},
		{"32 GiB", 32 * GiB},
		{"32G", 32 * GiB},
		{"32GB", 32_000_000_000},
		{"512MiB", 512 * MiB},
		{"512M", 512 * MiB},
		{"500MB", 500_000_000},
		{"1.5TiB", 1536 * GiB},
		{"1TB", 1_000_000_000_000},
		{"2048KiB", 2 * MiB},
		{"100B", 100},
		{"0", 0},
	} {
		got, err := ParseSize(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseSize(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	for _, tt := range []struct{ in, want string }{
		{"", "invalid size"},
		{"GiB", "invalid size"},
		{"-1GiB", "invalid size"},
		{"32 GiBs", "unknown unit"},
		{"32PB", "unknown unit"},
		{"32gigs", "unknown unit"},
		{".5GiB", "invalid size"},
		{"1e3GiB", "invalid size"},
		{"32GiB+", "invalid size"},
		{"9999999999TiB", "too large"},
	} {
		_, err := ParseSize(tt.in)
		checkErr(t, tt.in, err, tt.want)
	}
}

func TestParseSizeBound(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want SizeBound
	}{
		{"32GiB+", SizeBound{32 * GiB, true}},
		{"32GiB", SizeBound{32 * GiB, false}},
		{"16+", SizeBound{16 * GiB, true}},
		{"500 MB +", SizeBound{500_000_000, true}},
	} {
		got, err := ParseSizeBound(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseSizeBound(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	for _, tt := range []struct{ in, want string }{
		{"0", "greater than zero"},
		{"0GiB+", "greater than zero"},
		{"+", "invalid size"},
		{"32GiB++", "invalid size"},
		{"lots", "invalid size"},
	} {
		_, err := ParseSizeBound(tt.in)
		checkErr(t, tt.in, err, tt.want)
	}
}

func TestSizeBoundMatches(t *testing.T) {
	b := SizeBound{Value: 16 * GiB}
	for gib, want := range map[float64]bool{16: true, 15.25: true, 16.5: true, 15: false, 17: false} {
		if got := b.MatchesGiB(gib); got != want {
			t.Errorf("exact 16GiB matches %v = %v", gib, got)
		}
	}
	b.OrMore = true
	for gib, want := range map[float64]bool{16: true, 15.99: true, 15.5: false, 1024: true} {
		if got := b.MatchesGiB(gib); got != want {
			t.Errorf("16GiB+ matches %v = %v", gib, got)
		}
	}
}

func TestParseGPU(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want GPU
	}{
		{"", GPU{Count: 1, OrMore: true}},
		{"any", GPU{Count: 1, OrMore: true}},
		{"ANY", GPU{Count: 1, OrMore: true}},
		{"true", GPU{Count: 1, OrMore: true}},
		{"any:2", GPU{Count: 2}},
		{"any:2+", GPU{Count: 2, OrMore: true}},
		{"A100", GPU{Model: "A100", Count: 1}},
		{"a100:8", GPU{Model: "A100", Count: 8}},
		{"A100-80GB", GPU{Model: "A100-80GB", Count: 1}},
		{"a100_80gb:4", GPU{Model: "A100-80GB", Count: 4}},
		{"A100-80G", GPU{Model: "A100-80GB", Count: 1}},
		{"A100-40GB:8", GPU{Model: "A100", Count: 8}},
		{"h100:4+", GPU{Model: "H100", Count: 4, OrMore: true}},
		{"H200", GPU{Model: "H200", Count: 1}},
		{"l4", GPU{Model: "L4", Count: 1}},
		{"L40S:4", GPU{Model: "L40S", Count: 4}},
		{"a10g", GPU{Model: "A10G", Count: 1}},
		{"nvidia-tesla-t4:2", GPU{Model: "T4", Count: 2}},
		{"NVIDIA V100", GPU{Model: "V100", Count: 1}},
		{" T4 : 2 ", GPU{Model: "T4", Count: 2}},
	} {
		got, err := ParseGPU(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseGPU(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}
	for _, tt := range []struct{ in, want string }{
		{"A100:0", "invalid gpu count"},
		{"A100:", "invalid gpu count"},
		{"A100:-1", "invalid gpu count"},
		{"A100:+2", "invalid gpu count"},
		{"A100:65", "invalid gpu count"},
		{"A100:two", "invalid gpu count"},
		{"A100:8:8", "invalid gpu count"},
		{":8", "invalid gpu"},
		{"A100/8", "invalid gpu"},
		{"-A100", "invalid gpu"},
		{"A100*8", "invalid gpu"},
		{strings.Repeat("A", 40), "invalid gpu"},
	} {
		_, err := ParseGPU(tt.in)
		checkErr(t, tt.in, err, tt.want)
	}
}

func TestGPUMatches(t *testing.T) {
	for _, tt := range []struct {
		g     GPU
		model string
		count int
		want  bool
	}{
		{GPU{}, "", 0, true},
		{GPU{}, "T4", 1, false},
		{GPU{Count: 1, OrMore: true}, "T4", 1, true},
		{GPU{Count: 1, OrMore: true}, "", 0, false},
		{GPU{Model: "A100", Count: 8}, "A100", 8, true},
		{GPU{Model: "A100", Count: 8}, "A100", 16, false},
		{GPU{Model: "A100", Count: 8, OrMore: true}, "A100", 16, true},
		{GPU{Model: "A100", Count: 1}, "A100-80GB", 1, false},
		{GPU{Model: "a100", Count: 1}, "A100", 1, true},
	} {
		if got := tt.g.Matches(tt.model, tt.count); got != tt.want {
			t.Errorf("%+v.Matches(%q, %d) = %v", tt.g, tt.model, tt.count, got)
		}
	}
}

func TestParseArch(t *testing.T) {
	for in, want := range map[string]Arch{"x86_64": ArchX8664, "amd64": ArchX8664, "X86-64": ArchX8664, "x64": ArchX8664, "arm64": ArchARM64, "aarch64": ArchARM64, "ARM": ArchARM64, "": ArchAny} {
		got, err := ParseArch(in)
		if err != nil || got != want {
			t.Errorf("ParseArch(%q) = %q, %v", in, got, err)
		}
	}
	for _, in := range []string{"i386", "x86", "arm32", "riscv64", "ppc64le"} {
		_, err := ParseArch(in)
		checkErr(t, in, err, "invalid arch")
	}
}

func TestParseSpotPolicy(t *testing.T) {
	for in, want := range map[string]SpotPolicy{"on-demand": OnDemand, "ondemand": OnDemand, "on_demand": OnDemand, "ON-DEMAND": OnDemand, "spot": Spot, "spot-with-fallback": SpotWithFallback, " Spot ": Spot} {
		got, err := ParseSpotPolicy(in)
		if err != nil || got != want {
			t.Errorf("ParseSpotPolicy(%q) = %q, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "preemptible", "spot-fallback", "yes", "true"} {
		_, err := ParseSpotPolicy(in)
		checkErr(t, in, err, "invalid spot policy")
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{"90s": 90 * time.Second, "20m": 20 * time.Minute, "12h": 12 * time.Hour, "2d": 48 * time.Hour, "1d12h": 36 * time.Hour, "1h30m": 90 * time.Minute, "0": 0, "0d": 0} {
		got, err := ParseDuration(in)
		if err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v", in, got, err)
		}
	}
	for _, tt := range []struct{ in, want string }{
		{"", "invalid duration"},
		{"12", "invalid duration"},
		{"d", "invalid duration"},
		{"-1d", "invalid duration"},
		{"+1d", "invalid duration"},
		{"1.5d", "invalid duration"},
		{"-5m", "must not be negative"},
		{"2d-1h", "must not be negative"},
		{"9999d", "invalid duration"},
		{"forever", "invalid duration"},
	} {
		_, err := ParseDuration(tt.in)
		checkErr(t, tt.in, err, tt.want)
	}
}

func TestParsePrice(t *testing.T) {
	for in, want := range map[string]float64{"0.5": 0.5, "$1.20": 1.2, " 3 ": 3, "0": 0} {
		got, err := ParsePrice(in)
		if err != nil || got != want {
			t.Errorf("ParsePrice(%q) = %v, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "$", "-1", "cheap", "NaN", "Inf", "1e9", "0.5/h", "€1"} {
		_, err := ParsePrice(in)
		checkErr(t, in, err, "invalid price")
	}
}

func TestParseCount(t *testing.T) {
	for in, want := range map[string]int{"0": 0, "100": 100, " 7 ": 7, "100000": 100000} {
		got, err := ParseCount(in)
		if err != nil || got != want {
			t.Errorf("ParseCount(%q) = %v, %v", in, got, err)
		}
	}
	for _, tt := range []struct{ in, want string }{{"", "invalid count"}, {"-1", "out of range"}, {"--1", "invalid count"}, {"+3", "invalid count"}, {"1.5", "invalid count"}, {"ten", "invalid count"}, {"100001", "out of range"}} {
		_, err := ParseCount(tt.in)
		checkErr(t, tt.in, err, tt.want)
	}
}

func TestValidateName(t *testing.T) {
	for _, ok := range []string{"a", "etl", "train-1", "x0", strings.Repeat("a", 32)} {
		if err := ValidateName(ok); err != nil {
			t.Errorf("ValidateName(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", "1abc", "-a", "a-", "ETL", "a_b", "a.b", "a b", strings.Repeat("a", 33)} {
		checkErr(t, bad, ValidateName(bad), "invalid cluster name")
	}
}

func TestSplitList(t *testing.T) {
	if got := SplitList(" aws, gcp,,azure ,"); strings.Join(got, "|") != "aws|gcp|azure" {
		t.Errorf("SplitList = %q", got)
	}
	if got := SplitList(""); got != nil {
		t.Errorf("SplitList(\"\") = %q", got)
	}
}
