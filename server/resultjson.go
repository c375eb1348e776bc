package server

import (
	"encoding/json"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/pairsync/pairsync/syncproto"
)

// A push answers and keeps (as receipts) one syncproto.Result per change,
// which encoding/json encoded by reflection: more of the push's time than
// the answers are worth. appendResult writes the same bytes directly for
// the usual Result: every string plain (no byte that encoding/json would
// escape, with or without its HTML escaping), every stamped value a plain
// string (received_at). For anything else it answers false and
// the caller uses encoding/json, so the bytes are encoding/json's either
// way (resultjson_test.go compares them).

// appendResult appends r as encoding/json encodes it (json.Marshal when
// html, the response encoder marshalJSON otherwise: they differ only on
// bytes appendResult leaves to them), or reports false.
func appendResult(b []byte, r syncproto.Result) ([]byte, bool) {
	if !r.Dot.Valid() {
		return b, false
	}
	b = append(b, `{"dot":"`...)
	b = append(b, r.Dot.Replica...)
	b = append(b, ':')
	b = strconv.AppendUint(b, r.Dot.Counter, 10)
	b = append(b, `","status":`...)
	var ok bool
	if b, ok = appendPlain(b, string(r.Status)); !ok {
		return b, false
	}
	if r.Seq != 0 {
		b = append(b, `,"seq":`...)
		b = strconv.AppendUint(b, r.Seq, 10)
	}
	if e := r.Error; e != nil {
		b = append(b, `,"error":{"code":`...)
		if b, ok = appendPlain(b, string(e.Code)); !ok {
			return b, false
		}
		b = append(b, `,"message":`...)
		if b, ok = appendPlain(b, e.Message); !ok {
			return b, false
		}
		if e.Field != "" {
			b = append(b, `,"field":`...)
			if b, ok = appendPlain(b, e.Field); !ok {
				return b, false
			}
		}
		if e.RetryAfter != 0 {
			b = append(b, `,"retry_after":`...)
			b = strconv.AppendInt(b, int64(e.RetryAfter), 10)
		}
		if e.Reason != "" {
			b = append(b, `,"reason":`...)
			if b, ok = appendPlain(b, e.Reason); !ok {
				return b, false
			}
		}
		if len(e.Args) > 0 {
			b = append(b, `,"args":`...)
			if b, ok = appendSorted(b, e.Args, appendPlain); !ok {
				return b, false
			}
		}
		b = append(b, '}')
	}
	if r.Stamp != nil {
		b = append(b, `,"stamp":[`...)
		for i, w := range r.Stamp {
			if i > 0 {
				b = append(b, ',')
			}
			if b, ok = appendStampWrite(b, w); !ok {
				return b, false
			}
		}
		b = append(b, ']')
	}
	return append(b, '}'), true
}

// appendStampWrite appends a Write as encoding/json encodes it (fields in
// the struct's order, values' keys sorted, context null when nil).
func appendStampWrite(b []byte, w syncproto.Write) ([]byte, bool) {
	if !w.Dot.Valid() {
		return b, false
	}
	var ok bool
	for i, s := range []string{w.Collection, w.ID, w.Pairing} {
		b = append(b, [...]string{`{"collection":`, `,"id":`, `,"pairing":`}[i]...)
		if b, ok = appendPlain(b, s); !ok {
			return b, false
		}
	}
	b = append(b, `,"dot":"`...)
	b = append(b, w.Dot.Replica...)
	b = append(b, ':')
	b = strconv.AppendUint(b, w.Dot.Counter, 10)
	b = append(b, `","hlc":[`...)
	b = strconv.AppendInt(b, w.HLC.Wall, 10)
	b = append(b, ',')
	b = strconv.AppendUint(b, uint64(w.HLC.Logical), 10)
	b = append(b, `],"op":`...)
	if b, ok = appendPlain(b, string(w.Op)); !ok {
		return b, false
	}
	if len(w.Values) > 0 {
		b = append(b, `,"values":`...)
		// encoding/json compacts a RawMessage (and escapes HTML and
		// U+2028/U+2029 in it): a value already compact, without those,
		// comes out as it is.
		if b, ok = appendSorted(b, w.Values, func(b []byte, v json.RawMessage) ([]byte, bool) {
			return append(b, v...), plainRaw(v)
		}); !ok {
			return b, false
		}
	}
	b = append(b, `,"context":`...)
	if w.Context == nil {
		b = append(b, "null"...)
	} else if b, ok = appendSorted(b, w.Context, func(b []byte, n uint64) ([]byte, bool) {
		return strconv.AppendUint(b, n, 10), true
	}); !ok {
		return b, false
	}
	return append(b, '}'), true
}

// appendSorted appends m as encoding/json encodes a map: keys sorted, each
// plain, each value by val; false when a key or a value is not plain.
func appendSorted[K ~string, V any](b []byte, m map[K]V, val func([]byte, V) ([]byte, bool)) ([]byte, bool) {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	var ok bool
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		if b, ok = appendPlain(b, string(k)); !ok {
			return b, false
		}
		b = append(b, ':')
		if b, ok = val(b, m[k]); !ok {
			return b, false
		}
	}
	return append(b, '}'), true
}

// appendPlain appends s quoted if no byte of it needs an escape from
// encoding/json (with HTML escaping or without): valid UTF-8, no control
// character, no '"', '\\', '<', '>', '&', U+2028 or U+2029.
func appendPlain(b []byte, s string) ([]byte, bool) {
	if !plain(s) {
		return b, false
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"'), true
}

// plain reports whether encoding/json writes s as it is between quotes.
func plain(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20, c == '"', c == '\\', c == '<', c == '>', c == '&':
			return false
		case c == 0xE2 && i+2 < len(s) && s[i+1] == 0x80 && (s[i+2] == 0xA8 || s[i+2] == 0xA9):
			return false
		}
	}
	return utf8.ValidString(s)
}

// plainRaw reports whether encoding/json writes the raw value v as it is,
// for the values the server stamps (received_at): a string whose content
// is plain (see plain). Others are left to encoding/json, which compacts
// and escapes them.
func plainRaw(v json.RawMessage) bool {
	return len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' && plain(string(v[1:len(v)-1]))
}

// encodeResult is a receipt's answer: json.Marshal's bytes.
func encodeResult(r syncproto.Result) []byte {
	if b, ok := appendResult(make([]byte, 0, 512), r); ok {
		return b
	}
	answer, _ := json.Marshal(r)
	return answer
}

// encodePushAnswer is the push answer as the response encoder writes it.
func encodePushAnswer(a syncproto.PushAnswer) ([]byte, error) {
	b := make([]byte, 0, 64+384*len(a.Results))
	b = append(b, `{"v":`...)
	b = strconv.AppendInt(b, int64(a.V), 10)
	b = append(b, `,"results":`...)
	if a.Results == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, r := range a.Results {
			if i > 0 {
				b = append(b, ',')
			}
			var ok bool
			if b, ok = appendResult(b, r); !ok {
				return marshalJSON(a)
			}
		}
		b = append(b, ']')
	}
	return append(b, '}'), nil
}
