package readmodel

import (
	"cmp"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/pairsync/pairsync/server/pairing"
	"github.com/pairsync/pairsync/storage"
	"github.com/pairsync/pairsync/syncproto"
)

// photoFields are the fields of synced records that cite photos: manifests
// ([{"sha256": …}]) and hash lists (["…"]).
var photoFields = []string{"photos", "evidence"}

// citedPhotos returns the hashes a record cites (sorted, unique). A deleted
// record keeps citing until it is purged: a keep may bring it back. A
// conflict entry cites too: the person resolving the conflict may choose
// its value, so its photos must still be there.
func citedPhotos(r syncproto.Record) []string {
	var out []string
	var values []json.RawMessage
	for _, f := range photoFields {
		values = append(values, r.Value(f))
		for _, c := range r.ConflictsOf(f) {
			values = append(values, c.Value)
		}
	}
	for _, v := range values {
		if len(v) == 0 {
			continue
		}
		var manifest []struct {
			SHA256 string `json:"sha256"`
		}
		if json.Unmarshal(v, &manifest) == nil {
			for _, p := range manifest {
				if storage.ValidSHA256(p.SHA256) {
					out = append(out, p.SHA256)
				}
			}
			continue
		}
		var sums []string
		if json.Unmarshal(v, &sums) == nil {
			for _, s := range sums {
				if storage.ValidSHA256(s) {
					out = append(out, s)
				}
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// cite records which photos a record cites, replacing what it cited
// before (live visits keep theirs in their entry instead). Called with
// l.mu held.
func (b *book) cite(r syncproto.Record) {
	b.uncite(r.Collection, r.ID)
	sums := citedPhotos(r)
	if len(sums) == 0 {
		return
	}
	b.cites[r.Collection+"/"+r.ID] = sums
	for _, sum := range sums {
		b.citations[sum]++
	}
}

// uncite forgets what cite recorded of a record. Called with l.mu held.
func (b *book) uncite(coll, id string) {
	if len(b.cites) == 0 {
		return
	}
	key := coll + "/" + id
	for _, sum := range b.cites[key] {
		if b.citations[sum]--; b.citations[sum] <= 0 {
			delete(b.citations, sum)
		}
	}
	delete(b.cites, key)
}

// refreshPhotos reads the photo receipts committed since the last refresh
// and, for each photo whose stored state changed, recomputes whether the
// visits citing it still wait for a photo. Receipts whose id is not a
// SHA-256 in hex (the server writes none) are ignored.
func (l *Ledger) refreshPhotos(ctx context.Context) error {
	l.mu.RLock()
	seen := l.photoSeq
	l.mu.RUnlock()
	if head, err := l.records.Head(ctx, pairing.PhotoScope); err != nil {
		return fmt.Errorf("pairing: ledger photos: head: %w", err)
	} else if head == seen {
		return nil
	}
	for {
		l.mu.RLock()
		after := l.photoSeq
		l.mu.RUnlock()
		page, err := l.records.Changes(ctx, pairing.PhotoScope, after, storage.PageLimit{})
		if err != nil {
			return fmt.Errorf("pairing: ledger photos after %d: %w", after, err)
		}
		changed := map[[32]byte]bool{}
		grants := map[[32]byte][]string{}
		for _, sr := range page.Records {
			if sr.Collection != pairing.CollPhotos && sr.Collection != pairing.CollPhotoGrants {
				continue // the migrations' records (CollMigrations)
			}
			r, err := syncproto.DecodeRecord(sr.Data, syncproto.Limits{})
			if err != nil {
				return fmt.Errorf("pairing: ledger photo receipt %s: %w", sr.ID, err)
			}
			if sr.Collection == pairing.CollPhotoGrants {
				if k, ok := sumKey(pairing.Str(r, "sha256")); ok && !r.Deleted() && pairing.Str(r, "pairing") != "" {
					grants[k] = append(grants[k], pairing.Str(r, "pairing"))
				}
				continue
			}
			var stored bool
			_ = json.Unmarshal(r.Value("stored"), &stored)
			if k, ok := sumKey(r.ID); ok {
				changed[k] = stored && !r.Deleted()
			}
		}
		l.mu.Lock()
		for k, pids := range grants {
			if l.granted[k] == nil {
				l.granted[k] = map[string]struct{}{}
			}
			for _, pid := range pids {
				l.granted[k][pid] = struct{}{}
			}
		}
		moved := map[uint64]struct{}{}
		for k, stored := range changed {
			if _, now := l.stored[k]; now == stored {
				continue
			}
			if stored {
				l.stored[k] = struct{}{}
			} else {
				delete(l.stored, k)
			}
			moved[binary.BigEndian.Uint64(k[:8])] = struct{}{}
		}
		var cands []visitRef
		if len(moved) > 0 {
			for pid, b := range l.books {
				hit := false
				for _, p := range b.photoPfx {
					if _, ok := moved[p]; ok {
						hit = true
						break
					}
				}
				if !hit {
					continue
				}
				for id, e := range b.visits.all() {
					for _, p := range b.photoPfx[e.photoOff : e.photoOff+uint32(e.nCited)] {
						if _, ok := moved[p]; ok {
							cands = append(cands, visitRef{pid, id.String()})
							break
						}
					}
				}
			}
		}
		l.photoSeq = page.Next
		l.mu.Unlock()
		if err := l.recheckPending(ctx, cands); err != nil {
			return err
		}
		if !page.More {
			return nil
		}
	}
}

type visitRef struct{ pairing, id string }

// recheckPending reads the visits from storage and recomputes whether each
// waits for a photo. A visit changed since the Ledger read it is left to
// the refresh of its pairing, which reads it with the photos stored then.
func (l *Ledger) recheckPending(ctx context.Context, cands []visitRef) error {
	for _, c := range cands {
		r, seq, found, err := l.readVisit(ctx, c.id)
		if err != nil {
			return err
		}
		if !found {
			continue
		}
		l.mu.Lock()
		if b := l.books[c.pairing]; b != nil {
			if e, ok := b.visits.get(c.id); ok && e.seq == seq {
				pending := false
				for _, p := range pairing.Photos(r, "photos") {
					if !l.isStored(p.SHA256) {
						pending = true
						break
					}
				}
				if pending != (e.flags&fPending != 0) {
					b.addVisit(&e, l.syms, -1)
					e.flags ^= fPending
					b.addVisit(&e, l.syms, 1)
					b.visits.put(c.id, e)
				}
			}
		}
		l.mu.Unlock()
	}
	return nil
}

// isStored reports whether a photo is stored. Called with l.mu held.
func (l *Ledger) isStored(sum string) bool {
	k, ok := sumKey(sum)
	if !ok {
		return false
	}
	_, stored := l.stored[k]
	return stored
}

// PhotoStored reports whether the server holds a photo (its receipt says
// stored).
func (l *Ledger) PhotoStored(sum string) bool {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.isStored(sum)
}

// MissingPhotos returns the hashes of the photos a list cites that are not
// stored, in the list's order.
func (l *Ledger) MissingPhotos(photos []pairing.Photo) []string {
	l.mu.RLock()
	defer l.mu.RUnlock()
	missing := []string{}
	for _, p := range photos {
		if !l.isStored(p.SHA256) {
			missing = append(missing, p.SHA256)
		}
	}
	return missing
}

// citing returns, per pairing, whether a record other than a live visit
// cites the photo, and the live visits that may cite it (the prefix of the
// hash matches: read them to know).
func (l *Ledger) citing(sum string) (others map[string]bool, visits []visitRef) {
	p, ok := pfx(sum)
	l.mu.RLock()
	defer l.mu.RUnlock()
	others = map[string]bool{}
	for pid, b := range l.books {
		if b.citations[sum] > 0 {
			others[pid] = true
		}
		if ok {
			for _, id := range b.visitsCiting(p) {
				visits = append(visits, visitRef{pid, id})
			}
		}
	}
	slices.SortFunc(visits, func(a, b visitRef) int { return cmp.Or(cmp.Compare(a.pairing, b.pairing), cmp.Compare(a.id, b.id)) })
	return others, visits
}

// PhotoPairings returns the pairings whose records cite the photo, ordered
// by id: whoever sees one of them may read the photo.
func (l *Ledger) PhotoPairings(ctx context.Context, sum string) ([]string, error) {
	others, visits := l.citing(sum)
	for _, v := range visits {
		if others[v.pairing] {
			continue
		}
		r, _, found, err := l.readVisit(ctx, v.id)
		if err != nil {
			return nil, err
		}
		if found && slices.Contains(citedPhotos(r), sum) {
			others[v.pairing] = true
		}
	}
	out := make([]string, 0, len(others))
	for pid := range others {
		out = append(out, pid)
	}
	slices.Sort(out)
	return out, nil
}

// PhotoCiters returns, per pairing whose records cite the photo, whether a
// record other than a visit cites it (what contacts, who do not receive
// visits, may see it through) and whether the pairing holds a grant to
// open its bytes.
func (l *Ledger) PhotoCiters(ctx context.Context, sum string) (map[string]PhotoCitation, error) {
	others, visits := l.citing(sum)
	out := map[string]PhotoCitation{}
	for pid, ok := range others {
		if ok {
			out[pid] = PhotoCitation{Other: true}
		}
	}
	for _, v := range visits {
		if _, done := out[v.pairing]; done {
			continue
		}
		r, _, found, err := l.readVisit(ctx, v.id)
		if err != nil {
			return nil, err
		}
		if found && slices.Contains(citedPhotos(r), sum) {
			out[v.pairing] = PhotoCitation{}
		}
	}
	k, ok := sumKey(sum)
	l.mu.RLock()
	defer l.mu.RUnlock()
	for pid, c := range out {
		if _, g := l.granted[k][pid]; ok && g {
			c.Granted = true
			out[pid] = c
		}
	}
	return out, nil
}

// PhotoCitation is how one pairing cites a photo (PhotoCiters).
type PhotoCitation struct {
	Other   bool // a record other than a visit cites it
	Granted bool // the pairing's citations open the bytes
}

// PhotoCited reports whether any record of any pairing cites the photo.
func (l *Ledger) PhotoCited(ctx context.Context, sum string) (bool, error) {
	pids, err := l.PhotoPairings(ctx, sum)
	return len(pids) > 0, err
}

// PhotoManifest returns how the records cite a photo: the first manifest
// entry found (declared size and type), if any record carries one.
func (l *Ledger) PhotoManifest(ctx context.Context, sum string) (pairing.Photo, bool, error) {
	_, visits := l.citing(sum)
	for _, v := range visits {
		r, _, found, err := l.readVisit(ctx, v.id)
		if err != nil {
			return pairing.Photo{}, false, err
		}
		if !found {
			continue
		}
		for _, p := range pairing.Photos(r, "photos") {
			if p.SHA256 == sum {
				return p, true, nil
			}
		}
	}
	var others []storage.Key
	l.mu.RLock()
	for _, b := range l.books {
		for _, m := range b.milestones {
			for _, p := range m.s.Evidence {
				if p.SHA256 == sum {
					l.mu.RUnlock()
					return p, true, nil
				}
			}
		}
		// Other records citing it (a project's or an issue's own photos):
		// read below, without the lock.
		if b.citations[sum] > 0 {
			for key, sums := range b.cites {
				if coll, id, ok := strings.Cut(key, "/"); ok && coll != pairing.CollMilestones && slices.Contains(sums, sum) {
					others = append(others, storage.Key{Collection: coll, ID: id})
				}
			}
		}
	}
	l.mu.RUnlock()
	slices.SortFunc(others, func(a, b storage.Key) int {
		return cmp.Or(cmp.Compare(a.Collection, b.Collection), cmp.Compare(a.ID, b.ID))
	})
	for _, k := range others {
		sr, err := l.records.Get(ctx, k)
		if errors.Is(err, storage.ErrNotFound) {
			continue
		}
		if err != nil {
			return pairing.Photo{}, false, fmt.Errorf("pairing: photo manifest of %s/%s: %w", k.Collection, k.ID, err)
		}
		r, err := syncproto.DecodeRecord(sr.Data, syncproto.Limits{})
		if err != nil {
			return pairing.Photo{}, false, fmt.Errorf("pairing: photo manifest of %s/%s: %w", k.Collection, k.ID, err)
		}
		for _, f := range photoFields {
			for _, p := range pairing.Photos(r, f) {
				if p.SHA256 == sum && p.Type != "" {
					return p, true, nil
				}
			}
		}
	}
	return pairing.Photo{}, false, nil
}
