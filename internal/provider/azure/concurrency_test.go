package azure_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources"

	"github.com/burstdev/burst/internal/catalog"
	"github.com/burstdev/burst/internal/cloudsim"
	"github.com/burstdev/burst/internal/plan"
	"github.com/burstdev/burst/internal/provider"
	"github.com/burstdev/burst/internal/provider/azure"
	"github.com/burstdev/burst/pkg/spec"
)

// transport carries the provider's requests to the simulator and lets a
// test hold requests at a barrier or fail them.
type transport struct {
	next *http.Client

	mu       sync.Mutex
	barriers []*barrier
	fails    []failure
}

// failure answers the requests it matches with status and body.
type failure struct {
	match  func(*http.Request) bool
	status int
	body   string
}

// barrier holds each request it matches until n of them are in flight at
// once, which only calls made concurrently can reach. A barrier that is
// not reached in time lets its requests go on and records that it was
// not.
type barrier struct {
	match   func(*http.Request) bool
	n       int
	timeout time.Duration
	mu      sync.Mutex
	seen    int
	open    chan struct{}
	missed  bool
}

func withTransport(tr *transport) envOption {
	return func(_ *cloudsim.Config, o *azure.Options) {
		tr.next = &http.Client{Timeout: 30 * time.Second}
		o.Transport = tr
	}
}

// Do implements policy.Transporter.
func (tr *transport) Do(r *http.Request) (*http.Response, error) {
	tr.mu.Lock()
	bs, fs := tr.barriers, tr.fails
	tr.mu.Unlock()
	for _, f := range fs {
		if f.match(r) {
			return &http.Response{StatusCode: f.status, Status: http.StatusText(f.status), Request: r, ProtoMajor: 1, ProtoMinor: 1,
				Header: http.Header{"Content-Type": {"application/json"}}, Body: io.NopCloser(strings.NewReader(f.body)),
				ContentLength: int64(len(f.body))}, nil
		}
	}
	for _, b := range bs {
		if b.match(r) {
			b.wait()
		}
	}
	return tr.next.Do(r)
}

func (b *barrier) wait() {
	b.mu.Lock()
	b.seen++
	if b.seen == b.n {
		close(b.open)
	}
	b.mu.Unlock()
	select {
	case <-b.open:
	case <-time.After(b.timeout):
		b.mu.Lock()
		b.missed = true
		b.mu.Unlock()
	}
}

// hold adds a barrier for n concurrent requests matching match.
func (tr *transport) hold(n int, match func(*http.Request) bool) *barrier {
	return tr.holdFor(3*time.Second, n, match)
}

// holdFor is hold with a timeout: a short one where the barrier is
// expected not to be reached.
func (tr *transport) holdFor(timeout time.Duration, n int, match func(*http.Request) bool) *barrier {
	b := &barrier{match: match, n: n, timeout: timeout, open: make(chan struct{})}
	tr.mu.Lock()
	tr.barriers = append(tr.barriers, b)
	tr.mu.Unlock()
	return b
}

// fail answers requests matching match with an ARM error.
func (tr *transport) fail(status int, code string, match func(*http.Request) bool) {
	tr.answer(status, fmt.Sprintf(`{"error":{"code":%q,"message":"injected"}}`, code), match)
}

// answer answers requests matching match with status and body.
func (tr *transport) answer(status int, body string, match func(*http.Request) bool) {
	tr.mu.Lock()
	tr.fails = append(tr.fails, failure{match: match, status: status, body: body})
	tr.mu.Unlock()
}

func (tr *transport) reset() {
	tr.mu.Lock()
	tr.barriers, tr.fails = nil, nil
	tr.mu.Unlock()
}

// reached reports whether the barrier's n requests were in flight
// together.
func (b *barrier) reached() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.seen >= b.n && !b.missed
}

// req matches requests by method and a part of the path (and query).
func req(method, part string) func(*http.Request) bool {
	return func(r *http.Request) bool {
		return r.Method == method && strings.Contains(strings.ToLower(r.URL.Path+"?"+r.URL.RawQuery), strings.ToLower(part))
	}
}

func anyOf(ms ...func(*http.Request) bool) func(*http.Request) bool {
	return func(r *http.Request) bool {
		for _, m := range ms {
			if m(r) {
				return true
			}
		}
		return false
	}
}

// TestPreflightConcurrent: a location's Resource SKUs and Usage calls run
// at once, and when several fail the error is the one the checks meet
// first (sizes before quotas, locations in the plan's order), as when they
// ran one after another.
func TestPreflightConcurrent(t *testing.T) {
	tr := &transport{}
	e := newEnv(t, withTransport(tr))
	east := offer(t, "Standard_D2s_v5", "eastus", catalog.OnDemand)
	west := offer(t, "Standard_D2s_v5", "westus2", catalog.OnDemand)
	pf := func(offs ...plan.Offering) error {
		e.p, _ = azure.New(e.opts) // no cached sizes
		return e.p.Preflight(ctx(t), provider.PreflightRequest{Cluster: "pf", Groups: []plan.Group{
			group(spec.RoleHead, 1, catalog.OnDemand, offs...), group(spec.RoleWorker, 4, catalog.OnDemand, offs...)}})
	}
	skus := func(loc string) func(*http.Request) bool {
		return func(r *http.Request) bool {
			return strings.HasSuffix(r.URL.Path, "/skus") && strings.Contains(r.URL.Query().Get("$filter"), "'"+loc+"'")
		}
	}
	usages := func(loc string) func(*http.Request) bool { return req(http.MethodGet, "/locations/"+loc+"/usages") }

	b := tr.hold(4, anyOf(skus("eastus"), usages("eastus"), skus("westus2"), usages("westus2")))
	if err := pf(east, west); err != nil {
		t.Fatalf("Preflight: %v", err)
	}
	if !b.reached() {
		t.Errorf("the SKU and usage calls of both locations were not in flight together")
	}
	if n := e.count("Microsoft.Compute/locations/usages/read"); n != 2 {
		t.Errorf("%d usage calls, want one per location", n)
	}
	tr.reset()

	check := func(want string, offs ...plan.Offering) {
		t.Helper()
		err := pf(offs...)
		var pe *provider.Error
		if !errors.As(err, &pe) || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v, want one saying %q", err, want)
		}
	}
	// The sizes are read before the quotas.
	tr.fail(http.StatusForbidden, "AuthorizationFailed", usages("eastus"))
	tr.fail(http.StatusBadRequest, "InvalidSkuFilter", skus("eastus"))
	check("InvalidSkuFilter", east)
	// The first location's before the second's.
	tr.reset()
	tr.fail(http.StatusForbidden, "AuthorizationFailed", usages("eastus"))
	tr.fail(http.StatusBadRequest, "InvalidSkuFilter", skus("westus2"))
	check("AuthorizationFailed", east, west)
	tr.reset()
	tr.fail(http.StatusForbidden, "AuthorizationFailed", usages("westus2"))
	tr.fail(http.StatusBadRequest, "InvalidSkuFilter", skus("eastus"))
	check("InvalidSkuFilter", east, west)
	// A failed lookup of a location the checks never reach (eastus fits)
	// fails nothing.
	tr.reset()
	tr.fail(http.StatusForbidden, "AuthorizationFailed", usages("westus2"))
	if err := pf(east, west); err != nil {
		t.Errorf("eastus fits, westus2's usages fail: %v", err)
	}
}

// TestPrepareConcurrent: locations are prepared at once, and in each the
// NSG and virtual network run beside the identity -> role assignment
// chain. Neither the NSG nor the network is read back after its operation
// (the status says it succeeded, and the NSG's ID is known by name); an
// operation that fails still fails Prepare with its code, and in a group
// that existed no network is written after a failed NSG.
func TestPrepareConcurrent(t *testing.T) {
	tr := &transport{}
	e := newEnv(t, withTransport(tr))
	groups := tr.hold(2, req(http.MethodPut, "/resourcegroups/burst-pc-"))
	chains := tr.hold(4, anyOf(req(http.MethodPut, "/networksecuritygroups/"), req(http.MethodPut, "/userassignedidentities/")))
	prepare(t, e, "pc", "eastus", "westus2")
	if !groups.reached() {
		t.Errorf("the two locations' groups were not written at once")
	}
	if !chains.reached() {
		t.Errorf("the NSGs and identities of both locations were not written at once")
	}
	for _, a := range []string{"Microsoft.Network/networkSecurityGroups/read", "Microsoft.Network/virtualNetworks/read"} {
		if n := e.count(a); n != 0 {
			t.Errorf("%d calls of %s", n, a)
		}
	}
	for _, a := range []string{"Microsoft.Network/networkSecurityGroups/write", "Microsoft.Network/virtualNetworks/write",
		"Microsoft.Authorization/roleAssignments/write"} {
		if n := e.count(a); n != 2 {
			t.Errorf("%d calls of %s, want one per location", n, a)
		}
	}

	// The NSG's operation fails: Prepare says so. In a group that
	// existed, whose subnet names the NSG, it makes no network.
	tr.reset()
	prepare(t, e, "pf", "eastus")
	e.p, _ = azure.New(e.opts)
	tr.answer(http.StatusOK, `{"status":"Failed","error":{"code":"NetworkSecurityGroupNotReady","message":"injected"}}`,
		req(http.MethodGet, "/providers/microsoft.network/locations/"))
	e.model.ResetRequests()
	err := e.p.Prepare(ctx(t), provider.PrepareRequest{Cluster: "pf", Regions: []string{"eastus"},
		Tags: map[string]string{provider.TagCluster: "pf", provider.TagOwner: "tester"}})
	if err == nil || !strings.Contains(err.Error(), "NetworkSecurityGroupNotReady") || !strings.Contains(err.Error(), "NetworkSecurityGroups.CreateOrUpdate") {
		t.Errorf("failed NSG operation: %v", err)
	}
	if n := e.count("Microsoft.Network/virtualNetworks/write"); n != 0 {
		t.Errorf("a network was written after the NSG failed")
	}
	// In a fresh group the network is written beside the NSG; the NSG's
	// failure still fails Prepare.
	e.p, _ = azure.New(e.opts)
	err = e.p.Prepare(ctx(t), provider.PrepareRequest{Cluster: "pg", Regions: []string{"eastus"},
		Tags: map[string]string{provider.TagCluster: "pg", provider.TagOwner: "tester"}})
	if err == nil || !strings.Contains(err.Error(), "NetworkSecurityGroups.CreateOrUpdate") {
		t.Errorf("failed NSG operation in a fresh group: %v", err)
	}
}

// TestLaunchNoReadBack: a launch does not GET the scale set or the head VM
// after its operation succeeds: the set's VMs are listed anyway, and the
// head's PUT answered with the VM. The head Launch returns is the one
// Machines then lists (addresses and power state aside).
func TestLaunchNoReadBack(t *testing.T) {
	e := newEnv(t)
	prepare(t, e, "rb", "eastus")
	e.model.ResetRequests()
	// The group is this provider's (fresh): no token lists
	// (TestLaunchInFreshGroup).
	hr := launch(t, e, head("rb", "rb-h-1", offer(t, "Standard_D2s_v5", "eastus", catalog.OnDemand)))
	if n := e.count(vmRead); n != 0 {
		t.Errorf("a head launch made %d VM reads, want none", n)
	}
	e.model.ResetRequests()
	wr := launch(t, e, workers("rb", 3, "rb-w-1", offer(t, "Standard_D2s_v5", "eastus", catalog.OnDemand)))
	if n, m := e.count("Microsoft.Compute/virtualMachineScaleSets/read"), e.count(vmRead); n != 0 || m != 1 {
		t.Errorf("a worker launch made %d set reads and %d VM reads, want none and 1 (the set's VMs)", n, m)
	}
	if len(hr.Machines) != 1 || len(wr.Machines) != 3 {
		t.Fatalf("launched %d heads and %d workers", len(hr.Machines), len(wr.Machines))
	}
	ms, err := e.p.Machines(ctx(t), provider.Filter{Cluster: "rb"})
	if err != nil {
		t.Fatal(err)
	}
	got := hr.Machines[0]
	for _, m := range ms {
		if m.ID != got.ID {
			continue
		}
		if got.PrivateIP == "" || got.PublicIP == "" {
			t.Errorf("Launch returned the head without its addresses: %+v", got)
		}
		if got.State != provider.Running || m.State != provider.Running {
			t.Errorf("head state %s from Launch, %s from Machines", got.State, m.State)
		}
		if fmt.Sprint(m) != fmt.Sprint(got) {
			t.Errorf("Launch returned\n%+v\nMachines lists\n%+v", got, m)
		}
		return
	}
	t.Errorf("Machines does not list the head %s: %v", got.ID, ms)
}

// TestPollSchedule: on the manual clock, an operation's polls come 50 ms
// after its first answer, then 0.1, 0.2, 0.4, 0.8, 1.6, 3.2 s and every PollInterval
// (5 s); the Retry-After of a group deletion (15 s) is not waited.
func TestPollSchedule(t *testing.T) {
	e := newEnv(t)
	slept := func() []time.Duration {
		e.mu.Lock()
		defer e.mu.Unlock()
		out := e.slept
		e.slept = nil
		return out
	}
	ms := func(ds ...float64) []time.Duration {
		var out []time.Duration
		for _, d := range ds {
			out = append(out, time.Duration(d*float64(time.Second)))
		}
		return out
	}
	// Network operations end at once: one poll each.
	prepare(t, e, "ps", "eastus")
	if got := slept(); fmt.Sprint(got) != fmt.Sprint(ms(0.05, 0.05)) {
		t.Errorf("Prepare slept %v, want a 50ms pause before the NSG's and the network's one poll", got)
	}
	// VMs boot in 20 s: polls at 0.05, 0.15, 0.35, 0.75, 1.55, 3.15,
	// 6.35, 11.35, 16.35 and 21.35 s, the last finding them running.
	launch(t, e, workers("ps", 3, "ps-w-1", offer(t, "Standard_D2s_v5", "eastus", catalog.OnDemand)))
	if got := slept(); fmt.Sprint(got) != fmt.Sprint(ms(0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 5, 5, 5)) {
		t.Errorf("a scale set booting in 20s slept %v", got)
	}
	// The group's VMs take 10 s to go; its deletion says Retry-After: 15.
	if err := e.p.Cleanup(ctx(t), "ps", nil); err != nil {
		t.Fatal(err)
	}
	if got := slept(); fmt.Sprint(got) != fmt.Sprint(ms(0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 5)) {
		t.Errorf("a group deletion of 10s slept %v", got)
	}
}

// TestMachinesConcurrent: a listing asks at once for everything it can
// name without waiting: with a provider that has seen the cluster, the
// group list, the group's four lists and the power states of the head and
// the set, all together; with a new one, the head's power state as soon as
// the VM list is in, beside the set's. Either way the answer is what a new
// provider finds, whatever changed since the hints were taken: VMs
// stopped, a head and set members being deleted, a set emptied, the head
// gone, a group untagged, a group deleted.
func TestMachinesConcurrent(t *testing.T) {
	tr := &transport{}
	e := newEnv(t, withTransport(tr))
	prepare(t, e, "mc", "eastus")
	h := launch(t, e, head("mc", "mc-h", offer(t, "Standard_D2s_v5", "eastus", catalog.OnDemand))).Machines[0]
	ws := launch(t, e, workers("mc", 3, "mc-w", offer(t, "Standard_D2s_v5", "eastus", catalog.OnDemand))).Machines
	e.clock.Advance(time.Minute)
	filter := provider.Filter{Cluster: "mc", Regions: []string{"eastus"}}

	list := func(p *azure.Provider, f provider.Filter) string {
		t.Helper()
		ms, err := p.Machines(ctx(t), f)
		if err != nil {
			t.Fatalf("Machines: %v", err)
		}
		return fmt.Sprint(ms)
	}
	fresh := func() *azure.Provider {
		p, err := azure.New(e.opts)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	groupRead := req(http.MethodGet, "/resourcegroups?")
	vmGet := req(http.MethodGet, "/virtualmachines/mc-h-")
	setViews := func(r *http.Request) bool {
		return r.Method == http.MethodGet && strings.HasSuffix(strings.ToLower(r.URL.Path), "/virtualmachines") && r.URL.Query().Get("$expand") != ""
	}
	lists := anyOf(groupRead, vmGet, setViews,
		func(r *http.Request) bool {
			p := strings.ToLower(r.URL.Path)
			return r.Method == http.MethodGet && r.URL.Query().Get("$expand") == "" && (strings.HasSuffix(p, "/virtualmachines") ||
				strings.HasSuffix(p, "/virtualmachinescalesets") || strings.HasSuffix(p, "/networkinterfaces") || strings.HasSuffix(p, "/publicipaddresses"))
		})

	// What Prepare and Launch made is asked for at once: one round.
	b := tr.hold(7, lists)
	e.model.ResetRequests()
	got := list(e.p, filter)
	if !b.reached() {
		t.Errorf("the group list, four lists and two power states were not in flight together: %v", actions(e))
	}
	tr.reset()
	if want := list(fresh(), filter); got != want {
		t.Errorf("with hints\n%s\nnew provider\n%s", got, want)
	}
	// A new provider, every location: the group list first, the four
	// lists, then both power states at once.
	tr.reset()
	b = tr.hold(2, anyOf(vmGet, setViews))
	if got := list(fresh(), provider.Filter{Cluster: "mc"}); got != list(e.p, filter) {
		t.Errorf("every location %s", got)
	}
	if !b.reached() {
		t.Errorf("the head's and the set's power states were not asked for at once")
	}
	tr.reset()

	same := func(what string) {
		t.Helper()
		got, want := list(e.p, filter), list(fresh(), filter)
		if got != want {
			t.Errorf("%s: with hints\n%s\nnew provider\n%s", what, got, want)
		}
	}
	e.sim.PowerOff(e.vmID(h))
	e.sim.Deallocate(e.vmID(ws[0]))
	e.clock.Advance(time.Minute)
	same("stopped")
	if err := e.p.Terminate(ctx(t), []provider.Machine{h, ws[1]}); err != nil {
		t.Fatal(err)
	}
	same("being deleted")
	e.clock.Advance(time.Minute)
	same("deleted")
	if err := e.p.Terminate(ctx(t), ws); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Minute)
	same("set emptied")

	// A group that lost its tag is not the cluster's any more, though this
	// process prepared it; one deleted outside burst is no error.
	launch(t, e, workers("mc", 2, "mc-w2", offer(t, "Standard_D2s_v5", "eastus", catalog.OnDemand)))
	e.clock.Advance(time.Minute)
	groups, _ := armresources.NewResourceGroupsClient(e.sim.Subscription(), testCred{}, e.armOptions())
	if _, err := groups.Update(ctx(t), "burst-mc-eastus", armresources.ResourceGroupPatchable{
		Tags: map[string]*string{provider.TagOwner: to.Ptr("tester")}}, nil); err != nil {
		t.Fatal(err)
	}
	if got := list(e.p, filter); got != "[]" {
		t.Errorf("untagged group: %s", got)
	}
	poller, err := groups.BeginDelete(ctx(t), "burst-mc-eastus", nil)
	for err == nil && !poller.Done() {
		e.clock.Advance(time.Minute)
		var resp *http.Response
		if resp, err = poller.Poll(ctx(t)); err == nil {
			_ = resp.Body.Close()
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	e.model.ResetRequests()
	if got := list(e.p, filter); got != "[]" {
		t.Errorf("deleted group: %s", got)
	}
	if !slices.ContainsFunc(e.model.Requests(), func(r cloudsim.Request) bool { return r.Code == "ResourceGroupNotFound" }) {
		t.Errorf("the prepared group was not listed at once (no ResourceGroupNotFound): %v", actions(e))
	}
}

func actions(e *env) []string {
	var out []string
	for _, r := range e.model.Requests() {
		out = append(out, fmt.Sprintf("%s %d", r.Action, r.Status))
	}
	return out
}

// TestCleanupConcurrent: down deletes the role assignment of a group this
// process knows while the group list runs, and still deletes each group
// only after its assignment is gone; an assignment it cannot delete keeps
// its group.
func TestCleanupConcurrent(t *testing.T) {
	tr := &transport{}
	e := newEnv(t, withTransport(tr))
	const roleDelete = "Microsoft.Authorization/roleAssignments/delete"
	order := func() (role, group int) {
		role, group = -1, -1
		for i, r := range e.model.Requests() {
			switch {
			case r.Action == roleDelete && role < 0:
				role = i
			case r.Action == groupDelete && group < 0:
				group = i
			}
		}
		return role, group
	}
	for _, known := range []bool{true, false} {
		tr.reset()
		e.p, _ = azure.New(e.opts)
		prepare(t, e, "cu", "eastus")
		launch(t, e, workers("cu", 2, "cu-w", offer(t, "Standard_D2s_v5", "eastus", catalog.OnDemand)))
		if !known {
			e.p, _ = azure.New(e.opts)
		}
		timeout := 3 * time.Second
		if !known {
			timeout = 300 * time.Millisecond
		}
		b := tr.holdFor(timeout, 2, anyOf(req(http.MethodGet, "/resourcegroups?"), req(http.MethodDelete, "/roleassignments/")))
		e.model.ResetRequests()
		if err := e.p.Cleanup(ctx(t), "cu", nil); err != nil {
			t.Fatalf("Cleanup: %v", err)
		}
		if b.reached() != known {
			t.Errorf("known %v: the group list and the role delete in flight together: %v", known, b.reached())
		}
		if role, group := order(); role < 0 || group < 0 || role > group {
			t.Errorf("known %v: role delete at %d, group delete at %d: %v", known, role, group, actions(e))
		}
		if live := e.sim.Live(); len(live) != 0 {
			t.Errorf("known %v: left %v", known, live)
		}
	}

	// The assignment cannot be deleted: the group stays.
	tr.reset()
	e.p, _ = azure.New(e.opts)
	prepare(t, e, "cu", "eastus")
	tr.fail(http.StatusForbidden, "AuthorizationFailed", req(http.MethodDelete, "/roleassignments/"))
	e.model.ResetRequests()
	if err := e.p.Cleanup(ctx(t), "cu", nil); !errors.Is(err, provider.ErrAuth) || !strings.Contains(err.Error(), "RoleAssignments.Delete") {
		t.Errorf("Cleanup with the assignment refused: %v", err)
	}
	if n := e.count(groupDelete); n != 0 {
		t.Errorf("the group was deleted with its assignment left")
	}
}

// TestMachinesGetsPerPage: a standalone VM's power state is asked for as
// soon as its page of the VM list is in, while the next page is read.
func TestMachinesGetsPerPage(t *testing.T) {
	tr := &transport{}
	e := newEnv(t, withTransport(tr))
	prepare(t, e, "pg", "eastus")
	launch(t, e, head("pg", "pg-h", offer(t, "Standard_D2s_v5", "eastus", catalog.OnDemand)))
	launch(t, e, workers("pg", 250, "pg-w", offer(t, "Standard_D2s_v5", "eastus", catalog.OnDemand)))
	e.clock.Advance(time.Minute)
	p, err := azure.New(e.opts)
	if err != nil {
		t.Fatal(err)
	}
	secondPage := func(r *http.Request) bool {
		return r.Method == http.MethodGet && strings.HasSuffix(strings.ToLower(r.URL.Path), "/virtualmachines") &&
			r.URL.Query().Get("$skiptoken") != "" && r.URL.Query().Get("$filter") == ""
	}
	b := tr.hold(2, anyOf(secondPage, req(http.MethodGet, "/virtualmachines/pg-h-")))
	ms, err := p.Machines(ctx(t), provider.Filter{Cluster: "pg"})
	if err != nil || len(ms) != 251 {
		t.Fatalf("Machines: %d machines, %v", len(ms), err)
	}
	if !b.reached() {
		t.Errorf("the head's GET waited for the VM list's last page")
	}
}

// TestMachinesKeyedGroups: a new provider on a machine that holds a
// cluster's SSH key (its Launch made it) asks for the cluster's group in
// each of the filter's locations beside the group list, not after it;
// the answer is the same, a group whose early lists answered 404 is asked
// again once the group list names it, and without the key nothing is
// asked before the group list.
func TestMachinesKeyedGroups(t *testing.T) {
	tr := &transport{}
	e := newEnv(t, withTransport(tr))
	prepare(t, e, "kg", "eastus")
	launch(t, e, head("kg", "kg-h", offer(t, "Standard_D2s_v5", "eastus", catalog.OnDemand)))
	launch(t, e, workers("kg", 3, "kg-w", offer(t, "Standard_D2s_v5", "eastus", catalog.OnDemand)))
	e.clock.Advance(time.Minute)
	filter := provider.Filter{Cluster: "kg", Regions: []string{"eastus"}}
	fresh := func() *azure.Provider {
		p, err := azure.New(e.opts)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	list := func(f provider.Filter) string {
		t.Helper()
		ms, err := fresh().Machines(ctx(t), f)
		if err != nil {
			t.Fatalf("Machines: %v", err)
		}
		if len(ms) != 4 {
			t.Errorf("%d machines, want 4: %v", len(ms), ms)
		}
		return fmt.Sprint(ms)
	}
	groupRead := req(http.MethodGet, "/resourcegroups?")
	groupLists := func(r *http.Request) bool {
		p := strings.ToLower(r.URL.Path)
		return r.Method == http.MethodGet && r.URL.RawQuery != "" && !strings.Contains(r.URL.RawQuery, "filter") &&
			strings.Contains(p, "/resourcegroups/burst-kg-eastus/") && (strings.HasSuffix(p, "/virtualmachines") ||
			strings.HasSuffix(p, "/virtualmachinescalesets") || strings.HasSuffix(p, "/networkinterfaces") || strings.HasSuffix(p, "/publicipaddresses"))
	}
	want := list(provider.Filter{Cluster: "kg"}) // every location: nothing guessed

	b := tr.hold(5, anyOf(groupRead, groupLists))
	if got := list(filter); got != want {
		t.Errorf("with the key\n%s\nwant\n%s", got, want)
	}
	if !b.reached() {
		t.Errorf("the group list and the group's four lists were not in flight together: %v", actions(e))
	}
	tr.reset()

	// The group's VM list answers 404 once, as if asked before the group
	// was made: asked again after the group list, the answer is whole.
	var once sync.Once
	tr.fail(http.StatusNotFound, "ResourceGroupNotFound", func(r *http.Request) bool {
		hit := false
		if groupLists(r) && strings.HasSuffix(strings.ToLower(r.URL.Path), "/virtualmachines") {
			once.Do(func() { hit = true })
		}
		return hit
	})
	if got := list(filter); got != want {
		t.Errorf("after an early 404\n%s\nwant\n%s", got, want)
	}
	tr.reset()

	if err := os.RemoveAll(e.keyDir("kg")); err != nil {
		t.Fatal(err)
	}
	b = tr.holdFor(300*time.Millisecond, 2, anyOf(groupRead, groupLists))
	if got := list(filter); got != want {
		t.Errorf("without the key\n%s\nwant\n%s", got, want)
	}
	if b.reached() {
		t.Error("without the key, the group's lists were asked for before the group list answered")
	}
}
