package syncproto

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// samplePush returns a valid push of n changes by device A, one per record.
func samplePush(tb testing.TB, n, fields int) *PushRequest {
	tb.Helper()
	w := &Writer{Replica: "A"}
	req := &PushRequest{V: Version, Device: "A"}
	for i := range n {
		v := map[string]json.RawMessage{}
		for f := range fields {
			v[fmt.Sprintf("f%d", f)] = json.RawMessage(fmt.Sprintf(`{"text":"value %d of record %d","n":%d}`, f, i, f))
		}
		r, wr, err := w.Set(NewRecord("visits", fmt.Sprintf("01JD3S5D1S4J4Y0C8RWYN%05d", i), "p1"), v, t0)
		if err != nil {
			tb.Fatal(err)
		}
		req.Changes = append(req.Changes, Change{Dot: wr.Dot, HLC: wr.HLC, Record: r})
	}
	return req
}

func mustEncode(tb testing.TB, m any) []byte {
	tb.Helper()
	b, err := Encode(m)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

const okRecord = `{"collection":"visits","id":"v1","pairing":"p1","vv":{"A":1},"fields":{"notes":{"value":"x","dot":"A:1","hlc":[1,0]}}}`

func pushWith(record string) string {
	return `{"v":1,"device":"A","changes":[{"dot":"A:1","hlc":[1,0],"record":` + record + `}]}`
}

func TestDecodePushErrors(t *testing.T) {
	deep := strings.Repeat("[", 40) + strings.Repeat("]", 40)
	many := `{"v":1,"device":"A","changes":[` + strings.TrimSuffix(strings.Repeat(`{},`, 501), ",") + `]}`
	tests := []struct {
		name  string
		in    string
		lim   Limits
		code  Code
		field string
	}{
		{"not JSON", `{"v":1,`, Limits{}, CodeInvalidJSON, ""},
		{"trailing data", `{"v":1,"device":"A"} {}`, Limits{}, CodeInvalidJSON, ""},
		{"invalid UTF-8", "{\"v\":1,\"device\":\"A\xff\"}", Limits{}, CodeInvalidJSON, "device"},
		{"lone surrogate", `{"v":1,"device":"\ud800"}`, Limits{}, CodeInvalidJSON, "device"},
		{"duplicate key", `{"v":1,"v":1,"device":"A"}`, Limits{}, CodeInvalidJSON, ""},
		{"too deep", `{"v":1,"device":"A","x":` + deep + `}`, Limits{}, CodeInvalidJSON, "x" + strings.Repeat("[0]", 31)},
		{"body too large", `{"v":1,"device":"A","pad":"` + strings.Repeat("x", 200) + `"}`, Limits{MaxBytes: 100}, CodeTooLarge, ""},
		{"too many changes", many, Limits{}, CodeTooLarge, "changes"},
		{"string too long", `{"v":1,"device":"A","x":"abcdefg"}`, Limits{MaxString: 6}, CodeTooLarge, "x"},
		{"array too long", `{"v":1,"device":"A","x":[1,2,3]}`, Limits{MaxArray: 2}, CodeTooLarge, "x"},
		{"too many keys", `{"v":1,"device":"A","x":{"a":1,"b":2,"c":3,"d":4}}`, Limits{MaxKeys: 3}, CodeTooLarge, "x"},
		{"$ key in a value", pushWith(strings.Replace(okRecord, `"value":"x"`, `"value":{"q":{"$ne":1}}`, 1)), Limits{}, CodeBadRequest, "changes[0].record.fields.notes.value.q"},
		{"escaped $ key", `{"v":1,"device":"A","x":{"\u0024where":1}}`, Limits{}, CodeBadRequest, "x"},
		{"dotted key", `{"v":1,"device":"A","x":{"a.b":1}}`, Limits{}, CodeBadRequest, "x"},
		{"NUL in key", `{"v":1,"device":"A","x":{"a\u0000":1}}`, Limits{}, CodeBadRequest, "x"},
		{"no version", `{"device":"A"}`, Limits{}, CodeBadRequest, "v"},
		{"keys are case-sensitive", `{"V":1,"device":"A"}`, Limits{}, CodeBadRequest, "v"},
		{"version 2", `{"v":2,"device":"A"}`, Limits{}, CodeBadRequest, "v"},
		{"version as string", `{"v":"1","device":"A"}`, Limits{}, CodeBadRequest, "v"},
		{"invalid device", `{"v":1,"device":"a b"}`, Limits{}, CodeBadRequest, "device"},
		{"change by another device", strings.Replace(pushWith(okRecord), `"device":"A"`, `"device":"B"`, 1), Limits{}, CodeBadRequest, "changes[0].dot"},
		{"counters not increasing", `{"v":1,"device":"A","changes":[` + strings.TrimPrefix(strings.TrimSuffix(pushWith(okRecord), "]}"), `{"v":1,"device":"A","changes":[`) + "," + strings.TrimPrefix(strings.TrimSuffix(pushWith(okRecord), "]}"), `{"v":1,"device":"A","changes":[`) + "]}", Limits{}, CodeBadRequest, "changes[1].dot"},
		{"dot not covered by vv", pushWith(strings.Replace(okRecord, `"dot":"A:1"`, `"dot":"A:2"`, 1)), Limits{}, CodeBadRequest, "changes[0].record.fields.notes"},
		{"record without the change's write", pushWith(strings.Replace(strings.Replace(okRecord, `"dot":"A:1"`, `"dot":"B:1"`, 1), `{"A":1}`, `{"A":1,"B":1}`, 1)), Limits{}, CodeBadRequest, "changes[0].record"},
		{"too many fields", pushWith(strings.Replace(okRecord, `"fields":{`, `"fields":{"a":{"value":1,"dot":"A:1","hlc":[1,0]},`, 1)), Limits{MaxFields: 1}, CodeTooLarge, "changes[0].record.fields"},
		{"bad field name", pushWith(strings.Replace(okRecord, `"notes":`, `"9notes":`, 1)), Limits{}, CodeBadRequest, "changes[0].record.fields.9notes"},
		{"missing record", `{"v":1,"device":"A","changes":[{"dot":"A:1","hlc":[1,0]}]}`, Limits{}, CodeBadRequest, "changes[0].record"},
		{"hlc not an array", strings.Replace(pushWith(okRecord), `"hlc":[1,0],"record"`, `"hlc":"now","record"`, 1), Limits{}, CodeBadRequest, "changes[0].hlc"},
		{"unknown keys are ignored", `{"v":1,"device":"A","future":{"x":[1]},"changes":[]}`, Limits{}, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodePush([]byte(tt.in), tt.lim)
			if tt.code == "" {
				if err != nil {
					t.Fatalf("got %v, want no error", err)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("got %v (%T), want a *Error with code %s", err, err, tt.code)
			}
			if e.Code != tt.code || e.Field != tt.field {
				t.Errorf("got code %s field %q (%s), want code %s field %q", e.Code, e.Field, e.Message, tt.code, tt.field)
			}
		})
	}
}

func TestDecodeRecordLimits(t *testing.T) {
	rec := `{"collection":"visits","id":"v1","pairing":"p1","vv":{"A":1},"fields":{"a":{"value":1,"dot":"A:1","hlc":[1,0]},"b":{"value":2,"dot":"A:1","hlc":[1,0]}}}`
	_, err := DecodeRecord([]byte(rec), Limits{MaxFields: 1})
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeTooLarge {
		t.Errorf("got %v, want too_large", err)
	}
	tests := []struct{ name, in string }{
		{"conflict outranks the value", `{"collection":"c","id":"i","pairing":"p","vv":{"A":2},"fields":{"a":{"value":1,"dot":"A:1","hlc":[1,0]}},"conflicts":[{"field":"a","value":2,"dot":"A:2","hlc":[5,0]}]}`},
		{"conflict on a field without value", `{"collection":"c","id":"i","pairing":"p","vv":{"A":2},"fields":{},"conflicts":[{"field":"a","value":2,"dot":"A:2","hlc":[5,0]}]}`},
		{"delete context beyond vv", `{"collection":"c","id":"i","pairing":"p","vv":{"A":2},"deletes":[{"dot":"A:2","hlc":[5,0],"context":{"B":1}}]}`},
		{"two keeps with one dot", `{"collection":"c","id":"i","pairing":"p","vv":{"A":2},"keeps":[{"dot":"A:2","hlc":[5,0]},{"dot":"A:2","hlc":[5,0]}]}`},
		{"zero counter", `{"collection":"c","id":"i","pairing":"p","vv":{"A":0},"fields":{}}`},
		{"counter over 2^53", `{"collection":"c","id":"i","pairing":"p","vv":{"A":9007199254740992}}`},
		{"fractional counter", `{"collection":"c","id":"i","pairing":"p","vv":{"A":1.0}}`},
		{"missing vv", `{"collection":"c","id":"i","pairing":"p"}`},
		{"bad id", `{"collection":"c","id":"a/b","pairing":"p","vv":{}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.name == "zero counter" {
				// A zero counter means "nothing seen" and is dropped, not an error.
				r, err := DecodeRecord([]byte(tt.in), Limits{})
				if err != nil || len(r.VV) != 0 {
					t.Fatalf("got %v, %v; want an empty vector", r.VV, err)
				}
				return
			}
			if _, err := DecodeRecord([]byte(tt.in), Limits{}); err == nil {
				t.Errorf("got no error, want one")
			}
		})
	}
}

func TestRoundTrip(t *testing.T) {
	push := samplePush(t, 3, 2)
	a, b, m, _, _ := concurrentNotes(t)
	_ = a
	_ = b
	msgs := []struct {
		name   string
		msg    any
		decode func([]byte) (any, error)
	}{
		{"push", push, func(d []byte) (any, error) { return DecodePush(d, Limits{}) }},
		{"pull", &PullRequest{V: 1, Cursor: Cursor{"p1": 4, "p-2": 0}, Limit: 50}, func(d []byte) (any, error) { return DecodePull(d, Limits{}) }},
		{"push answer", &PushAnswer{V: 1, Results: []Result{
			{Dot: Dot{"A", 1}, Status: StatusApplied, Seq: 7},
			{Dot: Dot{"A", 2}, Status: StatusRejected, Error: &Error{Code: CodeValidation, Message: "rating <must> be 1–5", Field: "rating"}},
			{Dot: Dot{"A", 3}, Status: StatusDuplicate},
		}}, func(d []byte) (any, error) { return DecodePushAnswer(d, Limits{}) }},
		{"pull answer", &PullAnswer{V: 1, Records: []PulledRecord{{Pairing: "p1", Seq: 9, Record: m}}, Cursor: Cursor{"p1": 9}, More: true, Resync: []string{"p2"}, Purge: []string{"p3"}},
			func(d []byte) (any, error) { return DecodePullAnswer(d, Limits{}) }},
		{"scopes", &ScopesAnswer{V: 1, Pairings: []Scope{{Pairing: "p1", Seq: 9}}, Purge: []string{"p3"}},
			func(d []byte) (any, error) { return DecodeScopes(d, Limits{}) }},
	}
	for _, tt := range msgs {
		t.Run(tt.name, func(t *testing.T) {
			enc := mustEncode(t, tt.msg)
			dec, err := tt.decode(enc)
			if err != nil {
				t.Fatalf("decode %s: %v", enc, err)
			}
			if got := string(mustEncode(t, dec)); got != string(enc) {
				t.Errorf("round trip:\n got  %s\n want %s", got, enc)
			}
			// encoding/json agrees with the hand-written encoders.
			std, err := json.Marshal(tt.msg)
			if err != nil {
				t.Fatal(err)
			}
			if dec2, err := tt.decode(std); err != nil {
				t.Errorf("decode json.Marshal output: %v\n%s", err, std)
			} else if got := string(mustEncode(t, dec2)); got != string(enc) {
				t.Errorf("json.Marshal round trip:\n got  %s\n want %s", got, enc)
			}
		})
	}
}

// TestPushAnswerReason: a refusal's reason and args (issue 16) survive the
// push answer's decoder, for the apps' own words.
func TestPushAnswerReason(t *testing.T) {
	body := `{"v":1,"results":[{"dot":"A:1","status":"rejected","error":{"code":"validation_failed","message":"m","field":"status","reason":"project_move","args":{"from":"cancelled","to":"approved"}}}]}`
	a, err := DecodePushAnswer([]byte(body), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	e := a.Results[0].Error
	if e.Reason != "project_move" || e.Args["from"] != "cancelled" || e.Args["to"] != "approved" || e.Field != "status" {
		t.Errorf("got %+v, want reason project_move with from and to", e)
	}
	if _, err := DecodePushAnswer([]byte(`{"v":1,"results":[{"dot":"A:1","status":"rejected","error":{"code":"x","args":{"a":1}}}]}`), Limits{}); err == nil {
		t.Errorf("args with a number: got no error, want one (args are strings)")
	}
}
