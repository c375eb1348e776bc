package imaging

import (
	"errors"
	"image/color"
	"slices"
	"strings"
	"testing"
)

func TestDefaultPolicy(t *testing.T) {
	if !slices.Equal(DefaultPolicy.Types, []string{JPEG, PNG, WebP}) {
		t.Errorf("got types %v, want JPEG, PNG and WebP", DefaultPolicy.Types)
	}
	if DefaultPolicy.MaxBytes != 8<<20 || DefaultPolicy.MaxLongEdge != 4096 || DefaultPolicy.ThumbLongEdge != 320 {
		t.Errorf("got %+v, want 8 MiB, 4096 px, thumbnails 320 px", DefaultPolicy)
	}
}

func TestCheck(t *testing.T) {
	jpg := encodeJPEG(t, quadrants(120, 80))
	png := encodePNG(t, quadrants(50, 30))
	webp := webpSolid(16, 9, color.NRGBA{10, 200, 30, 255})
	heic := []byte("\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic")
	big := make([]byte, 65533)
	bigAPP := withSegments(jpg, segment(0xE2, big), segment(0xE2, big[:6000]))
	jpegOnly := Policy{Types: []string{JPEG}, MaxBytes: 1 << 20, MaxLongEdge: 1000, ThumbLongEdge: 100}

	for _, tc := range []struct {
		name     string
		policy   Policy
		declared string
		head     []byte
		want     Info
		wantCode Code     // "" for accepted
		wantMsg  []string // words the message must have
	}{
		{"jpeg", DefaultPolicy, JPEG, jpg, Info{JPEG, 120, 80, 1}, "", nil},
		{"jpeg with orientation", DefaultPolicy, JPEG, withSegments(jpg, exif(leBO, 6)), Info{JPEG, 120, 80, 6}, "", nil},
		{"png", DefaultPolicy, PNG, png, Info{PNG, 50, 30, 1}, "", nil},
		{"webp", DefaultPolicy, WebP, webp, Info{WebP, 16, 9, 1}, "", nil},
		{"declared with case and parameters", DefaultPolicy, " Image/JPEG; q=0.9", jpg, Info{JPEG, 120, 80, 1}, "", nil},
		{"long edge at the limit", DefaultPolicy, PNG, pngHeader(4096, 4096), Info{PNG, 4096, 4096, 1}, "", nil},

		{"png declared jpeg", DefaultPolicy, JPEG, png, Info{PNG, 50, 30, 1}, CodeTypeMismatch,
			[]string{"declared image/jpeg", "bytes are PNG"}},
		{"jpeg declared webp", DefaultPolicy, WebP, jpg, Info{JPEG, 120, 80, 1}, CodeTypeMismatch,
			[]string{"declared image/webp", "bytes are JPEG"}},
		{"garbage declared jpeg", DefaultPolicy, JPEG, []byte("<html>not a photo</html>"), Info{Orientation: 1}, CodeTypeMismatch,
			[]string{"not a JPEG, PNG or WebP"}},
		{"empty declared png", DefaultPolicy, PNG, nil, Info{Orientation: 1}, CodeTypeMismatch, nil},

		{"heic declared heic", DefaultPolicy, HEIC, heic, Info{}, CodeTypeNotAccepted,
			[]string{"HEIC", "not accepted", "JPEG, PNG, WebP", "convert"}},
		{"heic declared jpeg", DefaultPolicy, JPEG, heic, Info{Type: HEIC, Orientation: 1}, CodeTypeNotAccepted,
			[]string{"bytes are HEIC", "convert"}},
		{"pdf", DefaultPolicy, "application/pdf", []byte("%PDF-1.7"), Info{}, CodeTypeNotAccepted,
			[]string{`"application/pdf"`}},
		{"nothing declared", DefaultPolicy, "", jpg, Info{}, CodeTypeNotAccepted, []string{"not declared"}},
		{"png under a jpeg-only policy", jpegOnly, PNG, png, Info{}, CodeTypeNotAccepted, []string{"(accepted: JPEG)"}},
		{"png bytes declared jpeg, jpeg-only policy", jpegOnly, JPEG, png, Info{PNG, 50, 30, 1}, CodeTypeNotAccepted, []string{"bytes are PNG"}},

		{"png 5000×10 declared jpeg", DefaultPolicy, JPEG, pngHeader(5000, 10), Info{PNG, 5000, 10, 1}, CodeTypeMismatch, nil},
		{"png 5000×10", DefaultPolicy, PNG, pngHeader(5000, 10), Info{PNG, 5000, 10, 1}, CodeTooLarge,
			[]string{"5000 px on its long edge", "limit is 4096 px", "scale it down"}},
		{"png 10×4097", DefaultPolicy, PNG, pngHeader(10, 4097), Info{PNG, 10, 4097, 1}, CodeTooLarge, []string{"4097 px"}},
		{"bomb 100000×100000", DefaultPolicy, PNG, pngHeader(100000, 100000), Info{PNG, 100000, 100000, 1}, CodeTooLarge, nil},
		{"jpeg over a small policy", jpegOnly, JPEG, encodeJPEG(t, quadrants(1001, 8)), Info{JPEG, 1001, 8, 1}, CodeTooLarge, []string{"limit is 1000 px"}},

		{"jpeg SOF beyond the head", DefaultPolicy, JPEG, bigAPP[:HeadSize], Info{Type: JPEG, Orientation: 1}, CodeUnreadable,
			[]string{"not within its first 65536 bytes"}},
		{"jpeg SOF beyond the head, whole photo", DefaultPolicy, JPEG, bigAPP, Info{JPEG, 120, 80, 1}, "", nil},
		{"png damaged", DefaultPolicy, PNG, append(pngHeader(5, 5)[:32:32], 0, 0, 0, 0), Info{Type: PNG, Orientation: 1}, CodeUnreadable,
			[]string{"damaged"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.policy.Check(tc.declared, tc.head)
			if got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
			if tc.wantCode == "" {
				if err != nil {
					t.Fatalf("got error %v, want none", err)
				}
				return
			}
			var ie *Error
			if !errors.As(err, &ie) {
				t.Fatalf("got error %v, want an *Error with code %s", err, tc.wantCode)
			}
			if ie.Code != tc.wantCode {
				t.Errorf("got code %s, want %s (%v)", ie.Code, tc.wantCode, err)
			}
			for _, w := range tc.wantMsg {
				if !strings.Contains(ie.Message, w) {
					t.Errorf("got message %q, want it to say %q", ie.Message, w)
				}
			}
		})
	}
}

func TestCheckNeedMore(t *testing.T) {
	big := make([]byte, 65533)
	jpg := withSegments(encodeJPEG(t, quadrants(8, 8)), segment(0xE2, big), segment(0xE2, big[:6000]))
	_, err := DefaultPolicy.Check(JPEG, jpg[:HeadSize])
	if !errors.Is(err, ErrNeedMore) {
		t.Errorf("got %v, want ErrNeedMore", err)
	}
}

func TestCheckSize(t *testing.T) {
	for _, tc := range []struct {
		n       int64
		wantMsg string // "" for accepted
	}{
		{0, ""},
		{8 << 20, ""},
		{8<<20 + 1, "the photo is over 8.0 MiB; the limit is 8.0 MiB"},
		{12 << 20, "the photo is 12.0 MiB; the limit is 8.0 MiB: compress or scale it down"},
	} {
		err := DefaultPolicy.CheckSize(tc.n)
		var ie *Error
		switch {
		case tc.wantMsg == "" && err != nil:
			t.Errorf("%d bytes: got %v, want no error", tc.n, err)
		case tc.wantMsg == "":
		case !errors.As(err, &ie) || ie.Code != CodeTooLarge:
			t.Errorf("%d bytes: got %v, want an *Error with code too_large", tc.n, err)
		case !strings.HasPrefix(ie.Message, tc.wantMsg):
			t.Errorf("%d bytes: got %q, want %q…", tc.n, ie.Message, tc.wantMsg)
		}
	}
}
