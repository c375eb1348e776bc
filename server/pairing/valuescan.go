package pairing

import (
	"bytes"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/pairsync/pairsync/syncproto"
)

// The checks of structured values (photo manifests, locations, people,
// ids, integers, booleans) take a fast path first: a scan of the value's
// bytes, without encoding/json, that answers only "the value passes". When
// it cannot say so (a refusal, or a spelling it does not read: escapes,
// nulls inside, duplicate keys, invalid UTF-8, …) checkValueScan
// (valueread.go) decides, and words the refusal as encoding/json's checks
// did. The fast path may pass only values those checks pass
// (valuescan_test.go checks it against them on a corpus and on mutations).

// vscan reads one JSON value in place.
type vscan struct {
	v []byte
	i int
}

func (s *vscan) ws() {
	s.i = syncproto.SkipSpace(s.v, s.i)
}

func (s *vscan) peek() byte {
	s.ws()
	if s.i < len(s.v) {
		return s.v[s.i]
	}
	return 0
}

// end reports whether nothing but space follows.
func (s *vscan) end() bool {
	s.ws()
	return s.i == len(s.v)
}

// str reads a string without escapes or control characters, in valid
// UTF-8, and returns its bytes between the quotes (what encoding/json
// decodes it to).
func (s *vscan) str() ([]byte, bool) {
	if s.peek() != '"' {
		return nil, false
	}
	start := s.i + 1
	end, valid := syncproto.ScanPlain(s.v, start)
	if !valid || end >= len(s.v) || s.v[end] != '"' {
		return nil, false
	}
	s.i = end + 1
	return s.v[start:end], true
}

// rawStr is str returning the string with its quotes.
func (s *vscan) rawStr() ([]byte, bool) {
	b, ok := s.str()
	if !ok {
		return nil, false
	}
	return s.v[s.i-len(b)-2 : s.i], true
}

// num reads a number (JSON's grammar) and returns its bytes.
func (s *vscan) num() ([]byte, bool) {
	s.ws()
	start := s.i
	end, ok := syncproto.ScanNumber(s.v, start)
	if !ok {
		return nil, false
	}
	s.i = end
	return s.v[start:end], true
}

// float reads a number as encoding/json reads it into a float64.
func (s *vscan) float() (float64, bool) {
	b, ok := s.num()
	if !ok {
		return 0, false
	}
	f, err := strconv.ParseFloat(string(b), 64)
	return f, err == nil
}

// int reads a number as encoding/json reads it into an int64.
func (s *vscan) int() (int64, bool) {
	b, ok := s.num()
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	return n, err == nil
}

// object reads an object whose keys are all in keys, each at most once,
// calling member with the key's index and s at its value, which member
// reads.
func (s *vscan) object(keys []string, member func(k int) bool) bool {
	if s.peek() != '{' {
		return false
	}
	s.i++
	if s.peek() == '}' {
		s.i++
		return true
	}
	var seen uint64
	for {
		k, ok := s.str()
		if !ok {
			return false
		}
		idx := -1
		for j, name := range keys {
			if string(k) == name {
				idx = j
				break
			}
		}
		if idx < 0 || idx >= 64 || seen&(1<<idx) != 0 {
			return false
		}
		seen |= 1 << idx
		if s.peek() != ':' {
			return false
		}
		s.i++
		if !member(idx) {
			return false
		}
		switch s.peek() {
		case ',':
			s.i++
		case '}':
			s.i++
			return true
		default:
			return false
		}
	}
}

// array reads an array, calling elem with s at each element.
func (s *vscan) array(elem func() bool) (n int, ok bool) {
	if s.peek() != '[' {
		return 0, false
	}
	s.i++
	if s.peek() == ']' {
		s.i++
		return 0, true
	}
	for {
		if !elem() {
			return 0, false
		}
		n++
		switch s.peek() {
		case ',':
			s.i++
		case ']':
			s.i++
			return n, true
		default:
			return 0, false
		}
	}
}

// validID is idPattern (^[A-Za-z0-9_-]{1,128}$) on bytes.
func validID(b []byte) bool {
	if len(b) == 0 || len(b) > 128 {
		return false
	}
	for _, c := range b {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// validSHA256 is sha256Pattern (^[0-9a-f]{64}$) on bytes.
func validSHA256(b []byte) bool {
	if len(b) != 64 {
		return false
	}
	for _, c := range b {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// lineOK reports whether checkText passes b (valid UTF-8, without escapes)
// as a line of at most max characters that need not be filled.
func lineOK(b []byte, max int) bool {
	if max > 0 && utf8.RuneCount(b) > max || bytes.IndexByte(b, 0) >= 0 || bytes.ContainsAny(b, "\n\r") {
		return false
	}
	return bytes.IndexByte(b, 0xE2) < 0 || !HasBidiControl(string(b))
}

// photosPass reports that checkPhotos passes v.
func photosPass(f FieldSpec, v []byte, now time.Time) bool {
	s := vscan{v: v}
	var buf [8][]byte
	seen := buf[:0]
	_, ok := s.array(func() bool {
		if len(seen) >= f.MaxLen {
			return false
		}
		var sha, typ []byte
		var size, width, height int64
		ok := s.object(photoKeys, func(k int) bool {
			var ok bool
			switch k {
			case 0:
				sha, ok = s.str()
			case 1:
				size, ok = s.int()
			case 2:
				typ, ok = s.str()
			case 3:
				width, ok = s.int()
			case 4:
				height, ok = s.int()
			case 5:
				var raw []byte
				if raw, ok = s.rawStr(); ok {
					var t time.Time
					ok = t.UnmarshalJSON(raw) == nil && checkTime(FieldSpec{Name: f.Name, Past: true}, t, now) == nil
				}
			case 6:
				var lat float64
				lat, ok = s.float()
				ok = ok && lat >= -90 && lat <= 90
			case 7:
				var lng float64
				lng, ok = s.float()
				ok = ok && lng >= -180 && lng <= 180
			}
			return ok
		})
		if !ok || !validSHA256(sha) || size <= 0 || size > MaxPhotoBytes ||
			width < 0 || height < 0 || width > 100000 || height > 100000 {
			return false
		}
		for _, x := range seen {
			if bytes.Equal(x, sha) {
				return false
			}
		}
		seen = append(seen, sha)
		for _, t := range PhotoTypes {
			if string(typ) == t {
				return true
			}
		}
		return false
	})
	return ok && s.end()
}

var locationKeys = []string{"lat", "lng", "accuracy_m"}

// locationPass reports that checkValue passes v as a location.
func locationPass(v []byte) bool {
	s := vscan{v: v}
	var lat, lng, acc float64
	var has [3]bool
	ok := s.object(locationKeys, func(k int) bool {
		var x float64
		var ok bool
		x, ok = s.float()
		switch k {
		case 0:
			lat = x
		case 1:
			lng = x
		case 2:
			acc = x
		}
		has[k] = true
		return ok
	})
	return ok && s.end() && has[0] && has[1] &&
		lat >= -90 && lat <= 90 && lng >= -180 && lng <= 180 &&
		(!has[2] || acc >= 0 && acc <= 1e6)
}

// objectsPass reports that checkObjects passes v: an array of at most
// f.MaxLen objects of strings under keys, each a line, required filled.
func objectsPass(f FieldSpec, v []byte, keys []string, required string) bool {
	req := slicesIndex(keys, required)
	s := vscan{v: v}
	n := 0
	_, ok := s.array(func() bool {
		if n++; n > f.MaxLen {
			return false
		}
		filled := false
		ok := s.object(keys, func(k int) bool {
			b, ok := s.str()
			if k == req {
				filled = len(bytes.TrimSpace(b)) > 0
			}
			return ok && lineOK(b, MaxLine)
		})
		return ok && filled
	})
	return ok && s.end()
}

func slicesIndex(keys []string, k string) int {
	for i, x := range keys {
		if x == k {
			return i
		}
	}
	return -1
}

// idsPass reports that checkValue passes v as ids (or SHA-256s): an array
// of at most f.MaxLen distinct strings of the pattern.
func idsPass(f FieldSpec, v []byte) bool {
	s := vscan{v: v}
	var buf [8][]byte
	seen := buf[:0]
	_, ok := s.array(func() bool {
		if len(seen) >= f.MaxLen {
			return false
		}
		b, ok := s.str()
		if !ok || f.Type == TypeSHA256s && !validSHA256(b) || f.Type != TypeSHA256s && !validID(b) {
			return false
		}
		for _, x := range seen {
			if bytes.Equal(x, b) {
				return false
			}
		}
		seen = append(seen, b)
		return true
	})
	return ok && s.end()
}

// intPass reports that checkInt passes v.
func intPass(f FieldSpec, v []byte) bool {
	s := vscan{v: v}
	n, ok := s.int()
	return ok && s.end() && (f.Min == nil || n >= *f.Min) && (f.Max == nil || n <= *f.Max)
}

// boolPass reports that checkValue passes v as a boolean.
func boolPass(v []byte) bool {
	s := vscan{v: v}
	s.ws()
	for _, w := range []string{"true", "false"} {
		if bytes.HasPrefix(s.v[s.i:], []byte(w)) {
			s.i += len(w)
			return s.end()
		}
	}
	return false
}

// valuePasses reports that checkValueScan passes v, for the types read
// here; false says "ask checkValueScan" (a refusal, a type not read here,
// or a spelling the scan leaves to checkValueScan).
func valuePasses(f FieldSpec, v []byte, now time.Time) bool {
	switch f.Type {
	case TypeString, TypeText:
		b, ok := stringValue(v)
		return ok && textPass(f, b)
	case TypeEnum:
		if f.Min == nil {
			b, ok := stringValue(v)
			if !ok {
				return false
			}
			for _, c := range f.Enum {
				if string(b) == c.Value {
					return true
				}
			}
			return false
		}
		return intPass(f, v)
	case TypeID:
		b, ok := stringValue(v)
		return ok && validID(b)
	case TypeInt:
		return intPass(f, v)
	case TypeBool:
		return boolPass(v)
	case TypeIDs, TypeSHA256s:
		return idsPass(f, v)
	case TypeLocation:
		return locationPass(v)
	case TypePhotos:
		return photosPass(f, v, now)
	case TypeParticipants:
		return objectsPass(f, v, participantKeys, "name")
	case TypePersons:
		return objectsPass(f, v, participantKeys[:2], "name")
	}
	return false
}

var participantKeys = []string{"name", "title", "org"}

// stringValue reads v as one string (see vscan.str).
func stringValue(v []byte) ([]byte, bool) {
	s := vscan{v: v}
	b, ok := s.str()
	return b, ok && s.end()
}

// textPass reports that checkText passes b (valid UTF-8 without control
// characters, as stringValue reads it).
func textPass(f FieldSpec, b []byte) bool {
	if f.MaxLen > 0 && len(b) > f.MaxLen && utf8.RuneCount(b) > f.MaxLen {
		return false
	}
	if bytes.IndexByte(b, 0xE2) >= 0 && HasBidiControl(string(b)) {
		return false
	}
	return !f.Required || len(bytes.TrimSpace(b)) > 0
}
