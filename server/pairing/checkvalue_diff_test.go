package pairing

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pairsync/pairsync/syncproto"
)

// checkValue (valuescan.go's fast path, then valueread.go, without
// encoding/json) against oldCheckValue (the encoding/json checks as they
// were, checkvalue_oracle_test.go): the same verdict on every value, down
// to the refusal's code, field, reason, arguments and message.

// allSpecs is every field spec of every collection.
func allSpecs() []FieldSpec {
	var out []FieldSpec
	for _, c := range Schema {
		out = append(out, c.Fields...)
	}
	return out
}

// diffValue reports how checkValue and oldCheckValue differ on v ("": not).
func diffValue(f FieldSpec, v []byte, now time.Time) string {
	if isNull(v) {
		return "" // CheckWrite never asks about a null
	}
	got, want := checkValue(f, v, now), oldCheckValue(f, v, now)
	if got == nil && want == nil {
		return ""
	}
	if got != nil && want != nil && reflect.DeepEqual(*got, *want) {
		return ""
	}
	return fmt.Sprintf("%s (%s) %q:\n  new: %s\n  old: %s", f.Name, f.Type, v, errString(got), errString(want))
}

func errString(e *syncproto.Error) string {
	if e == nil {
		return "accepted"
	}
	return fmt.Sprintf("%s field=%s reason=%s args=%v %q", e.Code, e.Field, e.Reason, e.Args, e.Message)
}

// diffValues are values of every type, passing and refused in every way
// the checks word: wrong kinds, nulls, missing or extra keys, duplicates,
// too many items, bad hashes, numbers out of range, escapes, invalid
// UTF-8, deep nesting, trailing garbage.
func diffValues(now time.Time) [][]byte {
	vals := scanValues(now)
	sha := strings.Repeat("ab", 32)
	at := now.Add(-time.Hour).Format(time.RFC3339Nano)
	photo := func(extra string) string {
		return `{"sha256":"` + sha + `","size":1000,"type":"image/jpeg"` + extra + `}`
	}
	ids := func(n int) string {
		var b []string
		for i := range n {
			b = append(b, fmt.Sprintf(`"id-%d"`, i))
		}
		return "[" + strings.Join(b, ",") + "]"
	}
	photos := func(n int) string {
		var b []string
		for i := range n {
			b = append(b, `{"sha256":"`+fmt.Sprintf("%064x", i+1)+`","size":1,"type":"image/png"}`)
		}
		return "[" + strings.Join(b, ",") + "]"
	}
	people := func(n int) string {
		return "[" + strings.Repeat(`{"name":"王"},`, n-1) + `{"name":"李"}]`
	}
	s := []string{
		// kinds
		`"x"`, `1`, `1.5`, `-3`, `true`, `false`, `[]`, `{}`, `[1]`, `{"a":1}`, ` null `, "\tnull", `nul`, `nulll`, `""`,
		`[null]`, `[null,null]`, `[{}]`, `[[]]`, `[""]`, `["a",1]`, `["a",true]`, `["a",{}]`, `["a",[]]`,
		// strings with escapes and odd bytes
		`"\u0041\u0042"`, `"a\/b"`, `"\ud83d\ude00"`, `"\ud83d"`, `"\ude00\ud83d"`, `"\ud83dx"`, `"\ud83d\u0041"`, `"\t"`, `"\u0000"`,
		`"\u202e"`, `"\u2066x"`, "\"\xed\xa0\x80\"", "\"a\xffb\"", "\"\xe2\x80\"", `"\x"`, `"\u12"`, `"a` + "\x01" + `"`, `"onsite"x`, `"onsite" "x"`,
		`"\u006fnsite"`, `"submitted" `, ` "cp-1"`, `"2026-03-01T08:00:00Z"`, `"2026-03-01t08:00:00z"`, `"2026-03-01T08:00:00\u005a"`,
		`"` + at + `"`, `"1999-12-31T23:59:59Z"`, `"2030-01-01T00:00:00Z"`, `"2026-02-30"`, `"2026-03-01"`, `"1999-01-01"`, `"2026-3-1"`,
		// numbers
		`0`, `-0`, `5`, `6`, `9223372036854775807`, `9223372036854775808`, `-9223372036854775809`, `1e2`, `1E400`, `-1e400`, `1e-400`, `01`, `1.`, `-`, `.5`, `+1`, `0x10`,
		// ids
		`["u-off"]`, `["u\u002doff"]`, `["u-off","u\u002doff"]`, `["` + strings.Repeat("a", 128) + `"]`, `["` + strings.Repeat("a", 129) + `"]`, `["é"]`, "[\"\xff\"]",
		`["` + sha + `","` + sha + `"]`, `["` + strings.ToUpper(sha) + `"]`, `["` + sha[:63] + `"]`, `["\u0061` + sha[1:] + `"]`,
		ids(50), ids(51), ids(51)[:len(ids(51))-1] + `,1]`, `[` + strings.Repeat(`"a",`, 60) + `1]`,
		// locations
		`{"lat":1,"lng":2}`, `{"lat":1,"lng":2,"accuracy_m":5}`, `{"lng":2}`, `{"lat":1}`, `{}`, `{"lat":1,"lng":2,"alt":3}`, `{"lat":1,"lng":2,"b":1,"a":2}`,
		`{"lat":1,"lng":2,"\u00e9":1}`, "{\"lat\":1,\"lng\":2,\"\xff\":1}", `{"l\u0061t":1,"lng":2}`, `{"lat":1,"lng":2,"lat":null}`, `{"lat":null,"lng":2,"lat":1}`,
		`{"lat":"1","lng":2,"lat":1}`, `{"lat":true,"lng":2}`, `{"lat":[],"lng":2}`, `{"lat":{},"lng":2}`, `{"lat":-90,"lng":-180}`, `{"lat":90.0001,"lng":0}`,
		`{"lat":1,"lng":180.5}`, `{"lat":1,"lng":2,"accuracy_m":1000001}`, `{"lat":1,"lng":2,"accuracy_m":1e400}`, `{"LAT":1,"lng":2}`, `[{"lat":1,"lng":2}]`,
		`{"lat":1,"lng":2} x`, `{"lat":1,"lng":2}}`, `{"lat":1,"lng":2,}`, `{"lat" 1,"lng":2}`,
		// photos
		`[` + photo("") + `]`, `[` + photo(`,"taken_at":"`+at+`"`) + `]`, `[` + photo(`,"taken_at":null`) + `]`, `[` + photo(`,"taken_at":5`) + `]`,
		`[` + photo(`,"taken_at":"yesterday"`) + `]`, `[` + photo(`,"taken_at":[1]`) + `]`, `[` + photo(`,"taken_at":{"a":"b"}`) + `]`, `[` + photo(`,"taken_at":true`) + `]`,
		`[` + photo(`,"taken_at":"2026-03-01T08:00:00\u005a"`) + `]`, `[` + photo(`,"taken_at":"2026-13-01T08:00:00Z"`) + `]`, `[` + photo(`,"taken_at":"1980-03-01T08:00:00Z"`) + `]`,
		`[` + photo(`,"taken_at":"2099-03-01T08:00:00Z"`) + `]`, `[` + photo(`,"size":"1"`) + `]`, `[` + photo(`,"size":1.5`) + `]`, `[` + photo(`,"size":1e3`) + `]`,
		`[` + photo(`,"size":99999999999999999999`) + `]`, `[` + photo(`,"size":null`) + `]`, `[` + photo(`,"size":0`) + `]`, `[` + photo(`,"size":67108865`) + `]`,
		`[` + photo(`,"size":[1]`) + `]`, `[` + photo(`,"size":{}`) + `]`, `[` + photo(`,"size":true`) + `]`, `[` + photo(`,"type":5`) + `]`, `[` + photo(`,"type":null`) + `]`,
		`[` + photo(`,"type":"image/gif"`) + `]`, `[` + photo(`,"type":"image\/png"`) + `]`, `[` + photo(`,"sha256":null`) + `]`, `[` + photo(`,"sha256":["x"]`) + `]`,
		`[` + photo(`,"width":-1`) + `]`, `[` + photo(`,"width":100001`) + `]`, `[` + photo(`,"height":1.0`) + `]`, `[` + photo(`,"height":false`) + `]`, `[` + photo(`,"width":"4000"`) + `]`,
		`[` + photo(`,"lat":91`) + `]`, `[` + photo(`,"lat":"1"`) + `]`, `[` + photo(`,"lng":1e999`) + `]`, `[` + photo(`,"lat":null,"lng":null`) + `]`, `[` + photo(`,"lng":-180.1`) + `]`,
		`[` + photo(`,"size":"1","type":5`) + `]`, `[` + photo(`,"size":"1","taken_at":5`) + `]`, `[` + photo(`,"taken_at":5,"size":"1"`) + `]`,
		`[` + photo(`,"taken_at":"bad","taken_at":"`+at+`"`) + `]`, `[` + photo(`,"taken_at":"`+at+`","taken_at":null`) + `]`,
		`[` + photo(`,"x":1`) + `]`, `[` + photo(`,"zz":1,"aa":2`) + `]`, `[` + photo(`,"s\u0069ze":2`) + `]`, `[` + photo(`,"Size":2`) + `]`,
		`[` + photo("") + `,` + photo("") + `]`, `[` + photo("") + `,null]`, `[null,` + photo("") + `]`, `[` + photo("") + `,5]`, `[` + photo("") + `,"x"]`, `[` + photo("") + `,[]]`,
		`[{"sha256":"` + sha + `","size":1,"type":"image/png"},{"sha256":"\u0061b` + sha[2:] + `","size":1,"type":"image/png"}]`,
		photos(50), photos(51), photos(51)[:len(photos(51))-1] + `,5]`, `[` + photo("") + `] [`, `[` + photo("") + `]]`, `{"photos":[]}`,
		// participants and persons
		`[{"name":"王","title":"经理","org":"某公司"}]`, `[{"name":"王","org":"某公司"}]`, `[{"name":"王","phone":"1"}]`, `[{"name":"王","x":"1","b":"2"}]`,
		`[{"name":null}]`, `[{"name":"王","title":null}]`, `[{"name":"王","title":1}]`, `[{"name":"王","title":[]}]`, `[{"name":1,"title":"a\nb"}]`,
		`[{"name":"a\nb","title":"c\u0000"}]`, `[{"name":"王","title":"c\u0000","org":"\u202e"}]`, `[{"name":"\u202e","org":"x\ny"}]`,
		`[{"name":"a\nb","name":"王"}]`, `[{"name":"王","name":" "}]`, `[{"name":"\u3000"}]`, `[{"name":"\u0020\u0009"}]`, "[{\"name\":\"\xff\"}]",
		`[{"name":"` + strings.Repeat("王", 200) + `"}]`, `[{"name":"` + strings.Repeat("王", 201) + `"}]`, `[{"name":"王","title":"` + strings.Repeat("a", 201) + `"}]`,
		"[{\"name\":\"" + strings.Repeat("\xff", 201) + "\"}]", `[{"name":"` + strings.Repeat(`\u0041`, 201) + `"}]`, `[{"na\u006de":"王"}]`,
		people(50), people(51), `[{"name":"王"},null]`, `[{"name":"王"},1]`, `[{"name":"王"},[]]`, `[{"name":"王"}],`, `[{"name":"王"}`,
		// officers
		`[{"user_id":"u-off","primary":true}]`, `[{"user_id":"u-off"},{"user_id":"u-off"}]`, `[{"user_id":"u-off","primary":"yes"}]`, `[{"user_id":5}]`,
		`[{"user_id":"u-off","primary":null}]`, `[{"user_id":null}]`, `[{"user_id":"u off"}]`, `[{"user_id":"u-off","role":"x"}]`, `[{"primary":true}]`, `[null]`,
		`[{"user_id":"u\u002doff"},{"user_id":"u-off"}]`, `[{"user_id":"a","user_id":"b"},{"user_id":"a"}]`,
		// former officers
		`[{"user_id":"u-off","removed_at":"2026-01-01T00:00:00Z"}]`, `[{"user_id":"u-off","removed_at":"x"}]`, `[{"USER_ID":5}]`, `[{"user_id":"u","extra":1}]`,
		// trailing garbage and broken syntax
		`"x" x`, `1 2`, `true false`, `[] []`, `[1,]`, `[,1]`, `{"a"}`, `{"a":}`, `{,}`, `[`, `]`, `{`, `}`, `"`, ``, ` `, "\x00", `[1 2]`, `{"a":1 "b":2}`,
	}
	for _, x := range s {
		vals = append(vals, []byte(x))
	}
	// Nesting at encoding/json's limit and past it.
	for _, d := range []int{2, 100, 9999, 10000, 10001} {
		vals = append(vals, []byte(strings.Repeat("[", d)+strings.Repeat("]", d)))
		vals = append(vals, []byte(`[{"name":`+strings.Repeat("[", d)+strings.Repeat("]", d)+`}]`))
		vals = append(vals, []byte(strings.Repeat(`{"a":`, d)+"1"+strings.Repeat("}", d)))
	}
	vals = append(vals, []byte(`[{"sha256":"`+sha+`","size":1,"type":"image/png","lat":`+strings.Repeat("[", 300)+strings.Repeat("]", 300)+`}]`))
	return vals
}

// valuesOfCases are the values TestCheckWrite and FuzzCheckWrite's seeds
// write, field by field.
func valuesOfCases(t testing.TB) []struct {
	f FieldSpec
	v []byte
} {
	var out []struct {
		f FieldSpec
		v []byte
	}
	add := func(coll string, vals map[string]json.RawMessage) {
		spec, ok := Spec(coll)
		if !ok {
			return
		}
		for name, v := range vals {
			if f, ok := spec.Field(name); ok {
				out = append(out, struct {
					f FieldSpec
					v []byte
				}{f, v})
			}
		}
	}
	for _, tc := range checkWriteCases() {
		for _, m := range []map[string]any{tc.stored, tc.values} {
			vals := map[string]json.RawMessage{}
			for k, v := range m {
				raw, err := json.Marshal(v)
				if err != nil {
					t.Fatal(err)
				}
				vals[k] = raw
			}
			add(tc.collection, vals)
		}
	}
	now := time.Now().UTC()
	add(CollVisits, benchVisitValues(now))
	return out
}

func TestCheckValueAsEncodingJSON(t *testing.T) {
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	for _, c := range valuesOfCases(t) {
		if d := diffValue(c.f, c.v, now); d != "" {
			t.Error(d)
		}
	}
	specs := allSpecs()
	values := diffValues(now)
	for _, f := range specs {
		for _, v := range values {
			if d := diffValue(f, v, now); d != "" {
				t.Error(d)
			}
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	// Mutations of those values: bytes changed, cut, inserted, repeated.
	rng := rand.New(rand.NewPCG(20, 20))
	tokens := []string{`"`, `\`, `\u`, `\ud800`, `\u0041`, `{`, `}`, `[`, `]`, `,`, `:`, `null`, `true`, `0`, `-1`, `1e9`, `1.5`, `1e400`, `"a"`, "\xff", "\xe2\x80", ` `,
		`"lat":`, `"name":`, `"size":`, `"taken_at":`, `"x":`, `"sha256":`, "\u202e", "\n", `\n`, `"2026-03-01T08:00:00Z"`}
	n := 30000
	if testing.Short() {
		n = 3000
	}
	for range n {
		v := bytes.Clone(values[rng.IntN(len(values))])
		for range 1 + rng.IntN(3) {
			if len(v) == 0 {
				v = append(v, tokens[rng.IntN(len(tokens))]...)
				continue
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
		f := specs[rng.IntN(len(specs))]
		if d := diffValue(f, v, now); d != "" {
			t.Fatal(d)
		}
	}
}

// TestJSONValidAsEncodingJSON: jsonValid judges as json.Valid.
func TestJSONValidAsEncodingJSON(t *testing.T) {
	for _, v := range diffValues(time.Now()) {
		if got, want := jsonValid(v), json.Valid(v); got != want {
			t.Errorf("jsonValid(%.80q) = %v, json.Valid says %v", v, got, want)
		}
	}
}

// TestVisitOfficersRead: a visit's officers are read unescaped, each
// checked against the pairing's officers (checkVisit).
func TestVisitOfficersRead(t *testing.T) {
	officer := Principal{UserID: "u-off", Role: Officer}
	for _, tc := range []struct {
		officers string
		want     string // "" accepted, else the refusal's message
	}{
		{`["u-off"]`, ""},
		{`["\u0075-off"]`, ""},
		{` [ "u-off" ] `, ""},
		{`["u-old"]`, ""},
		{`["u-off","u-other"]`, "u-other is not an officer of pairing p1"},
		{`["u-\u006fther"]`, "u-other is not an officer of pairing p1"},
	} {
		w := checkCase(t, officer, CollVisits, nil, map[string]any{"mode": "onsite", "visited_at": "2026-03-01T08:00:00Z", "officers": json.RawMessage(tc.officers)})
		w.Pairing.FormerOfficers = map[string]time.Time{"u-old": time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
		e := CheckWrite(w)
		switch {
		case tc.want == "" && e != nil:
			t.Errorf("officers %s: refused: %v", tc.officers, e)
		case tc.want != "" && (e == nil || e.Message != tc.want || e.Field != "officers" || e.Reason != ReasonNotPairingOfficer):
			t.Errorf("officers %s: got %v, want %q", tc.officers, e, tc.want)
		}
	}
}

// FuzzCheckValue is the differential check under go test -fuzz.
func FuzzCheckValue(f *testing.F) {
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	for _, v := range diffValues(now) {
		if len(v) < 1000 {
			f.Add(uint8(0), v)
		}
	}
	specs := allSpecs()
	f.Fuzz(func(t *testing.T, which uint8, v []byte) {
		for k := range 4 { // four specs from which on: every type is met
			if d := diffValue(specs[(int(which)+k*37)%len(specs)], v, now); d != "" {
				t.Fatal(d)
			}
		}
	})
}

// TestParseTimeAsTimeParse: parseTime (Time.UnmarshalText on the bytes,
// time.Parse for what it refuses) reads every time string as the old
// parseTime (time.Parse on a string) did: the same verdict, the same
// instant, written the same way (the messages format it).
func TestParseTimeAsTimeParse(t *testing.T) {
	f := FieldSpec{Name: "at", Type: TypeTime}
	rng := rand.New(rand.NewPCG(1, 20))
	pick := func(xs ...string) string { return xs[rng.IntN(len(xs))] }
	digits := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte('0' + rng.IntN(10))
		}
		return string(b)
	}
	n := 50000
	if testing.Short() {
		n = 5000
	}
	for i := range n {
		s := pick("2026", "1999", "0000", "9999", "20261", digits(4)) + pick("-", "/", "") + pick("03", "12", "13", "00", "1", digits(2)) + "-" +
			pick("01", "29", "30", "31", "32", "1", digits(2)) + pick("T", "t", " ", "") + pick("08", "23", "24", "8", "00", digits(2)) + ":" +
			pick("00", "59", "60", digits(2)) + pick(":00", ":59", ":60", ":5", "", ":"+digits(2)) + pick("", ".", ".5", ",5", "."+digits(rng.IntN(12)), ","+digits(3)) +
			pick("Z", "z", "+08:00", "-00:00", "+24:00", "+23:59", "+08:60", "+0800", "+08", "-"+digits(2)+":"+digits(2), "")
		v := []byte(`"` + s + `"`)
		if i%7 == 0 {
			v = []byte(`"` + strings.ReplaceAll(s, "-", `\u002d`) + `"`)
		}
		got, ge := parseTime(f, v)
		want, we := oldParseTime(f, v)
		if (ge == nil) != (we == nil) || ge == nil && (!got.Equal(want) || got.Format(time.RFC3339Nano) != want.Format(time.RFC3339Nano)) ||
			ge != nil && !reflect.DeepEqual(*ge, *we) {
			t.Fatalf("%s: got %v %v, want %v %v", v, got, ge, want, we)
		}
	}
}

// TestStringsOfAsEncodingJSON: stringsOf (an issue event's evidence) reads
// what json.Unmarshal reads into a nil []string, and fails where it fails.
func TestStringsOfAsEncodingJSON(t *testing.T) {
	values := diffValues(time.Now())
	rng := rand.New(rand.NewPCG(5, 20))
	for i := range len(values) + 20000 {
		var v []byte
		if i < len(values) {
			v = values[i]
		} else {
			v = bytes.Clone(values[rng.IntN(len(values))])
			if len(v) > 0 {
				j := rng.IntN(len(v))
				v = append(v[:j], append([]byte(pick(rng, `"a"`, `null`, `,`, `"\u00e9"`, `1`, "\xff", `[`, `]`)), v[j:]...)...)
			}
		}
		var want []string
		wantOK := json.Unmarshal(v, &want) == nil
		got, ok := stringsOf(v)
		if ok != wantOK || ok && !reflect.DeepEqual(got, want) {
			t.Fatalf("stringsOf(%.80q) = %#v, %v; json.Unmarshal: %#v, %v", v, got, ok, want, wantOK)
		}
	}
}

func pick(rng *rand.Rand, xs ...string) string { return xs[rng.IntN(len(xs))] }
