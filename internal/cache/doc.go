// Package cache keeps what burst remembers between runs on this machine:
// the last spec of each cluster (so `burst scale` and a bare `burst up` know
// the shape of the machines) and the unavailable-offerings set (so a run
// that follows a stock-out does not try the same pool for a few minutes).
//
// These are caches, never truth: the cloud's tags are. Losing every file
// here loses no machine; `status`, `down` and `gc` still find everything.
package cache
