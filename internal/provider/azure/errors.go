package azure

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"

	"github.com/burstdev/burst/internal/provider"
)

// Azure error codes burst classifies. The table in docs/design/azure.md
// lists them with the kind and scope each maps to.
var (
	capacityCodes = map[string]bool{
		"SkuNotAvailable":                       true,
		"AllocationFailed":                      true,
		"ZonalAllocationFailed":                 true,
		"OverconstrainedAllocationRequest":      true,
		"OverconstrainedZonalAllocationRequest": true,
		"AllocationFailedVmSizeNotAvailable":    true,
	}
	authCodes = map[string]bool{
		"AuthorizationFailed":              true,
		"LinkedAuthorizationFailed":        true,
		"AuthenticationFailed":             true,
		"InvalidAuthenticationToken":       true,
		"InvalidAuthenticationTokenTenant": true,
		"ExpiredAuthenticationToken":       true,
		"SubscriptionNotFound":             true,
		"InvalidSubscriptionId":            true,
		"MissingSubscriptionRegistration":  true,
		"RequestDisallowedByPolicy":        true,
	}
	notFoundCodes = map[string]bool{
		"ResourceNotFound":       true,
		"ResourceGroupNotFound":  true,
		"NotFound":               true,
		"ParentResourceNotFound": true,
	}
)

var (
	quotaName     = regexp.MustCompile(`exceeding approved (.+?) quota`)
	quotaLocation = regexp.MustCompile(`Location: ([A-Za-z0-9]+)`)
	quotaLimit    = regexp.MustCompile(`Current Limit: ([0-9.]+)`)
	quotaUsage    = regexp.MustCompile(`Current Usage: ([0-9.]+)`)
	quotaNeed     = regexp.MustCompile(`Additional Required: ([0-9.]+)`)
)

// classify turns an SDK error into a kinded *provider.Error. op names the
// API call. Errors of no kind (a transport failure, an unexpected 5xx after
// the SDK's retries) are wrapped as they are.
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
	var ce *credentialError
	if errors.As(err, &ce) {
		return &provider.Error{Kind: provider.ErrAuth, Scope: provider.ScopeProvider, Op: op,
			Msg: "getting an Azure token: " + oneLine(ce.Error()) + " (sign in with `az login`, or set AZURE_CLIENT_ID/AZURE_TENANT_ID/AZURE_CLIENT_SECRET)", Err: err}
	}
	var re *azcore.ResponseError
	if !errors.As(err, &re) {
		return fmt.Errorf("azure: %s: %w", op, err)
	}
	code, msg := re.ErrorCode, responseMessage(re)
	e := &provider.Error{Op: op, Code: code, Msg: msg, Err: err, Scope: provider.ScopeOffering}
	switch {
	case re.StatusCode == http.StatusTooManyRequests:
		e.Kind = provider.ErrThrottled
		e.Msg = "Azure throttled the request and retries ran out: " + msg
	case capacityCodes[code]:
		e.Kind = provider.ErrNoCapacity
	case code == "OperationNotAllowed" && strings.Contains(strings.ToLower(msg), "quota"):
		e.Kind = provider.ErrQuota
		e.Msg, e.Scope = quotaMessage(msg)
	case code == "QuotaExceeded" || code == "PublicIPCountLimitReached":
		e.Kind, e.Scope = provider.ErrQuota, provider.ScopeRegion
	case authCodes[code] || re.StatusCode == http.StatusUnauthorized || re.StatusCode == http.StatusForbidden:
		e.Kind, e.Scope = provider.ErrAuth, provider.ScopeProvider
		if code == "MissingSubscriptionRegistration" {
			e.Msg += " (register it once: az provider register --namespace <namespace>)"
		}
	case notFoundCodes[code] || re.StatusCode == http.StatusNotFound:
		e.Kind = provider.ErrNotFound
	case re.StatusCode == http.StatusBadRequest || re.StatusCode == http.StatusConflict:
		e.Kind = provider.ErrInvalid
	default:
		return fmt.Errorf("azure: %s: %s (%s, HTTP %d): %w", op, msg, code, re.StatusCode, err)
	}
	return e
}

// quotaMessage turns Azure's quota error into one line that names the
// quota, and says how far it reaches: the regional vCPU quota blocks the
// region; a family or the Spot quota blocks only the offerings drawing on
// it.
func quotaMessage(msg string) (string, provider.Scope) {
	name := "vCPU"
	if m := quotaName.FindStringSubmatch(msg); m != nil {
		name = m[1]
	}
	scope := provider.ScopeOffering
	if strings.EqualFold(name, "Total Regional Cores") {
		scope = provider.ScopeRegion
	}
	find := func(re *regexp.Regexp) string {
		if m := re.FindStringSubmatch(msg); m != nil {
			return m[1]
		}
		return "?"
	}
	return fmt.Sprintf("the %s quota in %s is too small (limit %s, in use %s, %s more needed); request an increase under Quotas in the Azure portal or with `az quota update`",
		name, find(quotaLocation), find(quotaLimit), find(quotaUsage), find(quotaNeed)), scope
}

// responseMessage is the error message ARM put in the body, on one line.
func responseMessage(re *azcore.ResponseError) string {
	if re.RawResponse != nil {
		if b, err := runtime.Payload(re.RawResponse); err == nil && len(b) > 0 {
			var body struct {
				Error *struct {
					Message string `json:"message"`
				} `json:"error"`
				Message string `json:"message"`
			}
			if json.Unmarshal(b, &body) == nil {
				if body.Error != nil && body.Error.Message != "" {
					return oneLine(body.Error.Message)
				}
				if body.Message != "" {
					return oneLine(body.Message)
				}
			}
		}
	}
	return fmt.Sprintf("HTTP %d", re.StatusCode)
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// isNotFound reports whether err says the thing is gone.
func isNotFound(err error) bool {
	return errors.Is(classify("", err), provider.ErrNotFound)
}
