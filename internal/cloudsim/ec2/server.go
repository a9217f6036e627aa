// Package ec2 is the EC2 simulator: the EC2 Query API (form-encoded POST,
// XML responses, EC2's error document) over HTTP on the shared cloudsim
// model, good enough for the AWS SDK for Go v2 and the official aws CLI.
// The same handler also answers the two JSON APIs burst's AWS provider
// calls, the Price List API (pricing GetProducts) and Service Quotas
// (GetServiceQuota), told apart by their X-Amz-Target header, so one
// AWS_ENDPOINT_URL serves a whole test.
//
// What it models: default VPCs and subnets per region, security groups,
// key pairs, launch templates, images (Ubuntu and the NVIDIA deep learning
// base image), CreateFleet instant with on-demand lowest-price and spot
// price-capacity-optimized allocation, RunInstances, DescribeInstances with
// filters and pagination, TerminateInstances, ClientToken idempotency for
// CreateFleet and RunInstances (the same request answers as the first
// time; other parameters with a used token are IdempotentParameterMismatch),
// enabled and disabled regions, the instance type and spot
// price catalogs, per-family vCPU quotas, and EC2's request-rate and
// resource-rate token buckets (SetDocumentedThrottles). Requests must carry
// a SigV4 Authorization header; signatures are not verified.
package ec2

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/burstdev/burst/internal/cloudsim"
)

// XMLNS is the namespace of EC2 API version 2016-11-15.
const XMLNS = "http://ec2.amazonaws.com/doc/2016-11-15/"

// Service names in the model's request log.
const (
	ServiceEC2     = "ec2"
	ServicePricing = "pricing"
	ServiceQuotas  = "servicequotas"
)

// Server is the simulator's HTTP handler. Create it with New.
type Server struct {
	Model *cloudsim.Model
	// AccountID is the owner of everything created.
	AccountID string
	// AccessKeys, when set, are the only access key IDs accepted; others
	// fail with AuthFailure.
	AccessKeys []string

	mu     sync.Mutex
	fleets map[string]*Fleet
	// fleetTokens and runTokens remember, per region and ClientToken
	// (tokenKey), what CreateFleet and RunInstances answered and the
	// digest of what they were asked.
	fleetTokens map[string]fleetReply
	runTokens   map[string]runReply
	images      []Image
	noVPC       map[string]bool
	// disabled regions are not enabled for the account (opt-in regions
	// not opted in): DescribeRegions leaves them out, calls fail.
	disabled map[string]bool
	// after holds, per action, statuses to answer after the call took
	// effect (a lost response).
	after map[string][]int
	seq   int
}

// Fleet is a recorded EC2 Fleet.
type Fleet struct {
	ID, Region, Type, ClientToken string
	Tags                          map[string]string
	InstanceIDs                   []string
	// Overrides is how many overrides the request had.
	Overrides int
	// TargetCapacity and CapacityType are what it asked for.
	TargetCapacity int
	CapacityType   string
	Strategy       string
}

type fleetReply struct {
	body   []byte
	fleet  string
	digest string
}

type runReply struct {
	reservation string
	digest      string
}

// tokenKey scopes a ClientToken to its region, as EC2 does.
func tokenKey(region, token string) string { return region + "/" + token }

// idempotencyDigest is what a reused ClientToken must ask again: every
// parameter but the token itself and the protocol's own.
func idempotencyDigest(p *params) string {
	return p.digest("Action", "Version", "ClientToken", "DryRun")
}

// errParameterMismatch is EC2's answer to a ClientToken reused for a
// different request.
func errParameterMismatch(token string) *apiError {
	return &apiError{400, "IdempotentParameterMismatch", fmt.Sprintf(
		"The client token '%s' was used before with different parameters. Do not reuse a client token with different requests, unless the requests are identical.", token)}
}

// New returns a server on m with the default images.
func New(m *cloudsim.Model) *Server {
	s := &Server{
		Model: m, AccountID: "123456789012",
		fleets: map[string]*Fleet{}, fleetTokens: map[string]fleetReply{}, runTokens: map[string]runReply{},
		noVPC: map[string]bool{}, disabled: map[string]bool{}, after: map[string][]int{},
	}
	for r := range m.Regions() {
		s.images = append(s.images, defaultImages(r)...)
	}
	return s
}

// FailAfter makes the next call of action take effect and then answer with
// the HTTP status (500 InternalError or 503 RequestLimitExceeded), as when
// a response is lost: the client retries a call that already happened.
func (s *Server) FailAfter(action string, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.after[action] = append(s.after[action], status)
}

// RemoveDefaultVPC makes a region have no default VPC.
func (s *Server) RemoveDefaultVPC(region string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.noVPC[region] = true
}

// DisableRegion makes a region one the account has not enabled (an opt-in
// region not opted in): DescribeRegions lists it only with AllRegions, and
// every call to it fails with AuthFailure, as EC2 answers there.
func (s *Server) DisableRegion(region string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.disabled[region] = true
}

func (s *Server) regionDisabled(region string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.disabled[region]
}

// Fleets returns the fleets created, in no particular order.
func (s *Server) Fleets() []Fleet {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Fleet, 0, len(s.fleets))
	for _, f := range s.fleets {
		out = append(out, *f)
	}
	return out
}

func (s *Server) newID(prefix string) string {
	s.mu.Lock()
	s.seq++
	n := s.seq
	s.mu.Unlock()
	return fmt.Sprintf("%s-%017x", prefix, n)
}

func requestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// apiError is an error answer.
type apiError struct {
	status    int
	code, msg string
}

func (e *apiError) Error() string { return e.code + ": " + e.msg }

func errInvalid(format string, args ...any) *apiError {
	return &apiError{400, "InvalidParameterValue", fmt.Sprintf(format, args...)}
}

func errMissing(name string) *apiError {
	return &apiError{400, "MissingParameter", "The request must contain the parameter " + name}
}

var credRE = regexp.MustCompile(`Credential=([^/,\s]+)/[0-9]{8}/([a-z0-9-]+)/([a-z0-9-]+)/aws4_request`)

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	m := credRE.FindStringSubmatch(r.Header.Get("Authorization"))
	region := ""
	if m != nil {
		region = m[2]
	}
	if target := r.Header.Get("X-Amz-Target"); target != "" {
		s.serveJSON(w, r, target, region, m, body)
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		writeError(w, &apiError{400, "MalformedQueryString", err.Error()})
		return
	}
	for k, v := range r.URL.Query() {
		form[k] = v
	}
	action := form.Get("Action")
	call := s.Model.Begin(ServiceEC2, action, region)
	status, code, write := s.handle(r, call, action, region, m, parseParams(form))
	// Log before answering, so a client that got its answer finds the
	// call in the log.
	call.End(status, code)
	write(w)
}

// handle runs one EC2 call and returns the status and error code to log
// and the answer to write.
func (s *Server) handle(r *http.Request, call *cloudsim.Call, action, region string, cred []string, p *params) (int, string, func(http.ResponseWriter)) {
	fail := func(e *apiError) (int, string, func(http.ResponseWriter)) {
		return e.status, e.code, func(w http.ResponseWriter) { writeError(w, e) }
	}
	if cred == nil {
		return fail(&apiError{401, "AuthFailure", "AWS was not able to validate the provided access credentials"})
	}
	if len(s.AccessKeys) > 0 && !contains(s.AccessKeys, cred[1]) {
		return fail(&apiError{401, "AuthFailure", "AWS was not able to validate the provided access credentials"})
	}
	if _, ok := s.Model.Regions()[region]; !ok || s.regionDisabled(region) {
		return fail(&apiError{401, "AuthFailure", fmt.Sprintf("region %q is not enabled for this account", region)})
	}
	if f := call.Fault; f != nil {
		if f.Kind == cloudsim.KindTimeout {
			<-r.Context().Done()
			return 0, "Timeout", func(http.ResponseWriter) {}
		}
		// A capacity or quota fault on CreateFleet is reported the way EC2
		// reports it: inside the fleet's error set, not as a failed call.
		if action != "CreateFleet" || (f.Kind != cloudsim.KindCapacity && f.Kind != cloudsim.KindQuota) {
			return fail(faultError(f))
		}
	}
	if h, ok := handlers[action]; ok && h.bucket != "" {
		if !s.Model.Take(BucketName(region, h.bucket), 1) {
			return fail(&apiError{503, "RequestLimitExceeded", "Request limit exceeded."})
		}
	}
	h, ok := handlers[action]
	if !ok {
		return fail(&apiError{400, "InvalidAction", fmt.Sprintf("The action %s is not valid for this web service.", action)})
	}
	if aerr := checkTags(p); aerr != nil {
		return fail(aerr)
	}
	resp, aerr := h.fn(s, &request{region: region, params: p, fault: call.Fault})
	if aerr != nil {
		return fail(aerr)
	}
	s.mu.Lock()
	var after int
	if q := s.after[action]; len(q) > 0 {
		after, s.after[action] = q[0], q[1:]
	}
	s.mu.Unlock()
	switch after {
	case 0:
	case http.StatusServiceUnavailable:
		return fail(&apiError{503, "RequestLimitExceeded", "Request limit exceeded."})
	default:
		return fail(&apiError{after, "InternalError", "An internal error has occurred."})
	}
	return 200, "", func(w http.ResponseWriter) { writeXML(w, action, resp) }
}

// checkTags applies EC2's tag rules to a call's TagSpecification and Tag
// lists: keys of 1 to 128 characters not starting with "aws:", values of
// at most 256, at most 50 tags per resource.
func checkTags(p *params) *apiError {
	var lists [][]*params
	for _, ts := range p.list("TagSpecification") {
		lists = append(lists, ts.list("Tag"))
	}
	lists = append(lists, p.list("Tag"))
	for _, tags := range lists {
		if len(tags) > 50 {
			return &apiError{400, "TagLimitExceeded", "The maximum number of tags per resource is 50"}
		}
		for _, t := range tags {
			k, v := t.str("Key"), t.str("Value")
			if k == "" || utf8.RuneCountInString(k) > 128 || strings.HasPrefix(strings.ToLower(k), "aws:") {
				return errInvalid("Tag key '%s' must be 1 to 128 characters and must not start with aws:", k)
			}
			if utf8.RuneCountInString(v) > 256 {
				return errInvalid("Tag value of '%s' is longer than 256 characters", k)
			}
		}
	}
	return nil
}

// request is one parsed EC2 call.
type request struct {
	region string
	params *params
	fault  *cloudsim.Fault
}

type handler struct {
	// bucket is the request-rate bucket family (BucketDescribe,
	// BucketMutate).
	bucket string
	fn     func(*Server, *request) (any, *apiError)
}

var handlers map[string]handler

func init() {
	handlers = map[string]handler{
		"DescribeAvailabilityZones":      {BucketDescribe, (*Server).describeAvailabilityZones},
		"DescribeRegions":                {BucketDescribe, (*Server).describeRegions},
		"DescribeVpcs":                   {BucketDescribe, (*Server).describeVpcs},
		"DescribeSubnets":                {BucketDescribe, (*Server).describeSubnets},
		"DescribeSecurityGroups":         {BucketDescribe, (*Server).describeSecurityGroups},
		"CreateSecurityGroup":            {BucketMutate, (*Server).createSecurityGroup},
		"AuthorizeSecurityGroupIngress":  {BucketMutate, (*Server).authorizeIngress},
		"DeleteSecurityGroup":            {BucketMutate, (*Server).deleteSecurityGroup},
		"CreateKeyPair":                  {BucketMutate, (*Server).createKeyPair},
		"DescribeKeyPairs":               {BucketDescribe, (*Server).describeKeyPairs},
		"DeleteKeyPair":                  {BucketMutate, (*Server).deleteKeyPair},
		"DescribeImages":                 {BucketDescribe, (*Server).describeImages},
		"CreateLaunchTemplate":           {BucketMutate, (*Server).createLaunchTemplate},
		"DescribeLaunchTemplates":        {BucketDescribe, (*Server).describeLaunchTemplates},
		"DeleteLaunchTemplate":           {BucketMutate, (*Server).deleteLaunchTemplate},
		"CreateFleet":                    {BucketMutate, (*Server).createFleet},
		"RunInstances":                   {BucketRunInstances, (*Server).runInstances},
		"DescribeInstances":              {BucketDescribe, (*Server).describeInstances},
		"TerminateInstances":             {BucketMutate, (*Server).terminateInstances},
		"DescribeInstanceTypes":          {BucketDescribe, (*Server).describeInstanceTypes},
		"DescribeInstanceTypeOfferings":  {BucketDescribe, (*Server).describeInstanceTypeOfferings},
		"DescribeSpotPriceHistory":       {BucketDescribe, (*Server).describeSpotPriceHistory},
		"CreateTags":                     {BucketMutate, (*Server).createTags},
		"DescribeAccountAttributes":      {BucketDescribe, (*Server).describeAccountAttributes},
		"DescribeInstanceAttribute":      {BucketDescribe, (*Server).describeInstanceAttribute},
		"DescribeLaunchTemplateVersions": {BucketDescribe, (*Server).describeLaunchTemplateVersions},
	}
}

// faultError is the EC2 error an injected fault answers with.
func faultError(f *cloudsim.Fault) *apiError {
	e := &apiError{500, "InternalError", "An internal error has occurred."}
	switch f.Kind {
	case cloudsim.KindCapacity:
		e = &apiError{500, "InsufficientInstanceCapacity", "We currently do not have sufficient capacity in the Availability Zone you requested."}
	case cloudsim.KindQuota:
		e = &apiError{400, "VcpuLimitExceeded", "You have requested more vCPU capacity than your current vCPU limit allows."}
	case cloudsim.KindThrottle:
		e = &apiError{503, "RequestLimitExceeded", "Request limit exceeded."}
	case cloudsim.KindAuth:
		e = &apiError{403, "UnauthorizedOperation", "You are not authorized to perform this operation."}
	case cloudsim.KindInvalid:
		e = &apiError{400, "InvalidParameterValue", "Invalid parameter value."}
	case cloudsim.KindNotFound:
		e = &apiError{400, "InvalidInstanceID.NotFound", "The instance ID does not exist."}
	}
	if f.Code != "" {
		e.code = f.Code
	}
	if f.Message != "" {
		e.msg = f.Message
	}
	return e
}

// modelError maps a model error to EC2's code for it.
func modelError(err error, capacity string) *apiError {
	var me *cloudsim.Error
	if !errors.As(err, &me) {
		return &apiError{500, "InternalError", err.Error()}
	}
	switch me.Kind {
	case cloudsim.KindCapacity:
		return &apiError{500, "InsufficientInstanceCapacity", me.Message}
	case cloudsim.KindQuota:
		if capacity == cloudsim.Spot {
			return &apiError{400, "MaxSpotInstanceCountExceeded", quotaMessage(me)}
		}
		return &apiError{400, "VcpuLimitExceeded", quotaMessage(me)}
	case cloudsim.KindInvalid:
		return &apiError{400, "InvalidParameterValue", me.Message}
	}
	return &apiError{500, "InternalError", me.Message}
}

func quotaMessage(me *cloudsim.Error) string {
	return fmt.Sprintf("You have requested more vCPU capacity than your current vCPU limit of %g allows for the instance bucket that the specified instance type belongs to (quota %s, %g vCPUs in use, %g more requested). Please visit http://aws.amazon.com/contact-us/ec2-request to request an adjustment to this limit.",
		me.Limit, me.Quota.Name, me.Usage, me.Needed)
}

type xmlErrorDoc struct {
	XMLName   xml.Name `xml:"Response"`
	Code      string   `xml:"Errors>Error>Code"`
	Message   string   `xml:"Errors>Error>Message"`
	RequestID string   `xml:"RequestID"`
}

func writeError(w http.ResponseWriter, e *apiError) {
	b, _ := xml.Marshal(xmlErrorDoc{Code: e.code, Message: e.msg, RequestID: requestID()})
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	w.WriteHeader(e.status)
	_, _ = w.Write(append([]byte(xml.Header), b...))
}

// writeXML writes resp, a struct whose fields carry EC2's element names,
// inside <{Action}Response xmlns=...>.
func writeXML(w http.ResponseWriter, action string, resp any) {
	var buf bytes.Buffer
	buf.WriteString(xml.Header)
	if raw, ok := resp.(rawXML); ok {
		buf.Write(raw)
	} else {
		fmt.Fprintf(&buf, "<%sResponse xmlns=%q><requestId>%s</requestId>", action, XMLNS, requestID())
		if resp != nil {
			b, err := xml.Marshal(resp)
			if err != nil {
				writeError(w, &apiError{500, "InternalError", err.Error()})
				return
			}
			// resp marshals as <x>...</x>; keep only its children.
			inner := b[bytes.IndexByte(b, '>')+1 : bytes.LastIndexByte(b, '<')]
			buf.Write(inner)
		}
		fmt.Fprintf(&buf, "</%sResponse>", action)
	}
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(200)
	_, _ = w.Write(buf.Bytes())
}

// rawXML is a complete response document, replayed as is.
type rawXML []byte

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// tagSet is EC2's <tagSet><item><key/><value/></item></tagSet>.
type tagSet struct {
	Items []tagItem `xml:"item"`
}

type tagItem struct {
	Key   string `xml:"key"`
	Value string `xml:"value"`
}

func toTagSet(tags map[string]string) *tagSet {
	if len(tags) == 0 {
		return nil
	}
	ts := &tagSet{}
	for _, k := range sortedKeys(tags) {
		ts.Items = append(ts.Items, tagItem{k, tags[k]})
	}
	return ts
}
