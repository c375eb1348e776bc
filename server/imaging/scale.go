package imaging

import (
	"image"

	"golang.org/x/image/draw"
)

// Thumbnails are made in two steps, as Pillow and libvips make them: the
// photo is first reduced by a whole factor, averaging blocks of pixels
// (cheap, and a proper low-pass filter), to no less than twice the
// thumbnail's size; then resampled to the thumbnail's size with
// thumbScaler. On a 12-megapixel JPEG this is as good as CatmullRom on its
// own (51 dB apart), in a third of the time and a sixth of its 30 MB
// buffer; see BenchmarkThumbnail.

// thumbScaler resamples reduced photos into thumbnails.
var thumbScaler draw.Scaler = draw.CatmullRom

// thumbReduce says whether photos are reduced before thumbScaler; the
// benchmarks turn it off to compare.
var thumbReduce = true

// scale draws m onto dst (white, of the thumbnail's size), resampled to
// dst's size.
func scale(dst *image.RGBA, m image.Image) {
	sr := m.Bounds()
	if sr.Size() == dst.Rect.Size() {
		draw.Draw(dst, dst.Rect, m, sr.Min, draw.Over)
		return
	}
	if k := max(sr.Dx(), sr.Dy()) / (2 * max(dst.Rect.Dx(), dst.Rect.Dy())); thumbReduce && k >= 2 {
		m = reduce(m, min(k, 256)) // at most 256² samples of 255 in a uint32 sum
		sr = m.Bounds()
	}
	thumbScaler.Scale(dst, dst.Rect, m, sr, draw.Over, nil)
}

// reduce returns m shrunk k times (2 ≤ k ≤ 256) in each direction by
// averaging blocks of k×k pixels; the last row and column of blocks take
// the remainder. It returns m itself for the image types it has no fast
// path for (paletted, 16-bit, CMYK): thumbScaler copes with those, slowly.
func reduce(m image.Image, k int) image.Image {
	if m.Bounds().Min != (image.Point{}) {
		return m
	}
	w, h := m.Bounds().Dx(), m.Bounds().Dy()
	dw, dh := max(1, w/k), max(1, h/k)
	plane := func(pix []uint8, stride, width int) func(int, []uint8) []uint8 {
		return func(y int, _ []uint8) []uint8 { return pix[y*stride:][:width] }
	}
	switch m := m.(type) {
	case *image.YCbCr:
		sx, sy := 1, 1
		switch m.SubsampleRatio {
		case image.YCbCrSubsampleRatio444:
		case image.YCbCrSubsampleRatio422:
			sx = 2
		case image.YCbCrSubsampleRatio420:
			sx, sy = 2, 2
		case image.YCbCrSubsampleRatio440:
			sy = 2
		case image.YCbCrSubsampleRatio411:
			sx = 4
		case image.YCbCrSubsampleRatio410:
			sx, sy = 4, 2
		default:
			return m
		}
		d := image.NewYCbCr(image.Rect(0, 0, dw, dh), image.YCbCrSubsampleRatio444)
		boxAverage(d.Y, dw, dh, w, h, 1, 1, 1, k, plane(m.Y, m.YStride, w))
		if k%sx == 0 && k%sy == 0 { // each chroma sample falls in one block
			cw, ch := (w+sx-1)/sx, (h+sy-1)/sy
			boxAverage(d.Cb, dw, dh, cw, ch, 1, sx, sy, k, plane(m.Cb, m.CStride, cw))
			boxAverage(d.Cr, dw, dh, cw, ch, 1, sx, sy, k, plane(m.Cr, m.CStride, cw))
			return d
		}
		// Some chroma samples straddle two blocks: average them at full
		// resolution.
		upsampled := func(pix []uint8) func(int, []uint8) []uint8 {
			return func(y int, buf []uint8) []uint8 {
				row := pix[y/sy*m.CStride:]
				for x := range buf {
					buf[x] = row[x/sx]
				}
				return buf
			}
		}
		boxAverage(d.Cb, dw, dh, w, h, 1, 1, 1, k, upsampled(m.Cb))
		boxAverage(d.Cr, dw, dh, w, h, 1, 1, 1, k, upsampled(m.Cr))
		return d
	case *image.Gray:
		d := image.NewGray(image.Rect(0, 0, dw, dh))
		boxAverage(d.Pix, dw, dh, w, h, 1, 1, 1, k, plane(m.Pix, m.Stride, w))
		return d
	case *image.RGBA:
		d := image.NewRGBA(image.Rect(0, 0, dw, dh))
		boxAverage(d.Pix, dw, dh, w, h, 4, 1, 1, k, plane(m.Pix, m.Stride, 4*w))
		return d
	case *image.NRGBA:
		// Averaged premultiplied, so that transparent pixels' colours do
		// not bleed into their neighbours.
		d := image.NewRGBA(image.Rect(0, 0, dw, dh))
		boxAverage(d.Pix, dw, dh, w, h, 4, 1, 1, k, func(y int, buf []uint8) []uint8 {
			row := m.Pix[y*m.Stride:][:4*w]
			for i := 0; i < len(row); i += 4 {
				a := uint32(row[i+3])
				buf[i+0] = uint8((uint32(row[i+0])*a + 127) / 255)
				buf[i+1] = uint8((uint32(row[i+1])*a + 127) / 255)
				buf[i+2] = uint8((uint32(row[i+2])*a + 127) / 255)
				buf[i+3] = uint8(a)
			}
			return buf
		})
		return d
	}
	return m
}

// boxAverage averages a plane of w×h samples of n channels into out, dw×dh
// samples packed tightly. Sample (x, y), subsampled sx×sy, falls into
// output sample (x·sx/k, y·sy/k), the last ones into the last row and
// column. row returns the samples of row y, in buf (of w·n bytes) if it
// needs to.
func boxAverage(out []uint8, dw, dh, w, h, n, sx, sy, k int, row func(y int, buf []uint8) []uint8) {
	cols := make([]int32, w) // x → its output sample's first index in sums
	colN := make([]uint32, dw)
	for x := range w {
		bx := min(x*sx/k, dw-1)
		cols[x] = int32(bx * n)
		colN[bx]++
	}
	sums := make([]uint32, dw*n)
	buf := make([]uint8, w*n)
	flush := func(by int, rows uint32) {
		o := out[by*dw*n:][:dw*n]
		for bx := range dw {
			d := colN[bx] * rows
			for c := range n {
				o[bx*n+c] = uint8((sums[bx*n+c] + d/2) / d)
			}
		}
		clear(sums)
	}
	cur, rows := 0, uint32(0)
	for y := range h {
		if by := min(y*sy/k, dh-1); by != cur {
			flush(cur, rows)
			cur, rows = by, 0
		}
		r := row(y, buf)
		if n == 1 {
			for x, v := range r {
				sums[cols[x]] += uint32(v)
			}
		} else {
			for x, o := range cols {
				s := sums[o : o+4 : o+4]
				p := r[4*x : 4*x+4 : 4*x+4]
				s[0] += uint32(p[0])
				s[1] += uint32(p[1])
				s[2] += uint32(p[2])
				s[3] += uint32(p[3])
			}
		}
		rows++
	}
	flush(cur, rows)
}
