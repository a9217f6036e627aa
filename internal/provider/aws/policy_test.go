package aws_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/burstdev/burst/internal/cloudsim"
	simec2 "github.com/burstdev/burst/internal/cloudsim/ec2"
	"github.com/burstdev/burst/internal/provider/all"
	"github.com/burstdev/burst/internal/provider/aws"
)

// TestPolicy: `burst policy aws` prints a valid IAM policy that grants
// exactly the actions burst calls (plus what EC2 authorises a fleet's
// launches as), nothing by wildcard, and deletes only tagged resources.
// TestMain separately checks every action the simulator logged in this
// package's tests against it.
func TestPolicy(t *testing.T) {
	e, ok := all.Registry().Lookup(aws.Name)
	if !ok || e.Policy == nil {
		t.Fatal("the aws entry has no policy")
	}
	var doc struct {
		Version   string
		Statement []struct {
			Sid, Effect, Resource string
			Action                []string
			Condition             map[string]any
		}
	}
	if err := json.Unmarshal([]byte(e.Policy()), &doc); err != nil {
		t.Fatalf("policy is not JSON: %v", err)
	}
	var granted []string
	for _, st := range doc.Statement {
		if st.Effect != "Allow" {
			t.Errorf("statement %s: effect %s", st.Sid, st.Effect)
		}
		for _, a := range st.Action {
			if strings.Contains(a, "*") {
				t.Errorf("wildcard action %s", a)
			}
			granted = append(granted, a)
		}
		if slices.Contains(st.Action, "ec2:TerminateInstances") && st.Condition == nil {
			t.Errorf("TerminateInstances is not limited to tagged resources")
		}
	}
	for svc, acts := range aws.Actions {
		for _, a := range acts {
			if !slices.Contains(granted, svc+":"+a) {
				t.Errorf("policy lacks %s:%s", svc, a)
			}
		}
	}
	if doc.Version != "2012-10-17" {
		t.Errorf("version %q", doc.Version)
	}
}

// TestPolicyGaps: the TestMain check notices an action missing from the
// policy.
func TestPolicyGaps(t *testing.T) {
	m := simec2.NewModel(cloudsim.Config{})
	m.Begin("ec2", "CreateFleet", "us-east-1").End(200, "")
	m.Begin("ec2", "AttachVolume", "us-east-1").End(200, "")
	if got := policyGaps(aws.Policy(), []*cloudsim.Model{m}); !slices.Equal(got, []string{"ec2:AttachVolume"}) {
		t.Errorf("gaps = %v, want [ec2:AttachVolume]", got)
	}
}
