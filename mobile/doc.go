// Package mobile is the field client's sync engine: the local store on bolt,
// the outbox of changes in counter order, the merge of pulled versions with
// local pending edits through syncproto.Merge, and the sync loop over HTTP.
// It is what mobile/cmd/fieldctl and native apps are built on. Photos are
// queued locally, content-addressed, and uploaded after the records
// (photos.go, photosync.go).
//
//	e, err := mobile.Open(filepath.Join(dataDir, "pairsync.db"), mobile.Config{})
//	// once, online: log in, register this phone (its id stamps every write)
//	err = e.SignIn(ctx, "https://pairsync.example.cn", "zhang.wei", password, "张伟的手机")
//	// any time, offline too
//	photo, err := e.AddPhoto(jpegBytes, "image/jpeg") // kept until the server has it
//	err = e.Set("visits", visitID, pairingID, map[string]json.RawMessage{
//		"notes": notes, "photos": mobile.Manifest(photo)})
//	view, ok := e.Get("visits", visitID) // base + pending writes (syncproto.Rebuild)
//	// when there is a network
//	progress, err := e.Sync(ctx) // push the outbox, pull every page, resync/purge, photos
//	for _, r := range e.Rejected() { show(r.Code, r.Message) }
//	for _, p := range e.PendingPhotos() { show(p.State, p.Message) } // refused, waiting…
//	for _, c := range e.Conflicts() { review(c) }
//
// It follows syncproto's client rules (syncproto/doc.go, "Client rules"):
// a base per record, merged from every pull and every acknowledged change;
// an outbox of syncproto.Write in counter order; the view is
// Rebuild(base, pending). Every step of a Sync commits locally as soon as
// its answer arrives, in one bolt transaction (the base update with the
// outbox deletions, a pulled page with its cursor), and an outbox entry
// leaves only with the server's answer for it: a Sync cut short anywhere is
// finished by the next one, nothing lost or sent twice. See store.go for
// the bucket layout.
//
// mobile never imports Fiber or a database driver (imports_test.go checks):
// it talks to the server over HTTP with the standard library only, plus
// syncproto and bbolt for its local store. Its tests run the real server
// in-process on 127.0.0.1.
package mobile
