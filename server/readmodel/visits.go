package readmodel

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/pairsync/pairsync/server/pairing"
	"github.com/pairsync/pairsync/storage"
	"github.com/pairsync/pairsync/syncproto"
)

// Visits are most of the records, so the Ledger keeps of each only what
// the figures, the filters and the order of a list need (visitEntry,
// 48 bytes, strings interned): a list reads the rest of its page's visits
// from storage (FillVisits), and a text query reads the titles of the
// visits that pass the other filters. The photos a visit cites are kept as
// the first 8 bytes of their hashes, in an arena per pairing; whatever
// depends on a whole hash (which pairings cite a photo, whether a visit
// waits for one) is confirmed by reading the visits found from storage.

// sym is an interned string: an index into the Ledger's symbols.
type sym uint32

// symbols interns the strings the entries share (counterparties, modes,
// statuses, people, devices) and the lists of officers. It never forgets
// one: they are few next to the records (never ids or free text). Guarded
// by Ledger.mu.
type symbols struct {
	strs    []string
	ids     map[string]sym
	lists   [][]string
	listIDs map[string]sym
	scratch []byte
}

func newSymbols() *symbols {
	return &symbols{strs: []string{""}, ids: map[string]sym{"": 0}, lists: [][]string{nil}, listIDs: map[string]sym{"": 0}}
}

func (t *symbols) of(b []byte) sym {
	if id, ok := t.ids[string(b)]; ok {
		return id
	}
	s := string(b)
	id := sym(len(t.strs))
	t.strs = append(t.strs, s)
	t.ids[s] = id
	return id
}

func (t *symbols) str(id sym) string { return t.strs[id] }

// list interns a list of strings (nil and empty stay apart).
func (t *symbols) list(ss []string) sym {
	if ss == nil {
		return 0
	}
	k := append(t.scratch[:0], 1)
	for _, s := range ss {
		k = append(k, s...)
		k = append(k, 0)
	}
	t.scratch = k
	if id, ok := t.listIDs[string(k)]; ok {
		return id
	}
	id := sym(len(t.lists))
	l := make([]string, len(ss))
	for i, s := range ss {
		l[i] = t.strs[t.of([]byte(s))]
	}
	t.lists = append(t.lists, l)
	t.listIDs[string(k)] = id
	return id
}

// visitEntry is a live visit as the Ledger keeps it.
type visitEntry struct {
	sec      int64  // visited_at, when fVisitedAt
	seq      uint64 // of the record's version
	nsec     int32
	month    int32 // MonthOf(visited_at)
	cp       sym   // the counterparty field, as stored
	mode     sym
	status   sym // "submitted" when unset
	officers sym // a list
	photoOff uint32
	nCited   uint16 // hashes cited, at photoOff in the book's arena
	nPhotos  uint8  // manifest entries (at most 255 counted)
	flags    uint8
}

const (
	fVisitedAt = 1 << iota
	fLocation
	fPending // a photo of the manifest is not stored: as counted
)

func (e *visitEntry) visitedAt() time.Time {
	if e.flags&fVisitedAt == 0 {
		return time.Time{}
	}
	return time.Unix(e.sec, int64(e.nsec)).UTC()
}

// visitFields are what a visit version tells the Ledger, read from the
// stored bytes (skimVisit) or from a decoded record (visitFieldsOf).
type visitFields struct {
	id                    string
	counterparty, mode    []byte
	status                []byte
	officers              []string
	visitedAt             time.Time
	hasLocation           bool
	photos                []string // the manifest's hashes, as Photos reads them
	cited                 []string // citedPhotos
	deleted               bool
	record                *syncproto.Record // when decoded in full
	officersBuf, photoBuf []string
}

// The fields skimVisit reads: visitWant[vX] is field vX's name, and
// syncproto.Skim puts its entry at Fields[vX].
const (
	vCounterparty = iota
	vMode
	vStatus
	vOfficers
	vVisitedAt
	vLocation
	vPhotos
	vEvidence
	nVisitWant
)

// visitWant are the fields skimVisit reads.
var visitWant = []string{
	vCounterparty: "counterparty", vMode: "mode", vStatus: "status", vOfficers: "officers",
	vVisitedAt: "visited_at", vLocation: "location", vPhotos: "photos", vEvidence: "evidence",
}

// skimVisit reads a visit version without decoding it in full; false: use
// visitFieldsOf.
func skimVisit(data []byte, s *syncproto.Skimmed, v *visitFields) bool {
	if !syncproto.Skim(data, visitWant, s) || string(s.Collection) != pairing.CollVisits {
		return false
	}
	val := func(i int) []byte { return s.Fields[i].Value }
	if val(vEvidence) != nil && present(val(vEvidence)) { // evidence: not a visit field; read it in full
		return false
	}
	if s.Conflicts { // a conflict entry may cite photos (citedPhotos): read it in full
		return false
	}
	*v = visitFields{officersBuf: v.officersBuf[:0], photoBuf: v.photoBuf[:0]}
	v.id = unsafeString(s.ID) // visitMap.put copies what it keeps
	v.counterparty = stringBytes(val(vCounterparty))
	v.mode = stringBytes(val(vMode))
	v.status = stringBytes(val(vStatus))
	if val(vStatus) != nil && v.status == nil && syncproto.RawString(val(vStatus)) != "" {
		return false
	}
	if val(vCounterparty) != nil && v.counterparty == nil && syncproto.RawString(val(vCounterparty)) != "" ||
		val(vMode) != nil && v.mode == nil && syncproto.RawString(val(vMode)) != "" {
		return false
	}
	var ok bool
	if v.officers, ok = plainStrings(val(vOfficers), v.officersBuf); !ok {
		return false
	}
	v.officersBuf = v.officers
	if val(vVisitedAt) != nil {
		v.visitedAt = timeOf(val(vVisitedAt))
	}
	v.hasLocation = present(val(vLocation))
	if v.photos, ok = skimPhotos(val(vPhotos), v.photoBuf); !ok {
		return false
	}
	v.photoBuf = v.photos
	v.cited = v.photos // valid ones, below
	return true
}

// present reports whether a field value is set (absent and null are not).
func present(v []byte) bool { return len(v) > 0 && string(v) != "null" }

// stringBytes returns the bytes of a JSON string without escapes (nil
// otherwise, and for "").
func stringBytes(v []byte) []byte {
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		in := v[1 : len(v)-1]
		if bytes.IndexByte(in, '\\') < 0 && syncproto.PlainText(in) {
			if len(in) == 0 {
				return nil
			}
			return in
		}
	}
	return nil
}

// plainStrings reads a JSON array of strings without escapes (as
// strsField would: nil when absent); false when it is anything else.
func plainStrings(v []byte, buf []string) ([]string, bool) {
	if v == nil || string(v) == "null" {
		return nil, true
	}
	if len(v) < 2 || v[0] != '[' || v[len(v)-1] != ']' {
		return nil, false
	}
	out := buf[:0]
	i := syncproto.SkipWS(v, 1)
	if i < len(v) && v[i] == ']' {
		return []string{}, true
	}
	for {
		s, j, ok := syncproto.SkimPlainString(v, i)
		if !ok || !syncproto.PlainText(s) {
			return nil, false
		}
		out = append(out, unsafeString(s))
		j = syncproto.SkipWS(v, j)
		if j >= len(v) {
			return nil, false
		}
		if v[j] == ']' {
			return out, j == len(v)-1
		}
		if v[j] != ',' {
			return nil, false
		}
		i = j + 1
	}
}

// skimPhotos reads the hashes of a photo manifest as Photos would, when
// every entry is an object of known keys with plain values; false
// otherwise.
func skimPhotos(v []byte, buf []string) ([]string, bool) {
	if v == nil || string(v) == "null" {
		return nil, true
	}
	out := buf[:0]
	ok := syncproto.EachElement(v, func(entry []byte) bool {
		sum := ""
		ok := syncproto.EachMember(entry, func(k, val []byte) bool {
			switch string(k) {
			case "sha256":
				s, _, ok := syncproto.SkimPlainString(val, 0)
				if !ok || !syncproto.PlainText(s) {
					return false
				}
				sum = unsafeString(s)
			case "type":
				_, _, ok := syncproto.SkimPlainString(val, 0)
				return ok
			case "taken_at":
				var t time.Time
				return string(val) == "null" || t.UnmarshalJSON(val) == nil
			case "size", "width", "height", "lat", "lng":
				return json.Valid(val) && val[0] != '"' && val[0] != '{' && val[0] != '['
			default:
				return false
			}
			return true
		})
		out = append(out, sum)
		return ok
	})
	if !ok {
		return nil, false
	}
	return out, true
}

// visitFieldsOf reads a decoded visit version.
func visitFieldsOf(r *syncproto.Record, v *visitFields) {
	*v = visitFields{id: r.ID, record: r, deleted: r.Deleted()}
	v.counterparty = []byte(pairing.Str(*r, "counterparty"))
	v.mode = []byte(pairing.Str(*r, "mode"))
	v.status = []byte(pairing.Str(*r, "status"))
	v.officers = strsField(*r, "officers")
	v.visitedAt = pairing.TimeField(*r, "visited_at")
	v.hasLocation = present(r.Value("location"))
	for _, p := range pairing.Photos(*r, "photos") {
		v.photos = append(v.photos, p.SHA256)
	}
	if v.photos == nil && r.Value("photos") != nil {
		v.photos = []string{}
	}
	v.cited = citedPhotos(*r)
}

// timeOf reads a time value as timeField does.
func timeOf(v []byte) time.Time {
	s := syncproto.RawString(v)
	if s == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t.UTC()
}

// pfx is the first 8 bytes of a hash written in hex (0, false if it is
// not one).
func pfx(sum string) (uint64, bool) {
	if !storage.ValidSHA256(sum) {
		return 0, false
	}
	var b [8]byte
	if _, err := hex.Decode(b[:], []byte(sum[:16])); err != nil {
		return 0, false
	}
	return binary.BigEndian.Uint64(b[:]), true
}

// sumKey is a hash as the stored set keeps it.
func sumKey(sum string) ([32]byte, bool) {
	var k [32]byte
	if !storage.ValidSHA256(sum) {
		return k, false
	}
	_, err := hex.Decode(k[:], []byte(sum))
	return k, err == nil
}

// applyVisit takes in a visit version. Called with l.mu held.
func (l *Ledger) applyVisit(b *book, v *visitFields, seq uint64) {
	if old, ok := b.visits.get(v.id); ok {
		b.addVisit(&old, l.syms, -1)
		b.visits.del(v.id)
		b.dropPhotos(&old)
	}
	b.uncite(pairing.CollVisits, v.id)
	if v.deleted {
		if v.record != nil {
			b.cite(*v.record) // a deleted record cites until purged
		}
		return
	}
	e := visitEntry{seq: seq, cp: l.syms.of(v.counterparty), mode: l.syms.of(v.mode), officers: l.syms.list(v.officers)}
	if len(v.status) == 0 {
		e.status = l.syms.of([]byte("submitted"))
	} else {
		e.status = l.syms.of(v.status)
	}
	if !v.visitedAt.IsZero() {
		e.flags |= fVisitedAt
		e.sec, e.nsec, e.month = v.visitedAt.Unix(), int32(v.visitedAt.Nanosecond()), int32(MonthOf(v.visitedAt))
	}
	if v.hasLocation {
		e.flags |= fLocation
	}
	e.nPhotos = uint8(min(len(v.photos), 255))
	for _, p := range v.photos {
		if !l.isStored(p) {
			e.flags |= fPending
			break
		}
	}
	// The arena holds what the visit cites and the hashes of its manifest
	// (the same, unless the manifest is malformed).
	e.photoOff = uint32(len(b.photoPfx))
	for i, list := range [][]string{v.cited, v.photos} {
		if i == 1 && len(v.cited) > 0 && len(v.photos) > 0 && &v.photos[0] == &v.cited[0] {
			break
		}
		for _, s := range list {
			if p, ok := pfx(s); ok && !b.citesPfx(&e, p) && e.nCited < 1<<16-1 {
				b.photoPfx = append(b.photoPfx, p)
				e.nCited++
			}
		}
	}
	b.visits.put(v.id, e)
	b.addVisit(&e, l.syms, 1)
}

// dropPhotos forgets what a visit cited; the arena is compacted when half
// of it is dead.
func (b *book) dropPhotos(e *visitEntry) {
	if e.nCited == 0 {
		return
	}
	b.photoDead += int(e.nCited)
	if b.photoDead < 1024 || b.photoDead*2 < len(b.photoPfx) {
		return
	}
	arena := make([]uint64, 0, len(b.photoPfx)-b.photoDead)
	b.visits.update(func(ve *visitEntry) {
		if ve.nCited == 0 {
			return
		}
		off := uint32(len(arena))
		arena = append(arena, b.photoPfx[ve.photoOff:ve.photoOff+uint32(ve.nCited)]...)
		ve.photoOff = off
	})
	b.photoPfx, b.photoDead = arena, 0
	e.nCited = 0
}

// citesPfx reports whether a visit cites a hash of the prefix.
func (b *book) citesPfx(e *visitEntry, p uint64) bool {
	return slices.Contains(b.photoPfx[e.photoOff:e.photoOff+uint32(e.nCited)], p)
}

// addVisit adds (sign 1) or subtracts (sign -1) a visit's contribution.
// Called with l.mu held.
func (b *book) addVisit(e *visitEntry, syms *symbols, sign int64) {
	if e.flags&fVisitedAt == 0 {
		return
	}
	m := Month(e.month)
	cell := b.months[m]
	if cell == nil {
		cell = new(counters)
		b.months[m] = cell
	}
	cell[cVisits] += sign
	if e.flags&fLocation != 0 && e.nPhotos > 0 {
		cell[cVisitsEvidence] += sign
	}
	if syms.str(e.status) == "returned" {
		cell[cVisitsReturned] += sign
	}
	if e.flags&fPending != 0 {
		cell[cVisitsPending] += sign
	}
	if cell.zero() {
		delete(b.months, m)
	}
	cp := syms.str(e.cp)
	ms := b.visited[cp]
	if ms == nil {
		ms = map[Month]int{}
		b.visited[cp] = ms
	}
	ms[m] += int(sign)
	if ms[m] == 0 {
		delete(ms, m)
		if len(ms) == 0 {
			delete(b.visited, cp)
		}
	}
}

// visitOut is a visit's summary as the Ledger keeps it: FillVisits reads
// the rest. Called with l.mu held.
func (l *Ledger) visitOut(id string, e *visitEntry, p pairing.Pairing) VisitSummary {
	return VisitSummary{
		ID: id, Pairing: p.ID, Counterparty: resolveCounterparty(l.syms.str(e.cp), p),
		Mode: l.syms.str(e.mode), Status: l.syms.str(e.status), Officers: slices.Clone(l.syms.lists[e.officers]),
		VisitedAt: e.visitedAt(), HasLocation: e.flags&fLocation != 0, Seq: e.seq,
	}
}

// Visit returns a visit's summary, filled from storage (FillVisits).
func (l *Ledger) Visit(ctx context.Context, id string) (VisitSummary, bool, error) {
	l.mu.RLock()
	var v VisitSummary
	ok := false
	for pid, b := range l.books {
		if e, found := b.visits.get(id); found {
			v, ok = l.visitOut(id, &e, l.pairing(pid)), true
			break
		}
	}
	l.mu.RUnlock()
	if !ok {
		return VisitSummary{}, false, nil
	}
	vs := []VisitSummary{v}
	if err := l.FillVisits(ctx, vs); err != nil {
		return VisitSummary{}, false, err
	}
	return vs[0], true, nil
}

// Visits lists the visits of the pairings that pass the filter, newest
// first (VisitedAt descending, then ID). The summaries hold what the
// Ledger keeps (not Title, ReceivedAt, Photos, Issues, ReturnComment: see
// FillVisits). A filter with a Query reads the titles of the visits that
// pass the rest of it from storage (an administrator's search, not a
// dashboard's).
func (l *Ledger) Visits(ctx context.Context, pairings []string, f Filter) ([]VisitSummary, error) {
	l.mu.RLock()
	var out []VisitSummary
	for _, pid := range unique(pairings) {
		b := l.books[pid]
		if b == nil {
			continue
		}
		p := l.pairing(pid)
		for vid, e := range b.visits.all() {
			if !f.From.IsZero() || !f.To.IsZero() {
				if !f.inPeriod(e.visitedAt()) {
					continue
				}
			}
			switch {
			case f.Status != "" && l.syms.str(e.status) != f.Status,
				f.Counterparty != "" && resolveCounterparty(l.syms.str(e.cp), p) != f.Counterparty,
				f.Officer != "" && !slices.Contains(l.syms.lists[e.officers], f.Officer),
				f.Category != "", f.Overdue:
				continue
			}
			out = append(out, l.visitOut(vid.String(), &e, p))
		}
	}
	l.mu.RUnlock()
	if f.Query != "" {
		kept := out[:0]
		for _, v := range out {
			r, err := l.records.Get(ctx, storage.Key{Collection: pairing.CollVisits, ID: v.ID})
			if errors.Is(err, storage.ErrNotFound) {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("pairing: visit %s: %w", v.ID, err)
			}
			rec, err := syncproto.DecodeRecord(r.Data, syncproto.Limits{})
			if err != nil {
				return nil, fmt.Errorf("pairing: visit %s: %w", v.ID, err)
			}
			if f.matchQuery(pairing.Str(rec, "title")) {
				kept = append(kept, v)
			}
		}
		out = kept
	}
	slices.SortFunc(out, func(a, b VisitSummary) int {
		return cmp.Or(b.VisitedAt.Compare(a.VisitedAt), strings.Compare(a.ID, b.ID))
	})
	return out, nil
}

// FillVisits reads from storage what the Ledger does not keep of the
// visits (Title, ReceivedAt, Photos, Issues, ReturnComment): call it on a
// page of a list. A store that reads many records at once
// (storage.GetMany: bolt and MongoDB) is asked once for the page, so a
// list costs the same round trips whatever its length; another is asked a
// record at a time. A visit deleted since is left as it is.
func (l *Ledger) FillVisits(ctx context.Context, vs []VisitSummary) error {
	many, ok := l.records.(storage.GetMany)
	if !ok || len(vs) < 2 {
		for i := range vs {
			sr, err := l.records.Get(ctx, storage.Key{Collection: pairing.CollVisits, ID: vs[i].ID})
			if errors.Is(err, storage.ErrNotFound) {
				continue
			}
			if err != nil {
				return fmt.Errorf("pairing: visit %s: %w", vs[i].ID, err)
			}
			if err := vs[i].fillFrom(sr.Data); err != nil {
				return err
			}
		}
		return nil
	}
	keys := make([]storage.Key, len(vs))
	for i := range vs {
		keys[i] = storage.Key{Collection: pairing.CollVisits, ID: vs[i].ID}
	}
	got, err := many.GetMany(ctx, keys)
	if err != nil {
		return fmt.Errorf("pairing: visits: %w", err)
	}
	for i := range vs {
		if sr, ok := got[keys[i]]; ok {
			if err := vs[i].fillFrom(sr.Data); err != nil {
				return err
			}
		}
	}
	return nil
}

// fillFrom is Fill from the visit's stored bytes.
func (v *VisitSummary) fillFrom(data []byte) error {
	r, err := syncproto.DecodeRecord(data, syncproto.Limits{})
	if err != nil {
		return fmt.Errorf("pairing: visit %s: %w", v.ID, err)
	}
	v.Fill(r)
	return nil
}

// Fill sets what the Ledger does not keep of a visit (Title, ReceivedAt,
// Photos, Issues, ReturnComment) from its record.
func (v *VisitSummary) Fill(r syncproto.Record) {
	v.Title, v.ReceivedAt, v.Photos = pairing.Str(r, "title"), pairing.TimeField(r, "received_at"), pairing.Photos(r, "photos")
	v.Issues, v.ReturnComment = strsField(r, "issues"), pairing.Str(r, "return_comment")
}

// visitsCiting returns the visits of the book that may cite the photo
// (their prefix matches). Called with l.mu held.
func (b *book) visitsCiting(p uint64) []string {
	if !slices.Contains(b.photoPfx, p) {
		return nil
	}
	var out []string
	for id, e := range b.visits.all() {
		if e.nCited > 0 && b.citesPfx(&e, p) {
			out = append(out, id.String())
		}
	}
	slices.Sort(out)
	return out
}

// readVisit reads a visit from storage (false when it is gone).
func (l *Ledger) readVisit(ctx context.Context, id string) (syncproto.Record, uint64, bool, error) {
	sr, err := l.records.Get(ctx, storage.Key{Collection: pairing.CollVisits, ID: id})
	if errors.Is(err, storage.ErrNotFound) {
		return syncproto.Record{}, 0, false, nil
	}
	if err != nil {
		return syncproto.Record{}, 0, false, fmt.Errorf("pairing: visit %s: %w", id, err)
	}
	r, err := syncproto.DecodeRecord(sr.Data, syncproto.Limits{})
	if err != nil {
		return syncproto.Record{}, 0, false, fmt.Errorf("pairing: visit %s: %w", id, err)
	}
	return r, sr.Seq, true, nil
}
