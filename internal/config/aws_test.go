package config

import (
	"slices"
	"testing"
)

// TestAWSFromEnv: the AWS keys load from BURST_AWS_*, lists comma-separated.
func TestAWSFromEnv(t *testing.T) {
	env := map[string]string{
		"HOME":                    t.TempDir(),
		"BURST_AWS_PROFILE":       "work",
		"BURST_AWS_REGION":        "eu-west-1",
		"BURST_AWS_REGIONS":       "us-east-1,us-west-2",
		"BURST_AWS_ALLOWED_CIDRS": "203.0.113.7/32,198.51.100.0/24",
		"BURST_AWS_CHECK_IP_URL":  "http://127.0.0.1:9/ip",
		"BURST_AWS_AMI":           "ami-0123",
		"BURST_AWS_SUBNETS":       "subnet-a,subnet-b",
		"BURST_AWS_MAX_ATTEMPTS":  "5",
	}
	cfg, err := Load(Options{Getenv: func(k string) string { return env[k] }})
	if err != nil {
		t.Fatal(err)
	}
	a := cfg.AWS
	if a.Profile != "work" || a.Region != "eu-west-1" || a.CheckIPURL != "http://127.0.0.1:9/ip" || a.AMI != "ami-0123" || a.MaxAttempts != 5 {
		t.Errorf("AWS config %+v", a)
	}
	if !slices.Equal(a.Regions, []string{"us-east-1", "us-west-2"}) || !slices.Equal(a.AllowedCIDRs, []string{"203.0.113.7/32", "198.51.100.0/24"}) || !slices.Equal(a.Subnets, []string{"subnet-a", "subnet-b"}) {
		t.Errorf("AWS lists %+v", a)
	}
}
