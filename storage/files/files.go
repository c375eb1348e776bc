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

// Folders under the root. Their names start with a dot, so that they never
// collide with a shard directory (two hex digits).
const (
	tmpDir     = ".tmp"     // files being written, and folders being removed
	uploadsDir = ".uploads" // pending uploads in parts, one folder per sum
	thumbsDir  = ".thumbs"  // thumbnails, sharded like the photos
)

// Store is a storage.Photos in one directory. Safe for concurrent use.
type Store struct {
	dir string
	// locks serializes, per sum, the calls that change a pending upload
	// (keys "u/<sum>") or a photo's thumbnail (keys "t/<sum>").
	locks keyLocks
}

var _ storage.Photos = (*Store)(nil)

// Open opens the photo store rooted at dir, creating dir when missing, and
// removes the temporary files an interrupted write left behind. Pending
// uploads in parts are kept, to be resumed.
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
	for _, sub := range []string{uploadsDir, thumbsDir} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o750); err != nil {
			return nil, fmt.Errorf("files: open %s: %w", dir, err)
		}
	}
	return &Store{dir: dir}, nil
}

// Dir returns the store's root directory.
func (s *Store) Dir() string { return s.dir }

// path returns the object path of sum, which must be valid.
func (s *Store) path(sum string) string {
	return shardPath(s.dir, sum)
}

// shardPath returns the path of sum under root, two directory levels named
// by its first four digits.
func shardPath(root, sum string) string {
	return filepath.Join(root, sum[0:2], sum[2:4], sum)
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
	if err := mkdirs(s.dir, sum); err != nil {
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

// mkdirs creates the two directory levels of sum under root, fsyncing the
// parent of each directory it creates so that the new entry is durable.
func mkdirs(root, sum string) error {
	parent := root
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

// DeletePhoto removes a photo and its thumbnail (the thumbnail first, so
// that a crash never leaves a thumbnail without its photo), durably;
// deleting an absent photo is not an error. storage.ErrInvalid for a
// malformed sum. A reader that opened the photo before may finish reading
// it. A pending upload of the photo is left alone.
func (s *Store) DeletePhoto(ctx context.Context, sum string) error {
	if err := checkSum(sum); err != nil {
		return fmt.Errorf("files: delete %s: %w", sum, err)
	}
	unlock, err := s.locks.lock(ctx, "t/"+sum)
	if err != nil {
		return fmt.Errorf("files: delete %s: %w", sum, err)
	}
	defer unlock()
	for _, p := range []string{s.thumbPath(sum), s.path(sum)} {
		if err := removeFile(p); err != nil {
			return fmt.Errorf("files: delete %s: %w", sum, err)
		}
	}
	return nil
}

// removeFile removes the file p, if there, and fsyncs its directory.
func removeFile(p string) error {
	err := os.Remove(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return syncDir(filepath.Dir(p))
}

// writeFile writes data to a new file in .tmp, fsyncs it and renames it to
// path (replacing what was there), then fsyncs path's directory: readers
// see the old content or the new, never a part of it.
func (s *Store) writeFile(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Join(s.dir, tmpDir), "write-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return err
	}
	return syncDir(filepath.Dir(path))
}
