package gcp

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/burstdev/burst/internal/provider"
)

// selector is what a listing picks: the machines carrying every label of
// eq with that value, or, when eq is empty, every machine with a
// burst-cluster label.
type selector struct {
	eq [][2]string // label key and value, in order
}

// aip is the selector as a filter of GCE's AIP-160 form:
// `labels.burst-cluster = "etl"`, several terms in parentheses.
func (s selector) aip() string {
	if len(s.eq) == 0 {
		return fmt.Sprintf("labels.%s:*", provider.TagCluster)
	}
	if len(s.eq) == 1 {
		return fmt.Sprintf(`labels.%s = "%s"`, s.eq[0][0], s.eq[0][1])
	}
	terms := make([]string, len(s.eq))
	for i, kv := range s.eq {
		terms[i] = fmt.Sprintf(`(labels.%s = "%s")`, kv[0], kv[1])
	}
	return strings.Join(terms, " ")
}

// part is part i of n (0 <= i < n <= 10) of the selector as a filter of
// GCE's regular-expression form, which the two forms' rule ("cannot be
// mixed in one request") makes the labels take too:
// `(labels.burst-cluster eq 'etl') (name eq '.*[0-2]')`. GCE documents
// the literal as RE2 that "must match the entire field". Parts 0 to n-2
// take the names ending in their group of digits (burst's names end in a
// bulkInsert's four-digit sequence number, so the groups are about even);
// the last part takes every name that ends in none of those groups, so the
// parts are complete and disjoint for any name.
func (s selector) part(i, n int) string {
	var b strings.Builder
	for _, kv := range s.eq {
		fmt.Fprintf(&b, "(labels.%s eq '%s') ", kv[0], regexp.QuoteMeta(kv[1]))
	}
	lo, hi := digits(i, n)
	if i < n-1 {
		fmt.Fprintf(&b, "(name eq '.*[%d-%d]')", lo, hi)
	} else {
		first, _ := digits(i, n)
		fmt.Fprintf(&b, "(name ne '.*[0-%d]')", first-1)
	}
	return b.String()
}

// digits is the group of final digits of part i of n: lo to hi inclusive.
func digits(i, n int) (lo, hi int) {
	return i * 10 / n, (i+1)*10/n - 1
}

// keeps reports whether a listed machine carries the selector's labels.
func (s selector) keeps(m provider.Machine) bool {
	if len(s.eq) == 0 {
		_, ok := m.Tags[provider.TagCluster]
		return ok
	}
	for _, kv := range s.eq {
		if m.Tags[kv[0]] != kv[1] {
			return false
		}
	}
	return true
}

// splitTarget is how many machines a part is planned to hold: under a
// page (pageSize), with room for uneven groups and machines made since.
const splitTarget = 400

// partsFor is how many parts a zone expected to hold n machines is listed
// in: one while n fits splitTarget, at most ten (one per final digit).
func partsFor(n int) int {
	return min(10, max(1, (n+splitTarget-1)/splitTarget))
}
