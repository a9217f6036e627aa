// Package bootstrap renders what a machine runs when it boots: the workload
// (a Dask scheduler or worker, or nothing) and a watchdog that removes the
// machine when the workload ends, the cluster has been idle for the idle
// timeout, or the max lifetime has passed.
//
// One POSIX sh script serves every target. The local provider runs it as a
// process group on this host; cloud providers pass it as user data. Only
// the parts that must differ differ per target: how the workload runs (host
// Python or a container) and how a machine removes itself (end its process
// group, shut down into termination, or delete itself through the cloud's
// API). Because the watchdog lives on the machine, nothing depends on the
// laptop that ran `burst up`.
package bootstrap
