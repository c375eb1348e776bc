package mongo

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/pairsync/pairsync/storage"
)

var _ storage.Sessions = (*DB)(nil)

// sessionDoc is a storage.Session in the sessions collection, keyed by
// TokenHash; zero times (UsedAt, RevokedAt) and an empty DeviceID are
// absent.
type sessionDoc struct {
	TokenHash string    `bson:"_id"`
	Family    string    `bson:"family"`
	UserID    string    `bson:"user_id"`
	DeviceID  string    `bson:"device_id,omitempty"`
	IssuedAt  time.Time `bson:"issued_at"`
	ExpiresAt time.Time `bson:"expires_at"`
	UsedAt    time.Time `bson:"used_at,omitempty"`
	RevokedAt time.Time `bson:"revoked_at,omitempty"`
}

func toSessionDoc(s storage.Session) sessionDoc {
	return sessionDoc{
		TokenHash: s.TokenHash, Family: s.Family, UserID: s.UserID, DeviceID: s.DeviceID,
		IssuedAt: millis(s.IssuedAt), ExpiresAt: millis(s.ExpiresAt),
		UsedAt: millis(s.UsedAt), RevokedAt: millis(s.RevokedAt),
	}
}

func (s sessionDoc) session() storage.Session {
	return storage.Session{
		TokenHash: s.TokenHash, Family: s.Family, UserID: s.UserID, DeviceID: s.DeviceID,
		IssuedAt: utc(s.IssuedAt), ExpiresAt: utc(s.ExpiresAt), UsedAt: utc(s.UsedAt), RevokedAt: utc(s.RevokedAt),
	}
}

// notRevoked selects tokens whose family was not revoked.
var notRevoked = bson.E{Key: "revoked_at", Value: d("$exists", false)}

// live selects, with an owner's filter, the tokens that may still be
// revoked: not revoked, and not expired at now.
func live(owner bson.E, now time.Time) bson.D {
	return bson.D{owner, notRevoked, {Key: "expires_at", Value: d("$gt", now)}}
}

// exists reports whether coll holds a document with _id id.
func exists(ctx context.Context, coll *mongo.Collection, id string) (bool, error) {
	n, err := coll.CountDocuments(ctx, d("_id", id), options.Count().SetLimit(1))
	return n > 0, err
}

// CreateSession stores a new refresh token; a zero IssuedAt becomes now.
// storage.ErrExists for a taken hash; storage.ErrInvalid when TokenHash is
// not a lowercase hex SHA-256, Family or UserID is empty, or ExpiresAt is
// zero. In the same transaction it deletes the user's tokens that expired
// by IssuedAt (lazy pruning: expired tokens can no longer be rotated).
func (db *DB) CreateSession(ctx context.Context, s storage.Session) error {
	if err := storage.CheckSession(s); err != nil {
		return fmt.Errorf("mongo: create session: %w", err)
	}
	if s.IssuedAt.IsZero() {
		s.IssuedAt = now()
	}
	doc := toSessionDoc(s)
	err := db.write(ctx, func(ctx context.Context) error {
		taken, err := exists(ctx, db.sessions, doc.TokenHash)
		if err != nil {
			return err
		}
		if taken {
			return fmt.Errorf("token hash taken: %w", storage.ErrExists)
		}
		if _, err := db.sessions.DeleteMany(ctx, bson.D{{Key: "user_id", Value: doc.UserID},
			{Key: "expires_at", Value: d("$lte", doc.IssuedAt)}}); err != nil {
			return fmt.Errorf("prune: %w", err)
		}
		_, err = db.sessions.InsertOne(ctx, doc)
		if mongo.IsDuplicateKeyError(err) {
			return fmt.Errorf("token hash taken: %w", storage.ErrExists)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("mongo: create session: %w", err)
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
// Two rotations of one token both write it: one commits, the other is
// retried, finds it used, and revokes the family. next takes Family,
// UserID, DeviceID and ExpiresAt from the old token; a zero IssuedAt
// becomes now. storage.ErrInvalid when next.TokenHash is malformed or next
// names another family, user or device than the old token (checked only
// for a live old token; nothing written); storage.ErrExists when
// next.TokenHash is taken.
func (db *DB) RotateSession(ctx context.Context, hash string, now time.Time, next storage.Session) (storage.Session, error) {
	if !storage.ValidSHA256(next.TokenHash) {
		return storage.Session{}, fmt.Errorf("mongo: rotate session: next token hash is not a lowercase hex SHA-256: %w", storage.ErrInvalid)
	}
	at := millis(now)
	var (
		old sessionDoc
		// reused is set when the old token was used or revoked: the
		// transaction then returns nil so that the family's revocation is
		// committed, and RotateSession returns storage.ErrConflict after.
		reused bool
	)
	err := db.write(ctx, func(ctx context.Context) error {
		old, reused = sessionDoc{}, false
		if err := found(db.sessions.FindOne(ctx, d("_id", hash)).Decode(&old)); err != nil {
			return err
		}
		if !old.ExpiresAt.After(now) {
			return fmt.Errorf("family expired: %w", storage.ErrNotFound)
		}
		if !old.UsedAt.IsZero() || !old.RevokedAt.IsZero() {
			if _, err := db.sessions.UpdateMany(ctx, live(bson.E{Key: "family", Value: old.Family}, now),
				d("$set", d("revoked_at", at))); err != nil {
				return fmt.Errorf("revoke family: %w", err)
			}
			reused = true
			return nil
		}
		if (next.Family != "" && next.Family != old.Family) || (next.UserID != "" && next.UserID != old.UserID) ||
			(next.DeviceID != "" && next.DeviceID != old.DeviceID) {
			return fmt.Errorf("next token names another family, user or device: %w", storage.ErrInvalid)
		}
		taken, err := exists(ctx, db.sessions, next.TokenHash)
		if err != nil {
			return err
		}
		if taken {
			return fmt.Errorf("next token hash taken: %w", storage.ErrExists)
		}
		res, err := db.sessions.UpdateOne(ctx, bson.D{{Key: "_id", Value: hash}, {Key: "used_at", Value: d("$exists", false)}, notRevoked},
			d("$set", d("used_at", at)))
		if err != nil {
			return err
		}
		if res.MatchedCount != 1 {
			return fmt.Errorf("token rotated concurrently: %w", storage.ErrConflict)
		}
		n := next
		n.Family, n.UserID, n.DeviceID, n.ExpiresAt = old.Family, old.UserID, old.DeviceID, old.ExpiresAt
		if n.IssuedAt.IsZero() {
			n.IssuedAt = at
		}
		n.UsedAt, n.RevokedAt = time.Time{}, time.Time{}
		_, err = db.sessions.InsertOne(ctx, toSessionDoc(n))
		if mongo.IsDuplicateKeyError(err) {
			return fmt.Errorf("next token hash taken: %w", storage.ErrExists)
		}
		if err != nil {
			return err
		}
		old.UsedAt = at
		return nil
	})
	if err != nil {
		return storage.Session{}, fmt.Errorf("mongo: rotate session: %w", err)
	}
	if reused {
		// Committed: the family is revoked.
		return old.session(), fmt.Errorf("mongo: rotate session: token already used or revoked, family revoked: %w", storage.ErrConflict)
	}
	return old.session(), nil
}

// Session returns a stored refresh token by hash, or storage.ErrNotFound
// (also for a token pruned after its family expired).
func (db *DB) Session(ctx context.Context, hash string) (storage.Session, error) {
	var doc sessionDoc
	err := db.run(ctx, func(ctx context.Context) error {
		return found(db.sessions.FindOne(ctx, d("_id", hash)).Decode(&doc))
	})
	if err != nil {
		return storage.Session{}, fmt.Errorf("mongo: session: %w", err)
	}
	return doc.session(), nil
}

// RevokeSessions sets RevokedAt to now on every token of the filter's
// family, user or device (exactly one set, storage.ErrInvalid otherwise)
// that is live: not revoked, not expired at now. Used tokens count too. It
// returns how many tokens it revoked: one update of many documents, each
// atomic.
func (db *DB) RevokeSessions(ctx context.Context, f storage.SessionFilter, now time.Time) (int, error) {
	set := 0
	for _, s := range []string{f.Family, f.UserID, f.DeviceID} {
		if s != "" {
			set++
		}
	}
	if set != 1 {
		return 0, fmt.Errorf("mongo: revoke sessions: %d of family, user and device set, want exactly one: %w", set, storage.ErrInvalid)
	}
	owner := bson.E{Key: "family", Value: f.Family}
	switch {
	case f.UserID != "":
		owner = bson.E{Key: "user_id", Value: f.UserID}
	case f.DeviceID != "":
		owner = bson.E{Key: "device_id", Value: f.DeviceID}
	}
	var n int64
	err := db.run(ctx, func(ctx context.Context) error {
		res, err := db.sessions.UpdateMany(ctx, live(owner, now), d("$set", d("revoked_at", millis(now))))
		if err != nil {
			return err
		}
		n = res.ModifiedCount
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("mongo: revoke sessions: %w", err)
	}
	return int(n), nil
}

// BindSessionDevice sets DeviceID on every token of the family that is not
// revoked, used ones included (so that revoking the device revokes the
// whole chain). storage.ErrNotFound when the family has no such token;
// storage.ErrInvalid for an empty family or device id.
func (db *DB) BindSessionDevice(ctx context.Context, family, deviceID string) error {
	if err := storage.CheckIdent("family", family); err != nil {
		return fmt.Errorf("mongo: bind session device: %w", err)
	}
	if err := storage.CheckIdent("device id", deviceID); err != nil {
		return fmt.Errorf("mongo: bind session device: %w", err)
	}
	err := db.run(ctx, func(ctx context.Context) error {
		res, err := db.sessions.UpdateMany(ctx, bson.D{{Key: "family", Value: family}, notRevoked},
			d("$set", d("device_id", deviceID)))
		if err != nil {
			return err
		}
		if res.MatchedCount == 0 {
			return fmt.Errorf("no live token in family: %w", storage.ErrNotFound)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("mongo: bind session device %s: %w", family, err)
	}
	return nil
}

// SessionLive reports whether the family has a token that is neither
// revoked nor expired at now (an unknown family: false, no error). One
// indexed count, limited to 1.
func (db *DB) SessionLive(ctx context.Context, family string, now time.Time) (bool, error) {
	if family == "" {
		return false, nil
	}
	var n int64
	err := db.run(ctx, func(ctx context.Context) error {
		var err error
		n, err = db.sessions.CountDocuments(ctx, live(bson.E{Key: "family", Value: family}, now), options.Count().SetLimit(1))
		return err
	})
	if err != nil {
		return false, fmt.Errorf("mongo: session live %s: %w", family, err)
	}
	return n > 0, nil
}
