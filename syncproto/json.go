package syncproto

import (
	"bytes"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf16"
	"unicode/utf8"
)

// This file holds the package's own JSON parser and canonical writer. One
// parser serves every decoder, so limits, key rules and error messages are
// the same everywhere, keys match exactly (encoding/json matches them without
// regard to case) and duplicate keys are an error rather than "last wins".
//
// Canonical JSON, as used for field values and records:
//   - no insignificant whitespace;
//   - object members sorted by key, bytewise on the UTF-8 encoding;
//   - strings in UTF-8, escaping only '"', '\\' and control characters
//     (\b \f \n \r \t, others as \u00xx in lowercase hex);
//   - numbers exactly as written (they are validated, not reformatted);
//   - duplicate keys, invalid UTF-8 and lone UTF-16 surrogates are errors.

type kind uint8

const (
	kNull kind = iota
	kBool
	kNumber
	kString
	kArray
	kObject
)

func (k kind) String() string {
	return [...]string{"null", "a boolean", "a number", "a string", "an array", "an object"}[k]
}

// node is a parsed JSON value.
type node struct {
	kind kind
	b    bool
	// start and end locate an object in the parsed data (end is 0 when
	// unknown); a decoder may keep an object's bytes as they arrived.
	start, end int32
	s          string   // decoded string, or a number's literal
	arr        []node   // array elements
	obj        []member // object members, in input order
}

type member struct {
	key string
	val node
}

// maxSpan bounds the offsets a node records.
const maxSpan = 1<<31 - 1

func (n *node) setSpan(start, end int) {
	if end <= maxSpan {
		n.start, n.end = int32(start), int32(end)
	}
}

// get returns the member named key (exact match), or nil.
func (n *node) get(key string) *node {
	for i := range n.obj {
		if n.obj[i].key == key {
			return &n.obj[i].val
		}
	}
	return nil
}

// maxNumberLen bounds the length of a number literal.
const maxNumberLen = 128

// trustedLimits parse data the package wrote itself (stored records): no
// size limits, but a depth bound so that nesting cannot exhaust the stack.
var trustedLimits = Limits{MaxBytes: -1, MaxChanges: -1, MaxDepth: 512, MaxString: -1, MaxArray: -1, MaxKeys: -1, MaxFields: -1}

type jsonParser struct {
	data  []byte
	pos   int
	lim   Limits
	depth int
	path  []pathElem
	// topArrays gives the element limit and its name for arrays that are
	// members of the top-level object ("changes" in a push).
	topArrays map[string]topArray
	// members and elems are the stacks objects and arrays collect their
	// contents on while they are parsed.
	members []member
	elems   []node
}

type topArray struct {
	max  int
	what string
}

type pathElem struct {
	key   string
	index int // -1 for an object member
}

// parseStacks are a parser's member and element stacks, kept for the next
// parse (a small message would otherwise spend most of its allocations
// growing them).
type parseStacks struct {
	members []member
	elems   []node
}

var stacks = sync.Pool{New: func() any { return new(parseStacks) }}

// maxPooledStack bounds the stacks kept for reuse.
const maxPooledStack = 4096

// parseJSON parses one JSON value that makes up all of data.
func parseJSON(data []byte, lim Limits) (node, *Error) {
	return parseJSONTop(data, lim, nil)
}

func parseJSONTop(data []byte, lim Limits, top map[string]topArray) (node, *Error) {
	lim = lim.withDefaults()
	if lim.MaxBytes >= 0 && len(data) > lim.MaxBytes {
		return node{}, Errorf(CodeTooLarge, "body is %d bytes, over the limit of %d", len(data), lim.MaxBytes)
	}
	st := stacks.Get().(*parseStacks)
	p := jsonParser{data: data, lim: lim, topArrays: top, members: st.members[:0], elems: st.elems[:0]}
	defer func() {
		if cap(p.members) <= maxPooledStack && cap(p.elems) <= maxPooledStack {
			clear(p.members) // an error leaves entries behind (a success none)
			clear(p.elems)
			st.members, st.elems = p.members[:0], p.elems[:0]
			stacks.Put(st)
		}
	}()
	p.skipWS()
	n, err := p.value()
	if err != nil {
		return node{}, err
	}
	p.skipWS()
	if p.pos != len(p.data) {
		return node{}, p.syntax("unexpected data after the JSON value")
	}
	return n, nil
}

func (p *jsonParser) pathString() string {
	var b strings.Builder
	for _, e := range p.path {
		if e.index >= 0 {
			b.WriteString("[")
			b.WriteString(strconv.Itoa(e.index))
			b.WriteString("]")
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(truncate(e.key, 64))
	}
	return b.String()
}

func (p *jsonParser) fail(code Code, format string, args ...any) *Error {
	e := Errorf(code, format, args...)
	e.Field = p.pathString()
	return e
}

func (p *jsonParser) syntax(msg string) *Error {
	if p.pos >= len(p.data) {
		return p.fail(CodeInvalidJSON, "invalid JSON: %s (at end of input)", msg)
	}
	return p.fail(CodeInvalidJSON, "invalid JSON: %s (at byte %d)", msg, p.pos)
}

func (p *jsonParser) skipWS() {
	p.pos = SkipSpace(p.data, p.pos)
}

func (p *jsonParser) value() (node, *Error) {
	start := p.pos
	n, err := p.value1()
	n.setSpan(start, p.pos)
	return n, err
}

func (p *jsonParser) value1() (node, *Error) {
	if p.pos >= len(p.data) {
		return node{}, p.syntax("unexpected end of input")
	}
	switch c := p.data[p.pos]; {
	case c == '{':
		return p.object()
	case c == '[':
		return p.array()
	case c == '"':
		s, err := p.str()
		return node{kind: kString, s: s}, err
	case c == '-' || '0' <= c && c <= '9':
		return p.number()
	case c == 't':
		return node{kind: kBool, b: true}, p.literal("true")
	case c == 'f':
		return node{kind: kBool}, p.literal("false")
	case c == 'n':
		return node{kind: kNull}, p.literal("null")
	}
	return node{}, p.syntax("unexpected character " + strconv.QuoteRune(rune(p.data[p.pos])))
}

func (p *jsonParser) literal(word string) *Error {
	if !strings.HasPrefix(string(p.data[p.pos:min(len(p.data), p.pos+len(word))]), word) {
		return p.syntax("invalid literal")
	}
	p.pos += len(word)
	return nil
}

func (p *jsonParser) enter() *Error {
	p.depth++
	if p.lim.MaxDepth >= 0 && p.depth > p.lim.MaxDepth {
		return p.fail(CodeInvalidJSON, "JSON nested deeper than %d levels", p.lim.MaxDepth)
	}
	return nil
}

func (p *jsonParser) object() (node, *Error) {
	if err := p.enter(); err != nil {
		return node{}, err
	}
	p.pos++ // {
	n := node{kind: kObject}
	var seen map[string]struct{}
	p.skipWS()
	if p.pos < len(p.data) && p.data[p.pos] == '}' {
		p.pos++
		p.depth--
		return n, nil
	}
	// Members collect on the parser's stack (nested objects push and pop
	// above them) and move to an exactly sized slice at the end: one
	// allocation per object instead of a growing slice.
	base := len(p.members)
	for {
		mine := p.members[base:]
		p.skipWS()
		if p.pos >= len(p.data) || p.data[p.pos] != '"' {
			return node{}, p.syntax("want a string key")
		}
		key, err := p.str()
		if err != nil {
			return node{}, err
		}
		if bad := badKey(key); bad != "" {
			return node{}, p.fail(CodeBadRequest, "key %q is not allowed: keys may not %s", truncate(key, 64), bad)
		}
		if len(mine) < 16 {
			for i := range mine {
				if mine[i].key == key {
					return node{}, p.fail(CodeInvalidJSON, "duplicate key %q", truncate(key, 64))
				}
			}
		} else {
			if seen == nil {
				seen = make(map[string]struct{}, 32)
				for i := range mine {
					seen[mine[i].key] = struct{}{}
				}
			}
			if _, dup := seen[key]; dup {
				return node{}, p.fail(CodeInvalidJSON, "duplicate key %q", truncate(key, 64))
			}
			seen[key] = struct{}{}
		}
		if p.lim.MaxKeys >= 0 && len(mine) >= p.lim.MaxKeys {
			return node{}, p.fail(CodeTooLarge, "object has more than %d keys", p.lim.MaxKeys)
		}
		p.skipWS()
		if p.pos >= len(p.data) || p.data[p.pos] != ':' {
			return node{}, p.syntax("want ':' after an object key")
		}
		p.pos++
		p.skipWS()
		p.path = append(p.path, pathElem{key: key, index: -1})
		v, err := p.value()
		if err != nil {
			return node{}, err
		}
		p.path = p.path[:len(p.path)-1]
		p.members = append(p.members, member{key: key, val: v})
		p.skipWS()
		if p.pos >= len(p.data) {
			return node{}, p.syntax("unterminated object")
		}
		switch p.data[p.pos] {
		case ',':
			p.pos++
		case '}':
			p.pos++
			p.depth--
			n.obj = make([]member, len(p.members)-base)
			copy(n.obj, p.members[base:])
			clear(p.members[base:])
			p.members = p.members[:base]
			return n, nil
		default:
			return node{}, p.syntax("want ',' or '}' in an object")
		}
	}
}

// badKey says why an object key is refused, or returns "". Keys that start
// with '$' or hold '.' or NUL are operators or paths to document databases
// (MongoDB); refusing them everywhere keeps client data from being read as
// a query.
func badKey(k string) string {
	switch {
	case strings.HasPrefix(k, "$"):
		return "start with '$'"
	case strings.IndexByte(k, '.') >= 0:
		return "contain '.'"
	case strings.IndexByte(k, 0) >= 0:
		return "contain NUL"
	}
	return ""
}

func (p *jsonParser) array() (node, *Error) {
	if err := p.enter(); err != nil {
		return node{}, err
	}
	p.pos++ // [
	limit, what := p.lim.MaxArray, "array"
	if len(p.path) == 1 && p.path[0].index < 0 && p.topArrays != nil {
		if t, ok := p.topArrays[p.path[0].key]; ok {
			limit, what = t.max, t.what
		}
	}
	n := node{kind: kArray}
	p.skipWS()
	if p.pos < len(p.data) && p.data[p.pos] == ']' {
		p.pos++
		p.depth--
		return n, nil
	}
	base := len(p.elems) // as object's members
	for {
		if limit >= 0 && len(p.elems)-base >= limit {
			return node{}, p.fail(CodeTooLarge, "%s has more than %d elements", what, limit)
		}
		p.skipWS()
		p.path = append(p.path, pathElem{index: len(p.elems) - base})
		v, err := p.value()
		if err != nil {
			return node{}, err
		}
		p.path = p.path[:len(p.path)-1]
		p.elems = append(p.elems, v)
		p.skipWS()
		if p.pos >= len(p.data) {
			return node{}, p.syntax("unterminated array")
		}
		switch p.data[p.pos] {
		case ',':
			p.pos++
		case ']':
			p.pos++
			p.depth--
			n.arr = make([]node, len(p.elems)-base)
			copy(n.arr, p.elems[base:])
			clear(p.elems[base:])
			p.elems = p.elems[:base]
			return n, nil
		default:
			return node{}, p.syntax("want ',' or ']' in an array")
		}
	}
}

func (p *jsonParser) number() (node, *Error) {
	start := p.pos
	d := p.data
	i, fault := scanNumber(d, p.pos)
	switch fault {
	case numberNoInt:
		p.pos = i
		return node{}, p.syntax("invalid number")
	case numberNoFrac:
		p.pos = i
		return node{}, p.syntax("invalid number: no digits after '.'")
	case numberNoExpDigs:
		p.pos = i
		return node{}, p.syntax("invalid number: no digits in the exponent")
	}
	if i-start > maxNumberLen {
		return node{}, p.fail(CodeTooLarge, "number literal longer than %d characters", maxNumberLen)
	}
	p.pos = i
	return node{kind: kNumber, s: string(d[start:i])}, nil
}

// str parses a string at p.pos (which holds '"') and returns it decoded.
func (p *jsonParser) str() (string, *Error) {
	d := p.data
	p.pos++
	start := p.pos
	// Fast path: no escapes, ASCII or valid UTF-8, no control characters.
	i := start
	for i < len(d) {
		c := d[i]
		if c == '"' {
			s := string(d[start:i])
			if p.lim.MaxString >= 0 && len(s) > p.lim.MaxString {
				return "", p.fail(CodeTooLarge, "string of %d bytes is over the limit of %d", len(s), p.lim.MaxString)
			}
			p.pos = i + 1
			return s, nil
		}
		if c == '\\' || c < 0x20 {
			break
		}
		if c < utf8.RuneSelf {
			i++
			continue
		}
		r, size := utf8.DecodeRune(d[i:])
		if r == utf8.RuneError && size <= 1 {
			p.pos = i
			return "", p.fail(CodeInvalidJSON, "invalid UTF-8 in a string (at byte %d)", i)
		}
		i += size
	}
	// Slow path: decode escapes.
	buf := make([]byte, 0, i-start+16)
	buf = append(buf, d[start:i]...)
	for {
		if p.lim.MaxString >= 0 && len(buf) > p.lim.MaxString {
			return "", p.fail(CodeTooLarge, "string of more than %d bytes is over the limit", p.lim.MaxString)
		}
		if i >= len(d) {
			p.pos = i
			return "", p.syntax("unterminated string")
		}
		c := d[i]
		switch {
		case c == '"':
			p.pos = i + 1
			return string(buf), nil
		case c < 0x20:
			p.pos = i
			return "", p.syntax("control character in a string")
		case c == '\\':
			if i+1 >= len(d) {
				p.pos = i
				return "", p.syntax("unterminated escape")
			}
			e := d[i+1]
			i += 2
			switch e {
			case '"', '\\', '/':
				buf = append(buf, e)
			case 'b':
				buf = append(buf, '\b')
			case 'f':
				buf = append(buf, '\f')
			case 'n':
				buf = append(buf, '\n')
			case 'r':
				buf = append(buf, '\r')
			case 't':
				buf = append(buf, '\t')
			case 'u':
				r, ok := hex4(d, i)
				if !ok {
					p.pos = i
					return "", p.syntax("invalid \\u escape")
				}
				i += 4
				if utf16.IsSurrogate(r) {
					var r2 rune = -1
					if i+6 <= len(d) && d[i] == '\\' && d[i+1] == 'u' {
						r2, ok = hex4(d, i+2)
						if !ok {
							r2 = -1
						}
					}
					dec := utf16.DecodeRune(r, r2)
					if dec == utf8.RuneError {
						p.pos = i
						return "", p.fail(CodeInvalidJSON, "lone UTF-16 surrogate in a string (at byte %d)", i)
					}
					i += 6
					r = dec
				}
				buf = utf8.AppendRune(buf, r)
			default:
				p.pos = i - 1
				return "", p.syntax("invalid escape")
			}
		case c < utf8.RuneSelf:
			buf = append(buf, c)
			i++
		default:
			r, size := utf8.DecodeRune(d[i:])
			if r == utf8.RuneError && size <= 1 {
				p.pos = i
				return "", p.fail(CodeInvalidJSON, "invalid UTF-8 in a string (at byte %d)", i)
			}
			buf = append(buf, d[i:i+size]...)
			i += size
		}
	}
}

func hex4(d []byte, i int) (rune, bool) {
	if i+4 > len(d) {
		return 0, false
	}
	var r rune
	for _, c := range d[i : i+4] {
		r <<= 4
		switch {
		case '0' <= c && c <= '9':
			r |= rune(c - '0')
		case 'a' <= c && c <= 'f':
			r |= rune(c - 'a' + 10)
		case 'A' <= c && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, false
		}
	}
	return r, true
}

// canonicalOf returns the canonical form of a parsed value of src: a copy
// of its bytes when they are canonical already (the usual case: what a
// client or server of this package wrote), else re-encoded from the tree.
func canonicalOf(n *node, src []byte) []byte {
	if n.end > n.start && int(n.end) <= len(src) {
		if raw := src[n.start:n.end]; isCanonical(raw) {
			return bytes.Clone(raw)
		}
	}
	return appendCanonical(nil, n)
}

// appendCanonical appends n in canonical form.
func appendCanonical(b []byte, n *node) []byte {
	switch n.kind {
	case kNull:
		return append(b, "null"...)
	case kBool:
		if n.b {
			return append(b, "true"...)
		}
		return append(b, "false"...)
	case kNumber:
		return append(b, n.s...)
	case kString:
		return appendString(b, n.s)
	case kArray:
		b = append(b, '[')
		for i := range n.arr {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendCanonical(b, &n.arr[i])
		}
		return append(b, ']')
	}
	b = append(b, '{')
	ms := n.obj
	if !slices.IsSortedFunc(ms, func(x, y member) int { return strings.Compare(x.key, y.key) }) {
		ms = slices.Clone(ms)
		slices.SortFunc(ms, func(x, y member) int { return strings.Compare(x.key, y.key) })
	}
	for i := range ms {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, ms[i].key)
		b = append(b, ':')
		b = appendCanonical(b, &ms[i].val)
	}
	return append(b, '}')
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a canonical JSON string. s must be valid UTF-8.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\b':
			b = append(b, '\\', 'b')
		case '\f':
			b = append(b, '\\', 'f')
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// canonicalValue returns the canonical form of one JSON value, checked
// against lim. Common scalars that are already canonical come back as they
// are, without a parse.
func canonicalValue(v []byte, lim Limits) ([]byte, *Error) {
	if isCanonicalScalar(v, lim) {
		return v, nil
	}
	if lim.MaxString < 0 && lim.MaxArray < 0 && lim.MaxKeys < 0 && isCanonical(v) {
		return v, nil
	}
	n, err := parseJSON(v, lim)
	if err != nil {
		return nil, err
	}
	return appendCanonical(make([]byte, 0, len(v)), &n), nil
}

// isCanonicalScalar reports whether v is null, true, false, a plain
// integer, or a string needing no escapes, within lim.
func isCanonicalScalar(v []byte, lim Limits) bool {
	switch string(v) {
	case "null", "true", "false":
		return true
	}
	if len(v) == 0 {
		return false
	}
	if v[0] == '"' {
		if len(v) < 2 || v[len(v)-1] != '"' || lim.MaxString >= 0 && len(v)-2 > lim.MaxString {
			return false
		}
		body := v[1 : len(v)-1]
		for _, c := range body {
			if c < 0x20 || c == '"' || c == '\\' {
				return false
			}
		}
		return utf8.Valid(body)
	}
	// Integers without leading zeros.
	i := 0
	if v[0] == '-' {
		i++
	}
	if i >= len(v) || len(v) > 20 || v[i] == '0' && len(v) > i+1 {
		return false
	}
	for ; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return false
		}
	}
	return true
}

// isCanonical reports, without allocating, whether v is one JSON value in
// canonical form that the parser would accept without limits (keys sorted and
// unique, none refused by badKey, minimal escapes, valid UTF-8, depth ≤
// 512). Keys holding escapes make it answer false; callers then take the
// slow path, which decides.
func isCanonical(v []byte) bool {
	end, ok := canonAt(v, 0, 1)
	return ok && end == len(v)
}

func canonAt(v []byte, i, depth int) (int, bool) {
	if i >= len(v) || depth > trustedLimits.MaxDepth {
		return 0, false
	}
	switch c := v[i]; {
	case c == '"':
		return canonString(v, i)
	case c == '{':
		i++
		if i < len(v) && v[i] == '}' {
			return i + 1, true
		}
		var prev []byte
		for first := true; ; first = false {
			if i >= len(v) || v[i] != '"' {
				return 0, false
			}
			ke, ok := canonString(v, i)
			if !ok {
				return 0, false
			}
			key := v[i+1 : ke-1]
			if bytes.IndexByte(key, '\\') >= 0 || len(key) > 0 && key[0] == '$' || bytes.IndexByte(key, '.') >= 0 {
				return 0, false
			}
			if !first && bytes.Compare(prev, key) >= 0 {
				return 0, false
			}
			prev = key
			i = ke
			if i >= len(v) || v[i] != ':' {
				return 0, false
			}
			if i, ok = canonAt(v, i+1, depth+1); !ok || i >= len(v) {
				return 0, false
			}
			switch v[i] {
			case ',':
				i++
			case '}':
				return i + 1, true
			default:
				return 0, false
			}
		}
	case c == '[':
		i++
		if i < len(v) && v[i] == ']' {
			return i + 1, true
		}
		for {
			var ok bool
			if i, ok = canonAt(v, i, depth+1); !ok || i >= len(v) {
				return 0, false
			}
			switch v[i] {
			case ',':
				i++
			case ']':
				return i + 1, true
			default:
				return 0, false
			}
		}
	case c == 't':
		return i + 4, bytes.HasPrefix(v[i:], []byte("true"))
	case c == 'f':
		return i + 5, bytes.HasPrefix(v[i:], []byte("false"))
	case c == 'n':
		return i + 4, bytes.HasPrefix(v[i:], []byte("null"))
	}
	return canonNumber(v, i)
}

// canonString checks a canonical string at v[i] == '"' and returns the index
// after its closing quote.
func canonString(v []byte, i int) (int, bool) {
	if i >= len(v) || v[i] != '"' {
		return 0, false
	}
	for j := i + 1; j < len(v); {
		c := v[j]
		switch {
		case c == '"':
			return j + 1, true
		case c < 0x20:
			return 0, false
		case c == '\\':
			if j+1 >= len(v) {
				return 0, false
			}
			switch v[j+1] {
			case '"', '\\', 'b', 'f', 'n', 'r', 't':
				j += 2
			case 'u':
				// Only \u00xx, lowercase, for control characters without a
				// short escape.
				if j+6 > len(v) || v[j+2] != '0' || v[j+3] != '0' || v[j+4] > '1' || v[j+4] < '0' {
					return 0, false
				}
				h := v[j+5]
				if !('0' <= h && h <= '9' || 'a' <= h && h <= 'f') {
					return 0, false
				}
				r, _ := hex4(v, j+2)
				switch r {
				case '\b', '\f', '\n', '\r', '\t':
					return 0, false
				}
				j += 6
			default:
				return 0, false
			}
		default:
			var valid bool
			if j, valid = ScanPlain(v, j); !valid {
				return 0, false
			}
		}
	}
	return 0, false
}

// canonNumber checks a JSON number at v[i] and returns the index after it.
func canonNumber(v []byte, i int) (int, bool) {
	end, ok := ScanNumber(v, i)
	if !ok {
		return 0, false
	}
	return end, end-i <= maxNumberLen
}
