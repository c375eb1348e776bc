package storagetest

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/pairsync/pairsync/storage"
)

func (s suite) notifications(t *testing.T) {
	t.Run("CommitAtomic", s.notificationsCommitAtomic)
	t.Run("DuplicateIDs", s.notificationsDuplicateIDs)
	t.Run("Invalid", s.notificationsInvalid)
	t.Run("ClaimLeaseFinish", s.notificationsClaimLeaseFinish)
	t.Run("List", s.notificationsList)
	t.Run("ConcurrentClaim", s.notificationsConcurrentClaim)
	t.Run("DeferRead", s.notificationsDeferRead)
	t.Run("ClaimOneRelease", s.notificationsClaimOneRelease)
}

// notificationsClaimOneRelease: one notification is claimed by id while it
// is pending, due and free (or already the claimer's); a holder's leases
// are released at once, and no other holder's.
func (s suite) notificationsClaimOneRelease(t *testing.T) {
	st := s.open(t)
	later := note("n3", t0)
	mustCommit(t, st, storage.Batch{Notifications: []storage.Notification{note("n1", t0), note("n2", t0), later}})
	_, err := st.ClaimNotification(t.Context(), "nope", "a", t0, time.Minute)
	wantErr(t, "claim an unknown notification", err, storage.ErrNotFound)
	_, err = st.ClaimNotification(t.Context(), "n1", "", t0, time.Minute)
	wantErr(t, "claim without a holder", err, storage.ErrInvalid)
	_, err = st.ClaimNotification(t.Context(), "n1", "a", t0.Add(-time.Second), time.Minute)
	wantErr(t, "claim one not due yet", err, storage.ErrConflict)
	n, err := st.ClaimNotification(t.Context(), "n1", "a", t0, time.Minute)
	if err != nil || n.ID != "n1" || n.LeaseHolder != "a" || !n.LeaseUntil.Equal(t0.Add(time.Minute)) {
		t.Fatalf("claim n1: got %+v, %v; want it leased to a until t0+1m", n, err)
	}
	if _, err := st.ClaimNotification(t.Context(), "n1", "a", t0, 2*time.Minute); err != nil {
		t.Fatalf("claim n1 again by its holder: got %v, want none", err)
	}
	_, err = st.ClaimNotification(t.Context(), "n1", "b", t0, time.Minute)
	wantErr(t, "claim another's leased notification", err, storage.ErrConflict)
	if got := mustClaim(t, st, "b", t0, time.Hour, 10); !slices.Equal(got, []string{"n2", "n3"}) {
		t.Fatalf("b claims: got %v, want [n2 n3]", got)
	}
	if err := st.FinishNotification(t.Context(), "n3", "b", storage.NotificationOutcome{State: storage.NotificationSent, At: t0}); err != nil {
		t.Fatal(err)
	}
	_, err = st.ClaimNotification(t.Context(), "n3", "b", t0, time.Minute)
	wantErr(t, "claim a sent notification", err, storage.ErrConflict)

	_, err = st.ReleaseNotifications(t.Context(), "")
	wantErr(t, "release without a holder", err, storage.ErrInvalid)
	if k, err := st.ReleaseNotifications(t.Context(), "b"); err != nil || k != 1 {
		t.Fatalf("release b's: got %d, %v; want 1 (n2; n3 is sent)", k, err)
	}
	if n := mustNotification(t, st, "n2"); n.LeaseHolder != "" || !n.LeaseUntil.IsZero() || n.State != storage.NotificationPending {
		t.Fatalf("n2 released: got holder %q until %v state %s, want none, zero, pending", n.LeaseHolder, n.LeaseUntil, n.State)
	}
	if n := mustNotification(t, st, "n1"); n.LeaseHolder != "a" {
		t.Fatalf("n1 after releasing b's: got holder %q, want still a", n.LeaseHolder)
	}
	if got := mustClaim(t, st, "c", t0, time.Minute, 10); !slices.Equal(got, []string{"n2"}) {
		t.Fatalf("c claims right after the release: got %v, want [n2]", got)
	}
}

// note returns a notification with id to recipient "u1" on the webhook.
func note(id string, created time.Time) storage.Notification {
	return storage.Notification{ID: id, Channel: "webhook", Event: "issue_dispatched", Cause: "issue_events/" + id,
		Subject: "issues/i1", Recipient: "u1", RecipientName: "王芳", Pairing: "p1", OrgPaths: []string{"/root/b1/"},
		Lang: "zh", Text: "text " + id, Link: "https://app.example/issues/i1", CreatedAt: created}
}

func mustNotification(t *testing.T, s storage.Store, id string) storage.Notification {
	t.Helper()
	n, err := s.Notification(t.Context(), id)
	if err != nil {
		t.Fatalf("notification %s: got error %v, want none", id, err)
	}
	return n
}

func mustClaim(t *testing.T, s storage.Store, holder string, now time.Time, lease time.Duration, limit int) []string {
	t.Helper()
	ns, err := s.ClaimNotifications(t.Context(), holder, now, lease, limit)
	if err != nil {
		t.Fatalf("%s claims at %v: got error %v, want none", holder, now, err)
	}
	ids := make([]string, len(ns))
	for i, n := range ns {
		if n.LeaseHolder != holder {
			t.Fatalf("%s claims %s: got lease holder %q, want %q", holder, n.ID, n.LeaseHolder, holder)
		}
		ids[i] = n.ID
	}
	return ids
}

// notificationsCommitAtomic: a notification is stored, pending, with the
// batch that carries it, and not at all when the batch fails.
func (s suite) notificationsCommitAtomic(t *testing.T) {
	st := s.open(t)
	mustCommit(t, st, storage.Batch{Pairing: "p1", Puts: []storage.Put{put("v1", 0, "a")}, Notifications: []storage.Notification{note("n1", t0)}})
	n := mustNotification(t, st, "n1")
	if n.State != storage.NotificationPending || !n.NextAt.Equal(t0) || !n.CreatedAt.Equal(t0) || n.Text != "text n1" ||
		n.RecipientName != "王芳" || !slices.Equal(n.OrgPaths, []string{"/root/b1/"}) || n.Attempts != 0 {
		t.Fatalf("stored notification: got %+v, want pending, due at its creation %v, as written", n, t0)
	}
	// A conflicting batch (expect 0 on an existing record) writes neither
	// its puts nor its notifications.
	_, err := st.Commit(t.Context(), storage.Batch{Pairing: "p1", Puts: []storage.Put{put("v1", 0, "b")}, Notifications: []storage.Notification{note("n2", t0)}})
	wantErr(t, "conflicting batch", err, storage.ErrConflict)
	_, err = st.Notification(t.Context(), "n2")
	wantErr(t, "notification of the refused batch", err, storage.ErrNotFound)
	// A receipt that exists fails the batch too.
	mustCommit(t, st, storage.Batch{Receipts: []storage.Receipt{{Replica: "r", Counter: 1, Answer: []byte("x")}}})
	_, err = st.Commit(t.Context(), storage.Batch{Pairing: "p1", Receipts: []storage.Receipt{{Replica: "r", Counter: 1}}, Notifications: []storage.Notification{note("n3", t0)}})
	wantErr(t, "batch with a duplicate receipt", err, storage.ErrConflict)
	_, err = st.Notification(t.Context(), "n3")
	wantErr(t, "notification of the refused receipt batch", err, storage.ErrNotFound)
	// A batch of notifications only commits them.
	mustCommit(t, st, storage.Batch{Notifications: []storage.Notification{note("n4", t0)}})
	mustNotification(t, st, "n4")
}

// notificationsDuplicateIDs: an id already stored, or earlier in the
// batch, is left as it is, and the batch commits.
func (s suite) notificationsDuplicateIDs(t *testing.T) {
	st := s.open(t)
	mustCommit(t, st, storage.Batch{Pairing: "p1", Puts: []storage.Put{put("v1", 0, "a")}, Notifications: []storage.Notification{note("n1", t0)}})
	if got := mustClaim(t, st, "a", t0, time.Minute, 10); !slices.Equal(got, []string{"n1"}) {
		t.Fatalf("claim: got %v, want [n1]", got)
	}
	if err := st.FinishNotification(t.Context(), "n1", "a", storage.NotificationOutcome{State: storage.NotificationSent, Answer: "200", At: t0}); err != nil {
		t.Fatalf("finish n1: got error %v, want none", err)
	}
	again := note("n1", t0.Add(time.Hour))
	again.Text = "replayed"
	second := note("n2", t0)
	second2 := second
	second2.Text = "second copy"
	c := mustCommit(t, st, storage.Batch{Pairing: "p1", Puts: []storage.Put{put("v2", 0, "b")}, Notifications: []storage.Notification{again, second, second2}})
	if len(c.Seqs) != 1 {
		t.Fatalf("batch with duplicate notifications: got seqs %v, want one put committed", c.Seqs)
	}
	n1 := mustNotification(t, st, "n1")
	if n1.State != storage.NotificationSent || n1.Text != "text n1" || !n1.CreatedAt.Equal(t0) {
		t.Fatalf("n1 after a replay: got state %s text %q created %v, want sent, %q, %v (left as it was)", n1.State, n1.Text, n1.CreatedAt, "text n1", t0)
	}
	if n2 := mustNotification(t, st, "n2"); n2.Text != "text n2" {
		t.Fatalf("n2 twice in one batch: got text %q, want the first's %q", n2.Text, "text n2")
	}
	all, _, err := st.ListNotifications(t.Context(), storage.NotificationQuery{})
	if err != nil || len(all) != 2 {
		t.Fatalf("list: got %d notifications, error %v; want 2, none", len(all), err)
	}
}

// notificationsInvalid: a notification without id, channel or recipient
// is storage.ErrInvalid and the batch writes nothing.
func (s suite) notificationsInvalid(t *testing.T) {
	st := s.open(t)
	for _, tc := range []struct {
		name string
		edit func(*storage.Notification)
	}{
		{"empty id", func(n *storage.Notification) { n.ID = "" }},
		{"empty channel", func(n *storage.Notification) { n.Channel = "" }},
		{"empty recipient", func(n *storage.Notification) { n.Recipient = "" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := note("bad", t0)
			tc.edit(&n)
			_, err := st.Commit(t.Context(), storage.Batch{Pairing: "p1", Puts: []storage.Put{put("v-"+tc.name, 0, "a")}, Notifications: []storage.Notification{n}})
			wantErr(t, tc.name, err, storage.ErrInvalid)
			if h := mustHead(t, st, "p1"); h != 0 {
				t.Fatalf("head after an invalid batch: got %d, want 0", h)
			}
		})
	}
	_, err := st.ClaimNotifications(t.Context(), "", t0, time.Minute, 1)
	wantErr(t, "claim with an empty holder", err, storage.ErrInvalid)
	_, err = st.ClaimNotifications(t.Context(), "a", t0, 0, 1)
	wantErr(t, "claim with a zero lease", err, storage.ErrInvalid)
	err = st.FinishNotification(t.Context(), "nope", "a", storage.NotificationOutcome{State: storage.NotificationSent, At: t0})
	wantErr(t, "finish an unknown notification", err, storage.ErrNotFound)
	_, err = st.ResendNotification(t.Context(), "nope", t0)
	wantErr(t, "resend an unknown notification", err, storage.ErrNotFound)
}

// notificationsClaimLeaseFinish walks one notification through claims,
// lease expiry, a retry, delivery and a resend.
func (s suite) notificationsClaimLeaseFinish(t *testing.T) {
	st := s.open(t)
	later := note("later", t0)
	later.NextAt = t0.Add(time.Hour)
	mustCommit(t, st, storage.Batch{Notifications: []storage.Notification{note("n1", t0), later}})

	if got := mustClaim(t, st, "a", t0.Add(-time.Second), time.Minute, 10); len(got) != 0 {
		t.Fatalf("claim before anything is due: got %v, want none", got)
	}
	if got := mustClaim(t, st, "a", t0, time.Minute, 10); !slices.Equal(got, []string{"n1"}) {
		t.Fatalf("a claims at t0: got %v, want [n1] (later is due in an hour)", got)
	}
	if got := mustClaim(t, st, "b", t0.Add(59*time.Second), time.Minute, 10); len(got) != 0 {
		t.Fatalf("b claims while a's lease runs: got %v, want none", got)
	}
	// a's lease expires: b takes over; a can no longer finish.
	if got := mustClaim(t, st, "b", t0.Add(time.Minute), time.Minute, 10); !slices.Equal(got, []string{"n1"}) {
		t.Fatalf("b claims when a's lease expired: got %v, want [n1]", got)
	}
	err := st.FinishNotification(t.Context(), "n1", "a", storage.NotificationOutcome{State: storage.NotificationSent, At: t0.Add(time.Minute)})
	wantErr(t, "a finishes after losing its lease", err, storage.ErrConflict)
	err = st.FinishNotification(t.Context(), "n1", "b", storage.NotificationOutcome{State: "bogus", At: t0})
	wantErr(t, "finish with an unknown state", err, storage.ErrInvalid)

	// b's attempt fails: retry in 10 s.
	retry := t0.Add(time.Minute + 10*time.Second)
	if err := st.FinishNotification(t.Context(), "n1", "b", storage.NotificationOutcome{State: storage.NotificationPending, Answer: "HTTP 500", At: t0.Add(time.Minute), NextAt: retry}); err != nil {
		t.Fatalf("b retries n1: got error %v, want none", err)
	}
	n := mustNotification(t, st, "n1")
	if n.State != storage.NotificationPending || n.Attempts != 1 || n.Answer != "HTTP 500" || !n.NextAt.Equal(retry) || n.LeaseHolder != "" {
		t.Fatalf("after a failed attempt: got state %s attempts %d answer %q next %v holder %q; want pending, 1, HTTP 500, %v, none",
			n.State, n.Attempts, n.Answer, n.NextAt, n.LeaseHolder, retry)
	}
	if got := mustClaim(t, st, "a", retry.Add(-time.Millisecond), time.Minute, 10); len(got) != 0 {
		t.Fatalf("claim before the retry is due: got %v, want none", got)
	}
	if got := mustClaim(t, st, "a", retry, time.Minute, 10); !slices.Equal(got, []string{"n1"}) {
		t.Fatalf("claim when the retry is due: got %v, want [n1]", got)
	}
	if err := st.FinishNotification(t.Context(), "n1", "a", storage.NotificationOutcome{State: storage.NotificationSent, Answer: "HTTP 200", At: retry}); err != nil {
		t.Fatalf("a delivers n1: got error %v, want none", err)
	}
	n = mustNotification(t, st, "n1")
	if n.State != storage.NotificationSent || n.Attempts != 2 || n.Answer != "HTTP 200" || !n.DoneAt.Equal(retry) {
		t.Fatalf("after delivery: got state %s attempts %d answer %q done %v; want sent, 2, HTTP 200, %v", n.State, n.Attempts, n.Answer, n.DoneAt, retry)
	}
	err = st.FinishNotification(t.Context(), "n1", "a", storage.NotificationOutcome{State: storage.NotificationSent, At: retry})
	wantErr(t, "finish a sent notification", err, storage.ErrConflict)
	if got := mustClaim(t, st, "a", t0.Add(2*time.Hour), time.Minute, 10); !slices.Equal(got, []string{"later"}) {
		t.Fatalf("claim two hours on: got %v, want [later] (n1 is sent)", got)
	}
	if err := st.FinishNotification(t.Context(), "later", "a", storage.NotificationOutcome{State: storage.NotificationSent, At: t0.Add(2 * time.Hour)}); err != nil {
		t.Fatalf("a delivers later: got error %v, want none", err)
	}

	// A resend makes it pending again, in a new round.
	at := t0.Add(3 * time.Hour)
	r, err := st.ResendNotification(t.Context(), "n1", at)
	if err != nil {
		t.Fatalf("resend n1: got error %v, want none", err)
	}
	if r.State != storage.NotificationPending || r.Attempts != 0 || !r.Since.Equal(at) || !r.NextAt.Equal(at) || r.Answer != "HTTP 200" {
		t.Fatalf("resent: got state %s attempts %d since %v next %v answer %q; want pending, 0, %v, %v, the last answer kept",
			r.State, r.Attempts, r.Since, r.NextAt, r.Answer, at, at)
	}
	if got := mustClaim(t, st, "b", at, time.Minute, 10); !slices.Equal(got, []string{"n1"}) {
		t.Fatalf("claim after the resend: got %v, want [n1]", got)
	}
	if err := st.FinishNotification(t.Context(), "n1", "b", storage.NotificationOutcome{State: storage.NotificationFailed, Answer: "HTTP 404", At: at}); err != nil {
		t.Fatalf("b gives n1 up: got error %v, want none", err)
	}
	if n := mustNotification(t, st, "n1"); n.State != storage.NotificationFailed || n.Answer != "HTTP 404" {
		t.Fatalf("after giving up: got state %s answer %q, want failed, HTTP 404", n.State, n.Answer)
	}
}

// notificationsList: by org subtree and state, newest first, in pages.
func (s suite) notificationsList(t *testing.T) {
	st := s.open(t)
	var ns []storage.Notification
	for i := range 5 {
		n := note(fmt.Sprintf("n%d", i), t0.Add(time.Duration(i)*time.Minute))
		if i%2 == 1 {
			n.OrgPaths = []string{"/root/b2/", "/root/b3/"}
		}
		ns = append(ns, n)
	}
	mustCommit(t, st, storage.Batch{Notifications: ns})
	if got := mustClaim(t, st, "a", t0.Add(time.Hour), time.Minute, 1); len(got) != 1 {
		t.Fatalf("claim one: got %v", got)
	}
	if err := st.FinishNotification(t.Context(), "n0", "a", storage.NotificationOutcome{State: storage.NotificationFailed, Answer: "gone", At: t0}); err != nil {
		t.Fatalf("fail n0: got error %v, want none", err)
	}
	ids := func(q storage.NotificationQuery) ([]string, bool) {
		t.Helper()
		got, more, err := st.ListNotifications(t.Context(), q)
		if err != nil {
			t.Fatalf("list %+v: got error %v, want none", q, err)
		}
		out := make([]string, len(got))
		for i, n := range got {
			out[i] = n.ID
		}
		return out, more
	}
	for _, tc := range []struct {
		q    storage.NotificationQuery
		want []string
		more bool
	}{
		{storage.NotificationQuery{}, []string{"n4", "n3", "n2", "n1", "n0"}, false},
		{storage.NotificationQuery{Limit: 2}, []string{"n4", "n3"}, true},
		{storage.NotificationQuery{Limit: 2, Offset: 2}, []string{"n2", "n1"}, true},
		{storage.NotificationQuery{Limit: 2, Offset: 4}, []string{"n0"}, false},
		{storage.NotificationQuery{OrgPath: "/root/b1/"}, []string{"n4", "n2", "n0"}, false},
		{storage.NotificationQuery{OrgPath: "/root/b3/"}, []string{"n3", "n1"}, false},
		{storage.NotificationQuery{OrgPath: "/root/"}, []string{"n4", "n3", "n2", "n1", "n0"}, false},
		{storage.NotificationQuery{OrgPath: "/other/"}, []string{}, false},
		{storage.NotificationQuery{State: storage.NotificationFailed}, []string{"n0"}, false},
		{storage.NotificationQuery{State: storage.NotificationPending, OrgPath: "/root/b1/"}, []string{"n4", "n2"}, false},
	} {
		got, more := ids(tc.q)
		if !slices.Equal(got, tc.want) || more != tc.more {
			t.Errorf("list %+v: got %v more %v, want %v more %v", tc.q, got, more, tc.want, tc.more)
		}
	}
}

// notificationsConcurrentClaim: claimers racing over the same due
// notifications each get distinct ones, and together all of them.
func (s suite) notificationsConcurrentClaim(t *testing.T) {
	s.needConcurrency(t)
	st := s.open(t)
	const total, claimers = 40, 8
	var ns []storage.Notification
	for i := range total {
		ns = append(ns, note(fmt.Sprintf("n%02d", i), t0))
	}
	mustCommit(t, st, storage.Batch{Notifications: ns})
	var (
		mu  sync.Mutex
		got = map[string]string{}
		wg  sync.WaitGroup
	)
	for c := range claimers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			holder := fmt.Sprintf("h%d", c)
			for range total { // bounded: a store that hands out leased ones again fails, not hangs
				claimed, err := st.ClaimNotifications(t.Context(), holder, t0.Add(time.Second), time.Hour, 3)
				if err != nil {
					t.Errorf("%s claims: got error %v, want none", holder, err)
					return
				}
				if len(claimed) == 0 {
					return
				}
				mu.Lock()
				for _, n := range claimed {
					if prev, ok := got[n.ID]; ok {
						t.Errorf("%s claimed by %s and %s while the lease runs", n.ID, prev, holder)
					}
					got[n.ID] = holder
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(got) != total {
		t.Fatalf("claimed: got %d notifications, want %d", len(got), total)
	}
}

// notificationsDeferRead: a deferral moves a claimed notification on
// without an attempt (and its round with it while none was made); a
// recipient reads their own notification once, never another's; lists
// keep one recipient's, one channel's, the unread, the recently done.
func (s suite) notificationsDeferRead(t *testing.T) {
	st := s.open(t)
	other := note("n2", t0.Add(time.Minute))
	other.Recipient, other.Channel = "u2", "inapp"
	mine := note("n3", t0.Add(2*time.Minute))
	mine.Channel = "inapp"
	mustCommit(t, st, storage.Batch{Notifications: []storage.Notification{note("n1", t0), other, mine}})

	err := st.DeferNotification(t.Context(), "n1", "a", t0.Add(time.Hour), "quiet")
	wantErr(t, "defer an unclaimed notification", err, storage.ErrConflict)
	err = st.DeferNotification(t.Context(), "nope", "a", t0.Add(time.Hour), "quiet")
	wantErr(t, "defer an unknown notification", err, storage.ErrNotFound)
	if got := mustClaim(t, st, "a", t0, time.Minute, 1); !slices.Equal(got, []string{"n1"}) {
		t.Fatalf("claim at t0: got %v, want [n1]", got)
	}
	until := t0.Add(9 * time.Hour)
	if err := st.DeferNotification(t.Context(), "n1", "a", until, "quiet hours"); err != nil {
		t.Fatalf("defer n1: got error %v, want none", err)
	}
	n := mustNotification(t, st, "n1")
	if n.State != storage.NotificationPending || n.Attempts != 0 || !n.NextAt.Equal(until) || !n.Since.Equal(until) || n.Answer != "quiet hours" || n.LeaseHolder != "" {
		t.Fatalf("deferred: got state %s attempts %d next %v since %v answer %q holder %q; want pending, 0, %v, %v, quiet hours, none",
			n.State, n.Attempts, n.NextAt, n.Since, n.Answer, n.LeaseHolder, until, until)
	}
	if got := mustClaim(t, st, "a", until.Add(-time.Millisecond), time.Minute, 10); slices.Contains(got, "n1") {
		t.Fatalf("claim before the deferral ends: got %v, want no n1", got)
	}
	if got := mustClaim(t, st, "b", until, time.Minute, 10); !slices.Contains(got, "n1") {
		t.Fatalf("claim when the deferral ends: got %v, want n1", got)
	}
	// After an attempt, a deferral keeps the round's start.
	if err := st.FinishNotification(t.Context(), "n1", "b", storage.NotificationOutcome{State: storage.NotificationPending, Answer: "HTTP 500", At: until, NextAt: until}); err != nil {
		t.Fatal(err)
	}
	mustClaim(t, st, "b", until, time.Minute, 10)
	if err := st.DeferNotification(t.Context(), "n1", "b", until.Add(time.Hour), "limit"); err != nil {
		t.Fatalf("defer after an attempt: got error %v, want none", err)
	}
	if n := mustNotification(t, st, "n1"); n.Attempts != 1 || !n.Since.Equal(until) || !n.NextAt.Equal(until.Add(time.Hour)) {
		t.Fatalf("deferred after an attempt: got attempts %d since %v next %v, want 1, %v, %v", n.Attempts, n.Since, n.NextAt, until, until.Add(time.Hour))
	}
	// a claimed n2 and n3 (due long before) in its claim before the deferral ended.
	if err := st.FinishNotification(t.Context(), "n2", "a", storage.NotificationOutcome{State: storage.NotificationSent, At: until, Robot: "robot-1"}); err != nil {
		t.Fatal(err)
	}
	if n := mustNotification(t, st, "n2"); n.Robot != "robot-1" {
		t.Fatalf("n2 sent by robot-1: got robot %q, want robot-1 (the robots' limit counts by it)", n.Robot)
	}

	_, err = st.ReadNotification(t.Context(), "n2", "u1", t0)
	wantErr(t, "read another recipient's notification", err, storage.ErrNotFound)
	_, err = st.ReadNotification(t.Context(), "nope", "u1", t0)
	wantErr(t, "read an unknown notification", err, storage.ErrNotFound)
	read := t0.Add(3 * time.Minute)
	r, err := st.ReadNotification(t.Context(), "n3", "u1", read)
	if err != nil || !r.ReadAt.Equal(read) {
		t.Fatalf("read n3: got read at %v, error %v; want %v, none", r.ReadAt, err, read)
	}
	if r, _ := st.ReadNotification(t.Context(), "n3", "u1", read.Add(time.Hour)); !r.ReadAt.Equal(read) {
		t.Fatalf("read n3 again: got read at %v, want the first time %v", r.ReadAt, read)
	}
	if n := mustNotification(t, st, "n2"); !n.ReadAt.IsZero() {
		t.Fatalf("n2 after n3 was read: got read at %v, want unread", n.ReadAt)
	}

	for _, tc := range []struct {
		q    storage.NotificationQuery
		want []string
	}{
		{storage.NotificationQuery{Recipient: "u1"}, []string{"n3", "n1"}},
		{storage.NotificationQuery{Channel: "inapp"}, []string{"n3", "n2"}},
		{storage.NotificationQuery{Recipient: "u1", Channel: "inapp"}, []string{"n3"}},
		{storage.NotificationQuery{Unread: true}, []string{"n2", "n1"}},
		{storage.NotificationQuery{Recipient: "u1", Channel: "inapp", Unread: true}, []string{}},
		{storage.NotificationQuery{DoneSince: until}, []string{"n2"}},
		{storage.NotificationQuery{DoneSince: until.Add(time.Millisecond)}, []string{}},
		{storage.NotificationQuery{Robot: "robot-1"}, []string{"n2"}},
		{storage.NotificationQuery{Robot: "robot-2"}, []string{}},
	} {
		got, _, err := st.ListNotifications(t.Context(), tc.q)
		if err != nil {
			t.Fatalf("list %+v: %v", tc.q, err)
		}
		ids := []string{}
		for _, n := range got {
			ids = append(ids, n.ID)
		}
		if !slices.Equal(ids, tc.want) {
			t.Errorf("list %+v: got %v, want %v", tc.q, ids, tc.want)
		}
	}
}
