package imaging

import "bytes"

// The image types, as MIME types.
const (
	JPEG = "image/jpeg"
	PNG  = "image/png"
	WebP = "image/webp"

	// HEIC is what Sniff reports for HEIC and other HEIF files (iPhones'
	// default). It is not accepted: it is reported so that the error can
	// say so, rather than call the photo unrecognisable.
	HEIC = "image/heic"
)

// Types are the types accepted for photos. They are the ones this package
// can decode in pure Go.
var Types = []string{JPEG, PNG, WebP}

// heifBrands are the ISO-BMFF major brands of HEIC and HEIF still images and
// sequences. AVIF ("avif", "avis") is not among them: Sniff reports it as
// unknown.
var heifBrands = []string{"heic", "heix", "heim", "heis", "hevc", "hevx", "mif1", "msf1"}

// Sniff returns the type of an image from its first bytes (12 are enough):
// JPEG, PNG, WebP, HEIC, or "" when the bytes are none of these.
func Sniff(head []byte) string {
	switch {
	case bytes.HasPrefix(head, []byte{0xFF, 0xD8, 0xFF}):
		return JPEG
	case bytes.HasPrefix(head, []byte("\x89PNG\r\n\x1a\n")):
		return PNG
	case len(head) >= 12 && string(head[0:4]) == "RIFF" && string(head[8:12]) == "WEBP":
		return WebP
	case len(head) >= 12 && string(head[4:8]) == "ftyp":
		brand := string(head[8:12])
		for _, b := range heifBrands {
			if brand == b {
				return HEIC
			}
		}
	}
	return ""
}
