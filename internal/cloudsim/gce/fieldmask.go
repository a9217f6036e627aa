package gce

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// Partial responses. Every Google API takes the system parameter `fields`
// (query) or `X-Goog-FieldMask` (header): a mask of the response fields to
// return, so a client listing thousands of machines need not download
// their metadata. The grammar, as Google documents it:
//
//	mask    = path { "," path }
//	path    = segment { ("." | "/") segment } [ "(" mask ")" ]
//	segment = name | "*"
//
// A path selects a field and everything under it; "*" selects every key
// of a map (GCE's aggregated lists key their items by scope); a path
// through an array applies to each element.

// maskNode is a parsed mask: the selected keys, each with what is
// selected under it (nil: all of it).
type maskNode map[string]maskNode

// requestMask is the request's field mask, nil when it has none.
func requestMask(r *http.Request) (maskNode, *apiError) {
	raw := r.Header.Get("X-Goog-FieldMask")
	if raw == "" {
		raw = r.URL.Query().Get("fields")
	}
	if raw == "" || raw == "*" {
		return nil, nil
	}
	p := &maskParser{s: raw}
	m, err := p.mask()
	if err == nil && p.i < len(p.s) {
		err = fmt.Errorf("unexpected %q at %d", p.s[p.i], p.i)
	}
	if err != nil {
		return nil, invalid("Invalid field mask %q: %v", raw, err)
	}
	return m, nil
}

type maskParser struct {
	s string
	i int
}

func (p *maskParser) mask() (maskNode, error) {
	out := maskNode{}
	for {
		if err := p.path(out); err != nil {
			return nil, err
		}
		if p.i < len(p.s) && p.s[p.i] == ',' {
			p.i++
			continue
		}
		return out, nil
	}
}

// path parses one path into into, merging with what is there.
func (p *maskParser) path(into maskNode) error {
	node := into
	for {
		start := p.i
		for p.i < len(p.s) && !strings.ContainsRune(".,/()", rune(p.s[p.i])) {
			p.i++
		}
		seg := strings.TrimSpace(p.s[start:p.i])
		if seg == "" {
			return fmt.Errorf("empty field name at %d", start)
		}
		child, seen := node[seg]
		last := p.i >= len(p.s) || (p.s[p.i] != '.' && p.s[p.i] != '/')
		if last {
			if p.i < len(p.s) && p.s[p.i] == '(' {
				p.i++
				sub, err := p.mask()
				if err != nil {
					return err
				}
				if p.i >= len(p.s) || p.s[p.i] != ')' {
					return fmt.Errorf("missing ) at %d", p.i)
				}
				p.i++
				if seen && child == nil {
					return nil // already whole
				}
				if child == nil {
					child = maskNode{}
				}
				for k, v := range sub {
					child[k] = v
				}
				node[seg] = child
				return nil
			}
			node[seg] = nil // the whole field
			return nil
		}
		p.i++ // the separator
		if seen && child == nil {
			// Already selected whole: parse the rest of the path and drop it.
			return p.path(maskNode{})
		}
		if child == nil {
			child = maskNode{}
			node[seg] = child
		}
		node = child
	}
}

// prune keeps what the mask selects of a decoded JSON value.
func prune(v any, m maskNode) any {
	if m == nil {
		return v
	}
	switch x := v.(type) {
	case []any:
		out := make([]any, 0, len(x))
		for _, e := range x {
			out = append(out, prune(e, m))
		}
		return out
	case map[string]any:
		out := map[string]any{}
		for k, e := range x {
			sub, ok := m[k]
			if !ok {
				sub, ok = m["*"]
			}
			if ok {
				out[k] = prune(e, sub)
			}
		}
		return out
	}
	return v
}

// applyMask re-encodes a JSON response with only the masked fields.
func applyMask(b []byte, m maskNode) ([]byte, error) {
	if m == nil {
		return b, nil
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, err
	}
	return json.Marshal(prune(v, m))
}

// pruneMessage clears, in place, the fields of m that the mask drops, so
// a masked response is not first encoded whole (a listed instance's
// startup script is most of it). It does to the message what prune does
// to its protojson encoding: a field stays when the mask names its JSON
// name or "*", a map's entries by key or "*", a list's elements each. (A
// map the mask empties is left out rather than sent as {}: the same to
// any protobuf client.) It reports whether the result is exact; it is not when it met a
// well-known type (google.protobuf.*, whose JSON form is not its fields),
// and then applyMask must still run on the encoding. Either way it only
// saves the simulator's own CPU: the answer is the same.
func pruneMessage(m protoreflect.Message, mask maskNode) (exact bool) {
	if mask == nil {
		return true
	}
	if strings.HasPrefix(string(m.Descriptor().FullName()), "google.protobuf.") {
		return false
	}
	exact = true
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		sub, ok := mask[fd.JSONName()]
		if !ok {
			sub, ok = mask["*"]
		}
		switch {
		case !ok:
			m.Clear(fd)
		case sub == nil:
		case fd.IsMap():
			msgs := fd.MapValue().Kind() == protoreflect.MessageKind
			mp := v.Map()
			var drop []protoreflect.MapKey
			mp.Range(func(k protoreflect.MapKey, e protoreflect.Value) bool {
				esub, ok := sub[k.String()]
				if !ok {
					esub, ok = sub["*"]
				}
				if !ok {
					drop = append(drop, k)
				} else if msgs && !pruneMessage(e.Message(), esub) {
					exact = false
				}
				return true
			})
			for _, k := range drop {
				mp.Clear(k)
			}
		case fd.IsList():
			if fd.Kind() != protoreflect.MessageKind {
				break
			}
			l := v.List()
			for i := 0; i < l.Len(); i++ {
				if !pruneMessage(l.Get(i).Message(), sub) {
					exact = false
				}
			}
		case fd.Kind() == protoreflect.MessageKind:
			if !pruneMessage(v.Message(), sub) {
				exact = false
			}
		}
		return true
	})
	return exact
}
