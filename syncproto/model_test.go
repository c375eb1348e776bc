package syncproto

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

// An in-memory model of the server and of clients, built only from this
// package, following the rules in doc.go. Scenario tests drive it. Every
// message goes through Encode and the decoders, as on the wire.

type modelStored struct {
	rec Record
	seq uint64
}

type modelServer struct {
	records  map[string]*modelStored // "collection/id"
	heads    map[string]uint64       // pairing -> sequence
	hwm      map[ReplicaID]uint64    // device -> highest counter processed
	receipts map[Dot][]byte          // encoded Result, kept for duplicates
	forget   bool                    // when set, receipts are not kept (to exercise StatusDuplicate)
	reject   map[string]bool         // domain rule: refuse writes that set these fields
	writer   Writer                  // the server's own replica, for admin writes
	now      func() time.Time
}

func newModelServer(now func() time.Time) *modelServer {
	return &modelServer{
		records: map[string]*modelStored{}, heads: map[string]uint64{}, hwm: map[ReplicaID]uint64{},
		receipts: map[Dot][]byte{}, reject: map[string]bool{},
		writer: Writer{Replica: "server-1"}, now: now,
	}
}

func keyOf(r Record) string { return r.Collection + "/" + r.ID }

// commit stores a version at the pairing's next sequence.
func (s *modelServer) commit(r Record) uint64 {
	s.heads[r.Pairing]++
	seq := s.heads[r.Pairing]
	s.records[keyOf(r)] = &modelStored{rec: r, seq: seq}
	return seq
}

// push is POST /v1/sync/push: decode, then each change serially, in order.
func (s *modelServer) push(body []byte) ([]byte, error) {
	req, err := DecodePush(body, DefaultLimits())
	if err != nil {
		return nil, err
	}
	ans := &PushAnswer{V: Version, Results: []Result{}}
	for _, c := range req.Changes {
		if c.Dot.Counter <= s.hwm[req.Device] {
			if stored, ok := s.receipts[c.Dot]; ok {
				var r Result
				if err := json.Unmarshal(stored, &r); err != nil {
					return nil, err
				}
				ans.Results = append(ans.Results, r)
			} else {
				ans.Results = append(ans.Results, Result{Dot: c.Dot, Status: StatusDuplicate})
			}
			continue
		}
		s.hwm[req.Device] = c.Dot.Counter
		res := s.receive(req.Device, c)
		if !s.forget {
			enc, err := Encode(res)
			if err != nil {
				return nil, err
			}
			s.receipts[c.Dot] = enc
		}
		ans.Results = append(ans.Results, res)
	}
	return Encode(ans)
}

func (s *modelServer) receive(device ReplicaID, c Change) Result {
	var stored Record
	if st, ok := s.records[keyOf(c.Record)]; ok {
		stored = st.rec
	}
	if e := c.Check(device, stored); e != nil {
		return Result{Dot: c.Dot, Status: StatusRejected, Error: e}
	}
	if op, values := c.Written(); op == OpSet {
		for f := range values {
			if s.reject[f] {
				return Result{Dot: c.Dot, Status: StatusRejected, Error: &Error{Code: CodeValidation, Message: "field " + f + " may not be set", Field: f}}
			}
		}
	}
	merged, status := c.MergeInto(stored)
	return Result{Dot: c.Dot, Status: status, Seq: s.commit(merged)}
}

// pull is POST /v1/sync/pull: latest versions after the cursor, per pairing
// in sequence order, limit records per page.
func (s *modelServer) pull(body []byte) ([]byte, error) {
	req, err := DecodePull(body, DefaultLimits())
	if err != nil {
		return nil, err
	}
	limit := req.Limit
	if limit == 0 {
		limit = 500
	}
	var all []*modelStored
	for _, st := range s.records {
		if st.seq > req.Cursor[st.rec.Pairing] {
			all = append(all, st)
		}
	}
	slices.SortFunc(all, func(a, b *modelStored) int {
		return cmp.Or(cmp.Compare(a.rec.Pairing, b.rec.Pairing), cmp.Compare(a.seq, b.seq))
	})
	ans := &PullAnswer{V: Version, Records: []PulledRecord{}, Cursor: Cursor{}}
	for _, st := range all {
		if len(ans.Records) == limit {
			ans.More = true
			break
		}
		ans.Records = append(ans.Records, PulledRecord{Pairing: st.rec.Pairing, Seq: st.seq, Record: st.rec})
		ans.Cursor[st.rec.Pairing] = st.seq
	}
	return Encode(ans)
}

// adminSet is a write through an administrator route: the server's own
// replica writes, through the same commit path.
func (s *modelServer) adminSet(key, pairing string, values map[string]json.RawMessage) error {
	var cur Record
	if st, ok := s.records[key]; ok {
		cur = st.rec
	} else {
		coll, id := splitKey(key)
		cur = NewRecord(coll, id, pairing)
	}
	next, _, err := s.writer.Set(cur, values, s.now())
	if err != nil {
		return err
	}
	s.commit(next)
	return nil
}

// modelClient is a device: a Writer, the base it received from the server,
// its outbox and rejected list, and its cursor.
type modelClient struct {
	name     ReplicaID
	w        Writer
	skew     time.Duration
	base     map[string]Record
	outbox   []Write // pending writes, counter order
	rejected []Write
	cursor   Cursor
	results  []Result // answers of the last push command
}

func newModelClient(name ReplicaID) *modelClient {
	return &modelClient{name: name, w: Writer{Replica: name}, base: map[string]Record{}, cursor: Cursor{}}
}

func (c *modelClient) pendingFor(key string) []Write {
	var out []Write
	for _, w := range c.outbox {
		if w.Collection+"/"+w.ID == key {
			out = append(out, w)
		}
	}
	return out
}

// view is what the device shows: base with pending writes applied.
func (c *modelClient) view(key string) (Record, error) {
	v, _, err := Rebuild(c.base[key], c.pendingFor(key))
	return v, err
}

func (c *modelClient) write(key, pairing string, op Op, values map[string]json.RawMessage, now time.Time) error {
	cur, err := c.view(key)
	if err != nil {
		return err
	}
	if cur.IsZero() {
		coll, id := splitKey(key)
		cur = NewRecord(coll, id, pairing)
	}
	var w Write
	switch op {
	case OpSet:
		_, w, err = c.w.Set(cur, values, now.Add(c.skew))
	case OpDelete:
		_, w, err = c.w.Delete(cur, now.Add(c.skew))
	case OpKeep:
		_, w, err = c.w.Keep(cur, now.Add(c.skew))
	}
	if err != nil {
		return err
	}
	c.outbox = append(c.outbox, w)
	return nil
}

// nextRequest builds the next push request: outbox writes in counter order,
// at most one per record (a batch ends before a second change to a record,
// so that a rejection is known before the record's next change is built).
func (c *modelClient) nextRequest() (*PushRequest, error) {
	req := &PushRequest{V: Version, Device: c.name}
	seen := map[string]bool{}
	for _, w := range c.outbox {
		key := w.Collection + "/" + w.ID
		if seen[key] {
			break
		}
		seen[key] = true
		var change *Change
		_, changes, err := Rebuild(c.base[key], c.pendingFor(key))
		if err != nil {
			return nil, err
		}
		for i := range changes {
			if changes[i].Dot == w.Dot {
				change = &changes[i]
			}
		}
		if change == nil {
			// The base has already seen this write (its answer was lost):
			// the server answers from its receipt.
			c, err := StandIn(w)
			if err != nil {
				return nil, err
			}
			change = &c
		}
		req.Changes = append(req.Changes, *change)
	}
	return req, nil
}

// push sends one request and, unless the answer is lost, applies it.
func (c *modelClient) push(s *modelServer, loseAnswer bool) (bool, error) {
	req, err := c.nextRequest()
	if err != nil || len(req.Changes) == 0 {
		return false, err
	}
	body, err := Encode(req)
	if err != nil {
		return false, err
	}
	out, err := s.push(body)
	if err != nil {
		return false, err
	}
	if loseAnswer {
		return true, nil
	}
	ans, err := DecodePushAnswer(out, DefaultLimits())
	if err != nil {
		return false, err
	}
	if len(ans.Results) != len(req.Changes) {
		return false, fmt.Errorf("got %d results for %d changes", len(ans.Results), len(req.Changes))
	}
	for i, r := range ans.Results {
		ch := req.Changes[i]
		c.results = append(c.results, r)
		idx := slices.IndexFunc(c.outbox, func(w Write) bool { return w.Dot == r.Dot })
		if idx < 0 {
			continue
		}
		w := c.outbox[idx]
		c.outbox = slices.Delete(c.outbox, idx, idx+1)
		switch r.Status {
		case StatusApplied, StatusMerged:
			// The server holds at least this state now: fold it into base.
			key := keyOf(ch.Record)
			if !c.base[key].VV.Covers(w.Dot) {
				c.base[key] = Merge(c.base[key], ch.Record)
			}
		case StatusRejected:
			c.rejected = append(c.rejected, w)
		}
	}
	return true, nil
}

func (c *modelClient) pull(s *modelServer) error {
	for {
		body, err := Encode(&PullRequest{V: Version, Cursor: c.cursor, Limit: 2})
		if err != nil {
			return err
		}
		out, err := s.pull(body)
		if err != nil {
			return err
		}
		ans, err := DecodePullAnswer(out, DefaultLimits())
		if err != nil {
			return err
		}
		for _, pr := range ans.Records {
			key := keyOf(pr.Record)
			c.base[key] = Merge(c.base[key], pr.Record)
		}
		c.cursor = c.cursor.Next(ans)
		if !ans.More {
			return nil
		}
	}
}

func splitKey(key string) (string, string) {
	for i := 0; i < len(key); i++ {
		if key[i] == '/' {
			return key[:i], key[i+1:]
		}
	}
	return key, ""
}
