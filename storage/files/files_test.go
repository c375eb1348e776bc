package files_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"

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

// pattern yields n bytes of a repeating pattern without holding them.
type pattern struct{ left int64 }

func (p *pattern) Read(b []byte) (int, error) {
	if p.left == 0 {
		return 0, io.EOF
	}
	if int64(len(b)) > p.left {
		b = b[:p.left]
	}
	for i := range b {
		b[i] = byte(i)
	}
	p.left -= int64(len(b))
	return len(b), nil
}

// TestPutStreams checks that a put does not hold the photo in memory: a
// 32 MiB upload allocates well under its size.
func TestPutStreams(t *testing.T) {
	const size = 32 << 20
	h := sha256.New()
	if _, err := io.Copy(h, &pattern{left: size}); err != nil {
		t.Fatal(err)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	s := openTemp(t)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	if _, err := s.PutPhoto(t.Context(), sum, size, &pattern{left: size}); err != nil {
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
