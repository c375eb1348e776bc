package pairing

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"

	"github.com/pairsync/pairsync/syncproto"
)

// skimmed is what skimRecord reads of a stored record: its key and the raw
// values of the fields asked for (nil when absent). The slices alias the
// data skimmed.
type skimmed struct {
	coll, id, pairing []byte
	vals, dots, hlcs  [][]byte // raw JSON of each field's value, dot and hlc
	// conflicts: the record holds conflict entries (not read here).
	conflicts bool
}

// skimRecord reads the key of a stored record (syncproto.Encode's JSON) and
// the values of the fields named in want, into s.vals[i] for want[i],
// without decoding the rest. It returns false when the record is not as
// expected or holds deletes (whether it is deleted depends on every dot it
// holds): the caller then decodes it in full with syncproto.DecodeRecord.
// It never judges a record valid that DecodeRecord would refuse only in the
// parts it reads.
func skimRecord(data []byte, want []string, s *skimmed) bool {
	if cap(s.vals) < len(want) {
		s.vals, s.dots, s.hlcs = make([][]byte, len(want)), make([][]byte, len(want)), make([][]byte, len(want))
	}
	s.vals, s.dots, s.hlcs = s.vals[:len(want)], s.dots[:len(want)], s.hlcs[:len(want)]
	clear(s.vals)
	clear(s.dots)
	clear(s.hlcs)
	s.coll, s.id, s.pairing, s.conflicts = nil, nil, nil, false
	i := skipWS(data, 0)
	if i >= len(data) || data[i] != '{' {
		return false
	}
	i++
	for {
		i = skipWS(data, i)
		if i < len(data) && data[i] == '}' {
			return s.coll != nil && s.id != nil && s.pairing != nil && skipWS(data, i+1) == len(data)
		}
		key, j, ok := skimKey(data, i)
		if !ok {
			return false
		}
		i = j
		switch string(key) {
		case "collection", "id", "pairing":
			v, j, ok := skimPlainString(data, i)
			if !ok {
				return false
			}
			switch string(key) {
			case "collection":
				s.coll = v
			case "id":
				s.id = v
			default:
				s.pairing = v
			}
			i = j
		case "fields":
			if i = skimFields(data, i, want, s); i < 0 {
				return false
			}
		case "deletes":
			return false
		case "conflicts":
			start := skipWS(data, i)
			if i = skipValue(data, i); i < 0 {
				return false
			}
			s.conflicts = string(data[start:i]) != "[]" && string(data[start:i]) != "null"
		default:
			if i = skipValue(data, i); i < 0 {
				return false
			}
		}
		if i = skipComma(data, i); i < 0 {
			return false
		}
	}
}

// skimFields reads the "fields" object at i; it returns the index after it,
// or -1.
func skimFields(data []byte, i int, want []string, s *skimmed) int {
	i = skipWS(data, i)
	if i >= len(data) || data[i] != '{' {
		return -1
	}
	i++
	for {
		i = skipWS(data, i)
		if i < len(data) && data[i] == '}' {
			return i + 1
		}
		name, j, ok := skimKey(data, i)
		if !ok {
			return -1
		}
		i = j
		slot := -1
		for k, w := range want {
			if string(name) == w {
				slot = k
				break
			}
		}
		if slot < 0 {
			if i = skipValue(data, i); i < 0 {
				return -1
			}
		} else {
			// {"dot": …, "hlc": …, "value": …}
			i = skipWS(data, i)
			if i >= len(data) || data[i] != '{' {
				return -1
			}
			i++
			for {
				i = skipWS(data, i)
				if i < len(data) && data[i] == '}' {
					i++
					break
				}
				k, j, ok := skimKey(data, i)
				if !ok {
					return -1
				}
				end := skipValue(data, j)
				if end < 0 {
					return -1
				}
				switch string(k) {
				case "value":
					s.vals[slot] = data[skipWS(data, j):end]
				case "dot":
					s.dots[slot] = data[skipWS(data, j):end]
				case "hlc":
					s.hlcs[slot] = data[skipWS(data, j):end]
				}
				if i = skipComma(data, end); i < 0 {
					return -1
				}
			}
		}
		if i = skipComma(data, i); i < 0 {
			return -1
		}
	}
}

// skimKey reads `"key":` at i (a key without escapes).
func skimKey(data []byte, i int) ([]byte, int, bool) {
	k, j, ok := skimPlainString(data, i)
	if !ok {
		return nil, 0, false
	}
	j = skipWS(data, j)
	if j >= len(data) || data[j] != ':' {
		return nil, 0, false
	}
	return k, j + 1, true
}

// skimPlainString reads a JSON string without escapes at i.
func skimPlainString(data []byte, i int) ([]byte, int, bool) {
	i = skipWS(data, i)
	if i >= len(data) || data[i] != '"' {
		return nil, 0, false
	}
	end := bytes.IndexByte(data[i+1:], '"')
	if end < 0 {
		return nil, 0, false
	}
	s := data[i+1 : i+1+end]
	if bytes.IndexByte(s, '\\') >= 0 {
		return nil, 0, false
	}
	return s, i + end + 2, true
}

func skipWS(data []byte, i int) int {
	for i < len(data) {
		switch data[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// skipComma passes a "," (or stops before the closing "}" or "]").
func skipComma(data []byte, i int) int {
	i = skipWS(data, i)
	if i >= len(data) {
		return -1
	}
	switch data[i] {
	case ',':
		return i + 1
	case '}', ']':
		return i
	}
	return -1
}

// skipValue returns the index after the JSON value at i, or -1. It checks
// nesting and strings, not the grammar of literals.
func skipValue(data []byte, i int) int {
	i = skipWS(data, i)
	if i >= len(data) {
		return -1
	}
	switch data[i] {
	case '"':
		return skipString(data, i)
	case '{', '[':
		depth := 0
		for i < len(data) {
			switch data[i] {
			case '"':
				if i = skipString(data, i); i < 0 {
					return -1
				}
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return -1
	}
	start := i
	for i < len(data) {
		switch data[i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			if i == start {
				return -1
			}
			return i
		}
		i++
	}
	return -1
}

// skipString returns the index after the string at i: after the first
// quote not escaped (preceded by an even number of backslashes).
func skipString(data []byte, i int) int {
	i++
	for {
		q := bytes.IndexByte(data[i:], '"')
		if q < 0 {
			return -1
		}
		i += q
		n := 0
		for j := i - 1; j >= 0 && data[j] == '\\'; j-- {
			n++
		}
		if n%2 == 0 {
			return i + 1
		}
		i++
	}
}

// rawString reads a JSON value as str does: its string, or "" when it is
// absent or not a string.
func rawString(v []byte) string {
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		if in := v[1 : len(v)-1]; bytes.IndexByte(in, '\\') < 0 && bytes.IndexByte(in, '"') < 0 && plainText(in) {
			return string(in)
		}
	} else {
		return ""
	}
	var s string
	_ = json.Unmarshal(v, &s)
	return s
}

// plainText: valid UTF-8 without control characters (what a JSON string
// holds unescaped).
func plainText(b []byte) bool {
	for _, c := range b {
		if c < 0x20 {
			return false
		}
	}
	return utf8.Valid(b)
}

// skimToRecord reads a stored record as DecodeRecord would, but only the
// fields named in want (their values; the dot and HLC of the field named
// order only, the others' left zero): enough for the functions that read
// those fields of a live record. It returns false when skimRecord does, or
// a field is not as Encode writes it.
func skimToRecord(data []byte, want []string, order string, s *skimmed) (syncproto.Record, bool) {
	if !skimRecord(data, want, s) || s.conflicts { // a conflict entry may cite photos (citedPhotos)
		return syncproto.Record{}, false
	}
	// The pairing is only compared (it aliases data); the collection is
	// one of a few.
	var coll string
	switch string(s.coll) {
	case CollIssues:
		coll = CollIssues
	case CollIssueEvents:
		coll = CollIssueEvents
	default:
		coll = string(s.coll)
	}
	r := syncproto.Record{Collection: coll, ID: string(s.id), Pairing: unsafeString(s.pairing),
		Fields: make(map[string]syncproto.Field, len(want))}
	for i, name := range want {
		if s.vals[i] == nil {
			continue
		}
		if name != order {
			r.Fields[name] = syncproto.Field{Value: json.RawMessage(s.vals[i])}
			continue
		}
		ds, _, ok := skimPlainString(s.dots[i], 0)
		if !ok {
			return syncproto.Record{}, false
		}
		dot, err := syncproto.ParseDot(string(ds))
		if err != nil {
			return syncproto.Record{}, false
		}
		var h syncproto.HLC
		if h.UnmarshalJSON(s.hlcs[i]) != nil {
			return syncproto.Record{}, false
		}
		r.Fields[name] = syncproto.Field{Value: json.RawMessage(s.vals[i]), Dot: dot, HLC: h}
	}
	return r, true
}

// issueWant and eventWant are the fields the Ledger reads of issues and
// issue events (issueFromRecord, IssueEventFromRecord, citedPhotos).
var (
	issueWant = []string{"counterparty", "title", "category", "priority", "raised_by", "visit", "raised_at", "received_at",
		"photos", "evidence"}
	eventWant = []string{"issue", "type", "role", "by", "reason", "handler", "handler_name", "resolution", "note",
		"response", "code", "at", "received_at", "due", "evidence", "photos"}
)

// MayBeDeleted reports whether a stored record (syncproto.Encode's JSON)
// may be deleted: false only when it holds no deletes, found without
// decoding it (a record written otherwise than Encode writes it may be).
func MayBeDeleted(data []byte) bool {
	var s skimmed
	return !skimRecord(data, nil, &s)
}
