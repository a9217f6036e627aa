// Package cloudsim is the shared model under burst's cloud simulators: the
// test doubles of the EC2, GCE and Azure ARM APIs that the cloud providers
// are tested against over the wire (sub-packages ec2, gce, arm).
//
// The model holds what the three clouds have in common: regions and zones,
// machine types, capacity pools per (type, zone, capacity type), quotas,
// token-bucket throttles, per-call latency, injected faults, instances with
// their lifecycle (pending, running, stopped, terminated), spot
// interruptions, tagged non-instance resources (security groups, firewalls,
// key pairs, resource groups, ...) and a log of every request. Each protocol
// server translates its cloud's wire format to and from the model, and maps
// the model's generic errors to its cloud's error codes.
//
// The model is safe for concurrent use. Time comes from Config.Now, so
// tests can drive lifecycles without sleeping; latency uses Config.Sleep.
package cloudsim
