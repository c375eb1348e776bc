package bolt_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pairsync/pairsync/storage"
	"github.com/pairsync/pairsync/storage/bolt"
	"github.com/pairsync/pairsync/storage/storagetest"
)

// openAt opens the database at path (fsync on, as in production) and closes
// it when the test ends.
func openAt(t testing.TB, path string) *bolt.DB {
	t.Helper()
	db, err := bolt.Open(context.Background(), bolt.Config{Path: path})
	if err != nil {
		t.Fatalf("open %s: got error %v, want none", path, err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("close %s: got error %v, want none", path, err)
		}
	})
	return db
}

func TestConformance(t *testing.T) {
	storagetest.TestStoreWith(t,
		func(t *testing.T) storage.Store { return openAt(t, filepath.Join(t.TempDir(), "pairsync.db")) },
		storagetest.Options{
			Reopen: func(t *testing.T, closed storage.Store) storage.Store {
				return openAt(t, closed.(*bolt.DB).Path())
			},
		})
}

func TestLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data", "pairsync.db")
	openAt(t, path)
	for _, tc := range []struct {
		name    string
		timeout time.Duration
		within  time.Duration
	}{
		{"short timeout", 100 * time.Millisecond, 5 * time.Second},
		{"default timeout", 0, 10 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			db, err := bolt.Open(t.Context(), bolt.Config{Path: path, LockTimeout: tc.timeout})
			elapsed := time.Since(start)
			if err == nil {
				db.Close()
				t.Fatalf("second open: got no error, want ErrLocked")
			}
			if !errors.Is(err, bolt.ErrLocked) {
				t.Fatalf("second open: got error %v, want ErrLocked", err)
			}
			for _, want := range []string{path, "in use by another pairsyncd"} {
				if !strings.Contains(err.Error(), want) {
					t.Fatalf("second open: got message %q, want it to name %q", err, want)
				}
			}
			if elapsed > tc.within {
				t.Fatalf("second open: got its error after %v, want it within %v (fail fast, never hang)", elapsed, tc.within)
			}
			t.Logf("second open failed after %v: %v", elapsed.Round(time.Millisecond), err)
		})
	}
}

func TestReopenAfterClose(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pairsync.db")
	db, err := bolt.Open(t.Context(), bolt.Config{Path: path})
	if err != nil {
		t.Fatalf("open: got error %v, want none", err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("close: got error %v, want none", err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("second close: got error %v, want none", err)
	}
	err = db.Ping(t.Context())
	if !errors.Is(err, storage.ErrUnavailable) {
		t.Fatalf("ping after close: got error %v, want ErrUnavailable", err)
	}
	openAt(t, path) // the lock was released
}

func TestOpenRefused(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	for _, tc := range []struct {
		name string
		ctx  context.Context
		cfg  bolt.Config
		want error
	}{
		{"empty path", t.Context(), bolt.Config{}, storage.ErrInvalid},
		{"canceled", ctx, bolt.Config{Path: filepath.Join(t.TempDir(), "x.db")}, context.Canceled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db, err := bolt.Open(tc.ctx, tc.cfg)
			if err == nil {
				db.Close()
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("open: got error %v, want %v", err, tc.want)
			}
		})
	}
}

// TestConformanceSerial runs the suite as a serial-only adapter (FerretDB)
// will, to keep that mode working: the concurrent cases skip, saying why.
func TestConformanceSerial(t *testing.T) {
	storagetest.TestStoreWith(t,
		func(t *testing.T) storage.Store { return openAt(t, filepath.Join(t.TempDir(), "pairsync.db")) },
		storagetest.Options{Serial: true, SerialReason: "exercising Options.Serial on bolt"})
}
