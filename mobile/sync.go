package mobile

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/pairsync/pairsync/syncproto"
)

// answerLimits decode the server's answers: it is trusted more than a
// device, and an administrator's cursor names every pairing of a subtree.
var answerLimits = syncproto.Limits{MaxBytes: maxAnswerBytes, MaxArray: 1 << 20, MaxKeys: 1 << 20}

// syncRun is one Sync.
type syncRun struct {
	e     *Engine
	ctx   context.Context
	c     *conn
	p     Progress
	heads map[string]uint64 // from GET /v1/sync/scopes, when a pull needs more than a page
}

// Sync exchanges changes with the server, following the client rules of
// syncproto (doc.go): it pushes the outbox in counter order (one change per
// record per request, at most Config.MaxChanges per request), folds each
// acknowledged change into the base and drops it from the outbox in one
// transaction with the answer, keeps rejected writes with their reason;
// then it pulls every page and merges it into the base. A pairing to
// resync is read again from 0 (its pending writes kept); a pairing to
// purge is purged after its pending writes are pushed. Every step is
// committed locally as soon as its answer arrives, so a Sync cut short at
// any point (network, crash) loses and duplicates nothing: call it again.
//
// Then it uploads the photos that accepted records cite (photosync.go);
// photos never hold the records back, and a photo phase cut short by the
// network returns its error after the records are done.
//
// A revoked device pushes what the server still accepts, then its local
// data is wiped; the error matches ErrDeviceRevoked and Progress.Wiped is
// set. An ended session gives ErrSignInRequired (data kept).
func (e *Engine) Sync(ctx context.Context) (Progress, error) {
	e.syncMu.Lock()
	defer e.syncMu.Unlock()
	var (
		sess   session
		ok     bool
		resync bool
	)
	err := e.db.View(func(tx *bolt.Tx) error {
		var err error
		sess, ok, err = loadSession(tx)
		resync = tx.Bucket(bucketResync).Stats().KeyN > 0
		return err
	})
	if err != nil {
		return Progress{}, fmt.Errorf("mobile: sync: %w", dbErr(err))
	}
	if !ok || sess.DeviceID == "" {
		return Progress{}, ErrNotSignedIn
	}
	s := &syncRun{e: e, ctx: ctx, c: &conn{e: e, sess: sess}}
	err = s.run(resync)
	if err == nil {
		err = s.syncPhotos()
	}
	if errors.Is(err, ErrDeviceRevoked) {
		err = s.revoked(err)
	}
	if err != nil {
		e.log.Warn("sync stopped", "err", err, "uploaded", s.p.UploadDone, "pulled", s.p.RecordsDone)
		return s.p, fmt.Errorf("mobile: sync: %w", err)
	}
	s.p.Phase = PhaseDone
	s.report()
	e.log.Info("sync done", "uploaded", s.p.UploadDone, "rejected", s.p.Rejected, "pulled", s.p.RecordsDone, "photos", s.p.PhotosDone)
	return s.p, nil
}

func (s *syncRun) run(resync bool) error {
	if resync {
		// A resync was cut short: read those pairings again before pushing,
		// so changes are built on a base that has seen what they saw.
		if err := s.pull(); err != nil {
			return err
		}
	}
	if err := s.push(); err != nil {
		return err
	}
	return s.pull()
}

func (s *syncRun) report() {
	if s.e.cfg.OnProgress != nil {
		p := s.p
		p.Pairings = slices.Clone(p.Pairings)
		p.Resynced, p.Purged = slices.Clone(p.Resynced), slices.Clone(p.Purged)
		s.e.cfg.OnProgress(p)
	}
}

// pushItem is one change of a push request, its encoding and the write it
// carries.
type pushItem struct {
	w   syncproto.Write
	ch  syncproto.Change
	enc []byte
}

// buildPush takes the next push request from the outbox: writes in counter
// order, each change built by Rebuild now (a write the base has seen
// already, whose answer was lost, as a stand-in), ending before a second
// change to one record, at limit changes or MaxPushBytes. It also returns
// the size of the outbox. A write this engine made on the base the record
// still has comes with its change ready (recent.go).
func (s *syncRun) buildPush(limit int) ([]pushItem, int, error) {
	var items []pushItem
	pending := 0
	err := s.e.db.View(func(tx *bolt.Tx) error {
		out := tx.Bucket(bucketOutbox)
		pending = out.Stats().KeyN
		bases := tx.Bucket(bucketBase)
		baseOf := func(coll, id string) []byte { return bases.Get(recKey(coll, id)) }
		seen := map[string]bool{}
		size := 64
		c := out.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			var (
				w  syncproto.Write
				ch syncproto.Change
			)
			rw, ok := s.e.recent.get(k, v, baseOf)
			if ok {
				w, ch = rw.w, rw.ch
			} else {
				var err error
				if w, err = decodeWrite(v); err != nil {
					return err
				}
			}
			rk := string(recKey(w.Collection, w.ID))
			if seen[rk] {
				break
			}
			seen[rk] = true
			if !ok {
				var err error
				if ch, err = changeOf(tx, w); err != nil {
					return err
				}
			}
			b, err := syncproto.Encode(ch)
			if err != nil {
				return fmt.Errorf("encode %s: %w", w.Dot, err)
			}
			if len(items) > 0 && size+len(b)+1 > s.e.cfg.MaxPushBytes {
				break
			}
			size += len(b) + 1
			items = append(items, pushItem{w: w, ch: ch, enc: b})
			if len(items) >= limit {
				break
			}
		}
		return nil
	})
	return items, pending, err
}

// changeOf builds the change to push for w, the first pending write of its
// record: Rebuild's, or a stand-in when the base has seen w already.
func changeOf(tx *bolt.Tx, w syncproto.Write) (syncproto.Change, error) {
	base, err := getBase(tx, w.Collection, w.ID)
	if err != nil {
		return syncproto.Change{}, err
	}
	if base.VV.Covers(w.Dot) {
		ch, err := syncproto.StandIn(w)
		if err != nil {
			return syncproto.Change{}, fmt.Errorf("stand-in for %s: %w", w.Dot, err)
		}
		return ch, nil
	}
	ws, err := pendingWith(tx, w.Collection, w.ID, &w)
	if err != nil {
		return syncproto.Change{}, err
	}
	_, chs, err := syncproto.Rebuild(base, ws)
	if err != nil {
		return syncproto.Change{}, fmt.Errorf("rebuild %s/%s: %w", w.Collection, w.ID, err)
	}
	if len(chs) == 0 || chs[0].Dot != w.Dot {
		return syncproto.Change{}, fmt.Errorf("rebuild %s/%s: no change for %s", w.Collection, w.ID, w.Dot)
	}
	return chs[0], nil
}

// push pushes the whole outbox, request after request, until it is empty
// (every write answered).
func (s *syncRun) push() error {
	s.p.Phase = PhaseUpload
	limit := s.e.cfg.MaxChanges
	for {
		items, pending, err := s.buildPush(limit)
		if err != nil {
			return dbErr(err)
		}
		s.p.UploadTotal = s.p.UploadDone + pending
		if len(items) == 0 {
			s.report()
			return nil
		}
		resp, err := s.c.do(s.ctx, s.pushRequest(items))
		var serr *ServerError
		if errors.As(err, &serr) && (serr.Status == http.StatusBadRequest || serr.Status == http.StatusRequestEntityTooLarge) {
			// The request as a whole was refused. Narrow it down to the
			// change the server cannot take, and keep that one as
			// rejected, with the server's answer, so it blocks nothing.
			if len(items) > 1 {
				limit = max(len(items)/2, 1)
				continue
			}
			e := &syncproto.Error{Code: serr.Code, Message: serr.Message, Field: serr.Field}
			ans := &syncproto.PushAnswer{V: syncproto.Version, Results: []syncproto.Result{{Dot: items[0].w.Dot, Status: syncproto.StatusRejected, Error: e}}}
			if err := s.apply(items, ans); err != nil {
				return err
			}
			limit = s.e.cfg.MaxChanges
			continue
		}
		if err != nil {
			return err
		}
		ans, err := syncproto.DecodePushAnswer(resp, answerLimits)
		if err != nil {
			return fmt.Errorf("push answer: %w", err)
		}
		if len(ans.Results) != len(items) {
			return fmt.Errorf("push answer: %d results for %d changes", len(ans.Results), len(items))
		}
		for i, r := range ans.Results {
			if r.Dot != items[i].w.Dot {
				return fmt.Errorf("push answer: result %d is for %s, want %s", i, r.Dot, items[i].w.Dot)
			}
		}
		if err := s.apply(items, ans); err != nil {
			return err
		}
	}
}

// pushRequest is the push request of items: gzip-compressed when it is
// large enough to gain (Config.PlainPush, Engine.noGzip), the plain body
// then built only if the server refuses gzip.
func (s *syncRun) pushRequest(items []pushItem) request {
	device := s.c.sess.DeviceID
	r := request{method: http.MethodPost, path: "/v1/sync/push", auth: true}
	head := pushHead(device)
	size := len(head) + 2
	for _, it := range items {
		size += len(it.enc) + 1
	}
	if s.e.cfg.PlainPush || s.e.noGzip.Load() || size < minGzipBytes {
		r.body = pushBody(device, items)
		return r
	}
	r.encoding = "gzip"
	r.plain = func() []byte { return pushBody(device, items) }
	r.body = s.e.gzipParts(size, func(w io.Writer) {
		_, _ = w.Write(head)
		for i, it := range items {
			if i > 0 {
				_, _ = w.Write(comma)
			}
			_, _ = w.Write(it.enc)
		}
		_, _ = w.Write(pushTail)
	})
	return r
}

var (
	comma    = []byte{','}
	pushTail = []byte("]}")
)

// pushHead is the start of a push request's body, up to its first change:
// syncproto's PushRequest encoding, with each change's encoding from
// buildPush spliced in after it.
func pushHead(device string) []byte {
	b := make([]byte, 0, 64)
	b = append(b, `{"v":`...)
	b = strconv.AppendInt(b, syncproto.Version, 10)
	b = append(b, `,"device":`...)
	b = strconv.AppendQuote(b, device) // [A-Za-z0-9_-]: no escapes
	return append(b, `,"changes":[`...)
}

// pushBody is the push request of items, plain.
func pushBody(device string, items []pushItem) []byte {
	head := pushHead(device)
	size := len(head) + len(pushTail)
	for _, it := range items {
		size += len(it.enc) + 1
	}
	b := make([]byte, 0, size)
	b = append(b, head...)
	for i, it := range items {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, it.enc...)
	}
	return append(b, pushTail...)
}

// apply acts on a push answer, in one transaction: applied and merged
// changes are folded into the base (never a stand-in's: the base has seen
// its write) and leave the outbox; rejected writes move to the rejected
// list; duplicates leave the outbox (the next pull shows their effect).
//
// An applied change whose result carries the server's stamp is folded as
// the version the server stored (Result.StoredVersion), so the base holds
// exactly that version and the pull need not bring it back: the cursor
// moves over the run of such sequences that follows it without a gap
// (syncproto.Cursor.Advance).
func (s *syncRun) apply(items []pushItem, ans *syncproto.PushAnswer) error {
	done, rejected := 0, 0
	err := s.e.db.Update(func(tx *bolt.Tx) error {
		own := map[string][]uint64{} // per pairing, sequences the base now holds exactly
		out := tx.Bucket(bucketOutbox)
		for i, r := range ans.Results {
			it := items[i]
			// A counter's entry never changes (the Writer never hands a
			// counter out twice), so the write read by buildPush is the
			// one still there, if it is.
			w := it.w
			if out.Get(u64(w.Dot.Counter)) == nil {
				continue // purged meanwhile
			}
			switch r.Status {
			case syncproto.StatusApplied, syncproto.StatusMerged:
				base, err := getBase(tx, w.Collection, w.ID)
				if err != nil {
					return err
				}
				if !base.VV.Covers(w.Dot) {
					rec := it.ch.Record
					stored, ok, err := r.StoredVersion(it.ch)
					if err != nil {
						s.e.log.Warn("push answer: stamp ignored", "dot", r.Dot, "err", err)
					} else if ok {
						// base ≤ stored: base holds server versions before this one.
						rec = stored
						own[w.Pairing] = append(own[w.Pairing], r.Seq)
					}
					if !base.IsZero() {
						rec = syncproto.Merge(base, rec) // the zero Record is Merge's identity
					}
					if err := putBase(tx, rec); err != nil {
						return err
					}
				}
			case syncproto.StatusRejected:
				e := r.Error
				if e == nil {
					e = &syncproto.Error{Code: syncproto.CodeInternal, Message: "rejected without a reason"}
				}
				if err := putRejected(tx, w, e, s.e.now()); err != nil {
					return err
				}
				rejected++
			case syncproto.StatusDuplicate:
			default:
				return fmt.Errorf("push answer: unknown status %q for %s", r.Status, r.Dot)
			}
			if err := removeWrite(tx, w); err != nil {
				return err
			}
			done++
		}
		return skipOwn(tx, own)
	})
	if err != nil {
		return dbErr(err)
	}
	counters := make([]uint64, len(items))
	for i, it := range items {
		counters[i] = it.w.Dot.Counter
	}
	s.e.recent.drop(counters)
	s.p.UploadDone += done
	s.p.Rejected += rejected
	s.report()
	return nil
}

// skipOwn moves the stored cursor over the sequences of own (per pairing,
// those at which the base holds exactly what the server stored), as far as
// they run on from it without a gap, and keeps the rest as held, for the
// pull to name. Pairings being read again from 0 (resync) stay where they
// are.
func skipOwn(tx *bolt.Tx, own map[string][]uint64) error {
	if len(own) == 0 {
		return nil
	}
	rs := tx.Bucket(bucketResync)
	for p := range own {
		if rs.Get([]byte(p)) != nil {
			delete(own, p)
		}
	}
	cur := readCursor(tx)
	next := cur.Advance(own)
	b := tx.Bucket(bucketCursor)
	for p, seq := range next {
		if seq != cur[p] {
			if err := b.Put([]byte(p), u64(seq)); err != nil {
				return err
			}
		}
	}
	// Past a gap (another device's commit), the pull names them instead
	// (syncproto.Held), and the server leaves them out.
	return putHeld(tx, own, next)
}

// scopes reads the pairings' current sequences, for progress.
func (s *syncRun) scopes() error {
	resp, err := s.c.do(s.ctx, request{method: http.MethodGet, path: "/v1/sync/scopes", auth: true})
	if err != nil {
		return err
	}
	ans, err := syncproto.DecodeScopes(resp, answerLimits)
	if err != nil {
		return fmt.Errorf("scopes answer: %w", err)
	}
	s.heads = map[string]uint64{}
	for _, sc := range ans.Pairings {
		s.heads[sc.Pairing] = sc.Seq
	}
	return nil
}

// pulled is a pull page, or why there is none.
type pulled struct {
	ans *syncproto.PullAnswer
	err error
}

// fetch asks for the page after cursor, naming the sequences past it the
// base holds already (syncproto.Held), and decodes it.
func (s *syncRun) fetch(cursor syncproto.Cursor) (*syncproto.PullAnswer, error) {
	var held syncproto.Held
	if err := s.e.db.View(func(tx *bolt.Tx) error {
		held = syncproto.HeldRanges(readHeld(tx), cursor, syncproto.MaxHeldRanges)
		return nil
	}); err != nil {
		return nil, dbErr(err)
	}
	body, err := syncproto.Encode(&syncproto.PullRequest{V: syncproto.Version, Cursor: cursor, Limit: s.e.cfg.PullLimit, Held: held})
	if err != nil {
		return nil, err
	}
	resp, err := s.c.do(s.ctx, request{method: http.MethodPost, path: "/v1/sync/pull", body: body, auth: true})
	if err != nil {
		return nil, err
	}
	ans, err := syncproto.DecodePullAnswer(resp, answerLimits)
	if err != nil {
		return nil, fmt.Errorf("pull answer: %w", err)
	}
	for _, pr := range ans.Records {
		if pr.Pairing != pr.Record.Pairing {
			return nil, fmt.Errorf("pull answer: %s/%s of pairing %s listed under %s", pr.Record.Collection, pr.Record.ID, pr.Record.Pairing, pr.Pairing)
		}
	}
	return ans, nil
}

// mergePage merges a pull page into the base and stores the cursor next,
// in the caller's transaction. A record that came canonical is stored as
// it arrived when the base does not hold it (nothing to merge, nothing to
// encode again), and left alone when the base holds those very bytes (the
// device's own write, pulled back after another device's commit).
func mergePage(tx *bolt.Tx, ans *syncproto.PullAnswer, next syncproto.Cursor) error {
	bases := tx.Bucket(bucketBase)
	for _, pr := range ans.Records {
		r := pr.Record
		if pr.Raw != nil {
			switch held := bases.Get(recKey(r.Collection, r.ID)); {
			case held == nil:
				if err := putBaseEncoded(tx, r, pr.Raw); err != nil {
					return err
				}
				continue
			case bytes.Equal(held, pr.Raw):
				continue // Merge(r, r) is r
			}
		}
		base, err := getBase(tx, r.Collection, r.ID)
		if err != nil {
			return err
		}
		if err := putBase(tx, syncproto.Merge(base, r)); err != nil {
			return err
		}
	}
	for _, p := range ans.Resync {
		if err := dropBase(tx, p); err != nil {
			return err
		}
		if err := tx.Bucket(bucketResync).Put([]byte(p), nil); err != nil {
			return err
		}
	}
	if !ans.More && len(ans.Resync) == 0 {
		// Every pairing is read to its end, resynced ones included.
		b := tx.Bucket(bucketResync)
		var ks [][]byte
		_ = b.ForEach(func(k, _ []byte) error { ks = append(ks, slices.Clone(k)); return nil })
		for _, k := range ks {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
	}
	return writeCursor(tx, next)
}

// pull pulls every page, merging each into the base with its cursor in
// one transaction; then it purges the pairings the server said to purge,
// after pushing what is pending. Pages are pipelined: the next page is
// asked for (and decoded) while this one is merged and committed; its
// request carries the cursor this page leads to, which the merge stores.
//
// An idle sync is one request: the pairings' heads (GET /v1/sync/scopes)
// are asked for only when the first page says more is waiting, to show
// progress; a pull that ends in one page is caught up everywhere.
func (s *syncRun) pull() error {
	s.p.Phase = PhaseRecords
	s.heads = nil
	var cursor syncproto.Cursor
	if err := s.e.db.View(func(tx *bolt.Tx) error { cursor = readCursor(tx); return nil }); err != nil {
		return dbErr(err)
	}
	s.p.RecordsTotal = s.p.RecordsDone
	s.report()
	var purge []string
	resyncs := 0
	ans, err := s.fetch(cursor)
	for first := true; ; first = false {
		if err != nil {
			return err
		}
		if first && ans.More {
			if err := s.scopes(); err != nil {
				return err
			}
			total := 0
			for p, head := range s.heads {
				if head > cursor[p] {
					total += int(head - cursor[p])
				}
			}
			s.p.RecordsTotal = s.p.RecordsDone + total
		}
		next := cursor.Next(ans)
		// Pairings to purge keep their cursor entry until the purge is
		// done: if it is cut short, the next pull names them again.
		for _, p := range ans.Purge {
			if v, ok := cursor[p]; ok {
				next[p] = v
			}
		}
		moved := !maps.Equal(cursor, next)
		again := len(ans.Resync) > 0 // read them again from 0, even if this was the last page
		if again {
			if resyncs++; resyncs > 10 {
				return errors.New("pull: the server keeps asking to resync")
			}
		}
		more := again || ans.More && (len(ans.Records) > 0 || moved)
		var ahead chan pulled
		if more {
			ahead = make(chan pulled, 1)
			go func(cur syncproto.Cursor) {
				a, err := s.fetch(cur)
				ahead <- pulled{a, err}
			}(maps.Clone(next))
		}
		err = s.e.db.Update(func(tx *bolt.Tx) error { return mergePage(tx, ans, next) })
		if err != nil {
			if ahead != nil {
				<-ahead
			}
			return dbErr(err)
		}
		cursor = next
		s.p.RecordsDone += len(ans.Records)
		s.p.RecordsTotal = max(s.p.RecordsTotal, s.p.RecordsDone)
		for _, p := range ans.Resync {
			if !slices.Contains(s.p.Resynced, p) {
				s.p.Resynced = append(s.p.Resynced, p)
			}
		}
		for _, p := range ans.Purge {
			if !slices.Contains(purge, p) {
				purge = append(purge, p)
			}
		}
		s.report()
		if !more {
			break
		}
		pg := <-ahead
		ans, err = pg.ans, pg.err
	}
	s.p.RecordsTotal = s.p.RecordsDone
	s.p.Pairings = s.p.Pairings[:0]
	for p, seq := range cursor {
		if !slices.Contains(purge, p) {
			// Without heads, the pull read every pairing to its end.
			s.p.Pairings = append(s.p.Pairings, PairingProgress{Pairing: p, Seq: seq, Head: max(s.heads[p], seq)})
		}
	}
	slices.SortFunc(s.p.Pairings, func(a, b PairingProgress) int { return strings.Compare(a.Pairing, b.Pairing) })
	if len(purge) > 0 {
		if err := s.purge(purge); err != nil {
			return err
		}
	}
	s.report()
	return nil
}

// purge pushes what is pending, then drops everything of the pairings.
func (s *syncRun) purge(pairings []string) error {
	for attempt := 0; attempt < 3; attempt++ {
		if err := s.push(); err != nil {
			return err
		}
		left := 0
		err := s.e.db.Update(func(tx *bolt.Tx) error {
			for _, p := range pairings {
				if slices.Contains(s.p.Purged, p) {
					continue
				}
				busy, err := hasPending(tx, p)
				if err != nil {
					return err
				}
				if busy {
					left++ // written to while we pushed: push again first
					continue
				}
				if err := purgePairing(tx, p); err != nil {
					return err
				}
				s.p.Purged = append(s.p.Purged, p)
			}
			return nil
		})
		if err != nil {
			return dbErr(err)
		}
		if left == 0 {
			s.e.log.Info("pairings purged", "pairings", pairings)
			return nil
		}
	}
	return nil // the rest at the next Sync: their cursor entries stay
}

// revoked: the server revoked the device. Push what it still accepts with
// the access token at hand, then wipe local data. A push cut short by the
// network leaves the data for the next Sync to try again.
func (s *syncRun) revoked(cause error) error {
	s.c.noRefresh = true
	err := s.push()
	var serr *ServerError
	if err != nil && !errors.As(err, &serr) && !errors.Is(err, ErrSignInRequired) && !errors.Is(err, ErrDeviceRevoked) {
		return fmt.Errorf("%w; pushing what is pending first: %w", cause, err)
	}
	left := s.e.Pending()
	if err := s.e.wipe(); err != nil {
		return err
	}
	s.p.Wiped, s.p.Discarded = true, left
	s.report()
	s.e.log.Warn("device revoked: local data wiped", "discarded", left)
	return fmt.Errorf("%w: local data wiped, %d pending writes could not be pushed", cause, left)
}
