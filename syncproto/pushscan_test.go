package syncproto

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// The fast push decoder (pushscan.go) against the tree decoder: on every
// input, under several limits, the fast path either accepts with the tree
// decoder's result or answers "not me" (then DecodePush gives the tree
// decoder's answer); it may answer "not me" to input the tree decoder
// accepts only when that input holds an escape (a spelling it leaves to the
// tree decoder).

// diffLimits are the limits the differential tests decode under: the
// server's, small ones (every limit reachable by a short input) and none.
var diffLimits = []Limits{
	DefaultLimits(),
	{MaxBytes: 600, MaxChanges: 2, MaxDepth: 9, MaxString: 12, MaxArray: 3, MaxKeys: 5, MaxFields: 2},
	{MaxDepth: 8},
	{MaxBytes: -1, MaxChanges: -1, MaxDepth: -1, MaxString: -1, MaxArray: -1, MaxKeys: -1, MaxFields: -1},
}

func checkPushDiff(t *testing.T, data []byte) {
	t.Helper()
	for _, lim := range diffLimits {
		want, werr := decodePushTree(data, lim)
		got, ok := decodePushFast(data, lim.withDefaults())
		switch {
		case ok && werr != nil:
			t.Fatalf("limits %+v: the fast path accepts what the tree decoder refuses (%v):\n%q", lim, werr, data)
		case ok && !reflect.DeepEqual(got, want):
			t.Fatalf("limits %+v: the decoders disagree on\n%q\n fast %#v\n tree %#v", lim, data, got, want)
		case !ok && werr == nil && !bytes.Contains(data, []byte(`\`)):
			t.Fatalf("limits %+v: the fast path refuses a push without escapes that the tree decoder accepts:\n%q", lim, data)
		}
		// DecodePush answers as the tree decoder does, errors included (it
		// is the tree decoder that words them; only their code is compared,
		// since Record.validate names the first bad field in map order).
		pub, perr := DecodePush(data, lim)
		if !reflect.DeepEqual(pub, want) || (perr == nil) != (werr == nil) || perr != nil && !sameCode(perr, werr) {
			t.Fatalf("limits %+v: DecodePush gives %v, %v; the tree decoder %v, %v", lim, pub, perr, want, werr)
		}
		if ok {
			checkDecodedCheck(t, lim, data, got)
		}
		if werr == nil {
			checkDecodedCheck(t, lim, data, want)
		}
	}
}

// checkDecodedCheck: a change the decoder marked (Change.decoded) passes
// the checks Change.Check then skips, with the values exactly as Check
// would check them, and Check answers on it as on the same change
// unmarked (against nothing stored and against its own record; the code
// only, since which bad entry Check names first follows map order).
func checkDecodedCheck(t *testing.T, lim Limits, data []byte, req *PushRequest) {
	t.Helper()
	for i, c := range req.Changes {
		if c.decoded {
			if e := c.Record.validate("record", true); e != nil {
				t.Fatalf("limits %+v: change %d is marked checked but its record fails Check's validate (%v):\n%q", lim, i, e, data)
			}
			if e := c.validate(""); e != nil {
				t.Fatalf("limits %+v: change %d is marked checked but fails Check's validate (%v):\n%q", lim, i, e, data)
			}
		}
		plain := c
		plain.decoded = false
		for _, stored := range []Record{{}, c.Record} {
			got, want := c.Check(req.Device, stored), plain.Check(req.Device, stored)
			if (got == nil) != (want == nil) || got != nil && got.Code != want.Code {
				t.Fatalf("limits %+v: Check on change %d as decoded gives %v, unmarked %v:\n%q", lim, i, got, want, data)
			}
			// (Merged whether Check passes or not: the record is valid
			// either way, all the fast path needs.)
			m, st := c.MergeInto(stored)
			pm, pst := plain.MergeInto(stored)
			if st != pst || !reflect.DeepEqual(m, pm) && m.String() != pm.String() {
				t.Fatalf("limits %+v: change %d as decoded merges to %s (%s), unmarked to %s (%s):\n%q", lim, i, m, st, pm, pst, data)
			}
		}
	}
}

// TestCheckDecodedDeepValue: a value nested deeper than Check's canonical
// check allows (512) gets through a decoder without a depth limit, and the
// decoder leaves the change unmarked, so Check still refuses it in its own
// words.
func TestCheckDecodedDeepValue(t *testing.T) {
	deep := strings.Repeat("[", 600) + strings.Repeat("]", 600)
	data := []byte(pushWith(strings.Replace(okRecord, `"value":"x"`, `"value":`+deep, 1)))
	req, err := DecodePush(data, Limits{MaxDepth: -1})
	if err != nil {
		t.Fatal(err)
	}
	c := req.Changes[0]
	if c.decoded {
		t.Fatal("a change whose value Check refuses is marked checked")
	}
	e := c.Check(req.Device, Record{})
	if e == nil || e.Field != "record.fields.notes" || !strings.HasPrefix(e.Message, "value is not valid JSON: ") {
		t.Fatalf("Check gives %v, want record.fields.notes: value is not valid JSON", e)
	}
	// The marked case: a phone's push.
	req, err = DecodePush(mustEncode(t, benchVisitPush(t, 2)), DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range req.Changes {
		if !c.decoded {
			t.Fatalf("a phone's change %s is not marked checked", c.Dot)
		}
	}
}

func sameCode(a, b error) bool {
	var x, y *Error
	return errors.As(a, &x) && errors.As(b, &y) && x.Code == y.Code
}

// pushCorpus is the inputs the differential tests start from: FuzzDecodePush's
// seeds and stored corpus, TestDecodePushErrors' cases, the golden records
// as pushes, and pushes shaped as the phones send them.
func pushCorpus(tb testing.TB) [][]byte {
	out := [][]byte{
		mustEncode(tb, samplePush(tb, 2, 3)),
		mustEncode(tb, benchVisitPush(tb, 3)),
		[]byte(pushWith(okRecord)),
		[]byte(`{"v":1,"device":"A","changes":[]}`),
		[]byte(`{"v":1,"device":"A","changes":null}`),
		[]byte(`{"v":1,"device":"A"}`),
		[]byte(` {"device":"A", "v":1 ,"changes":[ ] } `),
		[]byte(`{"v":1,"device":"A","x":{"$where":"1"}}`),
		[]byte(`{"v":1,"device":"A","x":"\ud800"}`),
		[]byte(`{"v":1,"device":"A","x":"\ud83d\ude00\u00e9\n\/"}`),
		[]byte(`[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]`),
		[]byte("{\"v\":1,\"device\":\"\xff\"}"),
		[]byte(`{"v":1e0}`),
		[]byte(`{"v":01,"device":"A"}`),
		[]byte(`{"v":1,"device":"A","future":{"x":[1,-0.5e+3,true,false,null,{"":""}]},"changes":[]}`),
		[]byte(pushWith(strings.Replace(okRecord, `"value":"x"`, `"value":{"b":1,"a":[2, 3]}`, 1))),
		[]byte(pushWith(strings.Replace(okRecord, `"value":"x"`, `"value":"\u00e9"`, 1))),
		[]byte(pushWith(strings.Replace(okRecord, `"value":"x"`, `"value":null`, 1))),
		[]byte(pushWith(strings.Replace(okRecord, `"value":"x"`, `"value":`+strings.Repeat("[", 300)+strings.Repeat("]", 300), 1))),
		[]byte(pushWith(strings.Replace(okRecord, `"value":"x"`, `"value":{"a":`+strings.Repeat("[", 510)+strings.Repeat("]", 510)+`}`, 1))),
		[]byte(pushWith(strings.Replace(okRecord, `"vv":{"A":1}`, `"vv":{"A":1,"B":0}`, 1))),
		[]byte(pushWith(strings.Replace(okRecord, `"vv":{"A":1}`, `"vv":{"A":1},"conflicts":null,"deletes":[],"keeps":null,"fields2":1`, 1))),
	}
	// Values canonical or not by a hair: each alone in its push, so that
	// one value's spelling decides.
	for _, v := range []string{`"\u001F"`, `"\u001f"`, `"\u001A"`, `"\u000a"`, `"\u0009"`, `"\u0020"`, `"\u0100"`, `"\n"`, `"\/"`, `"\"\\"`,
		`"\ud83d\ude00"`, `"\u00e9"`, `[1, 2]`, `[1,{"a":{"c":1,"b":2}}]`, `{"b":1,"a":2}`, `{"a":1,"b":{"d":[]}}`, `{ }`, `[]`, `-0.5e+3`, `"\b\f\r\t"`} {
		out = append(out, []byte(pushWith(strings.Replace(okRecord, `"value":"x"`, `"value":`+v, 1))))
	}
	// A change with a conflict, a delete and a keep.
	out = append(out, []byte(`{"v":1,"device":"A","changes":[{"dot":"A:3","hlc":[5,0],"record":{"collection":"c","id":"i","pairing":"p","vv":{"A":3,"B":1},`+
		`"fields":{"a":{"value":1,"dot":"A:1","hlc":[6,0]}},"conflicts":[{"field":"a","value":{"z":2,"y":1},"dot":"B:1","hlc":[1,0]}],`+
		`"deletes":[{"dot":"A:3","hlc":[5,0],"context":{"A":2,"B":0}}],"keeps":[{"dot":"A:2","hlc":[3,0],"value":7}]}}]}`))
	var golden [][]byte
	for _, g := range loadGolden(tb) {
		for _, in := range g.Inputs {
			golden = append(golden, in)
		}
	}
	for _, r := range golden {
		out = append(out, []byte(`{"v":1,"device":"A","changes":[{"dot":"A:1","hlc":[1,0],"record":`+string(r)+`}]}`))
		var rec Record
		if rec.UnmarshalJSON(r) == nil {
			// As the record's own replicas would push it.
			for rep, n := range rec.VV {
				for _, f := range rec.Fields {
					if f.Dot.Replica == rep && f.Dot.Counter == n {
						out = append(out, []byte(`{"v":1,"device":"`+string(rep)+`","changes":[{"dot":"`+f.Dot.String()+`","hlc":`+string(appendHLC(nil, f.HLC))+`,"record":`+string(r)+`}]}`))
					}
				}
			}
		}
	}
	files, _ := filepath.Glob(filepath.Join("testdata", "fuzz", "FuzzDecodePush", "*"))
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		lines := strings.Split(string(data), "\n")
		if len(lines) > 1 {
			if s, ok := strings.CutPrefix(strings.TrimSpace(lines[1]), "[]byte("); ok {
				var v string
				if json.Unmarshal([]byte(strings.TrimSuffix(s, ")")), &v) == nil {
					out = append(out, []byte(v))
				}
			}
		}
	}
	deep := strings.Repeat("[", 40) + strings.Repeat("]", 40)
	for _, s := range []string{
		`{"v":1,`, `{"v":1,"device":"A"} {}`, "{\"v\":1,\"device\":\"A\xff\"}", `{"v":1,"v":1,"device":"A"}`,
		`{"v":1,"device":"A","x":` + deep + `}`, `{"v":1,"device":"A","x":{"a":1,"b":2,"c":3,"d":4}}`,
		`{"v":1,"device":"A","x":{"\u0024where":1}}`, `{"v":1,"device":"A","x":{"a.b":1}}`, `{"v":1,"device":"A","x":{"a\u0000":1}}`,
		`{"device":"A"}`, `{"V":1,"device":"A"}`, `{"v":2,"device":"A"}`, `{"v":"1","device":"A"}`, `{"v":1,"device":"a b"}`,
		strings.Replace(pushWith(okRecord), `"device":"A"`, `"device":"B"`, 1),
		pushWith(strings.Replace(okRecord, `"dot":"A:1"`, `"dot":"A:2"`, 1)),
		pushWith(strings.Replace(okRecord, `"notes":`, `"9notes":`, 1)),
		`{"v":1,"device":"A","changes":[{"dot":"A:1","hlc":[1,0]}]}`,
		strings.Replace(pushWith(okRecord), `"hlc":[1,0],"record"`, `"hlc":"now","record"`, 1),
		strings.Replace(pushWith(okRecord), `"hlc":[1,0],"record"`, `"hlc":[1,0,0],"record"`, 1),
		`{"v":1,"device":"A","changes":[` + strings.TrimSuffix(strings.Repeat(`{},`, 501), ",") + `]}`,
	} {
		out = append(out, []byte(s))
	}
	return out
}

func TestDecodePushFastAgrees(t *testing.T) {
	for _, data := range pushCorpus(t) {
		checkPushDiff(t, data)
	}
}

// TestDecodePushFastTakesPhonePushes: pushes as clients write them never
// need the tree decoder.
func TestDecodePushFastTakesPhonePushes(t *testing.T) {
	for _, req := range []*PushRequest{samplePush(t, 20, 5), benchVisitPush(t, 20)} {
		enc := mustEncode(t, req)
		std, err := json.Marshal(req)
		if err != nil {
			t.Fatal(err)
		}
		for _, data := range [][]byte{enc, std} {
			got, ok := decodePushFast(data, DefaultLimits())
			if !ok {
				t.Fatalf("the fast path refuses a push a client wrote:\n%.300s", data)
			}
			if !bytes.Equal(mustEncode(t, got), enc) {
				t.Fatalf("the fast path decodes a push to something else")
			}
		}
	}
}

// TestDecodePushFastMutations runs the differential check on random
// mutations of the corpus (a deterministic stand-in for go test -fuzz).
func TestDecodePushFastMutations(t *testing.T) {
	rng := rand.New(rand.NewPCG(20, 26))
	corpus := pushCorpus(t)
	n := 3000
	if testing.Short() {
		n = 300
	}
	for range n {
		data := mutatePush(rng, corpus[rng.IntN(len(corpus))])
		checkPushDiff(t, data)
	}
}

// mutatePush applies one to three random edits that keep much of a push's
// structure: a byte changed, deleted or duplicated, a JSON token inserted,
// a span deleted or repeated, the input cut short.
func mutatePush(rng *rand.Rand, in []byte) []byte {
	tokens := []string{`"`, `\`, `\u`, `\ud800`, `{`, `}`, `[`, `]`, `,`, `:`, `null`, `0`, `-1`, `1e9`, `"$x"`, `"a.b"`, `"A:0"`, `"A:2"`, `9007199254740992`, "\xff", "\x00", ` `, `"é"`, `""`, `{"a":1}`, `[1,2,3,4]`, `"v":1,`, `"value":`, `"dot":"A:1",`}
	b := bytes.Clone(in)
	for range 1 + rng.IntN(3) {
		if len(b) == 0 {
			b = append(b, tokens[rng.IntN(len(tokens))]...)
			continue
		}
		i := rng.IntN(len(b))
		switch rng.IntN(7) {
		case 0:
			b[i] = byte(rng.IntN(256))
		case 1:
			b = append(b[:i], b[i+1:]...)
		case 2:
			b = append(b[:i], append([]byte{b[i]}, b[i:]...)...)
		case 3:
			tok := tokens[rng.IntN(len(tokens))]
			b = append(b[:i], append([]byte(tok), b[i:]...)...)
		case 4:
			j := min(len(b), i+1+rng.IntN(40))
			b = append(b[:i], b[j:]...)
		case 5:
			j := min(len(b), i+1+rng.IntN(80))
			span := bytes.Clone(b[i:j])
			b = append(b[:j], append(span, b[j:]...)...)
		case 6:
			b = b[:i]
		}
	}
	return b
}

// FuzzDecodePushFast is the differential check under go test -fuzz.
func FuzzDecodePushFast(f *testing.F) {
	for _, data := range pushCorpus(f) {
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkPushDiff(t, data)
	})
}

// TestDecodePushNoChangeLimit: a negative MaxChanges means no limit (it
// refused every push that had a changes list).
func TestDecodePushNoChangeLimit(t *testing.T) {
	data := mustEncode(t, samplePush(t, 3, 1))
	req, err := DecodePush(data, Limits{MaxChanges: -1})
	if err != nil || len(req.Changes) != 3 {
		t.Fatalf("got %v, %v; want 3 changes", req, err)
	}
	if _, err := decodePushTree(data, Limits{MaxChanges: -1}); err != nil {
		t.Fatalf("tree decoder: %v", err)
	}
}
