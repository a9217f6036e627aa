package gce

import (
	"fmt"
	"net/http"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"

	"github.com/burstdev/burst/internal/cloudsim"
)

// operation is a long-running operation and what happens when it ends.
type operation struct {
	proto  *computepb.Operation
	doneAt time.Time
	// fault, when set, fails the operation when it ends.
	fault *cloudsim.Fault
	// finish runs once when the operation ends; with a fault it undoes
	// the work (a bulk insert rolls back its machines).
	finish func(failed bool)
	bulk   bool
	done   bool
}

// newOperation registers an operation in a scope ("zone", "region" or
// "global") and returns it. The caller holds s.mu.
func (s *Server) newOperation(kind, scope, scopeName, target string, requestID string) *operation {
	s.seq++
	now := s.m.Now()
	name := fmt.Sprintf("operation-%d-%013x", now.UnixMilli(), s.seq%0x10000000000000)
	op := &computepb.Operation{
		Kind:          proto.String("compute#operation"),
		Id:            proto.Uint64(s.seq),
		Name:          proto.String(name),
		OperationType: proto.String(kind),
		TargetLink:    proto.String(target),
		Status:        computepb.Operation_RUNNING.Enum(),
		Progress:      proto.Int32(0),
		InsertTime:    proto.String(timestamp(now)),
		StartTime:     proto.String(timestamp(now)),
		User:          proto.String("burst@" + s.opts.Project + ".iam.gserviceaccount.com"),
	}
	if requestID != "" {
		op.ClientOperationId = proto.String(requestID)
	}
	switch scope {
	case "zone":
		op.Zone = proto.String(s.zoneLink(scopeName))
		op.SelfLink = proto.String(s.zoneLink(scopeName) + "/operations/" + name)
	case "region":
		op.Region = proto.String(s.regionLink(scopeName))
		op.SelfLink = proto.String(s.regionLink(scopeName) + "/operations/" + name)
	default:
		op.SelfLink = proto.String(s.base() + "/global/operations/" + name)
	}
	o := &operation{proto: op, doneAt: now.Add(s.opts.OperationDelay)}
	s.ops[name] = o
	if requestID != "" {
		s.requests[requestID] = name
	}
	return o
}

// advanceOp ends the operation if its time has come. The caller holds s.mu.
func (s *Server) advanceOp(o *operation) {
	if o.done || s.m.Now().Before(o.doneAt) {
		return
	}
	o.done = true
	if o.bulk {
		s.bulkLive--
	}
	failed := o.fault != nil
	if o.finish != nil {
		o.finish(failed)
	}
	o.proto.Status = computepb.Operation_DONE.Enum()
	o.proto.Progress = proto.Int32(100)
	o.proto.EndTime = proto.String(timestamp(s.m.Now()))
	if failed {
		code, status, text := operationCode(o.fault.Kind)
		if o.fault.Code != "" {
			code = o.fault.Code
		}
		msg := o.fault.Message
		if msg == "" {
			msg = fmt.Sprintf("The operation failed: %s", code)
		}
		o.proto.HttpErrorStatusCode = proto.Int32(int32(status))
		o.proto.HttpErrorMessage = proto.String(text)
		o.proto.Error = &computepb.Error{Errors: []*computepb.Errors{{Code: proto.String(code), Message: proto.String(msg)}}}
	}
}

// failOp makes an operation end with an error it already knows (a bulk
// insert that could not create enough machines). The caller holds s.mu.
func failOp(o *operation, code string, status int, msg string, details ...*computepb.ErrorDetails) {
	o.proto.HttpErrorStatusCode = proto.Int32(int32(status))
	o.proto.HttpErrorMessage = proto.String(http.StatusText(status))
	o.proto.Error = &computepb.Error{Errors: []*computepb.Errors{{Code: proto.String(code), Message: proto.String(msg), ErrorDetails: details}}}
}

// operationCode is the operation error code, HTTP status and status text
// an operation fails with for a model failure kind.
func operationCode(k cloudsim.Kind) (code string, status int, text string) {
	switch k {
	case cloudsim.KindCapacity:
		return "ZONE_RESOURCE_POOL_EXHAUSTED", http.StatusServiceUnavailable, "SERVICE UNAVAILABLE"
	case cloudsim.KindQuota:
		return "QUOTA_EXCEEDED", http.StatusForbidden, "FORBIDDEN"
	case cloudsim.KindThrottle:
		return "RATE_LIMIT_EXCEEDED", http.StatusForbidden, "FORBIDDEN"
	case cloudsim.KindAuth:
		return "PERMISSIONS_ERROR", http.StatusForbidden, "FORBIDDEN"
	case cloudsim.KindInvalid:
		return "INVALID_USAGE", http.StatusBadRequest, "BAD REQUEST"
	case cloudsim.KindNotFound:
		return "RESOURCE_NOT_FOUND", http.StatusNotFound, "NOT FOUND"
	}
	return "INTERNAL_ERROR", http.StatusInternalServerError, "INTERNAL SERVER ERROR"
}

// getOperation serves get and wait for zone, region and global operations.
// A wait returns at once with the operation's current state, as GCE's may.
func (s *Server) getOperation(r *http.Request) (proto.Message, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.ops[r.PathValue("op")]
	if !ok {
		return nil, notFound(r.URL.Path)
	}
	if z := r.PathValue("zone"); z != "" && o.proto.GetZone() != s.zoneLink(z) ||
		r.PathValue("region") != "" && o.proto.GetRegion() != s.regionLink(r.PathValue("region")) {
		return nil, notFound(r.URL.Path)
	}
	s.advanceOp(o)
	return proto.Clone(o.proto), nil
}

// Operations returns copies of every operation, for tests.
func (s *Server) Operations() []*computepb.Operation {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*computepb.Operation
	for _, o := range s.ops {
		out = append(out, proto.Clone(o.proto).(*computepb.Operation))
	}
	return out
}
