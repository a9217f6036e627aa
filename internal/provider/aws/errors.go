package aws

import (
	"context"
	"errors"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go"

	"github.com/burstdev/burst/internal/provider"
)

// codeKind maps an AWS error code to burst's kind and scope. It is the one
// table of EC2 (and Pricing, Service Quotas) error codes; docs/design/aws.md
// repeats it.
type codeKind struct {
	kind  error
	scope provider.Scope
}

var capacityCodes = map[string]bool{
	"InsufficientInstanceCapacity":         true,
	"InsufficientCapacity":                 true,
	"InsufficientHostCapacity":             true,
	"InsufficientReservedInstanceCapacity": true,
	"InsufficientCapacityOnOutpost":        true,
	"UnfulfillableCapacity":                true,
	"InsufficientFreeAddressesInSubnet":    true,
	"SpotMaxPriceTooLow":                   true,
	"Unsupported":                          true,
}

var errorCodes = map[string]codeKind{
	// Capacity: this pool is dry; another type or zone may not be.
	"InsufficientInstanceCapacity":         {provider.ErrNoCapacity, provider.ScopeOffering},
	"InsufficientCapacity":                 {provider.ErrNoCapacity, provider.ScopeOffering},
	"InsufficientHostCapacity":             {provider.ErrNoCapacity, provider.ScopeOffering},
	"InsufficientReservedInstanceCapacity": {provider.ErrNoCapacity, provider.ScopeOffering},
	"InsufficientCapacityOnOutpost":        {provider.ErrNoCapacity, provider.ScopeOffering},
	"UnfulfillableCapacity":                {provider.ErrNoCapacity, provider.ScopeOffering},
	"SpotMaxPriceTooLow":                   {provider.ErrNoCapacity, provider.ScopeOffering},
	// Unsupported: the type is not offered in that zone.
	"Unsupported": {provider.ErrNoCapacity, provider.ScopeOffering},
	// A full subnet blocks every type in its zone.
	"InsufficientFreeAddressesInSubnet": {provider.ErrNoCapacity, provider.ScopeZone},

	// Quota: account limits are per region.
	"VcpuLimitExceeded":                  {provider.ErrQuota, provider.ScopeRegion},
	"MaxSpotInstanceCountExceeded":       {provider.ErrQuota, provider.ScopeRegion},
	"InstanceLimitExceeded":              {provider.ErrQuota, provider.ScopeRegion},
	"MaxFleetCountExceeded":              {provider.ErrQuota, provider.ScopeRegion},
	"FleetLimitExceeded":                 {provider.ErrQuota, provider.ScopeRegion},
	"TargetCapacityLimitExceeded":        {provider.ErrQuota, provider.ScopeRegion},
	"SecurityGroupLimitExceeded":         {provider.ErrQuota, provider.ScopeRegion},
	"RulesPerSecurityGroupLimitExceeded": {provider.ErrQuota, provider.ScopeRegion},
	"ResourceLimitExceeded":              {provider.ErrQuota, provider.ScopeRegion},
	"LaunchTemplateLimitExceeded":        {provider.ErrQuota, provider.ScopeRegion},
	"KeyPairLimitExceeded":               {provider.ErrQuota, provider.ScopeRegion},
	"VolumeLimitExceeded":                {provider.ErrQuota, provider.ScopeRegion},
	"MaxIOPSLimitExceeded":               {provider.ErrQuota, provider.ScopeRegion},
	"AddressLimitExceeded":               {provider.ErrQuota, provider.ScopeRegion},
	"ServiceQuotaExceededException":      {provider.ErrQuota, provider.ScopeRegion},

	// Throttling, once the retryer gave up.
	"RequestLimitExceeded":     {provider.ErrThrottled, provider.ScopeRegion},
	"Throttling":               {provider.ErrThrottled, provider.ScopeRegion},
	"ThrottlingException":      {provider.ErrThrottled, provider.ScopeRegion},
	"TooManyRequestsException": {provider.ErrThrottled, provider.ScopeRegion},
	"RequestThrottled":         {provider.ErrThrottled, provider.ScopeRegion},

	// Credentials and permissions.
	"AuthFailure":                 {provider.ErrAuth, provider.ScopeProvider},
	"UnauthorizedOperation":       {provider.ErrAuth, provider.ScopeProvider},
	"Blocked":                     {provider.ErrAuth, provider.ScopeProvider},
	"PendingVerification":         {provider.ErrAuth, provider.ScopeProvider},
	"InvalidClientTokenId":        {provider.ErrAuth, provider.ScopeProvider},
	"SignatureDoesNotMatch":       {provider.ErrAuth, provider.ScopeProvider},
	"ExpiredToken":                {provider.ErrAuth, provider.ScopeProvider},
	"RequestExpired":              {provider.ErrAuth, provider.ScopeProvider},
	"AccessDenied":                {provider.ErrAuth, provider.ScopeProvider},
	"AccessDeniedException":       {provider.ErrAuth, provider.ScopeProvider},
	"UnrecognizedClientException": {provider.ErrAuth, provider.ScopeProvider},
	"OptInRequired":               {provider.ErrAuth, provider.ScopeRegion},

	// Malformed requests.
	"InvalidParameterValue":              {provider.ErrInvalid, provider.ScopeOffering},
	"InvalidParameter":                   {provider.ErrInvalid, provider.ScopeOffering},
	"InvalidParameterCombination":        {provider.ErrInvalid, provider.ScopeOffering},
	"MissingParameter":                   {provider.ErrInvalid, provider.ScopeOffering},
	"InvalidFleetConfiguration":          {provider.ErrInvalid, provider.ScopeOffering},
	"InvalidLaunchTemplateConfiguration": {provider.ErrInvalid, provider.ScopeOffering},
	"IdempotentParameterMismatch":        {provider.ErrInvalid, provider.ScopeOffering},
	"InvalidUserData.Malformed":          {provider.ErrInvalid, provider.ScopeOffering},
	"InvalidAMIID.Malformed":             {provider.ErrInvalid, provider.ScopeOffering},
	"InvalidInstanceID.Malformed":        {provider.ErrInvalid, provider.ScopeOffering},
	"ValidationError":                    {provider.ErrInvalid, provider.ScopeOffering},
	"ValidationException":                {provider.ErrInvalid, provider.ScopeOffering},
	"InvalidParameterException":          {provider.ErrInvalid, provider.ScopeOffering},
	"DryRunOperation":                    {provider.ErrInvalid, provider.ScopeOffering},
	"InvalidAction":                      {provider.ErrInvalid, provider.ScopeProvider},
	"UnsupportedOperation":               {provider.ErrInvalid, provider.ScopeOffering},
	"InvalidInstanceType":                {provider.ErrInvalid, provider.ScopeOffering},
}

// apiCode returns the AWS error code in err, or "".
func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// classify wraps an SDK error as a *provider.Error of the right kind. An
// error it does not recognise keeps no kind (the CLI reports it as exit 1).
func classify(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var pe *provider.Error
	if errors.As(err, &pe) {
		return err
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return codeError(op, ae.ErrorCode(), ae.ErrorMessage(), err)
	}
	msg := err.Error()
	if strings.Contains(msg, "retrieve credentials") || strings.Contains(msg, "failed to refresh cached credentials") {
		return &provider.Error{Kind: provider.ErrAuth, Scope: provider.ScopeProvider, Op: op, Msg: msg, Err: err}
	}
	var me *retry.MaxAttemptsError
	if errors.As(err, &me) {
		return &provider.Error{Kind: provider.ErrThrottled, Scope: provider.ScopeRegion, Op: op, Msg: msg, Err: err}
	}
	return err
}

// codeError builds the kinded error of an AWS error code.
func codeError(op, code, msg string, err error) error {
	ck, ok := errorCodes[code]
	if !ok {
		switch {
		case strings.HasSuffix(code, ".NotFound") || strings.HasSuffix(code, "NotFoundException") || code == "NoSuchResourceException":
			ck = codeKind{provider.ErrNotFound, provider.ScopeOffering}
		case strings.HasPrefix(code, "Invalid"):
			ck = codeKind{provider.ErrInvalid, provider.ScopeOffering}
		default:
			if err == nil {
				err = errors.New(code + ": " + msg)
			}
			return &provider.Error{Op: op, Code: code, Msg: msg, Err: err, Kind: errUnknown}
		}
	}
	return &provider.Error{Kind: ck.kind, Scope: ck.scope, Op: op, Code: code, Msg: msg, Err: err}
}

// errUnknown is the kind of an AWS error burst does not classify (an
// internal error that outlived the retries). It matches none of provider's
// kinds, so callers treat it as a plain failure.
var errUnknown = errors.New("aws error")
