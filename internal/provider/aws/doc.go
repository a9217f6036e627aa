// Package aws is burst's Amazon EC2 provider, built on aws-sdk-go-v2.
//
// Credentials and region come from the SDK's default chain (environment,
// shared config and SSO profiles, web identity, instance roles), with the
// profile and region of burst's config on top; AWS_ENDPOINT_URL and
// AWS_ENDPOINT_URL_EC2 work as the SDK defines them, so burst runs against
// any EC2-compatible endpoint (the tests use internal/cloudsim/ec2). Nothing
// is resolved until the first call: constructing the provider, `burst plan`
// and `--help` never touch the network.
//
// Machines are launched with EC2 Fleet in instant mode, in chunks of at
// most 500 (Limits): one launch template per cluster, role and user data;
// overrides are the plan's types times one subnet per zone; spot uses
// price-capacity-optimized, on-demand lowest-price. Every instance, volume,
// fleet, security group, key pair and launch template carries burst's tags
// from creation. Instances require IMDSv2, have an encrypted gp3 root
// volume deleted on termination, and InstanceInitiatedShutdownBehavior
// terminate, so the bootstrap's watchdog ends a machine with `shutdown -h
// now` and its billing stops.
//
// Calls pass through client-side token buckets that mirror EC2's
// documented request and resource rates (ratelimit.go), and throttled or
// 5xx calls are retried by the SDK's standard retryer with jittered
// backoff; a retried CreateFleet carries the same ClientToken, so it never
// launches twice; a reused token EC2 refuses for a changed request returns
// the instances it launched (found by their burst-launch tag). Errors map
// to burst's kinds in errors.go.
//
// `burst gc` uses the Collector (collect.go): the security groups, key
// pairs (with their private key files) and launch templates that carry
// the burst-cluster tag, in the configured regions or, with AllRegions,
// every region DescribeRegions lists, up to 8 at a time (regions.go).
// The design, the error table and what was left out are in
// docs/design/aws.md.
package aws
