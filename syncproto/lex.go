package syncproto

// JSON lexical rules shared by the parser (json.go), the push scanner
// (pushscan.go), the canonical-value check (json.go) and server/pairing's
// value scan, so that each rule is written once.

import (
	"encoding/binary"
	"unicode/utf8"
)

// numberFault says where a number failed JSON's grammar.
type numberFault uint8

const (
	numberOK        numberFault = iota
	numberNoInt                 // no integer digits after the optional '-'
	numberNoFrac                // no digits after '.'
	numberNoExpDigs             // no digits in the exponent
)

// ScanNumber scans the JSON number (RFC 8259's grammar: optional '-', an
// integer without leading zeros, optional fraction, optional exponent)
// that starts at b[i] and returns the index just after it. When b[i:] does
// not start with a valid number, ok is false and end is the index where
// the grammar failed. It sets no length limit: callers apply their own.
func ScanNumber(b []byte, i int) (end int, ok bool) {
	end, f := scanNumber(b, i)
	return end, f == numberOK
}

func scanNumber(b []byte, i int) (int, numberFault) {
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && '1' <= b[i] && b[i] <= '9':
		i = skipDigits(b, i)
	default:
		return i, numberNoInt
	}
	if i < len(b) && b[i] == '.' {
		j := skipDigits(b, i+1)
		if j == i+1 {
			return j, numberNoFrac
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := skipDigits(b, i)
		if j == i {
			return j, numberNoExpDigs
		}
		i = j
	}
	return i, numberOK
}

// skipDigits returns the index of the first byte at or after b[i] that is
// not an ASCII digit.
func skipDigits(b []byte, i int) int {
	for i < len(b) && '0' <= b[i] && b[i] <= '9' {
		i++
	}
	return i
}

// SkipSpace returns the index of the first byte at or after b[i] that is
// not JSON whitespace (space, tab, newline, carriage return).
func SkipSpace(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// ScanPlain scans a run of string content that needs no unescaping: it
// returns the index of the first byte at or after b[i] that is '"', '\\'
// or a control character (below 0x20), or len(b), and reports whether the
// run is valid UTF-8. None of those three bytes occurs inside a valid
// UTF-8 sequence, so checking the run at once refuses exactly what a
// rune-by-rune decoding would.
//
// It reads eight bytes at a time while none of them stops the run (long
// strings, a visit's notes, are most of a push's bytes), then byte by
// byte.
func ScanPlain(b []byte, i int) (end int, valid bool) {
	run := i
	var high uint64
	for ; i+8 <= len(b); i += 8 {
		x := binary.LittleEndian.Uint64(b[i:])
		if swarStops(x) {
			break
		}
		high |= x
	}
	for i < len(b) {
		c := b[i]
		if c == '"' || c == '\\' || c < 0x20 {
			break
		}
		high |= uint64(c)
		i++
	}
	return i, high&swarHigh == 0 || utf8.Valid(b[run:i])
}

const (
	swarOnes = 0x0101010101010101
	swarHigh = 0x8080808080808080
)

// swarStops reports whether one of x's eight bytes is '"', '\\' or below
// 0x20. (v - ones) &^ v & high is non-zero iff a byte of v is zero, and
// (x - 0x20·ones) &^ x & high iff a byte of x is below 0x20 (the
// borrows can only mark bytes above a byte that does match).
func swarStops(x uint64) bool {
	q := x ^ ('"' * swarOnes)
	bs := x ^ ('\\' * swarOnes)
	return ((x-0x20*swarOnes)&^x|(q-swarOnes)&^q|(bs-swarOnes)&^bs)&swarHigh != 0
}
