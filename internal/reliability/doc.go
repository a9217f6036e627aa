// Package reliability holds burst's cross-provider reliability suites, run
// against the built binary: crash safety (SIGKILL at many points of a
// launch), faults injected into the cloud simulators, bad input, and
// security defaults. Each suite runs on the local provider and on every
// cloud over the wire against its simulator (testenv.Clouds). The figures
// they log are collected in docs/reliability.md.
package reliability
