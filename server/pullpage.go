package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/pairsync/pairsync/syncproto"
)

// pullPage builds a pull answer from stored records without decoding them:
// a stored record version is already syncproto's canonical JSON (what
// syncproto.Encode gives for the record), so it goes into the answer as it
// is, in the shape of syncproto.PulledRecord:
// {"pairing":…,"seq":…,"record":<stored bytes>}. Decoding each record only
// to encode it again cost most of a pull's time.
type pullPage struct {
	// buf is the answer up to the end of its records so far: pullPrefix,
	// then the records; encode appends the rest.
	buf []byte
	n   int // how many records
}

// pullPrefix is how syncproto encodes a pull answer up to its first record.
var pullPrefix = []byte(`{"v":` + strconv.Itoa(syncproto.Version) + `,"records":[`)

// reserve makes room for n more bytes, doubling the buffer when it grows
// (a page is up to 1 MiB of records: few copies).
func (pg *pullPage) reserve(n int) {
	if pg.buf == nil {
		pg.buf = append(make([]byte, 0, max(len(pullPrefix)+n, 16<<10)), pullPrefix...)
	}
	if cap(pg.buf)-len(pg.buf) < n {
		buf := make([]byte, len(pg.buf), max(2*cap(pg.buf), len(pg.buf)+n))
		copy(buf, pg.buf)
		pg.buf = buf
	}
}

// add appends one stored record version of pairing pid at seq.
func (pg *pullPage) add(pid string, seq uint64, data []byte) {
	pg.reserve(len(data) + len(pid) + 64)
	if pg.n > 0 {
		pg.buf = append(pg.buf, ',')
	}
	pg.buf = append(pg.buf, `{"pairing":`...)
	pg.buf = appendJSONString(pg.buf, pid)
	pg.buf = append(pg.buf, `,"seq":`...)
	pg.buf = strconv.AppendUint(pg.buf, seq, 10)
	pg.buf = append(pg.buf, `,"record":`...)
	pg.buf = append(pg.buf, data...)
	pg.buf = append(pg.buf, '}')
	pg.n++
}

// encode returns the wire form of ans (whose Records must be empty) with
// the page's records as its "records".
func (pg *pullPage) encode(ans syncproto.PullAnswer) ([]byte, error) {
	if len(ans.Records) > 0 {
		return nil, fmt.Errorf("pull page: answer already holds %d records", len(ans.Records))
	}
	ans.Records = []syncproto.PulledRecord{}
	frame, err := syncproto.Encode(ans)
	if err != nil {
		return nil, err
	}
	// frame is pullPrefix, "]" (no records), then the rest of the answer.
	if !bytes.HasPrefix(frame, pullPrefix) || !bytes.HasPrefix(frame[len(pullPrefix):], []byte("]")) {
		return nil, fmt.Errorf("pull page: the answer does not begin with %s]: %.60q", pullPrefix, frame)
	}
	pg.reserve(len(frame))
	return append(pg.buf, frame[len(pullPrefix):]...), nil
}

// appendJSONString appends s as a JSON string (pairing ids are short; the
// common ASCII case needs no escaping).
func appendJSONString(b []byte, s string) []byte {
	plain := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= 0x7f {
			plain = false
			break
		}
	}
	if plain {
		b = append(b, '"')
		b = append(b, s...)
		return append(b, '"')
	}
	q, _ := json.Marshal(s) // cannot fail for a string
	return append(b, q...)
}
