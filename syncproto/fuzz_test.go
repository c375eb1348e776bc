package syncproto

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Every decoder must, on any input, either return a *Error with a decoding
// code or a value that encodes and decodes back to the same bytes. The seed
// corpora (f.Add and testdata/golden) run as unit tests in every go test.

func checkDecodeErr(t *testing.T, err error) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("got error %v (%T), want a *Error", err, err)
	}
	switch e.Code {
	case CodeInvalidJSON, CodeTooLarge, CodeBadRequest:
	default:
		t.Fatalf("got code %s, want invalid_json, too_large or bad_request", e.Code)
	}
	if e.Message == "" {
		t.Fatalf("error without a message")
	}
}

func fuzzRoundTrip[T any](f *testing.F, decode func([]byte, Limits) (*T, error), seeds ...[]byte) {
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := decode(data, DefaultLimits())
		if err != nil {
			checkDecodeErr(t, err)
			return
		}
		enc, err := Encode(v)
		if err != nil {
			t.Fatalf("encode a decoded value: %v", err)
		}
		v2, err := decode(enc, Limits{MaxBytes: -1})
		if err != nil {
			t.Fatalf("decode our own encoding: %v\n%s", err, enc)
		}
		enc2, err := Encode(v2)
		if err != nil {
			t.Fatal(err)
		}
		if string(enc2) != string(enc) {
			t.Fatalf("round trip:\n got  %s\n want %s", enc2, enc)
		}
	})
}

func goldenRecords(f testing.TB) [][]byte {
	var out [][]byte
	for _, g := range loadGolden(f) {
		for _, in := range g.Inputs {
			out = append(out, in)
		}
	}
	return out
}

func FuzzDecodePush(f *testing.F) {
	seeds := [][]byte{
		mustEncode(f, samplePush(f, 2, 3)),
		[]byte(pushWith(okRecord)),
		[]byte(`{"v":1,"device":"A","changes":[]}`),
		[]byte(`{"v":1,"device":"A","x":{"$where":"1"}}`),
		[]byte(`{"v":1,"device":"A","x":"\ud800"}`),
		[]byte(`[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]`),
		[]byte("{\"v\":1,\"device\":\"\xff\"}"),
		[]byte(`{"v":1e0}`),
	}
	for _, r := range goldenRecords(f) {
		seeds = append(seeds, []byte(`{"v":1,"device":"A","changes":[{"dot":"A:1","hlc":[1,0],"record":`+string(r)+`}]}`))
	}
	fuzzRoundTrip(f, DecodePush, seeds...)
}

func FuzzDecodePull(f *testing.F) {
	fuzzRoundTrip(f, DecodePull,
		[]byte(`{"v":1,"cursor":{"p1":4,"p2":0},"limit":50}`),
		[]byte(`{"v":1}`),
		[]byte(`{"v":1,"cursor":{"p.1":4}}`),
		[]byte(`{"v":1,"cursor":{"p1":-4}}`),
		[]byte(`{"v":1,"limit":1e9}`),
	)
}

func FuzzDecodePushAnswer(f *testing.F) {
	fuzzRoundTrip(f, DecodePushAnswer,
		[]byte(`{"v":1,"results":[{"dot":"A:1","status":"applied","seq":3},{"dot":"A:2","status":"rejected","error":{"code":"validation_failed","message":"no","field":"rating"}}]}`),
		[]byte(`{"v":1,"results":[{"dot":"A:1","status":"weird"}]}`),
	)
}

func FuzzDecodePullAnswer(f *testing.F) {
	seeds := [][]byte{
		[]byte(`{"v":1,"records":[],"cursor":{},"more":false}`),
		[]byte(`{"v":1,"records":[{"pairing":"p1","seq":3,"record":` + okRecord + `}],"cursor":{"p1":3},"more":true,"resync":["p2"],"purge":["p3"]}`),
	}
	for _, r := range goldenRecords(f) {
		seeds = append(seeds, []byte(`{"v":1,"records":[{"pairing":"p1","seq":1,"record":`+string(r)+`}],"cursor":{"p1":1},"more":false}`))
	}
	fuzzRoundTrip(f, DecodePullAnswer, seeds...)
}

func FuzzDecodeScopes(f *testing.F) {
	fuzzRoundTrip(f, DecodeScopes,
		[]byte(`{"v":1,"pairings":[{"pairing":"p1","seq":9}],"purge":["p3"]}`),
		[]byte(`{"v":1,"pairings":[{"pairing":"","seq":9}]}`),
	)
}

// FuzzRecordJSON: a decoded record encodes canonically (decode, encode,
// decode, encode gives the same bytes), is valid, and merges with itself to
// itself.
func FuzzRecordJSON(f *testing.F) {
	for _, r := range goldenRecords(f) {
		f.Add(r)
	}
	f.Add([]byte(okRecord))
	f.Add([]byte(`{"collection":"c","id":"i","pairing":"p","vv":{"A":3,"B":1},"fields":{"a":{"value":{"z":[1,{"y":"\u00e9\n"}],"a":null},"dot":"A:1","hlc":[1,0]}},"deletes":[{"dot":"A:3","hlc":[2,0],"context":{"A":1}}],"keeps":[{"dot":"B:1","hlc":[1,5]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var r Record
		if err := r.UnmarshalJSON(data); err != nil {
			checkDecodeErr(t, err)
			return
		}
		enc, err := r.MarshalJSON()
		if err != nil {
			t.Fatalf("encode: %v", err)
		}
		var r2 Record
		if err := r2.UnmarshalJSON(enc); err != nil {
			t.Fatalf("decode our own encoding: %v\n%s", err, enc)
		}
		if enc2, _ := r2.MarshalJSON(); string(enc2) != string(enc) {
			t.Fatalf("round trip:\n got  %s\n want %s", enc2, enc)
		}
		if !r2.Equal(r) {
			t.Fatalf("decoded record differs after a round trip:\n got  %s\n want %s", r2, r)
		}
		if err := r.Validate(); err != nil {
			t.Fatalf("decoded record is invalid: %v", err)
		}
		if m := Merge(r, r); !m.Equal(r) {
			t.Fatalf("Merge(r, r):\n got  %s\n want %s", m, r)
		}
	})
}

// FuzzMerge reads the input as a program of writes and state exchanges on
// three replicas (so every state is reachable), then checks the join laws
// on states picked by the input, and convergence. It also checks, for
// arbitrary decoded records, that Merge does not panic and is commutative.
func FuzzMerge(f *testing.F) {
	f.Add([]byte{0, 1, 2, 0, 0, 7, 0, 1, 2, 0, 1, 5, 1, 8, 0, 1, 1, 3, 2, 9, 1, 0})
	f.Add([]byte{4, 0x80, 1, 5, 0, 0, 1, 1, 0, 3, 5, 1, 6, 0, 7, 1, 0, 8, 0, 1, 2, 2, 1})
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25})
	f.Add([]byte("the quick brown fox jumps over the lazy dog, then syncs"))
	f.Fuzz(func(t *testing.T, prog []byte) {
		if len(prog) > 4096 {
			return
		}
		res := runProgram(prog, 3)
		if len(res.states) == 0 {
			return
		}
		pick := func(i int) Record {
			if i >= len(prog) {
				return res.states[i%len(res.states)]
			}
			return res.states[int(prog[i])%len(res.states)]
		}
		for i := 0; i < 8; i++ {
			if msg := checkJoinLaws(pick(3*i), pick(3*i+1), pick(3*i+2)); msg != "" {
				t.Fatal(msg)
			}
		}
		if msg := checkConvergence(res); msg != "" {
			t.Fatal(msg)
		}
		// Arbitrary records: decode the program as JSON pieces; no panic.
		var x, y Record
		if x.UnmarshalJSON(prog) == nil {
			_ = Merge(x, y)
			if !Merge(x, res.states[0]).Equal(Merge(res.states[0], x)) {
				t.Fatalf("Merge is not commutative on a decoded record")
			}
		}
	})
}

// The golden files are also a decode corpus: they must parse as JSON with
// the package's own parser under the default limits.
func TestGoldenFilesParse(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "golden", "*.json"))
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, e := parseJSON(data, DefaultLimits()); e != nil {
			t.Errorf("%s: %v", f, e)
		}
	}
}

// FuzzCanonicalValue: the allocation-free canonical check agrees with the
// parser and the canonical writer, and canonical form is a fixed point.
func FuzzCanonicalValue(f *testing.F) {
	for _, s := range []string{`{"a":1,"b":[true,false,null,"x\n\u0001"]}`, `{"b":1,"a":2}`, `"\u00e9"`, `"\/"`, `1.50e+3`, `-0`, `{"a.b":1}`, `{"\u0024x":1}`, `[{"":{}}]`, `"\u001f"`, `"\u000a"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, v []byte) {
		n, err := parseJSON(v, trustedLimits)
		if isCanonical(v) {
			if err != nil {
				t.Fatalf("isCanonical(%q) = true, but it does not parse: %v", v, err)
			}
			if c := appendCanonical(nil, &n); string(c) != string(v) {
				t.Fatalf("isCanonical(%q) = true, but its canonical form is %q", v, c)
			}
		}
		if err != nil {
			return
		}
		c := appendCanonical(nil, &n)
		n2, err := parseJSON(c, trustedLimits)
		if err != nil {
			t.Fatalf("canonical form %q does not parse: %v", c, err)
		}
		if c2 := appendCanonical(nil, &n2); string(c2) != string(c) {
			t.Fatalf("canonical form is not a fixed point: %q then %q", c, c2)
		}
		if !isCanonical(c) && !strings.Contains(string(c), `\`) {
			t.Fatalf("isCanonical(%q) = false for a canonical value", c)
		}
	})
}
