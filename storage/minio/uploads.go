package minio

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	s3 "github.com/minio/minio-go/v7"

	"github.com/pairsync/pairsync/storage"
)

// PartSize is the size of every part of an upload but the last: the S3
// minimum.
const PartSize = 5 << 20

// headSize is how many first bytes CompleteUpload's check is given.
const headSize = 64 << 10

const incomingPrefix = "incoming/"

// incomingKey returns the key of the pending uploads of sum declared size
// bytes long.
func incomingKey(sum string, size int64) string {
	return incomingPrefix + sum + "/" + strconv.FormatInt(size, 10)
}

// parseIncomingKey is the inverse of incomingKey.
func parseIncomingKey(key string) (sum string, size int64, ok bool) {
	rest, ok := strings.CutPrefix(key, incomingPrefix)
	if !ok {
		return "", 0, false
	}
	sum, sizeText, ok := strings.Cut(rest, "/")
	if !ok || !storage.ValidSHA256(sum) {
		return "", 0, false
	}
	size, err := strconv.ParseInt(sizeText, 10, 64)
	if err != nil || size <= 0 || strconv.FormatInt(size, 10) != sizeText {
		return "", 0, false
	}
	return sum, size, true
}

// uploadID names an upload: "<size>.<multipart upload id>", or "<size>."
// for parts already assembled into the incoming object.
func uploadID(size int64, multipartID string) string {
	return strconv.FormatInt(size, 10) + "." + multipartID
}

// ref is a parsed upload id.
type ref struct {
	sum         string
	size        int64
	multipartID string // "": assembled
	key         string
}

func (r ref) upload() storage.Upload {
	return storage.Upload{SHA256: r.sum, ID: uploadID(r.size, r.multipartID), Size: r.size, PartSize: PartSize}
}

// parseID reads an upload id; storage.ErrNotFound (an upload this store
// never named) when malformed.
func parseID(sum, id string) (ref, error) {
	if err := checkSum(sum); err != nil {
		return ref{}, err
	}
	sizeText, mp, ok := strings.Cut(id, ".")
	size, err := strconv.ParseInt(sizeText, 10, 64)
	if !ok || err != nil || size <= 0 || size > MaxPhotoSize || strconv.FormatInt(size, 10) != sizeText {
		return ref{}, fmt.Errorf("no upload %.80q: %w", id, storage.ErrNotFound)
	}
	return ref{sum: sum, size: size, multipartID: mp, key: incomingKey(sum, size)}, nil
}

// BeginUpload starts the upload of a photo of size bytes, or returns the
// pending upload of sum and size with the parts it holds. storage.ErrExists
// when the photo is stored, storage.ErrInvalid for a malformed sum or size ≤
// 0, storage.ErrTooLarge above MaxPhotoSize.
//
// A pending upload of sum with another size lives under another key: it is
// not resumed, cannot mix with this one, and is left to the clean-up
// (Uploads, AbortUpload) or to MinIO's expiry of stale uploads.
func (s *Store) BeginUpload(ctx context.Context, sum string, size int64) (storage.Upload, error) {
	up, err := s.begin(ctx, sum, size)
	if err != nil {
		return storage.Upload{}, fmt.Errorf("minio: begin upload %s: %w", sum, err)
	}
	return up, nil
}

func (s *Store) begin(ctx context.Context, sum string, size int64) (storage.Upload, error) {
	if err := checkSum(sum); err != nil {
		return storage.Upload{}, err
	}
	if size <= 0 {
		return storage.Upload{}, fmt.Errorf("size %d: %w", size, storage.ErrInvalid)
	}
	if size > MaxPhotoSize {
		return storage.Upload{}, fmt.Errorf("size %d over the limit of %d: %w", size, int64(MaxPhotoSize), storage.ErrTooLarge)
	}
	switch _, err := s.stat(ctx, sum); {
	case err == nil:
		return storage.Upload{}, fmt.Errorf("photo stored: %w", storage.ErrExists)
	case !errors.Is(err, storage.ErrNotFound):
		return storage.Upload{}, err
	}
	key := incomingKey(sum, size)
	pending, err := s.pendingUploads(ctx, key)
	if err != nil {
		return storage.Upload{}, err
	}
	for _, mp := range pending {
		r := ref{sum: sum, size: size, multipartID: mp.UploadID, key: key}
		up := r.upload()
		up.Started = mp.Initiated.UTC()
		parts, err := s.parts(ctx, r)
		if errors.Is(err, storage.ErrNotFound) {
			continue // completed or aborted meanwhile
		}
		if err != nil {
			return storage.Upload{}, err
		}
		up.Done = done(up, parts)
		return up, nil
	}
	// None of this size: drop those of other sizes (a client that lied, or
	// a bug), so that a photo has one pending upload.
	if err := s.dropOtherSizes(ctx, sum, size); err != nil {
		return storage.Upload{}, err
	}
	// Parts assembled by a completion cut off before it verified them.
	if up, ok, err := s.assembled(ctx, sum, size); err != nil || ok {
		return up, err
	}
	c := s.call(ctx)
	defer c.end()
	id, err := s.core.NewMultipartUpload(c.ctx, s.bucket, key, s3.PutObjectOptions{ContentType: "application/octet-stream"})
	if err != nil {
		return storage.Upload{}, c.err(err)
	}
	up := ref{sum: sum, size: size, multipartID: id, key: key}.upload()
	up.Started = time.Now().UTC()
	return up, nil
}

// pendingUploads lists the multipart uploads to key, oldest first.
func (s *Store) pendingUploads(ctx context.Context, key string) ([]s3.ObjectMultipartInfo, error) {
	c := s.call(ctx)
	defer c.end()
	var uploads []s3.ObjectMultipartInfo
	keyMarker, idMarker := "", ""
	for {
		res, err := s.core.ListMultipartUploads(c.ctx, s.bucket, key, keyMarker, idMarker, "", 1000)
		if err != nil {
			return nil, c.err(err)
		}
		c.resume()
		for _, u := range res.Uploads {
			if u.Key == key {
				uploads = append(uploads, u)
			}
		}
		if !res.IsTruncated || (res.NextKeyMarker == keyMarker && res.NextUploadIDMarker == idMarker) {
			break
		}
		keyMarker, idMarker = res.NextKeyMarker, res.NextUploadIDMarker
	}
	slices.SortStableFunc(uploads, func(a, b s3.ObjectMultipartInfo) int { return a.Initiated.Compare(b.Initiated) })
	return uploads, nil
}

// dropOtherSizes aborts the pending multipart uploads of sum declared with
// another size than size, and removes their assembled objects. MinIO lists
// the multipart uploads of one exact key only, or of the whole bucket: this
// takes the bucket-wide listing (from MinIO's memory; paginated on S3),
// once per photo whose upload begins afresh.
func (s *Store) dropOtherSizes(ctx context.Context, sum string, size int64) error {
	all, err := s.listUploads(ctx)
	if err != nil {
		return err
	}
	for _, mp := range all {
		if other, osize, ok := parseIncomingKey(mp.Key); ok && other == sum && osize != size {
			r := ref{sum: sum, size: osize, multipartID: mp.UploadID, key: mp.Key}
			c := s.call(ctx)
			err := c.err(s.core.AbortMultipartUpload(c.ctx, s.bucket, r.key, r.multipartID))
			c.end()
			if err != nil && !errors.Is(err, storage.ErrNotFound) {
				return fmt.Errorf("drop the upload declared %d bytes: %w", osize, err)
			}
		}
	}
	c := s.call(ctx)
	defer c.end()
	var stale []string
	for obj := range s.client.ListObjectsIter(c.ctx, s.bucket, s3.ListObjectsOptions{Prefix: incomingPrefix + sum + "/", Recursive: true}) {
		if obj.Err != nil {
			return c.err(obj.Err)
		}
		c.resume()
		if _, osize, ok := parseIncomingKey(obj.Key); ok && osize != size {
			stale = append(stale, obj.Key)
		}
	}
	c.end()
	for _, key := range stale {
		if err := s.remove(ctx, key); err != nil {
			return err
		}
	}
	return nil
}

// listUploads lists every multipart upload in the bucket.
func (s *Store) listUploads(ctx context.Context) ([]s3.ObjectMultipartInfo, error) {
	c := s.call(ctx)
	defer c.end()
	var all []s3.ObjectMultipartInfo
	keyMarker, idMarker := "", ""
	for {
		res, err := s.core.ListMultipartUploads(c.ctx, s.bucket, "", keyMarker, idMarker, "", 1000)
		if err != nil {
			return nil, c.err(err)
		}
		c.resume()
		all = append(all, res.Uploads...)
		if !res.IsTruncated || (res.NextKeyMarker == keyMarker && res.NextUploadIDMarker == idMarker) {
			return all, nil
		}
		keyMarker, idMarker = res.NextKeyMarker, res.NextUploadIDMarker
	}
}

// assembled returns the upload whose parts are assembled into the incoming
// object of sum and size, if there is one. An incoming object of another
// size than its key says is not one of ours to resume: it is removed.
func (s *Store) assembled(ctx context.Context, sum string, size int64) (storage.Upload, bool, error) {
	key := incomingKey(sum, size)
	c := s.call(ctx)
	defer c.end()
	obj, err := s.client.StatObject(c.ctx, s.bucket, key, s3.StatObjectOptions{})
	switch err := c.err(err); {
	case errors.Is(err, storage.ErrNotFound):
		return storage.Upload{}, false, nil
	case err != nil:
		return storage.Upload{}, false, err
	}
	if obj.Size != size {
		return storage.Upload{}, false, s.remove(ctx, key)
	}
	return assembledUpload(sum, size, obj.LastModified), true, nil
}

func assembledUpload(sum string, size int64, at time.Time) storage.Upload {
	up := ref{sum: sum, size: size}.upload()
	up.Started = at.UTC()
	for n := 1; n <= up.Parts(); n++ {
		up.Done = append(up.Done, storage.Part{Number: n, Size: up.PartLen(n)})
	}
	return up
}

// parts lists the parts a multipart upload holds; storage.ErrNotFound when
// the upload is gone.
func (s *Store) parts(ctx context.Context, r ref) ([]s3.ObjectPart, error) {
	c := s.call(ctx)
	defer c.end()
	var parts []s3.ObjectPart
	marker := 0
	for {
		res, err := s.core.ListObjectParts(c.ctx, s.bucket, r.key, r.multipartID, marker, 1000)
		if err != nil {
			return nil, c.err(err)
		}
		c.resume()
		parts = append(parts, res.ObjectParts...)
		if !res.IsTruncated || res.NextPartNumberMarker <= marker {
			break
		}
		marker = res.NextPartNumberMarker
	}
	slices.SortFunc(parts, func(a, b s3.ObjectPart) int { return a.PartNumber - b.PartNumber })
	return parts, nil
}

// done lists the parts of up that parts holds with their right length (a
// part of another length is not done: sending it again replaces it).
func done(up storage.Upload, parts []s3.ObjectPart) []storage.Part {
	out := make([]storage.Part, 0, len(parts))
	for _, p := range parts {
		if p.PartNumber >= 1 && p.PartNumber <= up.Parts() && p.Size == up.PartLen(p.PartNumber) {
			out = append(out, storage.Part{Number: p.PartNumber, Size: p.Size})
		}
	}
	return out
}

// PutPart stores part n of the upload from r, streaming it; r must yield
// exactly the part's length (storage.ErrMismatch otherwise: a longer r is
// read one byte past the part). storage.ErrNotFound for an unknown upload,
// storage.ErrInvalid for a part number out of range. Sending a part again
// replaces it.
func (s *Store) PutPart(ctx context.Context, sum, id string, n int, r io.Reader) error {
	if err := s.putPart(ctx, sum, id, n, r); err != nil {
		return fmt.Errorf("minio: put part %d of %s: %w", n, sum, err)
	}
	return nil
}

func (s *Store) putPart(ctx context.Context, sum, id string, n int, r io.Reader) error {
	if err := checkSum(sum); err != nil {
		return err
	}
	if n < 1 {
		return fmt.Errorf("part %d: %w", n, storage.ErrInvalid)
	}
	ref, err := parseID(sum, id)
	if err != nil {
		return err
	}
	up := ref.upload()
	if n > up.Parts() {
		return fmt.Errorf("part %d of %d: %w", n, up.Parts(), storage.ErrInvalid)
	}
	c := s.call(ctx)
	defer c.end()
	b := &body{r: r, c: c, size: up.PartLen(n), excess: storage.ErrMismatch}
	if ref.multipartID == "" {
		// Assembled already: the part is held; check and drop the copy.
		_, err := io.CopyBuffer(io.Discard, b, make([]byte, 64<<10))
		return b.verdict(err)
	}
	_, err = s.core.PutObjectPart(c.ctx, s.bucket, ref.key, ref.multipartID, n, b, b.size, s3.PutObjectPartOptions{})
	return b.verdict(c.err(err))
}

// CompleteUpload assembles the parts, verifies the bytes (size, SHA-256,
// check on the first 64 KiB) and stores the photo under sum, as
// storage.PhotoUploads documents. storage.ErrIncomplete while parts are
// missing (nothing dropped); storage.ErrMismatch, with check's error wrapped
// when it refused, and the upload dropped when the bytes are wrong;
// storage.ErrNotFound for an unknown upload. When the verification is cut
// off (storage.ErrUnavailable, the caller's context), the assembled parts
// are kept: completing again, with the same id, finishes the job.
func (s *Store) CompleteUpload(ctx context.Context, sum, id string, check func(head []byte) error) (storage.PhotoInfo, error) {
	info, err := s.complete(ctx, sum, id, check)
	if err != nil {
		return storage.PhotoInfo{}, fmt.Errorf("minio: complete upload %s: %w", sum, err)
	}
	return info, nil
}

func (s *Store) complete(ctx context.Context, sum, id string, check func(head []byte) error) (storage.PhotoInfo, error) {
	ref, err := parseID(sum, id)
	if err != nil {
		return storage.PhotoInfo{}, err
	}
	if ref.multipartID != "" {
		err := s.assemble(ctx, ref)
		if errors.Is(err, storage.ErrNotFound) {
			// Completed before (a verification cut off, or a concurrent
			// completion): verify what was assembled, if anything.
			if _, ok, aerr := s.assembled(ctx, sum, ref.size); aerr != nil || !ok {
				return storage.PhotoInfo{}, errors.Join(err, aerr)
			}
		} else if err != nil {
			return storage.PhotoInfo{}, err
		}
	}
	return s.verifyAndStore(ctx, ref, check)
}

// assemble completes the multipart upload into the incoming object.
func (s *Store) assemble(ctx context.Context, r ref) error {
	parts, err := s.parts(ctx, r)
	if err != nil {
		return err
	}
	up := r.upload()
	have := make(map[int]s3.ObjectPart, len(parts))
	for _, p := range parts {
		have[p.PartNumber] = p
	}
	var complete []s3.CompletePart
	var missing []string
	for n := 1; n <= up.Parts(); n++ {
		p, ok := have[n]
		switch {
		case !ok:
			missing = append(missing, strconv.Itoa(n))
		case p.Size != up.PartLen(n):
			// Only a part sent around this package can be so; sending it
			// again replaces it.
			missing = append(missing, fmt.Sprintf("%d (%d bytes, want %d)", n, p.Size, up.PartLen(n)))
		default:
			complete = append(complete, s3.CompletePart{PartNumber: n, ETag: p.ETag})
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("parts %s of %d missing: %w", strings.Join(missing, ", "), up.Parts(), storage.ErrIncomplete)
	}
	c := s.call(ctx)
	defer c.end()
	_, err = s.core.CompleteMultipartUpload(c.ctx, s.bucket, r.key, r.multipartID, complete, s3.PutObjectOptions{})
	if code := s3.ToErrorResponse(err).Code; code == "InvalidPart" || code == "InvalidPartOrder" {
		// A part was sent again between the listing and now.
		return fmt.Errorf("parts changed while completing, complete again: %w: %w", storage.ErrIncomplete, err)
	}
	return c.err(err)
}

// verifyAndStore streams the incoming object back through SHA-256, checks
// it, and copies it to sum; the incoming object is removed unless the
// verification was cut off.
func (s *Store) verifyAndStore(ctx context.Context, r ref, check func(head []byte) error) (storage.PhotoInfo, error) {
	etag, err := s.verify(ctx, r, check)
	if errors.Is(err, storage.ErrMismatch) {
		s.removeDetached(ctx, r.key)
		return storage.PhotoInfo{}, err
	}
	if err == nil {
		c := s.call(ctx)
		_, err = s.client.CopyObject(c.ctx,
			s3.CopyDestOptions{Bucket: s.bucket, Object: r.sum, ReplaceMetadata: true, ContentType: "application/octet-stream"},
			s3.CopySrcOptions{Bucket: s.bucket, Object: r.key, MatchETag: etag})
		err = c.err(err)
		c.end()
		if err == nil {
			s.removeDetached(ctx, r.key)
			return s.stat(ctx, r.sum)
		}
		err = fmt.Errorf("copy to %s: %w", r.sum, err)
	}
	// Another completion of the photo may have stored it, and removed the
	// incoming object from under this one.
	if info, serr := s.stat(ctx, r.sum); serr == nil {
		return info, nil
	}
	return storage.PhotoInfo{}, err
}

// verify reads the incoming object of r and returns its ETag if it holds
// r.size bytes hashing to r.sum that pass check.
func (s *Store) verify(ctx context.Context, r ref, check func(head []byte) error) (string, error) {
	c := s.call(ctx)
	defer c.end()
	rc, obj, _, err := s.core.GetObject(c.ctx, s.bucket, r.key, s3.GetObjectOptions{})
	if err != nil {
		return "", fmt.Errorf("read assembled parts: %w", c.err(err))
	}
	or := &objectReader{rc: rc, c: c}
	defer or.Close()
	c.pause()
	if obj.Size != r.size {
		return "", fmt.Errorf("assembled %d bytes, declared %d: %w", obj.Size, r.size, storage.ErrMismatch)
	}
	h := sha256.New()
	head := make([]byte, min(r.size, headSize))
	if _, err := io.ReadFull(or, head); err != nil {
		return "", fmt.Errorf("read assembled parts: %w", err)
	}
	h.Write(head)
	if check != nil {
		if err := check(head); err != nil {
			return "", fmt.Errorf("%w: refused: %w", storage.ErrMismatch, err)
		}
	}
	n, err := io.CopyBuffer(h, io.LimitReader(or, r.size-int64(len(head))+1), make([]byte, 64<<10))
	if err != nil {
		return "", fmt.Errorf("read assembled parts: %w", err)
	}
	if got := int64(len(head)) + n; got != r.size {
		return "", fmt.Errorf("read %d bytes of assembled parts, declared %d: %w", got, r.size, storage.ErrMismatch)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != r.sum {
		return "", fmt.Errorf("content hashes to %s: %w", got, storage.ErrMismatch)
	}
	return obj.ETag, nil
}

// removeDetached removes an object even when ctx is done: clean-up the
// caller should not have to wait for or repeat. Errors are dropped (the
// object is then left to Uploads and AbortUpload).
func (s *Store) removeDetached(ctx context.Context, key string) {
	_ = s.remove(context.WithoutCancel(ctx), key)
}

// Uploads lists the pending uploads started before the given time, without
// their Done parts: the multipart uploads MinIO knows of (see the package
// comment: a bucket-wide listing is answered from memory, so it misses
// uploads begun before MinIO last restarted), and incoming objects whose
// verification was cut off (ID "<size>.").
func (s *Store) Uploads(ctx context.Context, startedBefore time.Time) ([]storage.Upload, error) {
	ups, err := s.uploads(ctx, startedBefore)
	if err != nil {
		return nil, fmt.Errorf("minio: list uploads: %w", err)
	}
	return ups, nil
}

func (s *Store) uploads(ctx context.Context, before time.Time) ([]storage.Upload, error) {
	pending, err := s.listUploads(ctx)
	if err != nil {
		return nil, err
	}
	var ups []storage.Upload
	for _, mp := range pending {
		sum, size, ok := parseIncomingKey(mp.Key)
		if !ok || !mp.Initiated.Before(before) {
			continue
		}
		up := ref{sum: sum, size: size, multipartID: mp.UploadID}.upload()
		up.Started = mp.Initiated.UTC()
		ups = append(ups, up)
	}

	c := s.call(ctx)
	defer c.end()
	for obj := range s.client.ListObjectsIter(c.ctx, s.bucket, s3.ListObjectsOptions{Prefix: incomingPrefix, Recursive: true}) {
		if obj.Err != nil {
			return nil, c.err(obj.Err)
		}
		c.resume()
		sum, size, ok := parseIncomingKey(obj.Key)
		if ok && obj.Size == size && obj.LastModified.Before(before) {
			up := ref{sum: sum, size: size}.upload()
			up.Started = obj.LastModified.UTC()
			ups = append(ups, up)
		}
	}
	slices.SortStableFunc(ups, func(a, b storage.Upload) int { return a.Started.Compare(b.Started) })
	return ups, nil
}

// AbortUpload drops a pending upload and its parts, or its assembled
// object; an absent or unknown upload is not an error. storage.ErrInvalid
// for a malformed sum.
func (s *Store) AbortUpload(ctx context.Context, sum, id string) error {
	if err := s.abort(ctx, sum, id); err != nil {
		return fmt.Errorf("minio: abort upload %s: %w", sum, err)
	}
	return nil
}

func (s *Store) abort(ctx context.Context, sum, id string) error {
	ref, err := parseID(sum, id)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return nil
	case err != nil:
		return err
	}
	if ref.multipartID != "" {
		c := s.call(ctx)
		err := c.err(s.core.AbortMultipartUpload(c.ctx, s.bucket, ref.key, ref.multipartID))
		c.end()
		if !errors.Is(err, storage.ErrNotFound) {
			return err
		}
		// Completed already, its verification cut off: drop what it
		// assembled.
	}
	return s.remove(ctx, ref.key)
}
