// Package mobile is the field client's sync engine: the local store on bolt,
// the outbox of changes in counter order, the merge of pulled versions with
// local pending edits through syncproto.Merge, and the photo queue. It is
// what mobile/cmd/fieldctl and native apps are built on.
//
// mobile never imports Fiber or a database driver (imports_test.go checks):
// it talks to the server over HTTP with the standard library only, plus
// syncproto and bbolt for its local store.
package mobile
