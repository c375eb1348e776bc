package readmodel

import (
	"slices"
	"strings"

	"github.com/pairsync/pairsync/storage"
	"github.com/pairsync/pairsync/syncproto"
)

// tomb is a deleted record as the Ledger keeps it for the tombstone sweep:
// the version read and the wall time (unix ms, the deleting device's clock)
// of its latest delete.
type tomb struct {
	seq  uint64
	wall int64
}

// noteTomb records whether a record version is a tombstone. A record read
// by a skimming reader holds no delete (syncproto.Skim refuses those), so only
// records decoded in full can be one. Called with l.mu held.
func (b *book) noteTomb(k storage.Key, seq uint64, r syncproto.Record) {
	if len(r.Deletes) == 0 || !r.Deleted() {
		delete(b.tombs, k)
		return
	}
	var wall int64
	for _, d := range r.Deletes {
		wall = max(wall, d.HLC.Wall)
	}
	b.tombs[k] = tomb{seq: seq, wall: wall}
}

// Tombstones returns, per pairing, the records deleted before cutoff (unix
// ms: every delete of the record is earlier) as of the last Refresh, each
// with the Seq of the version read (storage.Records.Purge's precondition),
// in key order. It reads nothing: the Ledger noted them as it read the
// feeds.
func (l *Ledger) Tombstones(cutoff int64) map[string][]storage.Record {
	l.mu.RLock()
	defer l.mu.RUnlock()
	out := map[string][]storage.Record{}
	for pid, b := range l.books {
		for k, t := range b.tombs {
			if t.wall < cutoff {
				out[pid] = append(out[pid], storage.Record{Key: k, Pairing: pid, Seq: t.seq})
			}
		}
		slices.SortFunc(out[pid], func(a, b storage.Record) int {
			return strings.Compare(a.Collection+"/"+a.ID, b.Collection+"/"+b.ID)
		})
	}
	return out
}

// ForgetTombstones drops purged records from the Ledger's tombstones (a
// purge does not move the feed's head, so no Refresh would see it).
func (l *Ledger) ForgetTombstones(pid string, purged []storage.Record) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if b := l.books[pid]; b != nil {
		for _, r := range purged {
			if t, ok := b.tombs[r.Key]; ok && t.seq == r.Seq {
				delete(b.tombs, r.Key)
			}
		}
	}
}
