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
	// DeletePhoto removes a photo (and its thumbnail); deleting an absent
	// photo is not an error.
	DeletePhoto(ctx context.Context, sum string) error
	// ListPhotos lists stored photos in sum order, after the given sum
	// ("" = from the start), at most limit (≤ 0: 1,000) per call; more
	// reports whether photos after the last one exist.
	ListPhotos(ctx context.Context, after string, limit int) (photos []PhotoInfo, more bool, err error)

	PhotoUploads
	Thumbnails
}

// Upload is a photo being uploaded in parts, so that an upload cut off
// resumes where it stopped instead of starting over.
type Upload struct {
	SHA256 string
	// ID names the upload (the store's multipart upload id, or the sum).
	ID   string
	Size int64
	// PartSize is the size of every part but the last (which holds the
	// rest): part n (1-based) covers bytes [(n-1)·PartSize, n·PartSize).
	PartSize int64
	// Done lists the parts the store holds, by number, ascending.
	Done    []Part
	Started time.Time
}

// Part is one stored part of an upload.
type Part struct {
	Number int
	Size   int64
}

// Parts returns how many parts an upload of size bytes has.
func (u Upload) Parts() int {
	if u.Size == 0 {
		return 1
	}
	return int((u.Size + u.PartSize - 1) / u.PartSize)
}

// PartLen returns the size of part n of the upload.
func (u Upload) PartLen(n int) int64 {
	start := int64(n-1) * u.PartSize
	return min(u.PartSize, u.Size-start)
}

// PhotoUploads holds photos on their way in. Every method is safe for
// concurrent use; parts of one upload may arrive in any order and twice.
type PhotoUploads interface {
	// BeginUpload starts the upload of a photo of size bytes, or returns the
	// pending upload of sum (whose Done parts then need not be sent again;
	// a pending upload of another size is dropped and started afresh).
	// ErrExists when the photo is already stored. ErrInvalid for a
	// malformed sum or size ≤ 0.
	BeginUpload(ctx context.Context, sum string, size int64) (Upload, error)
	// PutPart stores part n of the upload from r, which must yield exactly
	// the part's length (ErrMismatch otherwise; ErrNotFound for an unknown
	// upload, ErrInvalid for a part number out of range).
	PutPart(ctx context.Context, sum, uploadID string, n int, r io.Reader) error
	// CompleteUpload assembles the parts and stores the photo under sum if
	// the bytes hash to sum, have the upload's size and pass check (given
	// the first bytes, up to 64 KiB: the server checks the image type
	// there); the pending upload is dropped either way. ErrMismatch (with
	// check's error wrapped when it refused) and nothing stored otherwise;
	// ErrIncomplete while parts are missing (nothing dropped then).
	CompleteUpload(ctx context.Context, sum, uploadID string, check func(head []byte) error) (PhotoInfo, error)
	// Uploads lists pending uploads started before the given time (for the
	// clean-up of abandoned ones).
	Uploads(ctx context.Context, startedBefore time.Time) ([]Upload, error)
	// AbortUpload drops a pending upload and its parts (absent: no error).
	AbortUpload(ctx context.Context, sum, uploadID string) error
}

// Thumbnails caches each photo's small rendering (the server makes it).
type Thumbnails interface {
	// PutThumbnail stores the thumbnail of a stored photo (a few KiB).
	PutThumbnail(ctx context.Context, sum string, data []byte) error
	// Thumbnail returns it, or ErrNotFound.
	Thumbnail(ctx context.Context, sum string) ([]byte, error)
}

// Presigner is an optional ability of a photo store that devices reach
// directly (MinIO, S3): it signs URLs so that photo bytes go between the
// phone and the store without passing through the server. Found by type
// assertion on the Photos.
type Presigner interface {
	// PresignPart returns a URL that accepts an HTTP PUT of exactly part n
	// of the upload (its length signed) until expiry.
	PresignPart(ctx context.Context, sum, uploadID string, n int, expiry time.Duration) (PresignedRequest, error)
	// PresignGet returns a URL that serves the stored photo until expiry.
	PresignGet(ctx context.Context, sum string, expiry time.Duration) (PresignedRequest, error)
}

// PresignedRequest is a request a device makes straight to the store.
type PresignedRequest struct {
	Method string
	URL    string
	// Header lists headers the device must send as given (signed).
	Header    map[string]string
	ExpiresAt time.Time
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
