package minio

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/pairsync/pairsync/storage"
)

// MaxPresignExpiry is the longest a presigned URL may live.
const MaxPresignExpiry = 15 * time.Minute

func checkExpiry(expiry time.Duration) error {
	if expiry < time.Second || expiry > MaxPresignExpiry {
		return fmt.Errorf("expiry %v outside [1s, %v]: %w", expiry, MaxPresignExpiry, storage.ErrInvalid)
	}
	return nil
}

// PresignPart returns a PUT of exactly part n of the upload, for a device to
// send straight to MinIO until expiry (at most MaxPresignExpiry, whole
// seconds). The part number and upload id are in the signed query, and the
// part's length is a signed header (Header["Content-Length"]): MinIO
// refuses a body of another length. No network call: the upload is not
// checked (MinIO answers NoSuchUpload for an unknown one). storage.ErrInvalid
// for a malformed sum, a part out of range or a bad expiry;
// storage.ErrNotFound for an id this store never made, or an upload whose
// parts are already assembled (complete it).
func (s *Store) PresignPart(ctx context.Context, sum, id string, n int, expiry time.Duration) (storage.PresignedRequest, error) {
	req, err := s.presignPart(ctx, sum, id, n, expiry)
	if err != nil {
		return storage.PresignedRequest{}, fmt.Errorf("minio: presign part %d of %s: %w", n, sum, err)
	}
	return req, nil
}

func (s *Store) presignPart(ctx context.Context, sum, id string, n int, expiry time.Duration) (storage.PresignedRequest, error) {
	ref, err := parseID(sum, id)
	if err != nil {
		return storage.PresignedRequest{}, err
	}
	if ref.multipartID == "" {
		return storage.PresignedRequest{}, fmt.Errorf("upload %s holds every part already, complete it: %w", id, storage.ErrNotFound)
	}
	up := ref.upload()
	if n < 1 || n > up.Parts() {
		return storage.PresignedRequest{}, fmt.Errorf("part %d of %d: %w", n, up.Parts(), storage.ErrInvalid)
	}
	if err := checkExpiry(expiry); err != nil {
		return storage.PresignedRequest{}, err
	}
	length := strconv.FormatInt(up.PartLen(n), 10)
	query := url.Values{"partNumber": {strconv.Itoa(n)}, "uploadId": {ref.multipartID}}
	u, err := s.presigner.PresignHeader(ctx, http.MethodPut, s.bucket, ref.key, expiry, query,
		http.Header{"Content-Length": {length}})
	if err != nil {
		return storage.PresignedRequest{}, err
	}
	return storage.PresignedRequest{
		Method:    http.MethodPut,
		URL:       u.String(),
		Header:    map[string]string{"Content-Length": length},
		ExpiresAt: expiresAt(u, expiry),
	}, nil
}

// PresignGet returns a GET of the stored photo sum, for a device to fetch
// straight from MinIO until expiry (at most MaxPresignExpiry, whole
// seconds). No network call: MinIO answers 404 if the photo is absent.
// storage.ErrInvalid for a malformed sum or a bad expiry.
func (s *Store) PresignGet(ctx context.Context, sum string, expiry time.Duration) (storage.PresignedRequest, error) {
	if err := checkSum(sum); err != nil {
		return storage.PresignedRequest{}, fmt.Errorf("minio: presign get %s: %w", sum, err)
	}
	if err := checkExpiry(expiry); err != nil {
		return storage.PresignedRequest{}, fmt.Errorf("minio: presign get %s: %w", sum, err)
	}
	u, err := s.presigner.PresignedGetObject(ctx, s.bucket, sum, expiry, nil)
	if err != nil {
		return storage.PresignedRequest{}, fmt.Errorf("minio: presign get %s: %w", sum, err)
	}
	return storage.PresignedRequest{
		Method:    http.MethodGet,
		URL:       u.String(),
		ExpiresAt: expiresAt(u, expiry),
	}, nil
}

// expiresAt reads when a presigned URL expires: its signing time (whole
// seconds) plus its expiry (whole seconds).
func expiresAt(u *url.URL, expiry time.Duration) time.Time {
	signed, err := time.Parse("20060102T150405Z", u.Query().Get("X-Amz-Date"))
	if err != nil {
		signed = time.Now().UTC().Truncate(time.Second)
	}
	return signed.Add(expiry.Truncate(time.Second))
}
