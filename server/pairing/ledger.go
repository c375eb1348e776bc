package pairing

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/pairsync/pairsync/storage"
	"github.com/pairsync/pairsync/syncproto"
)

// Ledger holds every pairing's records as summaries, and the KPIs (see
// Figures) maintained as changes commit. It tails each pairing's changes
// feed after its own watermark, as Directory tails the directory scope:
// every process that runs one converges on the same figures, and no
// dashboard request ever scans records.
//
// For each live record the Ledger keeps its summary and its contribution to
// the per-(pairing, month) counters; when a record changes or is deleted, its
// old contribution is subtracted and the new one added. An issue's summary
// and contribution are recomputed (DeriveIssue) when the issue or one of its
// events changes. The issue record is itself the raise: a raised event built
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
	dir     *Directory
	rules   func(p Pairing, category string) IssueRules

	refreshMu sync.Mutex // one refresh at a time

	mu    sync.RWMutex
	books map[string]*book       // pairing id → its part
	where map[storage.Key]string // visit, issue and project keys → pairing
	// stored holds the photos whose receipts (PhotoScope) say stored;
	// photoSeq is the watermark of that feed.
	stored   map[string]bool
	photoSeq uint64
}

// NewLedger returns an empty Ledger; call Refresh (after dir.Refresh) to
// load it. rules gives the IssueRules of an issue of a category in a
// pairing (the server derives them from the org unit's SLA days); nil means
// the defaults. rules is called with the Ledger's lock held: it must not
// call the Ledger.
func NewLedger(records storage.Records, dir *Directory, rules func(p Pairing, category string) IssueRules) *Ledger {
	return &Ledger{records: records, dir: dir, rules: rules, books: map[string]*book{}, where: map[storage.Key]string{}, stored: map[string]bool{}}
}

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
	Photos              []Photo
	Issues              []string
	ReturnComment       string
	Seq                 uint64 // the sequence of the record's version
}

// IssueSummary is an issue (诉求) with the state derived from its events.
type IssueSummary struct {
	ID, Pairing, Counterparty, Title, Category, Priority, RaisedBy, Visit string
	RaisedAt                                                              time.Time // the raised_at field
	State                                                                 IssueState
	// Events are the issue's event records, sorted by Order (then id); the
	// raise built from the issue record is not among them.
	Events []IssueEvent
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
type MilestoneSummary struct {
	ID, Project, Title, Due string
	Order                   int
	DoneAt                  time.Time
	Evidence                []Photo
}

// RatingSummary is one rating (评价) of an issue or a project.
type RatingSummary struct {
	ID, Pairing, TargetKind, Target, By, Comment string
	Level                                        int
	At                                           time.Time
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
	Type           EventType // overdue or closed_unconfirmed
	// Due is the deadline that passed: the issue's due date, or the
	// latest response plus the time allowed to confirm.
	Due time.Time
}

// book is one pairing's part of the ledger.
type book struct {
	id  string
	seq uint64 // watermark: the last sequence applied

	visits       map[string]*visitEntry
	issues       map[string]*issueEntry
	events       map[string]eventEntry          // issue event id → event
	eventsOf     map[string]map[string]struct{} // issue id → event ids
	projects     map[string]*projectEntry
	milestones   map[string]milestoneEntry
	milestonesOf map[string]map[string]struct{} // project id → milestone ids
	ratings      map[string]*ratingEntry
	ratingsOf    map[string]map[string]struct{} // project id → rating ids

	// The figures.
	months        map[Month]*counters
	visited       map[string]map[Month]int // counterparty field → month → visits
	issueStatus   map[IssueStatus]int
	projectStatus map[string]int
	watched       map[string]*watch // issue id → what the SLA looks at

	// Photos cited (photos.go): record "collection/id" → hashes it cites,
	// hash → number of records citing it, hash → visits citing it.
	cites       map[string][]string
	citations   map[string]int
	visitsBySHA map[string]map[string]struct{}
}

type visitEntry struct {
	s VisitSummary // Counterparty as stored (unresolved)
	c contribution
}

type issueEntry struct {
	s     IssueSummary
	raise IssueEvent
	seq   uint64 // of the issue record
	c     contribution
}

type eventEntry struct {
	e   IssueEvent
	seq uint64
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
		id: id, visits: map[string]*visitEntry{}, issues: map[string]*issueEntry{},
		events: map[string]eventEntry{}, eventsOf: map[string]map[string]struct{}{},
		projects: map[string]*projectEntry{}, milestones: map[string]milestoneEntry{},
		milestonesOf: map[string]map[string]struct{}{}, ratings: map[string]*ratingEntry{},
		ratingsOf: map[string]map[string]struct{}{}, months: map[Month]*counters{},
		visited: map[string]map[Month]int{}, issueStatus: map[IssueStatus]int{},
		projectStatus: map[string]int{}, watched: map[string]*watch{},
		cites: map[string][]string{}, citations: map[string]int{}, visitsBySHA: map[string]map[string]struct{}{},
	}
}

// Refresh catches up every pairing of the directory: it compares each
// pairing's head with its watermark and reads, page by page, only the feeds
// that moved. When records were purged past a watermark (storage.Records
// Horizon), the pairing is read again from 0. It returns the first storage
// or decoding error, wrapped; what was applied before it stays applied.
func (l *Ledger) Refresh(ctx context.Context) error {
	l.refreshMu.Lock()
	defer l.refreshMu.Unlock()
	if err := l.refreshPhotos(ctx); err != nil {
		return err
	}
	for _, p := range l.dir.All() {
		if err := l.refreshPairing(ctx, p.ID); err != nil {
			return err
		}
	}
	return nil
}

func (l *Ledger) refreshPairing(ctx context.Context, pid string) error {
	l.mu.RLock()
	var after uint64
	if b := l.books[pid]; b != nil {
		after = b.seq
	}
	l.mu.RUnlock()
	head, err := l.records.Head(ctx, pid)
	if err != nil {
		return fmt.Errorf("pairing: ledger %s: head: %w", pid, err)
	}
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
	for {
		page, err := l.records.Changes(ctx, pid, after, storage.PageLimit{})
		if err != nil {
			return fmt.Errorf("pairing: ledger %s: changes after %d: %w", pid, after, err)
		}
		recs := make([]syncproto.Record, len(page.Records))
		for i, sr := range page.Records {
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
		for i, r := range recs {
			l.apply(b, r, page.Records[i].Seq, dirty)
		}
		for id := range dirty {
			l.deriveIssue(b, id)
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
		for id := range old.visits {
			if nb.visits[id] == nil {
				delete(l.where, storage.Key{Collection: CollVisits, ID: id})
			}
		}
		for id := range old.issues {
			if nb.issues[id] == nil {
				delete(l.where, storage.Key{Collection: CollIssues, ID: id})
			}
		}
		for id := range old.projects {
			if nb.projects[id] == nil {
				delete(l.where, storage.Key{Collection: CollProjects, ID: id})
			}
		}
	}
	l.books[nb.id] = nb
}

// apply takes in one record version; issues whose state must be derived
// again are added to dirty. Called with l.mu held.
func (l *Ledger) apply(b *book, r syncproto.Record, seq uint64, dirty map[string]struct{}) {
	key := storage.Key{Collection: r.Collection, ID: r.ID}
	live := !r.Deleted()
	b.cite(r)
	switch r.Collection {
	case CollVisits:
		if old := b.visits[r.ID]; old != nil {
			b.add(r.ID, &old.c, -1)
			delete(b.visits, r.ID)
			delete(l.where, key)
		}
		if live {
			e := &visitEntry{s: visitFromRecord(r, seq)}
			e.c = visitContribution(&e.s, l.isStored)
			b.add(r.ID, &e.c, 1)
			b.visits[r.ID] = e
			l.where[key] = b.id
		}
	case CollIssues:
		old := b.issues[r.ID]
		if !live {
			if old != nil {
				b.add(r.ID, &old.c, -1)
				delete(b.issues, r.ID)
				delete(l.where, key)
			}
			return
		}
		e := &issueEntry{seq: seq}
		e.s, e.raise = issueFromRecord(r, seq)
		if old != nil {
			e.c = old.c // still applied: deriveIssue replaces it
		}
		b.issues[r.ID] = e
		l.where[key] = b.id
		dirty[r.ID] = struct{}{}
	case CollIssueEvents:
		if old, ok := b.events[r.ID]; ok {
			delete(b.eventsOf[old.e.Issue], r.ID)
			if len(b.eventsOf[old.e.Issue]) == 0 {
				delete(b.eventsOf, old.e.Issue)
			}
			delete(b.events, r.ID)
			dirty[old.e.Issue] = struct{}{}
		}
		if !live {
			return
		}
		ev, err := IssueEventFromRecord(r)
		if err != nil {
			return // malformed (push validation refuses these): it does not count
		}
		b.events[r.ID] = eventEntry{e: ev, seq: seq}
		set := b.eventsOf[ev.Issue]
		if set == nil {
			set = map[string]struct{}{}
			b.eventsOf[ev.Issue] = set
		}
		set[r.ID] = struct{}{}
		dirty[ev.Issue] = struct{}{}
	case CollProjects:
		if old := b.projects[r.ID]; old != nil {
			b.add(r.ID, &old.c, -1)
			delete(b.projects, r.ID)
			delete(l.where, key)
		}
		if live {
			e := &projectEntry{s: projectFromRecord(r, seq)}
			e.c = projectContribution(&e.s)
			b.add(r.ID, &e.c, 1)
			b.projects[r.ID] = e
			l.where[key] = b.id
		}
	case CollMilestones:
		if old, ok := b.milestones[r.ID]; ok {
			unlink(b.milestonesOf, old.s.Project, r.ID)
			delete(b.milestones, r.ID)
		}
		if live {
			m := milestoneFromRecord(r)
			b.milestones[r.ID] = milestoneEntry{s: m, seq: seq}
			link(b.milestonesOf, m.Project, r.ID)
		}
	case CollRatings:
		if old := b.ratings[r.ID]; old != nil {
			b.add(r.ID, &old.c, -1)
			if old.s.TargetKind == "project" {
				unlink(b.ratingsOf, old.s.Target, r.ID)
			}
			delete(b.ratings, r.ID)
		}
		if live {
			e := &ratingEntry{s: ratingFromRecord(r), seq: seq}
			e.c = ratingContribution(&e.s)
			b.add(r.ID, &e.c, 1)
			b.ratings[r.ID] = e
			if e.s.TargetKind == "project" {
				link(b.ratingsOf, e.s.Target, r.ID)
			}
		}
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
// record and its events. Called with l.mu held.
func (l *Ledger) deriveIssue(b *book, id string) {
	e := b.issues[id]
	if e == nil {
		return // events of an issue not (or no longer) here wait for it
	}
	b.add(id, &e.c, -1)
	evs := make([]IssueEvent, 0, len(b.eventsOf[id])+1)
	evs = append(evs, e.raise)
	seq := e.seq
	for eid := range b.eventsOf[id] {
		ee := b.events[eid]
		evs = append(evs, ee.e)
		seq = max(seq, ee.seq)
	}
	slices.SortFunc(evs[1:], func(a, b IssueEvent) int {
		return cmp.Or(a.Order.Compare(b.Order), strings.Compare(a.ID, b.ID))
	})
	p, _ := l.dir.Pairing(b.id)
	p.ID = b.id
	var rules IssueRules
	if l.rules != nil {
		rules = l.rules(p, e.s.Category)
	}
	e.s.State = DeriveIssue(evs, rules)
	e.s.Events = evs[1:]
	e.s.Seq = seq
	var latest time.Time
	if resp := e.s.State.Response; resp != "" {
		if ee, ok := b.events[resp]; ok {
			latest = ee.e.When().UTC()
		}
	}
	e.c = issueContribution(&e.s, latest)
	b.add(id, &e.c, 1)
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

func timeField(r syncproto.Record, name string) time.Time {
	var s string
	if json.Unmarshal(r.Value(name), &s) != nil || s == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t.UTC()
}

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

func visitFromRecord(r syncproto.Record, seq uint64) VisitSummary {
	v := VisitSummary{
		ID: r.ID, Pairing: r.Pairing, Counterparty: str(r, "counterparty"), Title: str(r, "title"),
		Mode: str(r, "mode"), Status: str(r, "status"), Officers: strsField(r, "officers"),
		VisitedAt: timeField(r, "visited_at"), ReceivedAt: timeField(r, "received_at"),
		HasLocation: present(r.Value("location")), Photos: Photos(r, "photos"),
		Issues: strsField(r, "issues"), ReturnComment: str(r, "return_comment"), Seq: seq,
	}
	if v.Status == "" {
		v.Status = "submitted"
	}
	return v
}

func issueFromRecord(r syncproto.Record, seq uint64) (IssueSummary, IssueEvent) {
	s := IssueSummary{
		ID: r.ID, Pairing: r.Pairing, Counterparty: str(r, "counterparty"), Title: str(r, "title"),
		Category: str(r, "category"), Priority: str(r, "priority"), RaisedBy: str(r, "raised_by"),
		Visit: str(r, "visit"), RaisedAt: timeField(r, "raised_at"), Seq: seq,
	}
	f := r.Fields["raised_at"]
	raise := IssueEvent{
		ID: r.ID, Issue: r.ID, Type: EventRaised, At: s.RaisedAt, ReceivedAt: timeField(r, "received_at"),
		By: s.RaisedBy, Role: Officer,
		Order: EventOrder{HLC: f.HLC, Replica: f.Dot.Replica, Counter: f.Dot.Counter},
	}
	return s, raise
}

func projectFromRecord(r syncproto.Record, seq uint64) ProjectSummary {
	p := ProjectSummary{
		ID: r.ID, Pairing: r.Pairing, Title: str(r, "title"), Category: str(r, "category"),
		Status: str(r, "status"), Owner: str(r, "owner"), StatusReason: str(r, "status_reason"),
		PlannedEnd: str(r, "planned_end"), CompletedAt: timeField(r, "completed_at"),
		ContactAcceptedAt: timeField(r, "contact_accepted_at"), VerifiedAt: timeField(r, "verified_at"),
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
		ID: r.ID, Project: str(r, "project"), Title: str(r, "title"), Due: str(r, "due"),
		Order: intField(r, "order"), DoneAt: timeField(r, "done_at"), Evidence: Photos(r, "evidence"),
	}
}

func ratingFromRecord(r syncproto.Record) RatingSummary {
	return RatingSummary{
		ID: r.ID, Pairing: r.Pairing, TargetKind: str(r, "target_kind"), Target: str(r, "target"),
		By: str(r, "by"), Comment: str(r, "comment"), Level: intField(r, "level"), At: timeField(r, "at"),
	}
}

// Copies.

func clonePhotos(ps []Photo) []Photo {
	if ps == nil {
		return nil
	}
	out := make([]Photo, len(ps))
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

// visitOut copies a visit, resolving its counterparty. Called with l.mu held.
func visitOut(e *visitEntry, p Pairing) VisitSummary {
	v := e.s
	v.Counterparty = resolveCounterparty(v.Counterparty, p)
	v.Officers = slices.Clone(v.Officers)
	v.Photos = clonePhotos(v.Photos)
	v.Issues = slices.Clone(v.Issues)
	return v
}

// resolveCounterparty: a record's counterparty field, or the pairing's only
// counterparty when the field is empty.
func resolveCounterparty(field string, p Pairing) string {
	if field == "" && len(p.Counterparties) == 1 {
		return p.Counterparties[0]
	}
	return field
}

func issueOut(e *issueEntry, p Pairing) IssueSummary {
	s := e.s
	s.Counterparty = resolveCounterparty(s.Counterparty, p)
	s.Events = make([]IssueEvent, len(e.s.Events))
	for i, ev := range e.s.Events {
		ev.Evidence = slices.Clone(ev.Evidence)
		s.Events[i] = ev
	}
	s.State.Applied = slices.Clone(s.State.Applied)
	s.State.Ignored = slices.Clone(s.State.Ignored)
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
func (l *Ledger) pairing(id string) Pairing {
	p, _ := l.dir.Pairing(id)
	p.ID = id
	return p
}

// Visit returns a visit's summary.
func (l *Ledger) Visit(id string) (VisitSummary, bool) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	pid, ok := l.where[storage.Key{Collection: CollVisits, ID: id}]
	if !ok {
		return VisitSummary{}, false
	}
	return visitOut(l.books[pid].visits[id], l.pairing(pid)), true
}

// Issue returns an issue's summary.
func (l *Ledger) Issue(id string) (IssueSummary, bool) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	pid, ok := l.where[storage.Key{Collection: CollIssues, ID: id}]
	if !ok {
		return IssueSummary{}, false
	}
	return issueOut(l.books[pid].issues[id], l.pairing(pid)), true
}

// Project returns a project's summary.
func (l *Ledger) Project(id string) (ProjectSummary, bool) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	pid, ok := l.where[storage.Key{Collection: CollProjects, ID: id}]
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

func (f *Filter) matchPairingCounterparty(p Pairing) bool {
	return f.Counterparty == "" || slices.Contains(p.Counterparties, f.Counterparty)
}

// Visits lists the visits of the pairings that pass the filter, newest
// first (VisitedAt descending, then ID).
func (l *Ledger) Visits(pairings []string, f Filter) []VisitSummary {
	l.mu.RLock()
	defer l.mu.RUnlock()
	var out []VisitSummary
	for _, pid := range unique(pairings) {
		b := l.books[pid]
		if b == nil {
			continue
		}
		p := l.pairing(pid)
		for _, e := range b.visits {
			v := &e.s
			switch {
			case !f.inPeriod(v.VisitedAt),
				f.Status != "" && v.Status != f.Status,
				f.Counterparty != "" && resolveCounterparty(v.Counterparty, p) != f.Counterparty,
				f.Officer != "" && !slices.Contains(v.Officers, f.Officer),
				!f.matchQuery(v.Title),
				f.Category != "", f.Overdue:
				continue
			}
			out = append(out, visitOut(e, p))
		}
	}
	slices.SortFunc(out, func(a, b VisitSummary) int {
		return cmp.Or(b.VisitedAt.Compare(a.VisitedAt), strings.Compare(a.ID, b.ID))
	})
	return out
}

// issueOverdue: at now (status dispatched, signed or reopened, due before
// now), or by its overdue event when now is zero.
func issueOverdue(st *IssueState, now time.Time) bool {
	if now.IsZero() {
		return st.Overdue
	}
	w := watch{Status: st.Status, Due: st.Due}
	return w.overdueAt(now)
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
			s := &e.s
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
			out = append(out, issueOut(e, p))
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
			case !f.inPeriod(s.At),
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

// SLADue lists the events the SLA job must append at now, sorted by
// pairing then issue: "overdue" for issues whose due date passed while
// dispatched, signed or reopened and that carry no overdue event in force;
// "closed_unconfirmed" for issues still responded more than
// confirmAfter(pairing) after their latest response (nil or ≤ 0:
// DefaultConfirmDays). Pairings deleted from the directory are left out.
// It reads only the issues that await something, never every record.
func (l *Ledger) SLADue(now time.Time, confirmAfter func(p Pairing) time.Duration) []SLAAction {
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
			confirm = DefaultConfirmDays * 24 * time.Hour
		}
		for id, w := range b.watched {
			switch w.Status {
			case IssueDispatched, IssueSigned, IssueReopened:
				if !w.Overdue && !w.Due.IsZero() && now.After(w.Due) {
					out = append(out, SLAAction{Pairing: pid, Issue: id, Type: EventOverdue, Due: w.Due})
				}
			case IssueResponded:
				if !w.Responded.IsZero() && now.Sub(w.Responded) > confirm {
					out = append(out, SLAAction{Pairing: pid, Issue: id, Type: EventClosedUnconfirmed, Due: w.Responded.Add(confirm)})
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
	snap := Snapshot{At: now, IssuesByStatus: map[IssueStatus]int{}, ProjectsByStatus: map[string]int{}}
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
	out := make([]MonthFigures, 0, int(to-from))
	for m := from; m < to; m++ {
		var sum counters
		var visited, assigned int64
		for _, pid := range ids {
			b := l.books[pid]
			v, a := l.coverage(b, pid, m, m+1)
			visited, assigned = visited+v, assigned+a
			if b != nil {
				if c := b.months[m]; c != nil {
					sum.add(c)
				}
			}
		}
		mf := MonthFigures{Month: m, PeriodFigures: sum.period()}
		mf.Coverage = rate(visited, assigned)
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
	for _, w := range b.watched {
		if w.overdueAt(now) {
			s.Overdue.count(now.Sub(w.Due))
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
	cps := p.Counterparties
	in := func(cp string) bool {
		if b == nil {
			return false
		}
		for m, n := range b.visited[cp] {
			if m >= from && m < to && n > 0 {
				return true
			}
		}
		return false
	}
	for i, cp := range cps {
		if cp == "" || slices.Contains(cps[:i], cp) {
			continue // listed twice: counted once
		}
		assigned++
		if in(cp) || len(cps) == 1 && in("") {
			visited++
		}
	}
	return visited, assigned
}
