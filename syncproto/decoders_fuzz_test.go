package syncproto

import (
	"testing"
)

// FuzzDecodeRecord: DecodeRecord under the server's limits either refuses
// the input with a decoding *Error or returns a valid record that encodes
// canonically and decodes back to itself.
func FuzzDecodeRecord(f *testing.F) {
	for _, r := range goldenRecords(f) {
		f.Add(r)
	}
	f.Add([]byte(okRecord))
	f.Add([]byte(`{"collection":"c","id":"i","pairing":"p","vv":{"A":1},"fields":{"a":{"value":{"$ne":1},"dot":"A:1","hlc":[1,0]}}}`))
	f.Add([]byte(`{"collection":"c","id":"i","pairing":"p","vv":{"A":1},"fields":{"a":{"value":"x","dot":"A:1","hlc":[9007199254740992,0]}}}`))
	f.Add([]byte(`{"collection":"c","id":"i","pairing":"p","vv":{"A":0},"fields":{}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := DecodeRecord(data, DefaultLimits())
		if err != nil {
			checkDecodeErr(t, err)
			return
		}
		if err := r.Validate(); err != nil {
			t.Fatalf("DecodeRecord returned an invalid record: %v", err)
		}
		enc, err := r.MarshalJSON()
		if err != nil {
			t.Fatalf("encode: %v", err)
		}
		r2, err := DecodeRecord(enc, Limits{MaxBytes: -1})
		if err != nil {
			t.Fatalf("decode our own encoding: %v\n%s", err, enc)
		}
		if !r2.Equal(r) {
			t.Fatalf("round trip:\n got  %s\n want %s", r2, r)
		}
	})
}

// FuzzCursorNext: whatever page a (decoded) pull answer is, Cursor.Next
// leaves the old cursor alone, never moves a pairing back, drops the
// pairings to resync and purge, and keeps every other pairing the cursor or
// the answer names.
func FuzzCursorNext(f *testing.F) {
	f.Add([]byte(`{"v":1,"cursor":{"p1":4,"p2":0}}`), []byte(`{"v":1,"records":[],"cursor":{"p1":3,"p3":9},"more":false,"resync":["p2"],"purge":["p4"]}`))
	f.Add([]byte(`{"v":1}`), []byte(`{"v":1,"records":[],"cursor":{},"more":true}`))
	f.Add([]byte(`{"v":1,"cursor":{"p1":18446744073709551615}}`), []byte(`{"v":1,"records":[],"cursor":{"p1":0},"purge":["p1"],"resync":["p1"]}`))
	f.Fuzz(func(t *testing.T, reqData, ansData []byte) {
		req, err := DecodePull(reqData, DefaultLimits())
		if err != nil {
			return
		}
		ans, err := DecodePullAnswer(ansData, DefaultLimits())
		if err != nil {
			return
		}
		c := req.Cursor
		before := make(Cursor, len(c))
		for k, v := range c {
			before[k] = v
		}
		next := c.Next(ans)
		if len(c) != len(before) {
			t.Fatalf("Next changed its receiver: %v, was %v", c, before)
		}
		for k, v := range before {
			if c[k] != v {
				t.Fatalf("Next changed its receiver at %s", k)
			}
		}
		gone := map[string]bool{}
		for _, p := range ans.Resync {
			gone[p] = true
		}
		for _, p := range ans.Purge {
			gone[p] = true
		}
		for p := range gone {
			if _, ok := next[p]; ok {
				t.Fatalf("pairing %s to resync or purge is still in the cursor %v", p, next)
			}
		}
		for p, s := range before {
			if !gone[p] && next[p] < s {
				t.Fatalf("pairing %s went back from %d to %d", p, s, next[p])
			}
		}
		for p, s := range ans.Cursor {
			if !gone[p] && next[p] < s {
				t.Fatalf("pairing %s at %d, behind the answer's %d", p, next[p], s)
			}
		}
		for p := range next {
			if _, inOld := before[p]; !inOld {
				if _, inAns := ans.Cursor[p]; !inAns {
					t.Fatalf("pairing %s came from nowhere", p)
				}
			}
		}
	})
}

// FuzzDecodeWrite: outbox entries decode without panicking, to a *Error or
// to a write whose encoding decodes to itself.
func FuzzDecodeWrite(f *testing.F) {
	f.Add([]byte(`{"collection":"visits","id":"v1","pairing":"p1","dot":"A:2","hlc":[1700000000000,0],"op":"set","values":{"notes":"x"},"context":{"A":1}}`))
	f.Add([]byte(`{"collection":"visits","id":"v1","pairing":"p1","dot":"A:3","hlc":[1700000000000,1],"op":"delete","context":{"A":2,"B":1}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		w, err := DecodeWrite(data, DefaultLimits())
		if err != nil {
			checkDecodeErr(t, err)
			return
		}
		enc, err := Encode(w)
		if err != nil {
			t.Fatalf("encode a decoded write: %v", err)
		}
		w2, err := DecodeWrite(enc, Limits{MaxBytes: -1})
		if err != nil {
			t.Fatalf("decode our own encoding: %v\n%s", err, enc)
		}
		if enc2, _ := Encode(w2); string(enc2) != string(enc) {
			t.Fatalf("round trip:\n got  %s\n want %s", enc2, enc)
		}
	})
}
