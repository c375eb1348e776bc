package imaging

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"io"

	"golang.org/x/image/webp"
)

// HeadSize is how many first bytes of a photo Inspect and Policy.Check are
// meant to be given. A JPEG's size comes after its metadata, which phones
// fill with EXIF and thumbnails of their own; 64 KiB covers the photos of
// ordinary phone cameras.
const HeadSize = 64 << 10

var (
	// ErrFormat means the bytes are not an image this package can read: not
	// JPEG, PNG or WebP. Info.Type says whether they are HEIC.
	ErrFormat = errors.New("imaging: not a JPEG, PNG or WebP image")

	// ErrNeedMore means the head ended before the image's size: the caller
	// may try again with more of the photo's first bytes.
	ErrNeedMore = errors.New("imaging: the image's size is not within the bytes given")
)

// Info is what the first bytes of a photo say about it.
type Info struct {
	Type string // JPEG, PNG, WebP or HEIC

	// Width and Height are the image's size as stored, before Orientation
	// is applied; see Upright.
	Width, Height int

	// Orientation is the EXIF orientation of a JPEG, 1 to 8 (1: as stored;
	// 6: turn 90° clockwise to display, the usual portrait phone photo). It
	// is 1 when there is none or it cannot be read, and for other types.
	Orientation int
}

// LongEdge returns the larger of Width and Height.
func (i Info) LongEdge() int { return max(i.Width, i.Height) }

// Upright returns the size of the image as displayed: Width and Height,
// swapped when Orientation turns the image by a quarter.
func (i Info) Upright() (width, height int) {
	if i.Orientation >= 5 && i.Orientation <= 8 {
		return i.Height, i.Width
	}
	return i.Width, i.Height
}

// Inspect reads the type, size and orientation of a photo from its first
// bytes, without decoding pixels. Give it HeadSize bytes, or the whole photo
// when it is shorter.
//
// It returns ErrFormat (with Info.Type set for HEIC) when the bytes are not
// JPEG, PNG or WebP, ErrNeedMore when head ends before the size, and another
// error when the header is damaged. It does not keep head.
func Inspect(head []byte) (Info, error) {
	info := Info{Type: Sniff(head), Orientation: 1}
	var decodeConfig func(io.Reader) (image.Config, error)
	switch info.Type {
	case JPEG:
		decodeConfig = jpeg.DecodeConfig
		info.Orientation = jpegOrientation(head)
	case PNG:
		decodeConfig = png.DecodeConfig
	case WebP:
		decodeConfig = webp.DecodeConfig
	default:
		return info, ErrFormat
	}
	cfg, err := decodeConfig(bytes.NewReader(head))
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return info, ErrNeedMore
	case err != nil:
		return info, fmt.Errorf("imaging: read %s header: %w", info.Type, err)
	case cfg.Width < 1 || cfg.Height < 1:
		return info, fmt.Errorf("imaging: read %s header: size %d×%d", info.Type, cfg.Width, cfg.Height)
	}
	info.Width, info.Height = cfg.Width, cfg.Height
	return info, nil
}
