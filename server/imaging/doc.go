// Package imaging is what the photo channel needs to know about image
// bytes: their type, the picture's size, and a small JPEG thumbnail.
//
// Photos are JPEG, PNG or WebP (Types): the types the Go standard library
// and golang.org/x/image decode. HEIC, iPhones' default, is not accepted:
// there is no HEIC (HEVC) decoder in pure Go and the server is built
// without cgo, so the server could neither check nor thumbnail it. Sniff
// still recognises HEIC and HEIF files and reports HEIC, so that the phone
// is told to convert the photo to JPEG rather than that its bytes are
// garbage. (pairing.PhotoTypes, which checks photo manifests, still lists
// image/heic: a manifest may name a photo the channel will refuse.)
//
// Everything is decided from the first bytes before any pixel is decoded,
// so that a small file claiming 100000×100000 pixels (a decompression bomb,
// 40 GB once decoded) costs what reading its header costs. On upload, the
// server reads up to HeadSize bytes and asks the policy:
//
//	head := make([]byte, imaging.HeadSize)
//	n, err := io.ReadFull(body, head) // io.ErrUnexpectedEOF: a shorter photo
//	info, err := policy.Check(declaredType, head[:n])
//	var refused *imaging.Error
//	if errors.As(err, &refused) {
//		// refused.Code: type_not_accepted → 415, type_mismatch → 422,
//		// too_large → 413, unreadable → 422.
//		// refused.Message, in plain words, is for the phone's user;
//		// err, with its cause, is for the log.
//	}
//
// policy.CheckSize(contentLength) refuses files over MaxBytes, which Check
// cannot see. Thumbnails are made by a Thumbnailer that every request
// shares, which bounds how many photos are decoded at once, hence memory:
//
//	thumbs := imaging.NewThumbnailer(imaging.DefaultPolicy, 2)
//	jpg, err := thumbs.Make(ctx, photo) // a JPEG, 320 px on its long edge
//
// Decoding a 12-megapixel phone JPEG and making its thumbnail takes about
// 130 ms and 25 MB (BenchmarkThumbnail). A photo at the limit, 4096×4096
// pixels, takes up to 67 MB decoded as an 8-bit PNG, 126 MB as a
// progressive JPEG, 134 MB as a 16-bit PNG: choose the Thumbnailer's
// concurrency with that in mind.
package imaging
