package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/pairsync/pairsync/server/imaging"
	"github.com/pairsync/pairsync/server/pairing"
	"github.com/pairsync/pairsync/storage"
	"github.com/pairsync/pairsync/syncproto"
)

// Photo collection removes the photos no record cites. A phone drops its
// copy of a photo once the server answers "stored", so the collection must
// never remove a photo after such an answer to a phone whose record cites
// it — and a record may cite it on any replica at any moment of a run. The
// run therefore goes in two steps over the photo's receipt (the record in
// pairing.PhotoScope), each a compare-and-set:
//
//  1. mark: an uncited photo past the grace period gets "marked": true;
//  2. after the marks, the ledger is read again: a photo cited now is
//     unmarked; one still uncited gets "stored": false, only if its receipt
//     is still the version the mark wrote, and only then is the object
//     deleted.
//
// Whoever answers "stored" to a phone (keepPhoto) reads the receipt from
// storage, not from the ledger, and unmarks a marked photo first by a
// compare-and-set of its own: of the two writes on the marked version one
// wins, so either the removal fails or the phone is told to send the photo
// again (its copy is kept). A phone asks only after its record committed,
// so a record committed before a mark is seen by step 2's read, and one
// committed after it meets the mark.

// maintenanceLease is the lease of the maintenance pass (RunMaintenance)
// and of the administrators' photo collection.
const maintenanceLease = "maintenance"

// photoReceiptState is what a photo's receipt says.
type photoReceiptState int

const (
	receiptNone   photoReceiptState = iota // no receipt
	receiptStored                          // stored
	receiptMarked                          // stored, marked by a collection for removal
	receiptGone                            // removed (or being removed) by a collection
)

func receiptState(r syncproto.Record, seq uint64) photoReceiptState {
	if seq == 0 || r.Value("stored") == nil && !r.Deleted() {
		// No receipt, or a photo record that never said stored (its grants
		// written first): nothing has decided a removal.
		return receiptNone
	}
	var stored, marked bool
	_ = json.Unmarshal(r.Value("stored"), &stored)
	_ = json.Unmarshal(r.Value("marked"), &marked)
	switch {
	case !stored || r.Deleted():
		return receiptGone
	case marked:
		return receiptMarked
	}
	return receiptStored
}

// errPhotoRemoving: the photo store still holds a photo whose removal a
// collection has decided; the phone keeps its copy and sends it once the
// object is gone.
func errPhotoRemoving(sum string) *Error {
	return &Error{Status: http.StatusServiceUnavailable, RetryAfter: 30 * time.Second,
		Wire: syncproto.Error{Code: syncproto.CodeUnavailable, Field: "photo",
			Message: fmt.Sprintf("photo %s is being removed by the photo collection; keep it and send it again shortly", sum)}}
}

// keepPhoto is called before a phone is told that a photo the photo store
// holds is stored: the receipt, read from storage, must say stored and not
// marked (a marked one is unmarked here, winning against the collection's
// removal), or, missing (a crash between storing and the receipt), is
// written. A photo whose removal is decided answers errPhotoRemoving.
func (s *Server) keepPhoto(ctx context.Context, sum string) error {
	var state photoReceiptState
	values := map[string]json.RawMessage{"marked": json.RawMessage("false")}
	_, _, _, err := s.writeRecordWhen(ctx, pairing.CollPhotos, sum, pairing.PhotoScope, values, func(cur syncproto.Record, seq uint64) bool {
		state = receiptState(cur, seq)
		return state == receiptMarked
	})
	if err != nil {
		return err
	}
	switch state {
	case receiptGone:
		return errPhotoRemoving(sum)
	case receiptNone:
		return s.firstReceipt(ctx, sum)
	}
	return nil
}

// firstReceipt writes the receipt of a photo the store holds and no
// receipt names (a crash between storing and the receipt), unless a
// receipt appeared meanwhile.
func (s *Server) firstReceipt(ctx context.Context, sum string) error {
	pi, err := s.photos.StatPhoto(ctx, sum)
	if err != nil {
		return err
	}
	typ := ""
	if rc, _, err := s.photos.OpenPhoto(ctx, sum); err == nil {
		head := make([]byte, imaging.HeadSize)
		n, _ := readFull(rc, head)
		rc.Close()
		if i, err := imaging.Inspect(head[:n]); err == nil {
			typ = i.Type
		}
	}
	values, err := jsonValues(map[string]any{"sha256": sum, "stored": true, "size": pi.Size, "type": typ,
		"at": s.now().UTC().Format(time.RFC3339), "grants": true, "marked": false})
	if err != nil {
		return err
	}
	var state photoReceiptState
	if _, _, _, err := s.writeRecordWhen(ctx, pairing.CollPhotos, sum, pairing.PhotoScope, values, func(cur syncproto.Record, seq uint64) bool {
		state = receiptState(cur, seq)
		return state == receiptNone
	}); err != nil {
		return err
	}
	if state == receiptGone {
		return errPhotoRemoving(sum)
	}
	return nil
}

// gcReport is what a photo collection found (and, unless a dry run, did).
type gcReport struct {
	DryRun bool      `json:"dry_run"`
	Grace  string    `json:"grace"`
	Listed int       `json:"listed"`
	Cited  int       `json:"cited"`
	Young  int       `json:"young"` // uncited but stored less than Grace ago
	Orphan []gcPhoto `json:"orphans"`
	Bytes  int64     `json:"bytes"`
	// Kept are photos marked for removal that a record cited, or a phone
	// was told were stored, before the removal: kept.
	Kept int `json:"kept"`
	// Uploads are pending uploads nobody finished for a day.
	Uploads int `json:"abandoned_uploads"`
}

type gcPhoto struct {
	SHA256   string    `json:"sha256"`
	Size     int64     `json:"size"`
	StoredAt time.Time `json:"stored_at"`
}

// CollectPhotos removes photos no record cites (a conflict entry's value
// cites too) that were stored more than the grace period ago (never a photo
// a record cites, even a deleted record not yet purged, nor one a phone was
// told is stored after the run began), and pending uploads abandoned for a
// day. A dry run only reports. Callers other than RunMaintenance hold the
// maintenance lease (collectPhotos); runs in one process take turns.
func (s *Server) CollectPhotos(ctx context.Context, dryRun bool) (gcReport, error) {
	s.photoGC.Lock()
	defer s.photoGC.Unlock()
	rep := gcReport{DryRun: dryRun, Grace: s.cfg.PhotoGCGrace.String(), Orphan: []gcPhoto{}}
	if err := s.dir.Refresh(ctx); err != nil {
		return rep, err
	}
	if err := s.ledger.Refresh(ctx); err != nil {
		return rep, err
	}
	now := s.now()
	type marked struct {
		pi  storage.PhotoInfo
		seq uint64
	}
	var marks []marked
	after := ""
	for {
		list, more, err := s.photos.ListPhotos(ctx, after, 1000)
		if err != nil {
			return rep, err
		}
		for _, pi := range list {
			rep.Listed++
			cited, err := s.ledger.PhotoCited(ctx, pi.SHA256)
			if err != nil {
				return rep, err
			}
			switch {
			case cited:
				rep.Cited++
				if !dryRun && !s.ledger.PhotoStored(pi.SHA256) { // one read only where the ledger says not stored
					if err := s.restoreReceipt(ctx, pi); err != nil {
						return rep, err
					}
				}
			case now.Sub(pi.StoredAt) < s.cfg.PhotoGCGrace:
				rep.Young++
			case dryRun:
				rep.Orphan = append(rep.Orphan, gcPhoto{SHA256: pi.SHA256, Size: pi.Size, StoredAt: pi.StoredAt})
				rep.Bytes += pi.Size
			default:
				seq, err := s.markPhoto(ctx, pi)
				if err != nil {
					return rep, err
				}
				marks = append(marks, marked{pi, seq})
			}
		}
		if !more || len(list) == 0 {
			break
		}
		after = list[len(list)-1].SHA256
	}
	if len(marks) > 0 {
		// Every record committed before a mark is in the ledger now.
		if err := s.dir.Refresh(ctx); err != nil {
			return rep, err
		}
		if err := s.ledger.Refresh(ctx); err != nil {
			return rep, err
		}
	}
	for _, m := range marks {
		cited, err := s.ledger.PhotoCited(ctx, m.pi.SHA256)
		if err != nil {
			return rep, err
		}
		removed := false
		if !cited {
			// The receipt goes first: a crash between the two leaves an
			// object the next run removes, never a receipt of a photo
			// that is gone.
			values, err := jsonValues(map[string]any{"stored": false, "marked": false, "size": m.pi.Size})
			if err != nil {
				return rep, err
			}
			_, _, removed, err = s.writeRecordWhen(ctx, pairing.CollPhotos, m.pi.SHA256, pairing.PhotoScope, values, func(cur syncproto.Record, seq uint64) bool {
				st := receiptState(cur, seq)
				return seq == m.seq && (st == receiptMarked || st == receiptGone)
			})
			if err != nil {
				return rep, err
			}
		}
		if !removed {
			rep.Kept++
			if err := s.unmarkPhoto(ctx, m.pi.SHA256, m.seq); err != nil {
				return rep, err
			}
			continue
		}
		if err := s.photos.DeletePhoto(ctx, m.pi.SHA256); err != nil {
			return rep, err
		}
		rep.Orphan = append(rep.Orphan, gcPhoto{SHA256: m.pi.SHA256, Size: m.pi.Size, StoredAt: m.pi.StoredAt})
		rep.Bytes += m.pi.Size
	}
	uploads, err := s.photos.Uploads(ctx, now.Add(-abandonedUpload))
	if err != nil {
		return rep, err
	}
	rep.Uploads = len(uploads)
	if !dryRun {
		for _, u := range uploads {
			if err := s.photos.AbortUpload(ctx, u.SHA256, u.ID); err != nil {
				return rep, err
			}
		}
	}
	return rep, nil
}

// markPhoto marks an uncited photo for removal (step 1) and returns its
// receipt's version after the mark. A photo without a receipt gets one,
// marked; one whose removal an earlier run decided (and did not finish) is
// left as it is.
func (s *Server) markPhoto(ctx context.Context, pi storage.PhotoInfo) (uint64, error) {
	var state photoReceiptState
	values := map[string]json.RawMessage{"marked": json.RawMessage("true")}
	_, seq, _, err := s.writeRecordWhen(ctx, pairing.CollPhotos, pi.SHA256, pairing.PhotoScope, values, func(cur syncproto.Record, seq uint64) bool {
		state = receiptState(cur, seq)
		return state == receiptStored
	})
	if err != nil || state != receiptNone {
		return seq, err
	}
	all, err := jsonValues(map[string]any{"sha256": pi.SHA256, "stored": true, "size": pi.Size, "marked": true,
		"at": s.now().UTC().Format(time.RFC3339), "grants": true})
	if err != nil {
		return 0, err
	}
	_, seq, _, err = s.writeRecordWhen(ctx, pairing.CollPhotos, pi.SHA256, pairing.PhotoScope, all, func(cur syncproto.Record, seq uint64) bool {
		return receiptState(cur, seq) == receiptNone
	})
	return seq, err
}

// unmarkPhoto takes a collection's mark off a photo it keeps, if the
// receipt is still the version the mark wrote.
func (s *Server) unmarkPhoto(ctx context.Context, sum string, markSeq uint64) error {
	values := map[string]json.RawMessage{"marked": json.RawMessage("false")}
	_, _, _, err := s.writeRecordWhen(ctx, pairing.CollPhotos, sum, pairing.PhotoScope, values, func(cur syncproto.Record, seq uint64) bool {
		return seq == markSeq && receiptState(cur, seq) == receiptMarked
	})
	return err
}

// restoreReceipt makes the receipt of a cited photo the store holds, which
// the ledger says is not stored, say stored: an earlier run's removal was
// decided and not done (a crash between the receipt and the delete, the
// photo cited again since), or a crash left it without one.
func (s *Server) restoreReceipt(ctx context.Context, pi storage.PhotoInfo) error {
	values, err := jsonValues(map[string]any{"sha256": pi.SHA256, "stored": true, "size": pi.Size, "marked": false})
	if err != nil {
		return err
	}
	_, _, _, err = s.writeRecordWhen(ctx, pairing.CollPhotos, pi.SHA256, pairing.PhotoScope, values, func(cur syncproto.Record, seq uint64) bool {
		st := receiptState(cur, seq)
		return st == receiptGone || st == receiptNone || st == receiptMarked
	})
	return err
}

// collectPhotos: POST /v1/photos/gc?dry_run= — administrators of a root
// unit; a dry run (the default) reports what a collection would remove. A
// collection takes the maintenance lease, so it never runs beside another
// replica's maintenance pass.
func (s *Server) collectPhotos(c *fiber.Ctx) error {
	if err := s.authorize(c, pairing.Manage, pairing.Object{Kind: pairing.KindSystem}); err != nil {
		return err
	}
	dry := c.Query("dry_run") != "false"
	ctx := c.UserContext()
	if !dry {
		ttl := time.Duration(s.maintenanceTTL.Load())
		mine := ttl > 0 // this process's maintenance keeps the lease
		if !mine {
			ttl = 15 * time.Minute // longer than the route's timeout
		}
		if !s.leads(ctx, maintenanceLease, ttl) {
			return &Error{Status: http.StatusServiceUnavailable, RetryAfter: time.Minute,
				Wire: syncproto.Error{Code: syncproto.CodeUnavailable,
					Message: "another server is running maintenance, which collects photos too; try again in a few minutes"}}
		}
		if !mine {
			defer func() {
				if err := s.store.ReleaseLease(context.WithoutCancel(ctx), maintenanceLease, string(s.writer.w.Replica)); err != nil {
					s.log.Warn("lease", "job", maintenanceLease, "err", err)
				}
			}()
		}
	}
	rep, err := s.CollectPhotos(ctx, dry)
	if err != nil {
		return err
	}
	if !dry {
		s.audit(c, storage.AuditEvent{Action: "photos.gc", Object: "photos", Result: "ok",
			Detail: fmt.Sprintf("%d photos, %d bytes removed", len(rep.Orphan), rep.Bytes), OrgPath: principal(c).OrgPath})
	}
	return c.JSON(rep)
}

// writeRecordWhen is writeRecord (write.go) with a precondition, for the
// photo receipts' compare-and-set steps: when (if not nil) is
// given the stored version (zero and 0 when there is none) and says whether
// to write; the write is a compare-and-set on that version, so when is asked
// again about whatever a racing writer committed. It reports whether it
// wrote; when it did not, it returns the stored version.
func (s *Server) writeRecordWhen(ctx context.Context, collection, id, pid string, values map[string]json.RawMessage,
	when func(cur syncproto.Record, seq uint64) bool) (syncproto.Record, uint64, bool, error) {
	defer s.pairingLocks.lock(pid)()
	k := storage.Key{Collection: collection, ID: id}
	for attempt := 1; ; attempt++ {
		cur := syncproto.NewRecord(collection, id, pid)
		var expect uint64
		sr, err := s.store.Get(ctx, k)
		switch {
		case errors.Is(err, storage.ErrNotFound):
		case err != nil:
			return syncproto.Record{}, 0, false, err
		default:
			if sr.Pairing != pid {
				return syncproto.Record{}, 0, false, errWrongPairing
			}
			if cur, err = syncproto.DecodeRecord(sr.Data, syncproto.Limits{}); err != nil {
				return syncproto.Record{}, 0, false, fmt.Errorf("stored %s/%s: %w", collection, id, err)
			}
			expect = sr.Seq
		}
		if when != nil && !when(cur, expect) {
			return cur, expect, false, nil
		}
		s.writer.mu.Lock()
		next, wr, err := s.writer.w.Set(cur, values, s.now())
		s.writer.mu.Unlock()
		if err != nil {
			return syncproto.Record{}, 0, false, err
		}
		if wr.IsZero() && expect != 0 {
			return next, expect, true, nil // every value was already there
		}
		data, err := syncproto.Encode(next)
		if err != nil {
			return syncproto.Record{}, 0, false, err
		}
		c, err := s.commit(ctx, storage.Batch{Pairing: pid, Puts: []storage.Put{{Key: k, Expect: expect, Data: data}}})
		if err == nil {
			return next, c.Seqs[0], true, nil
		}
		if !errors.Is(err, storage.ErrConflict) {
			return syncproto.Record{}, 0, false, err
		}
		if attempt == commitAttempts {
			return syncproto.Record{}, 0, false, errPairingBusy(pid, err)
		}
		if err := backoff(ctx, attempt); err != nil {
			return syncproto.Record{}, 0, false, err
		}
	}
}
