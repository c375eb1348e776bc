package readmodel

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pairsync/pairsync/server/pairing"
	"github.com/pairsync/pairsync/storage"
	"github.com/pairsync/pairsync/syncproto"
)

// Ledger holds every pairing's records as summaries, and the KPIs (see
// Figures) maintained as changes commit. It tails each pairing's changes
// feed after its own watermark, as Directory tails the directory scope:
// every process that runs one converges on the same figures, and no
// dashboard request ever scans records.
//
// For each live record the Ledger keeps what its contribution to the
// per-(pairing, month) counters, the lists' filters and their order are
// computed from, compactly (a million records fit in about 220 bytes each):
// when a record changes or is deleted, its old contribution is computed
// again and subtracted, and the new one added. Visits keep a 48-byte entry
// (visits.go; lists read the rest of a page from storage, FillVisits); an
// issue keeps its fields and derived state but not its events, which are
// read from storage when the issue or one of its events changes and its
// state is derived again (DeriveIssue), and for Issue. Records are read
// from their feeds by skimming the stored JSON for the fields the Ledger
// keeps (syncproto.Skim; skim.go, visits.go), each in full only when it is not as Encode writes it. The issue record is itself the raise: a raised event built
// from it (At raised_at, ReceivedAt received_at, By raised_by, Role officer,
// Order the HLC and dot of its raised_at field) precedes the issue's events.
// (Role officer, whoever raised it: DeriveIssue refuses a raise of role "",
// and every role that may raise an issue gives the same state.)
//
// Safe for concurrent use: readers share a read lock; one Refresh runs at a
// time and applies each page of changes under the write lock. Every summary
// returned is a copy the caller may keep and change.
type Ledger struct {
	records storage.Records
	dir     *pairing.Directory
	rules   func(p pairing.Pairing, category string) pairing.IssueRules

	// WarmWait is how long Refresh waits for the first load before it
	// answers ErrWarmingUp (DefaultWarmWait unless changed before use): a
	// small store loads in less, so its callers never see the refusal; a
	// province's restart takes longer, and its callers are told to come
	// back rather than held.
	WarmWait time.Duration

	// One refresh pass at a time, shared (share): running is the pass in
	// progress, next the one every caller arriving meanwhile waits for.
	passMu        sync.Mutex
	running, next *pass
	waiters       int         // callers waiting for next (tests)
	loaded        atomic.Bool // a Refresh has completed: the figures hold every record
	// Read and written by the running pass only: the heads feed's cursor
	// (storage.HeadFeed), and the heads it listed of scopes the directory
	// does not know (yet), by scope.
	stamp   uint64
	outside map[string]uint64

	mu    sync.RWMutex
	books map[string]*book // pairing id → its part
	// issue and project id → pairing (keys and values shared with books)
	whereIssue, whereProject map[string]string
	syms                     *symbols
	// stored holds the photos whose receipts (PhotoScope) say stored;
	// photoSeq is the watermark of that feed.
	stored   map[[32]byte]struct{}
	photoSeq uint64
	// granted holds, per photo, the pairings whose citations of it give
	// access to its bytes (PhotoGrant records in PhotoScope).
	granted map[[32]byte]map[string]struct{}
}

// NewLedger returns an empty Ledger; call Refresh (after dir.Refresh) to
// load it. rules gives the IssueRules of an issue of a category in a
// pairing (the server derives them from the org unit's SLA days); nil means
// the defaults. rules is called with the Ledger's lock held: it must not
// call the Ledger.
func NewLedger(records storage.Records, dir *pairing.Directory, rules func(p pairing.Pairing, category string) pairing.IssueRules) *Ledger {
	return &Ledger{records: records, dir: dir, rules: rules, books: map[string]*book{}, whereIssue: map[string]string{}, whereProject: map[string]string{},
		syms: newSymbols(), stored: map[[32]byte]struct{}{}, granted: map[[32]byte]map[string]struct{}{}, outside: map[string]uint64{},
		WarmWait: DefaultWarmWait}
}

// DefaultWarmWait is Ledger.WarmWait's default.
const DefaultWarmWait = 3 * time.Second

// VisitSummary is a visit (走访) as lists and KPIs see it.
type VisitSummary struct {
	ID, Pairing string
	// Counterparty is the visit's counterparty field or, when that is
	// empty, the pairing's only counterparty when it has exactly one.
	Counterparty        string
	Title, Mode, Status string // Status: submitted (also when unset) or returned
	Officers            []string
	VisitedAt           time.Time
	ReceivedAt          time.Time
	HasLocation         bool
	Photos              []pairing.Photo
	Issues              []string
	ReturnComment       string
	Seq                 uint64 // the sequence of the record's version
}

// IssueSummary is an issue (诉求) with the state derived from its events.
type IssueSummary struct {
	ID, Pairing, Counterparty, Title, Category, Priority, RaisedBy, Visit string
	RaisedAt                                                              time.Time // the raised_at field
	State                                                                 pairing.IssueState
	// Events are the issue's event records, sorted by Order (then id); the
	// raise built from the issue record is not among them.
	Events []pairing.IssueEvent
	Seq    uint64 // the highest sequence of the issue record and its events
}

// ProjectSummary is a practical project (实事项目) with its milestones and
// ratings.
type ProjectSummary struct {
	ID, Pairing, Title, Category, Status, Owner, StatusReason string
	PlannedEnd                                                string // YYYY-MM-DD
	CompletedAt, ContactAcceptedAt, VerifiedAt                time.Time
	// CreatedAt is the wall time of the earliest write the record still
	// holds (its HLC): when the project was created, unless every field
	// has been rewritten since.
	CreatedAt  time.Time
	Milestones []MilestoneSummary // sorted by Order then ID
	Ratings    []RatingSummary    // sorted by At then ID
	Seq        uint64             // the highest sequence of the project, its milestones and ratings
}

// MilestoneSummary is one milestone (项目节点) of a project.
// Its JSON is the API's (GET /v1/projects/{id}): snake_case like the records.
type MilestoneSummary struct {
	ID       string          `json:"id"`
	Project  string          `json:"project"`
	Title    string          `json:"title"`
	Due      string          `json:"due,omitempty"`
	Order    int             `json:"order"`
	DoneAt   time.Time       `json:"done_at,omitzero"`
	Evidence []pairing.Photo `json:"evidence"`
}

// RatingSummary is one rating (评价) of an issue or a project.
type RatingSummary struct {
	ID         string    `json:"id"`
	Pairing    string    `json:"pairing"`
	TargetKind string    `json:"target_kind"`
	Target     string    `json:"target"`
	By         string    `json:"by"`
	Comment    string    `json:"comment,omitempty"`
	Level      int       `json:"level"`
	At         time.Time `json:"at"`
	// ReceivedAt is when the server first stored it; Coded, that an
	// officer's phone recorded it with the contact's code.
	ReceivedAt time.Time `json:"-"`
	Coded      bool      `json:"-"`
	order      syncproto.HLC
}

// Rater is who a rating counts for: one rating per (target, rater) counts,
// the latest written, so a rating cannot be counted twice. A contact rates as themselves; a rating
// an officer's phone records with the contact's code stands for the
// contact side of the pairing ("code"), whichever officer recorded it.
func (r RatingSummary) Rater() string {
	if r.Coded {
		return "code"
	}
	return r.By
}

// CountedAt is the time a rating counts at in the figures: when the server
// received it (a device clock set back cannot move it into a month already
// reported), else, for ratings stored before receipt times, its own time.
func (r RatingSummary) CountedAt() time.Time {
	if !r.ReceivedAt.IsZero() {
		return r.ReceivedAt
	}
	return r.At
}

func (r RatingSummary) raterKey() string {
	return r.TargetKind + "/" + r.Target + "/" + r.Rater()
}

// later reports whether a replaces b as the rating that counts: written
// later (HLC), then by id.
func (a RatingSummary) later(b RatingSummary) bool {
	if c := a.order.Compare(b.order); c != 0 {
		return c > 0
	}
	return a.ID > b.ID
}

// Filter narrows a list; zero values mean "any".
type Filter struct {
	// From and To bound the record's own time, [From, To): a visit's
	// VisitedAt, an issue's RaisedAt, a project's CompletedAt (CreatedAt
	// while not completed), a rating's At.
	From, To time.Time
	Status   string // visit status, issue status, project status
	Category string // issue or project category; a rating's target kind
	// Counterparty: of a visit or an issue; projects and ratings match when
	// their pairing has the counterparty.
	Counterparty string
	// Officer: one of a visit's officers; an issue's handler or raiser; a
	// project's owner; a rating's author.
	Officer string
	Query   string // substring of the title (a rating's comment), any case
	// Overdue keeps overdue issues only: at Now (status dispatched, signed
	// or reopened, due before Now) or, when Now is zero, those with an
	// overdue event in force.
	Overdue bool
	Now     time.Time
}

// SLAAction is an event the SLA job must append now.
type SLAAction struct {
	Pairing, Issue string
	Type           pairing.EventType // overdue or closed_unconfirmed
	// Due is the deadline that passed: the issue's due date, or the
	// latest response plus the time allowed to confirm.
	Due time.Time
}

// book is one pairing's part of the ledger.
type book struct {
	id  string
	seq uint64 // watermark: the last sequence applied

	visits       visitMap
	issues       map[string]*issueEntry
	events       map[string]eventRef // issue event id → its issue
	eventsOf     map[string][]string // issue id → event ids (the keys of events)
	projects     map[string]*projectEntry
	milestones   map[string]milestoneEntry
	milestonesOf map[string]map[string]struct{} // project id → milestone ids
	ratings      map[string]*ratingEntry
	ratingsOf    map[string]map[string]struct{} // project id → rating ids
	raters       map[string]map[string]struct{} // target kind/target/rater → rating ids (the latest counts)

	// The figures.
	months        map[Month]*counters
	visited       map[string]map[Month]int // counterparty field → month → visits
	issueStatus   map[pairing.IssueStatus]int
	projectStatus map[string]int
	watched       map[string]*watch // issue id → what the SLA looks at

	// Photos cited (photos.go) by the records other than live visits:
	// record "collection/id" → hashes it cites, hash → number of records
	// citing it. Live visits: the prefixes of the hashes they cite
	// (visitEntry.photoOff), photoDead of them no longer used.
	cites     map[string][]string
	citations map[string]int
	photoPfx  []uint64
	photoDead int

	// tombs are the records deleted (tombstones.go): storage key → the
	// version and its latest delete, so the tombstone sweep reads no record.
	tombs map[storage.Key]tomb
}

// issueEntry is an issue as the Ledger keeps it: its summary without
// Events, and its State without Applied and Ignored, compactly (strings
// shared by many issues interned, times as seconds and nanoseconds in UTC:
// every time of a summary is UTC); summary gives it back whole.
type issueEntry struct {
	id, title, visit, response               string
	cp, category, priority, raisedBy         sym
	status, handler, handlerName, resolution sym
	dispatcher                               sym
	sec                                      [nIssueTimes]int64
	nsec                                     [nIssueTimes]int32
	dispatches, bounces, reopens, disputes   int32
	orderHLC                                 syncproto.HLC // of the raised_at field
	orderCounter                             uint64
	orderReplica                             sym
	flags                                    uint8
	seq                                      uint64 // of the issue record
	seqAll                                   uint64 // the highest of the issue and its events
}

// The times of an issueEntry.
const (
	tRaisedField = iota // IssueSummary.RaisedAt
	tReceived           // the record's received_at (of the raise)
	tLatest             // the latest response (for the contribution)
	tRaised
	tAccepted
	tDispatched
	tSigned
	tResponded
	tClosed
	tConfirmed
	tDue
	nIssueTimes
)

// issueEntry flags.
const (
	iSignedInTime = 1 << iota
	iRespondedOnTime
	iOverdue
	iConfirmedSolved
	iApplied // its contribution is in the figures
)

// time returns a time of the entry: nsec holds the nanoseconds + 1, and 0
// for the zero time.
func (e *issueEntry) time(i int) time.Time {
	if e.nsec[i] == 0 {
		return time.Time{}
	}
	return time.Unix(e.sec[i], int64(e.nsec[i]-1)).UTC()
}

func (e *issueEntry) setTime(i int, t time.Time) {
	if t.IsZero() {
		e.sec[i], e.nsec[i] = 0, 0
		return
	}
	e.sec[i], e.nsec[i] = t.Unix(), int32(t.Nanosecond())+1
}

func (e *issueEntry) flag(f uint8) bool { return e.flags&f != 0 }

func (e *issueEntry) setFlag(f uint8, on bool) {
	if on {
		e.flags |= f
	} else {
		e.flags &^= f
	}
}

// summary returns the issue's summary (no Events; a State without Applied
// and Ignored), its counterparty field unresolved.
func (e *issueEntry) summary(pid string, t *symbols) IssueSummary {
	return IssueSummary{
		ID: e.id, Pairing: pid, Counterparty: t.str(e.cp), Title: e.title, Category: t.str(e.category),
		Priority: t.str(e.priority), RaisedBy: t.str(e.raisedBy), Visit: e.visit, RaisedAt: e.time(tRaisedField),
		Seq: e.seqAll, State: e.state(t),
	}
}

func (e *issueEntry) state(t *symbols) pairing.IssueState {
	return pairing.IssueState{
		Issue: e.id, Status: pairing.IssueStatus(t.str(e.status)),
		RaisedAt: e.time(tRaised), AcceptedAt: e.time(tAccepted), DispatchedAt: e.time(tDispatched),
		SignedAt: e.time(tSigned), RespondedAt: e.time(tResponded), ClosedAt: e.time(tClosed),
		ConfirmedAt: e.time(tConfirmed), Due: e.time(tDue),
		Handler: t.str(e.handler), HandlerName: t.str(e.handlerName), Dispatcher: t.str(e.dispatcher), Resolution: t.str(e.resolution), Response: e.response,
		Dispatches: int(e.dispatches), Bounces: int(e.bounces), Reopens: int(e.reopens), Disputes: int(e.disputes),
		SignedInTime: e.flag(iSignedInTime), RespondedOnTime: e.flag(iRespondedOnTime), Overdue: e.flag(iOverdue),
		ConfirmedSolved: e.flag(iConfirmedSolved),
	}
}

// setState keeps a derived state (Issue is the entry's id; Applied and
// Ignored are left out).
func (e *issueEntry) setState(st *pairing.IssueState, t *symbols) {
	e.status, e.handler, e.handlerName = t.of([]byte(st.Status)), t.of([]byte(st.Handler)), t.of([]byte(st.HandlerName))
	e.resolution, e.response = t.of([]byte(st.Resolution)), st.Response
	e.dispatcher = t.of([]byte(st.Dispatcher))
	e.setTime(tRaised, st.RaisedAt)
	e.setTime(tAccepted, st.AcceptedAt)
	e.setTime(tDispatched, st.DispatchedAt)
	e.setTime(tSigned, st.SignedAt)
	e.setTime(tResponded, st.RespondedAt)
	e.setTime(tClosed, st.ClosedAt)
	e.setTime(tConfirmed, st.ConfirmedAt)
	e.setTime(tDue, st.Due)
	e.dispatches, e.bounces, e.reopens, e.disputes = int32(st.Dispatches), int32(st.Bounces), int32(st.Reopens), int32(st.Disputes)
	e.setFlag(iSignedInTime, st.SignedInTime)
	e.setFlag(iRespondedOnTime, st.RespondedOnTime)
	e.setFlag(iOverdue, st.Overdue)
	e.setFlag(iConfirmedSolved, st.ConfirmedSolved)
}

// raise is the raised event the issue record stands for.
func (e *issueEntry) raise(t *symbols) pairing.IssueEvent {
	return pairing.IssueEvent{ID: e.id, Issue: e.id, Type: pairing.EventRaised, At: e.time(tRaisedField), ReceivedAt: e.time(tReceived),
		By: t.str(e.raisedBy), Role: pairing.Officer,
		Order: pairing.EventOrder{HLC: pairing.ClampOrder(e.orderHLC, e.time(tReceived)), Replica: syncproto.ReplicaID(t.str(e.orderReplica)), Counter: e.orderCounter}}
}

// eventRef is an issue event as the Ledger keeps it: which issue it is of.
// Its content is read from storage when its issue's state is derived
// (events come to the Ledger once, so this is mostly within the page that
// brings them), and for Issue.
type eventRef struct {
	issue string
	seq   uint64
}

type projectEntry struct {
	s ProjectSummary
	c contribution
}

type milestoneEntry struct {
	s   MilestoneSummary
	seq uint64
}

type ratingEntry struct {
	s   RatingSummary
	seq uint64
	c   contribution
}

func newBook(id string) *book {
	return &book{
		id: id, visits: newVisitMap(), issues: map[string]*issueEntry{},
		events: map[string]eventRef{}, eventsOf: map[string][]string{},
		projects: map[string]*projectEntry{}, milestones: map[string]milestoneEntry{},
		milestonesOf: map[string]map[string]struct{}{}, ratings: map[string]*ratingEntry{}, raters: map[string]map[string]struct{}{},
		ratingsOf: map[string]map[string]struct{}{}, months: map[Month]*counters{},
		visited: map[string]map[Month]int{}, issueStatus: map[pairing.IssueStatus]int{},
		projectStatus: map[string]int{}, watched: map[string]*watch{},
		cites: map[string][]string{}, citations: map[string]int{}, tombs: map[storage.Key]tomb{},
	}
}

// ErrWarmingUp is what Refresh returns while another caller is reading
// every feed for the first time (after a start): until that first Refresh
// completes, the figures and lists miss records, and a caller that cannot
// wait says so rather than answer with them. It wraps
// storage.ErrUnavailable.
var ErrWarmingUp = fmt.Errorf("pairing: the ledger is still loading: %w", storage.ErrUnavailable)

// Refresh catches up every pairing of the directory: it reads the heads
// that moved since the last pass from the store's heads feed
// (storage.HeadFeed: one call when nothing changed, whatever the number of
// pairings; a store without it has each pairing's head read) and reads,
// page by page, only the feeds that moved. When records were purged past a
// watermark (storage.Records Horizon), the pairing is read again from 0. It
// returns the first storage or decoding error, wrapped; what was applied
// before it stays applied.
//
// Concurrent callers share passes: one that arrives while a pass runs
// waits for the next pass, which starts when the running one ends and
// serves every caller that arrived meanwhile (so each sees what committed
// before it called, and N callers cost two passes, not N). A pass runs to
// its end even if its callers give up; a caller whose ctx ends returns
// ctx's error at once. While the first pass (the load) runs, Refresh
// waits for it up to WarmWait, then returns ErrWarmingUp; Load waits
// however long it takes.
func (l *Ledger) Refresh(ctx context.Context) error { return l.share(ctx, true) }

// Load is Refresh that waits for a Refresh in progress, the load included:
// for background jobs.
func (l *Ledger) Load(ctx context.Context) error { return l.share(ctx, false) }

// Loaded reports whether a Refresh has completed since the Ledger was
// made: whether its figures count every record committed before it.
func (l *Ledger) Loaded() bool { return l.loaded.Load() }

// pass is one shared refresh pass; err is set before done closes.
type pass struct {
	done chan struct{}
	err  error
}

func (l *Ledger) share(ctx context.Context, warming bool) error {
	var deadline <-chan time.Time
	l.passMu.Lock()
	for warming && l.running != nil && !l.loaded.Load() {
		// The load runs: wait for it, up to WarmWait; then join the pass
		// after it as any caller does (the load may have begun before what
		// the caller must see committed).
		load := l.running.done
		l.passMu.Unlock()
		if deadline == nil {
			t := time.NewTimer(l.WarmWait)
			defer t.Stop()
			deadline = t.C
		}
		select {
		case <-load:
		case <-deadline:
			return ErrWarmingUp
		case <-ctx.Done():
			return ctx.Err()
		}
		l.passMu.Lock()
	}
	p := l.next
	switch {
	case p != nil:
	case l.running == nil:
		p = &pass{done: make(chan struct{})}
		l.running = p
		go l.run(ctx, p, nil)
	default:
		p = &pass{done: make(chan struct{})}
		l.next = p
		go l.run(ctx, p, l.running)
	}
	if p != l.running {
		l.waiters++
		defer func() { l.passMu.Lock(); l.waiters--; l.passMu.Unlock() }()
	}
	l.passMu.Unlock()
	select {
	case <-p.done:
		return p.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// run runs pass p after prev (when not nil) has ended. The pass keeps ctx's
// values but not its cancellation: other callers wait for it.
func (l *Ledger) run(ctx context.Context, p, prev *pass) {
	if prev != nil {
		<-prev.done
		l.passMu.Lock()
		l.running, l.next = p, nil
		l.passMu.Unlock()
	}
	p.err = l.refresh(context.WithoutCancel(ctx))
	l.passMu.Lock()
	l.running = nil
	l.passMu.Unlock()
	close(p.done)
}

func (l *Ledger) refresh(ctx context.Context) error {
	feed, ok := l.records.(storage.HeadFeed)
	if !ok {
		return l.refreshAll(ctx)
	}
	moved := map[string]uint64{}
	cursor := l.stamp
	for {
		page, err := feed.HeadsSince(ctx, cursor, 0)
		if err != nil {
			return fmt.Errorf("pairing: ledger heads since %d: %w", cursor, err)
		}
		if page.Last < cursor {
			// Another store than the one read so far (restored, replaced):
			// compare every pairing, as without the feed.
			if err := l.refreshAll(ctx); err != nil {
				return err
			}
			l.stamp, l.outside = page.Last, map[string]uint64{}
			return nil
		}
		for _, h := range page.Heads {
			moved[h.Pairing] = h.Seq
		}
		cursor = page.Next
		if !page.More {
			break
		}
	}
	if _, ok := moved[pairing.PhotoScope]; ok || !l.loaded.Load() {
		if err := l.refreshPhotos(ctx); err != nil {
			return err
		}
	}
	// A scope the directory does not know yet (a pairing created on
	// another replica, read here before the directory is) waits in
	// outside until it does.
	for pid, head := range moved {
		l.outside[pid] = head
	}
	for pid, head := range l.outside {
		if !l.dir.Known(pid) {
			continue
		}
		if err := l.refreshPairing(ctx, pid, head); err != nil {
			return err
		}
		delete(l.outside, pid)
	}
	l.stamp = cursor
	l.loaded.Store(true)
	return nil
}

// refreshAll catches up every pairing of the directory by reading its head:
// for a store without a heads feed, or one replaced under the Ledger.
func (l *Ledger) refreshAll(ctx context.Context) error {
	if err := l.refreshPhotos(ctx); err != nil {
		return err
	}
	for _, p := range l.dir.All() {
		head, err := l.records.Head(ctx, p.ID)
		if err != nil {
			return fmt.Errorf("pairing: ledger %s: head: %w", p.ID, err)
		}
		if err := l.refreshPairing(ctx, p.ID, head); err != nil {
			return err
		}
	}
	l.loaded.Store(true)
	return nil
}

// refreshPairing reads a pairing's feed from its watermark up to head.
func (l *Ledger) refreshPairing(ctx context.Context, pid string, head uint64) error {
	l.mu.RLock()
	var after uint64
	if b := l.books[pid]; b != nil {
		after = b.seq
	}
	l.mu.RUnlock()
	if head == after {
		return nil
	}
	reset := head < after // the store was replaced: read it all again
	if after > 0 && !reset {
		horizon, err := l.records.Horizon(ctx, pid)
		if err != nil {
			return fmt.Errorf("pairing: ledger %s: horizon: %w", pid, err)
		}
		reset = horizon > after
	}
	// A pairing read again is built apart and swapped in when complete, so
	// readers never see it half read.
	var rebuilt *book
	if reset {
		after, rebuilt = 0, newBook(pid)
	}
	var sk syncproto.Skimmed
	var vfs []visitFields
	for {
		page, err := l.records.Changes(ctx, pid, after, storage.PageLimit{})
		if err != nil {
			return fmt.Errorf("pairing: ledger %s: changes after %d: %w", pid, after, err)
		}
		// Visits are skimmed (the fields the Ledger keeps, no more);
		// the rest, and visits not as Encode writes them, decoded in full.
		recs := make([]syncproto.Record, len(page.Records))
		if cap(vfs) < len(page.Records) {
			vfs = make([]visitFields, len(page.Records))
		}
		vfs = vfs[:len(page.Records)]
		skimmedVisit := make([]bool, len(page.Records))
		for i, sr := range page.Records {
			if sr.Collection == pairing.CollVisits && skimVisit(sr.Data, &sk, &vfs[i]) && vfs[i].id == sr.ID {
				skimmedVisit[i] = true
				continue
			}
			var want []string
			var order string // the field whose dot and HLC are read
			switch sr.Collection {
			case pairing.CollIssues:
				want, order = issueWant, "raised_at"
			case pairing.CollIssueEvents:
				want, order = eventWant, "type"
			}
			if want != nil {
				var ok bool
				if recs[i], ok = skimToRecord(sr.Data, want, order, &sk); ok && recs[i].ID == sr.ID && recs[i].Collection == sr.Collection {
					continue
				}
			}
			if recs[i], err = syncproto.DecodeRecord(sr.Data, syncproto.Limits{}); err != nil {
				return fmt.Errorf("pairing: ledger %s: record %s/%s: %w", pid, sr.Collection, sr.ID, err)
			}
		}
		l.mu.Lock()
		b := rebuilt
		if b == nil {
			if b = l.books[pid]; b == nil {
				b = newBook(pid)
				l.books[pid] = b
			}
		}
		dirty := map[string]struct{}{}
		evs := map[string]pairing.IssueEvent{} // the events of the page
		for i, r := range recs {
			sr := page.Records[i]
			if skimmedVisit[i] {
				delete(b.tombs, sr.Key) // skimmed: it holds no delete
				l.applyVisit(b, &vfs[i], sr.Seq)
				continue
			}
			b.noteTomb(sr.Key, sr.Seq, r)
			l.apply(b, r, sr.Seq, dirty, evs)
		}
		for id := range dirty {
			if err := l.deriveIssue(ctx, b, id, evs); err != nil {
				l.mu.Unlock()
				return fmt.Errorf("pairing: ledger %s: %w", pid, err)
			}
		}
		b.seq = page.Next
		if rebuilt != nil && !page.More {
			l.swap(rebuilt)
		}
		l.mu.Unlock()
		after = page.Next
		if !page.More {
			return nil
		}
	}
}

// swap replaces a pairing's book by one read again from 0. Called with
// l.mu held.
func (l *Ledger) swap(nb *book) {
	if old := l.books[nb.id]; old != nil {
		for id := range old.issues {
			if nb.issues[id] == nil {
				delete(l.whereIssue, id)
			}
		}
		for id := range old.projects {
			if nb.projects[id] == nil {
				delete(l.whereProject, id)
			}
		}
	}
	l.books[nb.id] = nb
}

// apply takes in one record version; issues whose state must be derived
// again are added to dirty. Called with l.mu held.
func (l *Ledger) apply(b *book, r syncproto.Record, seq uint64, dirty map[string]struct{}, evs map[string]pairing.IssueEvent) {
	live := !r.Deleted()
	if r.Collection == pairing.CollVisits {
		var v visitFields
		visitFieldsOf(&r, &v)
		l.applyVisit(b, &v, seq)
		return
	}
	b.cite(r)
	switch r.Collection {
	case pairing.CollIssues:
		old := b.issues[r.ID]
		if !live {
			if old != nil {
				b.addIssue(old, l.syms, -1)
				delete(b.issues, r.ID)
				delete(l.whereIssue, r.ID)
			}
			return
		}
		is, raise := issueFromRecord(r, seq)
		t := l.syms
		e := &issueEntry{id: r.ID, title: is.Title, visit: is.Visit, cp: t.of([]byte(is.Counterparty)),
			category: t.of([]byte(is.Category)), priority: t.of([]byte(is.Priority)), raisedBy: t.of([]byte(is.RaisedBy)),
			orderHLC: raise.Order.HLC, orderCounter: raise.Order.Counter, orderReplica: t.of([]byte(raise.Order.Replica)),
			seq: seq, seqAll: seq}
		e.setTime(tRaisedField, is.RaisedAt)
		e.setTime(tReceived, raise.ReceivedAt)
		if old != nil {
			b.addIssue(old, l.syms, -1) // deriveIssue adds the new one
		}
		b.issues[r.ID] = e
		l.whereIssue[r.ID] = b.id
		dirty[r.ID] = struct{}{}
	case pairing.CollIssueEvents:
		if old, ok := b.events[r.ID]; ok {
			ids := slices.DeleteFunc(b.eventsOf[old.issue], func(id string) bool { return id == r.ID })
			if len(ids) == 0 {
				delete(b.eventsOf, old.issue)
			} else {
				b.eventsOf[old.issue] = ids
			}
			delete(b.events, r.ID)
			delete(evs, r.ID)
			dirty[old.issue] = struct{}{}
		}
		if !live {
			return
		}
		ev, err := pairing.IssueEventFromRecord(r)
		if err != nil {
			return // malformed (push validation refuses these): it does not count
		}
		issue := ev.Issue
		if ie := b.issues[issue]; ie != nil {
			issue = ie.id // one copy of the id
		}
		b.events[r.ID] = eventRef{issue: issue, seq: seq}
		b.eventsOf[issue] = append(b.eventsOf[issue], r.ID)
		evs[r.ID] = ev
		dirty[issue] = struct{}{}
	case pairing.CollProjects:
		if old := b.projects[r.ID]; old != nil {
			b.add(r.ID, &old.c, -1)
			delete(b.projects, r.ID)
			delete(l.whereProject, r.ID)
		}
		if live {
			e := &projectEntry{s: projectFromRecord(r, seq)}
			e.c = projectContribution(&e.s)
			b.add(r.ID, &e.c, 1)
			b.projects[r.ID] = e
			l.whereProject[r.ID] = b.id
		}
	case pairing.CollMilestones:
		if old, ok := b.milestones[r.ID]; ok {
			unlink(b.milestonesOf, old.s.Project, r.ID)
			delete(b.milestones, r.ID)
		}
		if live {
			m := milestoneFromRecord(r)
			b.milestones[r.ID] = milestoneEntry{s: m, seq: seq}
			link(b.milestonesOf, m.Project, r.ID)
		}
	case pairing.CollRatings:
		if old := b.ratings[r.ID]; old != nil {
			key := old.s.raterKey()
			b.countRater(key, -1)
			unlink(b.raters, key, r.ID)
			if old.s.TargetKind == "project" {
				unlink(b.ratingsOf, old.s.Target, r.ID)
			}
			delete(b.ratings, r.ID)
			b.countRater(key, 1)
		}
		if live {
			e := &ratingEntry{s: ratingFromRecord(r), seq: seq}
			e.c = ratingContribution(&e.s)
			key := e.s.raterKey()
			b.countRater(key, -1)
			b.ratings[r.ID] = e
			link(b.raters, key, r.ID)
			if e.s.TargetKind == "project" {
				link(b.ratingsOf, e.s.Target, r.ID)
			}
			b.countRater(key, 1)
		}
	}
}

// ratingCounted returns the rating of a (target, rater) key that counts:
// the latest written. Called with l.mu held.
func (b *book) ratingCounted(key string) *ratingEntry {
	var win *ratingEntry
	for id := range b.raters[key] {
		if e := b.ratings[id]; e != nil && (win == nil || e.s.later(win.s)) {
			win = e
		}
	}
	return win
}

// countRater adds (sign 1) or subtracts (sign -1) the contribution of the
// rating that counts for the key. Called with l.mu held.
func (b *book) countRater(key string, sign int64) {
	if e := b.ratingCounted(key); e != nil {
		b.add(e.s.ID, &e.c, sign)
	}
}

func link(m map[string]map[string]struct{}, k, id string) {
	set := m[k]
	if set == nil {
		set = map[string]struct{}{}
		m[k] = set
	}
	set[id] = struct{}{}
}

func unlink(m map[string]map[string]struct{}, k, id string) {
	delete(m[k], id)
	if len(m[k]) == 0 {
		delete(m, k)
	}
}

// deriveIssue recomputes an issue's state and contribution from the issue
// record and its events (those of the page in evs, the others read from
// storage). The state kept leaves out Applied and Ignored (Issue derives
// them again). Called with l.mu held.
func (l *Ledger) deriveIssue(ctx context.Context, b *book, id string, evs map[string]pairing.IssueEvent) error {
	e := b.issues[id]
	if e == nil {
		return nil // events of an issue not (or no longer) here wait for it
	}
	all, seq, err := l.issueEvents(ctx, b, e, evs)
	if err != nil {
		return err
	}
	b.addIssue(e, l.syms, -1)
	st := l.derive(b.id, e, all)
	st.Applied, st.Ignored = nil, nil
	e.setState(&st, l.syms)
	e.seqAll = seq
	var latest time.Time
	if resp := st.Response; resp != "" {
		for _, ev := range all {
			if ev.ID == resp {
				latest = ev.When().UTC()
				break
			}
		}
	}
	e.setTime(tLatest, latest)
	b.addIssue(e, l.syms, 1)
	return nil
}

// addIssue adds (sign 1) or subtracts (sign -1) an issue's contribution,
// computed again from what it was computed from. Called with l.mu held.
func (b *book) addIssue(e *issueEntry, t *symbols, sign int64) {
	if sign < 0 && !e.flag(iApplied) {
		return
	}
	e.setFlag(iApplied, sign > 0)
	s := e.summary(b.id, t)
	c := issueContribution(&s, e.time(tLatest))
	b.add(e.id, &c, sign)
}

// issueEvents returns an issue's raise and events, sorted by Order then
// id (the events from evs when there, else read from storage), and the
// highest sequence of the issue and its events. An event gone from storage,
// or no longer an event, is left out: its pairing's feed brings the change.
// Called with l.mu held (read or write).
func (l *Ledger) issueEvents(ctx context.Context, b *book, e *issueEntry, evs map[string]pairing.IssueEvent) ([]pairing.IssueEvent, uint64, error) {
	ids := b.eventsOf[e.id]
	all := make([]pairing.IssueEvent, 0, len(ids)+1)
	all = append(all, e.raise(l.syms))
	seq := e.seq
	for _, eid := range ids {
		seq = max(seq, b.events[eid].seq)
		ev, ok := evs[eid]
		if !ok {
			sr, err := l.records.Get(ctx, storage.Key{Collection: pairing.CollIssueEvents, ID: eid})
			if errors.Is(err, storage.ErrNotFound) {
				continue
			}
			if err != nil {
				return nil, 0, fmt.Errorf("issue event %s: %w", eid, err)
			}
			r, err := syncproto.DecodeRecord(sr.Data, syncproto.Limits{})
			if err != nil {
				return nil, 0, fmt.Errorf("issue event %s: %w", eid, err)
			}
			if ev, err = pairing.IssueEventFromRecord(r); err != nil {
				continue
			}
		}
		all = append(all, ev)
	}
	slices.SortFunc(all[1:], func(a, b pairing.IssueEvent) int {
		return cmp.Or(a.Order.Compare(b.Order), strings.Compare(a.ID, b.ID))
	})
	return all, seq, nil
}

// derive runs DeriveIssue with the issue's rules.
func (l *Ledger) derive(pid string, e *issueEntry, all []pairing.IssueEvent) pairing.IssueState {
	p, _ := l.dir.Pairing(pid)
	p.ID = pid
	var rules pairing.IssueRules
	if l.rules != nil {
		rules = l.rules(p, l.syms.str(e.category))
	}
	return pairing.DeriveIssue(all, rules)
}

// add adds (sign 1) or subtracts (sign -1) a record's contribution. Called
// with l.mu held.
func (b *book) add(id string, c *contribution, sign int64) {
	for _, it := range c.items {
		cell := b.months[it.m]
		if cell == nil {
			cell = new(counters)
			b.months[it.m] = cell
		}
		cell[it.c] += sign * it.n
		if cell.zero() {
			delete(b.months, it.m)
		}
	}
	if c.visited {
		ms := b.visited[c.visitCP]
		if ms == nil {
			ms = map[Month]int{}
			b.visited[c.visitCP] = ms
		}
		ms[c.visitMonth] += int(sign)
		if ms[c.visitMonth] == 0 {
			delete(ms, c.visitMonth)
			if len(ms) == 0 {
				delete(b.visited, c.visitCP)
			}
		}
	}
	if c.isIssue {
		b.issueStatus[c.issueStatus] += int(sign)
		if b.issueStatus[c.issueStatus] == 0 {
			delete(b.issueStatus, c.issueStatus)
		}
	}
	if c.isProject {
		b.projectStatus[c.projectStatus] += int(sign)
		if b.projectStatus[c.projectStatus] == 0 {
			delete(b.projectStatus, c.projectStatus)
		}
	}
	if c.watch != nil {
		if sign > 0 {
			b.watched[id] = c.watch
		} else {
			delete(b.watched, id)
		}
	}
}

// Reading records.

func strsField(r syncproto.Record, name string) []string {
	var ss []string
	_ = json.Unmarshal(r.Value(name), &ss)
	return ss
}

func intField(r syncproto.Record, name string) int {
	var n int
	_ = json.Unmarshal(r.Value(name), &n)
	return n
}

func issueFromRecord(r syncproto.Record, seq uint64) (IssueSummary, pairing.IssueEvent) {
	raise := pairing.IssueRaise(r) // At is the raised_at field, By raised_by
	s := IssueSummary{
		ID: r.ID, Pairing: r.Pairing, Counterparty: pairing.Str(r, "counterparty"), Title: pairing.Str(r, "title"),
		Category: pairing.Str(r, "category"), Priority: pairing.Str(r, "priority"), RaisedBy: raise.By,
		Visit: pairing.Str(r, "visit"), RaisedAt: raise.At, Seq: seq,
	}
	return s, raise
}

func projectFromRecord(r syncproto.Record, seq uint64) ProjectSummary {
	p := ProjectSummary{
		ID: r.ID, Pairing: r.Pairing, Title: pairing.Str(r, "title"), Category: pairing.Str(r, "category"),
		Status: pairing.Str(r, "status"), Owner: pairing.Str(r, "owner"), StatusReason: pairing.Str(r, "status_reason"),
		PlannedEnd: pairing.Str(r, "planned_end"), CompletedAt: pairing.TimeField(r, "completed_at"),
		ContactAcceptedAt: pairing.TimeField(r, "contact_accepted_at"), VerifiedAt: pairing.TimeField(r, "verified_at"),
		Seq: seq,
	}
	var first syncproto.HLC
	for _, f := range r.Fields {
		if first.IsZero() || f.HLC.Compare(first) < 0 {
			first = f.HLC
		}
	}
	if !first.IsZero() {
		p.CreatedAt = first.Time().UTC()
	}
	return p
}

func milestoneFromRecord(r syncproto.Record) MilestoneSummary {
	return MilestoneSummary{
		ID: r.ID, Project: pairing.Str(r, "project"), Title: pairing.Str(r, "title"), Due: pairing.Str(r, "due"),
		Order: intField(r, "order"), DoneAt: pairing.TimeField(r, "done_at"), Evidence: pairing.Photos(r, "evidence"),
	}
}

func ratingFromRecord(r syncproto.Record) RatingSummary {
	return RatingSummary{
		ID: r.ID, Pairing: r.Pairing, TargetKind: pairing.Str(r, "target_kind"), Target: pairing.Str(r, "target"),
		By: pairing.Str(r, "by"), Comment: pairing.Str(r, "comment"), Level: intField(r, "level"), At: pairing.TimeField(r, "at"),
		ReceivedAt: pairing.TimeField(r, "received_at"), Coded: pairing.Str(r, "code") != "", order: r.Fields["level"].HLC,
	}
}

// Copies.

func clonePhotos(ps []pairing.Photo) []pairing.Photo {
	if ps == nil {
		return nil
	}
	out := make([]pairing.Photo, len(ps))
	for i, p := range ps {
		if p.TakenAt != nil {
			t := *p.TakenAt
			p.TakenAt = &t
		}
		if p.Lat != nil {
			v := *p.Lat
			p.Lat = &v
		}
		if p.Lng != nil {
			v := *p.Lng
			p.Lng = &v
		}
		out[i] = p
	}
	return out
}

// resolveCounterparty: a record's counterparty field, or the pairing's only
// counterparty when the field is empty.
func resolveCounterparty(field string, p pairing.Pairing) string {
	if field == "" && len(p.Counterparties) == 1 {
		return p.Counterparties[0]
	}
	return field
}

// issueOut copies an issue as lists see it: no Events, and a State
// without Applied and Ignored (see Issue).
func (l *Ledger) issueOut(e *issueEntry, p pairing.Pairing) IssueSummary {
	s := e.summary(p.ID, l.syms)
	s.Counterparty = resolveCounterparty(s.Counterparty, p)
	return s
}

// projectOut composes a project with its milestones and ratings. Called
// with l.mu held.
func (b *book) projectOut(e *projectEntry) ProjectSummary {
	p := e.s
	for id := range b.milestonesOf[p.ID] {
		m := b.milestones[id]
		ms := m.s
		ms.Evidence = clonePhotos(ms.Evidence)
		p.Milestones = append(p.Milestones, ms)
		p.Seq = max(p.Seq, m.seq)
	}
	slices.SortFunc(p.Milestones, func(a, b MilestoneSummary) int {
		return cmp.Or(cmp.Compare(a.Order, b.Order), strings.Compare(a.ID, b.ID))
	})
	for id := range b.ratingsOf[p.ID] {
		r := b.ratings[id]
		p.Ratings = append(p.Ratings, r.s)
		p.Seq = max(p.Seq, r.seq)
	}
	slices.SortFunc(p.Ratings, func(a, b RatingSummary) int {
		return cmp.Or(a.At.Compare(b.At), strings.Compare(a.ID, b.ID))
	})
	return p
}

// pairing returns the directory's pairing (the zero Pairing with its id when
// unknown or deleted).
func (l *Ledger) pairing(id string) pairing.Pairing {
	p, _ := l.dir.Pairing(id)
	p.ID = id
	return p
}

// Issue returns an issue's summary, with its events (read from storage)
// and the whole derived state.
func (l *Ledger) Issue(ctx context.Context, id string) (IssueSummary, bool, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	pid, ok := l.whereIssue[id]
	if !ok {
		return IssueSummary{}, false, nil
	}
	b := l.books[pid]
	e := b.issues[id]
	all, seq, err := l.issueEvents(ctx, b, e, nil)
	if err != nil {
		return IssueSummary{}, false, fmt.Errorf("pairing: issue %s: %w", id, err)
	}
	s := l.issueOut(e, l.pairing(pid))
	s.State, s.Seq = l.derive(pid, e, all), seq
	s.Events = all[1:]
	return s, true, nil
}

// IssueWith returns an issue's state derived from its stored events and
// extra ones (a push's events not yet committed; an event of another issue
// is left out). false: the ledger has no such issue.
func (l *Ledger) IssueWith(ctx context.Context, id string, extra []pairing.IssueEvent) (pairing.IssueState, bool, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	pid, ok := l.whereIssue[id]
	if !ok {
		return pairing.IssueState{}, false, nil
	}
	b := l.books[pid]
	e := b.issues[id]
	all, _, err := l.issueEvents(ctx, b, e, nil)
	if err != nil {
		return pairing.IssueState{}, false, fmt.Errorf("pairing: issue %s: %w", id, err)
	}
	return l.derive(pid, e, append(all, extra...)), true, nil
}

// ListedIssue returns an issue's summary as lists have it: no Events, and
// a State without Applied and Ignored; it reads nothing from storage.
func (l *Ledger) ListedIssue(id string) (IssueSummary, bool) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	pid, ok := l.whereIssue[id]
	if !ok {
		return IssueSummary{}, false
	}
	return l.issueOut(l.books[pid].issues[id], l.pairing(pid)), true
}

// Project returns a project's summary.
func (l *Ledger) Project(id string) (ProjectSummary, bool) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	pid, ok := l.whereProject[id]
	if !ok {
		return ProjectSummary{}, false
	}
	b := l.books[pid]
	return b.projectOut(b.projects[id]), true
}

// Lists.

func unique(ids []string) []string {
	out := slices.Clone(ids)
	slices.Sort(out)
	return slices.Compact(out)
}

func (f *Filter) inPeriod(t time.Time) bool {
	return (f.From.IsZero() || !t.Before(f.From)) && (f.To.IsZero() || t.Before(f.To))
}

func (f *Filter) matchQuery(s string) bool {
	return f.Query == "" || strings.Contains(strings.ToLower(s), strings.ToLower(f.Query))
}

func (f *Filter) matchPairingCounterparty(p pairing.Pairing) bool {
	return f.Counterparty == "" || slices.Contains(p.Counterparties, f.Counterparty)
}

// issueOverdue: at now (status dispatched, signed or reopened, due before
// now), or by its overdue event when now is zero.
func issueOverdue(st *pairing.IssueState, now time.Time) bool {
	if now.IsZero() {
		return st.Overdue
	}
	return st.OverdueAt(now)
}

// Issues lists the issues of the pairings that pass the filter: overdue
// first, then by due date (issues without one last), then RaisedAt
// descending, then ID.
func (l *Ledger) Issues(pairings []string, f Filter) []IssueSummary {
	l.mu.RLock()
	defer l.mu.RUnlock()
	var out []IssueSummary
	for _, pid := range unique(pairings) {
		b := l.books[pid]
		if b == nil {
			continue
		}
		p := l.pairing(pid)
		for _, e := range b.issues {
			is := e.summary(pid, l.syms)
			s := &is
			switch {
			case !f.inPeriod(s.RaisedAt),
				f.Status != "" && string(s.State.Status) != f.Status,
				f.Category != "" && s.Category != f.Category,
				f.Counterparty != "" && resolveCounterparty(s.Counterparty, p) != f.Counterparty,
				f.Officer != "" && s.State.Handler != f.Officer && s.RaisedBy != f.Officer,
				!f.matchQuery(s.Title),
				f.Overdue && !issueOverdue(&s.State, f.Now):
				continue
			}
			s.Counterparty = resolveCounterparty(s.Counterparty, p)
			out = append(out, is)
		}
	}
	rank := func(s *IssueSummary) int {
		if issueOverdue(&s.State, f.Now) {
			return 0
		}
		return 1
	}
	slices.SortFunc(out, func(a, b IssueSummary) int {
		c := cmp.Compare(rank(&a), rank(&b))
		if c == 0 {
			switch az, bz := a.State.Due.IsZero(), b.State.Due.IsZero(); {
			case az && !bz:
				c = 1
			case bz && !az:
				c = -1
			default:
				c = a.State.Due.Compare(b.State.Due)
			}
		}
		return cmp.Or(c, b.RaisedAt.Compare(a.RaisedAt), strings.Compare(a.ID, b.ID))
	})
	return out
}

// Projects lists the projects of the pairings that pass the filter, by
// pairing, then title, then ID.
func (l *Ledger) Projects(pairings []string, f Filter) []ProjectSummary {
	l.mu.RLock()
	defer l.mu.RUnlock()
	var out []ProjectSummary
	for _, pid := range unique(pairings) {
		b := l.books[pid]
		if b == nil || !f.matchPairingCounterparty(l.pairing(pid)) {
			continue
		}
		for _, e := range b.projects {
			s := &e.s
			at := s.CompletedAt
			if at.IsZero() {
				at = s.CreatedAt
			}
			switch {
			case !f.inPeriod(at),
				f.Status != "" && s.Status != f.Status,
				f.Category != "" && s.Category != f.Category,
				f.Officer != "" && s.Owner != f.Officer,
				!f.matchQuery(s.Title),
				f.Overdue:
				continue
			}
			out = append(out, b.projectOut(e))
		}
	}
	slices.SortFunc(out, func(a, b ProjectSummary) int {
		return cmp.Or(strings.Compare(a.Pairing, b.Pairing), strings.Compare(a.Title, b.Title), strings.Compare(a.ID, b.ID))
	})
	return out
}

// Ratings lists the ratings of the pairings that pass the filter (Category
// is the target kind, issue or project), newest first (At descending, then
// ID).
func (l *Ledger) Ratings(pairings []string, f Filter) []RatingSummary {
	l.mu.RLock()
	defer l.mu.RUnlock()
	var out []RatingSummary
	for _, pid := range unique(pairings) {
		b := l.books[pid]
		if b == nil || !f.matchPairingCounterparty(l.pairing(pid)) {
			continue
		}
		for _, e := range b.ratings {
			s := &e.s
			switch {
			case b.ratingCounted(s.raterKey()) != e, // replaced by a later rating of the same rater
				!f.inPeriod(s.CountedAt()),
				f.Category != "" && s.TargetKind != f.Category,
				f.Officer != "" && s.By != f.Officer,
				!f.matchQuery(s.Comment),
				f.Status != "", f.Overdue:
				continue
			}
			out = append(out, *s)
		}
	}
	slices.SortFunc(out, func(a, b RatingSummary) int {
		return cmp.Or(b.At.Compare(a.At), strings.Compare(a.ID, b.ID))
	})
	return out
}

// CodedRatings counts the ratings of a target that officers' phones
// recorded with the contact's code: each use of a rate code makes the
// next code another (codes are single-use).
func (l *Ledger) CodedRatings(pairing, kind, target string) int {
	l.mu.RLock()
	defer l.mu.RUnlock()
	b := l.books[pairing]
	if b == nil {
		return 0
	}
	return len(b.raters[kind+"/"+target+"/code"])
}

// SLADue lists the events the SLA job must append at now, sorted by
// pairing then issue: "overdue" for issues whose due date passed while
// dispatched, signed or reopened and that carry no overdue event in force;
// "closed_unconfirmed" for issues still responded more than
// confirmAfter(pairing) after their latest response (nil or ≤ 0:
// DefaultConfirmDays). Pairings deleted from the directory are left out.
// It reads only the issues that await something, never every record.
func (l *Ledger) SLADue(now time.Time, confirmAfter func(p pairing.Pairing) time.Duration) []SLAAction {
	l.mu.RLock()
	defer l.mu.RUnlock()
	var out []SLAAction
	for pid, b := range l.books {
		if len(b.watched) == 0 {
			continue
		}
		p, ok := l.dir.Pairing(pid)
		if !ok {
			continue
		}
		confirm := time.Duration(0)
		if confirmAfter != nil {
			confirm = confirmAfter(p)
		}
		if confirm <= 0 {
			confirm = pairing.DefaultConfirmDays * 24 * time.Hour
		}
		for id, w := range b.watched {
			switch {
			case w.OverdueAt(now):
				if !w.Overdue {
					out = append(out, SLAAction{Pairing: pid, Issue: id, Type: pairing.EventOverdue, Due: w.Due})
				}
			case w.Status == pairing.IssueResponded:
				if !w.Responded.IsZero() && now.Sub(w.Responded) > confirm {
					out = append(out, SLAAction{Pairing: pid, Issue: id, Type: pairing.EventClosedUnconfirmed, Due: w.Responded.Add(confirm)})
				}
			}
		}
	}
	slices.SortFunc(out, func(a, b SLAAction) int {
		return cmp.Or(strings.Compare(a.Pairing, b.Pairing), strings.Compare(a.Issue, b.Issue))
	})
	return out
}

// Figures returns the KPIs of the pairings over the months [from, to),
// and the snapshot at now. Unknown pairings count as empty ones.
func (l *Ledger) Figures(pairings []string, from, to Month, now time.Time) Figures {
	ids := unique(pairings)
	l.mu.RLock()
	defer l.mu.RUnlock()
	var sum counters
	var visited, assigned int64
	snap := Snapshot{At: now, IssuesByStatus: map[pairing.IssueStatus]int{}, ProjectsByStatus: map[string]int{}}
	for _, pid := range ids {
		b := l.books[pid]
		v, a := l.coverage(b, pid, from, to)
		visited, assigned = visited+v, assigned+a
		if b == nil {
			continue
		}
		b.sum(&sum, from, to)
		b.snapshot(&snap, now)
	}
	f := Figures{Pairings: len(ids), From: from, To: to, PeriodFigures: sum.period(), Snapshot: snap}
	f.Coverage = rate(visited, assigned)
	return f
}

// Trend returns the period figures of the pairings for each month of
// [from, to), months after now's left out (nothing has happened in them).
func (l *Ledger) Trend(pairings []string, from, to Month, now time.Time) []MonthFigures {
	if !now.IsZero() {
		to = min(to, MonthOf(now)+1)
	}
	if to <= from {
		return nil
	}
	ids := unique(pairings)
	l.mu.RLock()
	defer l.mu.RUnlock()
	// One pass over each pairing for every month: its directory entry
	// read once and its visited months walked once (not once per month).
	n := int(to - from)
	sums := make([]counters, n)
	visited := make([]int64, n)
	mark := make([]bool, n)
	var assigned int64
	for _, pid := range ids {
		b := l.books[pid]
		assigned += l.coverageByMonth(b, pid, from, to, visited, mark)
		if b == nil {
			continue
		}
		if n <= len(b.months) {
			for m := from; m < to; m++ {
				if c := b.months[m]; c != nil {
					sums[m-from].add(c)
				}
			}
		} else {
			for m, c := range b.months {
				if m >= from && m < to {
					sums[m-from].add(c)
				}
			}
		}
	}
	out := make([]MonthFigures, 0, n)
	for i := range n {
		mf := MonthFigures{Month: from + Month(i), PeriodFigures: sums[i].period()}
		mf.Coverage = rate(visited[i], assigned)
		out = append(out, mf)
	}
	return out
}

// sum adds the pairing's month counters of [from, to) to s.
func (b *book) sum(s *counters, from, to Month) {
	if to <= from {
		return
	}
	if int(to-from) <= len(b.months) {
		for m := from; m < to; m++ {
			if c := b.months[m]; c != nil {
				s.add(c)
			}
		}
		return
	}
	for m, c := range b.months {
		if m >= from && m < to {
			s.add(c)
		}
	}
}

// snapshot adds the pairing's snapshot at now to s.
func (b *book) snapshot(s *Snapshot, now time.Time) {
	b.statuses(s)
	b.overdue(&s.Overdue, now)
}

// statuses adds the pairing's open issues and projects by status to s.
func (b *book) statuses(s *Snapshot) {
	for st, n := range b.issueStatus {
		if openStatus(st) {
			s.IssuesByStatus[st] += n
			s.IssuesOpen += n
		}
	}
	for st, n := range b.projectStatus {
		s.ProjectsByStatus[st] += n
		if plannedStatus(st) {
			s.ProjectsPlanned += n
		}
	}
}

// overdue adds the pairing's issues overdue at now to o.
func (b *book) overdue(o *Overdue, now time.Time) {
	for _, w := range b.watched {
		if w.OverdueAt(now) {
			o.count(now.Sub(w.Due))
		}
	}
}

// coverage returns the counterparties of the pairing visited in [from, to)
// and those assigned to it. Called with l.mu held.
func (l *Ledger) coverage(b *book, pid string, from, to Month) (visited, assigned int64) {
	p, ok := l.dir.Pairing(pid)
	if !ok {
		return 0, 0
	}
	return b.coverage(p, from, to, nil, nil)
}

// coverageByMonth is coverage for each month of [from, to) at once: it
// adds to visited[m-from] the counterparties of the pairing visited in
// month m and returns those assigned to it (the same for every month).
// mark is scratch of len(visited). Called with l.mu held.
func (l *Ledger) coverageByMonth(b *book, pid string, from, to Month, visited []int64, mark []bool) (assigned int64) {
	p, ok := l.dir.Pairing(pid)
	if !ok {
		return 0
	}
	_, assigned = b.coverage(p, from, to, visited, mark)
	return assigned
}

// coverage walks the visited months of each counterparty of p (its
// directory entry; b may be nil) once: it returns the counterparties
// visited in [from, to) and those assigned, and adds to byMonth[m-from]
// those visited in month m, for the months of [from, from+len(byMonth))
// (len(byMonth) ≤ to-from; nil for none). mark is scratch of len(byMonth).
func (b *book) coverage(p pairing.Pairing, from, to Month, byMonth []int64, mark []bool) (visited, assigned int64) {
	cps := p.Counterparties
	in := func(cp string) (seen bool) {
		if b == nil {
			return false
		}
		for m, n := range b.visited[cp] {
			if m >= from && m < to && n > 0 {
				if len(mark) == 0 {
					return true
				}
				seen = true
				if i := int(m - from); i < len(mark) {
					mark[i] = true
				}
			}
		}
		return seen
	}
	for i, cp := range cps {
		if cp == "" || slices.Contains(cps[:i], cp) {
			continue // listed twice: counted once
		}
		assigned++
		clear(mark)
		seen := in(cp)
		if len(cps) == 1 && in("") {
			seen = true
		}
		if seen {
			visited++
		}
		for k, v := range mark {
			if v {
				byMonth[k]++
			}
		}
	}
	return visited, assigned
}
