package syncproto

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

// The fast pull-answer decoder (pullscan.go) against the tree decoder, as
// pushscan_test.go holds DecodePush's: on every input, under several limits,
// the fast path either accepts with the tree decoder's result (Raw
// included: set on the same records, to the same bytes of the input) or
// answers "not me", and DecodePullAnswer answers as the tree decoder does,
// errors included. The fast path may answer "not me" to input the tree
// decoder accepts only when that input holds an escape.

// pullDiffLimits are diffLimits and limits a short page of short records
// reaches one at a time (its records, a record's fields, keys, strings).
var pullDiffLimits = append(diffLimits[:len(diffLimits):len(diffLimits)],
	Limits{MaxArray: 3}, Limits{MaxFields: 1, MaxKeys: 5}, Limits{MaxString: 8, MaxDepth: 6})

func checkPullDiff(t *testing.T, data []byte) {
	t.Helper()
	for _, lim := range pullDiffLimits {
		want, werr := decodePullAnswerTree(data, lim)
		got, ok := decodePullAnswerFast(data, lim.withDefaults())
		switch {
		case ok && werr != nil:
			t.Fatalf("limits %+v: the fast path accepts what the tree decoder refuses (%v):\n%q", lim, werr, data)
		case ok:
			if msg := samePullAnswer(got, want); msg != "" {
				t.Fatalf("limits %+v: the decoders disagree on\n%q\n%s", lim, data, msg)
			}
		case werr == nil && !bytes.Contains(data, []byte(`\`)):
			t.Fatalf("limits %+v: the fast path refuses a pull answer without escapes that the tree decoder accepts:\n%q", lim, data)
		}
		pub, perr := DecodePullAnswer(data, lim)
		switch {
		case (perr == nil) != (werr == nil):
			t.Fatalf("limits %+v: DecodePullAnswer gives error %v, the tree decoder %v:\n%q", lim, perr, werr, data)
		case perr == nil:
			if msg := samePullAnswer(pub, want); msg != "" {
				t.Fatalf("limits %+v: DecodePullAnswer and the tree decoder disagree on\n%q\n%s", lim, data, msg)
			}
		default:
			// The same error: code, field and message, unless the tree
			// decoder itself words this input differently from run to run
			// (Record.validate names the first bad field in map order).
			_, again := decodePullAnswerTree(data, lim)
			if !sameCode(perr, werr) || again.Error() == werr.Error() && perr.Error() != werr.Error() {
				t.Fatalf("limits %+v: DecodePullAnswer refuses with %v, the tree decoder with %v:\n%q", lim, perr, werr, data)
			}
		}
	}
}

// samePullAnswer compares two decodings of one body: deeply equal, and each
// Raw the same bytes of the body (it aliases it).
func samePullAnswer(got, want *PullAnswer) string {
	if !reflect.DeepEqual(got, want) {
		return fmt.Sprintf(" fast %#v\n tree %#v", got, want)
	}
	// (The tree decoder's Raw is a slice of data.)
	for i := range got.Records {
		if g, w := got.Records[i].Raw, want.Records[i].Raw; len(g) > 0 && &g[0] != &w[0] {
			return fmt.Sprintf("record %d: Raw is not the same bytes of the body", i)
		}
	}
	return ""
}

// pullPage wraps records (JSON) into a pull answer, each with its seq.
func pullPage(records ...string) string {
	var b strings.Builder
	b.WriteString(`{"v":1,"records":[`)
	for i, r := range records {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"seq":%d,"record":%s}`, i+1, r)
	}
	b.WriteString(`],"cursor":{"p1":9},"more":false}`)
	return b.String()
}

// pullCorpus is the inputs the differential tests start from: the pull
// answers of the package's other tests (TestRoundTrip, TestPulledRecordRaw,
// FuzzDecodePullAnswer's and FuzzCursorNext's seeds), every input of
// pushCorpus (TestDecodePushErrors' cases, the golden records, the
// borderline values) turned into a pull answer, cases of the pull answer's
// own keys, and generated pages.
func pullCorpus(tb testing.TB) [][]byte {
	_, _, m, _, _ := concurrentNotes(tb)
	rt := &PullAnswer{V: 1, Records: []PulledRecord{{Pairing: "p1", Seq: 9, Record: m}}, Cursor: Cursor{"p1": 9}, More: true, Resync: []string{"p2"}, Purge: []string{"p3"}}
	std, err := json.Marshal(rt)
	if err != nil {
		tb.Fatal(err)
	}
	out := [][]byte{
		mustEncode(tb, rt), std,
		mustEncode(tb, benchVisitPage(tb, 3)),
		[]byte(`{"v":1,"records":[],"cursor":{},"more":false}`),
		[]byte(`{"v":1,"records":[{"pairing":"p1","seq":3,"record":` + okRecord + `}],"cursor":{"p1":3},"more":true,"resync":["p2"],"purge":["p3"]}`),
		[]byte(`{"v":1,"cursor":{"p1":4,"p2":0}}`),
		[]byte(`{"v":1,"records":[],"cursor":{"p1":3,"p3":9},"more":false,"resync":["p2"],"purge":["p4"]}`),
		[]byte(`{"v":1,"records":[],"cursor":{},"more":true}`),
		[]byte(`{"v":1,"records":[],"cursor":{"p1":0},"purge":["p1"],"resync":["p1"]}`),
		[]byte(`{"v":1,"cursor":{"p1":18446744073709551615}}`),
	}
	// TestPulledRecordRaw's page, as written, HTML-escaped and spaced.
	w := &Writer{Replica: "phone-A"}
	r1, _ := mustSet(tb, w, NewRecord("visits", "v1", "p1"), vals("notes", `"<&> 中文"`), t0)
	r2, _ := mustSet(tb, w, NewRecord("visits", "v2", "p1"), vals("notes", `"y"`), t0)
	body := mustEncode(tb, &PullAnswer{V: Version, Records: []PulledRecord{{Pairing: "p1", Seq: 1, Record: r1}, {Pairing: "p1", Seq: 2, Record: r2}}, Cursor: Cursor{"p1": 2}})
	esc, _ := json.Marshal(json.RawMessage(body))
	out = append(out, body, esc, append([]byte(" "), bytes.ReplaceAll(body, []byte(`"fields":`), []byte(`"fields" : `))...))
	// Pushes' records as a server pages them.
	for _, n := range []int{1, 4} {
		ans := &PullAnswer{V: Version, Cursor: Cursor{"p1": uint64(n)}}
		for i, c := range samplePush(tb, n, 3).Changes {
			ans.Records = append(ans.Records, PulledRecord{Pairing: "p1", Seq: uint64(i + 1), Record: c.Record})
		}
		out = append(out, mustEncode(tb, ans))
	}
	// Every push of pushCorpus as a pull answer: its changes become records
	// (the first one's dot and hlc become a seq), what is not a change stays.
	for _, push := range pushCorpus(tb) {
		s := string(push)
		s = strings.Replace(s, `"device":"A","changes":[`, `"records":[`, 1)
		s = strings.Replace(s, `"changes":[`, `"records":[`, 1)
		s = strings.ReplaceAll(s, `{"dot":"A:1","hlc":[1,0],"record":`, `{"seq":1,"record":`)
		out = append(out, []byte(s))
	}
	for _, r := range goldenRecords(tb) {
		out = append(out,
			[]byte(`{"v":1,"records":[{"pairing":"p1","seq":1,"record":`+string(r)+`}],"cursor":{"p1":1},"more":false}`),
			[]byte(pullPage(string(r), string(r))))
	}
	deep := strings.Repeat("[", 40) + strings.Repeat("]", 40)
	ok := okRecord
	for _, s := range []string{
		// The answer's own keys.
		`{"v":1}`, `{"v":1,"records":null,"cursor":null,"more":null,"resync":null,"purge":null}`,
		`{"v":1,"records":[],"cursor":{},"more":false,"resync":[],"purge":[]}`,
		`{"v":2}`, `{"v":01}`, `{"v":1.0}`, `{"v":"1"}`, `{"V":1}`, `{}`, `[]`, `{"v":1,"v":1}`, `{"v":1} {}`, `{"v":1,`, ` { "v" : 1 } `,
		`{"v":1,"records":{}}`, `{"v":1,"records":[null]}`, `{"v":1,"records":[1]}`, `{"v":1,"records":[{}]}`,
		`{"v":1,"cursor":[]}`, `{"v":1,"cursor":{"p.1":4}}`, `{"v":1,"cursor":{"p1":-4}}`, `{"v":1,"cursor":{"p1":1e3}}`, `{"v":1,"cursor":{"p1":01}}`,
		`{"v":1,"cursor":{"":1}}`, `{"v":1,"cursor":{"p1":9007199254740992}}`, `{"v":1,"cursor":{"p1":9007199254740991,"p2":0}}`,
		`{"v":1,"cursor":{"p\u0031":1}}`, `{"v":1,"cursor":{"` + strings.Repeat("p", 65) + `":1}}`,
		`{"v":1,"more":true}`, `{"v":1,"more":1}`, `{"v":1,"more":"true"}`, `{"v":1,"more":tru}`, `{"v":1,"more":falsey}`,
		`{"v":1,"resync":["p2","p3"]}`, `{"v":1,"resync":"p2"}`, `{"v":1,"resync":[1]}`, `{"v":1,"resync":["a b"]}`, `{"v":1,"purge":["p\u0032"]}`,
		`{"v":1,"purge":[""]}`, `{"v":1,"purge":[null]}`, `{"v":1,"resync":["p1","p2","p3","p4"]}`,
		`{"v":1,"future":{"x":[1,-0.5e+3,true,false,null,{"":""}]}}`, `{"v":1,"x":` + deep + `}`, `{"v":1,"x":{"$where":1}}`,
		`{"v":1,"x":"\ud800"}`, "{\"v\":1,\"x\":\"\xff\"}", `{"v":1,"x":{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6}}`,
		// A record's element: seq, pairing, unknown keys.
		`{"v":1,"records":[{"seq":1}]}`, `{"v":1,"records":[{"record":` + ok + `}]}`,
		`{"v":1,"records":[{"seq":0,"record":` + ok + `}]}`, `{"v":1,"records":[{"seq":-1,"record":` + ok + `}]}`,
		`{"v":1,"records":[{"seq":9007199254740992,"record":` + ok + `}]}`, `{"v":1,"records":[{"seq":"1","record":` + ok + `}]}`,
		`{"v":1,"records":[{"record":` + ok + `,"seq":2,"pairing":"p1"}]}`, `{"v":1,"records":[{"seq":1,"pairing":"p2","record":` + ok + `}]}`,
		`{"v":1,"records":[{"seq":1,"pairing":null,"record":` + ok + `}]}`, `{"v":1,"records":[{"seq":1,"pairing":1,"record":` + ok + `}]}`,
		`{"v":1,"records":[{"seq":1,"pairing":"p\u0031","record":` + ok + `}]}`, `{"v":1,"records":[{"seq":1,"pairing":"","record":` + ok + `}]}`,
		`{"v":1,"records":[{"seq":1,"record":` + ok + `,"extra":{"a":[1]}}]}`, `{"v":1,"records":[{"seq":1,"record":` + ok + `,"seq":2}]}`,
		`{"v":1,"records":[{"seq":1,"record":null}]}`, `{"v":1,"records":[{"seq":1,"record":[]}]}`,
	} {
		out = append(out, []byte(s))
	}
	// Raw: the record's bytes as they came, only when canonical; each edit
	// on okRecord (keys out of order: never canonical) and on its canonical
	// spelling.
	canon := `{"collection":"visits","fields":{"notes":{"dot":"A:1","hlc":[1,0],"value":"x"}},"id":"v1","pairing":"p1","vv":{"A":1}}`
	for _, rec := range []string{okRecord, canon} {
		edit := func(kv ...string) string {
			r := rec
			for i := 0; i+1 < len(kv); i += 2 {
				r = strings.Replace(r, kv[i], kv[i+1], 1)
			}
			return r
		}
		for _, s := range []string{
			pullPage(rec), pullPage(` ` + rec + ` `), pullPage(rec, rec+"\n", rec),
			`{"v":1,"records":[{"seq":1,"record":` + rec + ` , "pairing" : "p1"}]}`,
			pullPage(edit(`"id":"v1",`, `"id":"v1", `)),
			pullPage(edit(`{`, `{ `)),
			pullPage(edit(`"value":"x"`, `"value":"x\/y"`)),
			pullPage(edit(`"value":"x"`, `"value":{"b":1,"a":2}`)),
			pullPage(edit(`"value":"x"`, `"value":{"a":1,"b":[1, 2]}`)),
			pullPage(edit(`"value":"x"`, `"value":{"a":1,"b":[1,2]}`)),
			pullPage(edit(`"value":"x"`, `"value":"\u00e9"`)),
			pullPage(edit(`"value":"x"`, `"value":"\u001f"`)),
			pullPage(edit(`"value":"x"`, `"value":"\u001F"`)),
			pullPage(edit(`"value":"x"`, `"value":"\u000a"`)),
			pullPage(edit(`"value":"x"`, `"value":"\n\u0000\t\"\\"`)),
			pullPage(edit(`"value":"x"`, `"value":"x\u0000"`, `"id":"v1"`, `"id":"v1","x":"\u00e9"`)),
			pullPage(edit(`"fields":{`, `"fields":{"a":{"dot":"A:1","hlc":[1,0],"value":1},`)),
			pullPage(edit(`"fields":{`, `"fields":{"z":{"dot":"A:1","hlc":[1,0],"value":1},`)),
			pullPage(edit(`"fields":{`, `"fields":{"a":{"value":1,"dot":"A:1","hlc":[1,0]},`)),
			pullPage(edit(`"vv":{"A":1}`, `"vv":{"A":1},"x":{"a":1,"b":1}`)),
			pullPage(edit(`"vv":{"A":1}`, `"vv":{"A":1},"x":{"b":1,"a":1}`)),
			pullPage(edit(`"vv":{"A":1}`, `"vv":{"A":1},"x":"\/"`)),
			pullPage(edit(`"vv":{"A":1}`, `"vv":{"A":1},"zz":[1 ,2]`)),
			pullPage(edit(`"vv":{"A":1}`, `"vv":{"A":1,"B":0}`)),
			pullPage(edit(`"vv":{"A":1}`, `"vv":{"B":0,"A":1}`)),
			pullPage(edit(`"vv":{"A":1}`, `"vv":{"A":1},"zz":null`)),
			pullPage(edit(`{"collection":"visits",`, `{"collection":"visits","conflicts":null,"deletes":[],`)),
			pullPage(edit(`"value":"x"`, `"value":`+strings.Repeat("[", 300)+strings.Repeat("]", 300))),
			pullPage(edit(`"vv":{"A":1}`, `"vv":{"A":1},"x":`+strings.Repeat("[", 300)+strings.Repeat("]", 300))),
			pullPage(edit(`"vv":{"A":1}`, `"vv":{"A":1},"x":`+strings.Repeat("[", 509)+strings.Repeat("]", 509))),
			pullPage(edit(`"vv":{"A":1}`, `"vv":{"A":1},"x":`+strings.Repeat("[", 510)+strings.Repeat("]", 510))),
			pullPage(edit(`"vv":{"A":1}`, `"vv":{"A":1},"x":`+strings.Repeat("[", 520)+strings.Repeat("]", 520))),
			pullPage(edit(`"id":"v1"`, `"id":"v\u0031"`)),
			pullPage(edit(`"value":"x"`, `"value":-0.5e+3`)),
			pullPage(rec, edit(`"id":"v1"`, `"id":"v2"`), edit(`"id":"v1"`, `"id":"v3"`), edit(`"id":"v1"`, `"id":"v4"`)),
		} {
			out = append(out, []byte(s))
		}
	}
	rng := rand.New(rand.NewPCG(20, 2))
	for range 60 {
		out = append(out, randomPages(tb, rng)...)
	}
	return out
}

// randomValues are field values of every kind, canonical or not as written
// (the Writer makes them canonical; json.Marshal escapes <, > and &).
var randomValues = []string{
	`null`, `true`, `false`, `0`, `-12`, `3.25`, `-0.5e+3`, `1E9`, `""`, `"x"`, `"走访企业了解经营情况"`, `"<a&b>"`, `"\u00e9\n\t\"\\"`,
	`"\u001f\u0000"`, `"\ud83d\ude00"`, `"a\/b"`, `[]`, `{}`, `[1,"2",[3]]`, `{"b":1,"a":[{"d":null,"c":"é"}]}`,
	`{"lat":32.06637377984915,"lng":118.82254369194659,"accuracy_m":33}`, `[{"name":"王经理","title":"总经理"}]`,
}

// randomRecordValued is randomRecord with values of every kind and one of a
// few keys.
func randomRecordValued(rng *rand.Rand) Record {
	r := randomRecord(rng)
	r.Collection = []string{"visits", "issues", "c"}[rng.IntN(3)]
	r.ID = fmt.Sprintf("id-%d", rng.IntN(1000))
	r.Pairing = []string{"p1", "p-2", "P_3"}[rng.IntN(3)]
	val := func() json.RawMessage {
		v, err := canonicalValue([]byte(randomValues[rng.IntN(len(randomValues))]), trustedLimits)
		if err != nil {
			panic(err)
		}
		return v
	}
	for name, f := range r.Fields {
		f.Value = val()
		r.Fields[name] = f
	}
	for i := range r.Conflicts {
		r.Conflicts[i].Value = val()
	}
	return r
}

// randomPages makes one page of random records, spelled three ways: as the
// server writes it, by encoding/json, and indented (no record canonical).
func randomPages(tb testing.TB, rng *rand.Rand) [][]byte {
	ans := &PullAnswer{V: Version, Cursor: Cursor{}, More: rng.IntN(2) == 0}
	for i := range rng.IntN(6) {
		r := randomRecordValued(rng)
		if err := r.Validate(); err != nil {
			tb.Fatalf("generator made an invalid record: %v", err)
		}
		ans.Records = append(ans.Records, PulledRecord{Pairing: r.Pairing, Seq: uint64(i + 1 + rng.IntN(3)), Record: r})
		ans.Cursor[r.Pairing] = uint64(i + 1)
	}
	if rng.IntN(4) == 0 {
		ans.Resync = []string{"p9"}
	}
	if rng.IntN(4) == 0 {
		ans.Purge = []string{"p8", "p7"}
	}
	enc := mustEncode(tb, ans)
	std, err := json.Marshal(ans)
	if err != nil {
		tb.Fatal(err)
	}
	var ind bytes.Buffer
	if err := json.Indent(&ind, enc, "", " "); err != nil {
		tb.Fatal(err)
	}
	return [][]byte{enc, std, ind.Bytes()}
}

func TestDecodePullAnswerFastAgrees(t *testing.T) {
	for _, data := range pullCorpus(t) {
		checkPullDiff(t, data)
	}
}

// TestDecodePullAnswerFastTakesServerPages: pages as servers and
// encoding/json write them never need the tree decoder, and every record
// of a server's page keeps its bytes as Raw.
func TestDecodePullAnswerFastTakesServerPages(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	for range 200 {
		pages := randomPages(t, rng)
		for _, data := range pages[:2] {
			got, ok := decodePullAnswerFast(data, DefaultLimits())
			if !ok {
				t.Fatalf("the fast path refuses a page a server wrote:\n%.300s", data)
			}
			if !bytes.Equal(mustEncode(t, got), pages[0]) {
				t.Fatalf("the fast path decodes a page to something else:\n%s", data)
			}
		}
		got, _ := decodePullAnswerFast(pages[0], DefaultLimits())
		for i, pr := range got.Records {
			if enc := mustEncode(t, pr.Record); !bytes.Equal(pr.Raw, enc) {
				t.Fatalf("record %d of a server's page: Raw %q, want its encoding %q", i, pr.Raw, enc)
			}
		}
	}
	body := mustEncode(t, benchVisitPage(t, 20))
	got, ok := decodePullAnswerFast(body, DefaultLimits())
	if !ok || len(got.Records) != 20 {
		t.Fatal("the fast path refuses a page of visits")
	}
}

// TestDecodePullAnswerFastMutations runs the differential check on random
// mutations of the corpus (a deterministic stand-in for go test -fuzz).
func TestDecodePullAnswerFastMutations(t *testing.T) {
	rng := rand.New(rand.NewPCG(20, 27))
	corpus := pullCorpus(t)
	n := 4000
	if testing.Short() {
		n = 400
	}
	for range n {
		checkPullDiff(t, mutatePush(rng, corpus[rng.IntN(len(corpus))]))
	}
}

// FuzzDecodePullAnswerFast is the differential check under go test -fuzz.
func FuzzDecodePullAnswerFast(f *testing.F) {
	for _, data := range pullCorpus(f) {
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkPullDiff(t, data)
	})
}

// TestDecodePullAnswerErrorsAsBefore: DecodePullAnswer's refusals are the
// tree decoder's, path and words (a few by hand, beside the differential
// check's comparison).
func TestDecodePullAnswerErrorsAsBefore(t *testing.T) {
	for _, tt := range []struct {
		in    string
		code  Code
		field string
	}{
		{`{"v":1,"records":[{"seq":1,"pairing":"p2","record":` + okRecord + `}]}`, CodeBadRequest, "records[0].pairing"},
		{`{"v":1,"records":[{"seq":1}]}`, CodeBadRequest, "records[0].record"},
		{`{"v":1,"cursor":{"p.1":4}}`, CodeBadRequest, "cursor"},
		{`{"v":1,"more":1}`, CodeBadRequest, "more"},
		{`{"v":1,"purge":["a b"]}`, CodeBadRequest, "purge[0]"},
		{pullPage(strings.Replace(okRecord, `"dot":"A:1"`, `"dot":"A:2"`, 1)), CodeBadRequest, "records[0].record.fields.notes"},
		{`{"v":1,"x":[1,2,3]}`, CodeTooLarge, "x"},
	} {
		_, err := DecodePullAnswer([]byte(tt.in), Limits{MaxArray: 2})
		var e *Error
		if !errors.As(err, &e) || e.Code != tt.code || e.Field != tt.field {
			t.Errorf("%s: got %v, want %s at %q", tt.in, err, tt.code, tt.field)
		}
	}
}
