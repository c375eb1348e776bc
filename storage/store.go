package storage

import "context"

// Store is everything the server needs from a database, composed from the
// single-purpose interfaces above. storage/bolt and storage/mongo return
// concrete types that satisfy it.
type Store interface {
	Records
	GetMany
	HeadFeed
	HeadsOf
	ConfirmedHeads
	Receipts
	Users
	Devices
	OrgUnits
	SigningKeys
	Sessions
	Activations
	Audit
	Secrets
	Leases
	Notifications
	Attempts
	// Ping reports whether the database is reachable (for /readyz);
	// ErrUnavailable when it is not.
	Ping(ctx context.Context) error
	// Close releases the database. Calls after Close fail with
	// ErrUnavailable; a second Close returns nil.
	Close() error
}
