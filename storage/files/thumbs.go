package files

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
)

// thumbPath returns the thumbnail path of sum, which must be valid.
func (s *Store) thumbPath(sum string) string {
	return shardPath(filepath.Join(s.dir, thumbsDir), sum)
}

// PutThumbnail stores (or replaces) the thumbnail of a stored photo,
// durably; it keeps no reference to data. storage.ErrNotFound when the
// photo is not stored, storage.ErrInvalid for a malformed sum.
func (s *Store) PutThumbnail(ctx context.Context, sum string, data []byte) error {
	if err := checkSum(sum); err != nil {
		return fmt.Errorf("files: put thumbnail %s: %w", sum, err)
	}
	// Under the lock DeletePhoto takes, so that no thumbnail outlives its
	// photo.
	unlock, err := s.locks.lock(ctx, "t/"+sum)
	if err != nil {
		return fmt.Errorf("files: put thumbnail %s: %w", sum, err)
	}
	defer unlock()
	if _, err := s.stat(sum); err != nil {
		return fmt.Errorf("files: put thumbnail %s: photo: %w", sum, err)
	}
	root := filepath.Join(s.dir, thumbsDir)
	if err := mkdirs(root, sum); err != nil {
		return fmt.Errorf("files: put thumbnail %s: %w", sum, err)
	}
	if err := s.writeFile(s.thumbPath(sum), data); err != nil {
		return fmt.Errorf("files: put thumbnail %s: %w", sum, err)
	}
	return nil
}

// Thumbnail returns the thumbnail of sum in a new slice the caller owns, or
// storage.ErrNotFound; storage.ErrInvalid for a malformed sum.
func (s *Store) Thumbnail(ctx context.Context, sum string) ([]byte, error) {
	if err := checkSum(sum); err != nil {
		return nil, fmt.Errorf("files: thumbnail %s: %w", sum, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("files: thumbnail %s: %w", sum, err)
	}
	data, err := os.ReadFile(s.thumbPath(sum))
	if err != nil {
		return nil, fmt.Errorf("files: thumbnail %s: %w", sum, notFound(err))
	}
	return data, nil
}
