// Package syncproto is the Pairsync sync protocol as a pure library: replica
// ids, dots, version vectors, hybrid logical clocks, record versions and
// their merge, local writes, the push/pull/scopes messages with their
// decoders, and the wire error codes. It does no I/O, keeps no clock (callers
// pass the time in) and imports only the standard library, so the server,
// the Go client and the web app (this package compiled to WebAssembly) run
// the very same merge.
//
// # On the phone
//
// Write locally, keep the write in the outbox, and show the rebuilt view:
//
//	w := &syncproto.Writer{Replica: deviceID, Counter: saved.Counter, Clock: saved.Clock}
//	view, write, err := w.Set(current, map[string]json.RawMessage{"notes": notes}, time.Now())
//	// persist write (outbox) and w.Counter, w.Clock in one transaction
//
// Push the outbox in counter order, one change per record per request (see
// the client rules below), each change built from the rebuilt view:
//
//	_, changes, _ := syncproto.Rebuild(base[key], pendingFor(key))
//	body, _ := syncproto.Encode(&syncproto.PushRequest{V: syncproto.Version, Device: deviceID, Changes: batch})
//	answer, err := syncproto.DecodePushAnswer(respBody, lim)
//
// Pull page by page and merge what arrives into the base:
//
//	page, err := syncproto.DecodePullAnswer(respBody, lim)
//	for _, pr := range page.Records {
//		base[key(pr.Record)] = syncproto.Merge(base[key(pr.Record)], pr.Record)
//	}
//	cursor = cursor.Next(page) // then drop pairings in page.Resync and page.Purge
//
// # On the server
//
//	req, err := syncproto.DecodePush(body, syncproto.DefaultLimits()) // err is a *syncproto.Error
//	for _, c := range req.Changes {                                    // serially, in order
//		// counter <= high-water mark: answer the stored Result (or StatusDuplicate)
//		if e := c.Check(req.Device, stored); e != nil { /* rejected */ }
//		op, values := c.Written() // domain rules and policy look at this
//		merged, status := c.MergeInto(stored)
//		// commit merged with the pairing's next sequence, and the Result as receipt, atomically
//	}
//
// Writes through administrator routes use a Writer with the server's own
// replica id on the stored version and commit the result the same way, so
// phones receive them by pull like any other write. Each server process
// needs its own replica id (or a counter allocated atomically in storage).
//
// # The merge
//
// A record version holds entries, each the trace of one write and named by
// that write's dot: field entries (field, value, dot, HLC), deletes (dot,
// HLC, context) and keeps (dot, HLC); and a version vector VV, every dot the
// version has seen. An entry's dot is always covered by VV. Writes never
// remove fields: a field, once written, always has at least one entry (its
// value may be null).
//
// Merge(a, b), for every entry, by field for field entries:
//
//  1. An entry held by both sides is kept.
//  2. An entry held by one side is kept if the other side has not seen its
//     dot (the other's VV does not cover it), and dropped if it has: the
//     other side saw the write and overwrote it (observed-remove).
//  3. The kept entries of a field are mutually concurrent writes. The winner
//     (latest HLC; equal HLCs: greatest replica id, then greatest counter)
//     is the field's value; the others are its conflict entries.
//  4. Deletes and keeps follow rules 1–2 likewise; VV is the join
//     (per-replica maximum) of both vectors.
//
// Merge is commutative, associative and idempotent, with the zero Record as
// identity. Which writes survive depends only on dots and vectors; HLCs only
// order the survivors, so clocks wrong by days never change which write
// survives when one has seen the other.
//
// A local write (Apply, Writer) by a replica whose vector is the context C:
//
//   - set fields: for each field set, the entries covered by C go (the
//     value and every conflict entry the writer has seen: it settles them)
//     and the write's entry comes in;
//   - delete: deletes and keeps covered by C go; a delete (dot, HLC, C)
//     comes in;
//   - keep: deletes and keeps covered by C go; a keep (dot, HLC) comes in;
//
// and the write's dot joins VV.
//
// A record is deleted (Record.Deleted) when it holds at least one delete and
// every field entry, conflict entry and keep lies inside the join of its
// deletes' contexts: every deleter together had seen all of it. A record
// that holds a delete but is not deleted has an edit/delete conflict
// (Record.EditDeleteConflict): someone edited, or kept, it without having
// seen the delete. It stays live, with the edit, and flagged until a replica
// that has seen the flag writes a keep (the record stays) or a delete (its
// context now covers everything: the record goes). An ordinary edit does not
// clear the flag. A deleted record keeps its field values (a keep restores
// them) until the server purges the tombstone after its horizon.
//
// # Server rules
//
// The server processes one device's changes serially and in counter order
// (per device: a lock, or the receipt written in the commit's transaction,
// whose conflict makes a concurrent duplicate retry). It keeps each device's
// high-water mark, the highest counter it has processed. A change whose
// counter is at or below the mark is a duplicate: nothing changes, and it
// gets the Result stored for it when it was first processed (byte for byte),
// or StatusDuplicate if that Result is no longer kept. Otherwise the mark
// moves to the change's counter and the change is processed: Change.Check
// against the stored version (the zero Record if none), the policy and
// domain rules, then Change.MergeInto, committed with the pairing's next
// sequence together with the Result as receipt. A rejected change (a
// receipt, no sequence) never stops the changes after it.
//
// Check refuses a change whose record holds a write of the device that the
// server has not accepted: that is a change built on a rejected write, and
// merging it would let the rejected write in. It also refuses a record that
// claims to have seen other replicas' writes the server has not, or that
// holds them with other contents.
//
// A pull returns, per pairing the user may see now, the latest version of
// each record committed after the cursor, in sequence order, and the new
// cursor; a version at a sequence the request names as held is left out,
// the cursor moving over it all the same. A pairing whose cursor is below its tombstone horizon (the highest
// sequence of a purged tombstone; NeedsResync) is listed in Resync instead.
// Pairings the user may no longer see are listed in Purge.
//
// # Client rules
//
// A client keeps, per record, its base (the Merge of every version pulled,
// and of every change the server applied or merged), its outbox of pending
// writes in counter order, and a list of rejected writes. Its view is
// Rebuild(base, pending): the base with the pending writes replayed, each
// overwriting only what its writer had seen (its Write.Context), so a
// concurrent write pulled in the meantime becomes a conflict instead of
// being lost. Writes the base has seen are skipped: the server has settled
// them.
//
//   - Push: outbox writes in counter order; a request ends before a second
//     change to the same record, so that a rejection is known before that
//     record's next change is built. Each change carries the record as
//     Rebuild computes it at push time (never a state computed earlier,
//     which may hold a write rejected since).
//   - Answers: applied or merged: fold the change's record into the base
//     (never a stand-in's, see below) and drop the write from the outbox.
//     Applied with a stamp (Result.Stamp): fold Result.StoredVersion
//     instead, the very version the server stored at Result.Seq; the
//     cursor may then move over the client's own such sequences that
//     follow it with no gap (Cursor.Advance), since the pull would only
//     bring them back; such sequences past a gap (another device committed
//     in between) are kept and named in the next pulls as
//     PullRequest.Held (HeldRanges), and the server leaves them out of the
//     answer while the cursor moves over them. Forget them once the cursor
//     passes them, and with the pairing's base (resync, purge). Rejected:
//     move the write to the
//     rejected list (for the user to see, edit and write again as a new
//     write) and rebuild the view without it. Duplicate: drop it from the
//     outbox; the next pull shows whether it was applied.
//   - A write whose answer was lost is pushed again; if the base has seen it
//     meanwhile, push StandIn(write), which the server answers from its
//     receipt. Do not fold a stand-in's record into the base: its vector
//     covers writes it does not hold, and folding it would drop them. (The
//     server's convergence simulation found both rules: Apply(Record{}, w)
//     is invalid for a delete that saw other replicas, and folding lost
//     acknowledged writes.)
//   - Resync: drop the base of the pairing (keep the outbox), pull it from 0.
//     Purge: push what is pending, then drop the pairing's base, outbox
//     entries and cursor.
//
// # Messages
//
// JSON, with "v": 1; unknown keys are ignored. Shapes are documented on
// Record, Change, Write, PushRequest, PushAnswer, Result, PullRequest,
// PullAnswer and ScopesAnswer. Dots are "replica:counter"; HLCs are
// [wall_ms, logical]; counters, sequences and wall times stay below 2^53 so
// JavaScript holds them exactly. Decoders enforce Limits while parsing and
// refuse invalid UTF-8, duplicate keys and keys that start with '$' or hold
// '.' or NUL; their errors are *Error with CodeInvalidJSON, CodeTooLarge or
// CodeBadRequest and the JSON path of the offending value in Field.
//
// Records encode canonically (Record.MarshalJSON): replicas holding Equal
// records produce identical bytes. testdata/golden pins the merge with
// vectors any implementation must pass; testdata/scenarios scripts devices
// and a server in a small language.
package syncproto
