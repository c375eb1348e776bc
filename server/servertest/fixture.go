package servertest

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/pairsync/pairsync/server/auth"
	"github.com/pairsync/pairsync/storage"
	"github.com/pairsync/pairsync/syncproto"
)

// Password is every fixture user's password.
const Password = "correct-horse-9"

// FastPasswords keep the many sign-ins of tests quick; the production
// parameters are checked in server/auth.
var FastPasswords = auth.Params{MemoryKiB: 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

// A Fixture is what a world's stores hold before its server starts.
type Fixture struct {
	Units []storage.OrgUnit // created in order (parents first)
	// Users are created in order; a user without a PasswordHash gets
	// Password's.
	Users []storage.User
	// Directory records (pairings, counterparties) are committed to the
	// directory scope in order, as an administrator's writes through the
	// server would be.
	Directory []Record
}

// Record is the fields of one directory record, as Go values.
type Record struct {
	Collection, ID string
	Fields         map[string]any
}

// EveryRole is the org tree root → {unitA, unitB} with an administrator
// "root" of root and, in each of unitA and unitB, one user of every role:
// adminA, viewerA, officerA (phone 13800000000), contactA (of cp-A), and
// the same with B (officerB's phone 13800000001). A user's id is "u-" and
// the user name, which is also the name. It has no directory records.
func EveryRole() Fixture {
	f := Fixture{Units: []storage.OrgUnit{
		{ID: "root", Name: "单位 root", Kind: "committee"},
		{ID: "unitA", ParentID: "root", Name: "单位 A", Kind: "department"},
		{ID: "unitB", ParentID: "root", Name: "单位 B", Kind: "department"},
	}}
	user := func(name, role, unit, counterparty, phone string) storage.User {
		return storage.User{ID: "u-" + name, Username: name, Name: name, Phone: phone, Role: role, OrgUnit: unit, Counterparty: counterparty}
	}
	f.Users = append(f.Users, user("root", "admin", "root", "", ""))
	for i, sub := range []string{"A", "B"} {
		f.Users = append(f.Users,
			user("admin"+sub, "admin", "unit"+sub, "", ""),
			user("viewer"+sub, "viewer", "unit"+sub, "", ""),
			user("officer"+sub, "officer", "unit"+sub, "", fmt.Sprintf("1380000000%d", i)),
			user("contact"+sub, "contact", "unit"+sub, "cp-"+sub, ""))
	}
	return f
}

// Seed writes f into store, hashing the users' password with params, and
// returns what it created: org units by id, users by user name. dir writes
// the directory records (nil: a Directory of its own).
func Seed(t testing.TB, store storage.Store, dir *Directory, params auth.Params, f Fixture) (map[string]storage.OrgUnit, map[string]storage.User) {
	t.Helper()
	ctx := t.Context()
	units, users := map[string]storage.OrgUnit{}, map[string]storage.User{}
	for _, u := range f.Units {
		made, err := store.CreateOrgUnit(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		units[made.ID] = made
	}
	var phc string
	for _, u := range f.Users {
		if u.PasswordHash == "" {
			if phc == "" {
				var err error
				if phc, err = auth.NewHasher(params, 1).Hash(ctx, Password); err != nil {
					t.Fatal(err)
				}
			}
			u.PasswordHash = phc
		}
		made, err := store.CreateUser(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		users[made.Username] = made
	}
	if dir == nil {
		dir = NewDirectory(store)
	}
	for _, r := range f.Directory {
		dir.Set(t, r.Collection, r.ID, r.Fields)
	}
	return units, users
}

// Directory writes directory records (pairings, counterparties) straight
// through a store's commit path, with a writer of its own replica id, as the
// server commits an administrator's write. It is safe for concurrent use.
type Directory struct {
	store storage.Store
	mu    sync.Mutex
	w     syncproto.Writer
}

// NewDirectory returns a Directory writing into store.
func NewDirectory(store storage.Store) *Directory {
	return &Directory{store: store, w: syncproto.Writer{Replica: "srv-servertest"}}
}

// Set writes fields (Go values) of the directory record coll/id over its
// stored version, if any.
func (d *Directory) Set(t testing.TB, coll, id string, fields map[string]any) {
	t.Helper()
	d.mu.Lock()
	defer d.mu.Unlock()
	DirSet(t, d.store, &d.w, coll, id, fields)
}

// DirSet writes fields (Go values) of the directory record coll/id over its
// stored version, if any, stamped by dw, through store's commit path. dw is
// not safe for concurrent use: Directory.Set locks it.
func DirSet(t testing.TB, store storage.Store, dw *syncproto.Writer, coll, id string, fields map[string]any) {
	t.Helper()
	ctx := t.Context()
	k := storage.Key{Collection: coll, ID: id}
	cur := syncproto.NewRecord(coll, id, "_directory")
	var expect uint64
	sr, err := store.Get(ctx, k)
	switch {
	case errors.Is(err, storage.ErrNotFound):
	case err != nil:
		t.Fatal(err)
	default:
		if cur, err = syncproto.DecodeRecord(sr.Data, syncproto.Limits{}); err != nil {
			t.Fatal(err)
		}
		expect = sr.Seq
	}
	next, _, err := dw.Set(cur, JSONFields(t, fields), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	data, err := syncproto.Encode(next)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Commit(ctx, storage.Batch{Pairing: "_directory", Puts: []storage.Put{{Key: k, Expect: expect, Data: data}}}); err != nil {
		t.Fatal(err)
	}
}

// JSONFields encodes each of fields' values as JSON.
func JSONFields(t testing.TB, fields map[string]any) map[string]json.RawMessage {
	t.Helper()
	out := make(map[string]json.RawMessage, len(fields))
	for k, v := range fields {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		out[k] = b
	}
	return out
}
