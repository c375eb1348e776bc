package imaging

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"io"

	"golang.org/x/image/draw"
	"golang.org/x/image/webp"
)

// thumbQuality is the JPEG quality of thumbnails.
const thumbQuality = 80

// errOverMax is what a photo's reader returns past Policy.MaxBytes.
var errOverMax = errors.New("imaging: photo over the size limit")

// Thumbnail decodes the photo read from r and returns it as a JPEG whose
// long edge is at most p.ThumbLongEdge, with the same aspect ratio, turned
// upright as a JPEG's EXIF orientation says, transparent parts on white.
// Photos smaller than that are not enlarged.
//
// Before decoding any pixel it checks the photo's first HeadSize bytes as
// Check does (type and size), so a photo over p.MaxLongEdge is refused
// without the memory its pixels would take; it reads no more than
// p.MaxBytes of r. Refusals are of type *Error, as Check's: CodeTooLarge
// past p.MaxBytes, CodeUnreadable for a photo that cannot be decoded.
// Errors reading r are returned wrapped, not as *Error.
//
// It is safe for concurrent use, but each call holds the decoded photo in
// memory: 1.5 bytes a pixel for a baseline JPEG (18 MB for 12 megapixels),
// 7.5 for a progressive one (its decoder keeps the coefficients), 4 for PNG
// and lossless WebP, 8 for 16-bit PNG. Use a Thumbnailer to bound how many
// run at once.
func (p Policy) Thumbnail(r io.Reader) ([]byte, error) {
	if p.ThumbLongEdge < 1 {
		return nil, fmt.Errorf("imaging: thumbnail: ThumbLongEdge is %d, want at least 1", p.ThumbLongEdge)
	}
	lr := &limitedReader{r: r, left: p.MaxBytes + 1}
	br := bufio.NewReaderSize(lr, HeadSize)
	head, err := br.Peek(HeadSize)
	switch {
	case lr.over:
		return nil, p.overMax()
	case err != nil && err != io.EOF:
		return nil, fmt.Errorf("imaging: thumbnail: read: %w", err)
	}
	info, err := p.inspect(head, "")
	if err != nil {
		return nil, err
	}

	var m image.Image
	switch info.Type {
	case JPEG:
		m, err = jpeg.Decode(br)
	case PNG:
		m, err = png.Decode(br)
	case WebP:
		m, err = webp.Decode(br)
	}
	switch {
	case lr.over:
		return nil, p.overMax()
	case lr.err != nil:
		return nil, fmt.Errorf("imaging: thumbnail: read: %w", lr.err)
	case err != nil:
		return nil, refuse(CodeUnreadable, err, "the photo cannot be decoded as %s (the file is damaged or cut short): upload the original photo file again", typeName(info.Type))
	}

	sr := m.Bounds()
	w, h := thumbSize(sr.Dx(), sr.Dy(), p.ThumbLongEdge)
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(dst, dst.Rect, image.White, image.Point{}, draw.Src)
	scale(dst, m)
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, orient(dst, info.Orientation), &jpeg.Options{Quality: thumbQuality}); err != nil {
		return nil, fmt.Errorf("imaging: thumbnail: encode: %w", err)
	}
	return buf.Bytes(), nil
}

func (p Policy) overMax() *Error {
	return refuse(CodeTooLarge, nil, "the photo is over the limit of %s: compress or scale it down before uploading", sizeString(p.MaxBytes))
}

// thumbSize returns the size of the thumbnail of a w×h image: long on its
// long edge, or w×h when that is smaller.
func thumbSize(w, h, long int) (int, int) {
	switch {
	case w <= long && h <= long:
		return w, h
	case w >= h:
		return long, max(1, (h*long+w/2)/w)
	}
	return max(1, (w*long+h/2)/h), long
}

// limitedReader reads from r until left runs out, then sets over; it keeps
// r's errors other than io.EOF in err.
type limitedReader struct {
	r    io.Reader
	left int64
	over bool
	err  error
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.left <= 0 {
		l.over = true
		return 0, errOverMax
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	if err != nil && err != io.EOF {
		l.err = err
	}
	if l.left <= 0 {
		l.over = true
		return n, errOverMax
	}
	return n, err
}

// Thumbnailer makes thumbnails, at most a given number at once, so that
// the memory taken by decoded photos is bounded. It is safe for concurrent
// use.
type Thumbnailer struct {
	policy Policy
	slots  chan struct{}
}

// NewThumbnailer returns a Thumbnailer that makes thumbnails as p says, at
// most concurrent of them at once (at least 1).
func NewThumbnailer(p Policy, concurrent int) *Thumbnailer {
	return &Thumbnailer{policy: p, slots: make(chan struct{}, max(1, concurrent))}
}

// Make waits for a slot, then returns p.Thumbnail(r). It returns ctx.Err()
// when ctx ends while it waits, or while it reads r (the decoders cannot be
// stopped between two reads).
func (t *Thumbnailer) Make(ctx context.Context, r io.Reader) ([]byte, error) {
	select {
	case t.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-t.slots }()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	b, err := t.policy.Thumbnail(ctxReader{ctx: ctx, r: r})
	if err != nil && ctx.Err() != nil {
		return nil, ctx.Err()
	}
	return b, err
}

// ctxReader reads from r until ctx ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
