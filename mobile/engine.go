package mobile

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/klauspost/compress/gzip"
	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/pairsync/pairsync/syncproto"
)

// Errors the engine returns; test them with errors.Is.
var (
	// ErrNotSignedIn: the engine has no registered device yet (SignIn
	// first), or its local data was wiped. Local writes need the device:
	// its id is the replica id that stamps them.
	ErrNotSignedIn = errors.New("mobile: not signed in: sign in once (online) to register this device")
	// ErrSignInRequired: the session ended (refresh token expired, revoked
	// or reused). Local data is kept; SignIn again and Sync.
	ErrSignInRequired = errors.New("mobile: the session ended: sign in again (local data is kept)")
	// ErrDeviceRevoked: the server revoked this device. Sync pushes what it
	// can, then wipes local data. A *ServerError with code device_revoked
	// matches it too.
	ErrDeviceRevoked = errors.New("mobile: this device was revoked")
	// ErrNotFound: no such record (Delete and Keep need one).
	ErrNotFound = errors.New("mobile: no such record")
	// ErrClosed: the engine was closed.
	ErrClosed = errors.New("mobile: engine closed")
)

// ServerError is an error answer of the server: its HTTP status and the
// wire problem ({"code","message","field"}). Message is meant for people.
type ServerError struct {
	Status  int
	Code    syncproto.Code
	Message string
	Field   string

	retryAfter string // the answer's Retry-After header
}

func (e *ServerError) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("server answered %d %s (%s): %s", e.Status, e.Code, e.Field, e.Message)
	}
	return fmt.Sprintf("server answered %d %s: %s", e.Status, e.Code, e.Message)
}

// Is makes a device_revoked answer match ErrDeviceRevoked.
func (e *ServerError) Is(target error) bool {
	return target == ErrDeviceRevoked && e.Code == syncproto.CodeDeviceRevoked
}

// Config tunes an Engine. Zero values take the documented defaults.
type Config struct {
	// Transport carries the HTTP requests (default http.DefaultTransport).
	// Tests inject faults here.
	Transport http.RoundTripper
	// RequestTimeout bounds one HTTP request (default 60s).
	RequestTimeout time.Duration
	// MaxChanges caps the changes of one push request (default and
	// maximum 500, the server's limit).
	MaxChanges int
	// MaxPushBytes caps the encoded size of one push request (default
	// 960 KiB, under the server's 1 MiB body limit). A single change over
	// it is sent alone.
	MaxPushBytes int
	// PlainPush sends push bodies as they are. By default a push body of
	// 1 KiB or more goes gzip-compressed (Content-Encoding: gzip; about a
	// third of the bytes for visits): the server decodes it within the same
	// body limit (issue 20). A server that refuses gzip with 415 gets plain
	// bodies from then on.
	PlainPush bool
	// PullLimit asks for at most this many records per pull page (0: the
	// server's default, 500).
	PullLimit int
	// MaxAttempts bounds the attempts of one request answered 503 or 429
	// (default 5). Network errors are not retried within a Sync for
	// records: it returns, and the app calls Sync again later. A photo is
	// tried up to MaxAttempts times on network errors, 5xx and 429 alike,
	// resuming with the parts the server lacks.
	MaxAttempts int
	// MaxRetryWait caps one wait between attempts, whatever Retry-After
	// says (default 60s).
	MaxRetryWait time.Duration
	// Now is the clock (default time.Now). It stamps HLCs and decides
	// when the access token needs refreshing.
	Now func() time.Time
	// Logger receives a few lines per sync (default: discarded). Tokens
	// and passwords are never logged.
	Logger *slog.Logger
	// Language is the Accept-Language sent with every request: the
	// language of the server's messages (Chinese when it prefers zh or is
	// empty, English when it prefers en). Default "en": fieldctl is an
	// English command-line tool; an app for people passes the language
	// its person chose ("zh-CN").
	Language string
	// OnProgress, when set, is called (on the syncing goroutine) after
	// every step of a Sync. It must not call Sync, SignIn or Reset.
	OnProgress func(Progress)

	// PhotoDir holds the photos waiting to be uploaded, one file per
	// photo named by its SHA-256 (default: beside the store, "<name>-photos"
	// for a store "<name>.db").
	PhotoDir string
	// WiFiOnly holds photos back unless OnWiFi reports a Wi-Fi (or other
	// unmetered) network; records sync on any network. Without OnWiFi,
	// WiFiOnly holds every photo.
	WiFiOnly bool
	// OnWiFi reports whether the phone is on Wi-Fi now. It is asked before
	// each photo.
	OnWiFi func() bool
}

func (c *Config) setDefaults() {
	if c.Language == "" {
		c.Language = "en"
	}
	if c.Transport == nil {
		c.Transport = http.DefaultTransport
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = 60 * time.Second
	}
	if c.MaxChanges <= 0 || c.MaxChanges > maxChanges {
		c.MaxChanges = maxChanges
	}
	if c.MaxPushBytes <= 0 {
		c.MaxPushBytes = 960 << 10
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 5
	}
	if c.MaxRetryWait <= 0 {
		c.MaxRetryWait = 60 * time.Second
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// photoDirFor is the default PhotoDir of the store at path.
func photoDirFor(path string) string {
	base := filepath.Base(path)
	return filepath.Join(filepath.Dir(path), strings.TrimSuffix(base, filepath.Ext(base))+"-photos")
}

// maxChanges is the server's limit on changes per push.
const maxChanges = 500

// Engine is the field client's sync engine over one local bolt file: the
// base (records as the server last sent them), the outbox of local writes,
// the rejected writes, the cursor and the session. Local writes work
// offline once the device is registered (SignIn); Sync exchanges them with
// the server. Safe for concurrent use; one Sync or SignIn runs at a time,
// local writes may go on meanwhile.
type Engine struct {
	cfg    Config
	db     *bolt.DB
	http   *http.Client
	log    *slog.Logger
	syncMu sync.Mutex // one Sync or SignIn at a time
	photos string     // Config.PhotoDir
	// photoMu orders changes of a photo's entry with its file's.
	photoMu sync.Mutex
	closed  atomic.Bool
	// noGzip: the server refused a gzip push body (415); push plain.
	noGzip atomic.Bool
	// zw compresses push bodies (gzipParts), under syncMu.
	zw *gzip.Writer
	// recent: this engine's own writes, ready to push (recent.go).
	recent recentWrites
}

// Open opens (creating if needed) the engine's local store at path.
func Open(path string, cfg Config) (*Engine, error) {
	cfg.setDefaults()
	if path == "" {
		return nil, errors.New("mobile: open: empty path")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("mobile: open %s: %w", path, err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return nil, fmt.Errorf("mobile: open %s: %w", path, err)
	}
	if err := db.Update(createBuckets); err != nil {
		db.Close()
		return nil, fmt.Errorf("mobile: open %s: %w", path, err)
	}
	if cfg.PhotoDir == "" {
		cfg.PhotoDir = photoDirFor(path)
	}
	if err := os.MkdirAll(cfg.PhotoDir, 0o700); err != nil {
		db.Close()
		return nil, fmt.Errorf("mobile: open %s: %w", cfg.PhotoDir, err)
	}
	e := &Engine{
		cfg:    cfg,
		db:     db,
		http:   &http.Client{Transport: cfg.Transport, Timeout: cfg.RequestTimeout},
		log:    cfg.Logger.With("component", "mobile"),
		photos: cfg.PhotoDir,
	}
	e.cleanPhotoDir()
	return e, nil
}

// Close closes the local store. A Sync in flight fails; a photo upload in
// flight stops before its next request.
func (e *Engine) Close() error {
	e.closed.Store(true)
	if err := e.db.Close(); err != nil {
		return fmt.Errorf("mobile: close: %w", err)
	}
	return nil
}

// DeviceID returns the registered device's id (its replica id), or "".
func (e *Engine) DeviceID() string {
	var id string
	_ = e.db.View(func(tx *bolt.Tx) error {
		if s, ok, _ := loadSession(tx); ok {
			id = s.DeviceID
		}
		return nil
	})
	return id
}

// SignedIn reports whether the engine holds a session (it may still have
// expired on the server: Sync then answers ErrSignInRequired).
func (e *Engine) SignedIn() bool {
	ok := false
	_ = e.db.View(func(tx *bolt.Tx) error {
		s, found, _ := loadSession(tx)
		ok = found && s.RefreshToken != ""
		return nil
	})
	return ok
}

// Reset wipes every local thing: records, outbox, rejected writes, cursor,
// queued photos, session and device. Pending writes are lost; push them first.
func (e *Engine) Reset() error {
	e.syncMu.Lock()
	defer e.syncMu.Unlock()
	return e.wipe()
}

func (e *Engine) wipe() error {
	defer e.recent.clear()
	err := e.db.Update(func(tx *bolt.Tx) error {
		for _, b := range allBuckets {
			if err := tx.DeleteBucket(b); err != nil && !errors.Is(err, berrors.ErrBucketNotFound) {
				return err
			}
		}
		return createBuckets(tx)
	})
	if err != nil {
		return fmt.Errorf("mobile: wipe: %w", err)
	}
	if err := e.removePhotoFiles(); err != nil {
		return fmt.Errorf("mobile: wipe: %w", err)
	}
	return nil
}

func (e *Engine) now() time.Time { return e.cfg.Now() }

// dbErr maps bolt's closed-database error to ErrClosed.
func dbErr(err error) error {
	if errors.Is(err, berrors.ErrDatabaseNotOpen) {
		return ErrClosed
	}
	return err
}
