package minio

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"

	s3 "github.com/minio/minio-go/v7"

	"github.com/pairsync/pairsync/storage"
)

// MaxPhotoSize is the largest photo the store takes: the most one S3 PUT,
// and one server-side copy, may carry (5 GiB).
const MaxPhotoSize = 5 << 30

// thumbKey returns the key of sum's thumbnail.
func thumbKey(sum string) string { return "thumbs/" + sum }

// PutPhoto stores the bytes of r under sum, as storage.Photos documents,
// streaming them: it reads at most size+1 bytes of r and never holds them
// all. storage.ErrInvalid for a malformed sum or a negative size,
// storage.ErrTooLarge when r yields more than size bytes (or size exceeds
// MaxPhotoSize), storage.ErrMismatch when it yields fewer or they do not
// hash to sum, storage.ErrUnavailable when MinIO does not answer. Nothing is
// stored on error. When the photo is already stored, r is read and verified
// and the stored copy kept.
func (s *Store) PutPhoto(ctx context.Context, sum string, size int64, r io.Reader) (storage.PhotoInfo, error) {
	info, err := s.put(ctx, sum, size, r)
	if err != nil {
		return storage.PhotoInfo{}, fmt.Errorf("minio: put %s: %w", sum, err)
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
	if size > MaxPhotoSize {
		return storage.PhotoInfo{}, fmt.Errorf("size %d over the limit of %d: %w", size, int64(MaxPhotoSize), storage.ErrTooLarge)
	}
	stored, err := s.stat(ctx, sum)
	switch {
	case err == nil:
		// Already stored: verify the upload, keep the stored copy.
		c := s.call(ctx)
		defer c.end()
		if err := readVerified(c, r, size, sha256.New(), sum); err != nil {
			return storage.PhotoInfo{}, err
		}
		return stored, nil
	case !errors.Is(err, storage.ErrNotFound):
		return storage.PhotoInfo{}, err
	}

	c := s.call(ctx)
	defer c.end()
	b := &body{r: r, c: c, size: size, h: sha256.New(), want: sum, excess: storage.ErrTooLarge}
	var data io.Reader = b
	if size == 0 {
		// The SDK sends no body at all: check r here.
		if err := b.finish(); err != nil {
			return storage.PhotoInfo{}, err
		}
		data = bytes.NewReader(nil)
	}
	// The declared hash is the signed payload hash, which MinIO checks
	// before it commits the object (not the SDK's per-chunk signature,
	// which would hash the body a second time).
	_, err = s.core.PutObject(c.ctx, s.bucket, sum, data, size, "", sum, s3.PutObjectOptions{
		DisableContentSha256: true,
		ContentType:          "application/octet-stream",
	})
	if err := b.verdict(c.err(err)); err != nil {
		return storage.PhotoInfo{}, err
	}
	c.end()
	return s.stat(ctx, sum)
}

// OpenPhoto opens a stored photo for reading; the caller closes it.
// storage.ErrNotFound if absent, storage.ErrInvalid for a malformed sum. A
// read that MinIO keeps waiting for OpTimeout fails with
// storage.ErrUnavailable; the caller may take its time between reads.
func (s *Store) OpenPhoto(ctx context.Context, sum string) (io.ReadCloser, storage.PhotoInfo, error) {
	if err := checkSum(sum); err != nil {
		return nil, storage.PhotoInfo{}, fmt.Errorf("minio: open %s: %w", sum, err)
	}
	c := s.call(ctx)
	rc, obj, _, err := s.core.GetObject(c.ctx, s.bucket, sum, s3.GetObjectOptions{})
	if err != nil {
		err = c.err(err)
		c.end()
		return nil, storage.PhotoInfo{}, fmt.Errorf("minio: open %s: %w", sum, err)
	}
	c.pause()
	return &objectReader{rc: rc, c: c, what: sum}, info(sum, obj), nil
}

// StatPhoto describes a stored photo (StoredAt is when it was written), or
// returns storage.ErrNotFound; storage.ErrInvalid for a malformed sum.
func (s *Store) StatPhoto(ctx context.Context, sum string) (storage.PhotoInfo, error) {
	if err := checkSum(sum); err != nil {
		return storage.PhotoInfo{}, fmt.Errorf("minio: stat %s: %w", sum, err)
	}
	info, err := s.stat(ctx, sum)
	if err != nil {
		return storage.PhotoInfo{}, fmt.Errorf("minio: stat %s: %w", sum, err)
	}
	return info, nil
}

func (s *Store) stat(ctx context.Context, sum string) (storage.PhotoInfo, error) {
	c := s.call(ctx)
	defer c.end()
	obj, err := s.client.StatObject(c.ctx, s.bucket, sum, s3.StatObjectOptions{})
	if err != nil {
		return storage.PhotoInfo{}, c.err(err)
	}
	return info(sum, obj), nil
}

func info(sum string, obj s3.ObjectInfo) storage.PhotoInfo {
	return storage.PhotoInfo{SHA256: sum, Size: obj.Size, StoredAt: obj.LastModified.UTC()}
}

// DeletePhoto removes a photo and its thumbnail; deleting an absent photo
// is not an error. storage.ErrInvalid for a malformed sum.
func (s *Store) DeletePhoto(ctx context.Context, sum string) error {
	if err := checkSum(sum); err != nil {
		return fmt.Errorf("minio: delete %s: %w", sum, err)
	}
	for _, key := range []string{sum, thumbKey(sum)} {
		if err := s.remove(ctx, key); err != nil {
			return fmt.Errorf("minio: delete %s: %w", key, err)
		}
	}
	return nil
}

// remove deletes an object; an absent one is not an error.
func (s *Store) remove(ctx context.Context, key string) error {
	c := s.call(ctx)
	defer c.end()
	return c.err(s.client.RemoveObject(c.ctx, s.bucket, key, s3.RemoveObjectOptions{}))
}

// ListPhotos lists stored photos in sum order after the given sum ("" = from
// the start), at most limit (≤ 0: 1,000) per call; more reports whether
// photos after the last one exist. Only top-level keys that are SHA-256s
// count: thumbnails and uploads live under prefixes. storage.ErrInvalid for
// an after that is neither "" nor a valid sum.
func (s *Store) ListPhotos(ctx context.Context, after string, limit int) ([]storage.PhotoInfo, bool, error) {
	if after != "" {
		if err := checkSum(after); err != nil {
			return nil, false, fmt.Errorf("minio: list photos: after: %w", err)
		}
	}
	if limit <= 0 {
		limit = 1000
	}
	c := s.call(ctx)
	defer c.end()
	var photos []storage.PhotoInfo
	for obj := range s.client.ListObjectsIter(c.ctx, s.bucket, s3.ListObjectsOptions{
		StartAfter: after,
		MaxKeys:    min(limit+1, 1000),
	}) {
		if obj.Err != nil {
			return nil, false, fmt.Errorf("minio: list photos after %.12q: %w", after, c.err(obj.Err))
		}
		c.resume() // a page came: progress
		if !storage.ValidSHA256(obj.Key) {
			// "incoming/", "thumbs/": the hex keys all sort before them.
			continue
		}
		if len(photos) == limit {
			return photos, true, nil
		}
		photos = append(photos, info(obj.Key, obj))
	}
	return photos, false, nil
}
