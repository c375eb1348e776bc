package imaging

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"runtime"
	"strings"
	"testing"
	"time"
)

// decodeThumb decodes a thumbnail, failing the test when it is not a JPEG.
func decodeThumb(t *testing.T, b []byte) image.Image {
	t.Helper()
	m, err := jpeg.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("the thumbnail does not decode as JPEG: %v", err)
	}
	return m
}

// corners returns the colours at the centres of m's quadrants: top left,
// top right, bottom left, bottom right.
func corners(m image.Image) [4]color.Color {
	b := m.Bounds()
	x0, x1 := b.Min.X+b.Dx()/4, b.Min.X+3*b.Dx()/4
	y0, y1 := b.Min.Y+b.Dy()/4, b.Min.Y+3*b.Dy()/4
	return [4]color.Color{m.At(x0, y0), m.At(x1, y0), m.At(x0, y1), m.At(x1, y1)}
}

func TestThumbnail(t *testing.T) {
	transparent := image.NewNRGBA(image.Rect(0, 0, 40, 40)) // all transparent: white in the thumbnail
	for _, tc := range []struct {
		name        string
		photo       []byte
		wantW       int
		wantH       int
		wantCorners [4]color.Color
	}{
		{"jpeg 2000×1500", encodeJPEG(t, quadrants(2000, 1500)), 320, 240, [4]color.Color{red, green, blue, yellow}},
		{"jpeg 1500×2000", encodeJPEG(t, quadrants(1500, 2000)), 240, 320, [4]color.Color{red, green, blue, yellow}},
		{"jpeg 4096×4096", encodeJPEG(t, quadrants(4096, 4096)), 320, 320, [4]color.Color{red, green, blue, yellow}},
		{"png 1001×333", encodePNG(t, quadrants(1001, 333)), 320, 106, [4]color.Color{red, green, blue, yellow}},
		{"png 4096×3", encodePNG(t, quadrants(4096, 3)), 320, 1, [4]color.Color{}}, // rows blend: colours not checked
		{"png 100×50, not enlarged", encodePNG(t, quadrants(100, 50)), 100, 50, [4]color.Color{red, green, blue, yellow}},
		{"png 320×320, as is", encodePNG(t, quadrants(320, 320)), 320, 320, [4]color.Color{red, green, blue, yellow}},
		{"png transparent, on white", encodePNG(t, transparent), 40, 40, [4]color.Color{color.White, color.White, color.White, color.White}},
		{"webp 640×480", webpSolid(640, 480, color.NRGBA{10, 200, 30, 255}), 320, 240, [4]color.Color{
			color.RGBA{10, 200, 30, 255}, color.RGBA{10, 200, 30, 255}, color.RGBA{10, 200, 30, 255}, color.RGBA{10, 200, 30, 255}}},
		{"webp 16×9", webpSolid(16, 9, color.NRGBA{200, 10, 30, 255}), 16, 9, [4]color.Color{
			color.RGBA{200, 10, 30, 255}, color.RGBA{200, 10, 30, 255}, color.RGBA{200, 10, 30, 255}, color.RGBA{200, 10, 30, 255}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := DefaultPolicy.Thumbnail(bytes.NewReader(tc.photo))
			if err != nil {
				t.Fatal(err)
			}
			m := decodeThumb(t, b)
			if w, h := m.Bounds().Dx(), m.Bounds().Dy(); w != tc.wantW || h != tc.wantH {
				t.Fatalf("got %d×%d, want %d×%d", w, h, tc.wantW, tc.wantH)
			}
			for i, c := range corners(m) {
				if tc.wantCorners[i] != nil && !near(c, tc.wantCorners[i], 24) {
					t.Errorf("quadrant %d: got colour %v, want about %v", i, c, tc.wantCorners[i])
				}
			}
		})
	}
}

func TestThumbnailAspect(t *testing.T) {
	for _, size := range [][2]int{{2000, 1500}, {4000, 3000}, {1600, 1200}, {3024, 4032}, {1920, 1080}, {4096, 17}, {321, 320}} {
		w, h := thumbSize(size[0], size[1], 320)
		if max(w, h) != 320 {
			t.Errorf("%v: got %d×%d, want 320 on the long edge", size, w, h)
		}
		// The short edge is the exact one, rounded: within half a pixel.
		if exact := float64(min(size[0], size[1])) * 320 / float64(max(size[0], size[1])); abs(int(2*(float64(min(w, h))-exact))) > 1 {
			t.Errorf("%v: got %d×%d, want the short edge %.2f rounded", size, w, h, exact)
		}
	}
}

func TestThumbnailOrientation(t *testing.T) {
	r, g, b, y := color.Color(red), color.Color(green), color.Color(blue), color.Color(yellow)
	jpg := encodeJPEG(t, quadrants(600, 200))
	for _, tc := range []struct {
		o    uint16
		want [4]color.Color // top left, top right, bottom left, bottom right, as displayed
	}{
		{1, [4]color.Color{r, g, b, y}},
		{2, [4]color.Color{g, r, y, b}},
		{3, [4]color.Color{y, b, g, r}},
		{4, [4]color.Color{b, y, r, g}},
		{5, [4]color.Color{r, b, g, y}},
		{6, [4]color.Color{b, r, y, g}},
		{7, [4]color.Color{y, g, b, r}},
		{8, [4]color.Color{g, y, r, b}},
	} {
		for _, bo := range []binary.ByteOrder{binary.LittleEndian, binary.BigEndian} {
			t.Run(bo.String()+"/"+string(rune('0'+tc.o)), func(t *testing.T) {
				m := decodeThumb(t, mustThumb(t, DefaultPolicy, withSegments(jpg, exif(bo, tc.o))))
				wantW, wantH := 320, 107
				if tc.o >= 5 {
					wantW, wantH = 107, 320
				}
				if w, h := m.Bounds().Dx(), m.Bounds().Dy(); w != wantW || h != wantH {
					t.Fatalf("got %d×%d, want %d×%d", w, h, wantW, wantH)
				}
				for i, c := range corners(m) {
					if !near(c, tc.want[i], 24) {
						t.Errorf("quadrant %d: got colour %v, want about %v", i, c, tc.want[i])
					}
				}
			})
		}
	}
}

func mustThumb(t *testing.T, p Policy, photo []byte) []byte {
	t.Helper()
	b, err := p.Thumbnail(bytes.NewReader(photo))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// zeros reads zero bytes forever.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

func TestThumbnailRefuses(t *testing.T) {
	jpg := encodeJPEG(t, photo(300, 200))
	small := Policy{Types: Types, MaxBytes: 4000, MaxLongEdge: 4096, ThumbLongEdge: 320}
	errRead := errors.New("connection reset")
	for _, tc := range []struct {
		name     string
		policy   Policy
		r        io.Reader
		wantCode Code
		wantErr  error // when not a refusal
	}{
		{"bomb 100000×100000", DefaultPolicy, bytes.NewReader(pngBomb(t)), CodeTooLarge, nil},
		{"png 5000×10", DefaultPolicy, bytes.NewReader(encodePNG(t, quadrants(5000, 10))), CodeTooLarge, nil},
		{"over MaxBytes", small, bytes.NewReader(jpg), CodeTooLarge, nil},
		{"over MaxBytes, endless", small, io.MultiReader(bytes.NewReader(jpg[:100]), zeros{}), CodeTooLarge, nil},
		{"garbage", DefaultPolicy, strings.NewReader("not a photo"), CodeTypeMismatch, nil},
		{"heic", DefaultPolicy, strings.NewReader("\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic"), CodeTypeNotAccepted, nil},
		{"jpeg cut short", DefaultPolicy, bytes.NewReader(jpg[:len(jpg)/2]), CodeUnreadable, nil},
		{"jpeg data damaged", DefaultPolicy, bytes.NewReader(append(jpg[:len(jpg)/2:len(jpg)/2], 0xFF, 0xD8, 0xFF, 0xD8)), CodeUnreadable, nil},
		{"read error", DefaultPolicy, io.MultiReader(bytes.NewReader(jpg[:1000]), iotestErr{errRead}), "", errRead},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := tc.policy.Thumbnail(tc.r)
			if b != nil {
				t.Errorf("got %d bytes of thumbnail, want none", len(b))
			}
			var ie *Error
			switch {
			case tc.wantErr != nil:
				if !errors.Is(err, tc.wantErr) || errors.As(err, &ie) {
					t.Errorf("got %v, want %v, not a refusal", err, tc.wantErr)
				}
			case !errors.As(err, &ie):
				t.Errorf("got %v, want an *Error with code %s", err, tc.wantCode)
			case ie.Code != tc.wantCode:
				t.Errorf("got code %s, want %s (%v)", ie.Code, tc.wantCode, err)
			}
		})
	}
}

type iotestErr struct{ err error }

func (r iotestErr) Read([]byte) (int, error) { return 0, r.err }

// A decompression bomb is refused from its header: the memory it takes is
// that of reading the header, not the 40 GB of its 10¹⁰ pixels.
func TestThumbnailBombAllocates(t *testing.T) {
	bomb := pngBomb(t)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := DefaultPolicy.Thumbnail(bytes.NewReader(bomb))
	runtime.ReadMemStats(&after)
	var ie *Error
	if !errors.As(err, &ie) || ie.Code != CodeTooLarge {
		t.Fatalf("got %v, want too_large", err)
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > 1<<20 {
		t.Errorf("refusing the bomb allocated %d bytes, want under 1 MiB", n)
	}
}

func TestThumbnailerLimit(t *testing.T) {
	const limit, n = 2, 6
	th := NewThumbnailer(DefaultPolicy, limit)
	jpg := encodeJPEG(t, photo(400, 300))
	entered := make(chan int)
	release := make([]chan struct{}, n)
	done := make(chan error)
	for i := range n {
		release[i] = make(chan struct{})
		go func() {
			b, err := th.Make(context.Background(), &gateReader{r: bytes.NewReader(jpg), id: i, entered: entered, release: release[i]})
			if err == nil && len(b) == 0 {
				err = errors.New("empty thumbnail")
			}
			done <- err
		}()
	}
	var decoding []int
	for started, finished := 0, 0; finished < n; finished++ {
		for len(decoding) < limit && started < n {
			decoding = append(decoding, <-entered)
			started++
		}
		if started < n {
			// A broken limit would let another one start; give it time to.
			select {
			case id := <-entered:
				t.Fatalf("thumbnail %d started while %v were decoding: want at most %d at once", id, decoding, limit)
			case <-time.After(50 * time.Millisecond):
			}
		}
		close(release[decoding[0]])
		if err := <-done; err != nil {
			t.Fatalf("thumbnail %d: %v", decoding[0], err)
		}
		decoding = decoding[1:]
	}
}

// gateReader tells entered when it is first read, then waits for release.
type gateReader struct {
	r       io.Reader
	id      int
	entered chan<- int
	release <-chan struct{}
	started bool
}

func (g *gateReader) Read(p []byte) (int, error) {
	if !g.started {
		g.started = true
		g.entered <- g.id
		<-g.release
	}
	return g.r.Read(p)
}

func TestThumbnailerContext(t *testing.T) {
	jpg := encodeJPEG(t, photo(400, 300))
	th := NewThumbnailer(DefaultPolicy, 1)

	t.Run("cancelled while waiting", func(t *testing.T) {
		entered, release := make(chan int), make(chan struct{})
		busy := make(chan error)
		go func() {
			_, err := th.Make(context.Background(), &gateReader{r: bytes.NewReader(jpg), entered: entered, release: release})
			busy <- err
		}()
		<-entered // the only slot is taken
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := th.Make(ctx, bytes.NewReader(jpg)); !errors.Is(err, context.Canceled) {
			t.Errorf("got %v, want context.Canceled", err)
		}
		close(release)
		if err := <-busy; err != nil {
			t.Errorf("the thumbnail in the slot: %v", err)
		}
	})

	t.Run("cancelled while reading", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		r := &cancelReader{r: bytes.NewReader(jpg), after: 1000, cancel: cancel}
		if _, err := th.Make(ctx, r); !errors.Is(err, context.Canceled) {
			t.Errorf("got %v, want context.Canceled", err)
		}
		if r.read >= len(jpg) {
			t.Errorf("read all %d bytes, want the reading stopped", r.read)
		}
	})

	t.Run("slot free again", func(t *testing.T) {
		if _, err := th.Make(context.Background(), bytes.NewReader(jpg)); err != nil {
			t.Error(err)
		}
	})
}

// cancelReader calls cancel once it has given after bytes.
type cancelReader struct {
	r      io.Reader
	after  int
	read   int
	cancel func()
}

func (c *cancelReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p[:min(len(p), 512)])
	c.read += n
	if c.read >= c.after {
		c.cancel()
	}
	return n, err
}
