package aws

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// A listing of 1000 instances is 3 to 4 MB of XML, and the SDK's decoder
// (encoding/xml tokens into every field of types.Instance) spends about
// 95 ms of CPU on it: on a 2-core machine that was a fifth of `burst
// down` at N = 1000. describeMachines reads its pages with leanDescribe
// instead: a scanner that keeps only the fields machine reads, about ten
// times faster. It sits in the SDK's stack (signing, retries, throttling
// and error answers stay the SDK's), takes a successful answer's body
// before the SDK's decoder, and hands that decoder an empty body; a body
// it cannot read is handed to the SDK's decoder as it came.

// leanPage is what burst reads of a DescribeInstances page.
type leanPage struct {
	instances []types.Instance
	next      string
}

// leanKey is the result metadata key of a page leanDescribe read.
type leanKey struct{}

// withLeanDescribe puts leanDescribe into a DescribeInstances call's stack.
func withLeanDescribe(o *ec2.Options) {
	o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error {
		return s.Deserialize.Insert(middleware.DeserializeMiddlewareFunc("burstLeanDescribeInstances", leanDescribe), "OperationDeserializer", middleware.After)
	})
}

// leanDescribe reads a successful DescribeInstances answer into a
// leanPage (result metadata leanKey) and leaves the SDK's decoder an
// empty body, which it decodes as an empty page.
func leanDescribe(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (middleware.DeserializeOutput, middleware.Metadata, error) {
	out, md, err := next.HandleDeserialize(ctx, in)
	if err != nil {
		return out, md, err
	}
	resp, ok := out.RawResponse.(*smithyhttp.Response)
	if !ok || resp.StatusCode < 200 || resp.StatusCode >= 300 {
		return out, md, nil
	}
	body, rerr := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if rerr != nil {
		// The SDK's decoder meets the same broken body.
		resp.Body = io.NopCloser(io.MultiReader(bytes.NewReader(body), errReader{rerr}))
		return out, md, nil
	}
	page, perr := parseDescribeInstances(body)
	if perr != nil {
		resp.Body = io.NopCloser(bytes.NewReader(body))
		return out, md, nil
	}
	md.Set(leanKey{}, page)
	resp.Body = io.NopCloser(bytes.NewReader(nil))
	return out, md, nil
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// describePage is one DescribeInstances page: its instances and the next
// page's token ("" for none), read by leanDescribe or, when it could not,
// by the SDK.
func describePage(ctx context.Context, c *ec2.Client, in *ec2.DescribeInstancesInput) ([]types.Instance, string, error) {
	out, err := c.DescribeInstances(ctx, in, withLeanDescribe)
	if err != nil {
		return nil, "", err
	}
	if page, ok := out.ResultMetadata.Get(leanKey{}).(*leanPage); ok {
		return page.instances, page.next, nil
	}
	var ins []types.Instance
	for _, r := range out.Reservations {
		ins = append(ins, r.Instances...)
	}
	return ins, sdkaws.ToString(out.NextToken), nil
}

// parseDescribeInstances reads the fields machine uses from a
// DescribeInstancesResponse: of each instance (reservationSet > item >
// instancesSet > item) its ID, type, state, private and public addresses,
// launch time, zone, lifecycle and tags; and the next page's token. It
// errs on what it does not know how to read (a DOCTYPE, a document that
// is not a DescribeInstancesResponse, broken markup), never guesses.
func parseDescribeInstances(b []byte) (*leanPage, error) {
	sc := scanner{b: b}
	page := &leanPage{}
	var (
		stack    []string
		text     []byte
		cur      *types.Instance
		key, val *string
		tagOpen  bool
		sawRoot  bool
		rootDone bool
	)
	// inInstance is the depth of an instance's own fields.
	const inInstance = 5
	isInstance := func() bool {
		return len(stack) == inInstance && stack[1] == "reservationSet" && stack[2] == "item" && stack[3] == "instancesSet" && stack[4] == "item"
	}
	for {
		tok, err := sc.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		switch tok.kind {
		case tokStart, tokEmpty:
			if rootDone {
				return nil, errors.New("markup after the document's root")
			}
			if len(stack) == 0 {
				if tok.name != "DescribeInstancesResponse" {
					return nil, fmt.Errorf("root %q is not DescribeInstancesResponse", tok.name)
				}
				sawRoot = true
			}
			stack = append(stack, tok.name)
			text = text[:0]
			if isInstance() {
				page.instances = append(page.instances, types.Instance{})
				cur = &page.instances[len(page.instances)-1]
			}
			if cur != nil && len(stack) == inInstance+2 && stack[inInstance] == "tagSet" && tok.name == "item" {
				key, val, tagOpen = nil, nil, true
			}
			if tok.kind == tokEmpty {
				if err := end(page, stack, cur, text, &key, &val, &tagOpen); err != nil {
					return nil, err
				}
				if isInstance() {
					cur = nil
				}
				stack = stack[:len(stack)-1]
				rootDone = len(stack) == 0
			}
		case tokText:
			text = append(text, tok.text...)
		case tokEnd:
			if len(stack) == 0 || stack[len(stack)-1] != tok.name {
				return nil, fmt.Errorf("end tag %q does not close %v", tok.name, stack)
			}
			if err := end(page, stack, cur, text, &key, &val, &tagOpen); err != nil {
				return nil, err
			}
			if isInstance() {
				cur = nil
			}
			stack = stack[:len(stack)-1]
			text = text[:0]
			rootDone = len(stack) == 0
		}
	}
	if !sawRoot || !rootDone {
		return nil, errors.New("incomplete DescribeInstancesResponse")
	}
	return page, nil
}

// end takes an element's text as it closes, where it is one machine reads.
func end(page *leanPage, stack []string, cur *types.Instance, text []byte, key, val **string, tagOpen *bool) error {
	if len(stack) == 2 && stack[1] == "nextToken" {
		page.next = string(text)
		return nil
	}
	if cur == nil || len(stack) < 6 {
		return nil
	}
	rel := stack[5:]
	s := func() *string { v := string(text); return &v }
	switch len(rel) {
	case 1:
		switch rel[0] {
		case "instanceId":
			cur.InstanceId = s()
		case "instanceType":
			cur.InstanceType = types.InstanceType(text)
		case "privateIpAddress":
			cur.PrivateIpAddress = s()
		case "ipAddress":
			cur.PublicIpAddress = s()
		case "instanceLifecycle":
			cur.InstanceLifecycle = types.InstanceLifecycleType(text)
		case "launchTime":
			t, err := time.Parse(time.RFC3339Nano, string(text))
			if err != nil {
				return fmt.Errorf("launchTime %q: %w", text, err)
			}
			cur.LaunchTime = &t
		}
	case 2:
		switch {
		case rel[0] == "placement" && rel[1] == "availabilityZone":
			cur.Placement = &types.Placement{AvailabilityZone: s()}
		case rel[0] == "instanceState" && rel[1] == "name":
			cur.State = &types.InstanceState{Name: types.InstanceStateName(text)}
		case rel[0] == "tagSet" && rel[1] == "item" && *tagOpen:
			cur.Tags = append(cur.Tags, types.Tag{Key: *key, Value: *val})
			*tagOpen = false
		}
	case 3:
		if rel[0] == "tagSet" && rel[1] == "item" {
			switch rel[2] {
			case "key":
				*key = s()
			case "value":
				*val = s()
			}
		}
	}
	return nil
}

type tokKind int

const (
	tokStart tokKind = iota
	tokEnd
	tokEmpty // <name/>
	tokText
)

type token struct {
	kind tokKind
	name string // local name, for start, end and empty
	text []byte // for text: decoded
}

// scanner splits an XML document into the tokens parseDescribeInstances
// needs. It skips the declaration, processing instructions and comments,
// reads CDATA as text, decodes the five predefined entities and character
// references, and errs on a DOCTYPE or broken markup.
type scanner struct {
	b     []byte
	i     int
	buf   []byte
	names map[string]string // tag names seen, so that each is made once
}

// name is the local name of a tag's raw name, made once per document.
func (s *scanner) name(raw []byte) string {
	if n, ok := s.names[string(raw)]; ok {
		return n
	}
	if s.names == nil {
		s.names = map[string]string{}
	}
	n := local(string(raw))
	s.names[string(raw)] = n
	return n
}

func (s *scanner) next() (token, error) {
	for s.i < len(s.b) {
		if s.b[s.i] != '<' {
			j := bytes.IndexByte(s.b[s.i:], '<')
			if j < 0 {
				j = len(s.b) - s.i
			}
			raw := s.b[s.i : s.i+j]
			s.i += j
			if bytes.IndexByte(raw, '&') < 0 {
				return token{kind: tokText, text: raw}, nil
			}
			t, err := unescape(raw, s.buf[:0])
			if err != nil {
				return token{}, err
			}
			s.buf = t
			return token{kind: tokText, text: t}, nil
		}
		rest := s.b[s.i:]
		switch {
		case bytes.HasPrefix(rest, []byte("<?")):
			j := bytes.Index(rest, []byte("?>"))
			if j < 0 {
				return token{}, errors.New("unclosed processing instruction")
			}
			s.i += j + 2
			continue
		case bytes.HasPrefix(rest, []byte("<!--")):
			j := bytes.Index(rest[4:], []byte("-->"))
			if j < 0 {
				return token{}, errors.New("unclosed comment")
			}
			s.i += 4 + j + 3
			continue
		case bytes.HasPrefix(rest, []byte("<![CDATA[")):
			j := bytes.Index(rest[9:], []byte("]]>"))
			if j < 0 {
				return token{}, errors.New("unclosed CDATA section")
			}
			s.i += 9 + j + 3
			return token{kind: tokText, text: rest[9 : 9+j]}, nil
		case bytes.HasPrefix(rest, []byte("<!")):
			return token{}, errors.New("unsupported markup declaration")
		case bytes.HasPrefix(rest, []byte("</")):
			j := bytes.IndexByte(rest, '>')
			if j < 0 {
				return token{}, errors.New("unclosed end tag")
			}
			name := s.name(bytes.TrimSpace(rest[2:j]))
			s.i += j + 1
			return token{kind: tokEnd, name: name}, nil
		}
		// A start tag: its name, then attributes to the closing '>'
		// (a '>' inside a quoted value does not close it).
		j := 1
		for j < len(rest) && !isSpace(rest[j]) && rest[j] != '>' && rest[j] != '/' {
			j++
		}
		if j == 1 {
			return token{}, errors.New("a tag without a name")
		}
		name := s.name(rest[1:j])
		var quote byte
		for ; j < len(rest); j++ {
			c := rest[j]
			switch {
			case quote != 0:
				if c == quote {
					quote = 0
				}
			case c == '"' || c == '\'':
				quote = c
			case c == '>':
				kind := tokStart
				if rest[j-1] == '/' {
					kind = tokEmpty
				}
				s.i += j + 1
				return token{kind: kind, name: name}, nil
			}
		}
		return token{}, errors.New("unclosed start tag")
	}
	return token{}, io.EOF
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// local is a name without its namespace prefix.
func local(name string) string {
	if i := strings.IndexByte(name, ':'); i >= 0 {
		return name[i+1:]
	}
	return name
}

// unescape decodes XML's predefined entities and character references.
func unescape(raw, dst []byte) ([]byte, error) {
	for len(raw) > 0 {
		i := bytes.IndexByte(raw, '&')
		if i < 0 {
			return append(dst, raw...), nil
		}
		dst = append(dst, raw[:i]...)
		raw = raw[i:]
		j := bytes.IndexByte(raw, ';')
		if j < 0 {
			return nil, errors.New("unterminated entity")
		}
		ent := string(raw[1:j])
		raw = raw[j+1:]
		switch ent {
		case "amp":
			dst = append(dst, '&')
		case "lt":
			dst = append(dst, '<')
		case "gt":
			dst = append(dst, '>')
		case "quot":
			dst = append(dst, '"')
		case "apos":
			dst = append(dst, '\'')
		default:
			if !strings.HasPrefix(ent, "#") {
				return nil, fmt.Errorf("unknown entity &%s;", ent)
			}
			var n uint64
			var err error
			if strings.HasPrefix(ent, "#x") {
				n, err = strconv.ParseUint(ent[2:], 16, 32)
			} else {
				n, err = strconv.ParseUint(ent[1:], 10, 32)
			}
			if err != nil || !utf8.ValidRune(rune(n)) {
				return nil, fmt.Errorf("bad character reference &%s;", ent)
			}
			dst = utf8.AppendRune(dst, rune(n))
		}
	}
	return dst, nil
}
