package files

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"

	"github.com/pairsync/pairsync/storage"
)

// tmpDir is the folder of uploads in progress, under the root.
const tmpDir = ".tmp"

// Store is a storage.Photos in one directory. Safe for concurrent use.
type Store struct {
	dir string
}

var _ storage.Photos = (*Store)(nil)

// Open opens the photo store rooted at dir, creating dir when missing, and
// removes the temporary files an interrupted upload left behind.
func Open(dir string) (*Store, error) {
	if dir == "" {
		return nil, fmt.Errorf("files: open: empty directory: %w", storage.ErrInvalid)
	}
	tmp := filepath.Join(dir, tmpDir)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("files: open %s: %w", dir, err)
	}
	if err := os.RemoveAll(tmp); err != nil {
		return nil, fmt.Errorf("files: open %s: clean temporary files: %w", dir, err)
	}
	if err := os.Mkdir(tmp, 0o750); err != nil {
		return nil, fmt.Errorf("files: open %s: %w", dir, err)
	}
	return &Store{dir: dir}, nil
}

// Dir returns the store's root directory.
func (s *Store) Dir() string { return s.dir }

// path returns the object path of sum, which must be valid.
func (s *Store) path(sum string) string {
	return filepath.Join(s.dir, sum[0:2], sum[2:4], sum)
}

func checkSum(sum string) error {
	if !storage.ValidSHA256(sum) {
		return fmt.Errorf("malformed sha256 %.80q: %w", sum, storage.ErrInvalid)
	}
	return nil
}

// PutPhoto stores the bytes of r under sum, as storage.Photos documents. It
// reads at most size+1 bytes of r, never holding them all in memory.
// storage.ErrInvalid for a malformed sum or a negative size;
// storage.ErrTooLarge when r yields more than size bytes; storage.ErrMismatch
// when it yields fewer or they do not hash to sum; ctx's error when ctx is
// done while reading. Nothing is stored on error. When the photo is already
// stored, r is still read and verified, and the stored copy is kept.
func (s *Store) PutPhoto(ctx context.Context, sum string, size int64, r io.Reader) (storage.PhotoInfo, error) {
	info, err := s.put(ctx, sum, size, r)
	if err != nil {
		return storage.PhotoInfo{}, fmt.Errorf("files: put %s: %w", sum, err)
	}
	return info, nil
}

func (s *Store) put(ctx context.Context, sum string, size int64, r io.Reader) (storage.PhotoInfo, error) {
	if err := checkSum(sum); err != nil {
		return storage.PhotoInfo{}, err
	}
	if size < 0 {
		return storage.PhotoInfo{}, fmt.Errorf("negative size %d: %w", size, storage.ErrInvalid)
	}
	if err := ctx.Err(); err != nil {
		return storage.PhotoInfo{}, err
	}
	final := s.path(sum)
	if fi, err := os.Stat(final); err == nil {
		// Already stored: verify the upload, keep the stored copy.
		if err := copyVerified(ctx, io.Discard, sum, size, r); err != nil {
			return storage.PhotoInfo{}, err
		}
		return info(sum, fi), nil
	}

	f, err := os.CreateTemp(filepath.Join(s.dir, tmpDir), "put-*")
	if err != nil {
		return storage.PhotoInfo{}, err
	}
	tmp := f.Name()
	done := false
	defer func() {
		if !done {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	if err := copyVerified(ctx, f, sum, size, r); err != nil {
		return storage.PhotoInfo{}, err
	}
	if err := f.Sync(); err != nil {
		return storage.PhotoInfo{}, err
	}
	if err := f.Close(); err != nil {
		return storage.PhotoInfo{}, err
	}
	if err := s.mkdirs(sum); err != nil {
		return storage.PhotoInfo{}, err
	}
	if err := os.Rename(tmp, final); err != nil {
		return storage.PhotoInfo{}, err
	}
	done = true
	if err := syncDir(filepath.Dir(final)); err != nil {
		return storage.PhotoInfo{}, err
	}
	return s.stat(sum)
}

// copyVerified copies exactly size bytes of r to w, reading at most size+1,
// and checks that they hash to sum.
func copyVerified(ctx context.Context, w io.Writer, sum string, size int64, r io.Reader) error {
	h := sha256.New()
	limit := size + 1
	if size == math.MaxInt64 {
		limit = size
	}
	n, err := io.CopyBuffer(io.MultiWriter(w, h), io.LimitReader(ctxReader{ctx, r}, limit), make([]byte, 64<<10))
	if err != nil {
		return fmt.Errorf("read upload: %w", err)
	}
	if n > size {
		return fmt.Errorf("more than the declared %d bytes: %w", size, storage.ErrTooLarge)
	}
	if n < size {
		return fmt.Errorf("got %d bytes, declared %d: %w", n, size, storage.ErrMismatch)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != sum {
		return fmt.Errorf("content hashes to %s: %w", got, storage.ErrMismatch)
	}
	return nil
}

// ctxReader fails reads once ctx is done.
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

// mkdirs creates the two directory levels of sum, fsyncing the parent of
// each directory it creates so that the new entry is durable.
func (s *Store) mkdirs(sum string) error {
	parent := s.dir
	for _, name := range []string{sum[0:2], sum[2:4]} {
		dir := filepath.Join(parent, name)
		err := os.Mkdir(dir, 0o750)
		switch {
		case err == nil:
			if err := syncDir(parent); err != nil {
				return err
			}
		case !errors.Is(err, fs.ErrExist):
			return err
		}
		parent = dir
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}

// OpenPhoto opens a stored photo for reading; the caller closes it.
// storage.ErrNotFound if absent, storage.ErrInvalid for a malformed sum.
func (s *Store) OpenPhoto(ctx context.Context, sum string) (io.ReadCloser, storage.PhotoInfo, error) {
	if err := checkSum(sum); err != nil {
		return nil, storage.PhotoInfo{}, fmt.Errorf("files: open %s: %w", sum, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, storage.PhotoInfo{}, fmt.Errorf("files: open %s: %w", sum, err)
	}
	f, err := os.Open(s.path(sum))
	if err != nil {
		return nil, storage.PhotoInfo{}, fmt.Errorf("files: open %s: %w", sum, notFound(err))
	}
	fi, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, storage.PhotoInfo{}, fmt.Errorf("files: open %s: %w", sum, err)
	}
	return f, info(sum, fi), nil
}

// StatPhoto describes a stored photo (StoredAt is when its file was
// written), or returns storage.ErrNotFound; storage.ErrInvalid for a
// malformed sum.
func (s *Store) StatPhoto(ctx context.Context, sum string) (storage.PhotoInfo, error) {
	if err := checkSum(sum); err != nil {
		return storage.PhotoInfo{}, fmt.Errorf("files: stat %s: %w", sum, err)
	}
	if err := ctx.Err(); err != nil {
		return storage.PhotoInfo{}, fmt.Errorf("files: stat %s: %w", sum, err)
	}
	pi, err := s.stat(sum)
	if err != nil {
		return storage.PhotoInfo{}, fmt.Errorf("files: stat %s: %w", sum, err)
	}
	return pi, nil
}

func (s *Store) stat(sum string) (storage.PhotoInfo, error) {
	fi, err := os.Stat(s.path(sum))
	if err != nil {
		return storage.PhotoInfo{}, notFound(err)
	}
	return info(sum, fi), nil
}

func info(sum string, fi fs.FileInfo) storage.PhotoInfo {
	return storage.PhotoInfo{SHA256: sum, Size: fi.Size(), StoredAt: fi.ModTime().UTC()}
}

// notFound adds storage.ErrNotFound to a missing-file error.
func notFound(err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w (%v)", storage.ErrNotFound, err)
	}
	return err
}

// DeletePhoto removes a photo, durably; deleting an absent photo is not an
// error. storage.ErrInvalid for a malformed sum. A reader that opened the
// photo before may finish reading it.
func (s *Store) DeletePhoto(ctx context.Context, sum string) error {
	if err := checkSum(sum); err != nil {
		return fmt.Errorf("files: delete %s: %w", sum, err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("files: delete %s: %w", sum, err)
	}
	p := s.path(sum)
	err := os.Remove(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err == nil {
		err = syncDir(filepath.Dir(p))
	}
	if err != nil {
		return fmt.Errorf("files: delete %s: %w", sum, err)
	}
	return nil
}
