package pairing

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/pairsync/pairsync/storage"
	"github.com/pairsync/pairsync/syncproto"
)

// PhotoScope is the scope of the server's photo receipts: one record per
// photo (collection CollPhotos, id = its SHA-256) written when the server
// has verified and stored the bytes ("stored": true) and changed when
// garbage collection removes them ("stored": false). Every server process
// tails its gap-free feed, so all of them agree on which photos are stored,
// and a visit counts as complete once every photo of its manifest is. Phones
// never receive it.
const PhotoScope = "_photos"

// CollPhotos is the collection of photo receipts.
const CollPhotos = "photos"

// PhotoReceipt is what a photo receipt says.
type PhotoReceipt struct {
	SHA256 string `json:"sha256"`
	Stored bool   `json:"stored"`
	Size   int64  `json:"size"`
	Type   string `json:"type"`
	Width  int    `json:"width,omitempty"`
	Height int    `json:"height,omitempty"`
}

// photoFields are the fields of synced records that cite photos: manifests
// ([{"sha256": …}]) and hash lists (["…"]).
var photoFields = []string{"photos", "evidence"}

// citedPhotos returns the hashes a record cites (sorted, unique). A deleted
// record keeps citing until it is purged: a keep may bring it back.
func citedPhotos(r syncproto.Record) []string {
	var out []string
	for _, f := range photoFields {
		v := r.Value(f)
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
// before. Called with l.mu held.
func (b *book) cite(r syncproto.Record) {
	key := r.Collection + "/" + r.ID
	for _, sum := range b.cites[key] {
		if b.citations[sum]--; b.citations[sum] <= 0 {
			delete(b.citations, sum)
		}
		if r.Collection == CollVisits {
			unlink(b.visitsBySHA, sum, r.ID)
		}
	}
	delete(b.cites, key)
	sums := citedPhotos(r)
	if len(sums) == 0 {
		return
	}
	b.cites[key] = sums
	for _, sum := range sums {
		b.citations[sum]++
		if r.Collection == CollVisits {
			link(b.visitsBySHA, sum, r.ID)
		}
	}
}

// refreshPhotos reads the photo receipts committed since the last refresh
// and, for each photo whose stored state changed, recomputes the
// contribution of the visits citing it.
func (l *Ledger) refreshPhotos(ctx context.Context) error {
	l.mu.RLock()
	seen := l.photoSeq
	l.mu.RUnlock()
	if head, err := l.records.Head(ctx, PhotoScope); err != nil {
		return fmt.Errorf("pairing: ledger photos: head: %w", err)
	} else if head == seen {
		return nil
	}
	for {
		l.mu.RLock()
		after := l.photoSeq
		l.mu.RUnlock()
		page, err := l.records.Changes(ctx, PhotoScope, after, storage.PageLimit{})
		if err != nil {
			return fmt.Errorf("pairing: ledger photos after %d: %w", after, err)
		}
		changed := map[string]bool{}
		for _, sr := range page.Records {
			r, err := syncproto.DecodeRecord(sr.Data, syncproto.Limits{})
			if err != nil {
				return fmt.Errorf("pairing: ledger photo receipt %s: %w", sr.ID, err)
			}
			var stored bool
			_ = json.Unmarshal(r.Value("stored"), &stored)
			changed[r.ID] = stored && !r.Deleted()
		}
		l.mu.Lock()
		for sum, stored := range changed {
			if l.stored[sum] == stored {
				continue
			}
			if stored {
				l.stored[sum] = true
			} else {
				delete(l.stored, sum)
			}
			for _, b := range l.books {
				for id := range b.visitsBySHA[sum] {
					if e := b.visits[id]; e != nil {
						b.add(id, &e.c, -1)
						e.c = visitContribution(&e.s, l.isStored)
						b.add(id, &e.c, 1)
					}
				}
			}
		}
		l.photoSeq = page.Next
		l.mu.Unlock()
		if !page.More {
			return nil
		}
	}
}

// isStored reports whether a photo is stored. Called with l.mu held.
func (l *Ledger) isStored(sum string) bool { return l.stored[sum] }

// PhotoStored reports whether the server holds a photo (its receipt says
// stored).
func (l *Ledger) PhotoStored(sum string) bool {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.stored[sum]
}

// MissingPhotos returns the hashes of the photos a list cites that are not
// stored, in the list's order.
func (l *Ledger) MissingPhotos(photos []Photo) []string {
	l.mu.RLock()
	defer l.mu.RUnlock()
	missing := []string{}
	for _, p := range photos {
		if !l.stored[p.SHA256] {
			missing = append(missing, p.SHA256)
		}
	}
	return missing
}

// PhotoPairings returns the pairings whose records cite the photo, ordered
// by id: whoever sees one of them may read the photo.
func (l *Ledger) PhotoPairings(sum string) []string {
	l.mu.RLock()
	defer l.mu.RUnlock()
	var out []string
	for pid, b := range l.books {
		if b.citations[sum] > 0 {
			out = append(out, pid)
		}
	}
	slices.Sort(out)
	return out
}

// PhotoCited reports whether any record of any pairing cites the photo.
func (l *Ledger) PhotoCited(sum string) bool {
	l.mu.RLock()
	defer l.mu.RUnlock()
	for _, b := range l.books {
		if b.citations[sum] > 0 {
			return true
		}
	}
	return false
}

// PhotoManifest returns how the records cite a photo: the first manifest
// entry found (declared size and type), if any record carries one.
func (l *Ledger) PhotoManifest(sum string) (Photo, bool) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	for _, b := range l.books {
		for id := range b.visitsBySHA[sum] {
			if e := b.visits[id]; e != nil {
				for _, p := range e.s.Photos {
					if p.SHA256 == sum {
						return p, true
					}
				}
			}
		}
		for _, m := range b.milestones {
			for _, p := range m.s.Evidence {
				if p.SHA256 == sum {
					return p, true
				}
			}
		}
	}
	return Photo{}, false
}
