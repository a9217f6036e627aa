package cloudsim

import (
	"errors"
	"testing"
	"time"

	"github.com/burstdev/burst/internal/catalog"
)

func newTestModel(clock *Clock) *Model {
	return New(Config{
		Regions:        map[string][]string{"r1": {"r1a", "r1b"}, "r2": {"r2a"}},
		Types:          []catalog.Type{{Name: "m.large", VCPUs: 2, MemoryGiB: 8, Arch: "x86_64"}, {Name: "m.xlarge", VCPUs: 4, MemoryGiB: 16, Arch: "x86_64"}},
		BootDelay:      10 * time.Second,
		TerminateDelay: 5 * time.Second,
		Retention:      time.Minute,
		Now:            clock.Now,
		Sleep:          clock.Sleep,
	})
}

func TestLaunchLifecycle(t *testing.T) {
	clock := NewClock(time.Unix(1_800_000_000, 0))
	m := newTestModel(clock)
	got, err := m.Launch(LaunchSpec{Region: "r1", Zone: "r1a", Type: "m.large", Count: 3, Tags: map[string]string{"burst-cluster": "c"}, Token: "t1"})
	if err != nil || len(got) != 3 {
		t.Fatalf("Launch = %d, %v", len(got), err)
	}
	if got[0].State != Pending || got[0].ID == got[1].ID {
		t.Fatalf("new instances %+v", got)
	}
	clock.Advance(10 * time.Second)
	in, _ := m.Instance(got[0].ID)
	if in.State != Running {
		t.Fatalf("after boot delay state = %s", in.State)
	}
	again, err := m.Launch(LaunchSpec{Region: "r1", Zone: "r1a", Type: "m.large", Count: 3, Token: "t1"})
	if err != nil || len(again) != 3 || again[0].ID != got[0].ID {
		t.Fatalf("same token launched anew: %v %v", again, err)
	}
	if n := len(m.Instances(nil)); n != 3 {
		t.Fatalf("instances = %d, want 3", n)
	}
	if ch := m.Terminate([]string{got[0].ID, "nope"}, "user"); len(ch) != 1 {
		t.Fatalf("Terminate changed %v", ch)
	}
	if ch := m.Terminate([]string{got[0].ID}, "user"); len(ch) != 0 {
		t.Fatalf("second Terminate changed %v", ch)
	}
	clock.Advance(5 * time.Second)
	if in, _ := m.Instance(got[0].ID); in.State != Terminated {
		t.Fatalf("state = %s, want terminated", in.State)
	}
	if leaks := m.Leaks("burst-cluster"); len(leaks) != 2 {
		t.Fatalf("leaks = %v, want the 2 live instances", leaks)
	}
	clock.Advance(2 * time.Minute)
	if n := len(m.Instances(nil)); n != 2 {
		t.Fatalf("after retention, instances = %d, want 2", n)
	}
}

func TestCapacityAndQuota(t *testing.T) {
	clock := NewClock(time.Unix(1_800_000_000, 0))
	m := newTestModel(clock)
	m.SetCapacity(PoolKey{"m.large", "r1a", OnDemand}, 2)
	got, err := m.Launch(LaunchSpec{Region: "r1", Zone: "r1a", Type: "m.large", Count: 5})
	var e *Error
	if len(got) != 2 || !errors.As(err, &e) || e.Kind != KindCapacity {
		t.Fatalf("partial launch = %d, %v", len(got), err)
	}
	if _, err := m.Launch(LaunchSpec{Region: "r1", Zone: "r1a", Type: "m.large", Count: 1}); !errors.As(err, &e) || e.Kind != KindCapacity {
		t.Fatalf("exhausted pool: %v", err)
	}
	if got, err := m.Launch(LaunchSpec{Region: "r1", Zone: "r1b", Type: "m.large", Count: 2, MinCount: 2}); err != nil || len(got) != 2 {
		t.Fatalf("other zone: %d %v", len(got), err)
	}
	q := QuotaKey{Region: "r2", Name: "vcpus"}
	m.SetQuota(q, 8)
	use := []QuotaUse{{Key: q, Amount: 4}}
	if _, err := m.Launch(LaunchSpec{Region: "r2", Zone: "r2a", Type: "m.xlarge", Count: 3, Quotas: use}); !errors.As(err, &e) || e.Kind != KindQuota || e.Needed != 12 {
		t.Fatalf("over quota: %v", err)
	}
	got, err = m.Launch(LaunchSpec{Region: "r2", Zone: "r2a", Type: "m.xlarge", Count: 2, Quotas: use})
	if err != nil {
		t.Fatal(err)
	}
	if _, used, _ := m.Quota(q); used != 8 {
		t.Fatalf("usage = %g", used)
	}
	m.Terminate([]string{got[0].ID}, "user")
	clock.Advance(time.Minute)
	if _, used, _ := m.Quota(q); used != 4 {
		t.Fatalf("usage after terminate = %g", used)
	}
	if _, err := m.Launch(LaunchSpec{Region: "r1", Zone: "r2a", Type: "m.large", Count: 1}); !errors.As(err, &e) || e.Kind != KindInvalid {
		t.Fatalf("zone outside region: %v", err)
	}
}

func TestBucketsAndFaults(t *testing.T) {
	clock := NewClock(time.Unix(1_800_000_000, 0))
	m := newTestModel(clock)
	m.SetBucket("run", 10, 2)
	if !m.Take("run", 10) || m.Take("run", 1) {
		t.Fatal("bucket of 10 should give 10 then throttle")
	}
	clock.Advance(time.Second)
	if !m.Take("run", 2) || m.Take("run", 1) {
		t.Fatal("refill of 2/s")
	}
	clock.Advance(10 * time.Second)
	if !m.Take("run", 50) {
		t.Fatal("an oversized take from a full bucket is allowed")
	}
	m.Inject(Fault{Kind: KindThrottle, Action: "Create*", Times: 2, After: 1})
	var hits []bool
	for i := 0; i < 5; i++ {
		c := m.Begin("ec2", "CreateFleet", "r1")
		hits = append(hits, c.Fault != nil)
		c.End(200, "")
	}
	if want := []bool{false, true, true, false, false}; !equal(hits, want) {
		t.Fatalf("fault hits %v, want %v", hits, want)
	}
	if m.Count("CreateFleet") != 5 || len(m.Actions()) != 1 {
		t.Fatalf("log: %v", m.Requests())
	}
}

func equal(a, b []bool) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
