package bolt

import (
	"context"
	"encoding/binary"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pairsync/pairsync/storage"
	bbolt "go.etcd.io/bbolt"
)

// phoneIndex dumps users_by_phone as "phone:id" entries, failing t on a
// key that is not of schema 2's layout.
func phoneIndex(t *testing.T, path string) []string {
	t.Helper()
	raw, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var out []string
	err = raw.View(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketUsersByPhone).ForEach(func(k, v []byte) error {
			phone, id, err := readStr(k)
			if err != nil || len(id) == 0 || len(v) != 0 {
				t.Fatalf("users_by_phone entry %q → %q: not str(phone) ‖ id → empty", k, v)
			}
			out = append(out, phone+":"+string(id))
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func schemaOf(t *testing.T, path string) uint64 {
	t.Helper()
	raw, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var v uint64
	_ = raw.View(func(tx *bbolt.Tx) error {
		v = binary.BigEndian.Uint64(tx.Bucket(bucketMeta).Get(keySchema))
		return nil
	})
	return v
}

// TestMigratePhoneIndex opens a file laid out as schema 1 wrote it (a
// unique phone index, phone → id) and checks that Open migrates it to
// schema 2 (str(phone) ‖ id → empty, several users to a phone) in place,
// that everything works on it after, and that opening it again changes
// nothing.
func TestMigratePhoneIndex(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	db, err := Open(ctx, Config{Path: path, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []storage.User{
		{ID: "a", Username: "alice", Phone: "13800000001", Role: "officer"},
		{ID: "b", Username: "bob", Phone: "13800000002", Role: "contact", Disabled: true},
		{ID: "c", Username: "carol"},
	} {
		if _, err := db.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	// Rewrite the file as schema 1 left it: the users as they are (their
	// JSON did not change), the phone index phone → id, version 1.
	raw, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = raw.Update(func(tx *bbolt.Tx) error {
		if err := tx.DeleteBucket(bucketUsersByPhone); err != nil {
			return err
		}
		b, err := tx.CreateBucket(bucketUsersByPhone)
		if err != nil {
			return err
		}
		for phone, id := range map[string]string{"13800000001": "a", "13800000002": "b"} {
			if err := b.Put([]byte(phone), []byte(id)); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketMeta).Put(keySchema, u64(1))
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := raw.Close(); err != nil {
		t.Fatal(err)
	}

	db, err = Open(ctx, Config{Path: path, NoSync: true})
	if err != nil {
		t.Fatalf("open a schema 1 file: got error %v, want none (migrated)", err)
	}
	for login, want := range map[string]string{"13800000001": "a", "13800000002": "b", "alice": "a"} {
		u, err := db.UserByLogin(ctx, login)
		if err != nil || u.ID != want {
			t.Fatalf("login %s after migration: got %s, %v; want %s", login, u.ID, err, want)
		}
	}
	if _, err := db.UserByLogin(ctx, "13800000003"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("login by an unknown phone after migration: got error %v, want ErrNotFound", err)
	}
	// Phones are shared now, and the moved user leaves no stale entry.
	if _, err := db.CreateUser(ctx, storage.User{ID: "d", Username: "dave", Phone: "13800000001"}); err != nil {
		t.Fatalf("create with a held phone after migration: got error %v, want none", err)
	}
	b, err := db.User(ctx, "b")
	if err != nil {
		t.Fatal(err)
	}
	b.Phone = "13800000001"
	if _, err := db.UpdateUser(ctx, b); err != nil {
		t.Fatalf("move b to a held phone after migration: got error %v, want none", err)
	}
	us, err := db.UsersByPhone(ctx, "13800000001")
	var ids []string
	for _, u := range us {
		ids = append(ids, u.ID)
	}
	if err != nil || strings.Join(ids, " ") != "a b d" {
		t.Fatalf("holders after migration: got %v, %v; want a b d", ids, err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	want := []string{"13800000001:a", "13800000001:b", "13800000001:d"}
	if got := phoneIndex(t, path); !slices.Equal(got, want) {
		t.Fatalf("phone index after migration: got %v, want %v", got, want)
	}
	if v := schemaOf(t, path); v != schemaVersion {
		t.Fatalf("schema after migration: got %d, want %d", v, schemaVersion)
	}

	// Opening again changes nothing.
	db, err = Open(ctx, Config{Path: path, NoSync: true})
	if err != nil {
		t.Fatalf("open a migrated file: got error %v, want none", err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if got := phoneIndex(t, path); !slices.Equal(got, want) {
		t.Fatalf("phone index after a second open: got %v, want %v", got, want)
	}

	// A file of a newer schema is refused, untouched.
	raw, err = bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = raw.Update(func(tx *bbolt.Tx) error { return tx.Bucket(bucketMeta).Put(keySchema, u64(schemaVersion+1)) })
	_ = raw.Close()
	if db, err := Open(ctx, Config{Path: path, NoSync: true}); err == nil || !strings.Contains(err.Error(), "unsupported schema version") {
		if err == nil {
			db.Close()
		}
		t.Fatalf("open a file of a newer schema: got error %v, want unsupported schema version", err)
	}
	if v := schemaOf(t, path); v != schemaVersion+1 {
		t.Fatalf("schema of a refused file: got %d, want %d (untouched)", v, schemaVersion+1)
	}
}
