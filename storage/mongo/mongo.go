package mongo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/readconcern"
	"go.mongodb.org/mongo-driver/v2/mongo/readpref"
	"go.mongodb.org/mongo-driver/v2/mongo/writeconcern"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/topology"

	"github.com/pairsync/pairsync/storage"
)

// DefaultTimeout bounds each database operation when Config.Timeout is
// zero.
const DefaultTimeout = 5 * time.Second

// schemaVersion is written to the meta collection of a new database; Open
// refuses a database with another version.
const schemaVersion = 1

// ErrStandalone is returned (wrapped) by Open when the server is a
// standalone mongod, not a replica set or a sharded cluster, and
// Config.AllowStandalone is not set: Commit needs multi-document
// transactions, which only those offer.
var ErrStandalone = errors.New("server is not a replica set (its hello reply has no setName): Pairsync needs multi-document transactions; run a replica set, even of one node (see docker-compose.yml)")

// Config configures Open.
type Config struct {
	// URI is the MongoDB connection string ("mongodb://host:27017/?replicaSet=rs0").
	// Required. It may carry credentials: Open never puts it in an error or
	// a log line, only its hosts.
	URI string
	// Database is the database that holds Pairsync's collections. Required.
	Database string
	// Timeout bounds each operation on the client side (the driver's
	// client-side operation timeout). Zero means DefaultTimeout (5s).
	// Timeouts and network errors come back wrapping
	// storage.ErrUnavailable. A transaction that loses write conflicts is
	// retried for up to TransactionRetry (or Timeout if longer).
	Timeout time.Duration
	// Logger receives the warnings Open logs (transactions off); nil means
	// slog.Default().
	Logger *slog.Logger
	// AllowStandalone lets Open use a server that is not a replica set.
	// TEST ONLY: it implies NoTransactions, and Open logs a loud warning.
	AllowStandalone bool
	// NoTransactions makes every write run without multi-document
	// transactions, as a series of single-document operations in the same
	// order a transaction would run them. TEST ONLY: it is the switch the
	// FerretDB tests use (FerretDB v1.24 has no transactions, and its
	// updates are not atomic). Without transactions, concurrent writers may
	// break the commit rule (two commits of one pairing may interleave) and
	// a crash may leave half a batch; serial use keeps every contract.
	NoTransactions bool
}

// DB is a storage.Store on one MongoDB database. Safe for concurrent use.
// Open returns it; Close releases it.
type DB struct {
	client  *mongo.Client
	name    string
	timeout time.Duration
	noTxn   bool
	txn     *options.TransactionOptionsBuilder
	closed  atomic.Bool

	records, heads, receipts, pruned *mongo.Collection
	users, devices, orgUnits         *mongo.Collection
	signingKeys, sessions            *mongo.Collection
	activations, audit, meta         *mongo.Collection
	secrets, leases                  *mongo.Collection
	notifications                    *mongo.Collection
	attempts                         *mongo.Collection
	// linearHeads is heads read at read concern linearizable
	// (ConfirmedHead).
	linearHeads *mongo.Collection
}

var _ storage.Store = (*DB)(nil)

// Collection names; see the package documentation for their documents.
const (
	collRecords     = "records"
	collHeads       = "heads"
	collReceipts    = "receipts"
	collPruned      = "receipts_pruned"
	collUsers       = "users"
	collDevices     = "devices"
	collOrgUnits    = "org_units"
	collSigningKeys = "signing_keys"
	collSessions    = "sessions"
	collActivations = "activations"
	collAudit       = "audit"
	collMeta        = "meta"
	collSecrets     = "secrets"
	collLeases      = "leases"
)

// collNotifications is the notification outbox (notifications.go).
const collNotifications = "notifications"

// collAttempts holds the throttles' counters (attempts.go).
const collAttempts = "attempts"

// indexes are the secondary indexes Open creates (idempotently), by
// collection, each with the queries it serves. Collections not listed are
// read and written by _id only.
var indexes = map[string][]mongo.IndexModel{
	collRecords: {
		// Changes: a pairing's records after a seq, in seq order (the feed:
		// a record has one document, at its latest seq). Unique: no two
		// puts of a pairing ever share a seq.
		{Keys: bson.D{{Key: "pairing", Value: 1}, {Key: "seq", Value: 1}}, Options: options.Index().SetUnique(true)},
	},
	collHeads: {
		// HeadsSince: the heads whose stamp is after a cursor, in stamp
		// order. Sparse: a head has no stamp before its first commit.
		{Keys: bson.D{{Key: "stamp", Value: 1}}, Options: options.Index().SetSparse(true)},
	},
	collReceipts: {
		// PruneReceipts: each replica's newest counter (one seek per
		// replica), then the replica's receipts below a counter.
		{Keys: bson.D{{Key: "replica", Value: 1}, {Key: "counter", Value: -1}}},
	},
	collUsers: {
		// UserByLogin by user name; ListUsers in user-name order, paged
		// with After. Unique: user names are.
		{Keys: bson.D{{Key: "username", Value: 1}}, Options: options.Index().SetUnique(true)},
		// UserByLogin and UsersByPhone by phone. Not unique: several
		// users may share a phone (issue 18 L3; Open drops the unique
		// index of older databases). Sparse: the field is absent when
		// empty.
		{Keys: bson.D{{Key: "phone", Value: 1}}, Options: options.Index().SetSparse(true)},
	},
	collDevices: {
		// DevicesOf: a user's devices, oldest first.
		{Keys: bson.D{{Key: "user_id", Value: 1}, {Key: "created_at", Value: 1}, {Key: "_id", Value: 1}}},
	},
	collOrgUnits: {
		// OrgUnits: the units under a path prefix (an anchored regex), in
		// path order. Unique: a path spells the ids from the root down.
		{Keys: bson.D{{Key: "path", Value: 1}}, Options: options.Index().SetUnique(true)},
	},
	collSessions: {
		// RevokeSessions and BindSessionDevice by family; RotateSession's
		// revocation of a reused token's family.
		{Keys: bson.D{{Key: "family", Value: 1}}},
		// RevokeSessions by user; CreateSession's pruning of the user's
		// ended families (user_id, expires_at ≤ now).
		{Keys: bson.D{{Key: "user_id", Value: 1}, {Key: "expires_at", Value: 1}}},
		// RevokeSessions by device.
		{Keys: bson.D{{Key: "device_id", Value: 1}}},
	},
	collActivations: {
		// CreateActivation deletes the user's previous code. Unique: a
		// user has at most one stored code, the current one.
		{Keys: bson.D{{Key: "user_id", Value: 1}}, Options: options.Index().SetUnique(true)},
	},
	collNotifications: {
		{Keys: bson.D{{Key: "state", Value: 1}, {Key: "next_at", Value: 1}}},
		{Keys: bson.D{{Key: "created_at", Value: -1}, {Key: "_id", Value: 1}}},
		// A person's in-app messages, newest first; the pacing's counts of
		// what one channel (and one person on it) was sent lately.
		{Keys: bson.D{{Key: "recipient", Value: 1}, {Key: "channel", Value: 1}, {Key: "created_at", Value: -1}}},
		{Keys: bson.D{{Key: "channel", Value: 1}, {Key: "state", Value: 1}, {Key: "done_at", Value: -1}}},
	},
	collAttempts: {
		// PruneAttempts: the counters whose window started before a time.
		{Keys: bson.D{{Key: "start", Value: 1}}},
	},
	collAudit: {
		// AuditLog filtered by actor, newest first.
		{Keys: bson.D{{Key: "actor", Value: 1}, {Key: "_id", Value: -1}}},
		// AuditLog filtered by action, newest first.
		{Keys: bson.D{{Key: "action", Value: 1}, {Key: "_id", Value: -1}}},
	},
}

// Open connects to the server at cfg.URI, checks that it is a replica set
// (or a sharded cluster) unless cfg.AllowStandalone, checks the schema
// version of cfg.Database and creates its collections and indexes when
// missing. Writes use write concern majority with journaling and reads
// read concern majority on the primary, whatever the URI says.
//
// It fails with storage.ErrInvalid for an empty URI or database, with an
// error wrapping ErrStandalone for a standalone server, and with one
// wrapping storage.ErrUnavailable when the server cannot be reached within
// cfg.Timeout (or ctx's deadline).
func Open(ctx context.Context, cfg Config) (*DB, error) {
	if cfg.URI == "" || cfg.Database == "" {
		return nil, fmt.Errorf("mongo: open: empty URI or database: %w", storage.ErrInvalid)
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}
	logger = logger.With("component", "storage/mongo", "database", cfg.Database)

	journal := true
	wc := &writeconcern.WriteConcern{W: writeconcern.WCMajority, Journal: &journal}
	opts := options.Client().ApplyURI(cfg.URI)
	hosts := strings.Join(opts.Hosts, ",")
	opts.SetAppName("pairsyncd").
		SetTimeout(timeout).
		SetServerSelectionTimeout(timeout).
		SetWriteConcern(wc).
		SetReadConcern(readconcern.Majority()).
		SetReadPreference(readpref.Primary())
	client, err := mongo.Connect(opts)
	if err != nil {
		return nil, fmt.Errorf("mongo: open %s: %w", hosts, mapErr(err))
	}
	fail := func(err error) (*DB, error) {
		_ = client.Disconnect(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("mongo: open %s/%s: %w", hosts, cfg.Database, err)
	}

	var hello struct {
		SetName string `bson:"setName"`
		Msg     string `bson:"msg"`
	}
	if err := client.Database("admin").RunCommand(ctx, bson.D{{Key: "hello", Value: 1}}).Decode(&hello); err != nil {
		return fail(fmt.Errorf("hello: %w", mapErr(err)))
	}
	standalone := hello.SetName == "" && hello.Msg != "isdbgrid"
	if standalone && !cfg.AllowStandalone {
		return fail(ErrStandalone)
	}
	noTxn := cfg.NoTransactions || cfg.AllowStandalone
	if noTxn {
		logger.Warn("TEST ONLY: MongoDB writes run WITHOUT transactions; concurrent commits may break gap-free, commit-ordered sequences and a crash may leave half a batch. Never run a server like this.",
			"standalone", standalone, "allow_standalone", cfg.AllowStandalone, "no_transactions", cfg.NoTransactions)
	}

	mdb := client.Database(cfg.Database)
	db := &DB{
		client:  client,
		name:    cfg.Database,
		timeout: timeout,
		noTxn:   noTxn,
		txn: options.Transaction().
			SetReadConcern(readconcern.Snapshot()).
			SetWriteConcern(wc).
			SetReadPreference(readpref.Primary()),
		records:     mdb.Collection(collRecords),
		heads:       mdb.Collection(collHeads),
		receipts:    mdb.Collection(collReceipts),
		pruned:      mdb.Collection(collPruned),
		users:       mdb.Collection(collUsers),
		devices:     mdb.Collection(collDevices),
		orgUnits:    mdb.Collection(collOrgUnits),
		signingKeys: mdb.Collection(collSigningKeys),
		sessions:    mdb.Collection(collSessions),
		activations: mdb.Collection(collActivations),
		audit:       mdb.Collection(collAudit),
		meta:        mdb.Collection(collMeta),
		secrets:     mdb.Collection(collSecrets),
		leases:      mdb.Collection(collLeases),
	}
	db.notifications = mdb.Collection(collNotifications)
	db.attempts = mdb.Collection(collAttempts)
	db.linearHeads = mdb.Collection(collHeads, options.Collection().SetReadConcern(readconcern.Linearizable()).SetReadPreference(readpref.Primary()))
	if err := db.checkSchema(ctx); err != nil {
		return fail(err)
	}
	if err := db.createCollections(ctx, mdb); err != nil {
		return fail(err)
	}
	if err := db.stampUnstamped(ctx); err != nil {
		return fail(err)
	}
	return db, nil
}

// checkSchema stores the schema version in a new database and refuses a
// database of another version.
func (db *DB) checkSchema(ctx context.Context) error {
	_, err := db.meta.InsertOne(ctx, bson.D{{Key: "_id", Value: "schema"}, {Key: "version", Value: schemaVersion}})
	if err == nil {
		return nil
	}
	if !mongo.IsDuplicateKeyError(err) {
		return fmt.Errorf("schema: %w", mapErr(err))
	}
	var doc struct {
		Version int `bson:"version"`
	}
	if err := db.meta.FindOne(ctx, bson.D{{Key: "_id", Value: "schema"}}).Decode(&doc); err != nil {
		return fmt.Errorf("schema: %w", mapErr(err))
	}
	if doc.Version != schemaVersion {
		return fmt.Errorf("unsupported schema version %d (want %d)", doc.Version, schemaVersion)
	}
	return nil
}

// createCollections creates the collections that do not exist yet (so that
// no transaction has to) and every index, idempotently.
func (db *DB) createCollections(ctx context.Context, mdb *mongo.Database) error {
	names, err := mdb.ListCollectionNames(ctx, bson.D{})
	if err != nil {
		return fmt.Errorf("list collections: %w", mapErr(err))
	}
	have := make(map[string]bool, len(names))
	for _, n := range names {
		have[n] = true
	}
	for _, c := range []string{
		collRecords, collHeads, collReceipts, collPruned, collUsers, collDevices, collOrgUnits,
		collSigningKeys, collSessions, collActivations, collAudit, collMeta, collSecrets, collLeases,
		collNotifications, collAttempts,
	} {
		if models := indexes[c]; len(models) > 0 {
			// Creates the collection too, when missing.
			if err := createIndexes(ctx, mdb.Collection(c), have[c], models); err != nil {
				return fmt.Errorf("indexes of %s: %w", c, mapErr(err))
			}
			continue
		}
		if have[c] {
			continue
		}
		if err := mdb.CreateCollection(ctx, c); err != nil && !isNamespaceExists(err) {
			return fmt.Errorf("create collection %s: %w", c, mapErr(err))
		}
	}
	return nil
}

// createIndexes creates the indexes of models that coll lacks, by name, in
// one CreateMany. (Creating an existing index again is a no-op for MongoDB
// but crashes FerretDB v1.24's handler for some of them, so Open asks
// first.) An index whose uniqueness differs from its model (users' phone,
// unique before issue 18 L3) is dropped first and made again. Two processes
// opening at once may both create one: MongoDB accepts the same index
// twice, and a drop the other process did already is no error.
func createIndexes(ctx context.Context, coll *mongo.Collection, exists bool, models []mongo.IndexModel) error {
	unique := map[string]bool{}
	if exists {
		specs, err := coll.Indexes().ListSpecifications(ctx)
		if err != nil {
			return err
		}
		for _, s := range specs {
			unique[s.Name] = s.Unique != nil && *s.Unique
		}
	}
	var missing []mongo.IndexModel
	for _, m := range models {
		name := indexName(m)
		u, have := unique[name]
		if have && u != modelUnique(m) {
			if err := coll.Indexes().DropOne(ctx, name); err != nil && !isIndexNotFound(err) {
				return fmt.Errorf("drop index %s to change its uniqueness: %w", name, err)
			}
			have = false
		}
		if !have {
			missing = append(missing, m)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	_, err := coll.Indexes().CreateMany(ctx, missing)
	return err
}

// modelUnique reports whether m makes a unique index.
func modelUnique(m mongo.IndexModel) bool {
	if m.Options == nil {
		return false
	}
	var o options.IndexOptions
	for _, set := range m.Options.List() {
		_ = set(&o)
	}
	return o.Unique != nil && *o.Unique
}

// isIndexNotFound reports a drop of an index that is gone already.
func isIndexNotFound(err error) bool {
	var ce mongo.CommandError
	return errors.As(err, &ce) && (ce.Code == 27 || ce.Name == "IndexNotFound")
}

// indexName is the name MongoDB gives an index by default: its keys and
// directions joined by "_" ("pairing_1_seq_1").
func indexName(m mongo.IndexModel) string {
	var parts []string
	for _, e := range m.Keys.(bson.D) {
		parts = append(parts, fmt.Sprintf("%s_%v", e.Key, e.Value))
	}
	return strings.Join(parts, "_")
}

// isNamespaceExists reports a create that lost a race with another process.
func isNamespaceExists(err error) bool {
	var ce mongo.CommandError
	return errors.As(err, &ce) && ce.HasErrorCode(48)
}

// Database returns the name of the database the DB uses.
func (db *DB) Database() string { return db.name }

// Close disconnects the client, waiting for running operations to finish.
// Calls after Close fail with an error wrapping storage.ErrUnavailable; a
// second Close returns nil.
func (db *DB) Close() error {
	if db.closed.Swap(true) {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), DefaultTimeout)
	defer cancel()
	if err := db.client.Disconnect(ctx); err != nil {
		return fmt.Errorf("mongo: close %s: %w", db.name, mapErr(err))
	}
	return nil
}

// Ping reports whether the primary answers; storage.ErrUnavailable when it
// does not, or after Close.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.begin(ctx); err != nil {
		return fmt.Errorf("mongo: ping: %w", err)
	}
	if err := db.client.Ping(ctx, readpref.Primary()); err != nil {
		return fmt.Errorf("mongo: ping: %w", unavailable(mapErr(err)))
	}
	return nil
}

// unavailable makes any failure of Ping an ErrUnavailable.
func unavailable(err error) error {
	if errors.Is(err, storage.ErrUnavailable) || errors.Is(err, context.Canceled) {
		return err
	}
	return fmt.Errorf("%w: %w", storage.ErrUnavailable, err)
}

// errClosed is returned, wrapped by each method, after Close.
var errClosed = fmt.Errorf("database closed: %w", storage.ErrUnavailable)

// begin checks, before an operation starts, that the DB is open and ctx is
// not done.
func (db *DB) begin(ctx context.Context) error {
	if db.closed.Load() {
		return errClosed
	}
	return ctx.Err()
}

// run runs fn outside a transaction (reads, and writes that are one atomic
// operation or need none), mapping its errors.
func (db *DB) run(ctx context.Context, fn func(ctx context.Context) error) error {
	if err := db.begin(ctx); err != nil {
		return err
	}
	return mapErr(fn(ctx))
}

// TransactionRetry is how long a transaction that keeps losing write
// conflicts to concurrent ones (a hot pairing) is retried, with backoff,
// when Config.Timeout is shorter; ctx's deadline may end it sooner.
const TransactionRetry = 30 * time.Second

// write runs fn in one transaction (snapshot reads, majority-journaled
// commit). A transient error (a write conflict with a concurrent
// transaction, a lost connection) aborts it and fn runs again from the
// start, in a new transaction, after a short jittered backoff, until
// TransactionRetry (or Config.Timeout if longer) has passed: fn must not
// keep state across calls. An error fn returns aborts the transaction:
// nothing fn wrote stays. With transactions off (Config.NoTransactions) fn
// runs once, directly.
func (db *DB) write(ctx context.Context, fn func(ctx context.Context) error) error {
	if err := db.begin(ctx); err != nil {
		return err
	}
	if db.noTxn {
		return mapErr(fn(ctx))
	}
	sess, err := db.client.StartSession()
	if err != nil {
		return mapErr(err)
	}
	defer sess.EndSession(context.WithoutCancel(ctx))
	deadline := time.Now().Add(max(TransactionRetry, db.timeout))
	for wait := time.Millisecond; ; wait = min(2*wait, 50*time.Millisecond) {
		err := db.attempt(ctx, sess, fn, deadline)
		if err == nil || !hasLabel(err, labelTransient) || ctx.Err() != nil {
			return mapErr(err)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("transaction still failing after %v: %w: %w", max(TransactionRetry, db.timeout), storage.ErrUnavailable, err)
		}
		select {
		case <-ctx.Done():
			return mapErr(err)
		case <-time.After(wait/2 + rand.N(wait)): // jitter: concurrent losers spread out
		}
	}
}

// Error labels the server and the driver put on transaction errors.
const (
	labelTransient     = "TransientTransactionError"
	labelUnknownCommit = "UnknownTransactionCommitResult"
)

// attempt runs fn in one transaction of sess and commits it, retrying the
// commit itself while its outcome is unknown (it is idempotent).
func (db *DB) attempt(ctx context.Context, sess *mongo.Session, fn func(ctx context.Context) error, deadline time.Time) error {
	if err := sess.StartTransaction(db.txn); err != nil {
		return err
	}
	if err := fn(mongo.NewSessionContext(ctx, sess)); err != nil {
		_ = sess.AbortTransaction(context.WithoutCancel(ctx))
		return err
	}
	for {
		// Once fn has run, the commit runs to its end (bounded by the
		// client's timeout) even if ctx is canceled meanwhile.
		err := sess.CommitTransaction(context.WithoutCancel(ctx))
		var ce mongo.CommandError
		if err != nil && hasLabel(err, labelUnknownCommit) && !(errors.As(err, &ce) && ce.IsMaxTimeMSExpiredError()) &&
			time.Now().Before(deadline) {
			continue
		}
		return err
	}
}

// hasLabel reports whether err carries the error label.
func hasLabel(err error, label string) bool {
	var le mongo.LabeledError
	return errors.As(err, &le) && le.HasErrorLabel(label)
}

// mapErr turns the driver's timeouts, network and server-selection errors
// and its "disconnected" into errors wrapping storage.ErrUnavailable (and
// still the driver's error). Other errors pass unchanged.
func mapErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, storage.ErrUnavailable), errors.Is(err, context.Canceled):
		return err
	case errors.Is(err, mongo.ErrClientDisconnected):
		return fmt.Errorf("%w: %w", errClosed, err)
	case mongo.IsTimeout(err), mongo.IsNetworkError(err), errors.As(err, new(topology.ServerSelectionError)), poolCleared(err):
		return fmt.Errorf("%w: %w", storage.ErrUnavailable, err)
	}
	return err
}

// poolCleared reports the driver's "connection pool … was cleared because
// another operation failed": after a connection broke, operations fail so
// until the server is seen again. Transient, like a network error: the
// request gets 503 with Retry-After, not 500.
func poolCleared(err error) bool {
	var pe driver.RetryablePoolError
	return errors.As(err, &pe) && pe.Retryable()
}

// byID reads the document with _id id from coll and converts it to its
// storage type; storage.ErrNotFound when there is none, what naming the
// kind in the error.
func byID[D, T any](ctx context.Context, db *DB, coll *mongo.Collection, what, id string, conv func(D) T) (T, error) {
	var doc D
	err := db.run(ctx, func(ctx context.Context) error {
		return found(coll.FindOne(ctx, d("_id", id)).Decode(&doc))
	})
	if err != nil {
		var zero T
		return zero, fmt.Errorf("mongo: %s %s: %w", what, id, err)
	}
	return conv(doc), nil
}

// found turns the driver's "no document" into storage.ErrNotFound.
func found(err error) error {
	if errors.Is(err, mongo.ErrNoDocuments) {
		return storage.ErrNotFound
	}
	return err
}

// millis is how every stored time is kept: UTC, millisecond precision (what
// BSON dates hold). The zero time stays zero.
func millis(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC().Truncate(time.Millisecond)
}

// ceilMillis is the first millisecond at or after t: for a time stored at
// millisecond precision s, s < t ⇔ s < ceilMillis(t) and s ≥ t ⇔
// s ≥ ceilMillis(t), while the driver sends a query's time truncated.
func ceilMillis(t time.Time) time.Time {
	m := t.UTC().Truncate(time.Millisecond)
	if m.Before(t) {
		m = m.Add(time.Millisecond)
	}
	return m
}

// now is the time adapters stamp: UTC, millisecond precision.
func now() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }

// find runs a query and decodes every document it returns, closing the
// cursor and checking its error.
func find[T any](ctx context.Context, coll *mongo.Collection, filter any, opts ...options.Lister[options.FindOptions]) ([]T, error) {
	cur, err := coll.Find(ctx, filter, opts...)
	if err != nil {
		return nil, err
	}
	defer cur.Close(context.WithoutCancel(ctx))
	var out []T
	for cur.Next(ctx) {
		var v T
		if err := cur.Decode(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	if err := cur.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// d is shorthand for a one-field bson.D.
func d(key string, value any) bson.D { return bson.D{{Key: key, Value: value}} }
