package syncproto

import (
	"strconv"
	"strings"
)

// MaxCounter is the largest counter a dot, a version vector or a sequence
// may carry, and the largest HLC wall time: 2^53-1, so that JavaScript
// numbers hold every one of them exactly.
const MaxCounter = 1<<53 - 1

// ReplicaID names a replica: a device (phone or browser) or a server process
// writing on behalf of an administrator. It is 1–64 characters of
// [A-Za-z0-9_-]. A replica id is never reused: a reinstalled app gets a new
// one, because its counter starts again.
type ReplicaID string

// Valid reports whether r is a well-formed replica id.
func (r ReplicaID) Valid() bool { return validName(string(r), maxNameLen) }

const (
	maxNameLen  = 64  // replica ids, collections, pairings
	maxIDLen    = 128 // record ids
	maxFieldLen = 64  // field names
)

// validName reports whether s is 1–max characters of [A-Za-z0-9_-].
func validName(s string, max int) bool {
	if len(s) == 0 || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// validFieldName reports whether s is a field name: a letter or underscore,
// then letters, digits and underscores, 64 characters at most.
func validFieldName(s string) bool {
	if len(s) == 0 || len(s) > maxFieldLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', c == '_':
		case '0' <= c && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// Dot names one write: the replica that made it and that replica's counter
// at the time. A replica's counter is replica-wide (not per record) and
// strictly increasing, so a dot identifies a write everywhere, and a device's
// dots are the idempotency keys of its pushes. On the wire a dot is the
// string "replica:counter", e.g. "phone-7:42".
type Dot struct {
	Replica ReplicaID
	Counter uint64
}

// String returns "replica:counter".
func (d Dot) String() string {
	return string(d.Replica) + ":" + strconv.FormatUint(d.Counter, 10)
}

// Valid reports whether d has a valid replica id and a counter in
// 1..MaxCounter.
func (d Dot) Valid() bool {
	return d.Replica.Valid() && d.Counter >= 1 && d.Counter <= MaxCounter
}

// Compare orders dots by replica id, then counter, returning -1, 0 or +1.
func (d Dot) Compare(o Dot) int {
	if c := strings.Compare(string(d.Replica), string(o.Replica)); c != 0 {
		return c
	}
	switch {
	case d.Counter < o.Counter:
		return -1
	case d.Counter > o.Counter:
		return 1
	}
	return 0
}

// ParseDot parses "replica:counter".
func ParseDot(s string) (Dot, error) {
	d, ok := parseDot(s)
	if !ok {
		return Dot{}, Errorf(CodeBadRequest, "malformed dot %q: want \"replica:counter\" with a counter in 1..2^53-1", truncate(s, 80))
	}
	return d, nil
}

func parseDot(s string) (Dot, bool) {
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return Dot{}, false
	}
	n, err := strconv.ParseUint(s[i+1:], 10, 64)
	if err != nil || (len(s[i+1:]) > 1 && s[i+1] == '0') {
		return Dot{}, false
	}
	d := Dot{Replica: ReplicaID(s[:i]), Counter: n}
	return d, d.Valid()
}

// MarshalText encodes d as "replica:counter".
func (d Dot) MarshalText() ([]byte, error) {
	if !d.Valid() {
		return nil, Errorf(CodeBadRequest, "invalid dot %q", truncate(d.String(), 80))
	}
	return []byte(d.String()), nil
}

// UnmarshalText decodes "replica:counter".
func (d *Dot) UnmarshalText(b []byte) error {
	v, err := ParseDot(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// truncate shortens s for an error message.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
