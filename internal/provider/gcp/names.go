package gcp

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/burstdev/burst/internal/provider"
)

// Names, labels and identifiers as GCE wants them.

// TypeName names an N1 machine type with attached GPUs in burst's catalog:
// "n1-standard-8+nvidia-tesla-t4x1" is machine type n1-standard-8 with one
// nvidia-tesla-t4. GCE has no such type; the launch sends the machine type
// and a guestAccelerators entry.
func TypeName(machine, accelerator string, count int) string {
	return fmt.Sprintf("%s+%sx%d", machine, accelerator, count)
}

// ParseTypeName splits a catalog type name into the GCE machine type and
// the attached accelerator, if any (count 0 when none).
func ParseTypeName(name string) (machine, accelerator string, count int, err error) {
	machine, accel, ok := strings.Cut(name, "+")
	if !ok {
		return name, "", 0, nil
	}
	i := strings.LastIndexByte(accel, 'x')
	if i <= 0 {
		return "", "", 0, fmt.Errorf("type %q: want MACHINE+ACCELERATORxCOUNT", name)
	}
	n, err := strconv.Atoi(accel[i+1:])
	if err != nil || n <= 0 {
		return "", "", 0, fmt.Errorf("type %q: bad accelerator count", name)
	}
	return machine, accel[:i], n, nil
}

// familyOf returns a machine type's family ("n2" for n2-standard-8).
func familyOf(machine string) string {
	f, _, _ := strings.Cut(machine, "-")
	return f
}

// NetworkTag is the network tag every machine of a cluster carries; the
// cluster's firewall rules target it.
func NetworkTag(cluster string) string { return "burst-" + cluster }

// firewall rule names of a cluster: traffic inside it, and the caller's
// IPv4 and IPv6 ranges (GCE takes one family per rule). At most 46
// characters for a 32-character cluster name.
func internalRule(cluster string) string { return "burst-" + cluster + "-internal" }
func clientRule(cluster string) string   { return "burst-" + cluster + "-client" }
func clientRule6(cluster string) string  { return "burst-" + cluster + "-client6" }

// ruleNames are every firewall rule Prepare may make for a cluster.
func ruleNames(cluster string) []string {
	return []string{clientRule(cluster), clientRule6(cluster), internalRule(cluster)}
}

// Labels burst adds besides the request's tags: the launch token's hash and
// the attempt within the launch, which find what one bulkInsert made.
const (
	labelToken   = "burst-token"
	labelAttempt = "burst-attempt"
)

func shortHash(s string, n int) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])[:n]
}

// requestNamespace makes requestIds: version-5 UUIDs of the launch token
// and attempt, so a retried call sends the same requestId and GCE does not
// create twice.
var requestNamespace = uuid.MustParse("6b3e1c8a-5f0d-4a57-9a43-4d1f2c0e7b21")

func requestID(token string, attempt int) string {
	return uuid.NewSHA1(requestNamespace, []byte(fmt.Sprintf("%s/%d", token, attempt))).String()
}

// namePattern is a bulkInsert's name pattern: cluster, role, token hash
// and attempt, then four digits GCE fills in ("etl-w-3fa9c1-0-0001"). The
// cluster name is at most 32 characters, so names stay under GCE's 63.
func namePattern(cluster string, role string, token string, attempt int) string {
	r := "w"
	if role == "head" {
		r = "h"
	}
	return fmt.Sprintf("%s-%s-%s-%s-####", cluster, r, shortHash(token, 6), strconv.FormatInt(int64(attempt), 36))
}

// labelText makes s a valid GCE label key or value: lower case letters,
// digits, "-" and "_", at most 63 characters. Keys must also start with a
// letter.
func labelText(s string, key bool) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '_':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	out := b.String()
	if key && (out == "" || out[0] < 'a' || out[0] > 'z') {
		out = "k" + out
	}
	if len(out) > 63 {
		out = out[:63]
	}
	return out
}

// labels turns burst's tags into GCE labels.
func labels(tags map[string]string) map[string]string {
	out := make(map[string]string, len(tags))
	for k, v := range tags {
		out[labelText(k, true)] = labelText(v, false)
	}
	return out
}

// regionOf returns a zone's region ("us-central1" for "us-central1-a").
func regionOf(zone string) string {
	zone = lastSegment(zone)
	if i := strings.LastIndexByte(zone, '-'); i > 0 {
		return zone[:i]
	}
	return zone
}

// ownerOf returns the owner tag of a request, for descriptions.
func ownerOf(tags map[string]string) string {
	if o := tags[provider.TagOwner]; o != "" {
		return o
	}
	return "unknown"
}
