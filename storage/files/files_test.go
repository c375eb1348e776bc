package files_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/pairsync/pairsync/storage"
	"github.com/pairsync/pairsync/storage/files"
	"github.com/pairsync/pairsync/storage/storagetest"
)

func openTemp(t *testing.T) *files.Store {
	t.Helper()
	s, err := files.Open(filepath.Join(t.TempDir(), "photos"))
	if err != nil {
		t.Fatalf("open: got error %v, want none", err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storagetest.TestPhotos(t, func(t *testing.T) storage.Photos { return openTemp(t) })
}

func hexSum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func TestLayout(t *testing.T) {
	s := openTemp(t)
	data := []byte("a photo")
	sum := hexSum(data)
	if _, err := s.PutPhoto(t.Context(), sum, int64(len(data)), bytes.NewReader(data)); err != nil {
		t.Fatalf("put: got error %v, want none", err)
	}
	path := filepath.Join(s.Dir(), sum[:2], sum[2:4], sum)
	got, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("object file %s: got %q, %v; want %q", path, got, err, data)
	}
	tmp, err := os.ReadDir(filepath.Join(s.Dir(), ".tmp"))
	if err != nil || len(tmp) != 0 {
		t.Fatalf("temporary files after a put: got %d (%v), want none", len(tmp), err)
	}
}

func TestRefusedPutLeavesNoFile(t *testing.T) {
	s := openTemp(t)
	data := bytes.Repeat([]byte("x"), 100_000)
	_, err := s.PutPhoto(t.Context(), hexSum([]byte("other")), int64(len(data)), bytes.NewReader(data))
	if !errors.Is(err, storage.ErrMismatch) {
		t.Fatalf("put: got error %v, want ErrMismatch", err)
	}
	var left []string
	filepath.WalkDir(s.Dir(), func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			left = append(left, path)
		}
		return nil
	})
	if len(left) != 0 {
		t.Fatalf("files after a refused put: got %v, want none", left)
	}
}

func TestOpenCleansTemporaryFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "photos")
	s, err := files.Open(dir)
	if err != nil {
		t.Fatalf("open: got error %v, want none", err)
	}
	data := []byte("kept")
	if _, err := s.PutPhoto(t.Context(), hexSum(data), int64(len(data)), bytes.NewReader(data)); err != nil {
		t.Fatalf("put: got error %v, want none", err)
	}
	// What a crash in the middle of an upload leaves behind.
	crashed := filepath.Join(dir, ".tmp", "put-123456")
	if err := os.WriteFile(crashed, []byte("half an upl"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := files.Open(dir); err != nil {
		t.Fatalf("reopen: got error %v, want none", err)
	}
	if _, err := os.Stat(crashed); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("temporary file after reopening: got %v, want it removed", err)
	}
	if _, err := s.StatPhoto(t.Context(), hexSum(data)); err != nil {
		t.Fatalf("stored photo after reopening: got error %v, want none", err)
	}
}

// TestPutStreams checks that a put does not hold the photo in memory: a
// 32 MiB upload allocates well under its size.
func TestPutStreams(t *testing.T) {
	const size = 32 << 20
	sum := storagetest.PatternSum(size)
	s := openTemp(t)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	if _, err := s.PutPhoto(t.Context(), sum, size, storagetest.Pattern(size)); err != nil {
		t.Fatalf("put: got error %v, want none", err)
	}
	runtime.ReadMemStats(&after)
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 4<<20 {
		t.Fatalf("put of %d MiB: got %d KiB allocated, want under 4 MiB (streamed)", size>>20, alloc>>10)
	}
}

func TestOpenRefused(t *testing.T) {
	if _, err := files.Open(""); !errors.Is(err, storage.ErrInvalid) {
		t.Fatalf("open of an empty path: got error %v, want ErrInvalid", err)
	}
}

// beginPut begins the upload of data and puts the parts ns.
func beginPut(t *testing.T, s *files.Store, data []byte, ns ...int) storage.Upload {
	t.Helper()
	u, err := s.BeginUpload(t.Context(), hexSum(data), int64(len(data)))
	if err != nil {
		t.Fatalf("begin upload: got error %v, want none", err)
	}
	for _, n := range ns {
		start := int64(n-1) * u.PartSize
		part := data[start : start+u.PartLen(n)]
		if err := s.PutPart(t.Context(), u.SHA256, u.ID, n, bytes.NewReader(part)); err != nil {
			t.Fatalf("put part %d: got error %v, want none", n, err)
		}
	}
	return u
}

// names lists the names in dir.
func names(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("read %s: got error %v, want none", dir, err)
	}
	out := []string{}
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

func TestUploadLayout(t *testing.T) {
	s := openTemp(t)
	data := bytes.Repeat([]byte("abc"), files.PartSize) // 3 parts
	u := beginPut(t, s, data, 2)
	if u.ID != u.SHA256 || u.PartSize != files.PartSize || u.Parts() != 3 {
		t.Fatalf("upload: got ID %q, PartSize %d, %d parts; want the sum, %d, 3", u.ID, u.PartSize, u.Parts(), files.PartSize)
	}
	dir := filepath.Join(s.Dir(), ".uploads", u.SHA256)
	if got := fmt.Sprint(names(t, dir)); got != "[2.part upload.json]" {
		t.Fatalf("upload folder: got %s, want [2.part upload.json]", got)
	}
	if got := names(t, filepath.Join(s.Dir(), ".tmp")); len(got) != 0 {
		t.Fatalf(".tmp after a part: got %v, want empty", got)
	}
	beginPut(t, s, data, 1, 3)
	if _, err := s.CompleteUpload(t.Context(), u.SHA256, u.ID, nil); err != nil {
		t.Fatalf("complete with a nil check: got error %v, want none", err)
	}
	for _, sub := range []string{".uploads", ".tmp"} {
		if got := names(t, filepath.Join(s.Dir(), sub)); len(got) != 0 {
			t.Fatalf("%s after completing: got %v, want empty", sub, got)
		}
	}
	if err := s.PutThumbnail(t.Context(), u.SHA256, []byte("thumb")); err != nil {
		t.Fatalf("put thumbnail: got error %v, want none", err)
	}
	thumb := filepath.Join(s.Dir(), ".thumbs", u.SHA256[:2], u.SHA256[2:4], u.SHA256)
	if got, err := os.ReadFile(thumb); err != nil || string(got) != "thumb" {
		t.Fatalf("thumbnail file %s: got %q, %v; want \"thumb\"", thumb, got, err)
	}
}

// TestUploadSurvivesReopen: pending uploads are resumed after a restart;
// what a crash in the middle of a part or a begin leaves is not.
func TestUploadSurvivesReopen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "photos")
	s, err := files.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("xy"), files.PartSize) // 2 parts
	u := beginPut(t, s, data, 1)
	for _, crashed := range []string{"part-123", "begin-456/upload.json"} {
		p := filepath.Join(dir, ".tmp", crashed)
		if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("half"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s, err = files.Open(dir)
	if err != nil {
		t.Fatalf("reopen: got error %v, want none", err)
	}
	if got := names(t, filepath.Join(dir, ".tmp")); len(got) != 0 {
		t.Fatalf(".tmp after reopening: got %v, want empty", got)
	}
	again := beginPut(t, s, data)
	if again.ID != u.ID || len(again.Done) != 1 || again.Done[0].Number != 1 || !again.Started.Equal(u.Started) {
		t.Fatalf("upload after reopening: got %+v, want the upload begun before with part 1 done", again)
	}
	beginPut(t, s, data, 2)
	if _, err := s.CompleteUpload(t.Context(), u.SHA256, u.ID, nil); err != nil {
		t.Fatalf("complete after reopening: got error %v, want none", err)
	}
}

// TestCrashAfterComplete: a crash after the photo is stored but before its
// upload folder is dropped leaves an upload that clean-up and BeginUpload
// drop.
func TestCrashAfterComplete(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "photos")
	s, err := files.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	data := []byte("a photo in one part")
	u := beginPut(t, s, data, 1)
	upload := filepath.Join(dir, ".uploads", u.SHA256)
	saved := filepath.Join(t.TempDir(), "saved")
	if err := os.CopyFS(saved, os.DirFS(upload)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CompleteUpload(t.Context(), u.SHA256, u.ID, nil); err != nil {
		t.Fatalf("complete: got error %v, want none", err)
	}
	if err := os.CopyFS(upload, os.DirFS(saved)); err != nil {
		t.Fatal(err)
	}
	s, err = files.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	ups, err := s.Uploads(t.Context(), time.Now().Add(time.Hour))
	if err != nil || len(ups) != 1 || ups[0].ID != u.ID {
		t.Fatalf("uploads after the crash: got %+v (error %v), want the upload left behind", ups, err)
	}
	if _, err := s.BeginUpload(t.Context(), u.SHA256, u.Size); !errors.Is(err, storage.ErrExists) {
		t.Fatalf("begin upload of the stored photo: got error %v, want ErrExists", err)
	}
	if _, err := os.Stat(upload); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("upload folder after BeginUpload: got %v, want it removed", err)
	}
}

func TestCorruptUpload(t *testing.T) {
	s := openTemp(t)
	data := []byte("a photo")
	u := beginPut(t, s, data)
	meta := filepath.Join(s.Dir(), ".uploads", u.SHA256, "upload.json")
	if err := os.WriteFile(meta, []byte("{garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	ups, err := s.Uploads(t.Context(), time.Now().Add(-time.Hour))
	if err != nil || len(ups) != 1 || ups[0].ID != u.ID || !ups[0].Started.IsZero() {
		t.Fatalf("uploads with a corrupt upload.json: got %+v (error %v), want it listed with a zero Started", ups, err)
	}
	if _, err := s.CompleteUpload(t.Context(), u.SHA256, u.ID, nil); err == nil {
		t.Fatalf("complete of a corrupt upload: got no error, want one")
	}
	again := beginPut(t, s, data, 1)
	if len(again.Done) != 0 || again.Size != int64(len(data)) {
		t.Fatalf("begin upload over a corrupt one: got %+v, want a fresh upload", again)
	}
	if _, err := s.CompleteUpload(t.Context(), u.SHA256, u.ID, nil); err != nil {
		t.Fatalf("complete: got error %v, want none", err)
	}
}

// TestCompleteStreams checks that completing an upload does not hold the
// photo in memory: 32 parts of 1 MiB allocate well under their size.
func TestCompleteStreams(t *testing.T) {
	const parts = 32
	part := make([]byte, files.PartSize)
	for i := range part {
		part[i] = byte(i * 7)
	}
	h := sha256.New()
	for range parts {
		h.Write(part)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	s := openTemp(t)
	u, err := s.BeginUpload(t.Context(), sum, parts*files.PartSize)
	if err != nil {
		t.Fatal(err)
	}
	for n := 1; n <= parts; n++ {
		if err := s.PutPart(t.Context(), sum, u.ID, n, bytes.NewReader(part)); err != nil {
			t.Fatalf("put part %d: got error %v, want none", n, err)
		}
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	if _, err := s.CompleteUpload(t.Context(), sum, u.ID, func([]byte) error { return nil }); err != nil {
		t.Fatalf("complete: got error %v, want none", err)
	}
	runtime.ReadMemStats(&after)
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 4<<20 {
		t.Fatalf("complete of %d MiB: got %d KiB allocated, want under 4 MiB (streamed)", parts, alloc>>10)
	}
}

// TestListSkipsStrays: only photo files in shard directories are listed.
func TestListSkipsStrays(t *testing.T) {
	s := openTemp(t)
	data := []byte("listed")
	sum := hexSum(data)
	if _, err := s.PutPhoto(t.Context(), sum, int64(len(data)), bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	other := hexSum([]byte("other"))
	for _, p := range []string{
		"zz/00/x",                              // not a shard
		"AB/CD/" + strings.ToUpper(other),      // uppercase
		sum[:2] + "/" + sum[2:4] + "/stray",    // not a sum
		sum[:2] + "/" + sum[2:4] + "/" + other, // a sum in the wrong shard
		".tmp/" + other,                        // dot folders
		".thumbs/" + other[:2] + "/" + other[2:4] + "/" + other,
	} {
		full := filepath.Join(s.Dir(), p)
		if err := os.MkdirAll(filepath.Dir(full), 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(s.Dir(), "ab"), []byte("a file named like a shard"), 0o600); err != nil {
		t.Fatal(err)
	}
	page, more, err := s.ListPhotos(t.Context(), "", 0)
	if err != nil || more || len(page) != 1 || page[0].SHA256 != sum {
		t.Fatalf("list: got %+v, more %v, error %v; want only %s", page, more, err, sum)
	}
}
