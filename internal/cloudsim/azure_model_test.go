package cloudsim

import (
	"testing"
	"time"
)

// TestInstanceStates: the states a list reads in one go are Instance's,
// by the same clock, and an unknown ID has none.
func TestInstanceStates(t *testing.T) {
	clock := NewClock(time.Unix(1_800_000_000, 0))
	m := newTestModel(clock)
	got, err := m.Launch(LaunchSpec{Region: "r1", Zone: "r1a", Type: "m.large", Count: 3})
	if err != nil {
		t.Fatal(err)
	}
	m.Terminate([]string{got[1].ID}, "user")
	clock.Advance(10 * time.Second)
	ids := []string{got[0].ID, got[1].ID, "nope", got[2].ID}
	states := m.InstanceStates(ids)
	for i, id := range ids {
		in, ok := m.Instance(id)
		if st := states[i]; (st.ID != "") != ok || st.State != in.State || st.StateReason != in.StateReason {
			t.Errorf("%s: InstanceStates %+v, Instance %s %s %v", id, st, in.State, in.StateReason, ok)
		}
	}
	if states[0].State != Running || states[1].State != Terminated {
		t.Errorf("states %+v", states)
	}
}
