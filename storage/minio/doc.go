// Package minio is Pairsync's photo store on MinIO or any S3: a
// content-addressed storage.Photos with resumable multipart uploads, and a
// storage.Presigner so that phones send and fetch photo bytes straight to and
// from the store.
//
//	photos, err := minio.Open(ctx, minio.Config{
//		Endpoint:  "minio.internal:9000",
//		AccessKey: accessKey,
//		SecretKey: secretKey,
//		Bucket:    "pairsync-photos",
//		// Where phones reach MinIO, when it differs from Endpoint.
//		PublicEndpoint: "https://photos.example.org",
//	})
//	info, err := photos.PutPhoto(ctx, sum, size, body) // verified: size and SHA-256
//	up, err := photos.BeginUpload(ctx, sum, size)      // or resume the pending one
//	req, err := photos.PresignPart(ctx, sum, up.ID, 1, 5*time.Minute)
//	info, err = photos.CompleteUpload(ctx, sum, up.ID, checkImageType)
//
// # Object layout in the bucket
//
//	<sha256>                 a stored photo: the key is the SHA-256 of its
//	                         bytes (64 lowercase hex digits), checked by this
//	                         package before the key is ever written
//	thumbs/<sha256>          its thumbnail
//	incoming/<sha256>/<size> pending uploads of that photo: S3 multipart
//	                         uploads, and, for the moment between assembly and
//	                         verification, the assembled object
//
// An upload is never written to <sha256> itself, so a stored photo is never
// overwritten by unverified bytes. The declared size is part of the pending
// upload's key because S3 keeps no metadata of a multipart upload that can
// be read back before it is completed, and MinIO lists the multipart uploads
// of one exact key only. An Upload's ID is "<size>.<multipart upload id>"; an
// ID with an empty upload id ("<size>.") names an upload whose parts are
// already assembled into incoming/<sha256>/<size> (a completion cut off
// before the verification finished): CompleteUpload verifies it again
// without any part being sent twice.
//
// # Verification
//
// PutPhoto stats <sha256> first: a photo already stored is verified by
// reading the body locally and kept. Otherwise the body goes in one PUT to
// <sha256> with the declared SHA-256 as the signed payload hash
// (x-amz-content-sha256), which MinIO checks before it commits the object;
// this package also hashes and counts the body as it streams and, when the
// last byte does not match (or one more byte follows), fails the request
// before the body is complete, so nothing is committed either way.
//
// Multipart uploads use parts of PartSize (5 MiB, the S3 minimum for every
// part but the last). CompleteUpload completes the multipart upload into
// incoming/<sha256>/<size>, streams that object back through SHA-256 while
// checking its size and handing its first 64 KiB to the caller's check, then
// copies it server-side to <sha256> (conditional on the ETag it verified)
// and removes it. On a mismatch it removes it and returns
// storage.ErrMismatch. No call ever holds a whole photo in memory.
//
// # Time limits
//
// Config.OpTimeout bounds how long any call waits on MinIO: a request that
// gets no answer, or a stream that moves no byte, for OpTimeout fails with an
// error wrapping storage.ErrUnavailable, as do refused connections and 5xx
// answers. Time spent waiting on the caller's reader (a phone uploading
// slowly) or on the reader of an opened photo does not count.
//
// # Presigned requests
//
// PresignPart signs a PUT of one part (its partNumber and uploadId in the
// signed query, its Content-Length a signed header the device must send as
// given); PresignGet signs a GET of a stored photo. Both sign for
// Config.PublicEndpoint when set, without a network call. Expiries above
// MaxPresignExpiry are refused.
//
// # Clean-up
//
// Uploads lists pending multipart uploads and leftover assembled objects
// (without their Done parts: one request fewer per upload).
// MinIO answers a bucket-wide listing of multipart uploads from each
// server's memory, so uploads begun before MinIO last restarted are missing
// from it; MinIO deletes such stale uploads itself after
// MINIO_API_STALE_UPLOADS_EXPIRY (24 hours by default). BeginUpload of a
// photo with no pending upload of its size takes that bucket-wide listing
// too, to drop any upload of the photo declared with another size.
package minio
