package bolt

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/pairsync/pairsync/storage"
	bbolt "go.etcd.io/bbolt"
)

func hashOf(name string) string {
	h := sha256.Sum256([]byte(name))
	return hex.EncodeToString(h[:])
}

// TestSessionIndexes checks the layout behind RevokeSessions and
// BindSessionDevice after a mix of operations: every token has exactly its
// family, user and device entries, and no index entry outlives its token.
// It also checks the lazy pruning of CreateSession.
func TestSessionIndexes(t *testing.T) {
	ctx := context.Background()
	db := openTemp(t)
	t0 := time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC)
	create := func(name, family, user, device string, expires time.Time) {
		t.Helper()
		err := db.CreateSession(ctx, storage.Session{TokenHash: hashOf(name), Family: family, UserID: user, DeviceID: device, IssuedAt: t0, ExpiresAt: expires})
		if err != nil {
			t.Fatalf("create %s: got error %v, want none", name, err)
		}
	}
	rotate := func(name, next string, now time.Time) {
		t.Helper()
		if _, err := db.RotateSession(ctx, hashOf(name), now, storage.Session{TokenHash: hashOf(next)}); err != nil {
			t.Fatalf("rotate %s: got error %v, want none", name, err)
		}
	}
	end := t0.Add(30 * 24 * time.Hour)
	create("a1", "fa", "u1", "", end)
	rotate("a1", "a2", t0.Add(time.Minute))
	if err := db.BindSessionDevice(ctx, "fa", "d1"); err != nil {
		t.Fatal(err)
	}
	rotate("a2", "a3", t0.Add(2*time.Minute))
	if err := db.BindSessionDevice(ctx, "fa", "d2"); err != nil {
		t.Fatal(err)
	}
	create("b1", "fb", "u1", "d1", t0.Add(time.Hour)) // expires early
	create("c1", "fc", "u2", "d3", t0.Add(time.Hour)) // expires early, another user
	create("e1", "fe", "u1", "d1", end)
	if _, err := db.RevokeSessions(ctx, storage.SessionFilter{Family: "fe"}, t0); err != nil {
		t.Fatal(err)
	}
	if _, err := db.RotateSession(ctx, hashOf("a1"), t0.Add(3*time.Minute), storage.Session{TokenHash: hashOf("a9")}); !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("reuse a1: got error %v, want ErrConflict", err)
	}
	checkSessionIndexes(t, db, []string{"a1", "a2", "a3", "b1", "c1", "e1"})

	// A sign-in of u1 after b1 expired prunes b1 (u1's), not c1 (u2's).
	later := t0.Add(2 * time.Hour)
	if err := db.CreateSession(ctx, storage.Session{TokenHash: hashOf("g1"), Family: "fg", UserID: "u1", IssuedAt: later, ExpiresAt: end}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Session(ctx, hashOf("b1")); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("b1 after u1 signed in past its end: got error %v, want ErrNotFound (pruned)", err)
	}
	if _, err := db.Session(ctx, hashOf("c1")); err != nil {
		t.Fatalf("c1 (another user's) after u1 signed in: got error %v, want none", err)
	}
	checkSessionIndexes(t, db, []string{"a1", "a2", "a3", "c1", "e1", "g1"})
}

// checkSessionIndexes checks that the sessions bucket holds exactly the
// named tokens and that the three indexes hold exactly their entries.
func checkSessionIndexes(t *testing.T, db *DB, names []string) {
	t.Helper()
	err := db.bolt.View(func(tx *bbolt.Tx) error {
		b := sessionsOf(tx)
		var want, gotTokens []string
		wantIndex := map[string][]string{}
		for _, name := range names {
			want = append(want, hashOf(name))
		}
		err := b.sessions.ForEach(func(k, _ []byte) error {
			d, err := b.get(string(k))
			if err != nil {
				return err
			}
			gotTokens = append(gotTokens, string(k))
			wantIndex["family"] = append(wantIndex["family"], string(ownedKey(d.Family, d.TokenHash)))
			wantIndex["user"] = append(wantIndex["user"], string(ownedKey(d.UserID, d.TokenHash)))
			if d.DeviceID != "" {
				wantIndex["device"] = append(wantIndex["device"], string(ownedKey(d.DeviceID, d.TokenHash)))
			}
			return nil
		})
		if err != nil {
			return err
		}
		slices.Sort(want)
		if !slices.Equal(gotTokens, want) {
			return fmt.Errorf("got %d tokens, want %d (%v)", len(gotTokens), len(want), names)
		}
		for name, index := range map[string]*bbolt.Bucket{"family": b.byFamily, "user": b.byUser, "device": b.byDevice} {
			var got []string
			if err := index.ForEach(func(k, _ []byte) error { got = append(got, string(k)); return nil }); err != nil {
				return err
			}
			w := wantIndex[name]
			slices.Sort(w)
			if !slices.Equal(got, w) {
				return fmt.Errorf("%s index: got %d entries %q, want %d %q", name, len(got), got, len(w), w)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestActivationIndex checks that a user has at most one stored code and
// that activations_by_user points at it.
func TestActivationIndex(t *testing.T) {
	ctx := context.Background()
	db := openTemp(t)
	t0 := time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC)
	for _, c := range []struct{ name, user string }{{"a", "u1"}, {"b", "u2"}, {"c", "u1"}, {"d", "u1"}} {
		if err := db.CreateActivation(ctx, storage.Activation{CodeHash: hashOf(c.name), UserID: c.user, ExpiresAt: t0.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.ConsumeActivation(ctx, hashOf("d"), t0); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateActivation(ctx, storage.Activation{CodeHash: hashOf("e"), UserID: "u1", ExpiresAt: t0.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	err := db.bolt.View(func(tx *bbolt.Tx) error {
		codes, byUser := tx.Bucket(bucketActivations), tx.Bucket(bucketActivationsByUser)
		if n, want := codes.Stats().KeyN, 2; n != want {
			return fmt.Errorf("got %d stored codes, want %d (one per user)", n, want)
		}
		for user, name := range map[string]string{"u1": "e", "u2": "b"} {
			if got := string(byUser.Get([]byte(user))); got != hashOf(name) {
				return fmt.Errorf("current code of %s: got %.8s…, want %.8s… (%s)", user, got, hashOf(name), name)
			}
			if codes.Get([]byte(hashOf(name))) == nil {
				return fmt.Errorf("current code %s of %s: not stored", name, user)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestIdentityBucketsAddedOnOpen opens a file written before the identity
// buckets existed (same schema version): Open adds them.
func TestIdentityBucketsAddedOnOpen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	db, err := Open(ctx, Config{Path: path, NoSync: true})
	if err != nil {
		t.Fatalf("open: got error %v, want none", err)
	}
	if _, err := db.CreateUser(ctx, storage.User{ID: "u1", Username: "alice"}); err != nil {
		t.Fatal(err)
	}
	err = db.bolt.Update(func(tx *bbolt.Tx) error {
		for _, name := range [][]byte{
			bucketOrgUnits, bucketOrgUnitsByPath, bucketSigningKeys,
			bucketSessions, bucketSessionsByFamily, bucketSessionsByUser, bucketSessionsByDevice,
			bucketActivations, bucketActivationsByUser, bucketAudit,
		} {
			if err := tx.DeleteBucket(name); err != nil {
				return fmt.Errorf("delete bucket %s: %w", name, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = Open(ctx, Config{Path: path, NoSync: true})
	if err != nil {
		t.Fatalf("reopen a file without identity buckets: got error %v, want none", err)
	}
	defer db.Close()
	if _, err := db.User(ctx, "u1"); err != nil {
		t.Fatalf("user written before: got error %v, want none", err)
	}
	if _, err := db.CreateOrgUnit(ctx, storage.OrgUnit{ID: "c", Name: "C"}); err != nil {
		t.Fatalf("create org unit in an upgraded file: got error %v, want none", err)
	}
	if err := db.AppendAudit(ctx, storage.AuditEvent{Action: "login"}); err != nil {
		t.Fatalf("append audit in an upgraded file: got error %v, want none", err)
	}
}
