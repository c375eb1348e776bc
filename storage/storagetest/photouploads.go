package storagetest

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/pairsync/pairsync/storage"
)

// headSize is how many first bytes of a photo CompleteUpload gives check.
const headSize = 64 << 10

// acceptAll is a CompleteUpload check that accepts every photo.
func acceptAll([]byte) error { return nil }

// uploadCase is a case of the uploads in parts, given the part size the
// adapter uses for small photos.
type uploadCase struct {
	name string
	run  func(t *testing.T, partSize int64)
}

func (p photoSuite) uploads(t *testing.T) {
	partSize := p.partSize(t)
	for _, c := range []uploadCase{
		{"Whole", p.uploadWhole},
		{"OfStoredPhoto", p.uploadOfStored},
		{"InvalidSize", p.uploadInvalidSize},
		{"Resume", p.uploadResume},
		{"Incomplete", p.uploadIncomplete},
		{"WrongBytes", p.uploadWrongBytes},
		{"WrongPartLength", p.uploadWrongPartLength},
		{"CheckRefuses", p.uploadCheckRefuses},
		{"OtherSize", p.uploadOtherSize},
		{"PartNumbers", p.uploadPartNumbers},
		{"Unknown", p.uploadUnknown},
		{"ListedByTime", p.uploadsByTime},
		{"Abort", p.uploadAbort},
		{"ConcurrentSamePhoto", p.uploadConcurrent},
	} {
		t.Run(c.name, func(t *testing.T) { c.run(t, partSize) })
	}
}

// partSize returns the PartSize the adapter gives the upload of a small
// photo, in a store of its own. The cases size their photos from it but cut
// parts by the PartSize of each upload.
func (p photoSuite) partSize(t *testing.T) int64 {
	t.Helper()
	ps := p.open(t)
	data := photoBytes(1, 90)
	u := p.begin(t, ps, data)
	wantErr(t, "abort upload", ps.AbortUpload(t.Context(), u.SHA256, u.ID), nil)
	return u.PartSize
}

// shape is the size of a photo uploaded in parts.
type shape struct {
	name string
	size int64
}

func shapes(partSize int64) []shape {
	return []shape{
		{"few bytes", 5},
		{"one part", partSize},
		{"one part and a byte", partSize + 1},
		{"two parts and a bit", 2*partSize + 123},
	}
}

// begin begins (or resumes) the upload of data and checks what comes back.
func (p photoSuite) begin(t *testing.T, ps storage.Photos, data []byte) storage.Upload {
	t.Helper()
	u, err := ps.BeginUpload(t.Context(), sum(data), int64(len(data)))
	if err != nil {
		t.Fatalf("begin upload of %d bytes: got error %v, want none", len(data), err)
	}
	p.checkUpload(t, "begin upload", u, sum(data), int64(len(data)))
	return u
}

// checkUpload fails t unless u is a well-formed upload of size bytes under s.
func (p photoSuite) checkUpload(t *testing.T, what string, u storage.Upload, s string, size int64) {
	t.Helper()
	if u.SHA256 != s || u.Size != size || u.ID == "" {
		t.Fatalf("%s: got SHA256 %s, Size %d, ID %q; want %s, %d and an ID", what, u.SHA256, u.Size, u.ID, s, size)
	}
	if u.PartSize <= 0 || u.PartSize < p.opts.MinPartSize || u.PartSize > p.opts.MaxPartSize {
		t.Fatalf("%s: got PartSize %d, want one in [max(1, %d), %d] (PhotoOptions)", what, u.PartSize, p.opts.MinPartSize, p.opts.MaxPartSize)
	}
	prev := 0
	for _, d := range u.Done {
		if d.Number <= prev || d.Number > u.Parts() || d.Size != u.PartLen(d.Number) {
			t.Fatalf("%s: got Done %v, want ascending part numbers in 1..%d with their lengths", what, u.Done, u.Parts())
		}
		prev = d.Number
	}
	if u.Started.IsZero() {
		t.Fatalf("%s: got a zero Started, want the time the upload began", what)
	}
}

// part returns the bytes of part n of data, as u cuts it.
func part(u storage.Upload, data []byte, n int) []byte {
	start := int64(n-1) * u.PartSize
	return data[start : start+u.PartLen(n)]
}

// putParts puts the parts ns of data to u, in that order.
func putParts(t *testing.T, ps storage.Photos, u storage.Upload, data []byte, ns ...int) {
	t.Helper()
	for _, n := range ns {
		if err := ps.PutPart(t.Context(), u.SHA256, u.ID, n, bytes.NewReader(part(u, data, n))); err != nil {
			t.Fatalf("put part %d of %d: got error %v, want none", n, u.Parts(), err)
		}
	}
}

// partNumbers returns 1..u.Parts().
func partNumbers(u storage.Upload) []int {
	ns := make([]int, u.Parts())
	for i := range ns {
		ns[i] = i + 1
	}
	return ns
}

// doneNumbers returns the numbers of the parts u holds.
func doneNumbers(u storage.Upload) []int {
	ns := []int{}
	for _, d := range u.Done {
		ns = append(ns, d.Number)
	}
	return ns
}

// mustComplete completes u, the upload of data, and checks that check was
// called once with the photo's head and that the photo is stored.
func mustComplete(t *testing.T, ps storage.Photos, u storage.Upload, data []byte) storage.PhotoInfo {
	t.Helper()
	var heads [][]byte
	info, err := ps.CompleteUpload(t.Context(), u.SHA256, u.ID, func(head []byte) error {
		heads = append(heads, bytes.Clone(head))
		return nil
	})
	if err != nil {
		t.Fatalf("complete upload of %d bytes in %d parts: got error %v, want none", len(data), u.Parts(), err)
	}
	if info.SHA256 != sum(data) || info.Size != int64(len(data)) {
		t.Fatalf("complete upload: got %+v, want SHA256 %s and Size %d", info, sum(data), len(data))
	}
	if len(heads) != 1 {
		t.Fatalf("complete upload: got %d calls of check, want 1", len(heads))
	}
	if want := data[:min(len(data), headSize)]; !bytes.Equal(heads[0], want) {
		t.Fatalf("check: got a head of %d bytes (sha256 %s), want the first %d bytes of the photo", len(heads[0]), sum(heads[0]), len(want))
	}
	got, _ := readPhoto(t, ps, sum(data))
	if !bytes.Equal(got, data) {
		t.Fatalf("photo uploaded in parts: got %d bytes (sha256 %s), want the %d bytes sent", len(got), sum(got), len(data))
	}
	return info
}

// pendingOf returns the pending uploads of s started before the given time.
func pendingOf(t *testing.T, ps storage.Photos, s string, before time.Time) []storage.Upload {
	t.Helper()
	all, err := ps.Uploads(t.Context(), before)
	if err != nil {
		t.Fatalf("uploads: got error %v, want none", err)
	}
	var out []storage.Upload
	for _, u := range all {
		if u.SHA256 == s {
			out = append(out, u)
		}
	}
	return out
}

// later is a time after every upload a case begins.
func later() time.Time { return time.Now().Add(time.Hour) }

// wantPending fails t unless u is the one pending upload of its photo.
func wantPending(t *testing.T, ps storage.Photos, u storage.Upload) {
	t.Helper()
	ups := pendingOf(t, ps, u.SHA256, later())
	if len(ups) != 1 || ups[0].ID != u.ID || ups[0].Size != u.Size {
		t.Fatalf("uploads of %.12s…: got %+v, want the upload %q of %d bytes", u.SHA256, ups, u.ID, u.Size)
	}
}

// wantGone fails t unless the upload u of data is no longer pending: not
// listed, and unknown to PutPart and CompleteUpload.
func wantGone(t *testing.T, ps storage.Photos, u storage.Upload, data []byte) {
	t.Helper()
	if ups := pendingOf(t, ps, u.SHA256, later()); len(ups) != 0 {
		t.Fatalf("uploads of %.12s…: got %+v, want none", u.SHA256, ups)
	}
	err := ps.PutPart(t.Context(), u.SHA256, u.ID, 1, bytes.NewReader(part(u, data, 1)))
	wantErr(t, "put part to an upload no longer pending", err, storage.ErrNotFound)
	_, err = ps.CompleteUpload(t.Context(), u.SHA256, u.ID, acceptAll)
	wantErr(t, "complete an upload no longer pending", err, storage.ErrNotFound)
}

// uploadWhole: every part, last first and one twice, then complete.
func (p photoSuite) uploadWhole(t *testing.T, partSize int64) {
	for _, sh := range shapes(partSize) {
		t.Run(sh.name, func(t *testing.T) {
			ps := p.open(t)
			ctx := t.Context()
			data := photoBytes(int(sh.size), 20)
			s := sum(data)
			before := time.Now().Add(-2 * time.Second)
			u := p.begin(t, ps, data)
			if len(u.Done) != 0 {
				t.Fatalf("begin upload: got Done %v, want none", u.Done)
			}
			if u.Started.Before(before) || u.Started.After(time.Now().Add(2*time.Second)) {
				t.Fatalf("begin upload: got Started %v, want about now", u.Started)
			}
			ns := partNumbers(u)
			slices.Reverse(ns)
			putParts(t, ps, u, data, append(ns, ns[0])...)
			wantPending(t, ps, u)
			wantAbsent(t, ps, s)

			info := mustComplete(t, ps, u, data)
			if info.StoredAt.Before(before) || info.StoredAt.After(time.Now().Add(2*time.Second)) {
				t.Fatalf("complete upload: got StoredAt %v, want about now", info.StoredAt)
			}
			stat, err := ps.StatPhoto(ctx, s)
			wantErr(t, "stat", err, nil)
			equal(t, "size stored", stat.Size, sh.size)
			wantGone(t, ps, u, data)
			_, err = ps.BeginUpload(ctx, s, sh.size)
			wantErr(t, "begin upload of the stored photo", err, storage.ErrExists)
		})
	}
}

func (p photoSuite) uploadOfStored(t *testing.T, _ int64) {
	ps := p.open(t)
	data := photoBytes(3000, 21)
	mustPut(t, ps, data)
	for _, size := range []int64{3000, 3001} {
		_, err := ps.BeginUpload(t.Context(), sum(data), size)
		wantErr(t, fmt.Sprintf("begin upload of a stored photo, declared %d bytes", size), err, storage.ErrExists)
	}
	if ups := pendingOf(t, ps, sum(data), later()); len(ups) != 0 {
		t.Fatalf("uploads: got %+v, want none", ups)
	}
}

func (p photoSuite) uploadInvalidSize(t *testing.T, _ int64) {
	ps := p.open(t)
	data := photoBytes(10, 22)
	for _, tc := range []struct {
		name string
		sum  string
		size int64
	}{
		{"empty photo", sum(nil), 0}, // stored with PutPhoto instead
		{"zero size", sum(data), 0},
		{"negative size", sum(data), -1},
	} {
		_, err := ps.BeginUpload(t.Context(), tc.sum, tc.size)
		wantErr(t, "begin upload, "+tc.name, err, storage.ErrInvalid)
	}
	if ups, err := ps.Uploads(t.Context(), later()); err != nil || len(ups) != 0 {
		t.Fatalf("uploads: got %+v (error %v), want none", ups, err)
	}
}

// uploadResume: a second BeginUpload returns the same upload and the parts
// it holds, which need not be sent again.
func (p photoSuite) uploadResume(t *testing.T, partSize int64) {
	ps := p.open(t)
	data := photoBytes(int(2*partSize+123), 23)
	u := p.begin(t, ps, data)
	if u.Parts() < 3 {
		t.Fatalf("begin upload of %d bytes: got %d parts of %d, want 3 or more", len(data), u.Parts(), u.PartSize)
	}
	putParts(t, ps, u, data, 1)
	again := p.begin(t, ps, data)
	equal(t, "ID of the resumed upload", again.ID, u.ID)
	equal(t, "Done of the resumed upload", again.Done, []storage.Part{{Number: 1, Size: u.PartLen(1)}})
	putParts(t, ps, again, data, 3)
	again = p.begin(t, ps, data)
	equal(t, "ID of the upload resumed again", again.ID, u.ID)
	equal(t, "parts done", doneNumbers(again), []int{1, 3})
	for _, n := range partNumbers(again) {
		if !slices.Contains(doneNumbers(again), n) {
			putParts(t, ps, again, data, n)
		}
	}
	mustComplete(t, ps, again, data)
	wantGone(t, ps, u, data)
}

// uploadIncomplete: CompleteUpload with parts missing fails and drops
// nothing.
func (p photoSuite) uploadIncomplete(t *testing.T, partSize int64) {
	ps := p.open(t)
	ctx := t.Context()
	data := photoBytes(int(2*partSize+123), 24)
	u := p.begin(t, ps, data)
	last := u.Parts()
	putParts(t, ps, u, data, 1, last)
	_, err := ps.CompleteUpload(ctx, u.SHA256, u.ID, acceptAll)
	wantErr(t, "complete with a part missing", err, storage.ErrIncomplete)
	wantAbsent(t, ps, u.SHA256)
	wantPending(t, ps, u)
	again := p.begin(t, ps, data)
	equal(t, "ID after an incomplete completion", again.ID, u.ID)
	equal(t, "parts done after an incomplete completion", doneNumbers(again), []int{1, last})
	putParts(t, ps, again, data, partNumbers(again)[1:last-1]...)
	mustComplete(t, ps, again, data)

	// Nothing sent at all.
	small := photoBytes(5, 25)
	u = p.begin(t, ps, small)
	_, err = ps.CompleteUpload(ctx, u.SHA256, u.ID, acceptAll)
	wantErr(t, "complete with no part sent", err, storage.ErrIncomplete)
	wantAbsent(t, ps, u.SHA256)
	again = p.begin(t, ps, small)
	equal(t, "ID after completing no part", again.ID, u.ID)
}

// uploadWrongBytes: parts of the right lengths whose bytes do not hash to
// the sum are refused at completion, and the upload is dropped.
func (p photoSuite) uploadWrongBytes(t *testing.T, partSize int64) {
	for _, tc := range []struct {
		name string
		size int64
		flip int64 // offset of the byte changed, from the end when negative
	}{
		{"few bytes", 5, 2},
		{"first byte of several parts", 2*partSize + 123, 0},
		{"last byte of several parts", 2*partSize + 123, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ps := p.open(t)
			data := photoBytes(int(tc.size), 26)
			wrong := bytes.Clone(data)
			at := tc.flip
			if at < 0 {
				at += tc.size
			}
			wrong[at] ^= 1
			u := p.begin(t, ps, data)
			putParts(t, ps, u, wrong, partNumbers(u)...)
			_, err := ps.CompleteUpload(t.Context(), u.SHA256, u.ID, acceptAll)
			wantErr(t, "complete upload of other bytes", err, storage.ErrMismatch)
			wantAbsent(t, ps, sum(data))
			wantAbsent(t, ps, sum(wrong))
			wantGone(t, ps, u, data)
			if again := p.begin(t, ps, data); len(again.Done) != 0 {
				t.Fatalf("begin upload after a refused one: got Done %v, want none", again.Done)
			}
		})
	}
}

// uploadWrongPartLength: a part that is not exactly its length is refused
// and leaves the upload as it was.
func (p photoSuite) uploadWrongPartLength(t *testing.T, partSize int64) {
	ps := p.open(t)
	ctx := t.Context()
	data := photoBytes(int(2*partSize+123), 27)
	u := p.begin(t, ps, data)
	last := u.Parts()
	first, end := part(u, data, 1), part(u, data, last)
	for _, tc := range []struct {
		name  string
		n     int
		bytes []byte
	}{
		{"first part, a byte short", 1, first[:len(first)-1]},
		{"first part, a byte long", 1, append(bytes.Clone(first), 'x')},
		{"middle part, empty", 2, nil},
		{"last part, a byte short", last, end[:len(end)-1]},
		{"last part, a byte long", last, append(bytes.Clone(end), 'x')},
		{"last part, a whole part's length", last, data[:u.PartSize]},
	} {
		if int64(len(tc.bytes)) == u.PartLen(tc.n) {
			continue // the last part happens to be whole
		}
		err := ps.PutPart(ctx, u.SHA256, u.ID, tc.n, bytes.NewReader(tc.bytes))
		wantErr(t, "put "+tc.name, err, storage.ErrMismatch)
	}
	r := &endless{}
	err := ps.PutPart(ctx, u.SHA256, u.ID, 1, r)
	wantErr(t, "put an endless part", err, storage.ErrMismatch)
	if r.n > u.PartLen(1)+1 {
		t.Fatalf("put an endless part of %d bytes: got %d bytes read, want at most %d", u.PartLen(1), r.n, u.PartLen(1)+1)
	}
	again := p.begin(t, ps, data)
	equal(t, "ID after refused parts", again.ID, u.ID)
	equal(t, "parts done after refused parts", doneNumbers(again), []int{})
	putParts(t, ps, again, data, partNumbers(again)...)
	mustComplete(t, ps, again, data)
}

// uploadCheckRefuses: check's refusal is ErrMismatch wrapping its error;
// nothing is stored and the upload is dropped.
func (p photoSuite) uploadCheckRefuses(t *testing.T, partSize int64) {
	refusal := errors.New("not an image")
	for _, sh := range []shape{{"few bytes", 5}, {"two parts and a bit", 2*partSize + 123}} {
		t.Run(sh.name, func(t *testing.T) {
			ps := p.open(t)
			data := photoBytes(int(sh.size), 28)
			u := p.begin(t, ps, data)
			putParts(t, ps, u, data, partNumbers(u)...)
			_, err := ps.CompleteUpload(t.Context(), u.SHA256, u.ID, func([]byte) error { return refusal })
			wantErr(t, "complete upload refused by check", err, storage.ErrMismatch)
			if !errors.Is(err, refusal) {
				t.Fatalf("complete upload refused by check: got error %v, want it to wrap %q", err, refusal)
			}
			wantAbsent(t, ps, u.SHA256)
			wantGone(t, ps, u, data)
		})
	}
}

// uploadOtherSize: beginning the upload of a photo with another size than
// the pending one drops it and starts afresh.
func (p photoSuite) uploadOtherSize(t *testing.T, partSize int64) {
	ps := p.open(t)
	ctx := t.Context()
	data := photoBytes(int(2*partSize+123), 29)
	s := sum(data)
	lie := int64(len(data)) + partSize
	old, err := ps.BeginUpload(ctx, s, lie)
	if err != nil {
		t.Fatalf("begin upload declared %d bytes: got error %v, want none", lie, err)
	}
	p.checkUpload(t, "begin upload of another size", old, s, lie)
	putParts(t, ps, old, data, 1)

	u := p.begin(t, ps, data)
	if len(u.Done) != 0 {
		t.Fatalf("begin upload with the right size: got Done %v, want none (a fresh upload)", u.Done)
	}
	wantPending(t, ps, u)
	if u.ID != old.ID {
		err := ps.PutPart(ctx, s, old.ID, 2, bytes.NewReader(part(old, data, 2)))
		wantErr(t, "put part to the dropped upload", err, storage.ErrNotFound)
	}
	putParts(t, ps, u, data, partNumbers(u)...)
	mustComplete(t, ps, u, data)
}

// uploadPartNumbers: part numbers are 1..Parts().
func (p photoSuite) uploadPartNumbers(t *testing.T, partSize int64) {
	ps := p.open(t)
	for _, sh := range []shape{{"few bytes", 5}, {"two parts and a bit", 2*partSize + 123}} {
		t.Run(sh.name, func(t *testing.T) {
			data := photoBytes(int(sh.size), 30)
			u := p.begin(t, ps, data)
			for _, n := range []int{0, -1, u.Parts() + 1, u.Parts() + 100} {
				err := ps.PutPart(t.Context(), u.SHA256, u.ID, n, bytes.NewReader(part(u, data, 1)))
				wantErr(t, fmt.Sprintf("put part %d of %d", n, u.Parts()), err, storage.ErrInvalid)
			}
			again := p.begin(t, ps, data)
			equal(t, "parts done after refused part numbers", doneNumbers(again), []int{})
			putParts(t, ps, again, data, partNumbers(again)...)
			mustComplete(t, ps, again, data)
		})
	}
}

// uploadUnknown: an upload ID names one upload of one photo.
func (p photoSuite) uploadUnknown(t *testing.T, _ int64) {
	ps := p.open(t)
	ctx := t.Context()
	data := photoBytes(5, 31)
	s := sum(data)
	const bogus = "no-such-upload"
	calls := func(what, s, id string) {
		t.Helper()
		err := ps.PutPart(ctx, s, id, 1, bytes.NewReader(data))
		wantErr(t, "put part, "+what, err, storage.ErrNotFound)
		err = ps.PutPart(ctx, s, id, 0, bytes.NewReader(data))
		wantErr(t, "put part 0, "+what, err, storage.ErrInvalid)
		_, err = ps.CompleteUpload(ctx, s, id, acceptAll)
		wantErr(t, "complete upload, "+what, err, storage.ErrNotFound)
	}
	calls("no upload begun", s, bogus)
	wantErr(t, "abort an unknown upload", ps.AbortUpload(ctx, s, bogus), nil)
	wantAbsent(t, ps, s)

	u := p.begin(t, ps, data)
	calls("unknown ID", s, bogus)
	other := photoBytes(5, 32)
	calls("the ID of another photo's upload", sum(other), u.ID)
	wantAbsent(t, ps, sum(other))
	putParts(t, ps, u, data, 1)
	mustComplete(t, ps, u, data)
}

// uploadsByTime: Uploads lists the uploads started before a time.
func (p photoSuite) uploadsByTime(t *testing.T, _ int64) {
	ps := p.open(t)
	ctx := t.Context()
	if ups, err := ps.Uploads(ctx, later()); err != nil || len(ups) != 0 {
		t.Fatalf("uploads of an empty store: got %+v (error %v), want none", ups, err)
	}
	start := time.Now()
	a := p.begin(t, ps, photoBytes(5, 33))
	b := p.begin(t, ps, photoBytes(6, 34))
	mustPut(t, ps, photoBytes(7, 35)) // stored, not pending

	early, err := ps.Uploads(ctx, start.Add(-time.Hour))
	wantErr(t, "uploads started an hour ago", err, nil)
	if len(early) != 0 {
		t.Fatalf("uploads started an hour ago: got %+v, want none", early)
	}
	all, err := ps.Uploads(ctx, later())
	wantErr(t, "uploads started before an hour from now", err, nil)
	type brief struct {
		SHA256, ID string
		Size       int64
	}
	var got []brief
	for _, u := range all {
		got = append(got, brief{u.SHA256, u.ID, u.Size})
		if u.Started.Before(start.Add(-2*time.Second)) || u.Started.After(time.Now().Add(2*time.Second)) {
			t.Fatalf("upload %.12s…: got Started %v, want about now", u.SHA256, u.Started)
		}
	}
	want := []brief{{a.SHA256, a.ID, a.Size}, {b.SHA256, b.ID, b.Size}}
	slices.SortFunc(got, func(x, y brief) int { return cmp.Compare(x.SHA256, y.SHA256) })
	slices.SortFunc(want, func(x, y brief) int { return cmp.Compare(x.SHA256, y.SHA256) })
	equal(t, "uploads started before an hour from now", got, want)
}

// uploadAbort: AbortUpload drops an upload and its parts; twice is fine.
func (p photoSuite) uploadAbort(t *testing.T, partSize int64) {
	ps := p.open(t)
	ctx := t.Context()
	data := photoBytes(int(partSize+1), 36)
	u := p.begin(t, ps, data)
	putParts(t, ps, u, data, 1)
	wantErr(t, "abort upload", ps.AbortUpload(ctx, u.SHA256, u.ID), nil)
	wantGone(t, ps, u, data)
	wantErr(t, "abort upload again", ps.AbortUpload(ctx, u.SHA256, u.ID), nil)
	wantAbsent(t, ps, u.SHA256)
	if again := p.begin(t, ps, data); len(again.Done) != 0 {
		t.Fatalf("begin upload after an abort: got Done %v, want none", again.Done)
	}
}

// uploadConcurrent: clients upload one photo in parts at the same time as
// another puts it whole.
func (p photoSuite) uploadConcurrent(t *testing.T, partSize int64) {
	for _, sh := range []shape{{"few bytes", 5}, {"two parts and a bit", 2*partSize + 123}} {
		t.Run(sh.name, func(t *testing.T) {
			ps := p.open(t)
			data := photoBytes(int(sh.size), 37)
			const uploaders = 3
			errs := make([]error, uploaders+1)
			start := make(chan struct{})
			var wg sync.WaitGroup
			for i := range uploaders {
				wg.Go(func() {
					<-start
					errs[i] = uploadAll(t.Context(), ps, data)
				})
			}
			wg.Go(func() {
				<-start
				_, errs[uploaders] = ps.PutPhoto(t.Context(), sum(data), sh.size, bytes.NewReader(data))
			})
			close(start)
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Fatalf("client %d of %d: got error %v, want none", i+1, len(errs), err)
				}
			}
			got, _ := readPhoto(t, ps, sum(data))
			if !bytes.Equal(got, data) {
				t.Fatalf("photo uploaded concurrently: got sha256 %s, want %s", sum(got), sum(data))
			}
			if ups := pendingOf(t, ps, sum(data), later()); len(ups) != 0 {
				t.Fatalf("uploads after the clients finished: got %+v, want none", ups)
			}
		})
	}
}

// uploadAll uploads data in parts as a client does. It stops early, without
// an error, where the contract lets another client's upload of the same
// photo cut it short: storage.ErrExists from BeginUpload,
// storage.ErrNotFound from PutPart or CompleteUpload.
func uploadAll(ctx context.Context, ps storage.Photos, data []byte) error {
	s := sum(data)
	u, err := ps.BeginUpload(ctx, s, int64(len(data)))
	if errors.Is(err, storage.ErrExists) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("begin upload: %w", err)
	}
	for n := 1; n <= u.Parts(); n++ {
		err := ps.PutPart(ctx, s, u.ID, n, bytes.NewReader(part(u, data, n)))
		if errors.Is(err, storage.ErrNotFound) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("put part %d: %w", n, err)
		}
	}
	info, err := ps.CompleteUpload(ctx, s, u.ID, acceptAll)
	if errors.Is(err, storage.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("complete upload: %w", err)
	}
	if info.SHA256 != s || info.Size != int64(len(data)) {
		return fmt.Errorf("complete upload: got %+v, want SHA256 %s and Size %d", info, s, len(data))
	}
	return nil
}
