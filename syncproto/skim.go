package syncproto

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"
)

// Skimming reads a stored record (Encode's JSON, record.go's appendJSON)
// for its key and a few fields without decoding the rest: the server's read
// model (server/readmodel) reads every record of every pairing this way.
// It must agree with the encoder and with DecodeRecord on what it reads
// (TestSkimMatchesEncoder): wherever a record is not as Encode writes it,
// Skim says so and the caller decodes the record in full.

// Skimmed is what Skim reads of a stored record: its key, the raw entries
// of the fields asked for (Fields[i] for want[i]) and whether it holds
// conflicts. The slices alias the data skimmed.
type Skimmed struct {
	Collection, ID, Pairing []byte
	Fields                  []SkimmedField
	// Conflicts: the record holds conflict entries (not read here).
	Conflicts bool
}

// SkimmedField is the raw JSON of one field's entry, {"dot": …, "hlc": …,
// "value": …}: each nil when absent (Value nil: the record has no such
// field).
type SkimmedField struct {
	Value, Dot, HLC []byte
}

// Entry reads the field's dot and HLC as DecodeRecord would; false when
// either is missing or not as Encode writes it.
func (f SkimmedField) Entry() (Dot, HLC, bool) {
	ds, _, ok := SkimPlainString(f.Dot, 0)
	if !ok {
		return Dot{}, HLC{}, false
	}
	dot, err := ParseDot(string(ds))
	if err != nil {
		return Dot{}, HLC{}, false
	}
	var h HLC
	if h.UnmarshalJSON(f.HLC) != nil {
		return Dot{}, HLC{}, false
	}
	return dot, h, true
}

// Skim reads the key of a stored record (Encode's JSON) and the entries of
// the fields named in want, into s.Fields[i] for want[i], without decoding
// the rest. It returns false when the record is not as expected or holds
// deletes (whether it is deleted depends on every dot it holds): the caller
// then decodes it in full with DecodeRecord. It never judges a record valid
// that DecodeRecord would refuse only in the parts it reads.
func Skim(data []byte, want []string, s *Skimmed) bool {
	if cap(s.Fields) < len(want) {
		s.Fields = make([]SkimmedField, len(want))
	}
	s.Fields = s.Fields[:len(want)]
	clear(s.Fields)
	s.Collection, s.ID, s.Pairing, s.Conflicts = nil, nil, nil, false
	i := SkipWS(data, 0)
	if i >= len(data) || data[i] != '{' {
		return false
	}
	i++
	for {
		i = SkipWS(data, i)
		if i < len(data) && data[i] == '}' {
			return s.Collection != nil && s.ID != nil && s.Pairing != nil && SkipWS(data, i+1) == len(data)
		}
		key, j, ok := SkimKey(data, i)
		if !ok {
			return false
		}
		i = j
		switch string(key) {
		case "collection", "id", "pairing":
			v, j, ok := SkimPlainString(data, i)
			if !ok {
				return false
			}
			switch string(key) {
			case "collection":
				s.Collection = v
			case "id":
				s.ID = v
			default:
				s.Pairing = v
			}
			i = j
		case "fields":
			if i = skimFields(data, i, want, s); i < 0 {
				return false
			}
		case "deletes":
			return false
		case "conflicts":
			start := SkipWS(data, i)
			if i = SkipValue(data, i); i < 0 {
				return false
			}
			s.Conflicts = string(data[start:i]) != "[]" && string(data[start:i]) != "null"
		default:
			if i = SkipValue(data, i); i < 0 {
				return false
			}
		}
		if i = SkipComma(data, i); i < 0 {
			return false
		}
	}
}

// skimFields reads the "fields" object at i; it returns the index after it,
// or -1.
func skimFields(data []byte, i int, want []string, s *Skimmed) int {
	i = SkipWS(data, i)
	if i >= len(data) || data[i] != '{' {
		return -1
	}
	i++
	for {
		i = SkipWS(data, i)
		if i < len(data) && data[i] == '}' {
			return i + 1
		}
		name, j, ok := SkimKey(data, i)
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
			if i = SkipValue(data, i); i < 0 {
				return -1
			}
		} else {
			// {"dot": …, "hlc": …, "value": …}
			i = SkipWS(data, i)
			if i >= len(data) || data[i] != '{' {
				return -1
			}
			i++
			for {
				i = SkipWS(data, i)
				if i < len(data) && data[i] == '}' {
					i++
					break
				}
				k, j, ok := SkimKey(data, i)
				if !ok {
					return -1
				}
				end := SkipValue(data, j)
				if end < 0 {
					return -1
				}
				switch string(k) {
				case "value":
					s.Fields[slot].Value = data[SkipWS(data, j):end]
				case "dot":
					s.Fields[slot].Dot = data[SkipWS(data, j):end]
				case "hlc":
					s.Fields[slot].HLC = data[SkipWS(data, j):end]
				}
				if i = SkipComma(data, end); i < 0 {
					return -1
				}
			}
		}
		if i = SkipComma(data, i); i < 0 {
			return -1
		}
	}
}

// The scanners below read the raw values Skim returns (a manifest, a list
// of strings) in the same way, for the readers of one collection's fields
// (server/readmodel's skimVisit): each reads at index i of data and returns
// the index after what it read, or fails (-1 or false).

// EachElement calls f with the raw bytes of each element of the JSON array
// that is data (whitespace around it allowed), in order, and reports
// whether data is such an array and f took every element. Like the scanners
// below it checks nesting and strings, not the grammar of literals: a
// caller reads what it needs of each element and says false for the rest.
func EachElement(data []byte, f func(elem []byte) bool) bool {
	i := SkipWS(data, 0)
	if i >= len(data) || data[i] != '[' {
		return false
	}
	i = SkipWS(data, i+1)
	if i < len(data) && data[i] == ']' {
		return SkipWS(data, i+1) == len(data)
	}
	for {
		i = SkipWS(data, i)
		end := SkipValue(data, i)
		if end < 0 || !f(data[i:end]) {
			return false
		}
		i = SkipWS(data, end)
		if i >= len(data) {
			return false
		}
		if data[i] == ']' {
			return SkipWS(data, i+1) == len(data)
		}
		if data[i] != ',' {
			return false
		}
		i++
	}
}

// EachMember calls f with each key (without escapes: a key with one fails)
// and raw value of the JSON object that is obj, in order, and reports
// whether obj is such an object and f took every member.
func EachMember(obj []byte, f func(key, val []byte) bool) bool {
	i := SkipWS(obj, 0)
	if i >= len(obj) || obj[i] != '{' {
		return false
	}
	i++
	for {
		i = SkipWS(obj, i)
		if i < len(obj) && obj[i] == '}' {
			return SkipWS(obj, i+1) == len(obj)
		}
		k, j, ok := SkimKey(obj, i)
		if !ok {
			return false
		}
		end := SkipValue(obj, j)
		if end < 0 || !f(k, obj[SkipWS(obj, j):end]) {
			return false
		}
		if i = SkipComma(obj, end); i < 0 {
			return false
		}
	}
}

// SkimKey reads `"key":` at i (a key without escapes).
func SkimKey(data []byte, i int) ([]byte, int, bool) {
	k, j, ok := SkimPlainString(data, i)
	if !ok {
		return nil, 0, false
	}
	j = SkipWS(data, j)
	if j >= len(data) || data[j] != ':' {
		return nil, 0, false
	}
	return k, j + 1, true
}

// SkimPlainString reads a JSON string without escapes at i.
func SkimPlainString(data []byte, i int) ([]byte, int, bool) {
	i = SkipWS(data, i)
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

// SkipWS passes JSON whitespace.
func SkipWS(data []byte, i int) int {
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

// SkipComma passes a "," (or stops before the closing "}" or "]").
func SkipComma(data []byte, i int) int {
	i = SkipWS(data, i)
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

// SkipValue returns the index after the JSON value at i, or -1. It checks
// nesting and strings, not the grammar of literals.
func SkipValue(data []byte, i int) int {
	i = SkipWS(data, i)
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

// RawString reads a raw JSON value as a string field is read (json.Unmarshal
// into a string): its string, or "" when it is absent or not a string.
func RawString(v []byte) string {
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		if in := v[1 : len(v)-1]; bytes.IndexByte(in, '\\') < 0 && bytes.IndexByte(in, '"') < 0 && PlainText(in) {
			return string(in)
		}
	} else {
		return ""
	}
	var s string
	_ = json.Unmarshal(v, &s)
	return s
}

// PlainText: valid UTF-8 without control characters (what a JSON string
// holds unescaped).
func PlainText(b []byte) bool {
	for _, c := range b {
		if c < 0x20 {
			return false
		}
	}
	return utf8.Valid(b)
}

// MayBeDeleted reports whether a stored record (syncproto.Encode's JSON)
// may be deleted: false only when it holds no deletes, found without
// decoding it (a record written otherwise than Encode writes it may be).
func MayBeDeleted(data []byte) bool {
	var s Skimmed
	return !Skim(data, nil, &s)
}
