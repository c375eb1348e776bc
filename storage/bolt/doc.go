// Package bolt is Pairsync's embedded storage: every storage.Store contract
// (records with per-pairing commit sequences, receipts, users, devices) and
// the identity contracts (org units, signing keys, refresh-token sessions,
// activation codes, the audit log) kept in one bbolt file
// (go.etcd.io/bbolt), pure Go, no server to run.
//
//	db, err := bolt.Open(ctx, bolt.Config{Path: filepath.Join(dataDir, "pairsync.db")})
//	if errors.Is(err, bolt.ErrLocked) {
//		// another pairsyncd already serves this data directory
//	}
//	defer db.Close()
//	c, err := db.Commit(ctx, storage.Batch{Pairing: "p1", Puts: []storage.Put{{Key: k, Data: v}}})
//
// Every write is one bbolt read-write transaction, fsync'd before the call
// returns. bbolt admits one writer at a time, so a pairing's sequence numbers
// are handed out in commit order without gaps; readers run concurrently on
// consistent snapshots. Commit calls that arrive while a transaction runs
// share the next one, and its fsync (group commit, group.go): each batch is
// still checked on its own and fails alone, and none returns before the
// transaction holding it is durable.
//
// # File layout
//
// Top-level buckets (keys and values; "str" is a uvarint length followed by
// the bytes, "u64" is 8 bytes big-endian):
//
//	meta            "schema" → u64 schema version (3; Open migrates a 1 or 2);
//	                "org_units_version" → u64 count of org-unit writes
//	attempts        throttle key → JSON {start, count}
//	records         str(collection) ‖ id → u64 seq ‖ str(pairing) ‖ data's
//	                stored form (codec.go: s2-compressed behind a tag byte;
//	                data starting with '{' may be as committed, as every
//	                value written before the tags is)
//	heads           pairing → u64 head (the pairing's last sequence)
//	log             one nested bucket per pairing:
//	  <pairing>     u64 seq → record key (as in records); a record has one
//	                entry, at its latest seq (the older entry is deleted)
//	receipts        str(replica) ‖ u64 counter → answer's stored form
//	                (codec.go: an answer that starts with its own dot is
//	                stored without it, the key holding it)
//	users           id → JSON user
//	users_by_name   username → id
//	users_by_phone  str(phone) ‖ id → empty (only users with a phone; several
//	                users may share one). Schema 1 held phone → id; Open
//	                rebuilds the index from users and writes version 2, in
//	                one transaction.
//	devices         id → JSON device
//	devices_by_user str(user id) ‖ device id → empty
//
//	org_units           id → JSON unit (with its Path)
//	org_units_by_path   path → id (OrgUnits: one seek, then a prefix scan)
//	signing_keys        kid → JSON key (a handful: read whole, sorted on read)
//	sessions            token hash (hex) → JSON session
//	sessions_by_family  str(family) ‖ token hash → empty
//	sessions_by_user    str(user id) ‖ token hash → empty
//	sessions_by_device  str(device id) ‖ token hash → empty (bound tokens)
//	activations         code hash (hex) → JSON activation
//	activations_by_user user id → code hash of the user's current code (a
//	                    user has at most one stored code)
//	audit               u64 seq (bucket sequence) → JSON event
//	notifications       id → JSON notification (the outbox, written by Commit)
//	notifications_pending id → empty, for each pending notification (what
//	                    ClaimNotifications scans)
//
// Get and Head are one lookup each; Changes seeks a cursor in the pairing's
// log and looks each key up in records. The identity buckets came after
// schema version 1 without changing it: Open creates them in older files.
//
// RotateSession is one transaction: a used or revoked token revokes its
// family and that revocation is committed before ErrConflict is returned.
// CreateSession prunes the user's tokens whose family has ended. AuditLog
// walks the log backwards from Before, filtering as it goes, and stops at
// the first match after a full page.
package bolt
