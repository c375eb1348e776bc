package minio

import (
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"

	"github.com/pairsync/pairsync/storage"
)

// body is the request body of an upload: it passes exactly size bytes of r
// and reads at most one more. When the bytes turn out wrong (one too many,
// too few, a hash other than want) it fails the Read that would have
// delivered the last of them, so the request never completes and the
// server commits nothing. Time spent reading r is taken off the call's
// clock: a slow phone is not a slow MinIO.
type body struct {
	r    io.Reader
	c    *call
	size int64
	n    int64
	// h hashes the bytes when want is set.
	h    hash.Hash
	want string
	// excess is the sentinel of an r that yields more than size bytes.
	excess error
	// err, once set, is what every Read returns: the body's own verdict,
	// which the caller prefers to whatever the SDK makes of it.
	err error
}

func (b *body) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if b.n == b.size {
		return 0, io.EOF
	}
	if err := b.c.ctx.Err(); err != nil {
		return 0, err
	}
	if rem := b.size - b.n; int64(len(p)) > rem {
		p = p[:rem]
	}
	b.c.pause()
	n, err := b.r.Read(p)
	b.c.resume()
	b.n += int64(n)
	if b.h != nil {
		b.h.Write(p[:n])
	}
	switch {
	case b.n == b.size:
		if err := b.finish(); err != nil {
			return 0, err
		}
	case err == io.EOF:
		b.err = fmt.Errorf("got %d bytes, declared %d: %w", b.n, b.size, storage.ErrMismatch)
		return 0, b.err
	case err != nil:
		b.err = fmt.Errorf("read upload: %w", err)
		return 0, b.err
	}
	return n, nil
}

// finish checks, once size bytes have been read, that r has no more and
// that they hash to want.
func (b *body) finish() error {
	var one [1]byte
	b.c.pause()
	n, err := io.ReadFull(b.r, one[:])
	b.c.resume()
	switch {
	case n > 0:
		b.err = fmt.Errorf("more than the declared %d bytes: %w", b.size, b.excess)
	case err != io.EOF && err != io.ErrUnexpectedEOF:
		b.err = fmt.Errorf("read upload: %w", err)
	case b.h != nil:
		if got := hex.EncodeToString(b.h.Sum(nil)); got != b.want {
			b.err = fmt.Errorf("content hashes to %s: %w", got, storage.ErrMismatch)
		}
	}
	return b.err
}

// verdict returns the body's own error, if it failed, in preference to the
// request's: the SDK reports a body that failed as a broken connection.
func (b *body) verdict(reqErr error) error {
	if b.err != nil {
		return b.err
	}
	if reqErr == nil && b.n != b.size {
		// Not expected: the request succeeded without sending it all.
		return fmt.Errorf("sent %d of %d bytes: %w", b.n, b.size, storage.ErrMismatch)
	}
	return reqErr
}

// readVerified reads r to its end (at most size+1 bytes), checking that it
// holds exactly size bytes hashing to want, for a photo already stored.
func readVerified(c *call, r io.Reader, size int64, h hash.Hash, want string) error {
	b := &body{r: r, c: c, size: size, h: h, want: want, excess: storage.ErrTooLarge}
	if size == 0 {
		return b.finish()
	}
	_, err := io.CopyBuffer(io.Discard, b, make([]byte, 64<<10))
	if err != nil {
		return err
	}
	return b.verdict(nil)
}

// objectReader streams an object from MinIO, running the call's clock only
// while it waits on MinIO.
type objectReader struct {
	rc io.ReadCloser
	c  *call
	// what names the object in errors, for a reader handed to a caller.
	what string
}

func (o *objectReader) Read(p []byte) (int, error) {
	o.c.resume()
	n, err := o.rc.Read(p)
	o.c.pause()
	if err != nil && !errors.Is(err, io.EOF) {
		err = o.c.err(err)
		if o.what != "" {
			err = fmt.Errorf("minio: read %s: %w", o.what, err)
		}
	}
	return n, err
}

func (o *objectReader) Close() error {
	err := o.rc.Close()
	o.c.end()
	return err
}
