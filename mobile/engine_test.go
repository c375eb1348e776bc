package mobile

import (
	"bytes"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pairsync/pairsync/syncproto"
)

// TestOfflineThenOnline: an officer and a contact write offline, sync, and
// converge: each holds every record of their pairing byte for byte as the
// server does; concurrent edits of different fields both survive, the same
// field keeps a conflict entry, an edit against a delete is flagged.
func TestOfflineThenOnline(t *testing.T) {
	w := newWorld(t)
	off, _ := w.engine("officerA", Config{})
	con, _ := w.engine("contactA", Config{})

	// Offline, before any sync: nothing needs the network.
	set(t, off, "visits", "v1", "p1", map[string]any{"notes": "走访企业，了解融资诉求", "mode": "on_site"})
	set(t, off, "issues", "i1", "p1", map[string]any{"title": "融资难", "priority": "normal"})
	set(t, con, "issues", "i2", "p1", map[string]any{"title": "用电审批慢"})
	set(t, con, "ratings", "r1", "p1", map[string]any{"level": 5})
	if off.Pending() != 2 || con.Pending() != 2 {
		t.Fatalf("pending: officer %d, contact %d; want 2 and 2", off.Pending(), con.Pending())
	}
	if r, ok := off.Get("visits", "v1"); !ok || string(r.Value("mode")) != `"on_site"` {
		t.Fatalf("offline view of v1: %v %v", r, ok)
	}

	p1 := mustSync(t, off)
	p2 := mustSync(t, con)
	p3 := mustSync(t, off)
	t.Logf("first round: officer %+v; contact %+v; officer again %+v", p1, p2, p3)
	if p1.UploadDone != 2 || p1.UploadTotal != 2 || p2.UploadDone != 2 || p1.Rejected+p2.Rejected != 0 {
		t.Fatalf("uploads: officer %d/%d, contact %d/%d, rejected %d; want 2/2 each, none rejected", p1.UploadDone, p1.UploadTotal, p2.UploadDone, p2.UploadTotal, p1.Rejected+p2.Rejected)
	}

	// Offline again, both edit the shared issue: different fields, and
	// the same field; the officer deletes i1 while the contact edits it.
	set(t, off, "issues", "i2", "p1", map[string]any{"priority": "high", "status": "dispatched"})
	set(t, con, "issues", "i2", "p1", map[string]any{"title": "用电审批慢，影响投产", "status": "disputed"})
	must(t, off.Delete("issues", "i1"))
	set(t, con, "issues", "i1", "p1", map[string]any{"title": "融资难（补充材料）"})

	for _, e := range []*Engine{off, con, off, con} {
		mustSync(t, e)
	}
	n := sameAsServer(t, w, off, "officer", "p1")
	sameAsServer(t, w, con, "contact", "p1")
	if n != 4 {
		t.Errorf("server holds %d records in p1, want 4", n)
	}
	// The directory records each one may see.
	for _, k := range []string{"pairings/p1", "counterparties/cp-A"} {
		want := w.serverRecords("_directory")[k]
		if !bytes.Equal(encoded(t, off, k), want) || !bytes.Equal(encoded(t, con, k), want) {
			t.Errorf("%s: officer %s, contact %s; want the server's %s", k, encoded(t, off, k), encoded(t, con, k), want)
		}
	}
	if _, ok := con.Get("pairings", "p3"); ok {
		t.Error("the contact of cp-A holds pairing p3, which is not theirs")
	}

	i2, _ := off.Get("issues", "i2")
	if string(i2.Value("priority")) != `"high"` || string(i2.Value("title")) != `"用电审批慢，影响投产"` || len(i2.ConflictsOf("status")) != 1 {
		t.Errorf("i2: got %s; want both edits and a conflict on status", i2)
	}
	for _, e := range []*Engine{off, con} {
		got := e.Conflicts()
		want := []ConflictInfo{
			{Collection: "issues", ID: "i1", Pairing: "p1", EditDelete: true},
			{Collection: "issues", ID: "i2", Pairing: "p1", Fields: []string{"status"}},
		}
		if len(got) != 2 || got[0].ID != "i1" || !got[0].EditDelete || got[1].ID != "i2" || !slices.Equal(got[1].Fields, want[1].Fields) {
			t.Errorf("conflicts: got %+v, want %+v", got, want)
		}
	}
	lo, _ := off.List("p1", "issues")
	lc, _ := con.List("p1", "issues")
	if len(lo) != 2 || len(lc) != 2 {
		t.Errorf("list of issues: officer %d, contact %d; want 2 each (i1 kept by the edit)", len(lo), len(lc))
	}
	last := mustSync(t, off)
	var caught []string
	for _, pp := range last.Pairings {
		if !pp.CaughtUp() {
			t.Errorf("pairing %s not caught up: %d of %d", pp.Pairing, pp.Seq, pp.Head)
		}
		caught = append(caught, pp.Pairing+"@"+strconv.FormatUint(pp.Seq, 10))
	}
	if last.UploadTotal != 0 || last.RecordsDone != 0 {
		t.Errorf("an idle sync moved %d changes and %d records, want none", last.UploadTotal, last.RecordsDone)
	}
	t.Logf("officer caught up: %s; server p1 head %d", strings.Join(caught, " "), w.head("p1"))
}

// TestRejectedKept: rejected changes stay, listed with the server's code
// and message, out of the view; the others of the same request land.
func TestRejectedKept(t *testing.T) {
	w := newWorld(t)
	off, path := w.engine("officerA", Config{})
	set(t, off, "visits", "v1", "p1", map[string]any{"notes": "正常走访"})
	set(t, off, "pairings", "r1", "p1", map[string]any{"name": "改名"})                   // administrators only
	set(t, off, "visits", "v2", "p2", map[string]any{"notes": "不属于我的结对"})               // another branch's pairing
	set(t, off, "issues", "i1", "p1", map[string]any{"title": "融资难", "category": "金融"}) // fine
	p := mustSync(t, off)
	if p.UploadDone != 4 || p.Rejected != 2 || off.Pending() != 0 {
		t.Fatalf("got %d answered, %d rejected, %d pending; want 4, 2, 0", p.UploadDone, p.Rejected, off.Pending())
	}
	check := func(e *Engine) {
		t.Helper()
		rej := e.Rejected()
		if len(rej) != 2 {
			t.Fatalf("rejected: got %+v, want 2", rej)
		}
		want := []struct{ key, code string }{{"pairings/r1", "forbidden"}, {"visits/v2", "out_of_scope"}}
		for i, wnt := range want {
			r := rej[i]
			if r.Collection+"/"+r.ID != wnt.key || r.Code != wnt.code || r.Message == "" || r.Op != "set" || r.Dot == "" {
				t.Errorf("rejected[%d]: got %+v, want %s with code %s and a message", i, r, wnt.key, wnt.code)
			}
		}
		for _, k := range []string{"pairings/r1", "visits/v2"} {
			if b := encoded(t, e, k); b != nil {
				t.Errorf("rejected %s still in the view: %s", k, b)
			}
		}
		t.Logf("rejected: %s %s %q; %s %s %q", rej[0].Dot, rej[0].Code, rej[0].Message, rej[1].Dot, rej[1].Code, rej[1].Message)
	}
	check(off)
	for _, k := range []string{"visits/v1", "issues/i1"} {
		want := w.serverRecords("p1")[k]
		if want == nil || !bytes.Equal(encoded(t, off, k), want) {
			t.Errorf("%s: got %s, want the server's %s", k, encoded(t, off, k), want)
		}
	}
	// Kept across a restart; dismissed on request.
	must(t, off.Close())
	off, err := Open(path, Config{})
	must(t, err)
	defer off.Close()
	check(off)
	must(t, off.Dismiss(off.Rejected()[0].Dot))
	if n := len(off.Rejected()); n != 1 {
		t.Fatalf("after dismissing one: %d rejected, want 1", n)
	}
	// A later write to the record (built without the rejected write) is
	// judged on its own.
	set(t, off, "visits", "v1", "p1", map[string]any{"notes": "补充记录"})
	if p := mustSync(t, off); p.UploadDone != 1 || p.Rejected != 0 {
		t.Fatalf("later write: %+v", p)
	}
}

// TestRemovalPushesThenPurges: the officer, removed from p1 while holding
// pending writes for it, gets them in within the grace with one Sync,
// which then purges p1: nothing of it remains on the phone. p3, still
// theirs, is untouched.
func TestRemovalPushesThenPurges(t *testing.T) {
	w := newWorld(t)
	off, _ := w.engine("officerA", Config{})
	con, _ := w.engine("contactA", Config{})
	set(t, con, "issues", "i1", "p1", map[string]any{"title": "融资难"})
	mustSync(t, con)
	set(t, off, "visits", "v0", "p3", map[string]any{"notes": "另一个结对"})
	mustSync(t, off)
	if _, ok := off.Get("issues", "i1"); !ok {
		t.Fatal("the officer did not receive p1's issue")
	}
	// Offline: writes for p1 (one on the shared issue) and p3.
	set(t, off, "visits", "v-late", "p1", map[string]any{"notes": "移除前记录的走访"})
	set(t, off, "issues", "i1", "p1", map[string]any{"status": "responded"})
	set(t, off, "visits", "v3", "p3", map[string]any{"notes": "p3 的走访"})
	// Meanwhile the officer is removed from p1.
	w.dirSet("pairings", "p1", map[string]any{"officers": []map[string]any{},
		"former_officers": []map[string]any{{"user_id": "u-officerA", "removed_at": time.Now()}}})

	p := mustSync(t, off)
	t.Logf("removal sync: %+v", p)
	if p.UploadDone != 3 || p.Rejected != 0 || !slices.Equal(p.Purged, []string{"p1"}) {
		t.Fatalf("got %d pushed, %d rejected, purged %v; want 3, 0, [p1]", p.UploadDone, p.Rejected, p.Purged)
	}
	dev := off.DeviceID()
	for c := uint64(2); c <= 4; c++ {
		if r, ok := w.receipt(dev, c); !ok || r.Status == syncproto.StatusRejected {
			t.Errorf("write %d: server answer %+v (%v), want applied or merged", c, r, ok)
		}
	}
	if srv := w.serverRecords("p1"); srv["visits/v-late"] == nil || !strings.Contains(string(srv["issues/i1"]), "responded") {
		t.Errorf("the server lacks the removed officer's last writes: %v", srv)
	}
	base, outbox, cursor := localState(t, off, "p1")
	if len(base) != 0 || outbox != 0 || cursor {
		t.Fatalf("after the purge the phone still holds of p1: base %v, %d outbox entries, cursor %v", base, outbox, cursor)
	}
	if l, _ := off.List("p1", "visits"); len(l) != 0 {
		t.Fatalf("list p1 after purge: %d records", len(l))
	}
	if c := off.Conflicts(); len(c) != 0 {
		t.Fatalf("conflicts after purge: %+v", c)
	}
	if n := sameAsServer(t, w, off, "officer", "p3"); n != 2 {
		t.Errorf("p3: server holds %d records, want 2", n)
	}
	// The next sync has nothing left to purge, and does not bring p1 back.
	p = mustSync(t, off)
	if len(p.Purged) != 0 || p.RecordsDone != 0 {
		t.Fatalf("second sync: %+v", p)
	}
	if base, _, _ := localState(t, off, "p1"); len(base) != 0 {
		t.Fatalf("p1 came back: %v", base)
	}
}

// TestRevokedDevice: a revoked device's push is refused at once
// (SECURITY.md item 12: a lost or stolen phone sends nothing more); the
// engine then wipes, counting what it could not send.
func TestRevokedDevice(t *testing.T) {
	w := newWorld(t)
	off, _ := w.engine("officerA", Config{})
	mustSync(t, off)
	set(t, off, "visits", "v1", "p1", map[string]any{"notes": "吊销前的走访"})
	dev := off.DeviceID()
	if st, b := w.call("POST", "/v1/devices/"+dev+"/revoke", w.login("adminA"), nil); st != 200 {
		t.Fatalf("revoke: %d %s", st, b)
	}
	p, err := off.Sync(t.Context())
	if !errors.Is(err, ErrDeviceRevoked) || !p.Wiped || p.Discarded != 1 || p.UploadDone != 0 {
		t.Fatalf("got %+v, %v; want the push refused, then wiped with 1 write discarded, ErrDeviceRevoked", p, err)
	}
	if r, ok := w.receipt(dev, 1); ok {
		t.Fatalf("the revoked device's pending write reached the server: %+v", r)
	}
	if off.DeviceID() != "" || off.Pending() != 0 || off.SignedIn() {
		t.Fatal("local data survived the wipe")
	}
	if _, ok := off.Get("pairings", "p1"); ok {
		t.Fatal("records survived the wipe")
	}
	if err := off.Set("visits", "v2", "p1", jsonFields(t, map[string]any{"notes": "x"})); !errors.Is(err, ErrNotSignedIn) {
		t.Fatalf("write after wipe: %v, want ErrNotSignedIn", err)
	}
	t.Logf("revoked: %v", err)
}
