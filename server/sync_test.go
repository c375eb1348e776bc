package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pairsync/pairsync/server/pairing"
	"github.com/pairsync/pairsync/storage"
	"github.com/pairsync/pairsync/syncproto"
)

// device is a minimal sync client for tests: a Writer, the records it
// knows, and its cursor. (The real client is package mobile.)
type device struct {
	e      *idEnv
	t      testing.TB
	token  string
	id     string
	w      syncproto.Writer
	view   map[string]syncproto.Record // collection/id → local state
	cursor syncproto.Cursor
	owner  string // the user's username
}

func (e *idEnv) device(t testing.TB, user string) *device {
	t.Helper()
	tok := e.login(user).AccessToken
	var reg registeredDevice
	r := e.call("POST", "/v1/devices", tok, map[string]string{"name": user + " 的手机"})
	if r.status != 201 {
		t.Fatalf("register device: %d %s", r.status, r.body)
	}
	r.json(t, &reg)
	return &device{e: e, t: t, token: reg.AccessToken, id: reg.Device.ID, owner: user,
		w: syncproto.Writer{Replica: syncproto.ReplicaID(reg.Device.ID)}, view: map[string]syncproto.Record{}, cursor: syncproto.Cursor{}}
}

// set writes fields locally and returns the change to push; a set that
// writes nothing (the values are those held) fails the test.
func (d *device) set(collection, id, pid string, fields map[string]any) syncproto.Change {
	d.t.Helper()
	ch, w := d.write(time.Now(), collection, id, pid, fields)
	if w.IsZero() {
		d.t.Fatalf("%s: setting %s/%s to the values it holds writes nothing (syncproto Writer.Set)", d.id, collection, id)
	}
	return ch
}

// setAt is set with the device's clock at clock, where a set that writes
// nothing is allowed.
func (d *device) setAt(clock time.Time, collection, id, pid string, fields map[string]any) syncproto.Change {
	d.t.Helper()
	ch, _ := d.write(clock, collection, id, pid, fields)
	return ch
}

func (d *device) write(clock time.Time, collection, id, pid string, fields map[string]any) (syncproto.Change, syncproto.Write) {
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
	return syncproto.Change{Dot: w.Dot, HLC: w.HLC, Record: next}, w
}

func (d *device) push(changes ...syncproto.Change) (result, syncproto.PushAnswer) {
	d.t.Helper()
	body, err := syncproto.Encode(&syncproto.PushRequest{V: 1, Device: syncproto.ReplicaID(d.id), Changes: changes})
	if err != nil {
		d.t.Fatal(err)
	}
	r := d.e.call("POST", "/v1/sync/push", d.token, body)
	var ans syncproto.PushAnswer
	if r.status == 200 {
		a, err := syncproto.DecodePushAnswer(r.body, syncproto.Limits{})
		if err != nil {
			d.t.Fatalf("push answer %s: %v", r.body, err)
		}
		ans = *a
	}
	return r, ans
}

// pull pulls every page and merges what arrives; it returns the pulled
// records' keys and the pairings to purge.
func (d *device) pull() (keys []string, purge []string) {
	d.t.Helper()
	for pages := 0; ; pages++ {
		body, _ := syncproto.Encode(&syncproto.PullRequest{V: 1, Cursor: d.cursor})
		r := d.e.call("POST", "/v1/sync/pull", d.token, body)
		if r.status != 200 {
			d.t.Fatalf("pull: %d %s", r.status, r.body)
		}
		ans, err := syncproto.DecodePullAnswer(r.body, syncproto.Limits{})
		if err != nil {
			d.t.Fatalf("pull answer: %v", err)
		}
		for _, pr := range ans.Records {
			k := pr.Record.Collection + "/" + pr.Record.ID
			d.view[k] = syncproto.Merge(d.view[k], pr.Record)
			keys = append(keys, k)
		}
		d.cursor = d.cursor.Next(ans)
		purge = append(purge, ans.Purge...)
		if !ans.More {
			return keys, purge
		}
		if pages > 1000 {
			d.t.Fatal("pull does not end")
		}
	}
}

// pairingsFixture creates pairing p1 (unit A: officerA, counterparty cp-A)
// and p2 (unit B: officerB, cp-B) through the server's commit path.
func pairingsFixture(t *testing.T, e *idEnv) {
	t.Helper()
	for _, p := range []struct{ id, unit, officer, cp string }{{"p1", "unitA", "u-officerA", "cp-A"}, {"p2", "unitB", "u-officerB", "cp-B"}} {
		vals, _ := jsonValues(map[string]any{"name": "结对 " + p.id, "status": pairing.StatusActive, "branches": []string{p.unit},
			"counterparties": []string{p.cp}, "officers": []map[string]any{{"user_id": p.officer, "primary": true}}})
		if _, _, err := e.s.writeRecord(t.Context(), pairing.CollPairings, p.id, pairing.DirectoryScope, vals); err != nil {
			t.Fatal(err)
		}
		cvals, _ := jsonValues(map[string]any{"name": "企业 " + p.cp, "kind": "enterprise", "org_unit": p.unit})
		if _, _, err := e.s.writeRecord(t.Context(), pairing.CollCounterparties, p.cp, pairing.DirectoryScope, cvals); err != nil {
			t.Fatal(err)
		}
	}
}

func TestSyncRoundTrip(t *testing.T) {
	e := newIDEnv(t)
	pairingsFixture(t, e)
	offA, conA, offB := e.device(t, "officerA"), e.device(t, "contactA"), e.device(t, "officerB")

	// The officer records a visit offline, and (by mistake) one in the
	// pairing of another branch, and a pairing record (administrators only).
	visit := offA.set("visits", "v1", "p1", map[string]any{"notes": "走访企业，了解融资诉求", "mode": "on_site"})
	wrong := offA.set("visits", "v2", "p2", map[string]any{"notes": "不属于我的结对"})
	rating := offA.set("pairings", "r1", "p1", map[string]any{"name": "改名"})
	issue := offA.set("issues", "i1", "p1", map[string]any{"title": "融资难"})
	r, ans := offA.push(visit, wrong, rating, issue)
	if r.status != 200 || len(ans.Results) != 4 {
		t.Fatalf("push: %d %s", r.status, r.body)
	}
	want := []struct {
		status syncproto.Status
		code   syncproto.Code
	}{{syncproto.StatusApplied, ""}, {syncproto.StatusRejected, syncproto.CodeOutOfScope}, {syncproto.StatusRejected, syncproto.CodeForbidden}, {syncproto.StatusApplied, ""}}
	for i, w := range want {
		got := ans.Results[i]
		if got.Status != w.status || (w.code != "" && (got.Error == nil || got.Error.Code != w.code)) || (w.code == "" && got.Seq == 0) {
			t.Errorf("result %d: got %+v, want %s %s", i, got, w.status, w.code)
		}
	}
	// A replay gets the very same answers and changes nothing.
	head := func() uint64 {
		h, _ := e.db.Head(t.Context(), "p1")
		return h
	}
	before := head()
	r2, _ := offA.push(visit, wrong, rating, issue)
	if string(r2.body) != string(r.body) {
		t.Fatalf("replayed push: got %s, want the first answer %s", r2.body, r.body)
	}
	if head() != before {
		t.Fatalf("replay moved p1's head from %d to %d", before, head())
	}

	// The contact of the pairing sees the issue, the pairing and their
	// counterparty, not the officers' visit notes; the officer of the other
	// branch sees none of it.
	keys, _ := conA.pull()
	for _, k := range []string{"issues/i1", "pairings/p1", "counterparties/cp-A"} {
		if !strings.Contains(strings.Join(keys, " "), k) {
			t.Errorf("contact A pulled %v, want %s among them", keys, k)
		}
	}
	if slices.Contains(keys, "visits/v1") {
		t.Errorf("contact A pulled the officer's visit: %v", keys)
	}
	keys, _ = offB.pull()
	for _, k := range keys {
		if k == "visits/v1" || k == "pairings/p1" || k == "counterparties/cp-A" || k == "issues/i1" {
			t.Errorf("officer B pulled %s from another branch's pairing", k)
		}
	}

	// Two devices edit different fields of the issue offline: both survive.
	offA.pull()
	a := offA.set("issues", "i1", "p1", map[string]any{"priority": "high"})
	c := conA.set("issues", "i1", "p1", map[string]any{"title": "融资难，需要担保"})
	if _, ans := offA.push(a); ans.Results[0].Status != syncproto.StatusApplied {
		t.Fatalf("officer's edit: %+v", ans.Results[0])
	}
	if _, ans := conA.push(c); ans.Results[0].Status != syncproto.StatusMerged {
		t.Fatalf("contact's concurrent edit: got %+v, want merged", ans.Results[0])
	}
	offA.pull()
	conA.pull()
	for _, d := range []*device{offA, conA} {
		i := d.view["issues/i1"]
		if string(i.Value("priority")) != `"high"` || string(i.Value("title")) != `"融资难，需要担保"` {
			t.Errorf("%s: got issue %s, want both edits", d.id, i)
		}
	}
	if !offA.view["issues/i1"].Equal(conA.view["issues/i1"]) {
		t.Error("officer and contact hold different versions of the issue after syncing")
	}

	// Removed from the pairing, the officer is told to purge it.
	vals, _ := jsonValues(map[string]any{"officers": []map[string]any{}})
	if _, _, err := e.s.writeRecord(t.Context(), pairing.CollPairings, "p1", pairing.DirectoryScope, vals); err != nil {
		t.Fatal(err)
	}
	if _, purge := offA.pull(); strings.Join(purge, ",") != "p1" {
		t.Fatalf("after removal: got purge %v, want [p1]", purge)
	}
	if _, ans := offA.push(offA.set("visits", "v3", "p1", map[string]any{"notes": "x"})); ans.Results[0].Status != syncproto.StatusRejected {
		t.Fatalf("push after removal: got %+v, want rejected", ans.Results[0])
	}
}

func TestSyncRefusesForgedDevice(t *testing.T) {
	e := newIDEnv(t)
	pairingsFixture(t, e)
	offA, offB := e.device(t, "officerA"), e.device(t, "officerB")
	// Officer A forges changes stamped with officer B's replica id.
	forger := &device{e: e, t: t, id: offB.id, w: syncproto.Writer{Replica: syncproto.ReplicaID(offB.id), Counter: 100},
		view: map[string]syncproto.Record{}}
	ch := forger.set("visits", "v1", "p1", map[string]any{"notes": "x"})
	body, _ := syncproto.Encode(&syncproto.PushRequest{V: 1, Device: syncproto.ReplicaID(offB.id), Changes: []syncproto.Change{ch}})
	if r := e.call("POST", "/v1/sync/push", offA.token, body); r.status != 403 {
		t.Fatalf("push naming another user's device: got %d %s, want 403", r.status, r.body)
	}
	// Changes stamped with one replica in a push naming another: refused.
	body, _ = syncproto.Encode(&syncproto.PushRequest{V: 1, Device: syncproto.ReplicaID(offA.id), Changes: []syncproto.Change{ch}})
	if r := e.call("POST", "/v1/sync/push", offA.token, body); r.status != 400 {
		t.Fatalf("changes of another replica: got %d %s, want 400", r.status, r.body)
	}
	// A token without a device cannot sync.
	tok := e.login("officerA").AccessToken
	if r := e.call("POST", "/v1/sync/pull", tok, []byte(`{"v":1,"cursor":{}}`)); r.status != 403 {
		t.Fatalf("pull without a device: got %d, want 403", r.status)
	}
	// Malformed bodies: a clear 4xx, never a 500.
	for _, body := range []string{`{`, `{"v":2,"device":"x","changes":[]}`, `{"v":1,"device":"` + offA.id + `","changes":[{"dot":"nope"}]}`} {
		if r := e.call("POST", "/v1/sync/push", offA.token, []byte(body)); r.status < 400 || r.status >= 500 {
			t.Errorf("push %s: got %d %s, want 4xx", body, r.status, r.body)
		}
	}
}

// TestConcurrentReplayExactlyOnce: one batch pushed 6 times at once commits
// each change once and every push gets the same answers.
func TestConcurrentReplayExactlyOnce(t *testing.T) {
	e := newIDEnv(t)
	pairingsFixture(t, e)
	offA := e.device(t, "officerA")
	var changes []syncproto.Change
	for i := 0; i < 20; i++ {
		changes = append(changes, offA.set("visits", fmt.Sprintf("v%02d", i), "p1", map[string]any{"notes": i}))
	}
	bodies := make([]string, 6)
	var wg sync.WaitGroup
	for i := range bodies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, _ := offA.push(changes...)
			bodies[i] = fmt.Sprintf("%d %s", r.status, r.body)
		}()
	}
	wg.Wait()
	for _, b := range bodies {
		if b != bodies[0] {
			t.Fatalf("answers differ:\n%s\n%s", b, bodies[0])
		}
	}
	var ans syncproto.PushAnswer
	if err := json.Unmarshal([]byte(strings.TrimPrefix(bodies[0], "200 ")), &ans); err != nil {
		t.Fatal(err)
	}
	if h, _ := e.db.Head(t.Context(), "p1"); h != 20 {
		t.Fatalf("p1 head: got %d, want 20 (each change committed once)", h)
	}
}

// TestTombstoneHorizon: a deleted record is purged after the horizon; a
// device whose cursor predates the purge is told to resync (never left
// holding the record), and its late edit of the purged record is refused
// rather than bringing it back.
func TestTombstoneHorizon(t *testing.T) {
	e := newIDEnv(t)
	pairingsFixture(t, e)
	offA, conA := e.device(t, "officerA"), e.device(t, "adminA")
	offA.push(offA.set("visits", "v1", "p1", map[string]any{"notes": "待删除"}), offA.set("visits", "v2", "p1", map[string]any{"notes": "保留"}))
	conA.pull() // the administrator's device holds v1, with a cursor from before the delete
	stale := maps.Clone(conA.cursor)

	cur := offA.view["visits/v1"]
	del, w, err := offA.w.Delete(cur, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	offA.view["visits/v1"] = del
	if _, ans := offA.push(syncproto.Change{Dot: w.Dot, HLC: w.HLC, Record: del}); ans.Results[0].Status != syncproto.StatusApplied {
		t.Fatalf("delete: %+v", ans.Results[0])
	}
	// Within the horizon nothing is purged.
	if n, err := e.s.SweepTombstones(t.Context(), time.Now().Add(-time.Hour)); err != nil || n != 0 {
		t.Fatalf("sweep within the horizon: purged %d (%v), want 0", n, err)
	}
	if n, err := e.s.SweepTombstones(t.Context(), time.Now().Add(time.Hour)); err != nil || n != 1 {
		t.Fatalf("sweep past the horizon: purged %d (%v), want 1", n, err)
	}
	// The stale cursor gets resync_required for p1, and no records of it.
	body, _ := syncproto.Encode(&syncproto.PullRequest{V: 1, Cursor: stale})
	r := e.call("POST", "/v1/sync/pull", conA.token, body)
	ans, err := syncproto.DecodePullAnswer(r.body, syncproto.Limits{})
	if err != nil || strings.Join(ans.Resync, ",") != "p1" {
		t.Fatalf("pull with a stale cursor: %s (%v), want resync [p1]", r.body, err)
	}
	for _, pr := range ans.Records {
		if pr.Pairing == "p1" {
			t.Fatalf("resync answer carries a p1 record: %v", pr.Record)
		}
	}
	// Read again from 0: v1 is gone, v2 is there.
	conA.view, conA.cursor = map[string]syncproto.Record{}, syncproto.Cursor{}
	keys, _ := conA.pull()
	got := strings.Join(keys, " ")
	if strings.Contains(got, "visits/v1") || !strings.Contains(got, "visits/v2") {
		t.Fatalf("after resync: pulled %v, want v2 and not v1", keys)
	}
	// A device that still holds v1 (an officer offline past the horizon)
	// edits it: refused, not resurrected.
	offB := e.device(t, "officerA")
	offB.view["visits/v1"] = cur
	if _, ans := offB.push(offB.set("visits", "v1", "p1", map[string]any{"notes": "迟到的修改"})); ans.Results[0].Status != syncproto.StatusRejected {
		t.Fatalf("edit of a purged record: got %+v, want rejected", ans.Results[0])
	}
	if _, err := e.db.Get(t.Context(), storage.Key{Collection: "visits", ID: "v1"}); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("purged record after a late edit: %v, want not found", err)
	}
}

// TestRemovedOfficerGrace: an officer removed from a pairing while their
// phone holds unsent changes still gets them in (nothing recorded is lost)
// for pairing.RemovalGrace, but no longer reads the pairing and is told to
// purge it; after the grace, pushes are refused.
func TestRemovedOfficerGrace(t *testing.T) {
	e := newIDEnv(t)
	pairingsFixture(t, e)
	offA := e.device(t, "officerA")
	offA.pull()
	pending := offA.set("visits", "v-late", "p1", map[string]any{"notes": "移除前记录的走访"})

	vals, _ := jsonValues(map[string]any{"officers": []map[string]any{},
		"former_officers": []map[string]any{{"user_id": "u-officerA", "removed_at": e.now()}}})
	if _, _, err := e.s.writeRecord(t.Context(), pairing.CollPairings, "p1", pairing.DirectoryScope, vals); err != nil {
		t.Fatal(err)
	}
	if _, ans := offA.push(pending); ans.Results[0].Status != syncproto.StatusApplied {
		t.Fatalf("pending change of a removed officer within the grace: got %+v, want applied", ans.Results[0])
	}
	keys, purge := offA.pull()
	if strings.Join(purge, ",") != "p1" {
		t.Fatalf("got purge %v, want [p1]", purge)
	}
	for _, k := range keys {
		if k == "visits/v-late" || k == "pairings/p1" {
			t.Fatalf("removed officer pulled %s", k)
		}
	}
	// Past the grace: refused. (Tokens last 10 minutes; sign in again.)
	e.advance(pairing.RemovalGrace + time.Hour)
	offA.token = e.login("officerA").AccessToken
	r := e.call("POST", "/v1/auth/login", "", map[string]any{"username": "officerA", "password": testPassword, "device_id": offA.id})
	var tr tokenResponse
	r.json(t, &tr)
	offA.token = tr.AccessToken
	if _, ans := offA.push(offA.set("visits", "v-later", "p1", map[string]any{"notes": "太晚了"})); ans.Results[0].Status != syncproto.StatusRejected {
		t.Fatalf("push after the grace: got %+v, want rejected", ans.Results[0])
	}
	// Contacts are never let in by an officer's grace.
	conB := e.device(t, "contactB")
	if _, ans := conB.push(conB.set("issues", "i-x", "p1", map[string]any{"title": "x"})); ans.Results[0].Status != syncproto.StatusRejected {
		t.Fatalf("another pairing's contact: got %+v, want rejected", ans.Results[0])
	}
}

// TestPrunedReceiptsAnswerDuplicate: after a device's old receipts are
// pruned, replaying a change below the pruning mark answers "duplicate",
// replaying one whose receipt is kept gets its stored answer, and neither
// commits anything.
func TestPrunedReceiptsAnswerDuplicate(t *testing.T) {
	e := newIDEnv(t)
	pairingsFixture(t, e)
	offA := e.device(t, "officerA")
	var old []syncproto.Change
	for i := 0; i < 5; i++ {
		old = append(old, offA.set("visits", fmt.Sprintf("v%d", i), "p1", map[string]any{"notes": i}))
	}
	offA.push(old...)
	// The device moves on: its next push starts above the first one, so
	// the first push's receipts are no longer needed.
	later := offA.set("visits", "v-later", "p1", map[string]any{"notes": "later"})
	offA.push(later)
	if n, err := e.db.PruneReceipts(t.Context(), receiptsKept); err != nil || n != 5 {
		t.Fatalf("prune: %d, %v; want 5 (counters 1 to 5, below the second push)", n, err)
	}
	head, _ := e.db.Head(t.Context(), "p1")
	_, ans := offA.push(old[0])
	if ans.Results[0].Status != syncproto.StatusDuplicate {
		t.Fatalf("replay of a pruned change: got %+v, want duplicate", ans.Results[0])
	}
	_, ans = offA.push(later)
	if ans.Results[0].Status != syncproto.StatusApplied || ans.Results[0].Seq == 0 {
		t.Fatalf("replay of a kept change: got %+v, want its stored answer (applied)", ans.Results[0])
	}
	if h, _ := e.db.Head(t.Context(), "p1"); h != head {
		t.Fatalf("replays moved the head from %d to %d", head, h)
	}
}

// TestRetriedPushAfterPruning: a push whose answer was lost is sent again
// after the hourly pruning of receipts; its counters are far apart (the
// counter counts every write the device made, and the outbox holds only
// some), so a bound by counters would have dropped the first change's
// answer. Every change is answered exactly as the first time, and nothing
// is committed twice.
func TestRetriedPushAfterPruning(t *testing.T) {
	e := newIDEnv(t)
	pairingsFixture(t, e)
	offA := e.device(t, "officerA")
	first := offA.set("visits", "v-first", "p1", map[string]any{"notes": "first"})
	offA.w.Counter += 2 * receiptsKept // writes since, already answered or superseded
	second := offA.set("visits", "v-second", "p1", map[string]any{"notes": "second"})
	rejected := offA.set("visits", "v-foreign", "p2", map[string]any{"notes": "not mine"})
	r1, ans1 := offA.push(first, second, rejected)
	if r1.status != 200 || ans1.Results[2].Status != syncproto.StatusRejected {
		t.Fatalf("the push: got %d %+v, want 200 with the third rejected", r1.status, ans1.Results)
	}
	// The answer is lost; the maintenance pass prunes meanwhile.
	if _, err := e.db.PruneReceipts(t.Context(), receiptsKept); err != nil {
		t.Fatal(err)
	}
	head, _ := e.db.Head(t.Context(), "p1")
	r2, _ := offA.push(first, second, rejected)
	if r2.status != 200 || !bytes.Equal(r2.body, r1.body) {
		t.Fatalf("the retried push: got %d %s, want the first answer byte for byte %s", r2.status, r2.body, r1.body)
	}
	if h, _ := e.db.Head(t.Context(), "p1"); h != head {
		t.Fatalf("the retry moved p1's head from %d to %d", head, h)
	}
}

// TestPullWithManyPairings: an administrator of a province syncs thousands
// of pairings, so the pull cursor names thousands of them; it must not hit
// the decoder's per-object key limit.
func TestPullWithManyPairings(t *testing.T) {
	e := newIDEnv(t)
	pairingsFixture(t, e)
	adm := e.device(t, "adminA")
	for i := 0; i < 7000; i++ {
		adm.cursor[fmt.Sprintf("p-%05d", i)] = 0
	}
	body, _ := syncproto.Encode(&syncproto.PullRequest{V: 1, Cursor: adm.cursor})
	r := e.call("POST", "/v1/sync/pull", adm.token, body)
	if r.status != 200 {
		t.Fatalf("pull with a 7,000-pairing cursor (%d bytes): got %d %s, want 200", len(body), r.status, r.body)
	}
}

// TestPullCursorAheadOfHead: a cursor past a pairing's head (the database
// was restored from an older backup after the device synced) is answered
// with resync, not with silence until the head catches up.
func TestPullCursorAheadOfHead(t *testing.T) {
	e := newIDEnv(t)
	pairingsFixture(t, e)
	off := e.device(t, "officerA")
	off.push(off.set("visits", "v1", "p1", map[string]any{"notes": "恢复前"}))
	off.pull()
	cur := maps.Clone(off.cursor)
	cur["p1"] += 5 // as if the server had lost its last five commits
	body, _ := syncproto.Encode(&syncproto.PullRequest{V: 1, Cursor: cur})
	r := e.call("POST", "/v1/sync/pull", off.token, body)
	ans, err := syncproto.DecodePullAnswer(r.body, syncproto.Limits{})
	if err != nil || !slices.Contains(ans.Resync, "p1") {
		t.Fatalf("pull with a cursor past the head: %s (%v), want resync [p1]", r.body, err)
	}
}
