package storage

import (
	"context"
	"io"
	"time"
)

// PhotoInfo describes a stored photo.
type PhotoInfo struct {
	SHA256   string // lowercase hex, 64 characters: the object key
	Size     int64
	StoredAt time.Time
}

// Photos is a content-addressed photo store: the key of every object is the
// SHA-256 of its bytes, computed and checked by the store, never chosen by a
// client. Safe for concurrent use.
type Photos interface {
	// PutPhoto stores the bytes read from r under sum (lowercase hex SHA-256)
	// if they are exactly size bytes long and hash to sum; otherwise it
	// stores nothing and returns ErrMismatch (ErrTooLarge when r yields more
	// than size bytes). Storing a photo that is already there reads r to
	// verify it and keeps one copy. ErrInvalid for a malformed sum or a
	// negative size. The photo
	// is durable when PutPhoto returns.
	PutPhoto(ctx context.Context, sum string, size int64, r io.Reader) (PhotoInfo, error)
	// OpenPhoto opens a stored photo for reading; the caller closes it.
	// ErrNotFound if absent, ErrInvalid for a malformed sum.
	OpenPhoto(ctx context.Context, sum string) (io.ReadCloser, PhotoInfo, error)
	// StatPhoto describes a stored photo, or ErrNotFound (ErrInvalid for a
	// malformed sum, as for every method here).
	StatPhoto(ctx context.Context, sum string) (PhotoInfo, error)
	// DeletePhoto removes a photo; deleting an absent photo is not an error.
	DeletePhoto(ctx context.Context, sum string) error
}

// ValidSHA256 reports whether s is a lowercase hex SHA-256 (64 characters),
// the only form a photo key may take. It keeps paths and object names made
// from keys free of separators and dots.
func ValidSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
