package bolt

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/pairsync/pairsync/storage"
	bbolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// ErrLocked is returned (wrapped) by Open when another process, or another
// open handle in this one, holds the database file: the data directory is in
// use by another pairsyncd.
var ErrLocked = errors.New("data directory is in use by another pairsyncd")

// DefaultLockTimeout is how long Open waits for the file lock when
// Config.LockTimeout is zero.
const DefaultLockTimeout = time.Second

// schemaVersion is written to the meta bucket of a new file; Open migrates
// a file of an older version (migrate) and refuses a newer one.
//
//	1  users_by_phone held phone → id: a phone was unique.
//	2  users_by_phone holds str(phone) ‖ id → empty: several users may
//	   share a phone (issue 18 L3).
const schemaVersion = 3

// Bucket names; see the package documentation for their layout.
var (
	bucketMeta     = []byte("meta")
	bucketRecords  = []byte("records")
	bucketHeads    = []byte("heads")
	bucketHorizons = []byte("horizons")
	bucketLog      = []byte("log")
	bucketReceipts = []byte("receipts")
	bucketPruned   = []byte("receipts_pruned")
	// bucketAcked: str(replica) → u64, the highest Receipt.Acked written.
	bucketAcked         = []byte("receipts_acked")
	bucketUsers         = []byte("users")
	bucketUsersByName   = []byte("users_by_name")
	bucketUsersByPhone  = []byte("users_by_phone")
	bucketDevices       = []byte("devices")
	bucketDevicesByUser = []byte("devices_by_user")

	// Identity (identity.go in package storage): buckets added without a
	// schema change, created on Open in files written before them.
	bucketOrgUnits          = []byte("org_units")
	bucketOrgUnitsByPath    = []byte("org_units_by_path")
	bucketSigningKeys       = []byte("signing_keys")
	bucketSessions          = []byte("sessions")
	bucketSessionsByFamily  = []byte("sessions_by_family")
	bucketSessionsByUser    = []byte("sessions_by_user")
	bucketSessionsByDevice  = []byte("sessions_by_device")
	bucketActivations       = []byte("activations")
	bucketActivationsByUser = []byte("activations_by_user")
	bucketAudit             = []byte("audit")
	bucketSecrets           = []byte("secrets")
	bucketLeases            = []byte("leases")
	// The notification outbox (notifications.go).
	bucketNotifications        = []byte("notifications")
	bucketNotificationsPending = []byte("notifications_pending")
	// The throttles' counters (attempts.go).
	bucketAttempts = []byte("attempts")
	// The heads feed (heads.go): stamp → pairing, and pairing → stamp.
	bucketHeadsByStamp = []byte("heads_by_stamp")
	bucketHeadStamps   = []byte("head_stamps")

	keySchema = []byte("schema")
	// keyOrgUnitsVersion (meta) counts the org-unit writes (orgunits.go).
	keyOrgUnitsVersion = []byte("org_units_version")
	// keyCommitStamp (meta) is the last store-wide commit stamp (heads.go).
	keyCommitStamp = []byte("commit_stamp")
)

// Config configures Open.
type Config struct {
	// Path is the database file; it is created, with its parent directory,
	// when missing. Required.
	Path string
	// LockTimeout bounds how long Open waits for the exclusive file lock
	// before failing with ErrLocked. Zero or negative means
	// DefaultLockTimeout (1s).
	LockTimeout time.Duration
	// NoSync skips fsync on commit. UNSAFE: a crash of the machine may lose
	// acknowledged writes or corrupt the file. For tests and benchmarks only;
	// never set it in a server.
	NoSync bool
}

// DB is a storage.Store on one bbolt file. Safe for concurrent use. Open
// returns it; Close releases it.
type DB struct {
	bolt   *bbolt.DB
	path   string
	closed atomic.Bool
	group  committer // Commit's group commit
}

var _ storage.Store = (*DB)(nil)

// Open opens (or creates) the database file at cfg.Path and takes an
// exclusive lock on it. If the file is locked by another process or handle,
// Open fails within cfg.LockTimeout with an error wrapping ErrLocked that
// names the path; it never waits longer. It fails with storage.ErrInvalid
// when cfg.Path is empty, and with ctx's error when ctx is done before the
// file is opened.
func Open(ctx context.Context, cfg Config) (*DB, error) {
	if cfg.Path == "" {
		return nil, fmt.Errorf("bolt: open: empty path: %w", storage.ErrInvalid)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("bolt: open %s: %w", cfg.Path, err)
	}
	timeout := cfg.LockTimeout
	if timeout <= 0 {
		timeout = DefaultLockTimeout
	}
	if err := os.MkdirAll(filepath.Dir(cfg.Path), 0o750); err != nil {
		return nil, fmt.Errorf("bolt: open %s: %w", cfg.Path, err)
	}
	_, statErr := os.Stat(cfg.Path)
	created := errors.Is(statErr, fs.ErrNotExist)
	bdb, err := bbolt.Open(cfg.Path, 0o600, &bbolt.Options{
		Timeout:      timeout,
		NoSync:       cfg.NoSync,
		FreelistType: bbolt.FreelistMapType,
	})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("bolt: open %s: %w (file lock not acquired within %s)", cfg.Path, ErrLocked, timeout)
	}
	if err != nil {
		return nil, fmt.Errorf("bolt: open %s: %w", cfg.Path, err)
	}
	if err := bdb.Update(initBuckets); err != nil {
		_ = bdb.Close()
		return nil, fmt.Errorf("bolt: open %s: %w", cfg.Path, err)
	}
	if created && !cfg.NoSync {
		// bbolt syncs the file, not the directory entry of a new file.
		if err := syncDir(filepath.Dir(cfg.Path)); err != nil {
			_ = bdb.Close()
			return nil, fmt.Errorf("bolt: open %s: %w", cfg.Path, err)
		}
	}
	return &DB{bolt: bdb, path: cfg.Path}, nil
}

// initBuckets creates the top-level buckets and checks the schema version.
func initBuckets(tx *bbolt.Tx) error {
	for _, name := range [][]byte{
		bucketMeta, bucketRecords, bucketHeads, bucketHorizons, bucketLog, bucketReceipts, bucketPruned, bucketAcked,
		bucketUsers, bucketUsersByName, bucketUsersByPhone,
		bucketDevices, bucketDevicesByUser,
		bucketOrgUnits, bucketOrgUnitsByPath, bucketSigningKeys,
		bucketSessions, bucketSessionsByFamily, bucketSessionsByUser, bucketSessionsByDevice,
		bucketActivations, bucketActivationsByUser, bucketAudit, bucketSecrets, bucketLeases,
		bucketNotifications, bucketNotificationsPending, bucketAttempts,
		bucketHeadsByStamp, bucketHeadStamps,
	} {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return fmt.Errorf("create bucket %s: %w", name, err)
		}
	}
	meta := tx.Bucket(bucketMeta)
	v := meta.Get(keySchema)
	if v == nil {
		return meta.Put(keySchema, u64(schemaVersion))
	}
	if err := stampUnstamped(tx); err != nil {
		return err
	}
	if len(v) != 8 || binary.BigEndian.Uint64(v) == 0 || binary.BigEndian.Uint64(v) > schemaVersion {
		return fmt.Errorf("unsupported schema version %x (want at most %d)", v, schemaVersion)
	}
	return migrate(tx, binary.BigEndian.Uint64(v))
}

// Path returns the database file's path.
func (db *DB) Path() string { return db.path }

// Close releases the file and its lock, waiting for running transactions to
// finish. Calls after Close fail with an error wrapping
// storage.ErrUnavailable; a second Close returns nil.
func (db *DB) Close() error {
	if db.closed.Swap(true) {
		return nil
	}
	if err := db.bolt.Close(); err != nil {
		return fmt.Errorf("bolt: close %s: %w", db.path, err)
	}
	return nil
}

// Ping reports whether the database is open and readable; it returns
// storage.ErrUnavailable after Close.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.view(ctx, func(tx *bbolt.Tx) error {
		if tx.Bucket(bucketMeta) == nil {
			return errors.New("meta bucket missing")
		}
		return nil
	}); err != nil {
		return fmt.Errorf("bolt: ping: %w", err)
	}
	return nil
}

// errClosed is returned, wrapped by each method, after Close.
var errClosed = fmt.Errorf("database closed: %w", storage.ErrUnavailable)

// begin checks, before a transaction starts, that the DB is open and ctx is
// not done.
func (db *DB) begin(ctx context.Context) error {
	if db.closed.Load() {
		return errClosed
	}
	return ctx.Err()
}

// view runs fn in a read-only transaction.
func (db *DB) view(ctx context.Context, fn func(*bbolt.Tx) error) error {
	if err := db.begin(ctx); err != nil {
		return err
	}
	return mapErr(db.bolt.View(fn))
}

// update runs fn in one read-write transaction, committed (and fsync'd
// unless Config.NoSync) only if fn returns nil.
func (db *DB) update(ctx context.Context, fn func(*bbolt.Tx) error) error {
	if err := db.begin(ctx); err != nil {
		return err
	}
	return mapErr(db.bolt.Update(fn))
}

// mapErr turns bbolt's "not open" (a call racing with Close) into errClosed.
func mapErr(err error) error {
	if errors.Is(err, berrors.ErrDatabaseNotOpen) {
		return errClosed
	}
	return err
}

// syncDir fsyncs a directory, making the entries created in it durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}

// u64 encodes n as 8 bytes big-endian, so that byte order is numeric order.
func u64(n uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, n)
	return b
}

// appendStr appends s with a uvarint length prefix, so that concatenated
// fields decode unambiguously whatever bytes they hold.
func appendStr(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// readStr reads a string written by appendStr and returns the rest of b.
func readStr(b []byte) (string, []byte, error) {
	n, w := binary.Uvarint(b)
	if w <= 0 || uint64(len(b)-w) < n {
		return "", nil, errors.New("corrupt length-prefixed string")
	}
	return string(b[w : w+int(n)]), b[w+int(n):], nil
}
