package pairing

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// TestJSONString checks jsonString against json.Unmarshal into a string:
// same value, same acceptance, on plain and escaped strings and non-strings.
func TestJSONString(t *testing.T) {
	for _, v := range []string{
		`"走访企业了解经营情况"`, `""`, `"a b"`, `"tab\tin"`, `"q\"uote"`, `"back\\slash"`, `"\u00e9\ud83d\ude00"`,
		`"bad utf8 ` + "\xff" + `"`, "\"raw\nnewline\"", "\"raw\ttab\"", ` "spaced" `, `"unterminated`, `"`, `"a"b"`,
		`null`, `12`, `true`, `["a"]`, `{"a":"b"}`, ``, `"trailing"x`,
	} {
		var want string
		wantOK := json.Unmarshal([]byte(v), &want) == nil
		got, ok := jsonString([]byte(v))
		if ok != wantOK || got != want {
			t.Errorf("jsonString(%q): got %q, %v; want %q, %v (encoding/json)", v, got, ok, want, wantOK)
		}
	}
}

// FuzzJSONString: jsonString agrees with encoding/json on any input.
func FuzzJSONString(f *testing.F) {
	for _, s := range []string{`"abc"`, `"\n"`, `"é"`, "\"\xff\"", `null`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, v []byte) {
		var want string
		wantOK := json.Unmarshal(v, &want) == nil
		got, ok := jsonString(v)
		if ok != wantOK || got != want {
			t.Errorf("jsonString(%q): got %q, %v; want %q, %v (encoding/json)", v, got, ok, want, wantOK)
		}
	})
}

// strictObjectSlow is strictObject as it was, all through encoding/json:
// the fast path must answer as it does. (Which unknown key a message names
// depends on map order: answers are compared by kind.)
func strictObjectSlow(v json.RawMessage, allowed []string) string {
	var m map[string]json.RawMessage
	if json.Unmarshal(v, &m) != nil {
		return "want an object"
	}
	for k := range m {
		if !slices.Contains(allowed, k) {
			return fmt.Sprintf("unknown key %q (allowed: %s)", k, strings.Join(allowed, ", "))
		}
	}
	return ""
}

// answerKind is a strictObject answer without the key it names.
func answerKind(msg string) string {
	if strings.HasPrefix(msg, "unknown key") {
		return "unknown key"
	}
	return msg
}

var strictObjectCases = []string{
	`{"lat":32.05,"lng":118.79,"accuracy_m":12}`, `{}`, ` { "lat" : 1 , "lng":[1,{"x":"}"}] } `, `{"lat":"a\"b}","lng":null}`,
	`{"LAT":1}`, `{"lat":1,"alt":2}`, `{"l\u0061t":1}`, `{"lat":1,}`, `{"lat":1`, `[]`, `null`, `"x"`, `{"lat":1}x`,
	`{"lat":{"lng":{"lat":[true,false,null,-1.5e3]}},"lng":"é"}`, `{"lat":1,"lat":2}`, `{"é":1}`, ``,
}

// TestStrictObject: strictObject answers as encoding/json's map would.
func TestStrictObject(t *testing.T) {
	allowed := []string{"lat", "lng", "accuracy_m"}
	for _, v := range strictObjectCases {
		if got, want := strictObject(json.RawMessage(v), allowed), strictObjectSlow(json.RawMessage(v), allowed); answerKind(got) != answerKind(want) {
			t.Errorf("strictObject(%s): got %q, want %q", v, got, want)
		}
	}
}

// FuzzStrictObject: strictObject answers as encoding/json's map would, on
// any input.
func FuzzStrictObject(f *testing.F) {
	for _, v := range strictObjectCases {
		f.Add([]byte(v))
	}
	allowed := []string{"lat", "lng", "accuracy_m"}
	f.Fuzz(func(t *testing.T, v []byte) {
		if got, want := strictObject(v, allowed), strictObjectSlow(v, allowed); answerKind(got) != answerKind(want) {
			t.Errorf("strictObject(%q): got %q, want %q", v, got, want)
		}
	})
}
