package spec

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Error is a malformed or invalid spec value. The CLI maps it to exit code 2.
type Error struct{ Msg string }

func (e *Error) Error() string { return e.Msg }

// Errorf builds an *Error.
func Errorf(format string, args ...any) error { return &Error{Msg: fmt.Sprintf(format, args...)} }

// IsError reports whether err is (or wraps) a spec error.
func IsError(err error) bool {
	var e *Error
	return errors.As(err, &e)
}

// Size is a number of bytes.
type Size int64

// Size units.
const (
	KiB Size = 1 << 10
	MiB Size = 1 << 20
	GiB Size = 1 << 30
	TiB Size = 1 << 40
)

// GiB returns the size in GiB.
func (s Size) GiB() float64 { return float64(s) / float64(GiB) }

// String prints the size in the largest binary unit that keeps it short.
func (s Size) String() string {
	switch {
	case s == 0:
		return "0"
	case s%TiB == 0:
		return fmt.Sprintf("%dTiB", s/TiB)
	case s >= GiB:
		return strconv.FormatFloat(s.GiB(), 'f', -1, 64) + "GiB"
	case s%MiB == 0:
		return fmt.Sprintf("%dMiB", s/MiB)
	default:
		return fmt.Sprintf("%dB", int64(s))
	}
}

// MarshalText writes the size in its String form.
func (s Size) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

var sizeRE = regexp.MustCompile(`^([0-9]+(?:\.[0-9]+)?)\s*([a-zA-Z]*)$`)

var sizeUnits = map[string]float64{
	"":    float64(GiB), // a bare number is GiB: "--memory 32"
	"b":   1,
	"kb":  1e3,
	"mb":  1e6,
	"gb":  1e9,
	"tb":  1e12,
	"k":   float64(KiB),
	"m":   float64(MiB),
	"g":   float64(GiB),
	"t":   float64(TiB),
	"kib": float64(KiB),
	"mib": float64(MiB),
	"gib": float64(GiB),
	"tib": float64(TiB),
}

// ParseSize parses "32GiB", "32GB", "512MiB", "1.5TiB" or "32" (GiB).
func ParseSize(s string) (Size, error) {
	m := sizeRE.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return 0, Errorf("invalid size %q (want a number and a unit, e.g. 32GiB, 512MiB, 100GB)", s)
	}
	unit, ok := sizeUnits[strings.ToLower(m[2])]
	if !ok {
		return 0, Errorf("invalid size %q: unknown unit %q (use B, KB, MB, GB, TB, KiB, MiB, GiB or TiB)", s, m[2])
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return 0, Errorf("invalid size %q", s)
	}
	b := v * unit
	if b > float64(1<<60) {
		return 0, Errorf("size %q is too large", s)
	}
	return Size(math.Round(b)), nil
}

// ParseSizeBound parses a size with an optional trailing "+".
func ParseSizeBound(s string) (SizeBound, error) {
	t, more := cutPlus(s)
	v, err := ParseSize(t)
	if err != nil {
		return SizeBound{}, err
	}
	if v <= 0 {
		return SizeBound{}, Errorf("invalid size %q: must be greater than zero", s)
	}
	return SizeBound{Value: v, OrMore: more}, nil
}

// ParseCPU parses a vCPU count: "4" (exact) or "4+" (at least).
func ParseCPU(s string) (IntBound, error) {
	t, more := cutPlus(s)
	n, err := atoi(t)
	if err != nil || n <= 0 || n > 4096 {
		return IntBound{}, Errorf("invalid cpu %q (want a count of vCPUs from 1 to 4096, optionally with +, e.g. 8 or 8+)", s)
	}
	return IntBound{Value: n, OrMore: more}, nil
}

// ParseCount parses a machine count (0..MaxCount).
func ParseCount(s string) (int, error) {
	t := strings.TrimSpace(s)
	n, err := atoi(strings.TrimPrefix(t, "-"))
	if strings.HasPrefix(t, "-") {
		n = -n
	}
	if err != nil {
		return 0, Errorf("invalid count %q (want a whole number from 0 to %d)", s, MaxCount)
	}
	if n < 0 || n > MaxCount {
		return 0, Errorf("count %d is out of range 0..%d", n, MaxCount)
	}
	return n, nil
}

// ParseGPU parses a GPU request: "" or "any" (any GPU, at least one),
// "A100" (one A100), "a100:8", "H100:4+". Model names are case-insensitive and
// canonicalised to upper case; whether a model exists is the planner's call.
func ParseGPU(s string) (GPU, error) {
	s = strings.TrimSpace(s)
	if s == "" || strings.EqualFold(s, "any") || strings.EqualFold(s, "true") {
		return GPU{Count: 1, OrMore: true}, nil
	}
	model, count, hasCount := strings.Cut(s, ":")
	g := GPU{Model: CanonicalGPU(model), Count: 1}
	if strings.EqualFold(g.Model, "any") {
		g.Model = ""
	}
	if strings.TrimSpace(model) == "" || g.Model != "" && !gpuModelRE.MatchString(g.Model) {
		return GPU{}, Errorf("invalid gpu %q (want MODEL[:COUNT], e.g. A100:8, L4, H100:4+)", s)
	}
	if hasCount {
		t, more := cutPlus(count)
		n, err := atoi(t)
		if err != nil || n <= 0 || n > 64 {
			return GPU{}, Errorf("invalid gpu count in %q (want 1 to 64, optionally with +)", s)
		}
		g.Count, g.OrMore = n, more
	}
	return g, nil
}

var gpuModelRE = regexp.MustCompile(`^[A-Z0-9][A-Z0-9-]{0,31}$`)

// gpuAliases maps other spellings of GPU models to the catalog's names.
var gpuAliases = map[string]string{
	"A100-40GB": "A100", "A100-40G": "A100", "A100-40": "A100", "A100-80G": "A100-80GB", "A100-80": "A100-80GB",
	"H100-80GB": "H100", "H100-80G": "H100", "H200-141GB": "H200", "L40-S": "L40S",
}

// CanonicalGPU spells a GPU model as the catalog does: upper case, "_"
// and spaces as "-", vendor prefixes ("NVIDIA-", "TESLA-", "NVIDIA-TESLA-")
// dropped, and a few aliases resolved ("a100_80gb" and "A100-80G" are
// "A100-80GB"; "nvidia-tesla-t4" is "T4").
func CanonicalGPU(model string) string {
	m := strings.ToUpper(strings.TrimSpace(model))
	m = strings.NewReplacer("_", "-", " ", "-").Replace(m)
	for _, p := range []string{"NVIDIA-", "TESLA-", "AMD-"} {
		m = strings.TrimPrefix(m, p)
	}
	if a, ok := gpuAliases[m]; ok {
		return a
	}
	return m
}

// ParseArch parses an architecture name.
func ParseArch(s string) (Arch, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "":
		return ArchAny, nil
	case "x86_64", "amd64", "x86-64", "x64":
		return ArchX8664, nil
	case "arm64", "aarch64", "arm":
		return ArchARM64, nil
	}
	return "", Errorf("invalid arch %q (want x86_64 or arm64)", s)
}

// ParseSpotPolicy parses a spot policy.
func ParseSpotPolicy(s string) (SpotPolicy, error) {
	switch p := SpotPolicy(strings.ToLower(strings.TrimSpace(s))); p {
	case OnDemand, Spot, SpotWithFallback:
		return p, nil
	case "ondemand", "on_demand":
		return OnDemand, nil
	}
	return "", Errorf("invalid spot policy %q (want on-demand, spot or spot-with-fallback)", s)
}

// ParseDuration parses a Go duration or a number of days ("2d", "1d12h").
// Negative durations are rejected; "0" means disabled.
func ParseDuration(s string) (time.Duration, error) {
	t := strings.TrimSpace(s)
	var days time.Duration
	if i := strings.Index(t, "d"); i > 0 {
		n, err := atoi(t[:i])
		if err != nil || n > 3650 {
			return 0, Errorf("invalid duration %q (e.g. 90s, 20m, 12h, 2d)", s)
		}
		days = time.Duration(n) * 24 * time.Hour
		t = t[i+1:]
		if t == "" {
			return days, nil
		}
	}
	d, err := time.ParseDuration(t)
	if err != nil {
		return 0, Errorf("invalid duration %q (e.g. 90s, 20m, 12h, 2d)", s)
	}
	if d < 0 {
		return 0, Errorf("invalid duration %q: must not be negative", s)
	}
	return days + d, nil
}

// ParsePrice parses a price in USD per machine-hour ("0.5", "$1.20").
func ParsePrice(s string) (float64, error) {
	t := strings.TrimPrefix(strings.TrimSpace(s), "$")
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) || v > 1e4 {
		return 0, Errorf("invalid price %q (want USD per machine-hour, e.g. 0.50)", s)
	}
	return v, nil
}

var nameRE = regexp.MustCompile(`^[a-z]([a-z0-9-]{0,30}[a-z0-9])?$`)

// ValidateName checks a cluster name against the strictest of the clouds'
// naming rules (GCE instance names and labels): 1 to 32 characters, lower
// case letters, digits and hyphens, starting with a letter and not ending
// with a hyphen. burst appends suffixes to it, so it stays short.
func ValidateName(name string) error {
	if !nameRE.MatchString(name) {
		return Errorf("invalid cluster name %q: use 1-32 lower-case letters, digits and hyphens, starting with a letter", name)
	}
	return nil
}

// SplitList splits a comma-separated flag value, trimming blanks.
func SplitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// atoi parses a plain decimal number: digits only, no sign, no spaces.
func atoi(s string) (int, error) {
	if s == "" || strings.TrimLeft(s, "0123456789") != "" || len(s) > 9 {
		return 0, strconv.ErrSyntax
	}
	return strconv.Atoi(s)
}

func cutPlus(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if strings.HasSuffix(s, "+") {
		return strings.TrimSpace(strings.TrimSuffix(s, "+")), true
	}
	return s, false
}

// UnmarshalText reads a size in the grammar ("32GiB").
func (s *Size) UnmarshalText(b []byte) error {
	if string(b) == "0" {
		*s = 0
		return nil
	}
	v, err := ParseSize(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}
