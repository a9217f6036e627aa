package gce

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/burstdev/burst/internal/cloudsim"
)

// Service is the service name requests are logged under.
const Service = "compute"

// Bucket names the server takes tokens from (see SetRateLimits). A bucket
// the model does not define never throttles.
const (
	// BucketAPI is the per-project request rate: every call takes one.
	BucketAPI = "gce-api"
	// BucketBulk is the bulk-insert rate: every bulkInsert takes one more.
	BucketBulk = "gce-bulk"
)

// MaxConcurrentBulk is how many bulkInsert operations may run at once;
// one more is refused with rateLimitExceeded, as GCE does.
const MaxConcurrentBulk = 10

// OperationSuffix marks the pseudo-action under which a fault fails an
// operation while it runs instead of the request that started it:
// Fault{Action: "compute.regionInstances.bulkInsert" + OperationSuffix}.
const OperationSuffix = "#operation"

// SetRateLimits gives the model GCE's documented default limits: 1500
// requests a minute for the project, and bulk inserts at 20 a second.
func SetRateLimits(m *cloudsim.Model) {
	m.SetBucket(BucketAPI, 1500, 1500.0/60)
	m.SetBucket(BucketBulk, 20, 20)
}

// ModelConfig returns a model configuration with the simulated regions and
// machine types; set its clock, latency and delays before cloudsim.New.
func ModelConfig() cloudsim.Config {
	return cloudsim.Config{Regions: Regions(), Types: Types()}
}

// Options configure a server.
type Options struct {
	// Project is the project ID requests must name (default "burst-sim").
	Project string
	// OperationDelay is how long, on the model clock, an operation runs
	// before it is DONE; 0 means it is done by the first poll.
	OperationDelay time.Duration
}

// Server is the simulated GCE endpoint.
type Server struct {
	m    *cloudsim.Model
	opts Options

	mu        sync.Mutex
	ops       map[string]*operation
	requests  map[string]string // requestId -> operation name
	instances map[string]*computepb.Instance
	byName    map[string]string // zone/name -> model instance ID
	patterns  map[string]int    // namePattern -> last number used
	networks  map[string]bool
	bulkLive  int // bulk inserts being handled or running
	seq       uint64
	// nextDeadline is the earliest maxRunDuration/terminationTime deadline
	// of a machine not yet past it (zero: none), valid while
	// deadlinesKnown; sweep skips the machines until then.
	nextDeadline   time.Time
	deadlinesKnown bool

	mux *http.ServeMux
	hs  *httptest.Server
}

// New returns a server on the model; serve it with Start or as an
// http.Handler.
func New(m *cloudsim.Model, opts Options) *Server {
	if opts.Project == "" {
		opts.Project = "burst-sim"
	}
	s := &Server{
		m: m, opts: opts,
		ops: map[string]*operation{}, requests: map[string]string{},
		instances: map[string]*computepb.Instance{}, byName: map[string]string{},
		patterns: map[string]int{}, networks: map[string]bool{"default": true},
		seq: 4_000_000_000_000_000_000,
	}
	s.routes()
	return s
}

// Start serves the server on a loopback port until Close.
func Start(m *cloudsim.Model, opts Options) *Server {
	s := New(m, opts)
	s.hs = httptest.NewServer(s)
	return s
}

// URL is the endpoint to give the client (option.WithEndpoint).
func (s *Server) URL() string { return s.hs.URL }

// Close stops a started server.
func (s *Server) Close() {
	if s.hs != nil {
		s.hs.Close()
	}
}

// Project is the simulated project ID.
func (s *Server) Project() string { return s.opts.Project }

// Model returns the model under the server.
func (s *Server) Model() *cloudsim.Model { return s.m }

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// AddNetwork makes a VPC network exist besides "default".
func (s *Server) AddNetwork(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.networks[name] = true
}

// RemoveNetwork makes a network not exist.
func (s *Server) RemoveNetwork(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.networks, name)
}

// apiError is an error answered in GCE's JSON envelope.
type apiError struct {
	status  int
	reason  string
	domain  string
	message string
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %s: %s", e.status, e.reason, e.message) }

func errorf(status int, reason, format string, args ...any) *apiError {
	return &apiError{status: status, reason: reason, domain: "global", message: fmt.Sprintf(format, args...)}
}

func invalid(format string, args ...any) *apiError {
	return errorf(http.StatusBadRequest, "invalid", format, args...)
}

func notFound(what string) *apiError {
	return errorf(http.StatusNotFound, "notFound", "The resource '%s' was not found", what)
}

// kindError maps the model's generic failure kinds to GCE's statuses and
// reasons (see docs/design/gcp.md for the table).
func kindError(k cloudsim.Kind, code, msg string) *apiError {
	var e *apiError
	switch k {
	case cloudsim.KindCapacity:
		e = errorf(http.StatusServiceUnavailable, "insufficientCapacity", "%s", or(msg, "ZONE_RESOURCE_POOL_EXHAUSTED: The zone does not have enough resources available to fulfill the request. Try a different zone, or try again later."))
	case cloudsim.KindQuota:
		e = errorf(http.StatusForbidden, "quotaExceeded", "%s", or(msg, "Quota 'CPUS' exceeded.  Limit: 0.0 in region us-central1."))
		e.domain = "usageLimits"
	case cloudsim.KindThrottle:
		e = errorf(http.StatusForbidden, "rateLimitExceeded", "%s", or(msg, "Rate Limit Exceeded"))
		e.domain = "usageLimits"
	case cloudsim.KindAuth:
		e = errorf(http.StatusForbidden, "forbidden", "%s", or(msg, "Required 'compute.instances.create' permission for 'projects/burst-sim'"))
		if code == "authError" {
			e.status = http.StatusUnauthorized
		}
	case cloudsim.KindNotFound:
		e = errorf(http.StatusNotFound, "notFound", "%s", or(msg, "The resource was not found"))
	case cloudsim.KindInvalid:
		e = invalid("%s", or(msg, "Invalid value for field 'resource'"))
	default:
		e = errorf(http.StatusInternalServerError, "backendError", "%s", or(msg, "Internal error. Please try again or contact Google Support."))
	}
	if code != "" && code != "authError" {
		e.reason = code
	}
	return e
}

func or(s, def string) string {
	if s != "" {
		return s
	}
	return def
}

func writeJSON(w http.ResponseWriter, status int, m proto.Message, mask maskNode) {
	if f, ok := m.(fresh); ok {
		m = f.Message
	} else if mask != nil {
		m = proto.Clone(m) // handlers may answer with what the server stores
	}
	if pruneMessage(m.ProtoReflect(), mask) {
		mask = nil // already applied
	}
	b, err := protojson.Marshal(m)
	if err == nil {
		b, err = applyMask(b, mask)
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func writeError(w http.ResponseWriter, e *apiError) {
	type item struct {
		Message string `json:"message"`
		Domain  string `json:"domain"`
		Reason  string `json:"reason"`
	}
	body := map[string]any{"error": map[string]any{
		"code":    e.status,
		"message": e.message,
		"errors":  []item{{Message: e.message, Domain: e.domain, Reason: e.reason}},
	}}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(e.status)
	_ = json.NewEncoder(w).Encode(body)
}

// fresh marks a handler's answer as built for this response alone, so
// writeJSON may prune it in place rather than copy it first.
type fresh struct{ proto.Message }

// handler is one API method's implementation: it returns the response
// message or an error to answer.
type handler func(r *http.Request) (proto.Message, *apiError)

// method wraps a handler with what every GCE call does: log the request
// under its method ID, wait the latency, answer an injected fault, check
// the project and the rate limit, and enforce run-duration deadlines. A
// call inside a batch (batch.go) does the same, once its batch request is
// admitted.
func (s *Server) method(action string, h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		region := r.PathValue("region")
		if z := r.PathValue("zone"); z != "" && region == "" {
			region, _ = s.m.RegionOfZone(z)
		}
		call := s.m.Begin(Service, action, region)
		if !admitted(r) {
			return // its batch failed before its calls ran: not logged, no effect
		}
		status, code := http.StatusOK, ""
		defer func() { call.End(status, code) }()
		fail := func(e *apiError) {
			status, code = e.status, e.reason
			writeError(w, e)
		}
		if f := call.Fault; f != nil {
			if f.Kind == cloudsim.KindTimeout {
				<-r.Context().Done()
				status, code = 0, "timeout"
				return
			}
			fail(kindError(f.Kind, f.Code, f.Message))
			return
		}
		if p := r.PathValue("project"); p != "" && p != s.opts.Project && !publicImageProjects[p] {
			fail(errorf(http.StatusForbidden, "forbidden", "Required permission for 'projects/%s'", p))
			return
		}
		if !s.m.Take(BucketAPI, 1) {
			fail(kindError(cloudsim.KindThrottle, "rateLimitExceeded", "Quota exceeded for quota metric 'Queries' and limit 'Queries per minute' of service 'compute.googleapis.com' for consumer 'project_number:"+s.opts.Project+"'."))
			return
		}
		mask, e := requestMask(r)
		if e != nil {
			fail(e)
			return
		}
		s.sweep()
		msg, e := h(r)
		if e != nil {
			fail(e)
			return
		}
		writeJSON(w, status, msg, mask)
	}
}

// readBody decodes a request body into m with protojson.
func readBody(r *http.Request, m proto.Message) *apiError {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return invalid("reading the request body: %v", err)
	}
	if err := protojson.Unmarshal(b, m); err != nil {
		return errorf(http.StatusBadRequest, "parseError", "Invalid JSON payload received. %v", err)
	}
	return nil
}

func (s *Server) routes() {
	mux := http.NewServeMux()
	p := "/compute/v1/projects/{project}"
	// Instances.
	mux.HandleFunc("POST "+p+"/regions/{region}/instances/bulkInsert", s.method("compute.regionInstances.bulkInsert", s.bulkInsert))
	mux.HandleFunc("GET "+p+"/aggregated/instances", s.method("compute.instances.aggregatedList", s.aggregatedInstances))
	mux.HandleFunc("GET "+p+"/zones/{zone}/instances", s.method("compute.instances.list", s.listInstances))
	mux.HandleFunc("GET "+p+"/zones/{zone}/instances/{name}", s.method("compute.instances.get", s.getInstance))
	mux.HandleFunc("DELETE "+p+"/zones/{zone}/instances/{name}", s.method("compute.instances.delete", s.deleteInstance))
	// Operations.
	mux.HandleFunc("GET "+p+"/regions/{region}/operations/{op}", s.method("compute.regionOperations.get", s.getOperation))
	mux.HandleFunc("POST "+p+"/regions/{region}/operations/{op}/wait", s.method("compute.regionOperations.wait", s.getOperation))
	mux.HandleFunc("GET "+p+"/zones/{zone}/operations/{op}", s.method("compute.zoneOperations.get", s.getOperation))
	mux.HandleFunc("POST "+p+"/zones/{zone}/operations/{op}/wait", s.method("compute.zoneOperations.wait", s.getOperation))
	mux.HandleFunc("GET "+p+"/global/operations/{op}", s.method("compute.globalOperations.get", s.getOperation))
	mux.HandleFunc("POST "+p+"/global/operations/{op}/wait", s.method("compute.globalOperations.wait", s.getOperation))
	// Project, regions, zones, machine and accelerator types, images.
	mux.HandleFunc("GET "+p, s.method("compute.projects.get", s.getProject))
	mux.HandleFunc("GET "+p+"/regions", s.method("compute.regions.list", s.listRegions))
	mux.HandleFunc("GET "+p+"/regions/{region}", s.method("compute.regions.get", s.getRegion))
	mux.HandleFunc("GET "+p+"/aggregated/machineTypes", s.method("compute.machineTypes.aggregatedList", s.aggregatedMachineTypes))
	mux.HandleFunc("GET "+p+"/aggregated/acceleratorTypes", s.method("compute.acceleratorTypes.aggregatedList", s.aggregatedAcceleratorTypes))
	mux.HandleFunc("GET "+p+"/global/images/family/{family}", s.method("compute.images.getFromFamily", s.getImageFromFamily))
	// Networks and firewalls.
	mux.HandleFunc("GET "+p+"/global/networks/{name}", s.method("compute.networks.get", s.getNetwork))
	mux.HandleFunc("POST "+p+"/global/firewalls", s.method("compute.firewalls.insert", s.insertFirewall))
	mux.HandleFunc("GET "+p+"/global/firewalls", s.method("compute.firewalls.list", s.listFirewalls))
	mux.HandleFunc("GET "+p+"/global/firewalls/{name}", s.method("compute.firewalls.get", s.getFirewall))
	mux.HandleFunc("PATCH "+p+"/global/firewalls/{name}", s.method("compute.firewalls.patch", s.patchFirewall))
	mux.HandleFunc("DELETE "+p+"/global/firewalls/{name}", s.method("compute.firewalls.delete", s.deleteFirewall))
	// Batches of calls (batch.go).
	mux.HandleFunc("POST "+BatchPath, s.batch)
	// Cloud Billing Catalog.
	mux.HandleFunc("GET /v1/services/{service}/skus", s.billing)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, errorf(http.StatusNotFound, "notFound", "the simulator does not serve %s %s", r.Method, r.URL.Path))
	})
	s.mux = mux
}

// Links.

func (s *Server) base() string {
	return "https://www.googleapis.com/compute/v1/projects/" + s.opts.Project
}

func (s *Server) zoneLink(zone string) string     { return s.base() + "/zones/" + zone }
func (s *Server) regionLink(region string) string { return s.base() + "/regions/" + region }

// lastSegment returns what follows the last "/" of a URL or partial URL.
func lastSegment(s string) string {
	if i := strings.LastIndexByte(s, '/'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// timestamp formats a time the way GCE does.
func timestamp(t time.Time) string { return t.Format("2006-01-02T15:04:05.000-07:00") }
