package provider

import (
	"errors"
	"fmt"
)

// Error kinds. Providers wrap SDK errors so that errors.Is(err, ErrX) holds;
// callers decide what to do by kind, never by SDK type or message.
var (
	// ErrNoCapacity: the cloud has no machines of this type here right now
	// (EC2 InsufficientInstanceCapacity, GCE ZONE_RESOURCE_POOL_EXHAUSTED,
	// Azure AllocationFailed). Try another offering.
	ErrNoCapacity = errors.New("no capacity")
	// ErrQuota: an account limit stops the launch (EC2 VcpuLimitExceeded,
	// GCE QUOTA_EXCEEDED, Azure OperationNotAllowed). Another region or
	// provider may work; this one will not until the quota is raised.
	ErrQuota = errors.New("quota exceeded")
	// ErrThrottled: the API rate limit was hit and retries ran out.
	ErrThrottled = errors.New("throttled")
	// ErrAuth: credentials are missing, expired or lack a permission.
	ErrAuth = errors.New("not authorized")
	// ErrInvalid: the cloud rejected the request as malformed.
	ErrInvalid = errors.New("invalid request")
	// ErrNotFound: the thing asked about does not exist.
	ErrNotFound = errors.New("not found")
	// ErrMissing: something this machine needs is not installed (the local
	// provider's Dask). The message names what to install.
	ErrMissing = errors.New("missing dependency")
)

// Scope is how far a failure reaches, which sets how far failover widens.
type Scope int

// Scopes, narrowest first.
const (
	ScopeOffering Scope = iota // this type in this zone
	ScopeZone                  // the whole zone
	ScopeRegion                // the whole region (regional quota)
	ScopeProvider              // the whole cloud (auth, global quota)
)

// Error is a classified provider error.
type Error struct {
	Kind  error  // one of the Err* kinds
	Scope Scope  // how far it reaches
	Op    string // the API call, e.g. "CreateFleet"
	Code  string // the cloud's error code, e.g. "InsufficientInstanceCapacity"
	Msg   string // the cloud's message, or burst's
	Err   error  // the underlying error, if any
}

func (e *Error) Error() string {
	s := e.Kind.Error()
	if e.Op != "" {
		s = e.Op + ": " + s
	}
	if e.Code != "" {
		s += " (" + e.Code + ")"
	}
	if e.Msg != "" {
		s += ": " + e.Msg
	}
	return s
}

// Is matches the error's kind.
func (e *Error) Is(target error) bool { return target == e.Kind }

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// Errorf builds an *Error of a kind with a formatted message.
func Errorf(kind error, scope Scope, format string, args ...any) *Error {
	return &Error{Kind: kind, Scope: scope, Msg: fmt.Sprintf(format, args...)}
}

// KindOf returns the kind of err, or nil if it has none.
func KindOf(err error) error {
	for _, k := range []error{ErrNoCapacity, ErrQuota, ErrThrottled, ErrAuth, ErrInvalid, ErrNotFound, ErrMissing} {
		if errors.Is(err, k) {
			return k
		}
	}
	return nil
}

// ScopeOf returns the scope of err: the *Error's if it has one, else a
// default by kind.
func ScopeOf(err error) Scope {
	var e *Error
	if errors.As(err, &e) {
		return e.Scope
	}
	switch k := KindOf(err); {
	case errors.Is(k, ErrQuota):
		return ScopeRegion
	case errors.Is(k, ErrAuth):
		return ScopeProvider
	}
	return ScopeOffering
}

// Retryable reports whether trying another offering could help: capacity
// and quota errors can; auth and invalid requests cannot.
func Retryable(err error) bool {
	k := KindOf(err)
	return errors.Is(k, ErrNoCapacity) || errors.Is(k, ErrQuota) || errors.Is(k, ErrThrottled)
}
