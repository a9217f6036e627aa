package gce

import (
	"fmt"
	"strings"

	"cloud.google.com/go/compute/apiv1/computepb"
)

// filter is a parsed GCE list filter. The simulator understands the subset
// burst uses and documents: terms `field = value`, `field != value` and
// `field:*` (has the field), optionally in parentheses, joined by spaces or
// AND. Values may be double-quoted and may end in "*" for a prefix match.
// Anything else is refused as an invalid filter, so a provider can never
// rely on a filter the simulator silently ignores.
type filter []term

type term struct {
	field, op, value string
}

func parseFilter(s string) (filter, error) {
	var out filter
	rest := strings.TrimSpace(s)
	for rest != "" {
		var expr string
		if strings.HasPrefix(rest, "(") {
			end := strings.IndexByte(rest, ')')
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
			rest = strings.TrimSpace(rest[4:])
		}
	}
	return out, nil
}

func parseTerm(s string) (term, error) {
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
