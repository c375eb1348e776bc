package storagetest

import (
	"testing"

	"github.com/pairsync/pairsync/storage"
)

// Options adapts the suite to what an adapter, or its test environment, can
// do.
type Options struct {
	// Serial skips the cases that run concurrent transactions (concurrent
	// committers, racing creates), for a backend that cannot serialize them
	// (FerretDB, which has no transactions). Each skipped case says so, with
	// SerialReason, in the test output.
	Serial       bool
	SerialReason string
	// Reopen enables the durability cases: given a store the suite has
	// written to and closed, it opens the same database again and returns
	// the new handle (registering its own cleanup). Without it those cases
	// are skipped, saying so.
	Reopen func(t *testing.T, closed storage.Store) storage.Store
}

// TestStore runs every storage.Store case that needs no options: records,
// receipts, users, devices, the identity stores (org units, signing keys,
// sessions, activations, audit log), concurrency; the durability cases are
// skipped.
//
// open must return a new, empty, open store and register its cleanup with
// t.Cleanup. The suite may Close a store itself, so that cleanup must accept
// a second Close (or ignore its error).
func TestStore(t *testing.T, open func(t *testing.T) storage.Store) {
	TestStoreWith(t, open, Options{})
}

// TestStoreWith is TestStore with options.
func TestStoreWith(t *testing.T, open func(t *testing.T) storage.Store, opts Options) {
	t.Helper()
	s := suite{open: open, opts: opts}
	t.Run("Records", s.records)
	t.Run("Heads", s.heads)
	t.Run("Users", s.users)
	t.Run("Devices", s.devices)
	t.Run("OrgUnits", s.orgUnits)
	t.Run("SigningKeys", s.signingKeys)
	t.Run("Sessions", s.sessions)
	t.Run("Activations", s.activations)
	t.Run("Audit", s.audit)
	t.Run("Secrets", s.secrets)
	t.Run("Leases", s.leases)
	t.Run("Notifications", s.notifications)
	t.Run("Attempts", s.attempts)
	t.Run("Concurrent", s.concurrent)
	t.Run("Durability", s.durability)
	t.Run("Lifecycle", s.lifecycle)
}

// suite carries the adapter's open function and options to the cases.
type suite struct {
	open func(t *testing.T) storage.Store
	opts Options
}

// needConcurrency skips t when the adapter runs serial cases only.
func (s suite) needConcurrency(t *testing.T) {
	t.Helper()
	if s.opts.Serial {
		reason := s.opts.SerialReason
		if reason == "" {
			reason = "the adapter declares it cannot run concurrent transactions"
		}
		t.Skipf("storagetest: concurrent case skipped (Options.Serial): %s", reason)
	}
}
