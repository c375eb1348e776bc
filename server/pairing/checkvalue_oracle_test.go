package pairing

// The checks of values as they were before issue 20 took encoding/json out
// of them: checkValueJSON and its helpers, kept here word for word (names
// prefixed old) as the oracle checkValue is compared with
// (checkvalue_diff_test.go). One change: where the old code ranged over a
// map it ranges over the map's keys sorted (an object with two unknown
// keys, or a participant with two bad members, was refused naming a key
// picked by Go's random map order); checkValue names the least such key.

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/pairsync/pairsync/syncproto"
)

// oldCheckValue is checkValue as it was, by way of encoding/json, kept
// unchanged as the oracle checkValueScan is compared with
// (checkvalue_diff_test.go).
func oldCheckValue(f FieldSpec, v json.RawMessage, now time.Time) *syncproto.Error {
	bad := func(format string, args ...any) *syncproto.Error {
		return why(invalid(f.Name, "%s: "+format, append([]any{f.Name}, args...)...), ReasonBadValue, "field", f.Name)
	}
	switch f.Type {
	case TypeString, TypeText:
		s, ok := oldJSONString(v)
		if !ok {
			return bad("want a string")
		}
		return checkText(f, s)
	case TypeEnum:
		if f.Min != nil { // an enum of numbers (rating levels)
			return oldCheckInt(f, v)
		}
		s, ok := oldJSONString(v)
		if !ok {
			return bad("want a string")
		}
		if !slices.ContainsFunc(f.Enum, func(c Choice) bool { return c.Value == s }) {
			return why(bad("%q is not one of %s", s, enumValues(f.Enum)), ReasonNotAChoice, "field", f.Name, "value", s)
		}
	case TypeInt:
		return oldCheckInt(f, v)
	case TypeBool:
		var b bool
		if json.Unmarshal(v, &b) != nil {
			return bad("want true or false")
		}
	case TypeTime:
		t, e := oldParseTime(f, v)
		if e != nil {
			return e
		}
		return checkTime(f, t, now)
	case TypeDate:
		s, ok := oldJSONString(v)
		if !ok || !datePattern.MatchString(s) {
			return bad("want a date YYYY-MM-DD")
		}
		t, err := time.Parse(time.DateOnly, s)
		if err != nil {
			return bad("want a date YYYY-MM-DD")
		}
		return checkTime(f, t, now)
	case TypeID:
		s, ok := oldJSONString(v)
		if !ok || !idPattern.MatchString(s) {
			return bad("want an id (1–128 of A–Z, a–z, 0–9, _ and -)")
		}
	case TypeIDs, TypeSHA256s:
		var ss []string
		if json.Unmarshal(v, &ss) != nil {
			return bad("want an array of strings")
		}
		if len(ss) > f.MaxLen {
			return why(bad("at most %d items", f.MaxLen), ReasonTooMany, "field", f.Name, "max", strconv.Itoa(f.MaxLen))
		}
		pattern := idPattern
		if f.Type == TypeSHA256s {
			pattern = sha256Pattern
		}
		seen := map[string]bool{}
		for _, s := range ss {
			if !pattern.MatchString(s) {
				return bad("%q is not a valid %s", s, map[bool]string{true: "SHA-256 (64 lowercase hex)", false: "id"}[f.Type == TypeSHA256s])
			}
			if seen[s] {
				return bad("%q is listed twice", s)
			}
			seen[s] = true
		}
	case TypeLocation:
		var loc struct {
			Lat, Lng *float64
			Accuracy *float64 `json:"accuracy_m"`
		}
		if e := oldStrictObject(v, []string{"lat", "lng", "accuracy_m"}); e != "" {
			return bad("%s", e)
		}
		if json.Unmarshal(v, &loc) != nil || loc.Lat == nil || loc.Lng == nil {
			return bad("want {\"lat\": number, \"lng\": number, \"accuracy_m\": number}")
		}
		if *loc.Lat < -90 || *loc.Lat > 90 || *loc.Lng < -180 || *loc.Lng > 180 {
			return bad("lat must lie in [-90, 90] and lng in [-180, 180]")
		}
		if loc.Accuracy != nil && (*loc.Accuracy < 0 || *loc.Accuracy > 1e6) {
			return bad("accuracy_m must lie in [0, 1000000]")
		}
	case TypePhotos:
		return oldCheckPhotos(f, v, now)
	case TypeParticipants, TypePersons:
		keys := []string{"name", "title", "org"}
		if f.Type == TypePersons {
			keys = keys[:2]
		}
		return oldCheckObjects(f, v, keys, "name")
	case TypeOfficers:
		var items []json.RawMessage
		if json.Unmarshal(v, &items) != nil {
			return bad("want an array of {\"user_id\", \"primary\"}")
		}
		if len(items) > f.MaxLen {
			return why(bad("at most %d items", f.MaxLen), ReasonTooMany, "field", f.Name, "max", strconv.Itoa(f.MaxLen))
		}
		seen := map[string]bool{}
		for _, it := range items {
			if e := oldStrictObject(it, []string{"user_id", "primary"}); e != "" {
				return bad("%s", e)
			}
			var o officerRef
			if json.Unmarshal(it, &o) != nil || !idPattern.MatchString(o.UserID) || seen[o.UserID] {
				return bad("each officer needs a user_id, listed once")
			}
			seen[o.UserID] = true
		}
	case TypeFormer:
		var items []formerRef
		if json.Unmarshal(v, &items) != nil || len(items) > 10*MaxItems {
			return bad("want an array of {\"user_id\", \"removed_at\"}")
		}
	default:
		return bad("unknown type %s", f.Type)
	}
	return nil
}

func oldCheckInt(f FieldSpec, v json.RawMessage) *syncproto.Error {
	var n int64
	if json.Unmarshal(v, &n) != nil {
		return why(invalid(f.Name, "%s: want an integer", f.Name), ReasonBadValue, "field", f.Name)
	}
	if f.Min != nil && n < *f.Min || f.Max != nil && n > *f.Max {
		return why(invalid(f.Name, "%s: must lie in [%d, %d] (got %d)", f.Name, *f.Min, *f.Max, n), ReasonOutOfRange, "field", f.Name, "min", strconv.FormatInt(*f.Min, 10), "max", strconv.FormatInt(*f.Max, 10))
	}
	return nil
}

func oldParseTime(f FieldSpec, v json.RawMessage) (time.Time, *syncproto.Error) {
	s, ok := oldJSONString(v)
	if !ok {
		return time.Time{}, why(invalid(f.Name, "%s: want an RFC 3339 time such as 2026-03-01T09:30:00+08:00", f.Name), ReasonBadTime, "field", f.Name)
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, why(invalid(f.Name, "%s: want an RFC 3339 time such as 2026-03-01T09:30:00+08:00", f.Name), ReasonBadTime, "field", f.Name)
	}
	return t, nil
}

func oldCheckPhotos(f FieldSpec, v json.RawMessage, now time.Time) *syncproto.Error {
	var items []json.RawMessage
	if json.Unmarshal(v, &items) != nil {
		return why(invalid(f.Name, "%s: want an array of photos", f.Name), ReasonBadPhoto, "field", f.Name)
	}
	if len(items) > f.MaxLen {
		return why(invalid(f.Name, "%s: at most %d photos", f.Name, f.MaxLen), ReasonTooMany, "field", f.Name, "max", strconv.Itoa(f.MaxLen))
	}
	seen := map[string]bool{}
	for i, it := range items {
		if e := oldStrictObject(it, photoKeys); e != "" {
			return why(invalid(f.Name, "%s[%d]: %s", f.Name, i, e), ReasonBadPhoto, "field", f.Name)
		}
		var p Photo
		if err := json.Unmarshal(it, &p); err != nil {
			return why(invalid(f.Name, "%s[%d]: %v", f.Name, i, err), ReasonBadPhoto, "field", f.Name)
		}
		switch {
		case !sha256Pattern.MatchString(p.SHA256):
			return why(invalid(f.Name, "%s[%d].sha256: want 64 lowercase hex digits", f.Name, i), ReasonBadPhoto, "field", f.Name)
		case seen[p.SHA256]:
			return why(invalid(f.Name, "%s[%d]: photo %s is listed twice", f.Name, i, p.SHA256), ReasonBadPhoto, "field", f.Name)
		case p.Size <= 0 || p.Size > MaxPhotoBytes:
			return why(invalid(f.Name, "%s[%d].size: must lie in [1, %d]", f.Name, i, MaxPhotoBytes), ReasonBadPhoto, "field", f.Name)
		case !slices.Contains(PhotoTypes, p.Type):
			return why(invalid(f.Name, "%s[%d].type: want one of %s", f.Name, i, strings.Join(PhotoTypes, ", ")), ReasonBadPhoto, "field", f.Name)
		case p.Width < 0 || p.Height < 0 || p.Width > 100000 || p.Height > 100000:
			return why(invalid(f.Name, "%s[%d]: width and height must lie in [0, 100000]", f.Name, i), ReasonBadPhoto, "field", f.Name)
		case p.Lat != nil && (*p.Lat < -90 || *p.Lat > 90), p.Lng != nil && (*p.Lng < -180 || *p.Lng > 180):
			return why(invalid(f.Name, "%s[%d]: lat must lie in [-90, 90] and lng in [-180, 180]", f.Name, i), ReasonBadPhoto, "field", f.Name)
		}
		if p.TakenAt != nil {
			if e := checkTime(FieldSpec{Name: f.Name + ".taken_at", Past: true}, *p.TakenAt, now); e != nil {
				return e
			}
		}
		seen[p.SHA256] = true
	}
	return nil
}

func oldCheckObjects(f FieldSpec, v json.RawMessage, keys []string, required string) *syncproto.Error {
	var items []json.RawMessage
	if json.Unmarshal(v, &items) != nil {
		return why(invalid(f.Name, "%s: want an array of objects", f.Name), ReasonBadValue, "field", f.Name)
	}
	if len(items) > f.MaxLen {
		return why(invalid(f.Name, "%s: at most %d items", f.Name, f.MaxLen), ReasonTooMany, "field", f.Name, "max", strconv.Itoa(f.MaxLen))
	}
	for i, it := range items {
		if e := oldStrictObject(it, keys); e != "" {
			return why(invalid(f.Name, "%s[%d]: %s", f.Name, i, e), ReasonBadValue, "field", f.Name)
		}
		var m map[string]string
		if json.Unmarshal(it, &m) != nil {
			return why(invalid(f.Name, "%s[%d]: every value must be a string", f.Name, i), ReasonBadValue, "field", f.Name)
		}
		for _, k := range slices.Sorted(maps.Keys(m)) { // sorted: see the file's comment
			s := m[k]
			if e := checkText(FieldSpec{Name: f.Name + "." + k, Type: TypeString, MaxLen: MaxLine}, s); e != nil {
				return e
			}
		}
		if strings.TrimSpace(m[required]) == "" {
			return why(invalid(f.Name, "%s[%d].%s is required", f.Name, i, required), ReasonRequired, "field", f.Name)
		}
	}
	return nil
}

// strictObject reports (as a message) a value that is not an object or
// has keys outside allowed.
func oldStrictObject(v json.RawMessage, allowed []string) string {
	if ok, known := oldScanKeys(v, allowed); known {
		if ok {
			return ""
		}
		return "want an object"
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(v, &m) != nil {
		return "want an object"
	}
	for _, k := range slices.Sorted(maps.Keys(m)) { // sorted: see the file's comment
		if !slices.Contains(allowed, k) {
			return fmt.Sprintf("unknown key %q (allowed: %s)", k, strings.Join(allowed, ", "))
		}
	}
	return ""
}

// scanKeys is strictObject's fast path, without encoding/json's map: it
// reports whether v is an object whose keys are all in allowed. known is
// false when it cannot tell as strictObject would (a key that is escaped,
// not ASCII or not allowed: the slow path then words the message).
func oldScanKeys(v []byte, allowed []string) (ok, known bool) {
	if !json.Valid(v) {
		return false, true
	}
	i := oldScanSkipSpace(v, 0)
	if v[i] == 'n' {
		return true, true // null decodes to an empty map
	}
	if v[i] != '{' {
		return false, true
	}
	i++
	for {
		i = oldScanSkipSpace(v, i)
		if v[i] == '}' {
			return true, true
		}
		if v[i] == ',' {
			i = oldScanSkipSpace(v, i+1)
		}
		// A key: v is valid JSON, so a string follows.
		end := i + 1
		for v[end] != '"' {
			if v[end] == '\\' || v[end] >= 0x80 {
				return false, false
			}
			end++
		}
		if !slices.Contains(allowed, string(v[i+1:end])) {
			return false, false
		}
		i = oldScanSkipSpace(v, end+1) + 1 // past the colon
		i = oldScanSkipValue(v, oldScanSkipSpace(v, i))
	}
}

func oldScanSkipSpace(v []byte, i int) int {
	for i < len(v) && (v[i] == ' ' || v[i] == '\t' || v[i] == '\n' || v[i] == '\r') {
		i++
	}
	return i
}

// scanSkipValue returns the index just past the (valid) JSON value at v[i].
func oldScanSkipValue(v []byte, i int) int {
	depth := 0
	for ; i < len(v); i++ {
		switch v[i] {
		case '"':
			for i++; v[i] != '"'; i++ {
				if v[i] == '\\' {
					i++
				}
			}
			if depth == 0 {
				return i + 1
			}
		case '{', '[':
			depth++
		case '}', ']':
			if depth == 0 {
				return i // the end of the enclosing object
			}
			if depth--; depth == 0 {
				return i + 1
			}
		case ',':
			if depth == 0 {
				return i
			}
		}
	}
	return i
}

// jsonString decodes a JSON string value as json.Unmarshal into a string
// would, reporting false for anything else. The common value (no escapes,
// valid UTF-8, no surrounding space) is read in place: pushed values are
// checked per change, and encoding/json cost more than the rest of the
// checks together.
func oldJSONString(v []byte) (string, bool) {
	if n := len(v); n >= 2 && v[0] == '"' && v[n-1] == '"' {
		body := v[1 : n-1]
		plain := true
		for _, c := range body {
			if c < 0x20 || c == '"' || c == '\\' {
				plain = false
				break
			}
		}
		if plain && utf8.Valid(body) {
			return string(body), true
		}
	}
	var s string
	if json.Unmarshal(v, &s) != nil {
		return "", false
	}
	return s, true
}
