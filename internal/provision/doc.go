// Package provision is burst's reconcile engine. `up` and `scale` compute
// the desired state from a plan, observe the actual state by tag through the
// providers, and act on the difference: launch what is missing in chunks,
// fail over on capacity errors, terminate what is extra, and wait until the
// cluster is usable. `down` terminates everything the tags find and removes
// the cluster's shared resources.
//
// The engine holds no state of its own between runs: running `up` twice
// changes nothing, and running it after a crash finishes the job. Launches
// carry idempotency tokens derived from what was observed, so a call retried
// by a later run never duplicates machines.
package provision
