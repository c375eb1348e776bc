package servertest

import (
	"context"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/pairsync/pairsync/server/auth"
	"github.com/pairsync/pairsync/storage"
	"github.com/pairsync/pairsync/storage/bolt"
	"github.com/pairsync/pairsync/storage/files"
)

// Options say what a World is made of. The zero value is an empty bolt file
// and photo folder.
type Options struct {
	// Fixture is what the stores hold before the server starts.
	Fixture Fixture
	// Store is the records' store; nil: a bolt file in a temporary folder.
	Store storage.Store
	// Photos is the photo store; nil: a folder beside the bolt file.
	Photos storage.Photos
	// Fsync makes the bolt file sync every commit to disk, as pairsyncd
	// does; off, a test runs faster and loses nothing (it never loses power).
	Fsync bool
	// PasswordParams hash the fixture's passwords and should be the
	// server's; zero: FastPasswords.
	PasswordParams auth.Params
}

// A World is stores, seeded, and (after Serve) a server on 127.0.0.1. Its
// Client talks to that server.
type World struct {
	Client
	Store  storage.Store
	DB     *bolt.DB // the bolt file the world opened; nil when Options.Store was given
	Photos storage.Photos
	Clock  *Clock
	// PasswordParams are those the fixture's passwords were hashed with.
	PasswordParams auth.Params
	Units          map[string]storage.OrgUnit // by id
	Users          map[string]storage.User    // by user name

	dir     *Directory
	service Service
}

// Service is a server the world can run: *server.Server.
type Service interface {
	Serve(net.Listener) error
	Shutdown(context.Context) error
}

// New opens the stores of o and seeds them with o.Fixture.
func New(t testing.TB, o Options) *World {
	t.Helper()
	w := &World{Client: Client{TB: t}, Store: o.Store, Photos: o.Photos, Clock: NewClock(time.Now()), PasswordParams: o.PasswordParams}
	if w.PasswordParams == (auth.Params{}) {
		w.PasswordParams = FastPasswords
	}
	db, photos := OpenStores(t, o.Fsync)
	if w.Store == nil {
		w.Store, w.DB = db, db
	}
	if w.Photos == nil {
		w.Photos = photos
	}
	w.dir = NewDirectory(w.Store)
	w.Units, w.Users = Seed(t, w.Store, w.dir, w.PasswordParams, o.Fixture)
	return w
}

// OpenStores opens a bolt file and a photo folder in a temporary
// directory, closed when the test ends; fsync as Options.Fsync.
func OpenStores(t testing.TB, fsync bool) (*bolt.DB, *files.Store) {
	t.Helper()
	dir := t.TempDir()
	db, err := bolt.Open(t.Context(), bolt.Config{Path: filepath.Join(dir, "pairsync.db"), NoSync: !fsync})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	photos, err := files.Open(filepath.Join(dir, "photos"))
	if err != nil {
		t.Fatal(err)
	}
	return db, photos
}

// Serve runs s on 127.0.0.1 until the test ends (or Stop), points the
// world's Client at it and returns its base URL.
func (w *World) Serve(s Service) string {
	w.TB.Helper()
	w.service = s
	w.URL = Serve(w.TB, s)
	return w.URL
}

// Stop shuts the world's server down before the test ends.
func (w *World) Stop() {
	if w.service != nil {
		_ = w.service.Shutdown(context.Background())
	}
}

// Serve runs s on 127.0.0.1:0 until the test ends and returns its base URL.
func Serve(t testing.TB, s Service) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(ln)
	t.Cleanup(func() { _ = s.Shutdown(context.Background()) })
	return "http://" + ln.Addr().String()
}
