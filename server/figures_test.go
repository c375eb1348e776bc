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

// setAt is device.set with the device's clock at clock.
func (d *device) setAt(clock time.Time, collection, id, pid string, fields map[string]any) syncproto.Change {
	d.t.Helper()
	k := collection + "/" + id
	cur, ok := d.view[k]
	if !ok {
		cur = syncproto.NewRecord(collection, id, pid)
	}
	vals, err := jsonValues(fields)
	if err != nil {
		d.t.Fatal(err)
	}
	next, w, err := d.w.Set(cur, vals, clock)
	if err != nil {
		d.t.Fatal(err)
	}
	d.view[k] = next
	return syncproto.Change{Dot: w.Dot, HLC: w.HLC, Record: next}
}

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

// TestIssueEventsEndedPairingREST is issue 18 L1: the console's event
// route refuses a write into an ended pairing, as push does (one rule:
// Policy through mayWrite).
func TestIssueEventsEndedPairingREST(t *testing.T) {
	e := newDomainEnv(t)
	pid, _ := domainFixture(t, e)
	off := e.device(t, "officerA")
	off.pull()
	raiseAndDispatch(t, e, off, pid, "i1")
	if r := e.call("POST", "/v1/pairings/"+pid+"/end", e.login("adminA").AccessToken, nil); r.status != 200 {
		t.Fatalf("end: got %d %s", r.status, r.body)
	}
	r := e.call("POST", "/v1/issues/i1/events", e.login("officerA").AccessToken, map[string]any{"type": "signed"})
	if r.status != 403 {
		t.Fatalf("officer signs through REST in an ended pairing: got %d %s, want 403 as a push gets", r.status, r.body)
	}
	_, ans := off.push(off.set("issue_events", "e-sign", pid, map[string]any{"issue": "i1", "type": "signed", "by": "u-officerA", "role": "officer",
		"at": e.now().UTC().Format(time.RFC3339)}))
	wantResults(t, "the same by push", ans, "rejected forbidden collection")
}

// TestClockAheadRefused is issue 18 M4: a change stamped beyond
// syncproto.MaxClockAhead of the server's clock is refused with a reason,
// and an administrator's event that the issue's order would ignore is
// refused with the reason rather than appended and silently ignored.
func TestClockAheadRefused(t *testing.T) {
	e := newDomainEnv(t)
	pid, _ := domainFixture(t, e)
	off := e.device(t, "officerA")
	off.pull()
	raiseAndDispatch(t, e, off, pid, "i1")
	at := e.now().UTC().Format(time.RFC3339)
	ahead := off.setAt(e.now().Add(time.Hour), "issue_events", "e-ahead", pid, map[string]any{"issue": "i1", "type": "signed", "by": "u-officerA", "role": "officer", "at": at})
	_, ans := off.push(ahead)
	wantResults(t, "a change an hour ahead", ans, "rejected validation_failed hlc")
	if ans.Results[0].Error.Reason != pairing.ReasonClockAhead {
		t.Fatalf("reason: got %q, want %q", ans.Results[0].Error.Reason, pairing.ReasonClockAhead)
	}
	// That phone's clock keeps its lead (an HLC never goes back): another
	// phone, a minute ahead, is within MaxClockAhead.
	off = e.device(t, "officerA")
	off.pull()
	_, ans = off.push(off.setAt(e.now().Add(time.Minute), "issue_events", "e-sign", pid, map[string]any{"issue": "i1", "type": "signed", "by": "u-officerA", "role": "officer", "at": at}))
	wantResults(t, "a minute ahead (within MaxClockAhead)", ans, "applied")

	// A response stamped with the largest HLC, stored before this rule
	// (written to the store directly): the administrator's close, which
	// sorts before it, would be ignored; it is refused with the reason.
	w := syncproto.Writer{Replica: "old-phone"}
	rec, _, err := w.Set(syncproto.NewRecord("issue_events", "e-pinned", pid), mustValues(t, map[string]any{"issue": "i1", "type": "responded",
		"resolution": "solved", "by": "u-officerA", "role": "officer", "at": at}), time.UnixMilli(1<<53-1))
	if err != nil {
		t.Fatal(err)
	}
	data, _ := syncproto.Encode(rec)
	if _, err := e.db.Commit(t.Context(), storage.Batch{Pairing: pid, Puts: []storage.Put{{Key: storage.Key{Collection: "issue_events", ID: "e-pinned"}, Data: data}}}); err != nil {
		t.Fatal(err)
	}
	admin := e.login("adminA").AccessToken
	r := e.call("POST", "/v1/issues/i1/events", admin, map[string]any{"type": "closed"})
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

// TestEventTimes is issue 18 M3: a dispatch cannot set a due date in the
// past; device times before the pairing existed are refused; a response
// dated before its dispatch counts at the dispatch in the figures.
func TestEventTimes(t *testing.T) {
	e := newDomainEnv(t)
	pid, _ := domainFixture(t, e)
	off := e.device(t, "officerA")
	off.pull()
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
	if d.State.RespondedAt.Before(d.State.DispatchedAt) || d.State.SignedAt.Before(d.State.DispatchedAt) {
		t.Fatalf("responded %s, signed %s before the dispatch %s: want no earlier than the dispatch", d.State.RespondedAt, d.State.SignedAt, d.State.DispatchedAt)
	}
}
