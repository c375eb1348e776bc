package server

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pairsync/pairsync/syncproto"
)

// TestPushBadInput (SECURITY.md 8): malformed, oversized and
// forged pushes get a 4xx with a clear code, never a panic or a 5xx, and
// change nothing; a good push afterwards still lands, and a bad change in
// an otherwise good batch is rejected alone.
func TestPushBadInput(t *testing.T) {
	e, pid, off := fieldWork(t)
	head := func() uint64 {
		h, _ := e.db.Head(t.Context(), pid)
		return h
	}
	before := head()
	good := func(id string) syncproto.Change {
		return off.set("visits", id, pid, map[string]any{"mode": "onsite", "visited_at": time.Now().UTC().Format(time.RFC3339), "officers": []string{"u-officerA"}})
	}
	goodBody, _ := syncproto.Encode(&syncproto.PushRequest{V: 1, Device: syncproto.ReplicaID(off.id), Changes: []syncproto.Change{good("vx")}})
	off.w.Counter-- // the change above is never sent: reuse its counter
	s := string(goodBody)
	deep := strings.Repeat("[", 1000) + strings.Repeat("]", 1000)
	var many []syncproto.Change
	for i := range 501 {
		many = append(many, good(fmt.Sprintf("m%d", i)))
	}
	manyBody, _ := syncproto.Encode(&syncproto.PushRequest{V: 1, Device: syncproto.ReplicaID(off.id), Changes: many})
	for _, tc := range []struct {
		name   string
		body   string
		status int
		code   string
	}{
		{"not JSON", "{", 400, "invalid_json"},
		{"depth 1,000", `{"v":1,"device":"` + off.id + `","changes":` + deep + `}`, 400, "invalid_json"},
		// (A 10 MB body is refused from its headers: TestBodyOverLimit.)
		{"a 900 KB string", `{"v":1,"device":"` + off.id + `","changes":[],"x":"` + strings.Repeat("a", 900<<10) + `"}`, 413, "too_large"},
		{"501 changes", string(manyBody), 413, "too_large"},
		{"invalid UTF-8", strings.Replace(s, `"onsite"`, "\"on\xffsite\"", 1), 400, ""},
		{"duplicated field", strings.Replace(s, `{"v":1,`, `{"v":1,"v":1,`, 1), 400, ""},
		{"operator key", strings.Replace(s, `"mode"`, `"$ne"`, 1), 400, ""},
		{"dotted key", strings.Replace(s, `"mode"`, `"a.b"`, 1), 400, ""},
		{"NUL in a key", strings.Replace(s, `"mode"`, `"mo\u0000de"`, 1), 400, ""},
		{"wrong type", strings.Replace(s, `"v":1`, `"v":"1"`, 1), 400, ""},
		{"changes of another device", strings.Replace(s, `"device":"`+off.id+`"`, `"device":"someone-else"`, 1), 400, "bad_request"},
		{"another device's id", strings.ReplaceAll(s, off.id, "someone-else"), 403, "forbidden"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.call("POST", "/v1/sync/push", off.token, []byte(tc.body))
			var p problem
			if r.status >= 200 && r.status < 300 {
				t.Fatalf("got %d %.200s, want a 4xx", r.status, r.body)
			}
			r.json(t, &p)
			if r.status != tc.status || tc.code != "" && p.Code != tc.code || p.Message == "" {
				t.Fatalf("got %d %s %q, want %d %s with a message", r.status, p.Code, p.Message, tc.status, tc.code)
			}
		})
	}
	if head() != before {
		t.Fatalf("bad pushes moved the pairing's head from %d to %d", before, head())
	}
	// A batch with one bad change: the others land.
	ok1 := good("v-ok1")
	bad := off.set("visits", "v-bad", pid, map[string]any{"mode": "onsite", "visited_at": "1999-01-01T00:00:00Z", "officers": []string{"u-officerA"}})
	future := off.set("visits", "v-future", pid, map[string]any{"mode": "onsite", "visited_at": time.Now().Add(48 * time.Hour).UTC().Format(time.RFC3339), "officers": []string{"u-officerA"}})
	r, ans := off.push(ok1, bad, future, good("v-ok2"))
	if r.status != 200 {
		t.Fatalf("mixed batch: %d %s", r.status, r.body)
	}
	wantResults(t, "mixed batch", ans, "applied", "rejected validation_failed visited_at", "rejected validation_failed visited_at", "applied")
}
