package storagetest

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pairsync/pairsync/storage"
)

func (s suite) audit(t *testing.T) {
	t.Run("Append", s.auditAppend)
	t.Run("Filters", s.auditFilters)
	t.Run("Paging", s.auditPaging)
	t.Run("DefaultLimit", s.auditDefaultLimit)
	t.Run("ConcurrentAppend", s.auditConcurrentAppend)
}

// auditEvent returns an event; Object names it in the cases' renderings.
func auditEvent(tm time.Time, actor, action, orgPath string) storage.AuditEvent {
	return storage.AuditEvent{Time: tm, Actor: actor, Device: "dev-" + actor, IP: "192.0.2.7", Action: action,
		Object: "user:" + actor, Result: "ok", Detail: "detail", OrgPath: orgPath}
}

// briefEvents renders events as "actor action orgpath", newest first as
// returned.
func briefEvents(es []storage.AuditEvent) string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = fmt.Sprintf("%s %s %s", e.Actor, e.Action, e.OrgPath)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// objects renders events as their Objects, newest first as returned.
func objects(es []storage.AuditEvent) string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.Object
	}
	return strings.Join(parts, " ")
}

func mustAppend(t *testing.T, a storage.Audit, es ...storage.AuditEvent) {
	t.Helper()
	if err := a.AppendAudit(t.Context(), es...); err != nil {
		t.Fatalf("append %d audit events: got error %v, want none", len(es), err)
	}
}

func mustAuditLog(t *testing.T, a storage.Audit, q storage.AuditQuery) ([]storage.AuditEvent, bool) {
	t.Helper()
	es, more, err := a.AuditLog(t.Context(), q)
	if err != nil {
		t.Fatalf("audit log %+v: got error %v, want none", q, err)
	}
	for i := 1; i < len(es); i++ {
		if es[i].Seq >= es[i-1].Seq {
			t.Fatalf("audit log %+v: got seq %d after %d, want newest (highest seq) first", q, es[i].Seq, es[i-1].Seq)
		}
	}
	return es, more
}

func (s suite) auditAppend(t *testing.T) {
	a := s.open(t)
	es, more := mustAuditLog(t, a, storage.AuditQuery{})
	if len(es) != 0 || more {
		t.Fatalf("audit log of an empty store: got %s and more %v, want none", briefEvents(es), more)
	}
	full := storage.AuditEvent{Seq: 99, Time: t0, Actor: "u1", Device: "d1", IP: "2001:db8::1", Action: "login_failed",
		Object: "user:u1", Result: "denied", Detail: "wrong password", OrgPath: "/c1/d1/", Username: "zhang.wei"}
	first := []storage.AuditEvent{full, auditEvent(t0.Add(time.Second), "u2", "login", "/c1/"), auditEvent(t0, "u3", "login", "")}
	mustAppend(t, a, first...)
	equal(t, "caller's Seq after append", first[0].Seq, 99)
	mustAppend(t, a, auditEvent(t0.Add(-time.Hour), "u4", "logout", "/c2/")) // Seq orders, not Time
	mustAppend(t, a)                                                         // nothing
	before := time.Now().Add(-time.Second)
	stamped := auditEvent(time.Time{}, "u5", "denied", "/c2/")
	mustAppend(t, a, stamped)

	es, more = mustAuditLog(t, a, storage.AuditQuery{})
	equal(t, "events, newest first", briefEvents(es), "[u5 denied /c2/, u4 logout /c2/, u3 login , u2 login /c1/, u1 login_failed /c1/d1/]")
	equal(t, "more", more, false)
	if es[len(es)-1].Seq == 0 {
		t.Fatalf("first event: got Seq 0, want one set by the store")
	}
	want := full
	want.Seq = es[4].Seq
	got := es[4]
	got.Time = got.Time.UTC()
	want.Time = want.Time.UTC()
	equal(t, "stored event", got, want)
	if got := es[0].Time; got.Before(before) || got.After(time.Now().Add(time.Second)) {
		t.Fatalf("event with zero Time: got Time %v, want about now", got)
	}

	// An event without an action is refused, with the rest of its call.
	err := a.AppendAudit(t.Context(), auditEvent(t0, "u6", "login", ""), auditEvent(t0, "u7", "", ""))
	wantErr(t, "append an event without an action", err, storage.ErrInvalid)
	es, _ = mustAuditLog(t, a, storage.AuditQuery{Limit: 1})
	equal(t, "newest event after a refused append", briefEvents(es), "[u5 denied /c2/]")
}

// auditLog is the log of the filter and paging cases, oldest first; Object
// names each event.
func auditLog() []storage.AuditEvent {
	var es []storage.AuditEvent
	for i, e := range []struct{ actor, action, orgPath string }{
		{"alice", "login", "/c1/"},
		{"bob", "login", "/c1/d1/"},
		{"alice", "denied", "/c1/d1/b1/"},
		{"", "login_failed", ""},
		{"carol", "user_create", "/c2/"},
		{"alice", "login", "/c10/"},
		{"bob", "logout", "/c1/d1/"},
		{"alice", "user_create", "/c1/"},
		{"bob", "login", "/c2/d9/"},
		{"alice", "logout", "/c1/d1/b1/"},
	} {
		ev := auditEvent(t0.Add(time.Duration(i)*time.Minute), e.actor, e.action, e.orgPath)
		ev.Object = fmt.Sprintf("e%02d", i+1)
		es = append(es, ev)
	}
	return es
}

// fillAuditLog appends auditLog in three calls and returns each event's
// Seq by Object.
func fillAuditLog(t *testing.T, a storage.Audit) map[string]uint64 {
	t.Helper()
	es := auditLog()
	mustAppend(t, a, es[:3]...)
	mustAppend(t, a, es[3:7]...)
	mustAppend(t, a, es[7:]...)
	all, _ := mustAuditLog(t, a, storage.AuditQuery{})
	equal(t, "whole log", objects(all), "e10 e09 e08 e07 e06 e05 e04 e03 e02 e01")
	seqs := make(map[string]uint64)
	for _, e := range all {
		seqs[e.Object] = e.Seq
	}
	return seqs
}

func (s suite) auditFilters(t *testing.T) {
	a := s.open(t)
	seqs := fillAuditLog(t, a)
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	for _, tc := range []struct {
		name     string
		q        storage.AuditQuery
		before   string // Object of the event to continue below
		want     string
		wantMore bool
	}{
		{"all", storage.AuditQuery{}, "", "e10 e09 e08 e07 e06 e05 e04 e03 e02 e01", false},
		{"actor", storage.AuditQuery{Actor: "alice"}, "", "e10 e08 e06 e03 e01", false},
		{"actor unknown", storage.AuditQuery{Actor: "nobody"}, "", "", false},
		{"action", storage.AuditQuery{Action: "login"}, "", "e09 e06 e02 e01", false},
		{"action is exact", storage.AuditQuery{Action: "log"}, "", "", false},
		{"org subtree", storage.AuditQuery{OrgPath: "/c1/"}, "", "e10 e08 e07 e03 e02 e01", false},
		{"org deeper subtree", storage.AuditQuery{OrgPath: "/c1/d1/"}, "", "e10 e07 e03 e02", false},
		{"org prefix is a string prefix", storage.AuditQuery{OrgPath: "/c1"}, "", "e10 e08 e07 e06 e03 e02 e01", false},
		{"org unknown", storage.AuditQuery{OrgPath: "/c3/"}, "", "", false},
		{"actor and org", storage.AuditQuery{Actor: "alice", OrgPath: "/c1/"}, "", "e10 e08 e03 e01", false},
		{"actor and action", storage.AuditQuery{Actor: "bob", Action: "login"}, "", "e09 e02", false},
		{"since (inclusive)", storage.AuditQuery{Since: at(3)}, "", "e10 e09 e08 e07 e06 e05 e04", false},
		{"until (exclusive)", storage.AuditQuery{Until: at(3)}, "", "e03 e02 e01", false},
		{"since and until", storage.AuditQuery{Since: at(2), Until: at(5)}, "", "e05 e04 e03", false},
		{"since, other zone", storage.AuditQuery{Since: at(8).In(time.FixedZone("X", -5*3600))}, "", "e10 e09", false},
		{"limit", storage.AuditQuery{Limit: 3}, "", "e10 e09 e08", true},
		{"limit, exact", storage.AuditQuery{Limit: 10}, "", "e10 e09 e08 e07 e06 e05 e04 e03 e02 e01", false},
		{"limit over all", storage.AuditQuery{Limit: 11}, "", "e10 e09 e08 e07 e06 e05 e04 e03 e02 e01", false},
		{"actor, limit", storage.AuditQuery{Actor: "alice", Limit: 2}, "", "e10 e08", true},
		{"actor, exact limit", storage.AuditQuery{Actor: "alice", Limit: 5}, "", "e10 e08 e06 e03 e01", false},
		{"actor, limit with others after", storage.AuditQuery{Actor: "alice", Limit: 4}, "", "e10 e08 e06 e03", true},
		{"before", storage.AuditQuery{}, "e05", "e04 e03 e02 e01", false},
		{"before, limit", storage.AuditQuery{Limit: 2}, "e05", "e04 e03", true},
		{"before, actor", storage.AuditQuery{Actor: "alice"}, "e05", "e03 e01", false},
		{"before the first", storage.AuditQuery{}, "e01", "", false},
		{"before, org, limit", storage.AuditQuery{OrgPath: "/c1/", Limit: 2}, "e07", "e03 e02", true},
		{"everything", storage.AuditQuery{Actor: "alice", Action: "login", OrgPath: "/c1", Since: at(1), Until: at(9), Limit: 1}, "e10", "e06", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := tc.q
			if tc.before != "" {
				q.Before = seqs[tc.before]
			}
			es, more := mustAuditLog(t, a, q)
			equal(t, "events", objects(es), tc.want)
			equal(t, "more", more, tc.wantMore)
		})
	}
	t.Run("before beyond the newest", func(t *testing.T) {
		es, more := mustAuditLog(t, a, storage.AuditQuery{Before: seqs["e10"] + 1000})
		equal(t, "events", objects(es), "e10 e09 e08 e07 e06 e05 e04 e03 e02 e01")
		equal(t, "more", more, false)
	})
}

// auditPaging walks the log page by page, continuing below the last Seq of
// each page, and checks the walk returns what one big page does.
func (s suite) auditPaging(t *testing.T) {
	a := s.open(t)
	fillAuditLog(t, a)
	for _, q := range []storage.AuditQuery{
		{}, {Actor: "alice"}, {OrgPath: "/c1/"}, {Action: "login"}, {Since: t0.Add(4 * time.Minute)}, {Actor: "nobody"},
	} {
		whole, _ := mustAuditLog(t, a, q)
		for limit := 1; limit <= 4; limit++ {
			t.Run(fmt.Sprintf("%+v limit %d", q, limit), func(t *testing.T) {
				page := q
				page.Limit = limit
				var walked []storage.AuditEvent
				for pages := 1; ; pages++ {
					if pages > 20 {
						t.Fatalf("walk: got more than 20 pages of at most %d events, want it to end", limit)
					}
					es, more := mustAuditLog(t, a, page)
					if len(es) > limit {
						t.Fatalf("page %d: got %d events, want at most %d", pages, len(es), limit)
					}
					if more && len(es) != limit {
						t.Fatalf("page %d: got %d events and more, want full pages (%d) before the last", pages, len(es), limit)
					}
					walked = append(walked, es...)
					if !more {
						break
					}
					page.Before = es[len(es)-1].Seq
				}
				equal(t, "events walked", objects(walked), objects(whole))
			})
		}
	}
}

func (s suite) auditDefaultLimit(t *testing.T) {
	a := s.open(t)
	var es []storage.AuditEvent
	for i := range 101 {
		e := auditEvent(t0, "u", "login", "")
		e.Object = fmt.Sprintf("e%03d", i)
		es = append(es, e)
	}
	mustAppend(t, a, es...)
	got, more := mustAuditLog(t, a, storage.AuditQuery{})
	if len(got) != 100 || !more || got[0].Object != "e100" || got[99].Object != "e001" {
		t.Fatalf("audit log with Limit 0: got %d events (%s … %s) and more %v, want 100 (e100 … e001) and more",
			len(got), got[0].Object, got[len(got)-1].Object, more)
	}
}

// auditConcurrentAppend appends from several goroutines at once: every
// event is stored with its own Seq, and each goroutine's events are in
// the order it appended them.
func (s suite) auditConcurrentAppend(t *testing.T) {
	s.needConcurrency(t)
	a := s.open(t)
	const writers, each = 8, 10
	errs := make(chan error, writers)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				e := auditEvent(t0, fmt.Sprint("w", w), "login", "")
				e.Object = fmt.Sprintf("w%d-%02d", w, i)
				if err := a.AppendAudit(t.Context(), e); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("append: got error %v, want none", err)
	}
	all, more := mustAuditLog(t, a, storage.AuditQuery{Limit: writers * each})
	equal(t, "more", more, false)
	equal(t, "events", len(all), writers*each)
	for w := range writers {
		es, _ := mustAuditLog(t, a, storage.AuditQuery{Actor: fmt.Sprint("w", w)})
		var want []string
		for i := each - 1; i >= 0; i-- {
			want = append(want, fmt.Sprintf("w%d-%02d", w, i))
		}
		equal(t, fmt.Sprint("events of writer ", w), objects(es), strings.Join(want, " "))
	}
}
