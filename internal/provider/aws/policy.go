package aws

import (
	"encoding/json"
	"sort"
)

// Actions are the API actions burst calls, by IAM service prefix. The
// policy test checks that every action the simulator logged across the AWS
// tests is here.
var Actions = map[string][]string{
	"ec2": {
		// Catalog, and the regions gc --all-regions searches.
		"DescribeRegions", "DescribeInstanceTypes", "DescribeInstanceTypeOfferings", "DescribeSpotPriceHistory",
		// Network, keys, images.
		"DescribeVpcs", "DescribeSubnets", "DescribeSecurityGroups", "CreateSecurityGroup",
		"AuthorizeSecurityGroupIngress", "DeleteSecurityGroup", "DescribeKeyPairs", "CreateKeyPair",
		"DeleteKeyPair", "DescribeImages",
		// Launch and lifecycle.
		"CreateLaunchTemplate", "DescribeLaunchTemplates", "DeleteLaunchTemplate", "CreateFleet",
		"DescribeInstances", "TerminateInstances",
	},
	"pricing":       {"GetProducts"},
	"servicequotas": {"GetServiceQuota"},
}

type statement struct {
	Sid       string         `json:"Sid"`
	Effect    string         `json:"Effect"`
	Action    []string       `json:"Action"`
	Resource  string         `json:"Resource"`
	Condition map[string]any `json:"Condition,omitempty"`
}

// Policy returns the least-privilege IAM policy burst needs. Reads and
// creates are allowed on any resource (EC2 cannot scope Describe calls, and
// creates are what burst does); tags may only be written by the create
// calls that carry them; terminations and deletions are limited to
// resources that carry the burst-cluster tag, so burst cannot remove what
// it did not make. CreateFleet also needs ec2:RunInstances on the
// resources it launches (EC2 authorises a fleet's launches as RunInstances)
// and the EC2 Spot and Fleet service-linked roles, which an account gets
// on its first spot fleet.
func Policy() string {
	var read, create, destroy []string
	for svc, acts := range Actions {
		for _, a := range acts {
			full := svc + ":" + a
			switch {
			case len(a) > 8 && a[:8] == "Describe", len(a) > 3 && a[:3] == "Get":
				read = append(read, full)
			case a == "TerminateInstances" || len(a) > 6 && a[:6] == "Delete":
				destroy = append(destroy, full)
			default:
				create = append(create, full)
			}
		}
	}
	create = append(create, "ec2:RunInstances")
	sort.Strings(read)
	sort.Strings(create)
	sort.Strings(destroy)
	doc := struct {
		Version   string      `json:"Version"`
		Statement []statement `json:"Statement"`
	}{
		Version: "2012-10-17",
		Statement: []statement{
			{Sid: "BurstRead", Effect: "Allow", Action: read, Resource: "*"},
			{Sid: "BurstCreate", Effect: "Allow", Action: create, Resource: "*"},
			{Sid: "BurstTagOnCreate", Effect: "Allow", Action: []string{"ec2:CreateTags"}, Resource: "*",
				Condition: map[string]any{"StringEquals": map[string]any{"ec2:CreateAction": []string{
					"CreateFleet", "RunInstances", "CreateSecurityGroup", "CreateKeyPair", "CreateLaunchTemplate",
				}}}},
			{Sid: "BurstRemoveOnlyItsOwn", Effect: "Allow", Action: destroy, Resource: "*",
				Condition: map[string]any{"Null": map[string]string{"aws:ResourceTag/burst-cluster": "false"}}},
			{Sid: "BurstSpotAndFleetRoles", Effect: "Allow", Action: []string{"iam:CreateServiceLinkedRole"}, Resource: "*",
				Condition: map[string]any{"StringEquals": map[string]any{"iam:AWSServiceName": []string{"spot.amazonaws.com", "ec2fleet.amazonaws.com"}}}},
		},
	}
	b, _ := json.MarshalIndent(doc, "", "  ")
	return string(b) + "\n"
}
