package imaging

import (
	"encoding/binary"
	"errors"
	"image/color"
	"testing"
)

func TestSniff(t *testing.T) {
	jpg := encodeJPEG(t, quadrants(8, 8))
	for _, tc := range []struct {
		name string
		head []byte
		want string
	}{
		{"jpeg", jpg, JPEG},
		{"jpeg magic only", []byte{0xFF, 0xD8, 0xFF}, JPEG},
		{"png", encodePNG(t, quadrants(8, 8)), PNG},
		{"webp", webpSolid(4, 4, color.NRGBA{1, 2, 3, 255}), WebP},
		{"heic", []byte("\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic"), HEIC},
		{"heif mif1", []byte("\x00\x00\x00\x18ftypmif1\x00\x00\x00\x00mif1heic"), HEIC},
		{"avif", []byte("\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1"), ""},
		{"mp4", []byte("\x00\x00\x00\x18ftypisom\x00\x00\x02\x00"), ""},
		{"riff wave", []byte("RIFF\x24\x00\x00\x00WAVEfmt "), ""},
		{"gif", []byte("GIF89a\x01\x00\x01\x00"), ""},
		{"garbage", []byte("hello, this is not an image"), ""},
		{"jpeg cut short", []byte{0xFF, 0xD8}, ""},
		{"empty", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Sniff(tc.head); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestInspect(t *testing.T) {
	jpg := encodeJPEG(t, quadrants(120, 80))
	big := make([]byte, 65533) // a 70 KiB ICC profile in two APP2 segments, before SOF
	bigAPP := withSegments(jpg, segment(0xE2, big), segment(0xE2, big[:6000]))
	png := encodePNG(t, quadrants(50, 30))
	for _, tc := range []struct {
		name    string
		head    []byte
		want    Info
		wantErr error // nil: want no error; errAny: some other error
	}{
		{"jpeg", jpg, Info{JPEG, 120, 80, 1}, nil},
		{"jpeg exif II 6", withSegments(jpg, exif(leBO, 6)), Info{JPEG, 120, 80, 6}, nil},
		{"jpeg exif MM 8", withSegments(jpg, exif(beBO, 8)), Info{JPEG, 120, 80, 8}, nil},
		{"jpeg exif orientation 9", withSegments(jpg, exif(beBO, 9)), Info{JPEG, 120, 80, 1}, nil},
		{"jpeg exif after 70 KiB", withSegments(jpg, segment(0xE2, big), exif(leBO, 3)), Info{JPEG, 120, 80, 3}, nil},
		{"jpeg SOF after 70 KiB, whole", bigAPP, Info{JPEG, 120, 80, 1}, nil},
		{"jpeg SOF after 70 KiB, head", bigAPP[:HeadSize], Info{Type: JPEG, Orientation: 1}, ErrNeedMore},
		{"png", png, Info{PNG, 50, 30, 1}, nil},
		{"png header only", pngHeader(5000, 10), Info{PNG, 5000, 10, 1}, nil},
		{"png cut short", png[:20], Info{Type: PNG, Orientation: 1}, ErrNeedMore},
		{"png bad checksum", append(pngHeader(5, 5)[:32:32], 0, 0, 0, 0), Info{Type: PNG, Orientation: 1}, errAny},
		{"webp", webpSolid(16, 9, color.NRGBA{10, 200, 30, 255}), Info{WebP, 16, 9, 1}, nil},
		{"webp cut short", webpSolid(16, 9, color.NRGBA{})[:22], Info{Type: WebP, Orientation: 1}, ErrNeedMore},
		{"heic", []byte("\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic"), Info{Type: HEIC, Orientation: 1}, ErrFormat},
		{"garbage", []byte("hello"), Info{Orientation: 1}, ErrFormat},
		{"empty", nil, Info{Orientation: 1}, ErrFormat},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Inspect(tc.head)
			switch {
			case tc.wantErr == nil && err != nil:
				t.Fatalf("got error %v, want none", err)
			case tc.wantErr == errAny && (err == nil || errors.Is(err, ErrNeedMore) || errors.Is(err, ErrFormat)):
				t.Fatalf("got error %v, want a decoding error", err)
			case tc.wantErr != nil && tc.wantErr != errAny && !errors.Is(err, tc.wantErr):
				t.Fatalf("got error %v, want %v", err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

var errAny = errors.New("any error")

func TestUpright(t *testing.T) {
	for o := 1; o <= 8; o++ {
		w, h := Info{Width: 40, Height: 30, Orientation: o}.Upright()
		want := [2]int{40, 30}
		if o >= 5 {
			want = [2]int{30, 40}
		}
		if [2]int{w, h} != want {
			t.Errorf("orientation %d: got %d×%d, want %d×%d", o, w, h, want[0], want[1])
		}
	}
}

var (
	leBO binary.ByteOrder = binary.LittleEndian
	beBO binary.ByteOrder = binary.BigEndian
)
