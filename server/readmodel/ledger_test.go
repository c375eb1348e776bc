package readmodel_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/pairsync/pairsync/server/pairing"
	"github.com/pairsync/pairsync/server/readmodel"
	"github.com/pairsync/pairsync/storage"
	"github.com/pairsync/pairsync/storage/bolt"
	"github.com/pairsync/pairsync/syncproto"
)

// countingRecords counts the reads a Ledger makes (all: every storage
// call). It passes the heads feed on when the store has one.
type countingRecords struct {
	storage.Records
	mu    sync.Mutex
	pages map[string]int // pairing → Changes calls
	heads int
	all   int
}

func (c *countingRecords) count() {
	c.mu.Lock()
	c.all++
	c.mu.Unlock()
}

func (c *countingRecords) Changes(ctx context.Context, p string, after uint64, lim storage.PageLimit) (storage.Page, error) {
	c.mu.Lock()
	c.pages[p]++
	c.all++
	c.mu.Unlock()
	return c.Records.Changes(ctx, p, after, lim)
}

func (c *countingRecords) Head(ctx context.Context, p string) (uint64, error) {
	c.mu.Lock()
	c.heads++
	c.all++
	c.mu.Unlock()
	return c.Records.Head(ctx, p)
}

func (c *countingRecords) Get(ctx context.Context, k storage.Key) (storage.Record, error) {
	c.count()
	return c.Records.Get(ctx, k)
}

func (c *countingRecords) Horizon(ctx context.Context, p string) (uint64, error) {
	c.count()
	return c.Records.Horizon(ctx, p)
}

func (c *countingRecords) HeadsSince(ctx context.Context, after uint64, limit int) (storage.HeadsPage, error) {
	c.count()
	return c.Records.(storage.HeadFeed).HeadsSince(ctx, after, limit)
}

func (c *countingRecords) reset() (pages map[string]int, heads int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	pages, heads = c.pages, c.heads
	c.pages, c.heads, c.all = map[string]int{}, 0, 0
	return pages, heads
}

// calls returns the storage calls since the last reset.
func (c *countingRecords) calls() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.all
}

// harness writes records through storage commits, as the server does: each
// write made by a syncproto.Writer, encoded, and committed in a Batch with
// the sequence it read as Expect.
type harness struct {
	tb      testing.TB
	ctx     context.Context
	db      *bolt.DB
	counted *countingRecords
	dir     *pairing.Directory
	w       syncproto.Writer
	paths   map[string]string // org unit → path
	recs    map[storage.Key]*stored
	pending map[string][]storage.Put // pairing → staged puts
	// maxBatch bounds the puts of one commit.
	maxBatch int
}

type stored struct {
	r       syncproto.Record
	seq     uint64 // committed sequence (0: not yet)
	pairing string
}

func newHarness(tb testing.TB) *harness {
	tb.Helper()
	ctx := context.Background()
	db, err := bolt.Open(ctx, bolt.Config{Path: filepath.Join(tb.TempDir(), "ledger.db"), NoSync: true})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	h := &harness{
		tb: tb, ctx: ctx, db: db, counted: &countingRecords{Records: db, pages: map[string]int{}},
		w: syncproto.Writer{Replica: "test-writer"}, paths: map[string]string{},
		recs: map[storage.Key]*stored{}, pending: map[string][]storage.Put{}, maxBatch: 200,
	}
	h.dir = pairing.NewDirectory(db, func(_ context.Context, id string) (string, error) { return h.paths[id], nil })
	return h
}

// values encodes field values; times are written in RFC 3339 in China time.
func values(tb testing.TB, kv ...any) map[string]json.RawMessage {
	tb.Helper()
	out := map[string]json.RawMessage{}
	for i := 0; i+1 < len(kv); i += 2 {
		v := kv[i+1]
		if t, ok := v.(time.Time); ok {
			v = t.In(readmodel.China).Format(time.RFC3339Nano)
		}
		b, err := json.Marshal(v)
		if err != nil {
			tb.Fatal(err)
		}
		out[kv[i].(string)] = b
	}
	return out
}

// set stages a write of fields (name, value pairs) to a record.
func (h *harness) set(pid, coll, id string, now time.Time, kv ...any) {
	h.tb.Helper()
	h.write(pid, coll, id, now, values(h.tb, kv...), false)
}

// del stages the deletion of a record.
func (h *harness) del(pid, coll, id string, now time.Time) {
	h.tb.Helper()
	h.write(pid, coll, id, now, nil, true)
}

func (h *harness) write(pid, coll, id string, now time.Time, vals map[string]json.RawMessage, del bool) {
	h.tb.Helper()
	key := storage.Key{Collection: coll, ID: id}
	for _, p := range h.pending[pid] {
		if p.Key == key { // one put per key per batch
			h.flushPairing(pid)
			break
		}
	}
	cur := h.recs[key]
	if cur == nil {
		cur = &stored{r: syncproto.NewRecord(coll, id, pid), pairing: pid}
		h.recs[key] = cur
	}
	var next syncproto.Record
	var err error
	if del {
		next, _, err = h.w.Delete(cur.r, now)
	} else {
		next, _, err = h.w.Set(cur.r, vals, now)
	}
	if err != nil {
		h.tb.Fatalf("write %s/%s: %v", coll, id, err)
	}
	data, err := syncproto.Encode(next)
	if err != nil {
		h.tb.Fatal(err)
	}
	cur.r = next
	h.pending[pid] = append(h.pending[pid], storage.Put{Key: key, Expect: cur.seq, Data: data})
	if len(h.pending[pid]) >= h.maxBatch {
		h.flushPairing(pid)
	}
}

func (h *harness) flushPairing(pid string) {
	h.tb.Helper()
	puts := h.pending[pid]
	if len(puts) == 0 {
		return
	}
	delete(h.pending, pid)
	c, err := h.db.Commit(h.ctx, storage.Batch{Pairing: pid, Puts: puts})
	if err != nil {
		h.tb.Fatalf("commit %s: %v", pid, err)
	}
	for i, p := range puts {
		h.recs[p.Key].seq = c.Seqs[i]
	}
}

// flush commits everything staged.
func (h *harness) flush() {
	h.tb.Helper()
	pids := make([]string, 0, len(h.pending))
	for pid := range h.pending {
		pids = append(pids, pid)
	}
	slices.Sort(pids)
	for _, pid := range pids {
		h.flushPairing(pid)
	}
}

// testPairing is a pairing as the tests define it.
type testPairing struct {
	ID             string
	Branches       []string
	Counterparties []string
	Officers       []string
	Contacts       []string
}

// addPairings writes pairing records to the directory scope and refreshes
// the directory.
func (h *harness) addPairings(ps ...testPairing) {
	h.tb.Helper()
	now := time.Date(2025, 12, 1, 9, 0, 0, 0, readmodel.China)
	for _, p := range ps {
		var officers []map[string]any
		for i, o := range p.Officers {
			officers = append(officers, map[string]any{"user_id": o, "primary": i == 0})
		}
		h.set(pairing.DirectoryScope, pairing.CollPairings, p.ID, now,
			"name", "结对 "+p.ID, "status", pairing.StatusActive, "branches", p.Branches,
			"counterparties", p.Counterparties, "officers", officers, "contacts", p.Contacts)
	}
	h.flush()
	if err := h.dir.Refresh(h.ctx); err != nil {
		h.tb.Fatal(err)
	}
}

func (h *harness) event(pid, id, issue string, typ pairing.EventType, at time.Time, by string, role pairing.Role, kv ...any) {
	h.tb.Helper()
	h.set(pid, pairing.CollIssueEvents, id, at, append([]any{"issue", issue, "type", string(typ), "at", at, "by", by, "role", string(role)}, kv...)...)
}

func (h *harness) ledger(rules func(pairing.Pairing, string) pairing.IssueRules) *readmodel.Ledger {
	return readmodel.NewLedger(h.counted, h.dir, rules)
}

func refresh(tb testing.TB, h *harness, l *readmodel.Ledger) {
	tb.Helper()
	h.flush()
	if err := l.Refresh(h.ctx); err != nil {
		tb.Fatal(err)
	}
}

func mar(day, hour int) time.Time { return time.Date(2026, 3, day, hour, 0, 0, 0, readmodel.China) }

const photo1 = "1111111111111111111111111111111111111111111111111111111111111111"

// fixture: two pairings with visits, issues and their events, a project
// with milestones, and ratings.
func fixture(t *testing.T) (*harness, *readmodel.Ledger) {
	h := newHarness(t)
	h.paths = map[string]string{"b1": "/r/b1/", "b2": "/r/b2/"}
	h.addPairings(
		testPairing{ID: "p1", Branches: []string{"b1"}, Counterparties: []string{"c1"}, Officers: []string{"o1", "o2"}, Contacts: []string{"k1"}},
		testPairing{ID: "p2", Branches: []string{"b2"}, Counterparties: []string{"c2", "c3"}, Officers: []string{"o3"}, Contacts: []string{"k2"}},
	)
	// One writer stamps every write, so its HLC follows the order of the
	// writes: the project comes first (its CreatedAt is its first HLC).
	h.set("p1", pairing.CollProjects, "pr1", mar(2, 9), "title", "助企纾困", "category", "industry", "status", "in_progress", "owner", "o1")
	h.set("p1", pairing.CollMilestones, "m2", mar(2, 10), "project", "pr1", "title", "第二阶段", "order", 2)
	h.set("p1", pairing.CollMilestones, "m1", mar(2, 11), "project", "pr1", "title", "第一阶段", "order", 1, "done_at", mar(9, 9))
	loc := map[string]any{"lat": 32.06, "lng": 118.79, "accuracy_m": 10}
	photos := []map[string]any{{"sha256": photo1, "size": 1000, "type": "image/jpeg"}}
	h.set("p1", pairing.CollVisits, "v1", mar(10, 10), "title", "企业走访 March", "officers", []string{"o1"}, "mode", "onsite",
		"visited_at", mar(10, 10), "location", loc, "photos", photos)
	h.set("p2", pairing.CollVisits, "v2", mar(12, 10), "title", "电话回访", "counterparty", "c2", "officers", []string{"o3"}, "mode", "phone",
		"visited_at", mar(12, 10), "status", "returned", "return_comment", "请补充照片")
	h.set("p2", pairing.CollVisits, "v3", mar(12, 11), "title", "联建活动", "counterparty", "c3", "officers", []string{"o3"}, "mode", "joint_activity",
		"visited_at", time.Date(2026, 2, 20, 10, 0, 0, 0, readmodel.China), "location", loc, "photos", photos)

	h.set("p1", pairing.CollIssues, "i1", mar(10, 11), "title", "融资难", "category", "financing", "raised_by", "o1",
		"raised_at", mar(10, 11), "visit", "v1")
	h.event("p1", "e1", "i1", pairing.EventDispatched, mar(10, 12), "a1", pairing.Admin, "handler", "o2", "handler_name", "王五")
	h.event("p1", "e2", "i1", pairing.EventSigned, mar(10, 15), "o2", pairing.Officer)
	h.event("p1", "e3", "i1", pairing.EventResponded, mar(15, 9), "o2", pairing.Officer, "resolution", "solved")
	h.event("p1", "e4", "i1", pairing.EventConfirmed, mar(16, 9), "k1", pairing.Contact, "response", "e3")

	h.set("p2", pairing.CollIssues, "i2", mar(1, 9), "title", "政策咨询", "category", "policy", "counterparty", "c2", "raised_by", "o3", "raised_at", mar(1, 9))
	h.event("p2", "e5", "i2", pairing.EventDispatched, mar(1, 10), "a1", pairing.Admin, "handler", "o3", "due", mar(5, 18))
	h.event("p2", "e6", "i2", pairing.EventSigned, mar(3, 10), "o3", pairing.Officer)

	h.set("p1", pairing.CollRatings, "r1", mar(20, 9), "target_kind", "project", "target", "pr1", "level", 5, "comment", "很好", "by", "k1", "at", mar(20, 9))
	h.set("p1", pairing.CollRatings, "r2", mar(16, 10), "target_kind", "issue", "target", "i1", "level", 3, "by", "k1", "at", mar(16, 10))
	// Rules of 5 days to respond (the issue's dispatch names no due date).
	l := h.ledger(func(pairing.Pairing, string) pairing.IssueRules {
		return pairing.IssueRules{DueAfter: 5 * 24 * time.Hour}
	})
	refresh(t, h, l)
	return h, l
}

func TestLedgerSummaries(t *testing.T) {
	h, l := fixture(t)
	v1, ok1 := visit(t, l, "v1")
	v2, _ := visit(t, l, "v2")
	i1, ok2 := issueOf(t, l, "i1")
	i2, _ := issueOf(t, l, "i2")
	pr1, ok3 := l.Project("pr1")
	_, okNo := visit(t, l, "nope")
	var evIDs []string
	for _, e := range i1.Events {
		evIDs = append(evIDs, e.ID)
	}
	var msIDs, rIDs []string
	for _, m := range pr1.Milestones {
		msIDs = append(msIDs, m.ID)
	}
	for _, r := range pr1.Ratings {
		rIDs = append(rIDs, r.ID)
	}
	for _, tc := range []struct {
		name      string
		got, want any
	}{
		{"visit found", []bool{ok1, ok2, ok3, okNo}, []bool{true, true, true, false}},
		{"v1 counterparty (the pairing's only one)", v1.Counterparty, "c1"},
		{"v1 evidence", []any{v1.HasLocation, len(v1.Photos), v1.Status, v1.Mode}, []any{true, 1, "submitted", "onsite"}},
		{"v1 visited at", v1.VisitedAt.Equal(mar(10, 10)), true},
		{"v2 status and comment", []string{v2.Status, v2.ReturnComment, v2.Counterparty}, []string{"returned", "请补充照片", "c2"}},
		{"i1 status", i1.State.Status, pairing.IssueClosed},
		{"i1 confirmed solved, signed in time, on time", []bool{i1.State.ConfirmedSolved, i1.State.SignedInTime, i1.State.RespondedOnTime}, []bool{true, true, true}},
		{"i1 events in order", evIDs, []string{"e1", "e2", "e3", "e4"}},
		{"i1 handler and due", []any{i1.State.Handler, i1.State.Due.Equal(mar(10, 12).Add(5 * 24 * time.Hour))}, []any{"o2", true}},
		{"i1 fields", []string{i1.Title, i1.Category, i1.RaisedBy, i1.Visit, i1.Counterparty}, []string{"融资难", "financing", "o1", "v1", "c1"}},
		{"i1 seq is its latest event's", i1.Seq, h.recs[storage.Key{Collection: pairing.CollIssueEvents, ID: "e4"}].seq},
		{"i2 status, signed late", []any{i2.State.Status, i2.State.SignedInTime}, []any{pairing.IssueSigned, false}},
		{"pr1 milestones by order", msIDs, []string{"m1", "m2"}},
		{"pr1 ratings", rIDs, []string{"r1"}},
		{"pr1 status and owner", []string{pr1.Status, pr1.Owner, pr1.Category}, []string{"in_progress", "o1", "industry"}},
		{"pr1 created", pr1.CreatedAt.Equal(mar(2, 9)), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !equalJSON(tc.got, tc.want) {
				t.Errorf("got %v, want %v", tc.got, tc.want)
			}
		})
	}
	// Summaries are copies.
	v1.Officers[0] = "changed"
	if again, _ := visit(t, l, "v1"); again.Officers[0] != "o1" {
		t.Errorf("got officer %q after changing a returned copy, want o1", again.Officers[0])
	}
}

func equalJSON(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

func TestLedgerFigures(t *testing.T) {
	h, l := fixture(t)
	march, _ := readmodel.ParseMonth("2026-03")
	now := mar(25, 12)
	both := []string{"p1", "p2"}
	f := l.Figures(both, march, march+1, now)
	respond := int64(mar(15, 9).Sub(mar(10, 12)) / time.Second)
	closeSec := int64(mar(16, 9).Sub(mar(10, 11)) / time.Second)
	for _, tc := range []struct {
		name      string
		got, want any
	}{
		{"visits", []int{f.Visits, f.VisitsWithEvidence, f.VisitsReturned}, []int{2, 1, 1}},
		{"coverage", f.Coverage, readmodel.Rate{Num: 2, Den: 3, Value: 2.0 / 3}},
		{"issues", []int{f.IssuesRaised, f.IssuesDispatched, f.IssuesResponded, f.IssuesClosed, f.IssuesConfirmedSolved}, []int{2, 2, 1, 1, 1}},
		{"response rate", f.ResponseRate, readmodel.Rate{Num: 1, Den: 2, Value: 0.5}},
		{"resolution rate", f.ResolutionRate, readmodel.Rate{Num: 1, Den: 1, Value: 1}},
		{"satisfaction rate", f.SatisfactionRate, readmodel.Rate{Num: 1, Den: 2, Value: 0.5}},
		{"on-time rate", f.OnTimeRate, readmodel.Rate{Num: 1, Den: 1, Value: 1}},
		{"days to respond", f.DaysToRespond, readmodel.Mean{SumSeconds: respond, Count: 1, Days: float64(respond) / 86400}},
		{"days to close", f.DaysToClose, readmodel.Mean{SumSeconds: closeSec, Count: 1, Days: float64(closeSec) / 86400}},
		{"overdue", f.Overdue, readmodel.Overdue{Total: 1, Within30: 1}},
		{"open", []any{f.IssuesOpen, f.IssuesByStatus}, []any{1, map[pairing.IssueStatus]int{pairing.IssueSigned: 1}}},
		{"projects", []any{f.ProjectsByStatus, f.ProjectsPlanned}, []any{map[string]int{"in_progress": 1}, 0}},
		{"one pairing", l.Figures([]string{"p2"}, march, march+1, now).Visits, 1},
		{"february", l.Figures(both, march-1, march, now).Visits, 1},
		{"trend", len(l.Trend(both, march-2, march+3, now)), 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !equalJSON(tc.got, tc.want) {
				t.Errorf("got %+v, want %+v", tc.got, tc.want)
			}
		})
	}

	// Editing a visit's month moves its contribution; deleting records
	// removes theirs.
	h.set("p2", pairing.CollVisits, "v3", mar(26, 9), "visited_at", mar(11, 9))
	refresh(t, h, l)
	moved := l.Figures(both, march, march+1, now)
	feb := l.Figures(both, march-1, march, now)
	h.del("p1", pairing.CollVisits, "v1", mar(26, 10))
	h.del("p1", pairing.CollIssues, "i1", mar(26, 10))
	h.del("p1", pairing.CollRatings, "r2", mar(26, 10))
	h.del("p1", pairing.CollProjects, "pr1", mar(26, 10))
	refresh(t, h, l)
	gone := l.Figures(both, march, march+1, now)
	_, v1ok := visit(t, l, "v1")
	_, i1ok := issueOf(t, l, "i1")
	_, pr1ok := l.Project("pr1")
	for _, tc := range []struct {
		name      string
		got, want any
	}{
		{"edited: march visits and coverage", []any{moved.Visits, moved.Coverage.Num, moved.Coverage.Den}, []any{3, 3, 3}},
		{"edited: february visits", feb.Visits, 0},
		{"edited: the summary moved", func() bool { v, _ := visit(t, l, "v3"); return v.VisitedAt.Equal(mar(11, 9)) }(), true},
		{"deleted: summaries gone", []bool{v1ok, i1ok, pr1ok}, []bool{false, false, false}},
		{"deleted: visits and coverage", []any{gone.Visits, gone.VisitsWithEvidence, gone.Coverage.Num}, []any{2, 1, 2}},
		{"deleted: issues", []int{gone.IssuesRaised, gone.IssuesClosed, gone.IssuesResponded}, []int{1, 0, 0}},
		{"deleted: ratings", gone.SatisfactionRate, readmodel.Rate{Num: 1, Den: 1, Value: 1}},
		{"deleted: projects", len(gone.ProjectsByStatus), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !equalJSON(tc.got, tc.want) {
				t.Errorf("got %+v, want %+v", tc.got, tc.want)
			}
		})
	}
}

func TestLedgerRefreshIncremental(t *testing.T) {
	h, _ := fixture(t)
	l := h.ledger(nil)
	h.counted.reset()
	if err := l.Refresh(h.ctx); err != nil {
		t.Fatal(err)
	}
	first, _ := h.counted.reset()
	if err := l.Refresh(h.ctx); err != nil {
		t.Fatal(err)
	}
	second, heads := h.counted.reset()
	h.set("p2", pairing.CollVisits, "v4", mar(27, 9), "officers", []string{"o3"}, "mode", "online", "visited_at", mar(27, 9))
	refresh(t, h, l)
	third, _ := h.counted.reset()
	_, found := visit(t, l, "v4")
	for _, tc := range []struct {
		name      string
		got, want any
	}{
		{"first refresh reads each feed", first, map[string]int{"p1": 1, "p2": 1}},
		{"nothing new: no pages", second, map[string]int{}},
		{"nothing new: no head read (the heads feed says nothing moved)", heads, 0},
		{"one new record: one page of its pairing", third, map[string]int{"p2": 1}},
		{"the new record is there", found, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !equalJSON(tc.got, tc.want) {
				t.Errorf("got %v, want %v", tc.got, tc.want)
			}
		})
	}
}

func TestLedgerFilter(t *testing.T) {
	_, l := fixture(t)
	both := []string{"p1", "p2"}
	now := mar(25, 12)
	ids := func(n int, id func(int) string) []string {
		out := []string{}
		for i := range n {
			out = append(out, id(i))
		}
		return out
	}
	visits := func(ps []string, f readmodel.Filter) []string {
		vs := mustVisits(t, l, ps, f)
		return ids(len(vs), func(i int) string { return vs[i].ID })
	}
	issues := func(f readmodel.Filter) []string {
		is := l.Issues(both, f)
		return ids(len(is), func(i int) string { return is[i].ID })
	}
	projects := func(f readmodel.Filter) []string {
		ps := l.Projects(both, f)
		return ids(len(ps), func(i int) string { return ps[i].ID })
	}
	ratings := func(f readmodel.Filter) []string {
		rs := l.Ratings(both, f)
		return ids(len(rs), func(i int) string { return rs[i].ID })
	}
	for _, tc := range []struct {
		name      string
		got, want []string
	}{
		{"visits: all, newest first", visits(both, readmodel.Filter{}), []string{"v2", "v1", "v3"}},
		{"visits: march", visits(both, readmodel.Filter{From: mar(1, 0), To: mar(31, 0)}), []string{"v2", "v1"}},
		{"visits: to is exclusive", visits(both, readmodel.Filter{To: mar(10, 10)}), []string{"v3"}},
		{"visits: returned", visits(both, readmodel.Filter{Status: "returned"}), []string{"v2"}},
		{"visits: counterparty by the pairing's only one", visits(both, readmodel.Filter{Counterparty: "c1"}), []string{"v1"}},
		{"visits: officer", visits(both, readmodel.Filter{Officer: "o3"}), []string{"v2", "v3"}},
		{"visits: query, any case", visits(both, readmodel.Filter{Query: "MARCH"}), []string{"v1"}},
		{"visits: query in Chinese", visits(both, readmodel.Filter{Query: "回访"}), []string{"v2"}},
		{"visits: one pairing", visits([]string{"p2"}, readmodel.Filter{}), []string{"v2", "v3"}},
		{"visits: unknown pairing", visits([]string{"p9"}, readmodel.Filter{}), []string{}},
		{"issues: overdue first", issues(readmodel.Filter{Now: now}), []string{"i2", "i1"}},
		{"issues: overdue at now", issues(readmodel.Filter{Overdue: true, Now: now}), []string{"i2"}},
		{"issues: not yet overdue", issues(readmodel.Filter{Overdue: true, Now: mar(4, 0)}), []string{}},
		{"issues: overdue event (none)", issues(readmodel.Filter{Overdue: true}), []string{}},
		{"issues: category", issues(readmodel.Filter{Category: "financing"}), []string{"i1"}},
		{"issues: status", issues(readmodel.Filter{Status: "closed"}), []string{"i1"}},
		{"issues: handler", issues(readmodel.Filter{Officer: "o2"}), []string{"i1"}},
		{"issues: counterparty", issues(readmodel.Filter{Counterparty: "c2"}), []string{"i2"}},
		{"issues: raised in period", issues(readmodel.Filter{From: mar(5, 0)}), []string{"i1"}},
		{"projects: category", projects(readmodel.Filter{Category: "industry"}), []string{"pr1"}},
		{"projects: status", projects(readmodel.Filter{Status: "verified"}), []string{}},
		{"projects: counterparty of the pairing", projects(readmodel.Filter{Counterparty: "c2"}), []string{}},
		{"projects: owner", projects(readmodel.Filter{Officer: "o1"}), []string{"pr1"}},
		{"projects: created in period", projects(readmodel.Filter{From: mar(3, 0)}), []string{}},
		{"ratings: newest first", ratings(readmodel.Filter{}), []string{"r1", "r2"}},
		{"ratings: target kind", ratings(readmodel.Filter{Category: "issue"}), []string{"r2"}},
		{"ratings: comment", ratings(readmodel.Filter{Query: "很好"}), []string{"r1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !slices.Equal(tc.got, tc.want) {
				t.Errorf("got %v, want %v", tc.got, tc.want)
			}
		})
	}
}

func TestLedgerSLADue(t *testing.T) {
	h := newHarness(t)
	h.paths = map[string]string{"b1": "/r/b1/"}
	h.addPairings(
		testPairing{ID: "p1", Branches: []string{"b1"}, Counterparties: []string{"c1"}, Officers: []string{"o1"}},
		testPairing{ID: "p2", Branches: []string{"b1"}, Counterparties: []string{"c2"}, Officers: []string{"o1"}},
	)
	issue := func(pid, id string) {
		h.set(pid, pairing.CollIssues, id, mar(1, 8), "title", id, "category", "policy", "raised_by", "o1", "raised_at", mar(1, 8))
	}
	dispatch := func(pid, id string, due time.Time) {
		h.event(pid, id+"-d", id, pairing.EventDispatched, mar(1, 9), "a1", pairing.Admin, "handler", "o1", "due", due)
	}
	respond := func(pid, id string, at time.Time) {
		h.event(pid, id+"-r", id, pairing.EventResponded, at, "o1", pairing.Officer, "resolution", "solved")
	}
	issue("p1", "s1") // overdue now
	dispatch("p1", "s1", mar(5, 18))
	issue("p1", "s2") // overdue, with its event already
	dispatch("p1", "s2", mar(5, 18))
	h.event("p1", "s2-o", "s2", pairing.EventOverdue, mar(6, 0), "system", pairing.RoleSystem)
	issue("p1", "s3") // responded 9 days ago: closed unconfirmed
	dispatch("p1", "s3", mar(20, 18))
	respond("p1", "s3", mar(2, 12))
	issue("p1", "s4") // responded 3 days ago
	dispatch("p1", "s4", mar(20, 18))
	respond("p1", "s4", mar(8, 12))
	issue("p1", "s5") // not yet due
	dispatch("p1", "s5", mar(20, 18))
	issue("p2", "s6") // responded 9 days ago, but p2 allows 14
	dispatch("p2", "s6", mar(20, 18))
	respond("p2", "s6", mar(2, 12))
	issue("p1", "s7") // reopened after its due date
	dispatch("p1", "s7", mar(3, 18))
	respond("p1", "s7", mar(2, 12))
	h.event("p1", "s7-c", "s7", pairing.EventConfirmed, mar(2, 13), "k1", pairing.Contact)
	h.event("p1", "s7-o", "s7", pairing.EventReopened, mar(4, 9), "a1", pairing.Admin, "reason", "未解决")
	issue("p1", "s8") // closed: nothing to do
	dispatch("p1", "s8", mar(3, 18))
	respond("p1", "s8", mar(2, 12))
	h.event("p1", "s8-c", "s8", pairing.EventClosed, mar(2, 13), "a1", pairing.Admin)
	l := h.ledger(nil)
	refresh(t, h, l)
	confirm := func(p pairing.Pairing) time.Duration {
		if p.ID == "p2" {
			return 14 * 24 * time.Hour
		}
		return 0 // the default, 7 days
	}
	now := mar(11, 12)
	got := l.SLADue(now, confirm)
	want := []readmodel.SLAAction{
		{Pairing: "p1", Issue: "s1", Type: pairing.EventOverdue, Due: mar(5, 18).UTC()},
		{Pairing: "p1", Issue: "s3", Type: pairing.EventClosedUnconfirmed, Due: mar(9, 12).UTC()},
		{Pairing: "p1", Issue: "s7", Type: pairing.EventOverdue, Due: mar(3, 18).UTC()},
	}
	if !equalJSON(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
	// Appending what SLADue asked for settles it.
	h.event("p1", "s1-o", "s1", pairing.EventOverdue, now, "system", pairing.RoleSystem)
	h.event("p1", "s3-u", "s3", pairing.EventClosedUnconfirmed, now, "system", pairing.RoleSystem)
	h.event("p1", "s7-o2", "s7", pairing.EventOverdue, now, "system", pairing.RoleSystem)
	refresh(t, h, l)
	if got := l.SLADue(now, confirm); len(got) != 0 {
		t.Errorf("after appending: got %+v, want none", got)
	}
	s3, _ := issueOf(t, l, "s3")
	if s3.State.Status != pairing.IssueClosedUnconfirmed {
		t.Errorf("s3: got status %s, want %s", s3.State.Status, pairing.IssueClosedUnconfirmed)
	}
}

func TestMonth(t *testing.T) {
	for _, tc := range []struct {
		at   time.Time
		want string
	}{
		{time.Date(2026, 2, 28, 15, 59, 59, 0, time.UTC), "2026-02"},
		{time.Date(2026, 2, 28, 16, 0, 0, 0, time.UTC), "2026-03"}, // 00:00 on 1 March in China
		{time.Date(2025, 12, 31, 16, 0, 0, 0, time.UTC), "2026-01"},
		{time.Date(2026, 12, 31, 23, 0, 0, 0, readmodel.China), "2026-12"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			m := readmodel.MonthOf(tc.at)
			if got := m.String(); got != tc.want {
				t.Errorf("MonthOf(%s): got %s, want %s", tc.at, got, tc.want)
			}
			p, err := readmodel.ParseMonth(tc.want)
			if err != nil || p != m {
				t.Errorf("ParseMonth(%s): got %v, %v, want %v", tc.want, p, err, m)
			}
			if s := m.Start(); readmodel.MonthOf(s) != m || readmodel.MonthOf(s.Add(-time.Nanosecond)) != m-1 {
				t.Errorf("Start of %s: got %s, not the month's first instant", m, s)
			}
		})
	}
	if _, err := readmodel.ParseMonth("2026-13"); err == nil {
		t.Error("ParseMonth(2026-13): got no error, want one")
	}
	b, _ := json.Marshal(readmodel.Figures{From: readmodel.Month(2026*12 + 2)})
	var back struct {
		From string `json:"from"`
	}
	if err := json.Unmarshal(b, &back); err != nil || back.From != "2026-03" {
		t.Errorf("Figures JSON from: got %q (%v), want 2026-03", back.From, err)
	}
}

func TestLedgerOverdueBuckets(t *testing.T) {
	h := newHarness(t)
	h.paths = map[string]string{"b1": "/r/b1/"}
	h.addPairings(testPairing{ID: "p1", Branches: []string{"b1"}, Counterparties: []string{"c1"}, Officers: []string{"o1"}})
	now := mar(31, 12)
	lates := []time.Duration{ // how long past due at now
		-time.Second, 0, // not overdue: due in the future, or due exactly now
		time.Second, 3 * 24 * time.Hour, // ≤ 3 days
		3*24*time.Hour + time.Second, 7 * 24 * time.Hour, // ≤ 7 days
		7*24*time.Hour + time.Second, 30 * 24 * time.Hour, // ≤ 30 days
		30*24*time.Hour + time.Second, // > 30 days
	}
	for i, late := range lates {
		id := fmt.Sprintf("s%d", i)
		at := now.Add(-late - 40*24*time.Hour)
		h.set("p1", pairing.CollIssues, id, at, "title", id, "category", "policy", "raised_by", "o1", "raised_at", at)
		h.event("p1", id+"-d", id, pairing.EventDispatched, at.Add(time.Hour), "a1", pairing.Admin, "handler", "o1", "due", now.Add(-late))
	}
	l := h.ledger(nil)
	refresh(t, h, l)
	march := readmodel.MonthOf(now)
	got := l.Figures([]string{"p1"}, march, march+1, now).Overdue
	want := readmodel.Overdue{Total: 7, Within3: 2, Within7: 2, Within30: 2, Over30Days: 1}
	if got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

func TestLedgerConcurrentUse(t *testing.T) {
	h, l := fixture(t)
	both := []string{"p1", "p2"}
	march := readmodel.MonthOf(mar(1, 0))
	done := make(chan struct{})
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				l.Figures(both, march, march+1, mar(25, 0))
				_, _ = l.Visits(h.ctx, both, readmodel.Filter{})
				l.Issues(both, readmodel.Filter{Now: mar(25, 0)})
				l.SLADue(mar(25, 0), nil)
				_ = l.Refresh(h.ctx) // concurrent refreshes take turns
			}
		})
	}
	for i := range 30 {
		h.set("p2", pairing.CollVisits, fmt.Sprintf("cv%02d", i), mar(27, 9), "officers", []string{"o3"}, "mode", "online", "visited_at", mar(27, 9))
		refresh(t, h, l)
	}
	close(done)
	wg.Wait()
	if got, want := l.Figures(both, march, march+1, mar(28, 0)).Visits, 32; got != want {
		t.Errorf("got %d visits in march, want %d", got, want)
	}
}

func TestLedgerRereadsAfterPurge(t *testing.T) {
	h, l := fixture(t)
	// v2 is deleted and its tombstone purged before the Ledger reads the
	// delete: only a read from 0 can tell that v2 is gone.
	h.del("p2", pairing.CollVisits, "v2", mar(26, 9))
	h.flush()
	key := storage.Key{Collection: pairing.CollVisits, ID: "v2"}
	if err := h.db.Purge(h.ctx, "p2", []storage.Record{{Key: key, Pairing: "p2", Seq: h.recs[key].seq}}); err != nil {
		t.Fatal(err)
	}
	h.counted.reset()
	refresh(t, h, l)
	pages, _ := h.counted.reset()
	_, v2 := visit(t, l, "v2")
	_, v3 := visit(t, l, "v3")
	march := readmodel.MonthOf(mar(1, 0))
	f := l.Figures([]string{"p2"}, march-1, march+1, mar(27, 0))
	for _, tc := range []struct {
		name      string
		got, want any
	}{
		{"v2 gone, v3 kept", []bool{v2, v3}, []bool{false, true}},
		{"p2 figures", []int{f.Visits, f.VisitsReturned, f.IssuesRaised}, []int{1, 0, 1}},
		{"only p2 read again", pages, map[string]int{"p2": 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !equalJSON(tc.got, tc.want) {
				t.Errorf("got %v, want %v", tc.got, tc.want)
			}
		})
	}
}

// visit reads a visit's summary, filled from storage.
func visit(tb testing.TB, l *readmodel.Ledger, id string) (readmodel.VisitSummary, bool) {
	tb.Helper()
	v, ok, err := l.Visit(context.Background(), id)
	if err != nil {
		tb.Fatal(err)
	}
	return v, ok
}

// mustVisits lists visits, filled from storage.
func mustVisits(tb testing.TB, l *readmodel.Ledger, pairings []string, f readmodel.Filter) []readmodel.VisitSummary {
	tb.Helper()
	vs, err := l.Visits(context.Background(), pairings, f)
	if err == nil {
		err = l.FillVisits(context.Background(), vs)
	}
	if err != nil {
		tb.Fatal(err)
	}
	return vs
}

// issue reads an issue's summary, with its events and whole state.
func issueOf(tb testing.TB, l *readmodel.Ledger, id string) (readmodel.IssueSummary, bool) {
	tb.Helper()
	is, ok, err := l.Issue(context.Background(), id)
	if err != nil {
		tb.Fatal(err)
	}
	return is, ok
}

// gatedRecords holds every Changes call until the gate opens.
type gatedRecords struct {
	storage.Records
	entered chan struct{}
	gate    chan struct{}
	once    sync.Once
}

func (g *gatedRecords) Changes(ctx context.Context, p string, after uint64, lim storage.PageLimit) (storage.Page, error) {
	g.once.Do(func() { close(g.entered) })
	<-g.gate
	return g.Records.Changes(ctx, p, after, lim)
}

// TestLedgerWarmingUp: while the first load runs longer than WarmWait,
// Refresh says so (the figures would miss records); once loaded, it waits
// for a refresh in progress as before.
func TestLedgerWarmingUp(t *testing.T) {
	h, _ := fixture(t)
	g := &gatedRecords{Records: h.db, entered: make(chan struct{}), gate: make(chan struct{})}
	l := readmodel.NewLedger(g, h.dir, nil)
	l.WarmWait = 50 * time.Millisecond
	loaded := make(chan error)
	go func() { loaded <- l.Load(h.ctx) }()
	<-g.entered
	if err := l.Refresh(h.ctx); !errors.Is(err, readmodel.ErrWarmingUp) || !errors.Is(err, storage.ErrUnavailable) {
		t.Errorf("during the load: got %v, want ErrWarmingUp (storage.ErrUnavailable)", err)
	}
	if l.Loaded() {
		t.Errorf("during the load: got loaded, want not yet")
	}
	close(g.gate)
	if err := <-loaded; err != nil {
		t.Fatal(err)
	}
	if err := l.Refresh(h.ctx); err != nil || !l.Loaded() {
		t.Errorf("after the load: got %v (loaded %v), want nil (loaded)", err, l.Loaded())
	}
	want := h.ledger(nil)
	refresh(t, h, want)
	all := []string{"p1", "p2"}
	m := readmodel.MonthOf(mar(1, 0))
	if got, w := l.Figures(all, m, m+1, mar(25, 0)), want.Figures(all, m, m+1, mar(25, 0)); !equalJSON(got, w) {
		t.Errorf("got %+v, want %+v", got, w)
	}
}

// TestLedgerWarmingUpShortLoad: a Refresh that arrives while a first load
// shorter than WarmWait runs waits for it and answers with the figures,
// not ErrWarmingUp (a small server's first photo uploads, made at once by
// several phones, were answered 503 "still loading"; TestLoad in fieldctl).
func TestLedgerWarmingUpShortLoad(t *testing.T) {
	h, _ := fixture(t)
	g := &gatedRecords{Records: h.db, entered: make(chan struct{}), gate: make(chan struct{})}
	l := readmodel.NewLedger(g, h.dir, nil)
	l.WarmWait = time.Minute
	loaded := make(chan error, 1)
	go func() { loaded <- l.Load(h.ctx) }()
	<-g.entered
	refreshed := make(chan error, 1)
	go func() { refreshed <- l.Refresh(h.ctx) }()
	select {
	case err := <-refreshed:
		t.Fatalf("during the load: Refresh returned %v before the load ended, want it to wait", err)
	case <-time.After(100 * time.Millisecond):
	}
	close(g.gate)
	if err := <-loaded; err != nil {
		t.Fatal(err)
	}
	if err := <-refreshed; err != nil || !l.Loaded() {
		t.Fatalf("after the load: Refresh got %v (loaded %v), want nil (loaded)", err, l.Loaded())
	}
	want := h.ledger(nil)
	refresh(t, h, want)
	all := []string{"p1", "p2"}
	m := readmodel.MonthOf(mar(1, 0))
	if got, w := l.Figures(all, m, m+1, mar(25, 0)), want.Figures(all, m, m+1, mar(25, 0)); !equalJSON(got, w) {
		t.Errorf("got %+v, want %+v", got, w)
	}
}
