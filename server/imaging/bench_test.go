package imaging

import (
	"bytes"
	"fmt"
	"image/jpeg"
	"testing"

	"golang.org/x/image/draw"
)

// BenchmarkThumbnail makes thumbnails of phone-sized JPEGs the way
// Thumbnail does (reduce, then CatmullRom) and two other ways, and reports
// each way's quality as its PSNR against CatmullRom alone (dB; higher is
// closer, above 40 cannot be seen).
//
//	go test -run '^$' -bench Thumbnail -benchtime 3x -benchmem ./server/imaging/
func BenchmarkThumbnail(b *testing.B) {
	ways := []struct {
		name   string
		reduce bool
		s      draw.Scaler
	}{
		{"reduce+CatmullRom", true, draw.CatmullRom},
		{"CatmullRom", false, draw.CatmullRom},
		{"ApproxBiLinear", false, draw.ApproxBiLinear},
	}
	for _, size := range [][2]int{{4000, 3000}, {1600, 1200}} {
		jpg := encodeJPEG(b, photo(size[0], size[1]))
		decoded, err := jpeg.Decode(bytes.NewReader(jpg))
		if err != nil {
			b.Fatal(err)
		}
		w, h := thumbSize(size[0], size[1], DefaultPolicy.ThumbLongEdge)
		best := scaleWith(decoded, w, h, false)
		for _, way := range ways {
			b.Run(fmt.Sprintf("%dx%d/%s", size[0], size[1], way.name), func(b *testing.B) {
				defer func(r bool, s draw.Scaler) { thumbReduce, thumbScaler = r, s }(thumbReduce, thumbScaler)
				thumbReduce, thumbScaler = way.reduce, way.s
				b.SetBytes(int64(len(jpg)))
				for b.Loop() {
					if _, err := DefaultPolicy.Thumbnail(bytes.NewReader(jpg)); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(psnr(best, scaleWith(decoded, w, h, way.reduce)), "dB")
			})
		}
	}
}
