package imaging

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/color/palette"
	"image/draw"
	"image/jpeg"
	"testing"
)

// scaleWith returns m scaled to w×h on white, reduced first or not.
func scaleWith(m image.Image, w, h int, reduced bool) *image.RGBA {
	defer func(r bool) { thumbReduce = r }(thumbReduce)
	thumbReduce = reduced
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(dst, dst.Rect, image.White, image.Point{}, draw.Src)
	scale(dst, m)
	return dst
}

// Reducing before resampling gives what resampling alone gives, for every
// type the decoders return, whether chroma samples straddle blocks (1999
// px: reduced by 3) or not (1280 px: by 2).
func TestScaleReduced(t *testing.T) {
	for _, size := range [][2]int{{1999, 1333}, {1280, 960}} {
		t.Run(fmt.Sprintf("%dx%d", size[0], size[1]), func(t *testing.T) { testScaleReduced(t, size[0], size[1]) })
	}
}

func testScaleReduced(t *testing.T, sw, sh int) {
	src := photo(sw, sh)
	ycbcr := func(r image.YCbCrSubsampleRatio) image.Image {
		m := image.NewYCbCr(src.Rect, r)
		for y := range src.Rect.Dy() {
			for x := range src.Rect.Dx() {
				c := src.RGBAAt(x, y)
				yy, cb, cr := color.RGBToYCbCr(c.R, c.G, c.B)
				m.Y[m.YOffset(x, y)] = yy
				m.Cb[m.COffset(x, y)] = cb
				m.Cr[m.COffset(x, y)] = cr
			}
		}
		return m
	}
	gray := image.NewGray(src.Rect)
	draw.Draw(gray, gray.Rect, src, image.Point{}, draw.Src)
	nrgba := image.NewNRGBA(src.Rect) // alpha fading left to right
	for y := range src.Rect.Dy() {
		for x := range src.Rect.Dx() {
			c := src.RGBAAt(x, y)
			nrgba.SetNRGBA(x, y, color.NRGBA{c.R, c.G, c.B, uint8(255 * x / src.Rect.Dx())})
		}
	}
	paletted := image.NewPaletted(src.Rect, palette.WebSafe)
	draw.Draw(paletted, paletted.Rect, src, image.Point{}, draw.Src)
	var jpg bytes.Buffer
	if err := jpeg.Encode(&jpg, src, nil); err != nil {
		t.Fatal(err)
	}
	fromJPEG, err := jpeg.Decode(&jpg)
	if err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name string
		m    image.Image
	}{
		{"jpeg", fromJPEG},
		{"ycbcr 444", ycbcr(image.YCbCrSubsampleRatio444)},
		{"ycbcr 422", ycbcr(image.YCbCrSubsampleRatio422)},
		{"ycbcr 420", ycbcr(image.YCbCrSubsampleRatio420)},
		{"ycbcr 440", ycbcr(image.YCbCrSubsampleRatio440)},
		{"ycbcr 411", ycbcr(image.YCbCrSubsampleRatio411)},
		{"ycbcr 410", ycbcr(image.YCbCrSubsampleRatio410)},
		{"rgba", src},
		{"nrgba", nrgba},
		{"gray", gray},
		{"paletted", paletted},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, h := thumbSize(sw, sh, 320)
			want := scaleWith(tc.m, w, h, false)
			got := scaleWith(tc.m, w, h, true)
			if db := psnr(want, got); db < 38 {
				t.Errorf("got %.1f dB against CatmullRom alone, want at least 38", db)
			} else {
				t.Logf("%.1f dB against CatmullRom alone", db)
			}
		})
	}
}

func TestReduceSizes(t *testing.T) {
	for _, tc := range []struct{ w, h, k, wantW, wantH int }{
		{4000, 3000, 6, 666, 500},
		{4096, 3, 6, 682, 1},
		{5, 5, 2, 2, 2},
		{7, 1, 2, 3, 1},
	} {
		m := reduce(image.NewGray(image.Rect(0, 0, tc.w, tc.h)), tc.k)
		if b := m.Bounds(); b.Dx() != tc.wantW || b.Dy() != tc.wantH {
			t.Errorf("%d×%d / %d: got %d×%d, want %d×%d", tc.w, tc.h, tc.k, b.Dx(), b.Dy(), tc.wantW, tc.wantH)
		}
	}
	// A uniform image stays uniform, the partial blocks included.
	m := image.NewRGBA(image.Rect(0, 0, 13, 11))
	draw.Draw(m, m.Rect, image.NewUniform(color.RGBA{10, 20, 30, 255}), image.Point{}, draw.Src)
	r := reduce(m, 3).(*image.RGBA)
	for i := 0; i < len(r.Pix); i += 4 {
		if got := [4]uint8(r.Pix[i : i+4]); got != [4]uint8{10, 20, 30, 255} {
			t.Fatalf("pixel %d: got %v, want [10 20 30 255]", i/4, got)
		}
	}
}
