package imaging

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"
	"testing"
)

// Colours of the quadrants of quadrants(): top left, top right, bottom
// left, bottom right.
var (
	red    = color.RGBA{220, 30, 30, 255}
	green  = color.RGBA{30, 200, 30, 255}
	blue   = color.RGBA{30, 30, 220, 255}
	yellow = color.RGBA{230, 220, 30, 255}
)

// quadrants returns a w×h image in four solid colours, so that scaling,
// turning and flipping can be seen.
func quadrants(w, h int) *image.RGBA {
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			c := red
			switch {
			case x >= w/2 && y < h/2:
				c = green
			case x < w/2 && y >= h/2:
				c = blue
			case x >= w/2 && y >= h/2:
				c = yellow
			}
			m.SetRGBA(x, y, c)
		}
	}
	return m
}

// photo returns a w×h image with smooth gradients and fine texture, which
// encodes to JPEG at sizes like a phone camera's.
func photo(w, h int) *image.RGBA {
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			fx, fy := float64(x)/float64(w), float64(y)/float64(h)
			t := 12 * math.Sin(float64(x)*0.9+float64(y)*0.37) * math.Sin(float64(y)*0.21)
			i := 4 * (y*w + x)
			m.Pix[i+0] = clamp(40 + 180*fx + t)
			m.Pix[i+1] = clamp(60 + 150*fy + t)
			m.Pix[i+2] = clamp(200 - 120*fx*fy + t)
			m.Pix[i+3] = 255
		}
	}
	return m
}

func clamp(v float64) uint8 { return uint8(max(0, min(255, v))) }

func encodeJPEG(t testing.TB, m image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, m, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func encodePNG(t testing.TB, m image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, m); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// withSegments returns jpg with segments inserted right after its SOI
// marker, where phones put EXIF.
func withSegments(jpg []byte, segments ...[]byte) []byte {
	out := append([]byte(nil), jpg[:2]...)
	for _, s := range segments {
		out = append(out, s...)
	}
	return append(out, jpg[2:]...)
}

// segment returns a JPEG marker segment (payload at most 65533 bytes).
func segment(marker byte, payload []byte) []byte {
	s := []byte{0xFF, marker, 0, 0}
	binary.BigEndian.PutUint16(s[2:], uint16(len(payload)+2))
	return append(s, payload...)
}

// exif returns an APP1 EXIF segment whose IFD0 holds a Make tag and the
// orientation o, in byte order bo.
func exif(bo binary.ByteOrder, o uint16) []byte {
	tiff := make([]byte, 8+2+2*12+4)
	if bo == binary.LittleEndian {
		copy(tiff, "II")
	} else {
		copy(tiff, "MM")
	}
	bo.PutUint16(tiff[2:], 42)
	bo.PutUint32(tiff[4:], 8)
	bo.PutUint16(tiff[8:], 2)
	e := tiff[10:]
	bo.PutUint16(e[0:], 0x010F) // Make, ASCII, 4 bytes in place: "Go\0\0"
	bo.PutUint16(e[2:], 2)
	bo.PutUint32(e[4:], 4)
	copy(e[8:], "Go")
	e = tiff[22:]
	bo.PutUint16(e[0:], 0x0112) // Orientation, SHORT, 1
	bo.PutUint16(e[2:], 3)
	bo.PutUint32(e[4:], 1)
	bo.PutUint16(e[8:], o)
	return segment(0xE1, append([]byte("Exif\x00\x00"), tiff...))
}

// pngHeader returns a PNG signature and an IHDR chunk claiming a w×h 8-bit
// RGBA image: what a decompression bomb starts with.
func pngHeader(w, h uint32) []byte {
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 6 // bit depth, colour type RGBA
	return append([]byte("\x89PNG\r\n\x1a\n"), chunk("IHDR", ihdr)...)
}

// pngBomb returns a 4 KB PNG of a 100000×100000 image of zeros: 40 GB
// once decoded.
func pngBomb(t testing.TB) []byte {
	t.Helper()
	var z bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&z, zlib.BestCompression)
	if _, err := zw.Write(make([]byte, 4<<20)); err != nil { // the first rows
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return append(pngHeader(100000, 100000), chunk("IDAT", z.Bytes())...)
}

func chunk(typ string, data []byte) []byte {
	c := binary.BigEndian.AppendUint32(nil, uint32(len(data)))
	c = append(c, typ...)
	c = append(c, data...)
	return binary.BigEndian.AppendUint32(c, crc32.ChecksumIEEE(c[4:]))
}

// webpSolid returns a lossless WebP (VP8L) of w×h pixels of colour c, built
// by hand from the WebP Lossless Bitstream Specification: no transforms, no
// colour cache, one group of five "simple" prefix codes of one symbol each,
// so that every pixel takes zero bits.
func webpSolid(w, h int, c color.NRGBA) []byte {
	var b bitWriter
	b.write(0x2f, 8) // signature
	b.write(uint64(w-1), 14)
	b.write(uint64(h-1), 14)
	b.write(0, 1) // alpha_is_used
	b.write(0, 3) // version
	b.write(0, 1) // no transform
	b.write(0, 1) // no colour cache
	b.write(0, 1) // no meta prefix codes
	for _, v := range []uint8{c.G, c.R, c.B, c.A} {
		b.write(1, 1) // simple code
		b.write(0, 1) // one symbol
		b.write(1, 1) // of 8 bits
		b.write(uint64(v), 8)
	}
	b.write(1, 1) // distance: simple code, one symbol, of 1 bit: 0
	b.write(0, 1)
	b.write(0, 1)
	b.write(0, 1)
	data := b.bytes()
	if len(data)%2 == 1 {
		data = append(data, 0) // RIFF chunks are padded to even sizes
	}
	out := []byte("RIFF")
	out = binary.LittleEndian.AppendUint32(out, uint32(4+8+len(data)))
	out = append(out, "WEBPVP8L"...)
	out = binary.LittleEndian.AppendUint32(out, uint32(len(b.bytes())))
	return append(out, data...)
}

// bitWriter writes bits least significant first, as VP8L reads them.
type bitWriter struct {
	buf []byte
	acc uint64
	n   uint
}

func (b *bitWriter) write(v uint64, bits uint) {
	b.acc |= v << b.n
	b.n += bits
	for b.n >= 8 {
		b.buf = append(b.buf, byte(b.acc))
		b.acc >>= 8
		b.n -= 8
	}
}

func (b *bitWriter) bytes() []byte {
	if b.n > 0 {
		return append(b.buf[:len(b.buf):len(b.buf)], byte(b.acc))
	}
	return b.buf
}

// near reports whether colours a and b differ by at most tol in each of R,
// G and B.
func near(a, b color.Color, tol int) bool {
	ar, ag, ab, _ := a.RGBA()
	br, bg, bb, _ := b.RGBA()
	d := func(x, y uint32) int { return abs(int(x>>8) - int(y>>8)) }
	return d(ar, br) <= tol && d(ag, bg) <= tol && d(ab, bb) <= tol
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// psnr returns the peak signal-to-noise ratio of b against a, in dB, over
// R, G and B: 30 and more is hard to tell apart by eye.
func psnr(a, b *image.RGBA) float64 {
	var sum float64
	for i := range a.Pix {
		if i%4 != 3 {
			d := float64(a.Pix[i]) - float64(b.Pix[i])
			sum += d * d
		}
	}
	mse := sum / float64(len(a.Pix)/4*3)
	if mse == 0 {
		return math.Inf(1)
	}
	return 10 * math.Log10(255*255/mse)
}
