package pairing

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/pairsync/pairsync/syncproto"
)

// The checks of a pushed value read its bytes here, without encoding/json
// (issue 20): a validity check that judges as json.Valid does, then walks
// over the valid value with syncproto's skimmers. What a value decodes to
// is what json.Unmarshal would decode it to (strings unescaped, invalid
// UTF-8 and lone surrogates as U+FFFD, a null member leaving a scalar
// alone and clearing a pointer, the last of duplicate keys winning), and a
// refusal names the field and says what encoding/json's checks said,
// down to encoding/json's own error text in a photo's refusal.
// checkvalue_oracle_test.go keeps those checks as they were, and
// checkvalue_diff_test.go compares the two.

// maxJSONDepth is encoding/json's nesting limit.
const maxJSONDepth = 10000

// jsonValid reports whether v is one JSON value (space around it allowed)
// as json.Valid judges it.
func jsonValid(v []byte) bool {
	i, ok := validAt(v, syncproto.SkipSpace(v, 0), 0)
	return ok && syncproto.SkipSpace(v, i) == len(v)
}

// validAt returns the index after the valid JSON value at v[i].
func validAt(v []byte, i, depth int) (int, bool) {
	if i >= len(v) {
		return i, false
	}
	switch c := v[i]; c {
	case '"':
		return validString(v, i)
	case '{', '[':
		if depth++; depth > maxJSONDepth {
			return i, false
		}
		close := byte(']')
		if c == '{' {
			close = '}'
		}
		i = syncproto.SkipSpace(v, i+1)
		if i < len(v) && v[i] == close {
			return i + 1, true
		}
		for {
			var ok bool
			if c == '{' {
				if i >= len(v) || v[i] != '"' {
					return i, false
				}
				if i, ok = validString(v, i); !ok {
					return i, false
				}
				if i = syncproto.SkipSpace(v, i); i >= len(v) || v[i] != ':' {
					return i, false
				}
				i = syncproto.SkipSpace(v, i+1)
			}
			if i, ok = validAt(v, i, depth); !ok {
				return i, false
			}
			if i = syncproto.SkipSpace(v, i); i >= len(v) {
				return i, false
			}
			switch v[i] {
			case ',':
				i = syncproto.SkipSpace(v, i+1)
			case close:
				return i + 1, true
			default:
				return i, false
			}
		}
	case 't':
		return i + 4, bytes.HasPrefix(v[i:], []byte("true"))
	case 'f':
		return i + 5, bytes.HasPrefix(v[i:], []byte("false"))
	case 'n':
		return i + 4, bytes.HasPrefix(v[i:], []byte("null"))
	}
	return syncproto.ScanNumber(v, i)
}

// validString returns the index after the valid JSON string at v[i]:
// no control characters, escapes of JSON's grammar; any other byte (UTF-8
// or not) as encoding/json's scanner takes it.
func validString(v []byte, i int) (int, bool) {
	for i++; i < len(v); i++ {
		switch c := v[i]; {
		case c == '"':
			return i + 1, true
		case c < 0x20:
			return i, false
		case c == '\\':
			if i++; i >= len(v) {
				return i, false
			}
			switch v[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if i+4 >= len(v) {
					return i, false
				}
				for _, h := range v[i+1 : i+5] {
					if !('0' <= h && h <= '9' || 'a' <= h && h <= 'f' || 'A' <= h && h <= 'F') {
						return i, false
					}
				}
				i += 4
			default:
				return i, false
			}
		}
	}
	return i, false
}

// unquote decodes the valid JSON string raw (with its quotes) as
// encoding/json does: the bytes between the quotes when they need nothing
// done, else a new slice with escapes decoded and invalid UTF-8 or lone
// surrogates as U+FFFD.
func unquote(raw []byte) []byte {
	s := raw[1 : len(raw)-1]
	if bytes.IndexByte(s, '\\') < 0 && utf8.Valid(s) {
		return s
	}
	b := make([]byte, 0, len(s)+2*utf8.UTFMax)
	for r := 0; r < len(s); {
		switch c := s[r]; {
		case c == '\\':
			switch e := s[r+1]; e {
			case 'b':
				b = append(b, '\b')
			case 'f':
				b = append(b, '\f')
			case 'n':
				b = append(b, '\n')
			case 'r':
				b = append(b, '\r')
			case 't':
				b = append(b, '\t')
			case 'u':
				rr := hex4(s[r+2:])
				r += 6
				if utf16.IsSurrogate(rr) {
					if r+6 <= len(s) && s[r] == '\\' && s[r+1] == 'u' {
						if dec := utf16.DecodeRune(rr, hex4(s[r+2:])); dec != unicode.ReplacementChar {
							r += 6
							b = utf8.AppendRune(b, dec)
							continue
						}
					}
					rr = unicode.ReplacementChar
				}
				b = utf8.AppendRune(b, rr)
				continue
			default: // '"', '\\', '/'
				b = append(b, e)
			}
			r += 2
		case c < utf8.RuneSelf:
			b = append(b, c)
			r++
		default:
			rr, size := utf8.DecodeRune(s[r:])
			r += size
			b = utf8.AppendRune(b, rr)
		}
	}
	return b
}

// hex4 reads four hex digits (valid: validString checked them).
func hex4(h []byte) rune {
	var r rune
	for _, c := range h[:4] {
		switch {
		case c <= '9':
			c -= '0'
		case c >= 'a':
			c -= 'a' - 10
		default:
			c -= 'A' - 10
		}
		r = r<<4 | rune(c)
	}
	return r
}

// trimmed is the valid value v without the space around it.
func trimmed(v []byte) []byte {
	i := syncproto.SkipSpace(v, 0)
	j := len(v)
	for j > i && (v[j-1] == ' ' || v[j-1] == '\t' || v[j-1] == '\n' || v[j-1] == '\r') {
		j--
	}
	return v[i:j]
}

// eachMember calls f with each key (raw, with its quotes) and raw value of
// the valid JSON object obj (trimmed), in order.
func eachMember(obj []byte, f func(key, val []byte)) {
	i := 1
	for {
		i = syncproto.SkipSpace(obj, i)
		if obj[i] == '}' {
			return
		}
		kend := syncproto.SkipValue(obj, i)
		key := obj[i:kend]
		vs := syncproto.SkipSpace(obj, syncproto.SkipSpace(obj, kend)+1)
		ve := syncproto.SkipValue(obj, vs)
		f(key, obj[vs:ve])
		if i = syncproto.SkipSpace(obj, ve); obj[i] == ',' {
			i++
		}
	}
}

// eachElement calls f with each raw element of the valid JSON array arr,
// in order, until f says false.
func eachElement(arr []byte, f func(elem []byte) bool) {
	syncproto.EachElement(arr, f)
}

// count is the number of elements of the valid JSON array arr.
func count(arr []byte) int {
	n := 0
	eachElement(arr, func([]byte) bool { n++; return true })
	return n
}

// kindName is how encoding/json names the kind of a raw value in an
// UnmarshalTypeError ("number" without its digits).
func kindName(v []byte) string {
	switch v[0] {
	case '"':
		return "string"
	case 't', 'f':
		return "bool"
	case '[':
		return "array"
	case '{':
		return "object"
	}
	return "number"
}

// checkValueScan is checkValue's check of any value: every refusal is
// worded here. It reads v without encoding/json, except a pairing's
// former officers (checkFormer).
func checkValueScan(f FieldSpec, v []byte, now time.Time) *syncproto.Error {
	bad := func(format string, args ...any) *syncproto.Error {
		return why(invalid(f.Name, "%s: "+format, append([]any{f.Name}, args...)...), ReasonBadValue, "field", f.Name)
	}
	switch f.Type {
	case TypeString, TypeText:
		s, ok := jsonString(v)
		if !ok {
			return bad("want a string")
		}
		return checkText(f, s)
	case TypeEnum:
		if f.Min != nil { // an enum of numbers (rating levels)
			return checkInt(f, v)
		}
		s, ok := jsonString(v)
		if !ok {
			return bad("want a string")
		}
		if !slices.ContainsFunc(f.Enum, func(c Choice) bool { return c.Value == s }) {
			return why(bad("%q is not one of %s", s, enumValues(f.Enum)), ReasonNotAChoice, "field", f.Name, "value", s)
		}
	case TypeInt:
		return checkInt(f, v)
	case TypeBool:
		if !jsonValid(v) {
			return bad("want true or false")
		}
		switch string(trimmed(v)) {
		case "true", "false", "null":
		default:
			return bad("want true or false")
		}
	case TypeTime:
		t, e := parseTime(f, v)
		if e != nil {
			return e
		}
		return checkTime(f, t, now)
	case TypeDate:
		s, ok := jsonString(v)
		if !ok || !datePattern.MatchString(s) {
			return bad("want a date YYYY-MM-DD")
		}
		t, err := time.Parse(time.DateOnly, s)
		if err != nil {
			return bad("want a date YYYY-MM-DD")
		}
		return checkTime(f, t, now)
	case TypeID:
		s, ok := jsonString(v)
		if !ok || !idPattern.MatchString(s) {
			return bad("want an id (1–128 of A–Z, a–z, 0–9, _ and -)")
		}
	case TypeIDs, TypeSHA256s:
		arr, ok := arrayOf(v)
		if ok && arr != nil {
			eachElement(arr, func(el []byte) bool {
				ok = el[0] == '"' || el[0] == 'n'
				return ok
			})
		}
		if !ok {
			return bad("want an array of strings")
		}
		if n := count(arr); arr != nil && n > f.MaxLen {
			return why(bad("at most %d items", f.MaxLen), ReasonTooMany, "field", f.Name, "max", strconv.Itoa(f.MaxLen))
		}
		var e *syncproto.Error
		var buf [8][]byte
		seen := buf[:0]
		if arr != nil {
			eachElement(arr, func(el []byte) bool {
				var s []byte
				if el[0] == '"' {
					s = unquote(el)
				}
				valid := validID(s)
				if f.Type == TypeSHA256s {
					valid = validSHA256(s)
				}
				if !valid {
					e = bad("%q is not a valid %s", s, map[bool]string{true: "SHA-256 (64 lowercase hex)", false: "id"}[f.Type == TypeSHA256s])
					return false
				}
				for _, x := range seen {
					if bytes.Equal(x, s) {
						e = bad("%q is listed twice", s)
						return false
					}
				}
				seen = append(seen, s)
				return true
			})
		}
		return e
	case TypeLocation:
		if e := strictObject(v, locationKeys); e != "" {
			return bad("%s", e)
		}
		var lat, lng, acc *float64
		ok := true
		if obj := trimmed(v); obj[0] == '{' {
			eachMember(obj, func(key, val []byte) {
				x, good := floatMember(val)
				ok = ok && good
				switch string(unquote(key)) {
				case "lat":
					lat = x
				case "lng":
					lng = x
				default:
					acc = x
				}
			})
		}
		if !ok || lat == nil || lng == nil {
			return bad("want {\"lat\": number, \"lng\": number, \"accuracy_m\": number}")
		}
		if *lat < -90 || *lat > 90 || *lng < -180 || *lng > 180 {
			return bad("lat must lie in [-90, 90] and lng in [-180, 180]")
		}
		if acc != nil && (*acc < 0 || *acc > 1e6) {
			return bad("accuracy_m must lie in [0, 1000000]")
		}
	case TypePhotos:
		return checkPhotos(f, v, now)
	case TypeParticipants, TypePersons:
		keys := participantKeys
		if f.Type == TypePersons {
			keys = keys[:2]
		}
		return checkObjects(f, v, keys, "name")
	case TypeOfficers:
		arr, ok := arrayOf(v)
		if !ok {
			return bad("want an array of {\"user_id\", \"primary\"}")
		}
		if n := count(arr); arr != nil && n > f.MaxLen {
			return why(bad("at most %d items", f.MaxLen), ReasonTooMany, "field", f.Name, "max", strconv.Itoa(f.MaxLen))
		}
		var e *syncproto.Error
		var seen []string
		if arr != nil {
			eachElement(arr, func(it []byte) bool {
				if s := strictObject(it, officerKeys); s != "" {
					e = bad("%s", s)
					return false
				}
				var id []byte
				good := true
				if it[0] == '{' {
					eachMember(it, func(key, val []byte) {
						switch {
						case val[0] == 'n':
						case string(unquote(key)) == "user_id":
							if good = good && val[0] == '"'; good {
								id = unquote(val)
							}
						default:
							good = good && (val[0] == 't' || val[0] == 'f')
						}
					})
				}
				if !good || !validID(id) || slices.Contains(seen, string(id)) {
					e = bad("each officer needs a user_id, listed once")
					return false
				}
				seen = append(seen, string(id))
				return true
			})
		}
		return e
	case TypeFormer:
		return checkFormer(f, v)
	default:
		return bad("unknown type %s", f.Type)
	}
	return nil
}

var officerKeys = []string{"user_id", "primary"}

// arrayOf reads v as json.Unmarshal reads it into a slice: ok when v is
// valid JSON and an array (arr: it, trimmed) or null (arr nil).
func arrayOf(v []byte) (arr []byte, ok bool) {
	if !jsonValid(v) {
		return nil, false
	}
	switch t := trimmed(v); t[0] {
	case '[':
		return t, true
	case 'n':
		return nil, true
	}
	return nil, false
}

// stringsOf reads v as json.Unmarshal reads it into a nil []string.
func stringsOf(v []byte) ([]string, bool) {
	arr, ok := arrayOf(v)
	if !ok || arr == nil {
		return nil, ok
	}
	out := []string{}
	eachElement(arr, func(el []byte) bool {
		switch el[0] {
		case '"':
			out = append(out, string(unquote(el)))
		case 'n':
			out = append(out, "")
		default:
			ok = false
		}
		return ok
	})
	if !ok {
		return nil, false
	}
	return out, true
}

// floatMember reads a member's value as encoding/json reads it into a
// *float64: nil for null, false for what is not a float64.
func floatMember(val []byte) (*float64, bool) {
	switch val[0] {
	case 'n':
		return nil, true
	case '"', 't', 'f', '[', '{':
		return nil, false
	}
	x, err := strconv.ParseFloat(string(val), 64)
	return &x, err == nil
}

// strictObject reports (as a message) a value that is not an object (or
// null) or has keys outside allowed: the least such key, unescaped.
func strictObject(v []byte, allowed []string) string {
	if !jsonValid(v) {
		return "want an object"
	}
	obj := trimmed(v)
	switch obj[0] {
	case 'n':
		return "" // null decodes to an empty map
	case '{':
	default:
		return "want an object"
	}
	var unknown []byte
	eachMember(obj, func(key, _ []byte) {
		if raw := key[1 : len(key)-1]; bytes.IndexByte(raw, '\\') < 0 && slices.Contains(allowed, string(raw)) {
			return
		}
		k := unquote(key)
		if !slices.Contains(allowed, string(k)) && (unknown == nil || bytes.Compare(k, unknown) < 0) {
			unknown = k
		}
	})
	if unknown != nil {
		return fmt.Sprintf("unknown key %q (allowed: %s)", unknown, strings.Join(allowed, ", "))
	}
	return ""
}

func checkInt(f FieldSpec, v []byte) *syncproto.Error {
	var n int64
	ok := jsonValid(v)
	if ok {
		switch t := trimmed(v); t[0] {
		case 'n':
		case '"', 't', 'f', '[', '{':
			ok = false
		default:
			var err error
			n, err = strconv.ParseInt(string(t), 10, 64)
			ok = err == nil
		}
	}
	if !ok {
		return why(invalid(f.Name, "%s: want an integer", f.Name), ReasonBadValue, "field", f.Name)
	}
	if f.Min != nil && n < *f.Min || f.Max != nil && n > *f.Max {
		return why(invalid(f.Name, "%s: must lie in [%d, %d] (got %d)", f.Name, *f.Min, *f.Max, n), ReasonOutOfRange, "field", f.Name, "min", strconv.FormatInt(*f.Min, 10), "max", strconv.FormatInt(*f.Max, 10))
	}
	return nil
}

// parseTime reads a time value as time.Parse(time.RFC3339Nano, s) reads
// its string s. Time.UnmarshalText reads the bytes without copying them to
// a string; what it passes, time.Parse reads to the same time (both take
// the same RFC 3339 fast path, and UnmarshalText's fallback is
// time.Parse(time.RFC3339) with more refusals), and what it refuses is
// asked of time.Parse (TestParseTimeAsTimeParse).
func parseTime(f FieldSpec, v []byte) (time.Time, *syncproto.Error) {
	b, ok := jsonBytes(v)
	if !ok {
		return time.Time{}, why(invalid(f.Name, "%s: want an RFC 3339 time such as 2026-03-01T09:30:00+08:00", f.Name), ReasonBadTime, "field", f.Name)
	}
	var t time.Time
	if t.UnmarshalText(b) == nil {
		return t, nil
	}
	t, err := time.Parse(time.RFC3339Nano, string(b))
	if err != nil {
		return time.Time{}, why(invalid(f.Name, "%s: want an RFC 3339 time such as 2026-03-01T09:30:00+08:00", f.Name), ReasonBadTime, "field", f.Name)
	}
	return t, nil
}

// photoTypeNames are the Go types of Photo's fields, in photoKeys' order,
// as encoding/json names them in its errors.
var photoTypeNames = []string{"string", "int64", "string", "int", "int", "*time.Time", "float64", "float64"}

// decodePhoto reads one manifest entry (valid, an object or null, with
// keys of photoKeys only) as json.Unmarshal reads it into a Photo, and
// returns encoding/json's error text when it would fail.
func decodePhoto(it []byte) (p Photo, errText string) {
	if it[0] != '{' {
		return p, ""
	}
	var lat, lng *float64
	var takenAt time.Time
	var hasTaken bool
	done := false
	eachMember(it, func(key, val []byte) {
		if done {
			return
		}
		k := slices.Index(photoKeys, string(unquote(key)))
		typeErr := func(what string) {
			if errText == "" {
				errText = "json: cannot unmarshal " + what + " into Go struct field Photo." + photoKeys[k] + " of type " + photoTypeNames[k]
			}
		}
		if val[0] == 'n' {
			switch k {
			case 5:
				hasTaken = false
			case 6:
				lat = nil
			case 7:
				lng = nil
			}
			return
		}
		switch k {
		case 0, 2: // sha256, type
			if val[0] != '"' {
				typeErr(kindName(val))
				return
			}
			if k == 0 {
				p.SHA256 = string(unquote(val))
			} else {
				p.Type = string(unquote(val))
			}
		case 1, 3, 4: // size, width, height
			if kindName(val) != "number" {
				typeErr(kindName(val))
				return
			}
			n, err := strconv.ParseInt(string(val), 10, 64)
			if err != nil {
				typeErr("number " + string(val))
				return
			}
			switch k {
			case 1:
				p.Size = n
			case 3:
				p.Width = int(n)
			default:
				p.Height = int(n)
			}
		case 5: // taken_at: time.Time's own UnmarshalJSON, whose error ends the decoding
			var t time.Time
			if err := t.UnmarshalJSON(val); err != nil {
				errText, done = err.Error(), true
				return
			}
			takenAt, hasTaken = t, true
		case 6, 7: // lat, lng
			if kindName(val) != "number" {
				typeErr(kindName(val))
				return
			}
			x, err := strconv.ParseFloat(string(val), 64)
			if err != nil {
				typeErr("number " + string(val))
				return
			}
			if k == 6 {
				lat = &x
			} else {
				lng = &x
			}
		}
	})
	if hasTaken {
		p.TakenAt = &takenAt
	}
	p.Lat, p.Lng = lat, lng
	return p, errText
}

func checkPhotos(f FieldSpec, v []byte, now time.Time) *syncproto.Error {
	arr, ok := arrayOf(v)
	if !ok {
		return why(invalid(f.Name, "%s: want an array of photos", f.Name), ReasonBadPhoto, "field", f.Name)
	}
	if arr == nil {
		return nil
	}
	if count(arr) > f.MaxLen {
		return why(invalid(f.Name, "%s: at most %d photos", f.Name, f.MaxLen), ReasonTooMany, "field", f.Name, "max", strconv.Itoa(f.MaxLen))
	}
	var e *syncproto.Error
	var buf [8]string
	seen := buf[:0]
	i := -1
	eachElement(arr, func(it []byte) bool {
		i++
		if s := strictObject(it, photoKeys); s != "" {
			e = why(invalid(f.Name, "%s[%d]: %s", f.Name, i, s), ReasonBadPhoto, "field", f.Name)
			return false
		}
		p, errText := decodePhoto(it)
		if errText != "" {
			e = why(invalid(f.Name, "%s[%d]: %s", f.Name, i, errText), ReasonBadPhoto, "field", f.Name)
			return false
		}
		switch {
		case !sha256Pattern.MatchString(p.SHA256):
			e = why(invalid(f.Name, "%s[%d].sha256: want 64 lowercase hex digits", f.Name, i), ReasonBadPhoto, "field", f.Name)
		case slices.Contains(seen, p.SHA256):
			e = why(invalid(f.Name, "%s[%d]: photo %s is listed twice", f.Name, i, p.SHA256), ReasonBadPhoto, "field", f.Name)
		case p.Size <= 0 || p.Size > MaxPhotoBytes:
			e = why(invalid(f.Name, "%s[%d].size: must lie in [1, %d]", f.Name, i, MaxPhotoBytes), ReasonBadPhoto, "field", f.Name)
		case !slices.Contains(PhotoTypes, p.Type):
			e = why(invalid(f.Name, "%s[%d].type: want one of %s", f.Name, i, strings.Join(PhotoTypes, ", ")), ReasonBadPhoto, "field", f.Name)
		case p.Width < 0 || p.Height < 0 || p.Width > 100000 || p.Height > 100000:
			e = why(invalid(f.Name, "%s[%d]: width and height must lie in [0, 100000]", f.Name, i), ReasonBadPhoto, "field", f.Name)
		case p.Lat != nil && (*p.Lat < -90 || *p.Lat > 90), p.Lng != nil && (*p.Lng < -180 || *p.Lng > 180):
			e = why(invalid(f.Name, "%s[%d]: lat must lie in [-90, 90] and lng in [-180, 180]", f.Name, i), ReasonBadPhoto, "field", f.Name)
		}
		if e == nil && p.TakenAt != nil {
			e = checkTime(FieldSpec{Name: f.Name + ".taken_at", Past: true}, *p.TakenAt, now)
		}
		seen = append(seen, p.SHA256)
		return e == nil
	})
	return e
}

func checkObjects(f FieldSpec, v []byte, keys []string, required string) *syncproto.Error {
	arr, ok := arrayOf(v)
	if !ok {
		return why(invalid(f.Name, "%s: want an array of objects", f.Name), ReasonBadValue, "field", f.Name)
	}
	if arr == nil {
		return nil
	}
	if count(arr) > f.MaxLen {
		return why(invalid(f.Name, "%s: at most %d items", f.Name, f.MaxLen), ReasonTooMany, "field", f.Name, "max", strconv.Itoa(f.MaxLen))
	}
	var e *syncproto.Error
	i := -1
	eachElement(arr, func(it []byte) bool {
		i++
		if s := strictObject(it, keys); s != "" {
			e = why(invalid(f.Name, "%s[%d]: %s", f.Name, i, s), ReasonBadValue, "field", f.Name)
			return false
		}
		// json.Unmarshal into map[string]string: the last of a key's
		// members wins, null is "", any other kind refuses the item.
		var vals [3][]byte
		var has [3]bool
		good := true
		if it[0] == '{' {
			eachMember(it, func(key, val []byte) {
				k := slices.Index(keys, string(unquote(key)))
				switch val[0] {
				case '"':
					vals[k] = unquote(val)
				case 'n':
					vals[k] = nil
				default:
					good = false
				}
				has[k] = true
			})
		}
		if !good {
			e = why(invalid(f.Name, "%s[%d]: every value must be a string", f.Name, i), ReasonBadValue, "field", f.Name)
			return false
		}
		for _, k := range sortedKeyOrder(keys) {
			if !has[k] {
				continue
			}
			if e = checkText(FieldSpec{Name: f.Name + "." + keys[k], Type: TypeString, MaxLen: MaxLine}, string(vals[k])); e != nil {
				return false
			}
		}
		if r := slices.Index(keys, required); len(bytes.TrimSpace(vals[r])) == 0 {
			e = why(invalid(f.Name, "%s[%d].%s is required", f.Name, i, required), ReasonRequired, "field", f.Name)
			return false
		}
		return true
	})
	return e
}

// sortedKeyOrder is the indexes of keys in the keys' sorted order (the
// order a refusal among several members is named in).
func sortedKeyOrder(keys []string) []int {
	order := make([]int, len(keys))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return strings.Compare(keys[a], keys[b]) })
	return order
}
