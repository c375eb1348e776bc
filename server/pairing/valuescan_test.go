package pairing

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// The scan of valuescan.go against oldCheckValue (encoding/json): the scan
// passes only values oldCheckValue passes, and passes the values clients
// write.

// scanSpecs are one field spec of every type the scan reads.
func scanSpecs(t testing.TB) []FieldSpec {
	var out []FieldSpec
	seen := map[string]bool{}
	for _, c := range Schema {
		for _, f := range c.Fields {
			key := string(f.Type)
			if f.Type == TypeEnum && f.Min == nil {
				key = "enum of strings"
			}
			if f.Required {
				key += " required"
			}
			if seen[key] {
				continue
			}
			switch f.Type {
			case TypeEnum, TypeInt, TypeBool, TypeIDs, TypeSHA256s, TypeLocation, TypePhotos, TypeParticipants, TypePersons, TypeString, TypeText, TypeID:
				seen[key] = true
				out = append(out, f)
			}
		}
	}
	if len(out) < 6 {
		t.Fatalf("found specs of %d scanned types, want at least 6", len(out))
	}
	return out
}

func checkScanDiff(t *testing.T, f FieldSpec, v []byte, now time.Time) {
	t.Helper()
	if valuePasses(f, v, now) {
		if e := oldCheckValue(f, v, now); e != nil {
			t.Fatalf("%s (%s): the scan passes %q, the old encoding/json check refuses it: %v", f.Name, f.Type, v, e)
		}
	}
}

// scanValues are values of every scanned type, passing and not.
func scanValues(now time.Time) [][]byte {
	at := now.Add(-time.Hour).Format(time.RFC3339Nano)
	sha := strings.Repeat("ab", 32)
	photo := `{"sha256":"` + sha + `","size":204800,"taken_at":"` + at + `","type":"image/jpeg","width":4000,"height":3000,"lat":32.5,"lng":118.7}`
	out := []string{
		`1`, `5`, `0`, `-0`, `1.0`, `1e0`, `6`, `-1`, `99999999999999999999`, ` 3 `, `"3"`, `null`,
		`true`, `false`, ` true`, `tru`, `"true"`, `1`,
		`["u-off"]`, `["a","b"]`, `["a","a"]`, `[]`, `["a b"]`, `["\u0041"]`, `[null]`, `["` + sha + `"]`, `[1]`, `{}`,
		`{"accuracy_m":33,"lat":32.06637377984915,"lng":118.82254369194659}`, `{"lat":0,"lng":0}`, `{"lat":91,"lng":0}`,
		`{"lat":1,"lng":2,"accuracy_m":-1}`, `{"lat":1}`, `{"lat":1,"lng":2,"x":3}`, `{"lat":1,"lng":2,"lat":3}`, `{"Lat":1,"lng":2}`,
		`{"lat":null,"lng":2}`, `{"lat":"1","lng":2}`, `{"lat":1e400,"lng":2}`, `{"lat":1,"lng":2,"accuracy_m":null}`,
		`[` + photo + `]`, `[` + photo + `,` + photo + `]`, `[{"sha256":"` + sha + `","size":1,"type":"image/png"}]`,
		`[{"sha256":"` + sha + `","size":0,"type":"image/png"}]`, `[{"sha256":"` + sha + `","size":1,"type":"image/heic"}]`,
		`[{"sha256":"` + strings.ToUpper(sha) + `","size":1,"type":"image/png"}]`, `[{"sha256":"` + sha + `","size":1.5,"type":"image/png"}]`,
		`[{"sha256":"` + sha + `","size":1,"type":"image/png","taken_at":"1999-01-01T00:00:00Z"}]`,
		`[{"sha256":"` + sha + `","size":1,"type":"image/png","taken_at":"2999-01-01T00:00:00Z"}]`,
		`[{"sha256":"` + sha + `","size":1,"type":"image/png","taken_at":"yesterday"}]`,
		`[{"sha256":"` + sha + `","size":1,"type":"image/png","taken_at":null,"lat":null}]`,
		`[{"sha256":"` + sha + `","size":1,"type":"image/png","width":-1}]`, `[null]`,
		`[{"name":"王经理","title":"总经理"},{"name":"杨主任","title":"办公室主任"}]`, `[{"name":"a","org":"b"}]`, `[{"name":" "}]`,
		`[{"title":"x"}]`, `[{"name":"a\nb"}]`, `[{"name":"a` + "\u202e" + `b"}]`, `[{"name":"` + strings.Repeat("长", 201) + `"}]`,
		`[{"name":1}]`, `[{"name":"a","phone":"1"}]`, `[{"name":"a","name":"b"}]`, `[{"name":"a"}] x`, ` [ { "name" : "a" } ] `,
		`"onsite"`, `"submitted"`, `"nope"`, `"cp-0001"`, `"a b"`, `""`, `"  "`, `" \u3000"`, `"　"`, `"a\nb"`, `"a\u0000"`, `"` + strings.Repeat("长", 2001) + `"`,
		`"` + strings.Repeat("x", 201) + `"`, `"a` + "\u202e" + `"`, `"a` + "\u2069" + `"`, `"\u202e"`, `"x"y"`, ` "x" `, "\"\xff\"",
	}
	var b [][]byte
	for _, s := range out {
		b = append(b, []byte(s))
	}
	for _, v := range benchVisitValues(now) {
		b = append(b, v)
	}
	return b
}

func TestValueScanAgrees(t *testing.T) {
	now := time.Now().UTC()
	specs := scanSpecs(t)
	values := scanValues(now)
	for _, f := range specs {
		for _, v := range values {
			checkScanDiff(t, f, v, now)
		}
	}
	rng := rand.New(rand.NewPCG(3, 20))
	tokens := []string{`"`, `\`, `{`, `}`, `[`, `]`, `,`, `:`, `null`, `0`, `-1`, `1e9`, `1.5`, `"a"`, "\xff", ` `, `"lat":`, `"name":`, `"size":`, "\u202e", "\n"}
	n := 20000
	if testing.Short() {
		n = 2000
	}
	for range n {
		v := bytes.Clone(values[rng.IntN(len(values))])
		for range 1 + rng.IntN(2) {
			if len(v) == 0 {
				break
			}
			i := rng.IntN(len(v))
			switch rng.IntN(4) {
			case 0:
				v[i] = byte(rng.IntN(256))
			case 1:
				v = append(v[:i], v[i+1:]...)
			case 2:
				v = append(v[:i], append([]byte(tokens[rng.IntN(len(tokens))]), v[i:]...)...)
			case 3:
				j := min(len(v), i+1+rng.IntN(60))
				v = append(v[:j], append(bytes.Clone(v[i:j]), v[j:]...)...)
			}
		}
		checkScanDiff(t, specs[rng.IntN(len(specs))], v, now)
	}
}

// TestValueScanTakesClientValues: a visit's values as the phones write
// them pass the scan (encoding/json is not needed for them).
func TestValueScanTakesClientValues(t *testing.T) {
	now := time.Now().UTC()
	spec, _ := Spec(CollVisits)
	for name, v := range benchVisitValues(now) {
		f, _ := spec.Field(name)
		switch f.Type {
		case TypeIDs, TypeLocation, TypePhotos, TypeParticipants, TypeString, TypeText, TypeID:
			if !valuePasses(f, v, now) {
				t.Errorf("%s: the scan does not pass %s", name, v)
			}
		}
	}
}

// FuzzValueScan is the differential check under go test -fuzz.
func FuzzValueScan(f *testing.F) {
	now := time.Now().UTC()
	for _, v := range scanValues(now) {
		f.Add(uint8(0), v)
	}
	f.Fuzz(func(t *testing.T, which uint8, v []byte) {
		specs := scanSpecs(t)
		checkScanDiff(t, specs[int(which)%len(specs)], v, now)
	})
}

// TestHasBidiControlBytes: the byte search finds what a search by runes
// finds, in valid and invalid UTF-8.
func TestHasBidiControlBytes(t *testing.T) {
	byRunes := func(s string) bool {
		return strings.ContainsFunc(s, func(r rune) bool {
			return r == '\u200E' || r == '\u200F' || r >= '\u202A' && r <= '\u202E' || r >= '\u2066' && r <= '\u2069'
		})
	}
	pieces := []string{"a", "王", "\u200d", "\u200e", "\u200f", "\u2029", "\u202a", "\u202e", "\u202f", "\u2065", "\u2066", "\u2069", "\u206a", "\xe2", "\x80", "\x81", "\xa6", "\x8e", "\xf0", "\xe2\x80", "…"}
	rng := rand.New(rand.NewPCG(7, 7))
	for range 20000 {
		var b strings.Builder
		for range rng.IntN(6) {
			b.WriteString(pieces[rng.IntN(len(pieces))])
		}
		s := b.String()
		if got, want := HasBidiControl(s), byRunes(s); got != want {
			t.Fatalf("HasBidiControl(%q) = %v, want %v", s, got, want)
		}
	}
}
