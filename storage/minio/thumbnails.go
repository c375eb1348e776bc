package minio

import (
	"bytes"
	"context"
	"fmt"
	"io"

	s3 "github.com/minio/minio-go/v7"

	"github.com/pairsync/pairsync/storage"
)

// MaxThumbnailSize bounds a thumbnail (they are a few KiB).
const MaxThumbnailSize = 1 << 20

// PutThumbnail stores the thumbnail of a stored photo under thumbs/<sum>,
// replacing any earlier one. storage.ErrNotFound when the photo is not
// stored, storage.ErrTooLarge above MaxThumbnailSize, storage.ErrInvalid for
// a malformed sum.
func (s *Store) PutThumbnail(ctx context.Context, sum string, data []byte) error {
	if err := s.putThumbnail(ctx, sum, data); err != nil {
		return fmt.Errorf("minio: put thumbnail %s: %w", sum, err)
	}
	return nil
}

func (s *Store) putThumbnail(ctx context.Context, sum string, data []byte) error {
	if err := checkSum(sum); err != nil {
		return err
	}
	if len(data) > MaxThumbnailSize {
		return fmt.Errorf("%d bytes, over the limit of %d: %w", len(data), MaxThumbnailSize, storage.ErrTooLarge)
	}
	if _, err := s.stat(ctx, sum); err != nil {
		return fmt.Errorf("photo: %w", err)
	}
	c := s.call(ctx)
	defer c.end()
	// A byte slice is seekable: the SDK may retry it.
	_, err := s.client.PutObject(c.ctx, s.bucket, thumbKey(sum), bytes.NewReader(data), int64(len(data)),
		s3.PutObjectOptions{ContentType: "application/octet-stream"})
	return c.err(err)
}

// Thumbnail returns the thumbnail of sum, or storage.ErrNotFound.
// storage.ErrInvalid for a malformed sum. The caller owns the slice.
func (s *Store) Thumbnail(ctx context.Context, sum string) ([]byte, error) {
	b, err := s.thumbnail(ctx, sum)
	if err != nil {
		return nil, fmt.Errorf("minio: thumbnail %s: %w", sum, err)
	}
	return b, nil
}

func (s *Store) thumbnail(ctx context.Context, sum string) ([]byte, error) {
	if err := checkSum(sum); err != nil {
		return nil, err
	}
	c := s.call(ctx)
	defer c.end()
	rc, obj, _, err := s.core.GetObject(c.ctx, s.bucket, thumbKey(sum), s3.GetObjectOptions{})
	if err != nil {
		return nil, c.err(err)
	}
	defer rc.Close()
	if obj.Size > MaxThumbnailSize {
		return nil, fmt.Errorf("stored thumbnail of %d bytes, over the limit of %d: %w", obj.Size, MaxThumbnailSize, storage.ErrTooLarge)
	}
	b, err := io.ReadAll(io.LimitReader(rc, MaxThumbnailSize+1))
	if err != nil {
		return nil, c.err(err)
	}
	return b, nil
}
