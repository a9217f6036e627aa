// Package spec is burst's user-facing cluster specification: what a user asks
// for (resources, counts, capacity policy, places, workload, lifetime), parsed
// from flags or a cluster file and validated before anything else runs.
//
// A spec never names what burst will launch; the planner (internal/plan) maps
// it onto a catalog. Every parse or validation failure is a *spec.Error, which
// the CLI reports on one line with exit code 2 (usage).
//
// Grammar (flags and cluster-file fields share it):
//
//	cpu        N | N+                      vCPUs, exact or at least
//	memory     SIZE | SIZE+                 SIZE = number + unit; a bare number is GiB
//	gpu        "" | any | none | MODEL[:COUNT[+]]  case-insensitive model, e.g. A100:8, h100;
//	                                        aliases: a100_80gb, A100-80G -> A100-80GB, nvidia-tesla-t4 -> T4
//	gpu-memory SIZE+                        memory per GPU
//	arch       x86_64 | arm64               (aliases: amd64, aarch64, arm)
//	disk       SIZE                         root disk
//	spot       on-demand | spot | spot-with-fallback  (--spot: spot-with-fallback)
//	max price  USD per machine-hour, > 0
//	durations  Go durations plus days: 90s, 20m, 12h, 2d, 1h30m; 0 disables
//
// Size units: B, KB, MB, GB, TB (powers of 1000) and KiB, MiB, GiB, TiB
// (powers of 1024); K, M, G, T are read as KiB, MiB, GiB, TiB.
package spec
