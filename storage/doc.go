// Package storage defines what Pairsync needs from a database and a photo
// store, as small single-purpose interfaces with documented errors, and the
// sentinel errors every adapter returns. The adapters live in sub-packages,
// one per technology:
//
//	storage/bolt   embedded default (go.etcd.io/bbolt): records, accounts, devices
//	storage/mongo  MongoDB, for deployments that outgrow one machine
//	storage/files  photos on the local filesystem (embedded default)
//	storage/minio  photos on MinIO or any S3-compatible store
//
// Every adapter passes the conformance suite in storage/storagetest:
//
//	func TestConformance(t *testing.T) {
//		storagetest.TestStore(t, func(t *testing.T) storage.Store { return openTemp(t) })
//	}
//
// Records are opaque bytes here (the server stores encoded syncproto record
// versions); this package knows nothing of merging, only of the commit rule:
// a batch of puts into one pairing commits atomically, each put checked
// against the version its writer read (compare-and-set), and each committed
// put takes the pairing's next sequence number, in commit order, so a reader
// that lists changes after sequence N never misses one.
package storage
