package server

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/pairsync/pairsync/server/pairing"
	"github.com/pairsync/pairsync/storage"
	"github.com/pairsync/pairsync/syncproto"
)

// raiseAndDispatch raises issue id in pid from officerA's phone and
// dispatches it to officerA from the console.
func raiseAndDispatch(t *testing.T, e *idEnv, off *device, pid, id string) {
	t.Helper()
	_, ans := off.push(off.set("issues", id, pid, map[string]any{"title": "诉求 " + id, "category": "other",
		"raised_by": "u-officerA", "raised_at": e.now().UTC().Format(time.RFC3339)}))
	wantResults(t, "raise "+id, ans, "applied")
	if r := e.call("POST", "/v1/issues/"+id+"/events", e.login("adminA").AccessToken, map[string]any{"type": "dispatched", "handler": "u-officerA"}); r.status != 201 {
		t.Fatalf("dispatch %s: got %d %s", id, r.status, r.body)
	}
	off.pull()
}

// TestIssueEventsEndedPairingREST: the console's event
// route refuses a write into an ended pairing, as push does (one rule:
// Policy through mayWrite).
func TestIssueEventsEndedPairingREST(t *testing.T) {
	e, pid, off := fieldWork(t)
	raiseAndDispatch(t, e, off, pid, "i1")
	if r := e.call("POST", "/v1/pairings/"+pid+"/end", e.login("adminA").AccessToken, nil); r.status != 200 {
		t.Fatalf("end: got %d %s", r.status, r.body)
	}
	r := e.call("POST", "/v1/issues/i1/events", e.login("officerA").AccessToken, map[string]any{"type": "signed"})
	if r.status != 403 || !strings.Contains(string(r.body), pairing.ReasonPairingEnded) {
		t.Fatalf("officer signs through REST in an ended pairing: got %d %s, want 403 %s as a push gets", r.status, r.body, pairing.ReasonPairingEnded)
	}
	_, ans := off.push(off.set("issue_events", "e-sign", pid, map[string]any{"issue": "i1", "type": "signed", "by": "u-officerA", "role": "officer",
		"at": e.now().UTC().Format(time.RFC3339)}))
	wantResults(t, "the same by push", ans, "rejected forbidden collection")
}

// TestClockAheadCannotPin (SECURITY.md 13): a change
// stamped far beyond syncproto.MaxClockAhead of the server's clock is
// clamped where its stamp counts — an issue event's place in the order is
// at most MaxClockAhead after the server received it — so it cannot pin
// itself last; and an administrator's event is applied or refused with the
// reason, never appended and silently ignored.
func TestClockAheadCannotPin(t *testing.T) {
	e, pid, off := fieldWork(t)
	raiseAndDispatch(t, e, off, pid, "i1")
	at := e.now().UTC().Format(time.RFC3339)
	_, ans := off.push(off.setAt(time.UnixMilli(1<<53-1), "issue_events", "e-pinned", pid, map[string]any{"issue": "i1", "type": "responded",
		"resolution": "solved", "by": "u-officerA", "role": "officer", "at": at}))
	wantResults(t, "a response stamped 2^53-1 ms (answered: nothing recorded is lost)", ans, "applied")

	admin := e.login("adminA").AccessToken
	closeIt := func() result {
		t.Helper()
		return e.call("POST", "/v1/issues/i1/events", admin, map[string]any{"type": "closed"})
	}
	var got issueEventAnswer
	r := closeIt()
	switch r.status {
	case 201:
	case 409:
		if !strings.Contains(string(r.body), pairing.ReasonNotApplied) {
			t.Fatalf("close refused without its reason: %s", r.body)
		}
		e.advance(2 * syncproto.MaxClockAhead)
		admin = e.login("adminA").AccessToken
		if r = closeIt(); r.status != 201 {
			t.Fatalf("close after MaxClockAhead: got %d %s, want 201", r.status, r.body)
		}
	default:
		t.Fatalf("close: got %d %s", r.status, r.body)
	}
	r.json(t, &got)
	if got.State.Status != pairing.IssueClosed {
		t.Fatalf("after the administrator's close: status %s, want closed (never appended and ignored)", got.State.Status)
	}

	// A response with the largest stamp and no receipt time (stored before
	// receipts were stamped, written to the store directly) still sorts
	// last: the administrator's reopening is refused with the reason.
	off = e.device(t, "officerA") // the first phone's clock stays far ahead
	off.pull()
	raiseAndDispatch(t, e, off, pid, "i2")
	w := syncproto.Writer{Replica: "old-phone"}
	rec, _, err := w.Set(syncproto.NewRecord("issue_events", "e-pinned2", pid), mustValues(t, map[string]any{"issue": "i2", "type": "responded",
		"resolution": "solved", "by": "u-officerA", "role": "officer", "at": at}), time.UnixMilli(1<<53-1))
	if err != nil {
		t.Fatal(err)
	}
	data, _ := syncproto.Encode(rec)
	if _, err := e.db.Commit(t.Context(), storage.Batch{Pairing: pid, Puts: []storage.Put{{Key: storage.Key{Collection: "issue_events", ID: "e-pinned2"}, Data: data}}}); err != nil {
		t.Fatal(err)
	}
	r = e.call("POST", "/v1/issues/i2/events", admin, map[string]any{"type": "closed"})
	if r.status != 409 || !strings.Contains(string(r.body), pairing.ReasonNotApplied) {
		t.Fatalf("close ordered before a pinned response: got %d %s, want 409 %s", r.status, r.body, pairing.ReasonNotApplied)
	}
}

func mustValues(t *testing.T, f map[string]any) map[string]json.RawMessage {
	t.Helper()
	v, err := jsonValues(f)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestEventTimes: a dispatch cannot set a due date in the
// past; device times before the pairing existed are refused; a response
// dated before its dispatch counts at the dispatch in the figures.
func TestEventTimes(t *testing.T) {
	e, pid, off := fieldWork(t)
	admin := e.login("adminA").AccessToken
	_, ans := off.push(off.set("issues", "i1", pid, map[string]any{"title": "诉求", "category": "other", "raised_by": "u-officerA",
		"raised_at": e.now().UTC().Format(time.RFC3339)}))
	wantResults(t, "raise", ans, "applied")
	r := e.call("POST", "/v1/issues/i1/events", admin, map[string]any{"type": "dispatched", "handler": "u-officerA", "due": e.now().Add(-time.Hour)})
	if r.status != 400 || !strings.Contains(string(r.body), pairing.ReasonDueInPast) {
		t.Fatalf("dispatch due an hour ago: got %d %s, want 400 %s", r.status, r.body, pairing.ReasonDueInPast)
	}
	if r := e.call("POST", "/v1/issues/i1/events", admin, map[string]any{"type": "dispatched", "handler": "u-officerA"}); r.status != 201 {
		t.Fatalf("dispatch: got %d %s", r.status, r.body)
	}
	off.pull()
	// The domain fixture's pairing starts on 2026-01-01.
	_, ans = off.push(off.set("visits", "v-old", pid, map[string]any{"mode": "phone", "officers": []string{"u-officerA"},
		"visited_at": "2025-06-01T09:00:00Z"}))
	wantResults(t, "a visit before the pairing began", ans, "rejected validation_failed visited_at")
	if ans.Results[0].Error.Reason != pairing.ReasonBeforeStart {
		t.Fatalf("reason: got %q, want %q", ans.Results[0].Error.Reason, pairing.ReasonBeforeStart)
	}
	_, ans = off.push(off.set("issue_events", "e-resp", pid, map[string]any{"issue": "i1", "type": "responded", "resolution": "solved",
		"by": "u-officerA", "role": "officer", "at": e.now().Add(-90 * time.Minute).UTC().Format(time.RFC3339)}))
	wantResults(t, "respond, dated 90 minutes before the dispatch", ans, "applied")
	var d issueDetail
	e.call("GET", "/v1/issues/i1", admin, nil).json(t, &d)
	if d.State.DispatchedAt == nil || d.State.RespondedAt == nil || d.State.SignedAt == nil {
		t.Fatalf("state %+v: want dispatched, signed and responded times", d.State)
	}
	if d.State.RespondedAt.Before(*d.State.DispatchedAt) || d.State.SignedAt.Before(*d.State.DispatchedAt) {
		t.Fatalf("responded %s, signed %s before the dispatch %s: want no earlier than the dispatch", d.State.RespondedAt, d.State.SignedAt, d.State.DispatchedAt)
	}
}
