package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/pairsync/pairsync/syncproto"
)

// The functions the web app calls. Each takes JSON strings and returns one
// JSON string: {"ok": result} or {"error": {"code","message","field"}}. Records
// travel in syncproto's canonical wire shape; "" or "null" is the zero
// Record. Inside answers, records, writes and changes are themselves JSON
// strings: the app keeps them as bytes and parses them only to show them, so
// a value's spelling (2.50) survives and the server sees the very bytes it
// sent. They are plain Go, so the same table is tested on the host
// (api_test.go) and exported to JavaScript by main_js.go.
var functions = map[string]func(args []string) (any, error){
	"decodeRecord":     decodeRecordFn,
	"merge":            mergeFn,
	"mergeAll":         mergeAllFn,
	"write":            writeFn,
	"rebuild":          rebuildFn,
	"change":           changeFn,
	"fold":             foldFn,
	"foldAnswer":       foldAnswerFn,
	"encodePush":       encodePushFn,
	"encodePull":       encodePullFn,
	"decodePushAnswer": decodePushAnswerFn,
	"decodePullAnswer": decodePullAnswerFn,
	"deriveIssue":      deriveIssueFn,
	"issueTransitions": issueTransitionsFn,
}

// answerLimits decode the server's answers (as mobile's engine does): it is
// trusted more than a device.
var answerLimits = syncproto.Limits{MaxBytes: 32 << 20, MaxArray: 1 << 20, MaxKeys: 1 << 20}

// call runs one function and encodes its answer.
func call(name string, args []string) string {
	fn, ok := functions[name]
	if !ok {
		return encodeError(syncproto.Errorf(syncproto.CodeBadRequest, "syncproto.wasm: no function %q", name))
	}
	res, err := fn(args)
	if err != nil {
		return encodeError(err)
	}
	b, err := json.Marshal(struct {
		OK any `json:"ok"`
	}{res})
	if err != nil {
		return encodeError(err)
	}
	return string(b)
}

func encodeError(err error) string {
	var e *syncproto.Error
	if !errors.As(err, &e) {
		e = &syncproto.Error{Code: syncproto.CodeBadRequest, Message: err.Error()}
	}
	b, _ := json.Marshal(struct {
		Error *syncproto.Error `json:"error"`
	}{e})
	return string(b)
}

func argN(args []string, n int) error {
	if len(args) != n {
		return syncproto.Errorf(syncproto.CodeBadRequest, "want %d arguments, got %d", n, len(args))
	}
	return nil
}

// record decodes a record argument ("" and "null": the zero Record).
func record(s string) (syncproto.Record, error) {
	if s == "" || s == "null" {
		return syncproto.Record{}, nil
	}
	return syncproto.DecodeRecord([]byte(s), syncproto.Limits{})
}

// recordInfo is a record with the flags the app shows.
type recordInfo struct {
	Record             string `json:"record"` // canonical JSON; "" for the zero Record
	Deleted            bool   `json:"deleted"`
	EditDeleteConflict bool   `json:"edit_delete_conflict"`
}

func info(r syncproto.Record) (recordInfo, error) {
	if r.IsZero() {
		return recordInfo{}, nil
	}
	b, err := r.MarshalJSON()
	if err != nil {
		return recordInfo{}, err
	}
	return recordInfo{Record: string(b), Deleted: r.Deleted(), EditDeleteConflict: r.EditDeleteConflict()}, nil
}

// decodeRecord(record): the record validated and canonical, with its flags.
func decodeRecordFn(args []string) (any, error) {
	if err := argN(args, 1); err != nil {
		return nil, err
	}
	r, err := record(args[0])
	if err != nil {
		return nil, err
	}
	return info(r)
}

// merge(a, b): syncproto.Merge(a, b), with its flags.
func mergeFn(args []string) (any, error) {
	if err := argN(args, 2); err != nil {
		return nil, err
	}
	a, err := record(args[0])
	if err != nil {
		return nil, fmt.Errorf("first record: %w", err)
	}
	b, err := record(args[1])
	if err != nil {
		return nil, fmt.Errorf("second record: %w", err)
	}
	return info(syncproto.Merge(a, b))
}

// mergeAll([[a, b], …]): merge of each pair, in one call (a pulled page).
func mergeAllFn(args []string) (any, error) {
	if err := argN(args, 1); err != nil {
		return nil, err
	}
	var pairs [][2]json.RawMessage // each record raw, or null
	if err := json.Unmarshal([]byte(args[0]), &pairs); err != nil {
		return nil, syncproto.Errorf(syncproto.CodeInvalidJSON, "mergeAll: %v", err)
	}
	out := make([]recordInfo, len(pairs))
	for i, p := range pairs {
		a, err := record(string(p[0]))
		if err != nil {
			return nil, fmt.Errorf("pair %d, first record: %w", i, err)
		}
		b, err := record(string(p[1]))
		if err != nil {
			return nil, fmt.Errorf("pair %d, second record: %w", i, err)
		}
		if out[i], err = info(syncproto.Merge(a, b)); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// writerState is a device's Writer state, kept by the app with its outbox.
type writerState struct {
	Replica syncproto.ReplicaID `json:"replica"`
	Counter uint64              `json:"counter"`
	Clock   syncproto.HLC       `json:"clock"`
}

// writeRequest is the third argument of write.
type writeRequest struct {
	Op         syncproto.Op               `json:"op"`
	Collection string                     `json:"collection"`
	ID         string                     `json:"id"`
	Pairing    string                     `json:"pairing"`
	Values     map[string]json.RawMessage `json:"values,omitempty"`
	Now        int64                      `json:"now"` // ms since the epoch
}

type writeAnswer struct {
	State writerState `json:"state"`
	View  recordInfo  `json:"view"`
	Write string      `json:"write"` // the syncproto.Write for the outbox, JSON; "" when nothing was written
}

// write(state, view, request): a local write with Writer.Set, Delete or Keep
// on view (the current local view, or null for a new record); the new
// writer state comes back, to be stored with the outbox entry.
func writeFn(args []string) (any, error) {
	if err := argN(args, 3); err != nil {
		return nil, err
	}
	var state writerState
	if err := json.Unmarshal([]byte(args[0]), &state); err != nil {
		return nil, syncproto.Errorf(syncproto.CodeInvalidJSON, "writer state: %v", err)
	}
	var req writeRequest
	if err := json.Unmarshal([]byte(args[2]), &req); err != nil {
		return nil, syncproto.Errorf(syncproto.CodeInvalidJSON, "write: %v", err)
	}
	view, err := record(args[1])
	if err != nil {
		return nil, fmt.Errorf("view: %w", err)
	}
	if view.IsZero() {
		if req.Op != syncproto.OpSet {
			return nil, syncproto.Errorf(syncproto.CodeNotFound, "%s of a record that does not exist", req.Op)
		}
		view = syncproto.NewRecord(req.Collection, req.ID, req.Pairing)
	} else if req.Pairing != "" && view.Pairing != req.Pairing {
		return nil, syncproto.Errorf(syncproto.CodeBadRequest, "record %s/%s belongs to pairing %s, not %s", view.Collection, view.ID, view.Pairing, req.Pairing)
	}
	w := syncproto.Writer{Replica: state.Replica, Counter: state.Counter, Clock: state.Clock}
	now := time.UnixMilli(req.Now)
	var (
		out syncproto.Record
		wr  syncproto.Write
	)
	switch req.Op {
	case syncproto.OpSet:
		out, wr, err = w.Set(view, req.Values, now)
	case syncproto.OpDelete:
		out, wr, err = w.Delete(view, now)
	case syncproto.OpKeep:
		out, wr, err = w.Keep(view, now)
	default:
		return nil, syncproto.Errorf(syncproto.CodeBadRequest, "unknown op %q", req.Op)
	}
	if err != nil {
		return nil, err
	}
	ri, err := info(out)
	if err != nil {
		return nil, err
	}
	if wr.IsZero() {
		// Every value was already the field's value: nothing to push
		// (Writer.Set), and the writer's state has not moved.
		return writeAnswer{State: writerState{Replica: w.Replica, Counter: w.Counter, Clock: w.Clock}, View: ri}, nil
	}
	wb, err := syncproto.Encode(wr)
	if err != nil {
		return nil, err
	}
	return writeAnswer{State: writerState{Replica: w.Replica, Counter: w.Counter, Clock: w.Clock}, View: ri, Write: string(wb)}, nil
}

func writes(s string) ([]syncproto.Write, error) {
	var ws []syncproto.Write
	if s == "" || s == "null" {
		return nil, nil
	}
	if err := json.Unmarshal([]byte(s), &ws); err != nil {
		return nil, syncproto.Errorf(syncproto.CodeInvalidJSON, "pending writes: %v", err)
	}
	return ws, nil
}

// rebuild(base, pending): the view of a record, base with its pending
// writes (in counter order) replayed: syncproto.Rebuild.
func rebuildFn(args []string) (any, error) {
	if err := argN(args, 2); err != nil {
		return nil, err
	}
	base, err := record(args[0])
	if err != nil {
		return nil, fmt.Errorf("base: %w", err)
	}
	ws, err := writes(args[1])
	if err != nil {
		return nil, err
	}
	view, _, err := syncproto.Rebuild(base, ws)
	if err != nil {
		return nil, err
	}
	return info(view)
}

// change(base, pending, dot): the change to push for the pending write with
// that dot, built now from the base (the client rules): Rebuild's change, or
// a stand-in when the base has already seen the write (its answer was lost).
func changeFn(args []string) (any, error) {
	if err := argN(args, 3); err != nil {
		return nil, err
	}
	base, err := record(args[0])
	if err != nil {
		return nil, fmt.Errorf("base: %w", err)
	}
	ws, err := writes(args[1])
	if err != nil {
		return nil, err
	}
	dot, err := syncproto.ParseDot(args[2])
	if err != nil {
		return nil, syncproto.Errorf(syncproto.CodeBadRequest, "dot: %v", err)
	}
	var target *syncproto.Write
	for i := range ws {
		if ws[i].Dot == dot {
			target = &ws[i]
		}
	}
	if target == nil {
		return nil, syncproto.Errorf(syncproto.CodeNotFound, "no pending write %s", dot)
	}
	if base.VV.Covers(dot) {
		ch, err := syncproto.StandIn(*target)
		if err != nil {
			return nil, err
		}
		return encodeChange(ch)
	}
	_, chs, err := syncproto.Rebuild(base, ws)
	if err != nil {
		return nil, err
	}
	for _, ch := range chs {
		if ch.Dot == dot {
			return encodeChange(ch)
		}
	}
	return nil, syncproto.Errorf(syncproto.CodeInternal, "rebuild gave no change for %s", dot)
}

func encodeChange(ch syncproto.Change) (string, error) {
	b, err := syncproto.Encode(ch)
	return string(b), err
}

// fold(base, change): the base after the server applied or merged the
// change: Merge(base, change.record), unless the base has seen the write
// already (the change may be a stand-in, whose record is never folded).
func foldFn(args []string) (any, error) {
	if err := argN(args, 2); err != nil {
		return nil, err
	}
	base, err := record(args[0])
	if err != nil {
		return nil, fmt.Errorf("base: %w", err)
	}
	var ch syncproto.Change
	if err := json.Unmarshal([]byte(args[1]), &ch); err != nil {
		return nil, syncproto.Errorf(syncproto.CodeInvalidJSON, "change: %v", err)
	}
	if base.VV.Covers(ch.Dot) {
		return info(base)
	}
	return info(syncproto.Merge(base, ch.Record))
}

// folded is one change of a push after its answer: the base to keep (""
// when the answer changes nothing: rejected, duplicate) and, when the base
// now holds exactly the version stored at seq (Result.StoredVersion), held.
type folded struct {
	Record string `json:"record"`
	Seq    uint64 `json:"seq,omitempty"`
	Held   bool   `json:"held,omitempty"`
}

// foldAnswer([[base, change], …], answer): the bases after a push answer,
// one per change in the answer's order, as mobile's apply folds them: an
// applied or merged change is folded into its base (never when the base
// has seen its write already: a stand-in); an applied one with the
// server's stamp as the very version the server stored, so the pull need
// not bring it back (the app names its seq in PullRequest.Held).
func foldAnswerFn(args []string) (any, error) {
	if err := argN(args, 2); err != nil {
		return nil, err
	}
	var pairs [][2]json.RawMessage
	if err := json.Unmarshal([]byte(args[0]), &pairs); err != nil {
		return nil, syncproto.Errorf(syncproto.CodeInvalidJSON, "foldAnswer: %v", err)
	}
	ans, err := syncproto.DecodePushAnswer([]byte(args[1]), answerLimits)
	if err != nil {
		return nil, err
	}
	if len(ans.Results) > len(pairs) {
		return nil, syncproto.Errorf(syncproto.CodeBadRequest, "foldAnswer: %d results for %d changes", len(ans.Results), len(pairs))
	}
	out := make([]folded, len(ans.Results))
	for i, r := range ans.Results {
		if r.Status != syncproto.StatusApplied && r.Status != syncproto.StatusMerged {
			continue
		}
		base, err := record(string(pairs[i][0]))
		if err != nil {
			return nil, fmt.Errorf("change %d, base: %w", i, err)
		}
		var ch syncproto.Change
		if err := json.Unmarshal(pairs[i][1], &ch); err != nil {
			return nil, syncproto.Errorf(syncproto.CodeInvalidJSON, "change %d: %v", i, err)
		}
		if r.Dot != ch.Dot {
			return nil, syncproto.Errorf(syncproto.CodeBadRequest, "foldAnswer: result %d is for %s, want %s", i, r.Dot, ch.Dot)
		}
		rec := base
		if !base.VV.Covers(ch.Dot) {
			rec = ch.Record
			if stored, ok, err := r.StoredVersion(ch); err == nil && ok {
				rec, out[i].Seq, out[i].Held = stored, r.Seq, true
			}
			rec = syncproto.Merge(base, rec)
		}
		ri, err := info(rec)
		if err != nil {
			return nil, err
		}
		out[i].Record = ri.Record
	}
	return out, nil
}

// encodePush(device, changes): the body of POST /v1/sync/push.
func encodePushFn(args []string) (any, error) {
	if err := argN(args, 2); err != nil {
		return nil, err
	}
	var chs []syncproto.Change
	if err := json.Unmarshal([]byte(args[1]), &chs); err != nil {
		return nil, syncproto.Errorf(syncproto.CodeInvalidJSON, "changes: %v", err)
	}
	b, err := syncproto.Encode(&syncproto.PushRequest{V: syncproto.Version, Device: syncproto.ReplicaID(args[0]), Changes: chs})
	if err != nil {
		return nil, err
	}
	return string(b), nil
}

// encodePull(cursor, limit[, held]): the body of POST /v1/sync/pull; held
// maps a pairing to the sequences the app holds from its push answers
// (foldAnswer), named as syncproto.HeldRanges past the cursor.
func encodePullFn(args []string) (any, error) {
	if len(args) != 2 && len(args) != 3 {
		return nil, syncproto.Errorf(syncproto.CodeBadRequest, "want 2 or 3 arguments, got %d", len(args))
	}
	var cur syncproto.Cursor
	if args[0] != "" && args[0] != "null" {
		if err := json.Unmarshal([]byte(args[0]), &cur); err != nil {
			return nil, syncproto.Errorf(syncproto.CodeInvalidJSON, "cursor: %v", err)
		}
	}
	var limit int
	if args[1] != "" {
		if err := json.Unmarshal([]byte(args[1]), &limit); err != nil {
			return nil, syncproto.Errorf(syncproto.CodeInvalidJSON, "limit: %v", err)
		}
	}
	if cur == nil {
		cur = syncproto.Cursor{}
	}
	var own map[string][]uint64
	if len(args) == 3 && args[2] != "" && args[2] != "null" {
		if err := json.Unmarshal([]byte(args[2]), &own); err != nil {
			return nil, syncproto.Errorf(syncproto.CodeInvalidJSON, "held: %v", err)
		}
	}
	held := syncproto.HeldRanges(own, cur, syncproto.MaxHeldRanges)
	b, err := syncproto.Encode(&syncproto.PullRequest{V: syncproto.Version, Cursor: cur, Limit: limit, Held: held})
	if err != nil {
		return nil, err
	}
	return string(b), nil
}

// decodePushAnswer(body): the push answer, validated.
func decodePushAnswerFn(args []string) (any, error) {
	if err := argN(args, 1); err != nil {
		return nil, err
	}
	return syncproto.DecodePushAnswer([]byte(args[0]), answerLimits)
}

// pullPage is a decoded pull answer, its records as canonical JSON strings,
// with the cursor to store after it (Cursor.Next of the caller's cursor).
type pullPage struct {
	Records []pulledRecord   `json:"records"`
	Cursor  syncproto.Cursor `json:"cursor"`
	More    bool             `json:"more"`
	Resync  []string         `json:"resync"`
	Purge   []string         `json:"purge"`
	Next    syncproto.Cursor `json:"next"`
}

type pulledRecord struct {
	Pairing    string `json:"pairing"`
	Seq        uint64 `json:"seq"`
	Collection string `json:"collection"`
	ID         string `json:"id"`
	Record     string `json:"record"`
}

// decodePullAnswer(body, cursor): the pull answer, validated, every record
// under its own pairing, and the next cursor.
func decodePullAnswerFn(args []string) (any, error) {
	if err := argN(args, 2); err != nil {
		return nil, err
	}
	ans, err := syncproto.DecodePullAnswer([]byte(args[0]), answerLimits)
	if err != nil {
		return nil, err
	}
	for _, pr := range ans.Records {
		if pr.Pairing != pr.Record.Pairing {
			return nil, syncproto.Errorf(syncproto.CodeBadRequest, "pull answer: %s/%s of pairing %s listed under %s", pr.Record.Collection, pr.Record.ID, pr.Record.Pairing, pr.Pairing)
		}
	}
	var cur syncproto.Cursor
	if args[1] != "" && args[1] != "null" {
		if err := json.Unmarshal([]byte(args[1]), &cur); err != nil {
			return nil, syncproto.Errorf(syncproto.CodeInvalidJSON, "cursor: %v", err)
		}
	}
	next := cur.Next(ans)
	// Pairings to purge keep their cursor entry until the purge is done.
	for _, p := range ans.Purge {
		if v, ok := cur[p]; ok {
			next[p] = v
		}
	}
	page := pullPage{Records: make([]pulledRecord, 0, len(ans.Records)), Cursor: ans.Cursor, More: ans.More,
		Resync: ans.Resync, Purge: ans.Purge, Next: next}
	for _, pr := range ans.Records {
		b, err := pr.Record.MarshalJSON()
		if err != nil {
			return nil, err
		}
		page.Records = append(page.Records, pulledRecord{Pairing: pr.Pairing, Seq: pr.Seq, Collection: pr.Record.Collection, ID: pr.Record.ID, Record: string(b)})
	}
	return page, nil
}
