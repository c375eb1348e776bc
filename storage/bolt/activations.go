package bolt

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/pairsync/pairsync/storage"
	bbolt "go.etcd.io/bbolt"
)

var _ storage.Activations = (*DB)(nil)

// activationDoc is a storage.Activation as stored (JSON) in the
// activations bucket, keyed by CodeHash.
type activationDoc struct {
	CodeHash  string    `json:"code_hash"`
	UserID    string    `json:"user_id"`
	CreatedBy string    `json:"created_by,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
	UsedAt    time.Time `json:"used_at"`
}

func (d activationDoc) activation() storage.Activation {
	return storage.Activation{
		CodeHash: d.CodeHash, UserID: d.UserID, CreatedBy: d.CreatedBy,
		CreatedAt: d.CreatedAt, ExpiresAt: d.ExpiresAt, UsedAt: d.UsedAt,
	}
}

// CreateActivation stores a code and makes it the user's current one,
// deleting the user's previous code (used or not) in the same transaction:
// at most one code per user is stored. A zero CreatedAt becomes now.
// storage.ErrExists for a taken hash; storage.ErrInvalid when CodeHash is
// not a lowercase hex SHA-256, UserID is empty, ExpiresAt is zero or UsedAt
// is set.
func (db *DB) CreateActivation(ctx context.Context, a storage.Activation) error {
	if err := checkActivation(a); err != nil {
		return fmt.Errorf("bolt: create activation: %w", err)
	}
	if a.CreatedAt.IsZero() {
		a.CreatedAt = now()
	}
	doc := activationDoc{
		CodeHash: a.CodeHash, UserID: a.UserID, CreatedBy: a.CreatedBy,
		CreatedAt: millis(a.CreatedAt), ExpiresAt: millis(a.ExpiresAt),
	}
	err := db.update(ctx, func(tx *bbolt.Tx) error {
		codes, byUser := tx.Bucket(bucketActivations), tx.Bucket(bucketActivationsByUser)
		if codes.Get([]byte(doc.CodeHash)) != nil {
			return fmt.Errorf("code hash taken: %w", storage.ErrExists)
		}
		if prev := byUser.Get([]byte(doc.UserID)); prev != nil {
			if err := codes.Delete(prev); err != nil {
				return fmt.Errorf("delete the previous code: %w", err)
			}
		}
		if err := byUser.Put([]byte(doc.UserID), []byte(doc.CodeHash)); err != nil {
			return err
		}
		return putJSON(codes, doc.CodeHash, doc)
	})
	if err != nil {
		return fmt.Errorf("bolt: create activation for %s: %w", a.UserID, err)
	}
	return nil
}

func checkActivation(a storage.Activation) error {
	if !storage.ValidSHA256(a.CodeHash) {
		return fmt.Errorf("code hash is not a lowercase hex SHA-256: %w", storage.ErrInvalid)
	}
	if err := storage.CheckIdent("user id", a.UserID); err != nil {
		return err
	}
	if a.ExpiresAt.IsZero() {
		return fmt.Errorf("zero expiry: %w", storage.ErrInvalid)
	}
	if !a.UsedAt.IsZero() {
		return fmt.Errorf("a new code cannot be used: %w", storage.ErrInvalid)
	}
	return nil
}

// errNoActivation is ConsumeActivation's one answer to every refusal, so
// that neither the caller nor a log learns which check failed.
var errNoActivation = fmt.Errorf("bolt: consume activation: unknown, used, replaced or expired code: %w", storage.ErrNotFound)

// ConsumeActivation marks the code used at now and returns it, in one
// transaction, if it is stored, unused, the user's current code and
// expires after now. Every refusal is the same error, wrapping
// storage.ErrNotFound.
func (db *DB) ConsumeActivation(ctx context.Context, hash string, now time.Time) (storage.Activation, error) {
	var doc activationDoc
	refused := false
	err := db.update(ctx, func(tx *bbolt.Tx) error {
		var err error
		if doc, refused, err = liveActivation(tx, hash, now); err != nil {
			return err
		}
		doc.UsedAt = millis(now)
		return putJSON(tx.Bucket(bucketActivations), hash, doc)
	})
	if refused {
		return storage.Activation{}, errNoActivation
	}
	if err != nil {
		return storage.Activation{}, fmt.Errorf("bolt: consume activation: %w", err)
	}
	return doc.activation(), nil
}

// LiveActivation returns the code with hash, unchanged, if ConsumeActivation
// would accept it at now (stored, unused, the user's current code, expiring
// after now). Every refusal is the same error, wrapping storage.ErrNotFound.
func (db *DB) LiveActivation(ctx context.Context, hash string, now time.Time) (storage.Activation, error) {
	var doc activationDoc
	refused := false
	err := db.view(ctx, func(tx *bbolt.Tx) error {
		var err error
		doc, refused, err = liveActivation(tx, hash, now)
		return err
	})
	if refused {
		return storage.Activation{}, errNoLiveActivation
	}
	if err != nil {
		return storage.Activation{}, fmt.Errorf("bolt: live activation: %w", err)
	}
	return doc.activation(), nil
}

// liveActivation reads the code with hash in tx; refused (with an error
// wrapping storage.ErrNotFound) when it is not stored, used, no longer the
// user's current code, or expired at now.
func liveActivation(tx *bbolt.Tx, hash string, now time.Time) (doc activationDoc, refused bool, err error) {
	if err := getJSON(tx.Bucket(bucketActivations), hash, &doc); err != nil {
		return doc, errors.Is(err, storage.ErrNotFound), err
	}
	if !doc.UsedAt.IsZero() || !doc.ExpiresAt.After(now) || string(tx.Bucket(bucketActivationsByUser).Get([]byte(doc.UserID))) != hash {
		return doc, true, storage.ErrNotFound
	}
	return doc, false, nil
}

var errNoLiveActivation = fmt.Errorf("bolt: live activation: unknown, used, replaced or expired code: %w", storage.ErrNotFound)
