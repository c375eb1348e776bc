package storagetest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pairsync/pairsync/storage"
)

// TestPhotos runs the storage.Photos cases. open must return a new, empty,
// open photo store and register its cleanup with t.Cleanup.
func TestPhotos(t *testing.T, open func(t *testing.T) storage.Photos) {
	t.Helper()
	p := photoSuite{open: open}
	t.Run("PutOpenStatDelete", p.putOpenStatDelete)
	t.Run("Empty", p.empty)
	t.Run("Large", p.large)
	t.Run("Refused", p.refused)
	t.Run("StopsReadingAtSizePlusOne", p.stopsReading)
	t.Run("Dedupe", p.dedupe)
	t.Run("MalformedSums", p.malformed)
	t.Run("Missing", p.missing)
	t.Run("ConcurrentSamePhoto", p.concurrentSame)
}

type photoSuite struct {
	open func(t *testing.T) storage.Photos
}

func sum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// photoBytes returns n bytes of a deterministic pattern that differs by seed.
func photoBytes(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7) ^ seed
	}
	return b
}

func mustPut(t *testing.T, ps storage.Photos, data []byte) storage.PhotoInfo {
	t.Helper()
	info, err := ps.PutPhoto(t.Context(), sum(data), int64(len(data)), bytes.NewReader(data))
	if err != nil {
		t.Fatalf("put %d bytes: got error %v, want none", len(data), err)
	}
	return info
}

// readPhoto returns a stored photo's bytes and info.
func readPhoto(t *testing.T, ps storage.Photos, s string) ([]byte, storage.PhotoInfo) {
	t.Helper()
	rc, info, err := ps.OpenPhoto(t.Context(), s)
	if err != nil {
		t.Fatalf("open %s: got error %v, want none", s, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read %s: got error %v, want none", s, err)
	}
	return b, info
}

// wantAbsent fails t unless the photo sum is not stored.
func wantAbsent(t *testing.T, ps storage.Photos, s string) {
	t.Helper()
	_, err := ps.StatPhoto(t.Context(), s)
	wantErr(t, "stat "+s[:12]+"…", err, storage.ErrNotFound)
}

func (p photoSuite) putOpenStatDelete(t *testing.T) {
	ps := p.open(t)
	ctx := t.Context()
	data := photoBytes(10_000, 1)
	s := sum(data)
	before := time.Now().Add(-2 * time.Second)
	info := mustPut(t, ps, data)
	if info.SHA256 != s || info.Size != int64(len(data)) {
		t.Fatalf("put: got %+v, want SHA256 %s and Size %d", info, s, len(data))
	}
	if info.StoredAt.Before(before) || info.StoredAt.After(time.Now().Add(2*time.Second)) {
		t.Fatalf("put: got StoredAt %v, want about now", info.StoredAt)
	}
	stat, err := ps.StatPhoto(ctx, s)
	wantErr(t, "stat", err, nil)
	if stat.SHA256 != s || stat.Size != info.Size {
		t.Fatalf("stat: got %+v, want %+v", stat, info)
	}
	got, oinfo := readPhoto(t, ps, s)
	if !bytes.Equal(got, data) {
		t.Fatalf("open: got %d bytes (sha256 %s), want the %d bytes put", len(got), sum(got), len(data))
	}
	if oinfo.SHA256 != s || oinfo.Size != info.Size {
		t.Fatalf("open: got info %+v, want %+v", oinfo, info)
	}
	wantErr(t, "delete", ps.DeletePhoto(ctx, s), nil)
	wantAbsent(t, ps, s)
	_, _, err = ps.OpenPhoto(ctx, s)
	wantErr(t, "open after delete", err, storage.ErrNotFound)
	wantErr(t, "delete again", ps.DeletePhoto(ctx, s), nil)
	// Stored again after a delete.
	mustPut(t, ps, data)
	got, _ = readPhoto(t, ps, s)
	equal(t, "bytes stored again", sum(got), s)
}

func (p photoSuite) empty(t *testing.T) {
	ps := p.open(t)
	info := mustPut(t, ps, []byte{})
	equal(t, "size", info.Size, 0)
	got, _ := readPhoto(t, ps, sum(nil))
	equal(t, "bytes", len(got), 0)
}

func (p photoSuite) large(t *testing.T) {
	ps := p.open(t)
	data := photoBytes(5<<20+123, 9)
	mustPut(t, ps, data)
	got, info := readPhoto(t, ps, sum(data))
	equal(t, "size", info.Size, int64(len(data)))
	if !bytes.Equal(got, data) {
		t.Fatalf("open: got %d bytes (sha256 %s), want the %d bytes put", len(got), sum(got), len(data))
	}
}

// failingReader yields its bytes, then an error.
type failingReader struct{ r io.Reader }

func (f *failingReader) Read(b []byte) (int, error) {
	n, err := f.r.Read(b)
	if err == io.EOF {
		return n, errors.New("connection reset")
	}
	return n, err
}

func (p photoSuite) refused(t *testing.T) {
	data := photoBytes(4096, 2)
	other := photoBytes(4096, 3)
	for _, tc := range []struct {
		name string
		sum  string
		size int64
		r    func() io.Reader
		want error // nil: any error will do
	}{
		{"wrong hash", sum(other), 4096, func() io.Reader { return bytes.NewReader(data) }, storage.ErrMismatch},
		{"fewer bytes than declared", sum(data), 4097, func() io.Reader { return bytes.NewReader(data) }, storage.ErrMismatch},
		{"truncated", sum(data), 4096, func() io.Reader { return bytes.NewReader(data[:4000]) }, storage.ErrMismatch},
		{"more bytes than declared", sum(data), 4095, func() io.Reader { return bytes.NewReader(data) }, storage.ErrTooLarge},
		{"more bytes than declared, hash of the prefix", sum(data[:4095]), 4095, func() io.Reader { return bytes.NewReader(data) }, storage.ErrTooLarge},
		{"declared empty", sum(nil), 0, func() io.Reader { return bytes.NewReader(data) }, storage.ErrTooLarge},
		{"reader fails", sum(data), 4096, func() io.Reader { return &failingReader{bytes.NewReader(data[:2048])} }, nil},
		{"negative size", sum(data), -1, func() io.Reader { return bytes.NewReader(data) }, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ps := p.open(t)
			_, err := ps.PutPhoto(t.Context(), tc.sum, tc.size, tc.r())
			if err == nil {
				t.Fatalf("put: got no error, want one")
			}
			if tc.want != nil {
				wantErr(t, "put", err, tc.want)
			}
			for _, s := range []string{tc.sum, sum(data), sum(other), sum(data[:4095]), sum(nil)} {
				wantAbsent(t, ps, s)
			}
		})
	}
}

// endless yields 'x' forever and counts what it gave.
type endless struct{ n int64 }

func (e *endless) Read(b []byte) (int, error) {
	for i := range b {
		b[i] = 'x'
	}
	e.n += int64(len(b))
	return len(b), nil
}

func (p photoSuite) stopsReading(t *testing.T) {
	ps := p.open(t)
	for _, size := range []int64{0, 1, 1000, 1 << 20} {
		r := &endless{}
		_, err := ps.PutPhoto(t.Context(), sum(bytes.Repeat([]byte("x"), int(size))), size, r)
		wantErr(t, fmt.Sprintf("put of an endless stream declared %d bytes", size), err, storage.ErrTooLarge)
		if r.n > size+1 {
			t.Fatalf("put of an endless stream declared %d bytes: got %d bytes read, want at most %d", size, r.n, size+1)
		}
	}
}

func (p photoSuite) dedupe(t *testing.T) {
	ps := p.open(t)
	data := photoBytes(3000, 4)
	s := sum(data)
	first := mustPut(t, ps, data)
	second := mustPut(t, ps, data)
	if second.SHA256 != s || second.Size != first.Size {
		t.Fatalf("second put: got %+v, want %+v", second, first)
	}
	// Another upload claiming the same hash is verified, refused, and the
	// stored photo is left as it was.
	bad := photoBytes(3000, 5)
	_, err := ps.PutPhoto(t.Context(), s, 3000, bytes.NewReader(bad))
	wantErr(t, "put of other bytes under a stored hash", err, storage.ErrMismatch)
	_, err = ps.PutPhoto(t.Context(), s, 3000, bytes.NewReader(append(bytes.Clone(data), 'x')))
	wantErr(t, "put of longer bytes under a stored hash", err, storage.ErrTooLarge)
	got, _ := readPhoto(t, ps, s)
	if !bytes.Equal(got, data) {
		t.Fatalf("stored photo after refused uploads: got sha256 %s, want %s", sum(got), s)
	}
}

func (p photoSuite) malformed(t *testing.T) {
	ps := p.open(t)
	valid := sum([]byte("x"))
	for _, tc := range []struct {
		name string
		sum  string
	}{
		{"empty", ""},
		{"parent", "../x"},
		{"parent, 64 characters", "../../" + valid[6:]},
		{"slash", valid[:30] + "/" + valid[31:]},
		{"uppercase", strings.ToUpper(valid)},
		{"63 digits", valid[:63]},
		{"65 digits", valid + "0"},
		{"not hex", "g" + valid[1:]},
		{"NUL", valid[:63] + "\x00"},
		{"space", " " + valid[1:]},
		{"dot", "." + valid[1:]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ps.PutPhoto(t.Context(), tc.sum, 1, strings.NewReader("x"))
			wantErr(t, "put", err, storage.ErrInvalid)
			_, _, err = ps.OpenPhoto(t.Context(), tc.sum)
			wantErr(t, "open", err, storage.ErrInvalid)
			_, err = ps.StatPhoto(t.Context(), tc.sum)
			wantErr(t, "stat", err, storage.ErrInvalid)
			wantErr(t, "delete", ps.DeletePhoto(t.Context(), tc.sum), storage.ErrInvalid)
		})
	}
	wantAbsent(t, ps, valid)
}

func (p photoSuite) missing(t *testing.T) {
	ps := p.open(t)
	s := sum([]byte("never stored"))
	_, _, err := ps.OpenPhoto(t.Context(), s)
	wantErr(t, "open", err, storage.ErrNotFound)
	_, err = ps.StatPhoto(t.Context(), s)
	wantErr(t, "stat", err, storage.ErrNotFound)
	wantErr(t, "delete", ps.DeletePhoto(t.Context(), s), nil)
}

func (p photoSuite) concurrentSame(t *testing.T) {
	ps := p.open(t)
	data := photoBytes(256<<10, 6)
	others := make([][]byte, 4)
	for i := range others {
		others[i] = photoBytes(64<<10, byte(10+i))
	}
	const n = 8
	errs := make([]error, n+len(others))
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, errs[i] = ps.PutPhoto(t.Context(), sum(data), int64(len(data)), bytes.NewReader(data))
		})
	}
	for i, o := range others {
		wg.Go(func() {
			_, errs[n+i] = ps.PutPhoto(t.Context(), sum(o), int64(len(o)), bytes.NewReader(o))
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("concurrent put %d: got error %v, want none", i, err)
		}
	}
	got, _ := readPhoto(t, ps, sum(data))
	if !bytes.Equal(got, data) {
		t.Fatalf("photo put concurrently: got sha256 %s, want %s", sum(got), sum(data))
	}
	for _, o := range others {
		got, _ := readPhoto(t, ps, sum(o))
		equal(t, "other photo", sum(got), sum(o))
	}
}
