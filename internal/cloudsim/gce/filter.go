package gce

import (
	"fmt"
	"regexp"
	"strings"

	"cloud.google.com/go/compute/apiv1/computepb"
)

// filter is a parsed GCE list filter. GCE documents two forms that
// "cannot be mixed in one request" (the filter parameter of every list
// method), and the simulator understands the subset of each burst uses:
//
//   - AIP-160: terms `field = value`, `field != value` and `field:*` (has
//     the field), optionally in parentheses, joined by spaces or AND.
//     Values may be double-quoted and may end in "*" for a prefix match.
//   - Regular expressions: `field eq literal` or `field ne literal`, alone
//     unparenthesized (the literal is the rest of the expression) or
//     several in parentheses, ANDed; the literal may be single- or
//     double-quoted and "is interpreted as a regular expression using
//     Google RE2 library syntax. The literal value must match the entire
//     field."
//
// A filter mixing the forms is refused with a 400, as GCE does; so is
// anything else it does not understand, so a provider can never rely on a
// filter the simulator silently ignores.
type filter []term

type term struct {
	field, op, value string
	re               *regexp.Regexp // eq and ne: the literal, anchored at both ends
}

// regexTerm is an expression of the regular-expression form.
var regexTerm = regexp.MustCompile(`^([A-Za-z0-9_.\-]+)\s+(eq|ne)\s+(.*)$`)

func parseFilter(s string) (filter, error) {
	var out filter
	rest := strings.TrimSpace(s)
	for rest != "" {
		var expr string
		if strings.HasPrefix(rest, "(") {
			end := closing(rest)
			if end < 0 {
				return nil, fmt.Errorf("unbalanced parenthesis")
			}
			expr, rest = rest[1:end], strings.TrimSpace(rest[end+1:])
		} else {
			expr, rest = rest, ""
		}
		t, err := parseTerm(strings.TrimSpace(expr))
		if err != nil {
			return nil, err
		}
		out = append(out, t)
		if strings.HasPrefix(rest, "AND ") {
			if t.re != nil {
				return nil, fmt.Errorf("AND joins AIP-160 expressions, not regular-expression ones")
			}
			rest = strings.TrimSpace(rest[4:])
		}
	}
	regex := 0
	for _, t := range out {
		if t.re != nil {
			regex++
		}
	}
	if regex > 0 && regex < len(out) {
		return nil, fmt.Errorf("regular-expression (eq, ne) and AIP-160 (=, !=, :) expressions cannot be mixed in one request")
	}
	return out, nil
}

// closing returns the index of the parenthesis that closes the one s
// starts with, skipping quoted text, or -1.
func closing(s string) int {
	var quote byte
	for i := 1; i < len(s); i++ {
		switch c := s[i]; {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == ')':
			return i
		}
	}
	return -1
}

func parseTerm(s string) (term, error) {
	if m := regexTerm.FindStringSubmatch(s); m != nil {
		lit := strings.TrimSpace(m[3])
		if len(lit) >= 2 && (lit[0] == '\'' || lit[0] == '"') {
			if lit[len(lit)-1] != lit[0] {
				return term{}, fmt.Errorf("unterminated quote in %q", s)
			}
			lit = lit[1 : len(lit)-1]
		}
		re, err := regexp.Compile(`^(?:` + lit + `)$`)
		if err != nil {
			return term{}, fmt.Errorf("bad regular expression in %q: %w", s, err)
		}
		return term{field: m[1], op: m[2], value: lit, re: re}, nil
	}
	if strings.Contains(s, " OR ") || strings.HasPrefix(s, "NOT ") || strings.HasPrefix(s, "-") {
		return term{}, fmt.Errorf("the simulator does not support OR or NOT in %q", s)
	}
	for _, op := range []string{"!=", "=", ":"} {
		if i := strings.Index(s, op); i > 0 {
			t := term{field: strings.TrimSpace(s[:i]), op: op, value: strings.TrimSpace(s[i+len(op):])}
			if strings.HasPrefix(t.value, `"`) {
				if len(t.value) < 2 || !strings.HasSuffix(t.value, `"`) {
					return term{}, fmt.Errorf("unterminated quote in %q", s)
				}
				t.value = t.value[1 : len(t.value)-1]
			}
			if t.op == ":" && t.value != "*" {
				return term{}, fmt.Errorf("the simulator supports ':' only as 'field:*' (has), not %q", s)
			}
			if t.field == "" || strings.ContainsAny(t.field, " \"") {
				return term{}, fmt.Errorf("bad field in %q", s)
			}
			return t, nil
		}
	}
	return term{}, fmt.Errorf("cannot parse %q", s)
}

// match reports whether the fields satisfy every term. A term on a field
// the resource kind does not have is an error.
func (f filter) match(fields map[string]string) (bool, error) {
	return f.matchFunc(func(name string) (string, bool) { v, ok := fields[name]; return v, ok })
}

// matchFunc is match with the fields looked up by field, which answers
// whether the resource has the named field and its value.
func (f filter) matchFunc(field func(name string) (string, bool)) (bool, error) {
	for _, t := range f {
		v, ok := field(t.field)
		if !ok && !strings.HasPrefix(t.field, "labels.") {
			return false, fmt.Errorf("unknown field %q", t.field)
		}
		switch t.op {
		case ":":
			if !ok {
				return false, nil
			}
		case "=":
			if !ok || !like(v, t.value) {
				return false, nil
			}
		case "!=":
			if ok && like(v, t.value) {
				return false, nil
			}
		case "eq":
			if !ok || !t.re.MatchString(v) {
				return false, nil
			}
		case "ne":
			if ok && t.re.MatchString(v) {
				return false, nil
			}
		}
	}
	return true, nil
}

func like(v, pattern string) bool {
	if strings.HasSuffix(pattern, "*") {
		return strings.HasPrefix(v, strings.TrimSuffix(pattern, "*"))
	}
	return v == pattern
}

// instanceField looks up the fields an instance filter may name: in is
// the stored view, status and labels what GCE shows now.
func instanceField(in *computepb.Instance, status string, labels map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		switch name {
		case "name":
			return in.GetName(), true
		case "status":
			return status, true
		case "zone":
			return lastSegment(in.GetZone()), true
		case "machineType":
			return lastSegment(in.GetMachineType()), true
		case "scheduling.provisioningModel":
			return in.GetScheduling().GetProvisioningModel(), true
		case "id":
			return fmt.Sprint(in.GetId()), true
		}
		if k, ok := strings.CutPrefix(name, "labels."); ok {
			v, ok := labels[k]
			return v, ok
		}
		return "", false
	}
}
