package bolt

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/pairsync/pairsync/storage"
	bbolt "go.etcd.io/bbolt"
)

var _ storage.Sessions = (*DB)(nil)

// sessionDoc is a storage.Session as stored (JSON) in the sessions bucket,
// keyed by TokenHash.
type sessionDoc struct {
	TokenHash string    `json:"token_hash"`
	Family    string    `json:"family"`
	UserID    string    `json:"user_id"`
	DeviceID  string    `json:"device_id,omitempty"`
	IssuedAt  time.Time `json:"issued_at"`
	ExpiresAt time.Time `json:"expires_at"`
	UsedAt    time.Time `json:"used_at"`
	RevokedAt time.Time `json:"revoked_at"`
}

func toSessionDoc(s storage.Session) sessionDoc {
	return sessionDoc{
		TokenHash: s.TokenHash, Family: s.Family, UserID: s.UserID, DeviceID: s.DeviceID,
		IssuedAt: millis(s.IssuedAt), ExpiresAt: millis(s.ExpiresAt),
		UsedAt: millis(s.UsedAt), RevokedAt: millis(s.RevokedAt),
	}
}

func (d sessionDoc) session() storage.Session {
	return storage.Session{
		TokenHash: d.TokenHash, Family: d.Family, UserID: d.UserID, DeviceID: d.DeviceID,
		IssuedAt: d.IssuedAt, ExpiresAt: d.ExpiresAt, UsedAt: d.UsedAt, RevokedAt: d.RevokedAt,
	}
}

// live reports whether the token may still be revoked: not revoked, and
// not expired at now.
func (d sessionDoc) live(now time.Time) bool {
	return d.RevokedAt.IsZero() && d.ExpiresAt.After(now)
}

// ownedKey is the key of an index from an owner (a family, a user, a
// device) to the ids it owns: str(owner) ‖ id, so that one owner's entries
// are one prefix whatever bytes the owner holds.
func ownedKey(owner, id string) []byte {
	return append(appendStr(make([]byte, 0, len(owner)+len(id)+2), owner), id...)
}

// owned returns the ids an owner has in an index bucket, copied out of the
// transaction so that the caller may change the bucket.
func owned(b *bbolt.Bucket, owner string) []string {
	var ids []string
	prefix := appendStr(nil, owner)
	c := b.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		ids = append(ids, string(k[len(prefix):]))
	}
	return ids
}

// sessionBuckets are the sessions bucket and its three indexes.
type sessionBuckets struct {
	sessions, byFamily, byUser, byDevice *bbolt.Bucket
}

func sessionsOf(tx *bbolt.Tx) sessionBuckets {
	return sessionBuckets{
		sessions: tx.Bucket(bucketSessions),
		byFamily: tx.Bucket(bucketSessionsByFamily),
		byUser:   tx.Bucket(bucketSessionsByUser),
		byDevice: tx.Bucket(bucketSessionsByDevice),
	}
}

// get reads a token, or storage.ErrNotFound.
func (b sessionBuckets) get(hash string) (sessionDoc, error) {
	var d sessionDoc
	err := getJSON(b.sessions, hash, &d)
	return d, err
}

// insert stores a new token and its index entries.
func (b sessionBuckets) insert(d sessionDoc) error {
	if err := b.byFamily.Put(ownedKey(d.Family, d.TokenHash), nil); err != nil {
		return err
	}
	if err := b.byUser.Put(ownedKey(d.UserID, d.TokenHash), nil); err != nil {
		return err
	}
	if d.DeviceID != "" {
		if err := b.byDevice.Put(ownedKey(d.DeviceID, d.TokenHash), nil); err != nil {
			return err
		}
	}
	return putJSON(b.sessions, d.TokenHash, d)
}

// delete removes a token and its index entries.
func (b sessionBuckets) delete(d sessionDoc) error {
	if err := b.byFamily.Delete(ownedKey(d.Family, d.TokenHash)); err != nil {
		return err
	}
	if err := b.byUser.Delete(ownedKey(d.UserID, d.TokenHash)); err != nil {
		return err
	}
	if d.DeviceID != "" {
		if err := b.byDevice.Delete(ownedKey(d.DeviceID, d.TokenHash)); err != nil {
			return err
		}
	}
	return b.sessions.Delete([]byte(d.TokenHash))
}

// revoke sets RevokedAt to at on every token of the index entries of owner
// that is live at now, and returns how many it revoked.
func (b sessionBuckets) revoke(index *bbolt.Bucket, owner string, now, at time.Time) (int, error) {
	n := 0
	for _, hash := range owned(index, owner) {
		d, err := b.get(hash)
		if err != nil {
			return n, fmt.Errorf("index entry %.12s…: %w", hash, err)
		}
		if !d.live(now) {
			continue
		}
		d.RevokedAt = at
		if err := putJSON(b.sessions, hash, d); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// CreateSession stores a new refresh token; a zero IssuedAt becomes now.
// storage.ErrExists for a taken hash; storage.ErrInvalid when TokenHash is
// not a lowercase hex SHA-256, Family or UserID is empty, or ExpiresAt is
// zero. In the same transaction it deletes the user's tokens that expired
// by IssuedAt (lazy pruning: expired tokens can no longer be rotated).
func (db *DB) CreateSession(ctx context.Context, s storage.Session) error {
	if err := storage.CheckSession(s); err != nil {
		return fmt.Errorf("bolt: create session: %w", err)
	}
	if s.IssuedAt.IsZero() {
		s.IssuedAt = now()
	}
	doc := toSessionDoc(s)
	err := db.update(ctx, func(tx *bbolt.Tx) error {
		b := sessionsOf(tx)
		if b.sessions.Get([]byte(doc.TokenHash)) != nil {
			return fmt.Errorf("token hash taken: %w", storage.ErrExists)
		}
		if err := b.pruneUser(doc.UserID, doc.IssuedAt); err != nil {
			return fmt.Errorf("prune: %w", err)
		}
		return b.insert(doc)
	})
	if err != nil {
		return fmt.Errorf("bolt: create session: %w", err)
	}
	return nil
}

// pruneUser deletes a user's tokens whose family expired by now.
func (b sessionBuckets) pruneUser(userID string, now time.Time) error {
	for _, hash := range owned(b.byUser, userID) {
		d, err := b.get(hash)
		if err != nil {
			return fmt.Errorf("index entry %.12s…: %w", hash, err)
		}
		if d.ExpiresAt.After(now) {
			continue
		}
		if err := b.delete(d); err != nil {
			return err
		}
	}
	return nil
}

// RotateSession exchanges the token with hash for next in one transaction.
//
//   - An unknown hash, or a token whose family expired at now:
//     storage.ErrNotFound, nothing written.
//   - A token already used or revoked (reuse of a stolen token): every
//     live token of its family is revoked at now, that revocation is
//     committed, nothing else is stored, and RotateSession returns the old
//     token as it was before the call with storage.ErrConflict.
//   - Otherwise the old token is marked used at now and next is stored; the
//     old token is returned as now stored.
//
// next takes Family, UserID, DeviceID and ExpiresAt from the old token
// (rotation never extends a family's life; BindSessionDevice, not
// rotation, binds a device); a zero IssuedAt becomes now, UsedAt and
// RevokedAt are cleared. storage.ErrInvalid when next.TokenHash is
// malformed or next names another family, user or device than the old
// token (checked only for a live old token; nothing written);
// storage.ErrExists when next.TokenHash is taken.
func (db *DB) RotateSession(ctx context.Context, hash string, now time.Time, next storage.Session) (storage.Session, error) {
	if !storage.ValidSHA256(next.TokenHash) {
		return storage.Session{}, fmt.Errorf("bolt: rotate session: next token hash is not a lowercase hex SHA-256: %w", storage.ErrInvalid)
	}
	at := millis(now)
	var (
		old sessionDoc
		// reused is set when the old token was used or revoked: the
		// transaction then returns nil so that the family's revocation is
		// committed (an error would roll it back), and RotateSession
		// returns storage.ErrConflict after the commit.
		reused bool
	)
	err := db.update(ctx, func(tx *bbolt.Tx) error {
		b := sessionsOf(tx)
		var err error
		if old, err = b.get(hash); err != nil {
			return err
		}
		if !old.ExpiresAt.After(now) {
			return fmt.Errorf("family expired: %w", storage.ErrNotFound)
		}
		if !old.UsedAt.IsZero() || !old.RevokedAt.IsZero() {
			if _, err := b.revoke(b.byFamily, old.Family, now, at); err != nil {
				return fmt.Errorf("revoke family: %w", err)
			}
			reused = true
			return nil
		}
		if (next.Family != "" && next.Family != old.Family) || (next.UserID != "" && next.UserID != old.UserID) ||
			(next.DeviceID != "" && next.DeviceID != old.DeviceID) {
			return fmt.Errorf("next token names another family, user or device: %w", storage.ErrInvalid)
		}
		if b.sessions.Get([]byte(next.TokenHash)) != nil {
			return fmt.Errorf("next token hash taken: %w", storage.ErrExists)
		}
		next.Family, next.UserID, next.DeviceID, next.ExpiresAt = old.Family, old.UserID, old.DeviceID, old.ExpiresAt
		if next.IssuedAt.IsZero() {
			next.IssuedAt = at
		}
		next.UsedAt, next.RevokedAt = time.Time{}, time.Time{}
		used := old
		used.UsedAt = at
		if err := putJSON(b.sessions, hash, used); err != nil {
			return err
		}
		if err := b.insert(toSessionDoc(next)); err != nil {
			return err
		}
		old = used
		return nil
	})
	if err != nil {
		return storage.Session{}, fmt.Errorf("bolt: rotate session: %w", err)
	}
	if reused {
		// Committed: the family is revoked.
		return old.session(), fmt.Errorf("bolt: rotate session: token already used or revoked, family revoked: %w", storage.ErrConflict)
	}
	return old.session(), nil
}

// Session returns a stored refresh token by hash, or storage.ErrNotFound
// (also for a token pruned after its family expired).
func (db *DB) Session(ctx context.Context, hash string) (storage.Session, error) {
	var doc sessionDoc
	err := db.view(ctx, func(tx *bbolt.Tx) error {
		var err error
		doc, err = sessionsOf(tx).get(hash)
		return err
	})
	if err != nil {
		return storage.Session{}, fmt.Errorf("bolt: session: %w", err)
	}
	return doc.session(), nil
}

// RevokeSessions sets RevokedAt to now on every token of the filter's
// family, user or device (exactly one set, storage.ErrInvalid otherwise)
// that is live: not revoked, not expired at now. Used tokens count too. It
// returns how many tokens it revoked.
func (db *DB) RevokeSessions(ctx context.Context, f storage.SessionFilter, now time.Time) (int, error) {
	set := 0
	for _, s := range []string{f.Family, f.UserID, f.DeviceID} {
		if s != "" {
			set++
		}
	}
	if set != 1 {
		return 0, fmt.Errorf("bolt: revoke sessions: %d of family, user and device set, want exactly one: %w", set, storage.ErrInvalid)
	}
	var n int
	err := db.update(ctx, func(tx *bbolt.Tx) error {
		b := sessionsOf(tx)
		index, owner := b.byFamily, f.Family
		switch {
		case f.UserID != "":
			index, owner = b.byUser, f.UserID
		case f.DeviceID != "":
			index, owner = b.byDevice, f.DeviceID
		}
		var err error
		n, err = b.revoke(index, owner, now, millis(now))
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("bolt: revoke sessions: %w", err)
	}
	return n, nil
}

// BindSessionDevice sets DeviceID on every token of the family that is not
// revoked, used ones included (so that revoking the device revokes the
// whole chain). storage.ErrNotFound when the family has no such token;
// storage.ErrInvalid for an empty family or device id.
func (db *DB) BindSessionDevice(ctx context.Context, family, deviceID string) error {
	if err := storage.CheckIdent("family", family); err != nil {
		return fmt.Errorf("bolt: bind session device: %w", err)
	}
	if err := storage.CheckIdent("device id", deviceID); err != nil {
		return fmt.Errorf("bolt: bind session device: %w", err)
	}
	err := db.update(ctx, func(tx *bbolt.Tx) error {
		b := sessionsOf(tx)
		bound := 0
		for _, hash := range owned(b.byFamily, family) {
			d, err := b.get(hash)
			if err != nil {
				return fmt.Errorf("index entry %.12s…: %w", hash, err)
			}
			if !d.RevokedAt.IsZero() {
				continue
			}
			bound++
			if d.DeviceID == deviceID {
				continue
			}
			if d.DeviceID != "" {
				if err := b.byDevice.Delete(ownedKey(d.DeviceID, hash)); err != nil {
					return err
				}
			}
			if err := b.byDevice.Put(ownedKey(deviceID, hash), nil); err != nil {
				return err
			}
			d.DeviceID = deviceID
			if err := putJSON(b.sessions, hash, d); err != nil {
				return err
			}
		}
		if bound == 0 {
			return fmt.Errorf("no live token in family: %w", storage.ErrNotFound)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("bolt: bind session device %s: %w", family, err)
	}
	return nil
}

// SessionLive reports whether the family has a token that is neither
// revoked nor expired at now (an unknown family: false, no error).
func (db *DB) SessionLive(ctx context.Context, family string, now time.Time) (bool, error) {
	if family == "" {
		return false, nil
	}
	live := false
	err := db.view(ctx, func(tx *bbolt.Tx) error {
		b := sessionsOf(tx)
		prefix := appendStr(nil, family)
		c := b.byFamily.Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			d, err := b.get(string(k[len(prefix):]))
			if err != nil {
				return fmt.Errorf("index entry: %w", err)
			}
			if d.live(now) {
				live = true
				return nil
			}
		}
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("bolt: session live %s: %w", family, err)
	}
	return live, nil
}
