package storage

import "errors"

// Sentinel errors. Adapters wrap them (test with errors.Is) and return them
// for the conditions each method documents.
var (
	// ErrNotFound: the object does not exist.
	ErrNotFound = errors.New("storage: not found")
	// ErrConflict: a compare-and-set failed (the object changed since it was
	// read) or a receipt for the same (replica, counter) already exists.
	// Nothing of the call was written; the caller may read again and retry.
	ErrConflict = errors.New("storage: conflict")
	// ErrExists: a create collided with an existing object or unique key.
	ErrExists = errors.New("storage: already exists")
	// ErrUnavailable: the backing service is down, slow or shutting down.
	// Nothing was written unless the method says otherwise; retry later.
	ErrUnavailable = errors.New("storage: unavailable")
	// ErrInvalid: the caller passed an argument the contract forbids (an
	// empty id, a malformed hash); a programming or input error, not retried.
	ErrInvalid = errors.New("storage: invalid argument")
	// ErrMismatch: uploaded bytes do not match the declared hash or size;
	// nothing was stored.
	ErrMismatch = errors.New("storage: content does not match its hash or size")
	// ErrIncomplete: an upload misses parts; send them and complete again.
	ErrIncomplete = errors.New("storage: upload incomplete")
	// ErrAmbiguous: a lookup that returns one object matched several (a
	// phone number several users share).
	ErrAmbiguous = errors.New("storage: ambiguous")
	// ErrTooLarge: the content exceeds the limit the caller set.
	ErrTooLarge = errors.New("storage: content too large")
)
