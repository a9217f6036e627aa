package ec2

import (
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// params is an EC2 Query request's form, read as a tree: "Filter.1.Value.2"
// is the second value of the first filter. EC2 numbers list members from 1
// and flattens lists (no ".member." as the plain Query protocol has), which
// is what both the Go SDK and the aws CLI send.
type params struct {
	val  string
	kids map[string]*params
}

func parseParams(form url.Values) *params {
	root := &params{}
	for k, vs := range form {
		if len(vs) == 0 {
			continue
		}
		n := root
		for _, seg := range strings.Split(k, ".") {
			if n.kids == nil {
				n.kids = map[string]*params{}
			}
			c, ok := n.kids[seg]
			if !ok {
				c = &params{}
				n.kids[seg] = c
			}
			n = c
		}
		n.val = vs[0]
	}
	return root
}

// digest is a canonical form of the request's parameters without the ones
// named in skip (top-level names such as "ClientToken", "Action"): two
// requests with the same digest asked for the same thing. EC2 compares
// this when a ClientToken is used again (IdempotentParameterMismatch).
func (p *params) digest(skip ...string) string {
	var lines []string
	var walk func(prefix string, n *params)
	walk = func(prefix string, n *params) {
		if n.val != "" {
			lines = append(lines, prefix+"="+n.val)
		}
		for k, c := range n.kids {
			if prefix == "" && contains(skip, k) {
				continue
			}
			name := k
			if prefix != "" {
				name = prefix + "." + k
			}
			walk(name, c)
		}
	}
	walk("", p)
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// get returns the node at a dotted path, or nil.
func (p *params) get(path string) *params {
	n := p
	for _, seg := range strings.Split(path, ".") {
		if n == nil || n.kids == nil {
			return nil
		}
		n = n.kids[seg]
	}
	return n
}

// str returns the value at path, "" when absent.
func (p *params) str(path string) string {
	if n := p.get(path); n != nil {
		return n.val
	}
	return ""
}

// int returns the integer at path, def when absent or malformed.
func (p *params) int(path string, def int) int {
	s := p.str(path)
	if s == "" {
		return def
	}
	v, err := strconv.Atoi(s)
	if err != nil {
		return def
	}
	return v
}

// bool reports whether the value at path is "true".
func (p *params) bool(path string) bool { return strings.EqualFold(p.str(path), "true") }

// list returns the numbered members under path, in order.
func (p *params) list(path string) []*params {
	n := p.get(path)
	if n == nil {
		return nil
	}
	type kv struct {
		i int
		n *params
	}
	var out []kv
	for k, c := range n.kids {
		if i, err := strconv.Atoi(k); err == nil {
			out = append(out, kv{i, c})
		}
	}
	sort.Slice(out, func(a, b int) bool { return out[a].i < out[b].i })
	res := make([]*params, len(out))
	for i, x := range out {
		res[i] = x.n
	}
	return res
}

// strs returns the values of the numbered members under path.
func (p *params) strs(path string) []string {
	var out []string
	for _, n := range p.list(path) {
		out = append(out, n.val)
	}
	return out
}

// tagSpecs reads TagSpecification.N: resource type -> tags.
func (p *params) tagSpecs() map[string]map[string]string {
	out := map[string]map[string]string{}
	for _, ts := range p.list("TagSpecification") {
		rt := ts.str("ResourceType")
		if out[rt] == nil {
			out[rt] = map[string]string{}
		}
		for _, t := range ts.list("Tag") {
			out[rt][t.str("Key")] = t.str("Value")
		}
	}
	return out
}

// filter is one Filter.N of a Describe call.
type filter struct {
	name   string
	values []string
}

func (p *params) filters() []filter {
	var out []filter
	for _, f := range p.list("Filter") {
		out = append(out, filter{name: f.str("Name"), values: f.strs("Value")})
	}
	return out
}

// match reports whether v matches a filter value, which may hold the
// wildcards * and ?.
func match(pattern, v string) bool {
	if !strings.ContainsAny(pattern, "*?") {
		return pattern == v
	}
	// Simple glob matcher: * any run, ? one character.
	px, vx := 0, 0
	nextP, nextV := -1, -1
	for vx < len(v) || px < len(pattern) {
		if px < len(pattern) {
			switch c := pattern[px]; c {
			case '*':
				nextP, nextV = px, vx+1
				px++
				continue
			case '?':
				if vx < len(v) {
					px++
					vx++
					continue
				}
			default:
				if vx < len(v) && v[vx] == c {
					px++
					vx++
					continue
				}
			}
		}
		if nextV > 0 && nextV <= len(v) {
			px, vx = nextP, nextV
			continue
		}
		return false
	}
	return true
}

// matchAny reports whether v matches one of the filter's values.
func (f filter) matchAny(v string) bool {
	for _, pat := range f.values {
		if match(pat, v) {
			return true
		}
	}
	return false
}

// tagFilter applies the tag filters ("tag:K", "tag-key") of fs to tags; it
// returns false as soon as one of them rejects.
func tagFilter(fs []filter, tags map[string]string) bool {
	for _, f := range fs {
		switch {
		case strings.HasPrefix(f.name, "tag:"):
			v, ok := tags[strings.TrimPrefix(f.name, "tag:")]
			if !ok || !f.matchAny(v) {
				return false
			}
		case f.name == "tag-key":
			found := false
			for k := range tags {
				if f.matchAny(k) {
					found = true
				}
			}
			if !found {
				return false
			}
		}
	}
	return true
}
