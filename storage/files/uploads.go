package files

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pairsync/pairsync/storage"
)

// PartSize is the size of every part of an upload but the last: 1 MiB,
// whatever the photo's size. A phone on a poor connection loses at most
// that much when an upload is cut off.
const PartSize = 1 << 20

// headSize is how many first bytes of a photo CompleteUpload gives check.
const headSize = 64 << 10

// Names inside an upload folder.
const (
	metaFile   = "upload.json"
	partSuffix = ".part" // part n is "<n>.part"
)

// uploadMeta is the upload.json of a pending upload.
type uploadMeta struct {
	Size     int64     `json:"size"`
	PartSize int64     `json:"part_size"`
	Started  time.Time `json:"started"`
}

func (m uploadMeta) upload(sum string) storage.Upload {
	return storage.Upload{SHA256: sum, ID: sum, Size: m.Size, PartSize: m.PartSize, Started: m.Started}
}

func (m uploadMeta) same(o uploadMeta) bool {
	return m.Size == o.Size && m.PartSize == o.PartSize && m.Started.Equal(o.Started)
}

var (
	// errNoUpload: the upload folder, or its upload.json, is absent.
	errNoUpload = fmt.Errorf("no pending upload: %w", storage.ErrNotFound)
	// errCorrupt: an upload.json that does not parse (never written by
	// this package, which renames it into place whole).
	errCorrupt = errors.New("corrupt " + metaFile)
)

// uploadDir returns the folder of the pending upload of sum.
func (s *Store) uploadDir(sum string) string {
	return filepath.Join(s.dir, uploadsDir, sum)
}

func (s *Store) partPath(sum string, n int) string {
	return filepath.Join(s.uploadDir(sum), strconv.Itoa(n)+partSuffix)
}

// readMeta reads the upload.json of sum: errNoUpload when absent, another
// error when unreadable or corrupt.
func (s *Store) readMeta(sum string) (uploadMeta, error) {
	b, err := os.ReadFile(filepath.Join(s.uploadDir(sum), metaFile))
	if errors.Is(err, fs.ErrNotExist) {
		return uploadMeta{}, errNoUpload
	}
	if err != nil {
		return uploadMeta{}, err
	}
	var m uploadMeta
	if err := json.Unmarshal(b, &m); err != nil || m.Size <= 0 || m.PartSize <= 0 {
		return uploadMeta{}, fmt.Errorf("upload of %s: %w (%v)", sum, errCorrupt, err)
	}
	return m, nil
}

// done lists the parts of u on disk, ascending; a file of the wrong length
// (never written by PutPart) does not count.
func (s *Store) done(u storage.Upload) ([]storage.Part, error) {
	entries, err := os.ReadDir(s.uploadDir(u.SHA256))
	if err != nil {
		return nil, err
	}
	var parts []storage.Part
	for _, e := range entries {
		n, err := strconv.Atoi(strings.TrimSuffix(e.Name(), partSuffix))
		if !strings.HasSuffix(e.Name(), partSuffix) || err != nil || n < 1 || n > u.Parts() {
			continue
		}
		fi, err := e.Info()
		if err != nil || fi.Size() != u.PartLen(n) {
			continue
		}
		parts = append(parts, storage.Part{Number: n, Size: fi.Size()})
	}
	slices.SortFunc(parts, func(a, b storage.Part) int { return a.Number - b.Number })
	return parts, nil
}

// drop removes the pending upload of sum, if any: it moves the folder into
// .tmp in one rename (so that a crash leaves the whole upload or none of it;
// Open empties .tmp), then deletes it. The caller holds the upload's lock.
func (s *Store) drop(sum string) error {
	dir := s.uploadDir(sum)
	if _, err := os.Lstat(dir); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	trash, err := os.MkdirTemp(filepath.Join(s.dir, tmpDir), "drop-*")
	if err != nil {
		return err
	}
	if err := os.Rename(dir, filepath.Join(trash, sum)); err != nil {
		_ = os.Remove(trash)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	if err := syncDir(filepath.Join(s.dir, uploadsDir)); err != nil {
		return err
	}
	return os.RemoveAll(trash)
}

// BeginUpload starts the upload of a photo of size bytes in parts of
// PartSize, or returns the pending upload of sum with the parts it holds;
// a pending upload of another size is dropped and started afresh. The ID of
// an upload is its sum: one pending upload per photo, shared by every
// client that uploads it. storage.ErrExists when the photo is stored (a
// pending upload of it, left by a crash at the end of CompleteUpload, is
// dropped then); storage.ErrInvalid for a malformed sum or size ≤ 0.
//
// The upload is durable when BeginUpload returns, and survives a restart.
func (s *Store) BeginUpload(ctx context.Context, sum string, size int64) (storage.Upload, error) {
	u, err := s.begin(ctx, sum, size)
	if err != nil {
		return storage.Upload{}, fmt.Errorf("files: begin upload %s: %w", sum, err)
	}
	return u, nil
}

func (s *Store) begin(ctx context.Context, sum string, size int64) (storage.Upload, error) {
	if err := checkSum(sum); err != nil {
		return storage.Upload{}, err
	}
	if size <= 0 {
		return storage.Upload{}, fmt.Errorf("size %d: %w", size, storage.ErrInvalid)
	}
	unlock, err := s.locks.lock(ctx, "u/"+sum)
	if err != nil {
		return storage.Upload{}, err
	}
	defer unlock()
	if _, err := os.Stat(s.path(sum)); err == nil {
		if err := s.drop(sum); err != nil {
			return storage.Upload{}, err
		}
		return storage.Upload{}, fmt.Errorf("photo stored: %w", storage.ErrExists)
	}
	m, err := s.readMeta(sum)
	switch {
	case err == nil && m.Size == size:
		u := m.upload(sum)
		if u.Done, err = s.done(u); err != nil {
			return storage.Upload{}, err
		}
		return u, nil
	case err == nil || errors.Is(err, errCorrupt):
		// Another size, or a corrupt upload.json: start afresh.
		if err := s.drop(sum); err != nil {
			return storage.Upload{}, err
		}
	case !errors.Is(err, errNoUpload):
		return storage.Upload{}, err
	}

	// A new upload: its folder, with its upload.json, is made in .tmp and
	// renamed into place, so that it appears whole.
	m = uploadMeta{Size: size, PartSize: PartSize, Started: time.Now().UTC()}
	b, err := json.Marshal(m)
	if err != nil {
		return storage.Upload{}, err
	}
	tmp, err := os.MkdirTemp(filepath.Join(s.dir, tmpDir), "begin-*")
	if err != nil {
		return storage.Upload{}, err
	}
	if err := s.writeFile(filepath.Join(tmp, metaFile), b); err != nil {
		_ = os.RemoveAll(tmp)
		return storage.Upload{}, err
	}
	if err := os.Rename(tmp, s.uploadDir(sum)); err != nil {
		_ = os.RemoveAll(tmp)
		return storage.Upload{}, err
	}
	if err := syncDir(filepath.Join(s.dir, uploadsDir)); err != nil {
		return storage.Upload{}, err
	}
	return m.upload(sum), nil
}

// PutPart stores part n of the pending upload of sum from r, reading at most
// the part's length plus one byte, durably, replacing the part if it was
// there. storage.ErrMismatch when r yields another length (nothing stored;
// the upload is kept); storage.ErrNotFound for an unknown upload, including
// one dropped or restarted while the part was read; storage.ErrInvalid for a
// malformed sum or a part number out of range; ctx's error when ctx is done
// while reading.
//
// The part is read into a file in .tmp, fsync'd, then renamed into the
// upload's folder: a part is there whole or not at all.
func (s *Store) PutPart(ctx context.Context, sum, uploadID string, n int, r io.Reader) error {
	if err := s.putPart(ctx, sum, uploadID, n, r); err != nil {
		return fmt.Errorf("files: put part %d of %s: %w", n, sum, err)
	}
	return nil
}

func (s *Store) putPart(ctx context.Context, sum, uploadID string, n int, r io.Reader) error {
	if err := checkSum(sum); err != nil {
		return err
	}
	if n < 1 {
		return fmt.Errorf("part number %d: %w", n, storage.ErrInvalid)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if uploadID != sum {
		return fmt.Errorf("upload %.80q: %w", uploadID, errNoUpload)
	}
	m, err := s.readMeta(sum)
	if err != nil {
		return err
	}
	u := m.upload(sum)
	if n > u.Parts() {
		return fmt.Errorf("part number %d of %d: %w", n, u.Parts(), storage.ErrInvalid)
	}
	want := u.PartLen(n)

	f, err := os.CreateTemp(filepath.Join(s.dir, tmpDir), "part-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	placed := false
	defer func() {
		if !placed {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	got, err := io.CopyBuffer(f, io.LimitReader(ctxReader{ctx, r}, want+1), make([]byte, 64<<10))
	if err != nil {
		return fmt.Errorf("read part: %w", err)
	}
	if got != want {
		if got > want {
			return fmt.Errorf("more than the part's %d bytes: %w", want, storage.ErrMismatch)
		}
		return fmt.Errorf("got %d bytes, want the part's %d: %w", got, want, storage.ErrMismatch)
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}

	unlock, err := s.locks.lock(ctx, "u/"+sum)
	if err != nil {
		return err
	}
	defer unlock()
	now, err := s.readMeta(sum)
	if err != nil {
		return err
	}
	if !now.same(m) {
		return fmt.Errorf("upload restarted while the part was sent: %w", errNoUpload)
	}
	if err := os.Rename(tmp, s.partPath(sum, n)); err != nil {
		return err
	}
	placed = true
	return syncDir(s.uploadDir(sum))
}

// CompleteUpload assembles the parts of the pending upload of sum, in order,
// and stores the photo as PutPhoto does (checking its size and hash; a
// photo stored meanwhile is verified and kept), calling check first with
// the photo's first min(size, 64 KiB) bytes (check must not keep the slice;
// a nil check accepts everything). The pending upload is dropped once the
// photo is stored or refused.
//
// storage.ErrMismatch when the bytes do not hash to sum or check refuses
// them (check's error wrapped); nothing is stored then. storage.ErrIncomplete
// while parts are missing, and storage.ErrNotFound for an unknown upload
// (one completed or dropped already): nothing is dropped then, nor on
// another error (ctx done, I/O), after which the call may be repeated.
// storage.ErrInvalid for a malformed sum.
//
// The parts stream through a 64 KiB buffer, one part file open at a time:
// memory stays flat whatever the size. A crash leaves the photo whole or
// absent, and the upload pending until the next BeginUpload or clean-up.
func (s *Store) CompleteUpload(ctx context.Context, sum, uploadID string, check func(head []byte) error) (storage.PhotoInfo, error) {
	info, err := s.complete(ctx, sum, uploadID, check)
	if err != nil {
		return storage.PhotoInfo{}, fmt.Errorf("files: complete upload %s: %w", sum, err)
	}
	return info, nil
}

func (s *Store) complete(ctx context.Context, sum, uploadID string, check func(head []byte) error) (storage.PhotoInfo, error) {
	if err := checkSum(sum); err != nil {
		return storage.PhotoInfo{}, err
	}
	if uploadID != sum {
		return storage.PhotoInfo{}, fmt.Errorf("upload %.80q: %w", uploadID, errNoUpload)
	}
	unlock, err := s.locks.lock(ctx, "u/"+sum)
	if err != nil {
		return storage.PhotoInfo{}, err
	}
	defer unlock()
	m, err := s.readMeta(sum)
	if err != nil {
		return storage.PhotoInfo{}, err
	}
	u := m.upload(sum)
	done, err := s.done(u)
	if err != nil {
		return storage.PhotoInfo{}, err
	}
	if missing := missingParts(u, done); len(missing) > 0 {
		return storage.PhotoInfo{}, fmt.Errorf("%d of %d parts missing (%s): %w",
			len(missing), u.Parts(), brief(missing), storage.ErrIncomplete)
	}

	parts := &partsReader{s: s, u: u, next: 1}
	defer parts.Close()
	br := bufio.NewReaderSize(parts, headSize)
	head, err := br.Peek(int(min(u.Size, headSize)))
	if err != nil {
		return storage.PhotoInfo{}, fmt.Errorf("read parts: %w", err)
	}
	if check != nil {
		if err := check(head); err != nil {
			return storage.PhotoInfo{}, errors.Join(
				fmt.Errorf("refused: %w: %w", storage.ErrMismatch, err), s.drop(sum))
		}
	}
	info, err := s.put(ctx, sum, u.Size, br)
	switch {
	case errors.Is(err, storage.ErrMismatch) || errors.Is(err, storage.ErrTooLarge):
		// ErrTooLarge cannot happen (the parts add up to the size); read as
		// the mismatch it would be.
		if !errors.Is(err, storage.ErrMismatch) {
			err = fmt.Errorf("%w: %w", storage.ErrMismatch, err)
		}
		return storage.PhotoInfo{}, errors.Join(err, s.drop(sum))
	case err != nil:
		return storage.PhotoInfo{}, err
	}
	if err := s.drop(sum); err != nil {
		return storage.PhotoInfo{}, fmt.Errorf("photo stored, but: %w", err)
	}
	return info, nil
}

// missingParts returns the numbers of u's parts not in done.
func missingParts(u storage.Upload, done []storage.Part) []int {
	var missing []int
	have := 0
	for n := 1; n <= u.Parts(); n++ {
		if have < len(done) && done[have].Number == n {
			have++
			continue
		}
		missing = append(missing, n)
	}
	return missing
}

// brief renders part numbers, the first few of them.
func brief(ns []int) string {
	var b strings.Builder
	for i, n := range ns {
		if i == 8 {
			fmt.Fprintf(&b, " …")
			break
		}
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(strconv.Itoa(n))
	}
	return b.String()
}

// partsReader reads the parts of an upload in order, one file open at a
// time. A part shorter or longer than its length is an error (a part file
// changed under the lock that CompleteUpload holds).
type partsReader struct {
	s    *Store
	u    storage.Upload
	next int      // number of the part to open next
	f    *os.File // the part being read, or nil
	left int64    // bytes of f still expected
}

func (p *partsReader) Read(b []byte) (int, error) {
	for {
		if p.f == nil {
			if p.next > p.u.Parts() {
				return 0, io.EOF
			}
			f, err := os.Open(p.s.partPath(p.u.SHA256, p.next))
			if err != nil {
				return 0, err
			}
			p.f, p.left = f, p.u.PartLen(p.next)
			p.next++
		}
		if p.left == 0 {
			var one [1]byte
			if n, _ := p.f.Read(one[:]); n > 0 {
				return 0, fmt.Errorf("part %d grew", p.next-1)
			}
			err := p.f.Close()
			p.f = nil
			if err != nil {
				return 0, err
			}
			continue
		}
		if int64(len(b)) > p.left {
			b = b[:p.left]
		}
		n, err := p.f.Read(b)
		p.left -= int64(n)
		if err == io.EOF {
			if p.left > 0 {
				return n, fmt.Errorf("part %d shrank: %w", p.next-1, io.ErrUnexpectedEOF)
			}
			err = nil
		}
		return n, err
	}
}

// Close closes the part file being read, if any.
func (p *partsReader) Close() error {
	if p.f == nil {
		return nil
	}
	err := p.f.Close()
	p.f = nil
	return err
}

// Uploads lists the pending uploads started before startedBefore, in sum
// order, with the parts they hold. An upload whose upload.json is corrupt
// is listed with Started zero (so that clean-up drops it) and Size 0.
// Safe to call while uploads go on: one that ends meanwhile may be listed
// or not.
func (s *Store) Uploads(ctx context.Context, startedBefore time.Time) ([]storage.Upload, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("files: uploads: %w", err)
	}
	entries, err := os.ReadDir(filepath.Join(s.dir, uploadsDir))
	if err != nil {
		return nil, fmt.Errorf("files: uploads: %w", err)
	}
	var out []storage.Upload
	for _, e := range entries {
		sum := e.Name()
		if !e.IsDir() || !storage.ValidSHA256(sum) {
			continue
		}
		m, err := s.readMeta(sum)
		switch {
		case errors.Is(err, errNoUpload):
			continue // dropped since the listing
		case errors.Is(err, errCorrupt):
			out = append(out, storage.Upload{SHA256: sum, ID: sum})
			continue
		case err != nil:
			return nil, fmt.Errorf("files: uploads: %w", err)
		case !m.Started.Before(startedBefore):
			continue
		}
		u := m.upload(sum)
		u.Done, err = s.done(u)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("files: uploads: %s: %w", sum, err)
		}
		out = append(out, u)
	}
	return out, nil
}

// AbortUpload drops the pending upload of sum and its parts, durably; an
// absent upload (or an ID not naming the upload of sum) is not an error.
// storage.ErrInvalid for a malformed sum.
func (s *Store) AbortUpload(ctx context.Context, sum, uploadID string) error {
	if err := checkSum(sum); err != nil {
		return fmt.Errorf("files: abort upload %s: %w", sum, err)
	}
	if uploadID != sum {
		return nil
	}
	unlock, err := s.locks.lock(ctx, "u/"+sum)
	if err != nil {
		return fmt.Errorf("files: abort upload %s: %w", sum, err)
	}
	defer unlock()
	if err := s.drop(sum); err != nil {
		return fmt.Errorf("files: abort upload %s: %w", sum, err)
	}
	return nil
}
