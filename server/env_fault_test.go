package server

import (
	"fmt"
	"testing"
	"time"

	"github.com/pairsync/pairsync/server/auth"
	"github.com/pairsync/pairsync/storage"
	"github.com/pairsync/pairsync/storage/mongo"
	"github.com/pairsync/pairsync/storage/mongo/mongotest"
)

// newFaultEnv is newEnvWith for the fault tests (issue 11): the server's
// Config is the test's (short timeouts, a small MaxInFlight), and the store
// may be any adapter (nil: a bolt file). The org tree and users are those
// of newIDEnv: root → {A, B}, one user of every role in each.
func newFaultEnv(t testing.TB, cfg Config, store storage.Store, domainRules bool) *idEnv {
	t.Helper()
	e := &idEnv{t: t, units: map[string]storage.OrgUnit{}, users: map[string]storage.User{}}
	e.clock.Store(time.Now().UnixNano())
	db, photos := openStores(t)
	if store == nil {
		store = db
		e.db = db
	}
	var err error
	e.s, err = New(cfg, Deps{Store: store, Photos: photos, Now: e.now, PasswordParams: fastPasswords, ProtocolOnly: !domainRules})
	if err != nil {
		t.Fatal(err)
	}
	e.base = serve(t, e.s)
	ctx := t.Context()
	mk := func(key, id, parent, kind string) {
		u, err := store.CreateOrgUnit(ctx, storage.OrgUnit{ID: id, ParentID: parent, Name: "单位 " + key, Kind: kind})
		if err != nil {
			t.Fatal(err)
		}
		e.units[key] = u
	}
	mk("root", "root", "", "committee")
	mk("A", "unitA", "root", "department")
	mk("B", "unitB", "root", "department")
	phc, err := auth.NewHasher(fastPasswords, 1).Hash(ctx, testPassword)
	if err != nil {
		t.Fatal(err)
	}
	add := func(key, role, unit, counterparty, phone string) {
		u, err := store.CreateUser(ctx, storage.User{ID: "u-" + key, Username: key, Name: key, Phone: phone, Role: role,
			OrgUnit: e.units[unit].ID, Counterparty: counterparty, PasswordHash: phc})
		if err != nil {
			t.Fatal(err)
		}
		e.users[key] = u
	}
	add("root", "admin", "root", "", "")
	for i, sub := range []string{"A", "B"} {
		add("admin"+sub, "admin", sub, "", "")
		add("viewer"+sub, "viewer", sub, "", "")
		add("officer"+sub, "officer", sub, "", fmt.Sprintf("1380000000%d", i))
		add("contact"+sub, "contact", sub, "cp-"+sub, "")
	}
	return e
}

// adapter names a storage adapter the fault tests run on: bolt always,
// MongoDB through FerretDB (or MONGODB_URI).
type adapter struct {
	name string
	open func(t testing.TB) storage.Store // nil store: bolt
}

func adapters() []adapter {
	return []adapter{
		{"bolt", func(testing.TB) storage.Store { return nil }},
		{"mongo", func(t testing.TB) storage.Store {
			uri, standalone := mongotest.URI(t)
			db, err := mongo.Open(t.Context(), mongo.Config{URI: uri, Database: fmt.Sprintf("faults_%d", time.Now().UnixNano()), AllowStandalone: standalone})
			if err != nil {
				t.Fatalf("mongo: %v", err)
			}
			t.Cleanup(func() { db.Close() })
			return db
		}},
	}
}
