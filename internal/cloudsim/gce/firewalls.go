package gce

import (
	"net"
	"net/http"
	"strings"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"

	"github.com/burstdev/burst/internal/cloudsim"
)

// KindFirewall is the model resource kind of firewall rules.
const KindFirewall = "firewall"

// descriptionTags reads "key=value" words of a description as tags. GCE
// firewall rules carry no labels, so burst writes its tags into the
// description; the simulator indexes them so Model.Leaks finds rules left
// behind.
func descriptionTags(desc string) map[string]string {
	out := map[string]string{}
	for _, w := range strings.Fields(desc) {
		if k, v, ok := strings.Cut(w, "="); ok && k != "" {
			out[k] = v
		}
	}
	return out
}

func validFirewall(fw *computepb.Firewall) *apiError {
	if !nameRE.MatchString(fw.GetName()) {
		return invalid("Invalid value for field 'resource.name': '%s'. Must be a match of regex '(?:[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?)'", fw.GetName())
	}
	if len(fw.GetDescription()) > 2048 {
		return invalid("Invalid value for field 'resource.description': must be at most 2048 characters")
	}
	if len(fw.GetAllowed()) == 0 && len(fw.GetDenied()) == 0 {
		return invalid("Invalid value for field 'resource.allowed': a rule needs allowed or denied entries")
	}
	// One rule holds IPv4 or IPv6 source ranges, not both.
	families := map[bool]bool{}
	for _, cidr := range fw.GetSourceRanges() {
		ip, _, err := net.ParseCIDR(cidr)
		if err != nil {
			ip = net.ParseIP(cidr)
		}
		if ip == nil {
			return invalid("Invalid value for field 'resource.sourceRanges': '%s'. Must be a CIDR address range.", cidr)
		}
		families[ip.To4() != nil] = true
	}
	if len(families) > 1 {
		return invalid("Invalid value for field 'resource.sourceRanges': %v. IPv4 and IPv6 ranges cannot be mixed in one firewall rule.", fw.GetSourceRanges())
	}
	if d := fw.GetDirection(); d != "" && d != "INGRESS" && d != "EGRESS" {
		return invalid("Invalid value for field 'resource.direction': '%s'", d)
	}
	return nil
}

func (s *Server) insertFirewall(r *http.Request) (proto.Message, *apiError) {
	fw := &computepb.Firewall{}
	if e := readBody(r, fw); e != nil {
		return nil, e
	}
	requestID := r.URL.Query().Get("requestId")
	if e := validRequestID(requestID); e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if opName, ok := s.requests[requestID]; ok && requestID != "" {
		o := s.ops[opName]
		s.advanceOp(o)
		return proto.Clone(o.proto), nil
	}
	if e := validFirewall(fw); e != nil {
		return nil, e
	}
	network := lastSegment(or(fw.GetNetwork(), "default"))
	if !s.networks[network] {
		return nil, invalid("Invalid value for field 'resource.network': '%s'. The referenced network resource cannot be found.", fw.GetNetwork())
	}
	if _, ok := s.m.Resource(KindFirewall, fw.GetName()); ok {
		return nil, errorf(http.StatusConflict, "alreadyExists", "The resource 'projects/%s/global/firewalls/%s' already exists", s.opts.Project, fw.GetName())
	}
	link := s.base() + "/global/firewalls/" + fw.GetName()
	s.seq++
	fw.Id = proto.Uint64(s.seq)
	fw.Kind = proto.String("compute#firewall")
	fw.SelfLink = proto.String(link)
	fw.Network = proto.String(s.base() + "/global/networks/" + network)
	fw.CreationTimestamp = proto.String(timestamp(s.m.Now()))
	if fw.Direction == nil {
		fw.Direction = proto.String("INGRESS")
	}
	if fw.Priority == nil {
		fw.Priority = proto.Int32(1000)
	}
	op := s.newOperation("insert", "global", "", link, requestID)
	op.fault = s.m.TakeFault(Service, "compute.firewalls.insert"+OperationSuffix)
	name := fw.GetName()
	if op.fault == nil {
		s.m.PutResource(cloudsim.Resource{Kind: KindFirewall, ID: name, Name: name, Tags: descriptionTags(fw.GetDescription()), Data: fw})
	}
	resp := proto.Clone(op.proto).(*computepb.Operation)
	s.advanceOp(op)
	return resp, nil
}

func (s *Server) firewall(name string) (*computepb.Firewall, bool) {
	res, ok := s.m.Resource(KindFirewall, name)
	if !ok {
		return nil, false
	}
	return proto.Clone(res.Data.(*computepb.Firewall)).(*computepb.Firewall), true
}

func (s *Server) getFirewall(r *http.Request) (proto.Message, *apiError) {
	fw, ok := s.firewall(r.PathValue("name"))
	if !ok {
		return nil, notFound("projects/" + s.opts.Project + "/global/firewalls/" + r.PathValue("name"))
	}
	return fw, nil
}

func (s *Server) listFirewalls(r *http.Request) (proto.Message, *apiError) {
	f, err := parseFilter(r.URL.Query().Get("filter"))
	if err != nil {
		return nil, invalid("Invalid value for field 'filter': %v", err)
	}
	var all []*computepb.Firewall
	for _, res := range s.m.Resources(KindFirewall, nil) {
		fw := res.Data.(*computepb.Firewall)
		ok, err := f.match(map[string]string{"name": fw.GetName(), "network": lastSegment(fw.GetNetwork()), "description": fw.GetDescription()})
		if err != nil {
			return nil, invalid("Invalid value for field 'filter': %v", err)
		}
		if ok {
			all = append(all, proto.Clone(fw).(*computepb.Firewall))
		}
	}
	items, next, e := page(r, all)
	if e != nil {
		return nil, e
	}
	out := &computepb.FirewallList{Kind: proto.String("compute#firewallList"), Items: items}
	if next != "" {
		out.NextPageToken = proto.String(next)
	}
	return out, nil
}

func (s *Server) patchFirewall(r *http.Request) (proto.Message, *apiError) {
	patch := &computepb.Firewall{}
	if e := readBody(r, patch); e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	name := r.PathValue("name")
	fw, ok := s.firewall(name)
	if !ok {
		return nil, notFound("projects/" + s.opts.Project + "/global/firewalls/" + name)
	}
	if s.busy(fw.GetSelfLink()) {
		return nil, errorf(http.StatusBadRequest, "resourceNotReady", "The resource 'projects/%s/global/firewalls/%s' is not ready", s.opts.Project, name)
	}
	// PATCH semantics: the fields the body sets replace the rule's.
	if patch.SourceRanges != nil {
		fw.SourceRanges = patch.SourceRanges
	}
	if patch.Allowed != nil {
		fw.Allowed = patch.Allowed
	}
	if patch.TargetTags != nil {
		fw.TargetTags = patch.TargetTags
	}
	if patch.SourceTags != nil {
		fw.SourceTags = patch.SourceTags
	}
	if patch.Description != nil {
		fw.Description = patch.Description
	}
	if e := validFirewall(fw); e != nil {
		return nil, e
	}
	s.m.PutResource(cloudsim.Resource{Kind: KindFirewall, ID: name, Name: name, Tags: descriptionTags(fw.GetDescription()), Data: fw})
	op := s.newOperation("patch", "global", "", fw.GetSelfLink(), r.URL.Query().Get("requestId"))
	resp := proto.Clone(op.proto).(*computepb.Operation)
	s.advanceOp(op)
	return resp, nil
}

func (s *Server) deleteFirewall(r *http.Request) (proto.Message, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	name := r.PathValue("name")
	requestID := r.URL.Query().Get("requestId")
	if e := validRequestID(requestID); e != nil {
		return nil, e
	}
	if opName, ok := s.requests[requestID]; ok && requestID != "" {
		o := s.ops[opName]
		s.advanceOp(o)
		return proto.Clone(o.proto), nil
	}
	link := s.base() + "/global/firewalls/" + name
	if _, ok := s.m.Resource(KindFirewall, name); !ok {
		return nil, notFound("projects/" + s.opts.Project + "/global/firewalls/" + name)
	}
	if s.busy(link) {
		return nil, errorf(http.StatusBadRequest, "resourceNotReady", "The resource 'projects/%s/global/firewalls/%s' is not ready", s.opts.Project, name)
	}
	op := s.newOperation("delete", "global", "", link, requestID)
	op.fault = s.m.TakeFault(Service, "compute.firewalls.delete"+OperationSuffix)
	if op.fault == nil {
		s.m.DeleteResource(KindFirewall, name)
	}
	resp := proto.Clone(op.proto).(*computepb.Operation)
	s.advanceOp(op)
	return resp, nil
}

// busy reports whether an operation on the resource at link is still
// running: GCE refuses to change or delete a resource then, with 400
// resourceNotReady. The caller holds s.mu.
func (s *Server) busy(link string) bool {
	for _, o := range s.ops {
		s.advanceOp(o)
		if !o.done && o.proto.GetTargetLink() == link {
			return true
		}
	}
	return false
}

// Firewall returns a firewall rule, for tests.
func (s *Server) Firewall(name string) (*computepb.Firewall, bool) { return s.firewall(name) }
