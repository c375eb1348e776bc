package server

import (
	"fmt"
	"testing"
	"time"

	"github.com/pairsync/pairsync/server/servertest"
	"github.com/pairsync/pairsync/storage"
	"github.com/pairsync/pairsync/storage/mongo"
	"github.com/pairsync/pairsync/storage/mongo/mongotest"
)

// newFaultEnv is newEnvWith for the fault tests: the server's Config is
// the test's (short timeouts, a small MaxInFlight), and the store may be
// any adapter (nil: a bolt file). The org tree and users are those of
// newIDEnv: root → {A, B}, one user of every role in each.
func newFaultEnv(t testing.TB, cfg Config, store storage.Store, domainRules bool) *idEnv {
	t.Helper()
	return startEnv(t, servertest.Options{Store: store}, cfg, Deps{ProtocolOnly: !domainRules})
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
