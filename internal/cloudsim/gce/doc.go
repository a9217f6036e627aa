// Package gce is a simulator of the Google Compute Engine REST API (v1) and
// of the Cloud Billing Catalog API, served over HTTP on top of the shared
// cloudsim model, for testing burst's gcp provider over the wire with the
// real Go client (cloud.google.com/go/compute REST clients pointed at it
// with option.WithEndpoint and option.WithoutAuthentication).
//
// Requests and responses are the client's own computepb messages encoded
// with protojson, so field names, int64-as-string and enum encodings are
// exactly what the client sends and parses. Errors use GCE's JSON error
// envelope ({"error": {"code", "message", "errors": [{"reason", ...}]}})
// with GCE's HTTP statuses and reasons, and long-running work returns
// Operation resources that can fail the way GCE's do (operation error
// codes such as ZONE_RESOURCE_POOL_EXHAUSTED or QUOTA_EXCEEDED).
//
// What is modelled, in GCE's terms:
//   - regionInstances.bulkInsert with count, minCount, namePattern,
//     locationPolicy (zones ALLOW/DENY, targetShape ANY, ANY_SINGLE_ZONE,
//     BALANCED), requestId idempotency, upfront capacity and quota
//     validation, at most 10 concurrent bulk operations, and rollback when
//     fewer than minCount machines can be had;
//   - instances.get, delete (with requestId), aggregatedList with GCE's
//     list filter syntax (a subset: field = value, != and :*, AND) and
//     pagination;
//   - scheduling: SPOT with instanceTerminationAction, maxRunDuration and
//     terminationTime enforced on the model clock, onHostMaintenance
//     required to be TERMINATE for GPU machines; spot preemption (Preempt)
//     and guest shutdown (GuestShutdown) leave a VM deleted or TERMINATED
//     (stopped) as GCE does;
//   - regions.get/list and projects.get with quotas (CPUS, N2_CPUS, ...,
//     PREEMPTIBLE_CPUS, NVIDIA_*_GPUS, GPUS_ALL_REGIONS, IN_USE_ADDRESSES);
//   - machineTypes and acceleratorTypes aggregatedList, images.getFromFamily,
//     networks.get, firewalls insert/get/patch/delete/list;
//   - region, zone and global operations get and wait;
//   - the batch endpoint (POST /batch/compute/v1, multipart/mixed, at most
//     1000 calls): each call is served, logged, fault-matched and
//     throttled as a direct call, answers come back in order, and the
//     batch costs one latency (batch.go);
//   - the Cloud Billing Catalog's services.skus.list for Compute Engine.
//
// Every request is logged in the model under its GCE method ID
// ("compute.regionInstances.bulkInsert"); Permissions maps those IDs to
// the IAM permissions they need, which is how burst's custom role is
// checked against what its tests actually called.
package gce
