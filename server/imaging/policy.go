package imaging

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Policy is what photos the server accepts and how it makes thumbnails. The
// server publishes it (GET /v1/schema) and enforces it. All fields must be
// set; the zero Policy accepts nothing.
type Policy struct {
	Types         []string `json:"types"`           // accepted types, a subset of Types
	MaxBytes      int64    `json:"max_bytes"`       // largest photo file
	MaxLongEdge   int      `json:"max_long_edge"`   // largest width or height, in pixels
	ThumbLongEdge int      `json:"thumb_long_edge"` // thumbnails' largest width or height
}

// DefaultPolicy suits photos from phone cameras scaled down by the app.
var DefaultPolicy = Policy{Types: Types, MaxBytes: 8 << 20, MaxLongEdge: 4096, ThumbLongEdge: 320}

// Code says what is wrong with a photo, for the server to map to a status
// and a wire error code.
type Code string

// The codes of Error.
const (
	CodeTypeMismatch    Code = "type_mismatch"     // the bytes are not of the declared type (422)
	CodeTypeNotAccepted Code = "type_not_accepted" // the type is not in Policy.Types (415)
	CodeTooLarge        Code = "too_large"         // too many bytes or pixels (413)
	CodeUnreadable      Code = "unreadable"        // the type is right but the image cannot be read (422)
)

// Error is a photo refused by a Policy. Message is for the phone's user: it
// says, in plain words, what is wrong and what to do about it. Err, when
// set, is the cause for the log (ErrNeedMore, a decoder's error).
type Error struct {
	Code    Code
	Message string
	Err     error
}

func (e *Error) Error() string {
	s := "imaging: " + string(e.Code) + ": " + e.Message
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

func refuse(code Code, cause error, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Err: cause}
}

// accepts reports whether the policy accepts type t.
func (p Policy) accepts(t string) bool { return slices.Contains(p.Types, t) }

// CheckSize returns a *Error with CodeTooLarge when a photo of n bytes is
// over p.MaxBytes. Check cannot tell, as it only sees the first bytes.
func (p Policy) CheckSize(n int64) error {
	if n <= p.MaxBytes {
		return nil
	}
	size, limit := sizeString(n), sizeString(p.MaxBytes)
	if size == limit {
		size = "over " + limit
	}
	return refuse(CodeTooLarge, nil, "the photo is %s; the limit is %s: compress or scale it down before uploading", size, limit)
}

// Check checks a photo's first bytes (HeadSize of them, or the whole photo
// when it is shorter) against the policy and the type the phone declared,
// and returns what they say about the photo. It returns a *Error when the
// photo is refused:
//
//   - CodeTypeNotAccepted: the declared type, or the type of the bytes, is
//     not in p.Types (HEIC, say);
//   - CodeTypeMismatch: the bytes are not of the declared type;
//   - CodeUnreadable: the header is damaged, or the size is not within head
//     (errors.Is(err, ErrNeedMore): the caller may check again with more
//     bytes, or refuse);
//   - CodeTooLarge: the long edge is over p.MaxLongEdge.
//
// The declared type may carry parameters ("image/jpeg; q=1"), which are
// ignored, and is compared case-insensitively.
func (p Policy) Check(declared string, head []byte) (Info, error) {
	declared, _, _ = strings.Cut(declared, ";")
	declared = strings.ToLower(strings.TrimSpace(declared))
	if !p.accepts(declared) {
		return Info{}, p.notAccepted(declared, true)
	}
	return p.inspect(head, declared)
}

// inspect is Inspect with the policy's limits, and errors of type *Error.
// The bytes must be of the declared type, unless declared is "".
func (p Policy) inspect(head []byte, declared string) (Info, error) {
	info, err := Inspect(head)
	switch {
	case info.Type == "":
		return info, refuse(CodeTypeMismatch, nil, "the photo's bytes are not a JPEG, PNG or WebP image: upload the original photo file, unchanged")
	case !p.accepts(info.Type):
		return info, p.notAccepted(info.Type, false)
	case declared != "" && info.Type != declared:
		return info, refuse(CodeTypeMismatch, nil, "the photo is declared %s but its bytes are %s: declare the type of the file you send",
			declared, typeName(info.Type))
	case errors.Is(err, ErrNeedMore):
		return info, refuse(CodeUnreadable, err, "the photo's width and height are not within its first %d bytes (the file is cut short, or its metadata is very large): save the photo again without extra metadata before uploading", len(head))
	case err != nil:
		return info, refuse(CodeUnreadable, err, "the photo's header cannot be read as %s (the file is damaged): upload the original photo file again", typeName(info.Type))
	case info.LongEdge() > p.MaxLongEdge:
		return info, refuse(CodeTooLarge, nil, "the photo is %d px on its long edge; the limit is %d px: scale it down before uploading",
			info.LongEdge(), p.MaxLongEdge)
	}
	return info, nil
}

// notAccepted refuses type t: declared by the phone, or else sniffed.
func (p Policy) notAccepted(t string, declared bool) *Error {
	accepted := make([]string, len(p.Types))
	for i, a := range p.Types {
		accepted[i] = typeName(a)
	}
	what := fmt.Sprintf("the photo's bytes are %s, which is not accepted", typeName(t))
	switch {
	case declared && t == "":
		what = "the photo's type is not declared"
	case declared:
		what = fmt.Sprintf("photos of type %s are not accepted", typeName(t))
	}
	return refuse(CodeTypeNotAccepted, nil, "%s (accepted: %s): convert the photo to JPEG before uploading",
		what, strings.Join(accepted, ", "))
}

// typeName is how messages name a type.
func typeName(t string) string {
	switch t {
	case JPEG:
		return "JPEG"
	case PNG:
		return "PNG"
	case WebP:
		return "WebP"
	case HEIC:
		return "HEIC"
	}
	return fmt.Sprintf("%q", t)
}

// sizeString writes n bytes the way people read them.
func sizeString(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}
