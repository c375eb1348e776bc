package server

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/pairsync/pairsync/server/pairing"
	"github.com/pairsync/pairsync/storage"
	"github.com/pairsync/pairsync/syncproto"
)

// SweepTombstones purges, in every pairing, the records deleted before the
// given time (the tombstone horizon): they leave the store and the changes
// feed, and the pairing's horizon rises so that a device whose cursor is
// older gets resync_required instead of keeping a record that no longer
// exists. A record whose delete is contested (an edit outside the delete's
// context keeps it alive) is not deleted, so it is never purged. Safe to run
// in several processes at once: a record changed since it was read is left
// for the next sweep. It returns how many records it purged.
//
// It reads no pairing's records: the ledger noted the tombstones as it read
// the feeds (readmodel.Ledger.Tombstones), and Purge's compare-and-set on each
// one's Seq refuses any changed since. Only the directory scope (pairings
// and counterparties, which the ledger does not keep) is read whole.
func (s *Server) SweepTombstones(ctx context.Context, before time.Time) (int, error) {
	if err := s.dir.Refresh(ctx); err != nil {
		return 0, err
	}
	if err := s.ledger.Load(ctx); err != nil {
		return 0, err
	}
	cutoff := before.UnixMilli()
	victims, err := s.directoryTombstones(ctx, cutoff)
	if err != nil {
		return 0, err
	}
	byPairing := s.ledger.Tombstones(cutoff)
	byPairing[pairing.DirectoryScope] = victims
	pids := make([]string, 0, len(byPairing))
	for pid := range byPairing {
		pids = append(pids, pid)
	}
	slices.Sort(pids)
	purged := 0
	for _, pid := range pids {
		victims := byPairing[pid]
		for len(victims) > 0 {
			n := min(len(victims), 500)
			err := s.store.Purge(ctx, pid, victims[:n])
			switch {
			case errors.Is(err, storage.ErrConflict):
				// Changed under us: the next sweep looks again.
			case err != nil:
				return purged, err
			default:
				purged += n
				s.ledger.ForgetTombstones(pid, victims[:n])
			}
			victims = victims[n:]
		}
	}
	return purged, nil
}

// directoryTombstones reads the directory scope for records deleted before
// cutoff (unix ms).
func (s *Server) directoryTombstones(ctx context.Context, cutoff int64) ([]storage.Record, error) {
	var victims []storage.Record
	for after := uint64(0); ; {
		page, err := s.store.Changes(ctx, pairing.DirectoryScope, after, storage.PageLimit{})
		if err != nil {
			return nil, err
		}
		for _, sr := range page.Records {
			if !syncproto.MayBeDeleted(sr.Data) {
				continue // most records: no need to decode them
			}
			r, err := syncproto.DecodeRecord(sr.Data, syncproto.Limits{})
			if err != nil {
				return nil, fmt.Errorf("stored %s/%s: %w", sr.Collection, sr.ID, err)
			}
			if r.Deleted() && deletedBefore(r, cutoff) {
				victims = append(victims, storage.Record{Key: sr.Key, Seq: sr.Seq})
			}
		}
		after = page.Next
		if !page.More {
			return victims, nil
		}
	}
}

// deletedBefore reports whether every delete of r happened before cutoff
// (unix ms, by the deleting device's clock: a clock days off moves a purge
// by days, which the horizon of months absorbs).
func deletedBefore(r syncproto.Record, cutoff int64) bool {
	for _, d := range r.Deletes {
		if d.HLC.Wall >= cutoff {
			return false
		}
	}
	return len(r.Deletes) > 0
}
