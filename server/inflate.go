package server

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/gofiber/fiber/v2"
	"github.com/klauspost/compress/gzip"

	"github.com/pairsync/pairsync/server/pairing"
	"github.com/pairsync/pairsync/syncproto"
)

// inflate decodes a request body sent with Content-Encoding: gzip (the apps
// compress their push bodies, issue 20) in place, so every handler reads
// the JSON as if it had come plain. The decoded body is held to the same
// limit as a plain one: a body that decodes to more (a zip bomb: 1 MiB of
// gzip can expand a thousandfold) is refused with 413 once limit+1 bytes
// have come out, never decoded whole. Any other encoding is refused with
// 415, because Fiber's Ctx.Body would otherwise decode brotli and deflate
// with no bound at all; a body that does not decode is a 400. Bodies
// without Content-Encoding (older phones, every other client) are not
// touched.
func inflate(c *fiber.Ctx, limit int) error {
	enc := strings.ToLower(strings.TrimSpace(c.Get(fiber.HeaderContentEncoding)))
	switch enc {
	case "", "identity":
		return nil
	case "gzip", "x-gzip":
	default:
		return &Error{Status: http.StatusUnsupportedMediaType, Wire: syncproto.Error{Code: syncproto.CodeUnsupportedMedia,
			Reason: pairing.ReasonUnsupportedEncoding, Args: map[string]string{"encoding": truncateWords(enc, 40)},
			Message: fmt.Sprintf("Content-Encoding %q is not taken: send the body plain or as gzip", truncateWords(enc, 40))}}
	}
	body := c.Request().Body()
	zr, _ := gzipReaders.Get().(*gzip.Reader)
	if zr == nil {
		zr = new(gzip.Reader)
	}
	defer gzipReaders.Put(zr)
	if err := zr.Reset(bytes.NewReader(body)); err != nil {
		return badCompression(err)
	}
	var out bytes.Buffer
	out.Grow(inflatedSizeHint(body, limit))
	n, err := out.ReadFrom(io.LimitReader(zr, int64(limit)+1))
	if n > int64(limit) {
		return &Error{Status: http.StatusRequestEntityTooLarge, Wire: syncproto.Error{Code: syncproto.CodeTooLarge,
			Reason: pairing.ReasonInflatedTooLarge, Args: map[string]string{"max": sizeWords(limit)},
			Message: fmt.Sprintf("the gzip body decodes to more than this route's limit of %d bytes", limit)}}
	}
	if err != nil {
		return badCompression(err)
	}
	c.Request().Header.Del(fiber.HeaderContentEncoding)
	c.Request().SetBodyRaw(out.Bytes())
	return nil
}

// gzipReaders keeps decompressors between requests: a new gzip.Reader
// allocates its inflate tables every time, a cost paid on every push.
var gzipReaders sync.Pool

// inflatedSizeHint is how much room to make for the decoded body: the gzip
// trailer's ISIZE (the last member's size mod 2^32, so only a hint, which
// a liar cannot use to make us allocate beyond the route's limit), plus the
// one byte that tells an over-limit body, else a small start. Growing a
// buffer from 512 bytes to a push's size was a tenth of a push's server CPU.
func inflatedSizeHint(body []byte, limit int) int {
	if len(body) < 18 {
		return 512
	}
	t := body[len(body)-4:]
	size := int(uint32(t[0]) | uint32(t[1])<<8 | uint32(t[2])<<16 | uint32(t[3])<<24)
	if size <= 0 {
		return 512
	}
	return min(size, limit) + bytes.MinRead
}

func badCompression(cause error) *Error {
	return &Error{Status: http.StatusBadRequest, Cause: cause, Wire: syncproto.Error{Code: syncproto.CodeBadRequest,
		Reason: pairing.ReasonBadCompression, Message: "the gzip body does not decode"}}
}

// sizeWords writes a byte count for people: 1 MiB as "1 MB", else KB.
func sizeWords(n int) string {
	if n >= 1<<20 && n%(1<<20) == 0 {
		return fmt.Sprintf("%d MB", n>>20)
	}
	return fmt.Sprintf("%d KB", (n+1023)/1024)
}

// truncateWords is a header value fit to be echoed back: at most n bytes
// of letters, digits and -,.; and spaces, else "?".
func truncateWords(s string, n int) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || strings.IndexByte("-,.; ", c) >= 0) {
			return "?"
		}
	}
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
