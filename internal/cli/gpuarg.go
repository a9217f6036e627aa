package cli

import (
	"slices"
	"strings"
)

// gpuModels are the GPU model names the command line recognises after a
// bare --gpu (the catalog's names; case-insensitive).
var gpuModels = []string{"A100", "A100-80GB", "H100", "H200", "B200", "L4", "L40S", "A10G", "A10", "T4", "V100", "K80", "M60", "P100", "P4", "MI300X", "ANY"}

// normalizeGPUArgs lets --gpu take an optional separate value. pflag only
// accepts "--gpu=A100" for a flag whose value is optional, so "--gpu A100"
// would make A100 a positional argument. The next argument is taken as the
// flag's value when it reads as a GPU request (a known model, optionally
// with :COUNT, or anything with a colon); otherwise a bare --gpu means any
// GPU.
func normalizeGPUArgs(args []string) []string {
	out := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append(out, args[i:]...)
		}
		if a != "--gpu" {
			out = append(out, a)
			continue
		}
		if i+1 < len(args) && looksLikeGPU(args[i+1]) {
			out = append(out, "--gpu="+args[i+1])
			i++
			continue
		}
		out = append(out, "--gpu=any")
	}
	return out
}

func looksLikeGPU(s string) bool {
	if strings.HasPrefix(s, "-") || s == "" {
		return false
	}
	if strings.Contains(s, ":") {
		return true
	}
	return slices.Contains(gpuModels, strings.ToUpper(s)) || strings.EqualFold(s, "none")
}
