package storagetest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
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
	TestPhotosWith(t, open, PhotoOptions{})
}

// PhotoOptions states what an adapter's photo store needs of the suite.
// The suite never assumes a part size: it cuts parts from the PartSize
// that BeginUpload returns, and sizes its photos from it (a few bytes,
// exactly one part, 2·PartSize+123 bytes).
type PhotoOptions struct {
	// MinPartSize, when set, is the least PartSize BeginUpload may return
	// (S3 multipart: 5 MiB); every Upload the suite sees is checked.
	MinPartSize int64
	// MaxPartSize is the largest PartSize the suite accepts, so that its
	// photos of several parts stay small; 0 means 64 MiB.
	MaxPartSize int64
}

// TestPhotosWith is TestPhotos with options.
//
// Where the contract is silent the suite pins:
//
//   - ListPhotos returns storage.ErrInvalid for an after that is neither ""
//     nor a valid sum; after need not be stored. Pending uploads and
//     thumbnails are not listed.
//   - Upload.ID is not empty; Started is about now; Uploads reports
//     SHA256, ID and Size (Done only from BeginUpload).
//   - PutPart reads at most the part's length plus one byte; a refused part
//     leaves the upload as it was. A part number < 1 is storage.ErrInvalid
//     even for an unknown upload.
//   - CompleteUpload of an unknown upload (never begun, aborted, completed
//     or refused already) is storage.ErrNotFound, as for PutPart; check is
//     called exactly once when the photo is stored.
//   - Several clients uploading one photo at once (through one shared
//     upload or several, next to a PutPhoto of it): every call succeeds,
//     except that once the photo is stored BeginUpload may return
//     storage.ErrExists, and PutPart or CompleteUpload storage.ErrNotFound
//     (the shared upload was completed, or dropped). One copy is stored,
//     and no upload is left pending.
//   - PutThumbnail of a photo that is not stored is storage.ErrNotFound;
//     Thumbnail returns a slice the caller owns, and PutThumbnail keeps no
//     reference to data. A photo stored again after DeletePhoto has no
//     thumbnail.
func TestPhotosWith(t *testing.T, open func(t *testing.T) storage.Photos, opts PhotoOptions) {
	t.Helper()
	if opts.MaxPartSize == 0 {
		opts.MaxPartSize = 64 << 20
	}
	p := photoSuite{open: open, opts: opts}
	t.Run("PutOpenStatDelete", p.putOpenStatDelete)
	t.Run("Empty", p.empty)
	t.Run("Large", p.large)
	t.Run("Refused", p.refused)
	t.Run("StopsReadingAtSizePlusOne", p.stopsReading)
	t.Run("Dedupe", p.dedupe)
	t.Run("MalformedSums", p.malformed)
	t.Run("Missing", p.missing)
	t.Run("ConcurrentSamePhoto", p.concurrentSame)
	t.Run("List", p.list)
	t.Run("Uploads", p.uploads)
	t.Run("Thumbnails", p.thumbnails)
}

type photoSuite struct {
	open func(t *testing.T) storage.Photos
	opts PhotoOptions
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
			ctx := t.Context()
			_, err := ps.PutPhoto(ctx, tc.sum, 1, strings.NewReader("x"))
			wantErr(t, "put", err, storage.ErrInvalid)
			_, _, err = ps.OpenPhoto(ctx, tc.sum)
			wantErr(t, "open", err, storage.ErrInvalid)
			_, err = ps.StatPhoto(ctx, tc.sum)
			wantErr(t, "stat", err, storage.ErrInvalid)
			wantErr(t, "delete", ps.DeletePhoto(ctx, tc.sum), storage.ErrInvalid)
			if tc.sum != "" { // "" lists from the start
				_, _, err = ps.ListPhotos(ctx, tc.sum, 0)
				wantErr(t, "list after it", err, storage.ErrInvalid)
			}
			_, err = ps.BeginUpload(ctx, tc.sum, 1)
			wantErr(t, "begin upload", err, storage.ErrInvalid)
			err = ps.PutPart(ctx, tc.sum, "some-upload", 1, strings.NewReader("x"))
			wantErr(t, "put part", err, storage.ErrInvalid)
			_, err = ps.CompleteUpload(ctx, tc.sum, "some-upload", acceptAll)
			wantErr(t, "complete upload", err, storage.ErrInvalid)
			wantErr(t, "abort upload", ps.AbortUpload(ctx, tc.sum, "some-upload"), storage.ErrInvalid)
			wantErr(t, "put thumbnail", ps.PutThumbnail(ctx, tc.sum, []byte("thumb")), storage.ErrInvalid)
			_, err = ps.Thumbnail(ctx, tc.sum)
			wantErr(t, "thumbnail", err, storage.ErrInvalid)
		})
	}
	wantAbsent(t, ps, valid)
	if ups, err := ps.Uploads(t.Context(), time.Now().Add(time.Hour)); err != nil || len(ups) != 0 {
		t.Fatalf("uploads after malformed calls: got %d (error %v), want none", len(ups), err)
	}
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

// mustList returns one page of ListPhotos.
func mustList(t *testing.T, ps storage.Photos, after string, limit int) ([]storage.PhotoInfo, bool) {
	t.Helper()
	page, more, err := ps.ListPhotos(t.Context(), after, limit)
	if err != nil {
		t.Fatalf("list after %.12q limit %d: got error %v, want none", after, limit, err)
	}
	return page, more
}

// sums returns the sums of a page.
func sums(page []storage.PhotoInfo) []string {
	out := make([]string, len(page))
	for i, pi := range page {
		out[i] = pi.SHA256
	}
	return out
}

func (p photoSuite) list(t *testing.T) {
	ps := p.open(t)
	ctx := t.Context()
	page, more := mustList(t, ps, "", 0)
	if len(page) != 0 || more {
		t.Fatalf("list of an empty store: got %d photos, more %v; want none, false", len(page), more)
	}

	const n = 7
	sizes := map[string]int64{}
	var stored []string
	for i := range n {
		data := photoBytes(100+i, byte(40+i))
		mustPut(t, ps, data)
		sizes[sum(data)] = int64(len(data))
		stored = append(stored, sum(data))
	}
	slices.Sort(stored)
	// Neither a pending upload nor a thumbnail is a photo.
	pending := photoBytes(50, 60)
	if _, err := ps.BeginUpload(ctx, sum(pending), int64(len(pending))); err != nil {
		t.Fatalf("begin upload: got error %v, want none", err)
	}
	wantErr(t, "put thumbnail", ps.PutThumbnail(ctx, stored[0], []byte("thumb")), nil)

	absent := sum([]byte("never stored"))
	for _, tc := range []struct {
		name  string
		after string
		limit int
	}{
		{"all, default limit", "", 0},
		{"all, negative limit", "", -1},
		{"all, limit above count", "", 100},
		{"first page", "", 3},
		{"middle page", stored[2], 3},
		{"last page, exactly full", stored[3], 3},
		{"one", stored[5], 1},
		{"after the last", stored[n-1], 0},
		{"after an absent sum", absent, 2},
		{"after the lowest sum", strings.Repeat("0", 64), 4},
		{"after the highest sum", strings.Repeat("f", 64), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var want []string
			for _, s := range stored {
				if s > tc.after {
					want = append(want, s)
				}
			}
			limit := tc.limit
			if limit <= 0 {
				limit = 1000
			}
			wantMore := len(want) > limit
			if wantMore {
				want = want[:limit]
			}
			page, more := mustList(t, ps, tc.after, tc.limit)
			equal(t, "sums", sums(page), nonNil(want))
			equal(t, "more", more, wantMore)
			for _, pi := range page {
				if pi.Size != sizes[pi.SHA256] || pi.StoredAt.IsZero() {
					t.Fatalf("listed %s: got size %d, stored at %v; want size %d, a time", pi.SHA256, pi.Size, pi.StoredAt, sizes[pi.SHA256])
				}
			}
		})
	}

	// Paging through with more, then after a deleted photo.
	walk := func() []string {
		var all []string
		after := ""
		for pages := 0; ; pages++ {
			if pages > n {
				t.Fatalf("list with limit 2: got more than %d pages, want at most %d", pages, (n+1)/2)
			}
			page, more := mustList(t, ps, after, 2)
			all = append(all, sums(page)...)
			if !more {
				return all
			}
			if len(page) != 2 {
				t.Fatalf("list after %.12q: got %d photos and more, want a full page of 2", after, len(page))
			}
			after = page[len(page)-1].SHA256
		}
	}
	equal(t, "sums listed page by page", walk(), stored)
	wantErr(t, "delete", ps.DeletePhoto(ctx, stored[3]), nil)
	gone := slices.Delete(slices.Clone(stored), 3, 4)
	equal(t, "sums listed after a delete", walk(), gone)
	page, _ = mustList(t, ps, stored[3], 0)
	equal(t, "sums after the deleted photo", sums(page), stored[4:])
}

// nonNil turns a nil slice into an empty one, for comparisons.
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func (p photoSuite) thumbnails(t *testing.T) {
	ps := p.open(t)
	ctx := t.Context()
	data := photoBytes(2000, 70)
	s := sum(data)
	thumb := photoBytes(3000, 71)

	wantErr(t, "put thumbnail of an absent photo", ps.PutThumbnail(ctx, s, thumb), storage.ErrNotFound)
	_, err := ps.Thumbnail(ctx, s)
	wantErr(t, "thumbnail of an absent photo", err, storage.ErrNotFound)
	wantAbsent(t, ps, s)

	mustPut(t, ps, data)
	_, err = ps.Thumbnail(ctx, s)
	wantErr(t, "thumbnail never put", err, storage.ErrNotFound)

	given := bytes.Clone(thumb)
	wantErr(t, "put thumbnail", ps.PutThumbnail(ctx, s, given), nil)
	given[0] ^= 0xff // the store kept no reference
	got, err := ps.Thumbnail(ctx, s)
	wantErr(t, "thumbnail", err, nil)
	equal(t, "thumbnail sha256", sum(got), sum(thumb))
	got[0] ^= 0xff // the caller owns it
	got, _ = ps.Thumbnail(ctx, s)
	equal(t, "thumbnail sha256 read again", sum(got), sum(thumb))

	other := photoBytes(500, 72)
	wantErr(t, "replace thumbnail", ps.PutThumbnail(ctx, s, other), nil)
	got, _ = ps.Thumbnail(ctx, s)
	equal(t, "replaced thumbnail sha256", sum(got), sum(other))
	// The photo itself is untouched.
	photo, _ := readPhoto(t, ps, s)
	equal(t, "photo sha256", sum(photo), s)

	// Thumbnails belong to their photo.
	second := photoBytes(2000, 73)
	mustPut(t, ps, second)
	_, err = ps.Thumbnail(ctx, sum(second))
	wantErr(t, "thumbnail of another photo", err, storage.ErrNotFound)

	wantErr(t, "delete photo", ps.DeletePhoto(ctx, s), nil)
	_, err = ps.Thumbnail(ctx, s)
	wantErr(t, "thumbnail of a deleted photo", err, storage.ErrNotFound)
	mustPut(t, ps, data)
	_, err = ps.Thumbnail(ctx, s)
	wantErr(t, "thumbnail of a photo stored again", err, storage.ErrNotFound)
}
