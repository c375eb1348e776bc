package bolt

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"

	"github.com/klauspost/compress/s2"
)

// Stored forms of record data and receipt answers (issue 20: stored bytes
// per visit). Callers always get back the bytes they committed; only the
// file holds these forms.
//
// A record's data (the tail of its value in the records bucket, after seq
// and pairing) is one of:
//
//	empty, or starting with '{'   the data as committed (every value written
//	                              before this format, all syncproto JSON, and
//	                              JSON that does not compress)
//	0x00 ‖ data                   the data as committed, any bytes
//	0x01 ‖ s2 block               s2-compressed data (the block starts with
//	                              the data's length, a uvarint)
//
// s2 rather than zstd: on fieldctl bench's visits (BenchmarkRecordCodecs)
// zstd makes records 15–20% smaller but costs ~6× the CPU to write and
// ~4× to read, and a Changes page decodes 500 of them; the pages the file
// uses come out the same (TestStoredBytesPerVisit: two or three records a
// 4 KiB page either way).
//
// A receipt's answer is one of:
//
//	empty, or starting with '{'   the answer as committed (as above)
//	0x00 ‖ answer                 the answer as committed, any bytes
//	0x01 ‖ rest                   the answer is {"dot":"<replica>:<counter>",
//	                              "status":" ‖ rest: the server's answers
//	                              start with the dot that the receipt's key
//	                              already holds
const (
	tagRaw = 0x00
	tagS2  = 0x01

	tagAnswerDot = 0x01
)

// Data is compressed when its length is within [minCompress, maxCompress]:
// below, the tag and the framing cost more than they save; the bound above
// lets decodeData refuse a corrupt length claiming more without allocating
// it (a record is at most a few MB: syncproto's limits).
const (
	minCompress = 64
	maxCompress = 64 << 20
)

// Fill percents of the buckets a commit writes (bbolt splits a page at
// this fraction; its default, 0.5, leaves pages half empty when keys are
// appended). A pairing's log is keyed by sequence, appended only; receipts
// by replica then counter, appended per replica; records by collection then
// id (UUIDv7, roughly in time order), rewritten in place on update, so a
// little room is left there.
const (
	fillLog      = 1.0
	fillReceipts = 1.0
	fillRecords  = 0.9
)

// storedCap is the room appendData may need for data of n bytes.
func storedCap(n int) int {
	if n >= minCompress && n <= maxCompress {
		return 1 + max(n, s2.MaxEncodedLen(n))
	}
	return 1 + n
}

// appendData appends data's stored form to b; with storedCap(len(data))
// bytes free in b, it allocates nothing.
func appendData(b, data []byte) []byte {
	if len(data) >= minCompress && len(data) <= maxCompress {
		start := len(b)
		b = append(b, tagS2)
		if room := b[len(b):cap(b)]; len(room) >= s2.MaxEncodedLen(len(data)) {
			// s2 encodes into room, b's own array.
			if z := s2.Encode(room, data); 1+len(z) < len(data) {
				return b[:len(b)+len(z)]
			}
		} else if z := s2.Encode(nil, data); 1+len(z) < len(data) {
			return append(b, z...)
		}
		b = b[:start]
	}
	if len(data) > 0 && data[0] != '{' {
		b = append(b, tagRaw)
	}
	return append(b, data...)
}

// errCorruptData is wrapped by decodeData's errors.
var errCorruptData = errors.New("corrupt stored data")

// decodeData returns the data whose stored form is v. owned reports that
// the data is a new slice; otherwise it aliases v.
func decodeData(v []byte) (data []byte, owned bool, err error) {
	if len(v) == 0 || v[0] == '{' {
		return v, false, nil
	}
	switch v[0] {
	case tagRaw:
		return v[1:], false, nil
	case tagS2:
		n, err := s2.DecodedLen(v[1:])
		if err != nil {
			return nil, false, fmt.Errorf("%w: %v", errCorruptData, err)
		}
		if n > maxCompress {
			return nil, false, fmt.Errorf("%w: s2: length %d", errCorruptData, n)
		}
		data, err := s2.Decode(make([]byte, n), v[1:])
		if err != nil {
			return nil, false, fmt.Errorf("%w: %v", errCorruptData, err)
		}
		return data, true, nil
	}
	return nil, false, fmt.Errorf("%w: unknown format %#x", errCorruptData, v[0])
}

// answerPrefix is what a receipt's answer starts with when it begins with
// its own dot: {"dot":"<replica>:<counter>","status":"
func answerPrefix(b []byte, replica string, counter uint64) []byte {
	b = append(b, `{"dot":"`...)
	b = append(b, replica...)
	b = append(b, ':')
	b = strconv.AppendUint(b, counter, 10)
	return append(b, `","status":"`...)
}

// encodeAnswer is the stored form of a receipt's answer.
func encodeAnswer(replica string, counter uint64, answer []byte) []byte {
	if len(answer) > 0 && answer[0] == '{' {
		var buf [128]byte
		if p := answerPrefix(buf[:0], replica, counter); bytes.HasPrefix(answer, p) {
			return append([]byte{tagAnswerDot}, answer[len(p):]...)
		}
		return bytes.Clone(answer)
	}
	if len(answer) == 0 {
		return []byte{}
	}
	return append([]byte{tagRaw}, answer...)
}

// decodeAnswer returns, in a new slice, the answer whose stored form is v.
func decodeAnswer(replica string, counter uint64, v []byte) ([]byte, error) {
	if len(v) == 0 || v[0] == '{' {
		return bytes.Clone(v), nil
	}
	switch v[0] {
	case tagRaw:
		return bytes.Clone(v[1:]), nil
	case tagAnswerDot:
		p := answerPrefix(make([]byte, 0, 32+len(replica)+len(v)), replica, counter)
		return append(p, v[1:]...), nil
	}
	return nil, fmt.Errorf("%w: unknown receipt format %#x", errCorruptData, v[0])
}
