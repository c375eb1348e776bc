// Package files is Pairsync's embedded photo store: a content-addressed
// storage.Photos on the local filesystem.
//
//	photos, err := files.Open(filepath.Join(dataDir, "photos"))
//	info, err := photos.PutPhoto(ctx, sum, size, body) // verifies size and SHA-256
//	rc, info, err := photos.OpenPhoto(ctx, sum)
//
//	// Resumable: parts of PartSize (1 MiB), in any order, then complete.
//	up, err := photos.BeginUpload(ctx, sum, size) // up.Done: parts already held
//	err = photos.PutPart(ctx, sum, up.ID, n, part)
//	info, err = photos.CompleteUpload(ctx, sum, up.ID, checkImageType)
//
// Layout under the root directory:
//
//	ab/cd/abcd…             one file per photo, named by its SHA-256
//	                        (lowercase hex), under two levels of directories
//	                        named by its first 4 digits
//	.thumbs/ab/cd/abcd…     the photo's thumbnail, sharded the same way
//	.uploads/abcd…/         a pending upload in parts, one per photo (its ID
//	                        is the sum): upload.json (size, part size, start
//	                        time) and one file per part held, "<n>.part"
//	.tmp/                   files being written, folders being removed;
//	                        emptied by Open
//
// Every file (photo, part, thumbnail, upload.json) is written in .tmp (same
// filesystem), fsync'd, renamed into place, and its directory fsync'd: it is
// either wholly there or absent, and durable once the call returns. An
// upload folder appears whole (made in .tmp with its upload.json, then
// renamed) and goes whole (renamed into .tmp, then deleted). CompleteUpload
// streams the parts through PutPhoto's path, so a crash leaves the photo
// whole or absent, and at worst an upload that the next BeginUpload of the
// photo (or clean-up through Uploads and AbortUpload) drops. Only strings
// that pass storage.ValidSHA256 ever become paths.
//
// Pending uploads survive Open. ListPhotos walks the shard directories in
// order and skips the dot folders.
//
// One directory must be served by one process at a time (Open empties .tmp);
// pairsyncd guarantees it with the lock on its bolt file in the same data
// directory.
package files
