package arm

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/burstdev/burst/internal/cloudsim"
)

// DefaultSubscription is the simulated subscription's ID.
const DefaultSubscription = "00000000-0000-4000-8000-00000000a2b1"

// DefaultTenant is the simulated tenant's ID.
const DefaultTenant = "00000000-0000-4000-8000-0000000000te"

// Token buckets the server takes from, as ARM throttles: per-subscription
// reads, writes and deletes, and the Compute resource provider's VM
// creation budget (one token per VM created, a scale set's capacity
// included).
const (
	BucketReads    = "arm-reads"
	BucketWrites   = "arm-writes"
	BucketDeletes  = "arm-deletes"
	BucketVMCreate = "compute-vm-create"
)

// Options configure a server.
type Options struct {
	// Model is the simulated cloud; see NewModel.
	Model *cloudsim.Model
	// Subscription is the one subscription the server serves
	// (DefaultSubscription when empty).
	Subscription string
	// PageSize is how many items a list returns before a nextLink
	// (default 200).
	PageSize int
	// DefaultQuota is the limit the usage API reports for a vCPU quota the
	// model leaves unlimited (default 100000).
	DefaultQuota float64
}

// Server is the ARM simulator: an http.Handler speaking the REST shapes of
// Microsoft.Resources, Microsoft.Compute, Microsoft.Network,
// Microsoft.ManagedIdentity and Microsoft.Authorization that burst uses,
// and the Retail Prices API, over the shared cloudsim model.
//
// Long-running operations follow ARM's protocol (201/202 with
// Azure-AsyncOperation or Location, then an operation status resource), so
// the SDK's real pollers run against it. Errors use ARM's envelope and
// codes. Every request is logged in the model under its RBAC operation name
// ("Microsoft.Compute/virtualMachineScaleSets/write"), which is what the
// custom role burst prints must allow.
type Server struct {
	m            *cloudsim.Model
	sub          string
	pageSize     int
	defaultQuota float64

	mu         sync.Mutex
	ops        map[string]*operation
	seq        int
	vms        map[string]*vmRecord // by lower-case VM ID
	restricted map[string]bool      // lower(size) + "/" + location
	linked     []string
	ts         *httptest.Server
}

// New returns a server over opts.Model.
func New(opts Options) *Server {
	if opts.Model == nil {
		opts.Model = NewModel(cloudsim.Config{})
	}
	if opts.Subscription == "" {
		opts.Subscription = DefaultSubscription
	}
	if opts.PageSize <= 0 {
		opts.PageSize = 200
	}
	if opts.DefaultQuota <= 0 {
		opts.DefaultQuota = 100000
	}
	return &Server{
		m: opts.Model, sub: opts.Subscription, pageSize: opts.PageSize, defaultQuota: opts.DefaultQuota,
		ops: map[string]*operation{}, vms: map[string]*vmRecord{}, restricted: map[string]bool{},
	}
}

// Start serves on a local port and returns the base URL
// ("http://127.0.0.1:PORT"). Close stops it.
func (s *Server) Start() string {
	s.ts = httptest.NewServer(s)
	return s.ts.URL
}

// Close stops a started server.
func (s *Server) Close() {
	if s.ts != nil {
		s.ts.Close()
	}
}

// Model returns the server's model.
func (s *Server) Model() *cloudsim.Model { return s.m }

// Subscription returns the subscription ID the server serves.
func (s *Server) Subscription() string { return s.sub }

// SetARMThrottles installs ARM's documented throttles as model buckets:
// per subscription, reads 250 burst refilled at 25/s, writes and deletes
// 200 burst at 10/s (ARM's token-bucket limits), and the Compute RP's VM
// creation budget of 1500 VMs burst refilled at 500 a minute.
func (s *Server) SetARMThrottles() {
	s.m.SetBucket(BucketReads, 250, 25)
	s.m.SetBucket(BucketWrites, 200, 10)
	s.m.SetBucket(BucketDeletes, 200, 10)
	s.m.SetBucket(BucketVMCreate, 1500, 500.0/60)
}

// Restrict makes a size unavailable to the subscription in a location, as
// the Resource SKUs API's NotAvailableForSubscription restriction: creates
// fail with SkuNotAvailable.
func (s *Server) Restrict(size, location string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.restricted[strings.ToLower(size)+"/"+location] = true
}

// Linked returns the linked authorization checks ARM made on the caller's
// behalf (joining a subnet, assigning an identity, ...), one entry per
// distinct action, sorted. A custom role must allow these too.
func (s *Server) Linked() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := slices.Clone(s.linked)
	sort.Strings(out)
	return out
}

func (s *Server) link(action string) {
	if !slices.Contains(s.linked, action) {
		s.linked = append(s.linked, action)
	}
}

// PoolKeys returns the model's capacity pools of a size in a location, one
// per zone.
func (s *Server) PoolKeys(size, location, capacity string) []cloudsim.PoolKey {
	var out []cloudsim.PoolKey
	for _, z := range s.m.Zones(location) {
		out = append(out, cloudsim.PoolKey{Type: size, Zone: z, Capacity: capacity})
	}
	return out
}

// SetRegionCapacity limits a size's capacity in a whole location to n,
// spread over its zones (the first zone gets the remainder); n < 0 lifts
// the limit.
func (s *Server) SetRegionCapacity(size, location, capacity string, n int) {
	keys := s.PoolKeys(size, location, capacity)
	for i, k := range keys {
		switch {
		case n < 0:
			s.m.SetCapacity(k, -1)
		case i == 0:
			s.m.SetCapacity(k, n-(n/len(keys))*(len(keys)-1))
		default:
			s.m.SetCapacity(k, n/len(keys))
		}
	}
}

// apiError is an ARM error answer.
type apiError struct {
	Status  int
	Code    string
	Message string
	// RetryAfter is set on 429s.
	RetryAfter time.Duration
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message) }

func errorf(status int, code, format string, args ...any) *apiError {
	return &apiError{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// faultError maps an injected fault to the answer ARM gives for its kind.
func faultError(f *cloudsim.Fault, action, scope string) *apiError {
	msg := f.Message
	code := f.Code
	var e *apiError
	switch f.Kind {
	case cloudsim.KindCapacity:
		e = &apiError{Status: http.StatusConflict, Code: "AllocationFailed",
			Message: "Allocation failed. We do not have sufficient capacity for the requested VM size in this region. Read more about improving likelihood of allocation success at http://aka.ms/allocation-guidance"}
	case cloudsim.KindQuota:
		e = &apiError{Status: http.StatusConflict, Code: "OperationNotAllowed",
			Message: "Operation could not be completed as it results in exceeding approved Total Regional Cores quota. Additional details - Deployment Model: Resource Manager, Location: eastus, Current Limit: 0, Current Usage: 0, Additional Required: 2, (Minimum) New Limit Required: 2."}
	case cloudsim.KindThrottle:
		e = &apiError{Status: http.StatusTooManyRequests, Code: "TooManyRequests",
			Message: "The request is being throttled as the limit has been reached for operation type - Write.", RetryAfter: time.Second}
	case cloudsim.KindAuth:
		e = &apiError{Status: http.StatusForbidden, Code: "AuthorizationFailed",
			Message: fmt.Sprintf("The client 'burst-sim' with object id '00000000-0000-0000-0000-000000000000' does not have authorization to perform action '%s' over scope '%s' or the scope is invalid.", action, scope)}
	case cloudsim.KindInvalid:
		e = &apiError{Status: http.StatusBadRequest, Code: "InvalidParameter", Message: "The value of a parameter is not valid."}
		if conflictCodes[code] {
			// A resource in the way (in use, being changed): ARM answers 409.
			e.Status, e.Message = http.StatusConflict, "The operation conflicts with the state of a dependent resource."
		}
	case cloudsim.KindNotFound:
		e = &apiError{Status: http.StatusNotFound, Code: "ResourceNotFound", Message: "The resource was not found."}
	default:
		e = &apiError{Status: http.StatusInternalServerError, Code: "InternalServerError", Message: "An internal server error occurred."}
	}
	if code != "" {
		e.Code = code
	}
	if msg != "" {
		e.Message = msg
	}
	return e
}

// conflictCodes are the ARM codes of an operation blocked by another
// resource's state (a dependency still in use or being changed), answered
// 409 when injected as an invalid-request fault.
var conflictCodes = map[string]bool{
	"Conflict": true, "AnotherOperationInProgress": true, "ResourceGroupDeletionBlocked": true,
	"InUseSubnetCannotBeDeleted": true, "InUseNetworkSecurityGroupCannotBeDeleted": true, "NicInUse": true,
	"ScopeLocked": true,
}

// ctx is one request being served.
type ctx struct {
	s      *Server
	w      http.ResponseWriter
	r      *http.Request
	body   []byte
	base   string // scheme://host
	action string
	// Path parts; rg, ns, typ and name are empty where the route has none.
	rg, ns, typ, name, child, location string
	fault                              *cloudsim.Fault
	principal                          string // "" is the subscription owner (the caller)
	status                             int
	code                               string
}

func (c *ctx) query(k string) string { return c.r.URL.Query().Get(k) }

func (c *ctx) reply(status int, v any, headers map[string]string) {
	for k, val := range headers {
		c.w.Header().Set(k, val)
	}
	c.status = status
	if v == nil {
		c.w.WriteHeader(status)
		return
	}
	b, err := json.Marshal(v)
	if err != nil {
		c.fail(errorf(http.StatusInternalServerError, "InternalServerError", "encoding the answer: %v", err))
		return
	}
	c.w.Header().Set("Content-Type", "application/json; charset=utf-8")
	c.w.WriteHeader(status)
	_, _ = c.w.Write(b)
}

func (c *ctx) fail(e *apiError) {
	c.code = e.Code
	h := map[string]string{"x-ms-error-code": e.Code}
	if e.RetryAfter > 0 {
		h["Retry-After"] = strconv.Itoa(int(math.Ceil(e.RetryAfter.Seconds())))
	}
	body := map[string]any{"error": map[string]any{"code": e.Code, "message": e.Message}}
	c.reply(e.Status, body, h)
}

// resourceID is the canonical ID of the routed resource.
func (c *ctx) resourceID() string {
	id := "/subscriptions/" + c.s.sub
	if c.rg != "" {
		id += "/resourceGroups/" + c.rg
	}
	if c.ns != "" {
		id += "/providers/" + c.ns + "/" + c.typ
		if c.name != "" {
			id += "/" + c.name
		}
	}
	return id
}

// route finds the handler and RBAC action of a request.
func (s *Server) route(c *ctx) (func(*ctx), bool) {
	p := strings.Trim(c.r.URL.Path, "/")
	seg := strings.Split(p, "/")
	eq := strings.EqualFold
	m := c.r.Method
	verb := map[string]string{http.MethodGet: "read", http.MethodHead: "read", http.MethodPut: "write", http.MethodPatch: "write", http.MethodDelete: "delete"}[m]
	if len(seg) < 2 || !eq(seg[0], "subscriptions") {
		return nil, false
	}
	if seg[1] != s.sub {
		c.action = "Microsoft.Resources/subscriptions/read"
		return func(c *ctx) {
			c.fail(errorf(http.StatusNotFound, "SubscriptionNotFound", "The subscription '%s' could not be found.", seg[1]))
		}, true
	}
	rest := seg[2:]
	switch {
	case len(rest) == 1 && eq(rest[0], "resourcegroups") && m == http.MethodGet:
		c.action = "Microsoft.Resources/subscriptions/resourceGroups/read"
		return (*ctx).listResourceGroups, true
	case len(rest) == 2 && eq(rest[0], "resourcegroups") && verb != "":
		c.rg = rest[1]
		c.action = "Microsoft.Resources/subscriptions/resourceGroups/" + verb
		return (*ctx).resourceGroup, true
	case len(rest) == 2 && eq(rest[0], "operationresults") && m == http.MethodGet:
		c.name = rest[1]
		c.action = "Microsoft.Resources/subscriptions/operationresults/read"
		return (*ctx).operationResult, true
	case len(rest) >= 3 && eq(rest[0], "providers"):
		c.ns = canonicalNS(rest[1])
		switch {
		case c.ns == "Microsoft.Compute" && len(rest) == 3 && eq(rest[2], "skus") && m == http.MethodGet:
			c.action = "Microsoft.Compute/skus/read"
			return (*ctx).listSKUs, true
		case len(rest) == 5 && eq(rest[2], "locations") && eq(rest[4], "usages") && c.ns == "Microsoft.Compute" && m == http.MethodGet:
			c.location = rest[3]
			c.action = "Microsoft.Compute/locations/usages/read"
			return (*ctx).listUsages, true
		case len(rest) == 6 && eq(rest[2], "locations") && eq(rest[4], "operations") && m == http.MethodGet:
			c.location, c.name = rest[3], rest[5]
			c.action = c.ns + "/locations/operations/read"
			return (*ctx).operationStatus, true
		}
	case len(rest) >= 5 && eq(rest[0], "resourcegroups") && eq(rest[2], "providers"):
		c.rg, c.ns, c.typ = rest[1], canonicalNS(rest[3]), canonicalType(rest[4])
		if len(rest) >= 6 {
			c.name = rest[5]
		}
		if len(rest) == 7 {
			c.child = rest[6]
		}
		if len(rest) > 7 {
			return nil, false
		}
		h := s.resourceHandler(c, verb)
		return h, h != nil
	}
	return nil, false
}

func canonicalNS(ns string) string {
	for _, k := range []string{"Microsoft.Compute", "Microsoft.Network", "Microsoft.ManagedIdentity", "Microsoft.Authorization", "Microsoft.Resources"} {
		if strings.EqualFold(ns, k) {
			return k
		}
	}
	return ns
}

func canonicalType(t string) string {
	for _, k := range []string{"virtualMachineScaleSets", "virtualMachines", "virtualNetworks", "networkSecurityGroups",
		"networkInterfaces", "publicIPAddresses", "userAssignedIdentities", "roleAssignments", "disks"} {
		if strings.EqualFold(t, k) {
			return k
		}
	}
	return t
}

func (s *Server) resourceHandler(c *ctx, verb string) func(*ctx) {
	m := c.r.Method
	item := c.name != "" && c.child == ""
	list := c.name == "" && m == http.MethodGet
	base := c.ns + "/" + c.typ + "/"
	c.action = base + verb
	switch c.ns + "/" + c.typ {
	case "Microsoft.Compute/virtualMachineScaleSets":
		switch {
		case list:
			return (*ctx).listScaleSets
		case item && m != http.MethodHead && verb != "":
			return (*ctx).scaleSet
		case c.child != "" && strings.EqualFold(c.child, "delete") && m == http.MethodPost:
			c.action = base + "delete/action"
			return (*ctx).deleteInstances
		}
	case "Microsoft.Compute/virtualMachines":
		switch {
		case list:
			return (*ctx).listVMs
		case item && m != http.MethodHead && m != http.MethodPatch && verb != "":
			return (*ctx).virtualMachine
		}
	case "Microsoft.Network/networkSecurityGroups", "Microsoft.Network/virtualNetworks":
		if item && (m == http.MethodGet || m == http.MethodPut) {
			return (*ctx).networkResource
		}
	case "Microsoft.Network/networkInterfaces", "Microsoft.Network/publicIPAddresses":
		if list {
			return (*ctx).listNetworkChildren
		}
		if item && m == http.MethodGet {
			return (*ctx).getNetworkChild
		}
	case "Microsoft.ManagedIdentity/userAssignedIdentities":
		if item && (m == http.MethodGet || m == http.MethodPut || m == http.MethodDelete) {
			return (*ctx).identity
		}
	case "Microsoft.Authorization/roleAssignments":
		if item && (m == http.MethodGet || m == http.MethodPut || m == http.MethodDelete) {
			return (*ctx).roleAssignment
		}
	}
	return nil
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	c := &ctx{s: s, w: w, r: r, base: scheme + "://" + r.Host}
	if strings.EqualFold(strings.Trim(r.URL.Path, "/"), "api/retail/prices") {
		s.servePrices(c)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	c.body = body
	h, ok := s.route(c)
	if !ok {
		call := s.m.Begin("arm", "unknown", "")
		c.fail(errorf(http.StatusBadRequest, "InvalidResourceType", "The resource type could not be found for %s %s.", r.Method, r.URL.Path))
		call.End(c.status, c.code)
		return
	}
	call := s.m.Begin("arm", c.action, c.location)
	c.fault = call.Fault
	s.serve(c, h)
	call.End(c.status, c.code)
}

func (s *Server) serve(c *ctx, h func(*ctx)) {
	if c.r.URL.Query().Get("api-version") == "" {
		c.fail(errorf(http.StatusBadRequest, "MissingApiVersionParameter", "The api-version query parameter (?api-version=) is required for all requests."))
		return
	}
	if e := s.authenticate(c); e != nil {
		c.fail(e)
		return
	}
	if f := c.fault; f != nil {
		if f.Kind == cloudsim.KindTimeout {
			<-c.r.Context().Done()
			c.status = 499
			return
		}
		// Capacity faults on creates fail the operation asynchronously, as
		// Azure reports allocation failures; the handler sees the fault.
		async := f.Kind == cloudsim.KindCapacity && f.Code != "SkuNotAvailable" &&
			(c.action == "Microsoft.Compute/virtualMachineScaleSets/write" || c.action == "Microsoft.Compute/virtualMachines/write")
		if !async {
			c.fail(faultError(f, c.action, c.resourceID()))
			return
		}
	}
	if e := s.throttle(c); e != nil {
		c.fail(e)
		return
	}
	s.mu.Lock()
	s.reap()
	s.mu.Unlock()
	h(c)
}

// authenticate checks the bearer token. Tokens issued by IMDS (see IMDS)
// act as a managed identity and are authorised by role assignments; any
// other token is the subscription's owner.
func (s *Server) authenticate(c *ctx) *apiError {
	auth := c.r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(auth, "Bearer ")
	if !ok || strings.TrimSpace(tok) == "" {
		return errorf(http.StatusUnauthorized, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing.")
	}
	if p, ok := strings.CutPrefix(tok, identityTokenPrefix); ok {
		c.principal = p
		s.mu.Lock()
		allowed := s.authorizedLocked(p, c.action, c.resourceID())
		s.mu.Unlock()
		if !allowed {
			return errorf(http.StatusForbidden, "AuthorizationFailed",
				"The client '%s' with object id '%s' does not have authorization to perform action '%s' over scope '%s' or the scope is invalid.", p, p, c.action, c.resourceID())
		}
	}
	return nil
}

// throttle takes the request's tokens from ARM's buckets.
func (s *Server) throttle(c *ctx) *apiError {
	bucket, kind := BucketWrites, "Write"
	switch c.r.Method {
	case http.MethodGet, http.MethodHead:
		bucket, kind = BucketReads, "Read"
	case http.MethodDelete:
		bucket, kind = BucketDeletes, "Delete"
	}
	if s.m.Take(bucket, 1) {
		return nil
	}
	return &apiError{Status: http.StatusTooManyRequests, Code: "TooManyRequests",
		Message:    fmt.Sprintf("The request is being throttled as the limit has been reached for operation type - %s. For more information, see - https://aka.ms/armthrottling", kind),
		RetryAfter: max(time.Second, s.m.BucketWait(bucket, 1))}
}

// takeVMCreate takes n VM creations from the Compute RP's budget; the
// Compute RP answers an exhausted budget with 429 OperationNotAllowed.
func (s *Server) takeVMCreate(n int) *apiError {
	if n <= 0 || s.m.Take(BucketVMCreate, n) {
		return nil
	}
	return &apiError{Status: http.StatusTooManyRequests, Code: "OperationNotAllowed",
		Message:    "The server rejected the request because too many requests have been received for this subscription.",
		RetryAfter: max(time.Second, s.m.BucketWait(BucketVMCreate, n))}
}

// operation is a long-running operation.
type operation struct {
	id       string
	ns       string
	location string
	start    time.Time
	end      time.Time
	// done reports whether the operation has finished by now; nil means
	// at once. finish runs once when it has. Both run under s.mu.
	done     func() bool
	finish   func()
	err      *apiError
	finished bool
}

func (s *Server) newOp(ns, location string, done func() bool, finish func(), err *apiError) *operation {
	s.seq++
	sum := sha256.Sum256([]byte(fmt.Sprintf("%s/%d/%d", s.sub, s.seq, s.m.Now().UnixNano())))
	h := hex.EncodeToString(sum[:16])
	id := h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
	op := &operation{id: id, ns: ns, location: location, start: s.m.Now(), done: done, finish: finish, err: err}
	s.ops[id] = op
	return op
}

// settle reports whether op is finished, running its finish once.
func (s *Server) settle(op *operation) bool {
	if op.finished {
		return true
	}
	if op.done != nil && !op.done() {
		return false
	}
	op.finished = true
	op.end = s.m.Now()
	if op.finish != nil {
		op.finish()
	}
	return true
}

func (op *operation) statusURL(c *ctx) string {
	return fmt.Sprintf("%s/subscriptions/%s/providers/%s/locations/%s/operations/%s?api-version=%s",
		c.base, c.s.sub, op.ns, op.location, op.id, url.QueryEscape(c.query("api-version")))
}

// accepted answers an operation's first response with ARM's async headers.
func (c *ctx) accepted(status int, body any, op *operation) {
	h := map[string]string{"Azure-AsyncOperation": op.statusURL(c)}
	if status == http.StatusAccepted {
		h["Location"] = op.statusURL(c) + "&monitor=true"
	}
	c.reply(status, body, h)
}

func (c *ctx) operationStatus() {
	s := c.s
	s.mu.Lock()
	op, ok := s.ops[c.name]
	var body map[string]any
	monitor := c.query("monitor") == "true"
	if ok {
		body = map[string]any{"name": op.id, "startTime": op.start.UTC().Format(time.RFC3339Nano)}
		switch {
		case !s.settle(op):
			body["status"] = "InProgress"
		case op.err != nil:
			body["status"] = "Failed"
			body["endTime"] = op.end.UTC().Format(time.RFC3339Nano)
			body["error"] = map[string]any{"code": op.err.Code, "message": op.err.Message}
		default:
			body["status"] = "Succeeded"
			body["endTime"] = op.end.UTC().Format(time.RFC3339Nano)
		}
	}
	s.mu.Unlock()
	if !ok {
		c.fail(errorf(http.StatusNotFound, "NotFound", "The operation '%s' was not found.", c.name))
		return
	}
	if monitor && body["status"] == "InProgress" {
		c.reply(http.StatusAccepted, nil, map[string]string{"Location": c.r.URL.String(), "Retry-After": "1"})
		return
	}
	c.reply(http.StatusOK, body, nil)
}

// page answers a list with ARM's paging: value and nextLink. Only the
// page's items are rendered (item(i) for i in the page), so a list of
// thousands costs the simulator a page's encoding per page, not the whole
// list's.
func (c *ctx) page(n int, item func(i int) any) {
	skip, _ := strconv.Atoi(c.query("$skiptoken"))
	skip = max(0, min(skip, n))
	end := min(n, skip+c.s.pageSize)
	value := make([]any, 0, end-skip)
	for i := skip; i < end; i++ {
		value = append(value, item(i))
	}
	body := map[string]any{"value": value}
	if end < n {
		q := c.r.URL.Query()
		q.Set("$skiptoken", strconv.Itoa(end))
		body["nextLink"] = c.base + c.r.URL.Path + "?" + q.Encode()
	}
	c.reply(http.StatusOK, body, nil)
}

// pageRaw is page for items rendered as JSON already: the page is put
// together from them as they are, where json.Marshal would check and
// compact each again.
func (c *ctx) pageRaw(n int, item func(i int) json.RawMessage) {
	skip, _ := strconv.Atoi(c.query("$skiptoken"))
	skip = max(0, min(skip, n))
	end := min(n, skip+c.s.pageSize)
	var b bytes.Buffer
	b.WriteByte('{')
	if end < n {
		q := c.r.URL.Query()
		q.Set("$skiptoken", strconv.Itoa(end))
		link, _ := json.Marshal(c.base + c.r.URL.Path + "?" + q.Encode())
		b.WriteString(`"nextLink":`)
		b.Write(link)
		b.WriteByte(',')
	}
	b.WriteString(`"value":[`)
	for i := skip; i < end; i++ {
		if i > skip {
			b.WriteByte(',')
		}
		b.Write(item(i))
	}
	b.WriteString("]}")
	c.status = http.StatusOK
	c.w.Header().Set("Content-Type", "application/json; charset=utf-8")
	c.w.WriteHeader(http.StatusOK)
	_, _ = c.w.Write(b.Bytes())
}

// pageOf pages items already rendered.
func (c *ctx) pageOf(items []any) { c.page(len(items), func(i int) any { return items[i] }) }

func (c *ctx) decode(v any) *apiError {
	if len(c.body) == 0 {
		return errorf(http.StatusBadRequest, "InvalidRequestContent", "The request content was invalid and could not be deserialized: the body is empty.")
	}
	if err := json.Unmarshal(c.body, v); err != nil {
		return errorf(http.StatusBadRequest, "InvalidRequestContent", "The request content was invalid and could not be deserialized: %v", err)
	}
	return nil
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func ptr[T any](v T) *T { return &v }

func tagsOf(t map[string]*string) map[string]string {
	out := map[string]string{}
	for k, v := range t {
		if v != nil {
			out[k] = *v
		}
	}
	return out
}

func tagPtrs(t map[string]string) map[string]*string {
	out := map[string]*string{}
	for k, v := range t {
		out[k] = ptr(v)
	}
	return out
}

// uuidOf derives a stable UUID-shaped string from s.
func uuidOf(s string) string {
	sum := sha256.Sum256([]byte(s))
	h := hex.EncodeToString(sum[:16])
	return h[:8] + "-" + h[8:12] + "-4" + h[13:16] + "-8" + h[17:20] + "-" + h[20:32]
}
