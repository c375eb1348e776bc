package imaging

import (
	"bytes"
	"encoding/binary"
	"errors"
	"image/color"
	"image/jpeg"
	"testing"
)

func seeds(f *testing.F) {
	jpg := encodeJPEG(f, quadrants(16, 8))
	f.Add(jpg)
	f.Add(withSegments(jpg, exif(binary.LittleEndian, 6)))
	f.Add(withSegments(jpg, exif(binary.BigEndian, 8)))
	f.Add(encodePNG(f, quadrants(9, 7)))
	f.Add(pngHeader(5000, 10))
	f.Add(webpSolid(16, 9, color.NRGBA{10, 200, 30, 255}))
	f.Add([]byte("\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic"))
	f.Add([]byte{})
}

// FuzzCheck: no header makes Inspect or Check panic, and what they accept
// is self-consistent.
func FuzzCheck(f *testing.F) {
	seeds(f)
	f.Fuzz(func(t *testing.T, head []byte) {
		info, err := Inspect(head)
		if info.Orientation < 1 || info.Orientation > 8 {
			t.Errorf("orientation %d, want 1 to 8", info.Orientation)
		}
		if err == nil && (info.Width < 1 || info.Height < 1 || info.Type != Sniff(head)) {
			t.Errorf("accepted %+v for %q", info, Sniff(head))
		}
		checked, cerr := DefaultPolicy.Check(info.Type, head)
		var ie *Error
		if cerr != nil && !errors.As(cerr, &ie) {
			t.Errorf("Check: got %v, want an *Error", cerr)
		}
		if cerr == nil && (err != nil || checked != info || info.LongEdge() > DefaultPolicy.MaxLongEdge) {
			t.Errorf("Check accepted %+v; Inspect said %+v, %v", checked, info, err)
		}
	})
}

// FuzzThumbnail: no photo makes Thumbnail panic, and what it makes is a
// JPEG within the policy's thumbnail size.
func FuzzThumbnail(f *testing.F) {
	seeds(f)
	p := Policy{Types: Types, MaxBytes: 1 << 20, MaxLongEdge: 512, ThumbLongEdge: 8}
	f.Fuzz(func(t *testing.T, photo []byte) {
		b, err := p.Thumbnail(bytes.NewReader(photo))
		var ie *Error
		if err != nil {
			if !errors.As(err, &ie) {
				t.Errorf("got %v, want an *Error", err)
			}
			return
		}
		cfg, err := jpeg.DecodeConfig(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("the thumbnail does not decode: %v", err)
		}
		if max(cfg.Width, cfg.Height) > p.ThumbLongEdge {
			t.Errorf("got %d×%d, want at most %d", cfg.Width, cfg.Height, p.ThumbLongEdge)
		}
	})
}
