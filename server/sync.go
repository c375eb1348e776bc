package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net/http"
	"slices"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/pairsync/pairsync/server/pairing"
	"github.com/pairsync/pairsync/storage"
	"github.com/pairsync/pairsync/syncproto"
)

// Sync limits.
const (
	pullPageRecords = 500
	pullPageBytes   = 1 << 20
	commitAttempts  = 8
	// lastSeenEvery bounds how often a device's LastSeen is written.
	lastSeenEvery = time.Minute
)

// syncDevice checks that the request comes from a registered device of the
// caller and records that it was seen. It returns the device.
func (s *Server) syncDevice(c *fiber.Ctx) (storage.Device, error) {
	cl := claims(c)
	if cl.Device == "" {
		return storage.Device{}, errorf(http.StatusForbidden, syncproto.CodeForbidden, "register this device first (POST /v1/devices), then sign in with it")
	}
	ctx := c.UserContext()
	d, err := s.store.Device(ctx, cl.Device)
	if errors.Is(err, storage.ErrNotFound) || err == nil && d.UserID != cl.Subject {
		return storage.Device{}, deviceRevoked()
	}
	if err != nil {
		return storage.Device{}, err
	}
	// Kept in memory and written a few seconds at a time (lastseen.go):
	// an idle sync only reads.
	return s.sawDevice(ctx, d), nil
}

// push: POST /v1/sync/push. Each change is checked against the policy and
// the protocol, merged into the stored version and committed with the next
// sequence of its pairing, with its answer kept as a receipt so that a
// replayed change gets the same answer and changes nothing. A rejected
// change is answered and kept, and blocks nothing else.
//
// A revoked device's requests are refused by authenticate (liveness.go,
// SECURITY.md item 12): a lost or stolen phone pushes nothing more.
func (s *Server) push(c *fiber.Ctx) error {
	dev, err := s.syncDevice(c)
	if err != nil {
		return err
	}
	req, err := syncproto.DecodePush(c.Body(), s.syncLimits)
	if err != nil {
		return err
	}
	if string(req.Device) != dev.ID {
		return errorf(http.StatusForbidden, syncproto.CodeForbidden, "the push names device %q; this session's device is %q", req.Device, dev.ID)
	}
	for i := 1; i < len(req.Changes); i++ {
		if req.Changes[i].Dot.Counter <= req.Changes[i-1].Dot.Counter {
			return badRequest("changes", "changes must be in increasing counter order (change %d)", i)
		}
	}
	ctx := c.UserContext()
	if err := s.dir.Refresh(ctx); err != nil {
		return err
	}
	// One device's pushes run one at a time in this process.
	defer s.deviceLocks.lock(dev.ID)()

	p := principal(c)
	prunedBelow, err := s.store.PrunedBelow(ctx, dev.ID)
	if err != nil {
		return err
	}
	// The answers already given to any of these changes, in one call
	// (storage.Receipts.ReceiptsOf), not one per change (issues 19, 20).
	counters := make([]uint64, len(req.Changes))
	for i, ch := range req.Changes {
		counters[i] = ch.Dot.Counter
	}
	answered, err := s.store.ReceiptsOf(ctx, dev.ID, counters)
	if err != nil {
		return err
	}
	results := make([]syncproto.Result, len(req.Changes))
	groups := map[string][]int{}
	var order []string
	for i, ch := range req.Changes {
		results[i].Dot = ch.Dot
		if answer, ok := answered[ch.Dot.Counter]; ok {
			if err := json.Unmarshal(answer, &results[i]); err != nil {
				return fmt.Errorf("receipt %s: %w", ch.Dot, err)
			}
			continue
		}
		if ch.Dot.Counter < prunedBelow {
			// Processed long ago; its answer was pruned. Nothing changes.
			results[i].Status = syncproto.StatusDuplicate
			continue
		}
		if e := s.mayWrite(p, ch.Record, ch.HLC.Time()); e != nil {
			results[i] = rejected(ch.Dot, e)
			continue
		}
		pid := ch.Record.Pairing
		if groups[pid] == nil {
			order = append(order, pid)
		}
		groups[pid] = append(groups[pid], i)
	}
	// Rejected changes keep their answers too.
	var receipts []storage.Receipt
	for i := range results {
		if results[i].Status == syncproto.StatusRejected {
			receipts = append(receipts, receipt(dev.ID, results[i], req.Changes[0].Dot.Counter))
		}
	}
	if len(receipts) > 0 {
		if _, err := s.store.Commit(ctx, storage.Batch{Receipts: receipts}); err != nil && !errors.Is(err, storage.ErrConflict) {
			return err
		}
	}
	for _, pid := range order {
		if err := s.commitChanges(ctx, p, dev.ID, pid, req.Changes, groups[pid], results); err != nil {
			return err
		}
	}
	// Refusals in the person's language (messages.go); receipts keep the
	// server's own words.
	l := lang(c)
	answer := slices.Clone(results)
	for i := range answer {
		if answer[i].Error != nil {
			e := *answer[i].Error
			collection := ""
			if i < len(req.Changes) {
				collection = req.Changes[i].Record.Collection
			}
			localize(l, collection, &e, 0)
			answer[i].Error = &e
		}
	}
	// As c.JSON sends it, without reflection (resultjson.go).
	body, err := encodePushAnswer(syncproto.PushAnswer{V: syncproto.Version, Results: answer})
	if err != nil {
		return err
	}
	c.Response().SetBodyRaw(body)
	c.Response().Header.SetContentType(fiber.MIMEApplicationJSON)
	return nil
}

// mayWrite applies the policy to a pushed record, whose change was made at
// recorded by the writer's clock (its HLC; zero for the server's writes).
func (s *Server) mayWrite(p pairing.Principal, r syncproto.Record, recorded time.Time) *syncproto.Error {
	var scope *pairing.Pairing
	if pr, ok := s.dir.Pairing(r.Pairing); ok {
		scope = &pr
	}
	switch pairing.Policy(p, pairing.Manage, pairing.Object{Kind: pairing.KindRecord, ID: r.ID, Pairing: scope, Collection: r.Collection, At: s.now(), Recorded: recorded}) {
	case nil:
		return nil
	case pairing.ErrForbidden:
		if scope != nil && scope.Status == pairing.StatusEnded && p.Role != pairing.Admin {
			return &syncproto.Error{Code: syncproto.CodeForbidden, Field: "collection", Reason: pairing.ReasonPairingEnded,
				Message: fmt.Sprintf("pairing %s has ended: nothing more is recorded in it", r.Pairing)}
		}
		return &syncproto.Error{Code: syncproto.CodeForbidden, Field: "collection",
			Message: fmt.Sprintf("your role may not write %s in pairing %s", r.Collection, r.Pairing)}
	}
	return &syncproto.Error{Code: syncproto.CodeOutOfScope, Field: "pairing",
		Message: fmt.Sprintf("pairing %s is not one you may write", r.Pairing)}
}

func rejected(d syncproto.Dot, e *syncproto.Error) syncproto.Result {
	return syncproto.Result{Dot: d, Status: syncproto.StatusRejected, Error: e}
}

// receipt is the stored answer to a change; acked is the lowest counter of
// its push (the device holds the answers of every change below it: see
// receiptsKept).
func receipt(device string, r syncproto.Result, acked uint64) storage.Receipt {
	return storage.Receipt{Replica: device, Counter: r.Dot.Counter, Answer: encodeResult(r), Acked: acked}
}

// commitChanges merges, admits (pairing.Admit) and commits the changes at
// idx, all of one pairing, in one batch with their answers as receipts,
// through the one committer (commit.go), which retries from a fresh read
// when another writer got there first. It fills in results.
func (s *Server) commitChanges(ctx context.Context, p pairing.Principal, device, pid string, changes []syncproto.Change, idx []int, results []syncproto.Result) error {
	keyOf := func(i int) storage.Key {
		return storage.Key{Collection: changes[i].Record.Collection, ID: changes[i].Record.ID}
	}
	lastOf := map[storage.Key]int{} // the last change of each record in the batch
	_, _, err := s.commitInPairing(ctx, commitPlan{pid: pid, expectHead: true,
		// The records of the changes still to commit, in one read.
		reads: func() []storage.Key {
			keys := make([]storage.Key, len(idx))
			for j, i := range idx {
				keys[j] = keyOf(i)
			}
			return keys
		},
		build: func(ctx context.Context, tx *commitTx) error {
			clear(lastOf)
			for _, i := range idx {
				ch := changes[i]
				k := keyOf(i)
				cur, err := tx.load(ctx, k)
				if err != nil {
					return err
				}
				if e := ch.Check(syncproto.ReplicaID(device), cur.rec); e != nil {
					results[i] = rejected(ch.Dot, e)
					continue
				}
				merged, status := ch.MergeInto(cur.rec)
				stamp := []syncproto.Write{} // what the server adds to the device's record
				if status != syncproto.StatusDuplicate && s.rules {
					op, values := ch.Written()
					var e *syncproto.Error
					if merged, stamp, e, err = tx.admit(ctx, p, cur.rec, op, values, merged, true); err != nil {
						return err
					}
					if e != nil {
						results[i] = rejected(ch.Dot, e)
						continue
					}
				}
				tx.put(k, merged)
				results[i] = syncproto.Result{Dot: ch.Dot, Status: status}
				if status == syncproto.StatusApplied {
					results[i].Stamp = stamp
				}
				lastOf[k] = i
			}
			return nil
		},
		// Puts take head+1, head+2, … in the order of the tx's keys; a
		// record changed twice in the batch is written once, at its last
		// state.
		receipts: func(tx *commitTx) []storage.Receipt {
			var out []storage.Receipt
			seqOf := tx.seqs()
			for _, i := range idx {
				if results[i].Status != syncproto.StatusRejected {
					k := keyOf(i)
					results[i].Seq = seqOf[k]
					if lastOf[k] != i {
						results[i].Stamp = nil // stored at Seq with a later change on top
					}
				}
				out = append(out, receipt(device, results[i], changes[0].Dot.Counter))
			}
			return out
		},
		// Another writer committed first (another process, or a duplicate
		// push of the same changes): re-read receipts (in one call), then
		// records. A failed read leaves every change to the next attempt,
		// whose commit refuses any already answered (ErrConflict).
		again: func(ctx context.Context) (bool, error) {
			counters := make([]uint64, len(idx))
			for j, i := range idx {
				counters[j] = changes[i].Dot.Counter
			}
			answered, _ := s.store.ReceiptsOf(ctx, device, counters)
			remaining := idx[:0:0]
			for _, i := range idx {
				if answer, ok := answered[changes[i].Dot.Counter]; ok {
					_ = json.Unmarshal(answer, &results[i])
					continue
				}
				remaining = append(remaining, i)
			}
			idx = remaining
			return len(idx) == 0, nil
		},
	})
	if err != nil {
		return err
	}
	if len(idx) > 0 {
		s.auditChanges(ctx, p, device, pid, changes, idx, results)
	}
	return nil
}

// errPairingBusy answers a push or write that lost the commit race to
// other server processes every time: nothing of it was committed, and
// sending it again is safe (pushes are exactly-once), so the answer is 503
// with Retry-After, not a 409 that would ask the device to reload.
func errPairingBusy(pid string, cause error) *Error {
	return &Error{Status: http.StatusServiceUnavailable, RetryAfter: time.Second, Cause: cause,
		Wire: syncproto.Error{Code: syncproto.CodeUnavailable, Message: fmt.Sprintf("pairing %s is busy with other writers; send the same request again shortly", pid)}}
}

// backoff waits a jittered, growing while before commit attempt n+1.
func backoff(ctx context.Context, attempt int) error {
	d := time.Duration(1+mrand.IntN(1<<min(attempt, 6))) * time.Millisecond
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// pull: POST /v1/sync/pull — one page of the record versions committed
// after the cursor, in every pairing the user may see now (a pairing
// missing from the cursor starts at 0), plus the directory records that
// concern the user, leaving out the versions the request says the device
// holds already (syncproto.Held). Pairings in the cursor the user may no
// longer see are listed to purge.
func (s *Server) pull(c *fiber.Ctx) error {
	dev, err := s.syncDevice(c)
	if err != nil {
		return err
	}
	if !dev.RevokedAt.IsZero() {
		return deviceRevoked()
	}
	req, err := syncproto.DecodePull(c.Body(), s.pullLimits)
	if err != nil {
		return err
	}
	ctx, p := c.UserContext(), principal(c)
	if err := s.dir.Refresh(ctx); err != nil {
		return err
	}
	limit := pullPageRecords
	if req.Limit > 0 && req.Limit < limit {
		limit = req.Limit
	}
	scopes := []string{pairing.DirectoryScope}
	visible := map[string]bool{pairing.DirectoryScope: true}
	for _, id := range s.dir.VisibleIDs(p) {
		scopes = append(scopes, id)
		visible[id] = true
	}
	ans := syncproto.PullAnswer{V: syncproto.Version, Cursor: syncproto.Cursor{}}
	for pid := range req.Cursor {
		if !visible[pid] {
			ans.Purge = append(ans.Purge, pid)
		}
	}
	// Every scope's head and horizon in one call (storage.HeadsOf): only
	// the scopes with something after their cursor cost a call of their
	// own, so a page costs the same whether the user sees 10 pairings or
	// 7,000 (issue 19). A commit after this read is the next pull's.
	heads, err := s.store.HeadsOf(ctx, scopes)
	if err != nil {
		return err
	}
	if len(heads) != len(scopes) {
		return fmt.Errorf("pull: %d heads for %d scopes", len(heads), len(scopes))
	}
	// The page's records, kept apart until the horizons are read again
	// (below); moved are the scopes whose page moved a cursor other than 0.
	type pulled struct {
		pid  string
		seq  uint64
		data []byte
	}
	var (
		out   []pulled
		moved []int
	)
	budget := pullPageBytes
	for i, pid := range scopes {
		after, head := req.Cursor[pid], heads[i].Seq
		if after != 0 {
			if after > head {
				// A head behind the cursor may be a read from a node that
				// has not caught up yet (a new primary just after a
				// failover): confirm it before sending the device to read
				// the pairing again. No confirmation now: 503, try again.
				if head, err = s.store.ConfirmedHead(ctx, pid); err != nil {
					return err
				}
			}
			// A cursor past the confirmed head comes from a device that
			// synced with a database since restored from an older backup:
			// it would skip the new commits up to its old cursor. It reads
			// the pairing again instead.
			if syncproto.NeedsResync(after, heads[i].Horizon) || after > head {
				// Records deleted and purged since this cursor would never
				// reach the device: it reads the pairing again from 0.
				ans.Resync = append(ans.Resync, pid)
				continue
			}
		}
		// The answer's cursor names every pairing the user syncs, even
		// with nothing in it yet, so the device's cursor always lists what
		// it holds and a later removal reaches it as a purge.
		ans.Cursor[pid] = after
		if head <= after {
			continue // nothing after the cursor: no page to read
		}
		if len(out) >= limit || budget <= 0 {
			ans.More = true
			continue
		}
		page, err := s.store.Changes(ctx, pid, after, storage.PageLimit{Records: limit - len(out), Bytes: budget})
		if err != nil {
			return err
		}
		if after != 0 && page.Next > after {
			moved = append(moved, i)
		}
		for _, sr := range page.Records {
			if req.Held.Contains(pid, sr.Seq) {
				// The device rebuilt this very version from its push
				// answer (syncproto.Held): the cursor moves over it.
				continue
			}
			budget -= len(sr.Data)
			if pid == pairing.DirectoryScope && !s.dir.SeesDirectoryRecord(p, sr.Collection, sr.ID) || !pairing.MayRead(p.Role, sr.Collection) {
				continue
			}
			out = append(out, pulled{pid, sr.Seq, sr.Data})
		}
		if page.Next > after {
			ans.Cursor[pid] = page.Next
		}
		ans.More = ans.More || page.More
	}
	// A purge (any replica's maintenance) that ran between the heads read
	// above and a page took tombstones out of it, and the page's cursor
	// would pass them: the device would keep those records for good. The
	// horizons read again after the pages see any such purge (a horizon
	// rises in the purge's commit), in one call for every scope whose page
	// moved its cursor. A page that moves the cursor nowhere needs no
	// check: the next pull finds the horizon.
	resync := map[string]bool{}
	if len(moved) > 0 {
		ids := make([]string, len(moved))
		for j, i := range moved {
			ids[j] = scopes[i]
		}
		again, err := s.store.HeadsOf(ctx, ids)
		if err != nil {
			return err
		}
		if len(again) != len(ids) {
			return fmt.Errorf("pull: %d heads for %d scopes", len(again), len(ids))
		}
		for j, h := range again {
			if pid := ids[j]; syncproto.NeedsResync(req.Cursor[pid], h.Horizon) {
				resync[pid] = true
				ans.Resync = append(ans.Resync, pid)
				delete(ans.Cursor, pid)
			}
		}
	}
	var recs pullPage // the records, spliced in as stored
	// Room for the whole page at once (a page of new visits grew the
	// buffer by doubling: each step allocated, zeroed and copied).
	need := 0
	for _, r := range out {
		need += len(r.data) + len(r.pid) + 64
	}
	recs.reserve(need)
	for _, r := range out {
		if !resync[r.pid] {
			recs.add(r.pid, r.seq, r.data)
		}
	}
	body, err := recs.encode(ans)
	if err != nil {
		return err
	}
	c.Type("json")
	return c.Send(body)
}

// scopes: GET /v1/sync/scopes — the pairings this user syncs, with their
// current sequence.
func (s *Server) scopes(c *fiber.Ctx) error {
	if _, err := s.syncDevice(c); err != nil {
		return err
	}
	ctx, p := c.UserContext(), principal(c)
	if err := s.dir.Refresh(ctx); err != nil {
		return err
	}
	ans := syncproto.ScopesAnswer{V: syncproto.Version, Pairings: []syncproto.Scope{}}
	// Every head in one call (storage.HeadsOf), not one per pairing: the
	// web app asks at every sync, and an administrator sees thousands.
	heads, err := s.store.HeadsOf(ctx, s.dir.VisibleIDs(p))
	if err != nil {
		return err
	}
	for _, h := range heads {
		ans.Pairings = append(ans.Pairings, syncproto.Scope{Pairing: h.Pairing, Seq: h.Seq})
	}
	return c.JSON(ans)
}

// auditChanges appends to the audit log what SECURITY.md asks of synced
// writes: confirmations, disputes and ratings (who, from which device, on
// what). Called after the commit; a failed append is logged (the write has
// happened).
func (s *Server) auditChanges(ctx context.Context, p pairing.Principal, device, pid string, changes []syncproto.Change, idx []int, results []syncproto.Result) {
	path := ""
	if pr, ok := s.dir.Pairing(pid); ok && len(pr.BranchPaths) > 0 {
		path = pr.BranchPaths[0]
	}
	for _, i := range idx {
		if results[i].Status != syncproto.StatusApplied {
			continue
		}
		r := changes[i].Record
		var action, object string
		switch r.Collection {
		case pairing.CollIssueEvents:
			switch t := pairing.EventType(pairing.Str(r, "type")); t {
			case pairing.EventConfirmed, pairing.EventDisputed:
				action, object = "issue."+string(t), "issue:"+pairing.Str(r, "issue")
			}
		case pairing.CollRatings:
			action, object = "rating", pairing.Str(r, "target_kind")+":"+pairing.Str(r, "target")
		case pairing.CollProjects:
			if _, vals := changes[i].Written(); vals["contact_accepted_at"] != nil {
				action, object = "project.accepted", "project:"+r.ID
			}
		}
		if action == "" {
			continue
		}
		detail := "pairing " + pid
		if pairing.Str(r, "code") != "" {
			detail += ", recorded with the contact's code"
		}
		ev := storage.AuditEvent{Time: s.now().UTC(), Actor: p.UserID, Device: device, Action: action, Object: object,
			Result: "ok", Detail: detail, OrgPath: path}
		if err := s.store.AppendAudit(ctx, ev); err != nil {
			s.log.Warn("audit", "action", action, "err", err)
		}
	}
}
