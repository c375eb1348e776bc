package files

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/pairsync/pairsync/storage"
)

// defaultListLimit is ListPhotos' page size when the caller gives none.
const defaultListLimit = 1000

// ListPhotos lists stored photos in sum order, after the given sum ("" =
// from the start), at most limit (≤ 0: 1,000) per call; more reports
// whether photos after the last one exist. storage.ErrInvalid when after is
// neither "" nor a valid sum (it need not be stored).
//
// It walks the shard directories in order, starting at after's, and holds
// one directory listing at a time, never every name in the store. A photo
// stored or deleted during the walk may or may not be listed.
func (s *Store) ListPhotos(ctx context.Context, after string, limit int) ([]storage.PhotoInfo, bool, error) {
	if after != "" {
		if err := checkSum(after); err != nil {
			return nil, false, fmt.Errorf("files: list after %s: %w", after, err)
		}
	}
	if limit <= 0 {
		limit = defaultListLimit
	}
	var (
		out  []storage.PhotoInfo
		more bool
	)
	err := s.walk(ctx, after, func(pi storage.PhotoInfo) bool {
		if len(out) == limit {
			more = true
			return false
		}
		out = append(out, pi)
		return true
	})
	if err != nil {
		return nil, false, fmt.Errorf("files: list after %q: %w", after, err)
	}
	return out, more, nil
}

// walk calls fn for each stored photo whose sum is greater than after, in
// sum order, until fn returns false.
func (s *Store) walk(ctx context.Context, after string, fn func(storage.PhotoInfo) bool) error {
	var a1, a2 string // after's shard directories, "" for none
	if after != "" {
		a1, a2 = after[0:2], after[2:4]
	}
	tops, err := shards(s.dir)
	if err != nil {
		return err
	}
	for _, d1 := range tops {
		if d1 < a1 {
			continue
		}
		subs, err := shards(filepath.Join(s.dir, d1))
		if err != nil {
			return err
		}
		for _, d2 := range subs {
			if d1 == a1 && d2 < a2 {
				continue
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			dir := filepath.Join(s.dir, d1, d2)
			entries, err := os.ReadDir(dir)
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				return err
			}
			for _, e := range entries {
				name := e.Name()
				if name <= after || !e.Type().IsRegular() || !storage.ValidSHA256(name) ||
					name[0:2] != d1 || name[2:4] != d2 {
					continue
				}
				fi, err := e.Info()
				if errors.Is(err, fs.ErrNotExist) {
					continue // deleted since the listing
				}
				if err != nil {
					return err
				}
				if !fn(info(name, fi)) {
					return nil
				}
			}
		}
	}
	return nil
}

// shards returns the names of the shard directories in dir (two lowercase
// hex digits), in order; the dot folders and anything else are skipped. A
// missing dir has none.
func shards(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir) // sorted by name
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if name := e.Name(); e.IsDir() && len(name) == 2 && isHex(name[0]) && isHex(name[1]) {
			out = append(out, name)
		}
	}
	return out, nil
}

func isHex(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' }
