package bolt

import (
	"encoding/json"
	"fmt"

	bbolt "go.etcd.io/bbolt"
)

// migrate brings a file of schema version from up to schemaVersion, inside
// Open's transaction: a crash leaves the old version whole, and opening
// again runs it again. A file at schemaVersion is left alone.
func migrate(tx *bbolt.Tx, from uint64) error {
	if from < 2 {
		if err := rebuildPhoneIndex(tx); err != nil {
			return fmt.Errorf("migrate to schema 2: %w", err)
		}
	}
	// Schema 3 (compressed records and compact receipts, codec.go) reads
	// every value schema 2 wrote as it is and rewrites it by its next
	// write: nothing to do here but record the version, so that an older
	// binary refuses the file instead of handing out the tagged bytes.
	if from == schemaVersion {
		return nil
	}
	return tx.Bucket(bucketMeta).Put(keySchema, u64(schemaVersion))
}

// rebuildPhoneIndex replaces users_by_phone, whatever its layout, with the
// index of schema 2 made from the users themselves.
func rebuildPhoneIndex(tx *bbolt.Tx) error {
	if err := tx.DeleteBucket(bucketUsersByPhone); err != nil {
		return err
	}
	byPhone, err := tx.CreateBucket(bucketUsersByPhone)
	if err != nil {
		return err
	}
	return tx.Bucket(bucketUsers).ForEach(func(k, v []byte) error {
		var doc userDoc
		if err := json.Unmarshal(v, &doc); err != nil {
			return fmt.Errorf("decode user %s: %w", k, err)
		}
		if doc.Phone == "" {
			return nil
		}
		return byPhone.Put(phoneKey(doc.Phone, doc.ID), nil)
	})
}
