// Package files is Pairsync's embedded photo store: a content-addressed
// storage.Photos on the local filesystem.
//
//	photos, err := files.Open(filepath.Join(dataDir, "photos"))
//	info, err := photos.PutPhoto(ctx, sum, size, body) // verifies size and SHA-256
//	rc, info, err := photos.OpenPhoto(ctx, sum)
//
// Layout under the root directory:
//
//	ab/cd/abcd…    one file per photo, named by its SHA-256 (lowercase hex),
//	               under two levels of directories named by its first 4 digits
//	.tmp/          uploads in progress; emptied by Open
//
// An upload streams into a file in .tmp (same filesystem) while it is
// hashed, is checked against the declared size and hash, fsync'd, then
// renamed into place and its directory fsync'd: a photo is either wholly
// there or absent, and durable once PutPhoto returns. Only strings that pass
// storage.ValidSHA256 ever become paths.
//
// One directory must be served by one process at a time (Open empties .tmp);
// pairsyncd guarantees it with the lock on its bolt file in the same data
// directory.
package files
