package main

import (
	"regexp"
	"strings"
)

// normaliseGPU maps a source's GPU name to burst's model names: A100,
// A100-80GB, H100, H200, L4, L40S, A10G, A10, T4, V100, K80, M60, P100, P4,
// P40, MI300X, V520. memGiB (per GPU) tells the A100 variants apart. It
// returns false for accelerators that are not GPUs (Inferentia, ASICs).
func normaliseGPU(name string, memGiB float64) (string, bool) {
	s := strings.ToUpper(name)
	if strings.Contains(s, "INFERENTIA") || strings.Contains(s, "TRAINIUM") || strings.Contains(s, "ASIC") || strings.Contains(s, "GAUDI") {
		return "", false
	}
	for _, m := range []struct{ key, model string }{
		{"A100", "A100"}, {"H100", "H100"}, {"H200", "H200"}, {"L40S", "L40S"}, {"A10G", "A10G"},
		{"MI300X", "MI300X"}, {"V520", "V520"}, {"V710", "V710"}, {"V620", "V620"}, {"MI25", "MI25"},
		{"L4", "L4"}, {"A10", "A10"}, {"T4", "T4"}, {"V100", "V100"}, {"K80", "K80"}, {"K520", "K520"},
		{"M60", "M60"}, {"P100", "P100"}, {"P40", "P40"}, {"P4", "P4"},
	} {
		if gpuWord(s, m.key) {
			if m.model == "A100" && memGiB >= 70 {
				return "A100-80GB", true
			}
			return m.model, true
		}
	}
	return "", false
}

// gpuWord reports whether key appears in s as a model word: "T4" matches
// "NVIDIA T4 TENSOR CORE" and "T4G" but "A10" does not match "A100".
func gpuWord(s, key string) bool {
	re := regexp.MustCompile(`(^|[^A-Z0-9])` + key + `(G\b|\b|[^0-9])`)
	return re.MatchString(s)
}
