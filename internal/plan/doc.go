// Package plan turns a cluster spec and a catalog into a Plan: for the head
// and the workers, which offerings to try, cheapest first, and what it costs.
//
// Planning is pure and deterministic: no I/O, no SDKs, no clock except the
// one passed in. The same inputs always give the same plan, which is what
// `burst plan` prints and `burst up` executes.
package plan
