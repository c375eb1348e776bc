package mobile

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	bbolt "go.etcd.io/bbolt"
)

// baseBytes returns what the engine's base holds for a record, as stored.
func baseBytes(t testing.TB, e *Engine, coll, id string) []byte {
	t.Helper()
	var b []byte
	must(t, e.db.View(func(tx *bbolt.Tx) error {
		b = bytes.Clone(tx.Bucket(bucketBase).Get(recKey(coll, id)))
		return nil
	}))
	return b
}

func cursorOf(t testing.TB, e *Engine, pairing string) uint64 {
	t.Helper()
	var c uint64
	must(t, e.db.View(func(tx *bbolt.Tx) error { c = readCursor(tx)[pairing]; return nil }))
	return c
}

// countPulled counts the records pull answers carry, by key.
type countPulled struct {
	base http.RoundTripper
	mu   sync.Mutex
	reqs []string
}

func (c *countPulled) RoundTrip(req *http.Request) (*http.Response, error) {
	c.mu.Lock()
	c.reqs = append(c.reqs, req.Method+" "+req.URL.Path)
	c.mu.Unlock()
	return c.base.RoundTrip(req)
}

// TestPushWithoutPullBack: after a push the server stamps (received_at on
// visits), the device holds every record exactly as the server stored it,
// byte for byte, without pulling any of them back; its cursor is at the
// pairing's head; an idle sync is a single request.
func TestPushWithoutPullBack(t *testing.T) {
	w := newWorldWith(t, true)
	tr := &countPulled{base: http.DefaultTransport}
	off, _ := w.engine("officerA", Config{Transport: tr, MaxChanges: 3})
	mustSync(t, off) // the directory and an empty p1
	for i := range 7 {
		f := benchVisitFields(i)
		f["officers"] = json.RawMessage(`["u-officerA"]`)
		f["notes"] = json.RawMessage(fmt.Sprintf(`"走访 <%d> & 记录"`, i))
		must(t, off.Set("visits", fmt.Sprintf("v%d", i), "p1", f))
	}
	p := mustSync(t, off)
	if p.UploadDone != 7 || p.Rejected != 0 || p.RecordsDone != 0 {
		t.Errorf("sync: %d uploaded, %d rejected, %d pulled; want 7, 0 and 0 (nothing pulled back); rejected: %+v", p.UploadDone, p.Rejected, p.RecordsDone, off.Rejected())
	}
	// An edit of a stored visit: the server adds nothing (an empty stamp).
	must(t, off.Set("visits", "v0", "p1", jsonFields(t, map[string]any{"notes": "补充：企业已提交材料"})))
	if p := mustSync(t, off); p.UploadDone != 1 || p.Rejected != 0 || p.RecordsDone != 0 {
		t.Errorf("sync of an edit: %d uploaded, %d rejected, %d pulled; want 1, 0, 0; rejected: %+v", p.UploadDone, p.Rejected, p.RecordsDone, off.Rejected())
	}
	recs := w.serverRecords("p1")
	if len(recs) != 7 {
		t.Fatalf("server holds %d records in p1, want 7", len(recs))
	}
	for k, want := range recs {
		coll, id, _ := cutKey(k)
		if got := baseBytes(t, off, coll, id); !bytes.Equal(got, want) {
			t.Errorf("base of %s:\n got  %s\n want %s (the server's stored bytes)", k, got, want)
		}
		if coll == "visits" && !bytes.Contains(want, []byte(`"received_at"`)) {
			t.Errorf("the server did not stamp %s: %s", k, want)
		}
	}
	if got, want := cursorOf(t, off, "p1"), w.head("p1"); got != want {
		t.Errorf("cursor of p1 = %d, want the head %d", got, want)
	}
	tr.mu.Lock()
	tr.reqs = nil
	tr.mu.Unlock()
	if p := mustSync(t, off); p.RecordsDone != 0 {
		t.Errorf("idle sync pulled %d records", p.RecordsDone)
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if len(tr.reqs) != 1 || tr.reqs[0] != "POST /v1/sync/pull" {
		t.Errorf("idle sync requests: %v; want one pull", tr.reqs)
	}
}

// interleave runs fn once, just before the n-th push request goes out.
type interleave struct {
	base http.RoundTripper
	mu   sync.Mutex
	n    int
	fn   func()
}

func (i *interleave) RoundTrip(req *http.Request) (*http.Response, error) {
	if strings.HasSuffix(req.URL.Path, "/sync/push") {
		i.mu.Lock()
		i.n--
		fire := i.n == 0
		i.mu.Unlock()
		if fire {
			i.fn()
		}
	}
	return i.base.RoundTrip(req)
}

// TestCursorStopsAtOthersCommit: another device commits between two of a
// device's pushes in one Sync; the device's cursor moves over its first
// commit only, and its pull brings the other device's record (and its own
// later one): nothing is skipped.
func TestCursorStopsAtOthersCommit(t *testing.T) {
	w := newWorld(t)
	other, _ := w.engine("officerA", Config{})
	il := &interleave{base: http.DefaultTransport, n: 2}
	dev, _ := w.engine("officerA", Config{Transport: il, MaxChanges: 1})
	mustSync(t, dev)
	mustSync(t, other)
	head := w.head("p1")
	il.fn = func() {
		set(t, other, "visits", "theirs", "p1", map[string]any{"notes": "另一台手机"})
		mustSync(t, other)
	}
	set(t, dev, "visits", "mine1", "p1", map[string]any{"notes": "第一条"})
	set(t, dev, "visits", "mine2", "p1", map[string]any{"notes": "第二条"})
	p, err := dev.Sync(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if w.head("p1") != head+3 {
		t.Fatalf("p1 head %d, want %d: the three commits", w.head("p1"), head+3)
	}
	if p.RecordsDone < 1 {
		t.Errorf("the sync pulled %d records; want at least the other device's", p.RecordsDone)
	}
	if got := baseBytes(t, dev, "visits", "theirs"); got == nil {
		t.Error("the device never received the other device's visit: its cursor skipped that commit")
	}
	if got, want := cursorOf(t, dev, "p1"), w.head("p1"); got != want {
		t.Errorf("cursor of p1 = %d, want %d", got, want)
	}
	sameAsServer(t, w, dev, "officer", "p1")
}
