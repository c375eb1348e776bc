// Package mongo is Pairsync's scale-out storage: every storage.Store
// contract kept in one MongoDB database (go.mongodb.org/mongo-driver/v2),
// for deployments where several pairsyncd processes share the data.
//
//	db, err := mongo.Open(ctx, mongo.Config{
//		URI:      "mongodb://mongo:27017/?replicaSet=rs0",
//		Database: "pairsync",
//		Logger:   logger,
//	})
//	if errors.Is(err, mongo.ErrStandalone) {
//		// the server is not a replica set: commits need transactions
//	}
//	defer db.Close()
//	c, err := db.Commit(ctx, storage.Batch{Pairing: "p1", Puts: []storage.Put{{Key: k, Data: v}}})
//
// Open needs a replica set (docker-compose runs one node) or a sharded
// cluster, and refuses a standalone server: a commit is one multi-document
// transaction. Writes are acknowledged by a majority, journaled; reads use
// read concern majority on the primary, transactions snapshot reads.
// Timeouts and network errors come back wrapping storage.ErrUnavailable.
//
// # The commit rule
//
// Commit runs one transaction per batch: it reads the pairing's counter
// document (heads), checks ExpectHead, every put's Expect and pairing and
// every receipt's absence, then moves the counter from the head it read to
// head+len(puts) (compare-and-set), writes each record at its new seq and
// inserts the receipts. Two commits of one pairing both write the counter
// document, so only one commits; the driver retries the other from the
// start (WithTransaction, with backoff, within Config.Timeout), and it then
// sees the first one's head. So a pairing's sequence advances without gaps
// in commit order, and a reader of the feed never finds a seq appear behind
// its cursor. A conflict on the data itself (a stale Expect, an existing
// receipt) is storage.ErrConflict, as the contract says; a write conflict
// between transactions never is.
//
// # Collections
//
// Documents (bson structs private to this package; times are UTC dates at
// millisecond precision, zero times absent):
//
//	records          _id "<len(collection)>:<collection>/<id>", collection, record_id,
//	                 pairing, seq, data: a record's current version. It is also the
//	                 changes feed: one document per record, at its latest seq, listed
//	                 by the unique (pairing, seq) index.
//	heads            _id pairing, seq (the last seq given), horizon (highest purged seq)
//	receipts         _id "<replica>/<counter, 20 digits>", replica, counter, answer
//	receipts_pruned  _id replica, below
//	users            _id id, username (unique), phone (sparse: absent when
//	                 empty; not unique, Open drops the unique index of older
//	                 databases), name, role, org_unit, counterparty, password_hash,
//	                 disabled, created_at, updated_at, rev
//	devices          _id id, user_id, name, created_at, last_seen, revoked_at, rev
//	org_units        _id id, parent_id, name, kind, path (unique), sla_days
//	                 [{category, days}] (null: inherit), created_at, updated_at, rev
//	signing_keys     _id kid, alg, private, created_at, retired_at
//	sessions         _id token hash, family, user_id, device_id, issued_at,
//	                 expires_at, used_at, revoked_at
//	activations      _id code hash, user_id (unique: the user's current code),
//	                 created_by, created_at, expires_at, used_at
//	audit            _id seq, time, actor, device, ip, action, object, result,
//	                 detail, org_path, username
//	meta             {_id "schema", version}, {_id "audit", seq} (the audit log's
//	                 last seq), {_id "signing_keys", active} (written by every
//	                 rotation: concurrent rotations collide on it),
//	                 {_id "org_units_version", v} (counts org-unit writes)
//	secrets          _id name, value
//	leases           _id name, holder, expires
//	attempts         _id throttle key (a hash), start, count (each reserved
//	                 with single-document updates, no transaction)
//
// Open creates the collections and the indexes (listed, each with the
// queries it serves, in mongo.go) when they are missing.
//
// Writes that are one atomic single-document operation (user, device and
// org-unit updates as compare-and-set on rev, activation use, lease
// acquisition as one conditional upsert, session revocation) run without a
// transaction; those that touch several documents (Commit, Purge, signing
// key rotation, session creation and rotation, activation creation, audit
// appends) run in one.
//
// # Tests
//
// Config.AllowStandalone (which implies Config.NoTransactions) is for tests
// only: the package's tests run the storagetest suite against FerretDB
// v1.24, embedded, which speaks the wire protocol but has no transactions,
// so only the serial cases run there; with $MONGODB_URI set they run the
// whole suite against a real replica set.
package mongo
