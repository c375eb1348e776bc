package mongo

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/pairsync/pairsync/storage"
)

// DefaultUserPage is the page size of ListUsers when UserQuery.Limit is 0.
const DefaultUserPage = 100

// userDoc is a storage.User in the users collection. Phone is absent when
// empty, so that the sparse unique index on it lets any number of users go
// without one.
type userDoc struct {
	ID           string    `bson:"_id"`
	Username     string    `bson:"username"`
	Phone        string    `bson:"phone,omitempty"`
	Name         string    `bson:"name,omitempty"`
	Role         string    `bson:"role,omitempty"`
	OrgUnit      string    `bson:"org_unit,omitempty"`
	Counterparty string    `bson:"counterparty,omitempty"`
	PasswordHash string    `bson:"password_hash,omitempty"`
	MustChange   bool      `bson:"must_change_password,omitempty"`
	Disabled     bool      `bson:"disabled,omitempty"`
	CreatedAt    time.Time `bson:"created_at"`
	UpdatedAt    time.Time `bson:"updated_at"`
	Rev          int64     `bson:"rev"`
	NotifyOff    string    `bson:"notify_off,omitempty"`
	Language     string    `bson:"language,omitempty"`
}

func toUserDoc(u storage.User) userDoc {
	return userDoc{
		ID: u.ID, Username: u.Username, Phone: u.Phone, Name: u.Name, Role: u.Role,
		OrgUnit: u.OrgUnit, Counterparty: u.Counterparty, PasswordHash: u.PasswordHash, MustChange: u.MustChangePassword,
		NotifyOff: u.NotifyOff, Language: u.Language, Disabled: u.Disabled, CreatedAt: millis(u.CreatedAt), UpdatedAt: millis(u.UpdatedAt), Rev: int64(u.Rev),
	}
}

func (d userDoc) user() storage.User {
	return storage.User{
		ID: d.ID, Username: d.Username, Phone: d.Phone, Name: d.Name, Role: d.Role,
		OrgUnit: d.OrgUnit, Counterparty: d.Counterparty, PasswordHash: d.PasswordHash, MustChangePassword: d.MustChange,
		NotifyOff: d.NotifyOff, Language: d.Language, Disabled: d.Disabled, CreatedAt: d.CreatedAt.UTC(), UpdatedAt: d.UpdatedAt.UTC(), Rev: uint64(d.Rev),
	}
}

// deviceDoc is a storage.Device in the devices collection; zero times are
// absent.
type deviceDoc struct {
	ID        string    `bson:"_id"`
	UserID    string    `bson:"user_id"`
	Name      string    `bson:"name,omitempty"`
	CreatedAt time.Time `bson:"created_at"`
	LastSeen  time.Time `bson:"last_seen,omitempty"`
	RevokedAt time.Time `bson:"revoked_at,omitempty"`
	Rev       int64     `bson:"rev"`
}

func toDeviceDoc(v storage.Device) deviceDoc {
	return deviceDoc{
		ID: v.ID, UserID: v.UserID, Name: v.Name, CreatedAt: millis(v.CreatedAt),
		LastSeen: millis(v.LastSeen), RevokedAt: millis(v.RevokedAt), Rev: int64(v.Rev),
	}
}

func (v deviceDoc) device() storage.Device {
	return storage.Device{
		ID: v.ID, UserID: v.UserID, Name: v.Name, CreatedAt: utc(v.CreatedAt),
		LastSeen: utc(v.LastSeen), RevokedAt: utc(v.RevokedAt), Rev: uint64(v.Rev),
	}
}

// utc returns t in UTC, keeping the zero time zero.
func utc(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC()
}

// CreateUser stores a new user with Rev 1 and returns it: one insert,
// which the unique indexes on _id and username refuse with
// storage.ErrExists (a phone may be shared). A zero CreatedAt becomes now, a zero UpdatedAt
// becomes CreatedAt. storage.ErrInvalid when ID or Username is empty (or
// over 1 KiB).
func (db *DB) CreateUser(ctx context.Context, u storage.User) (storage.User, error) {
	if err := storage.CheckUser(u); err != nil {
		return storage.User{}, fmt.Errorf("mongo: create user %s: %w", u.ID, err)
	}
	if u.CreatedAt.IsZero() {
		u.CreatedAt = now()
	}
	if u.UpdatedAt.IsZero() {
		u.UpdatedAt = u.CreatedAt
	}
	u.Rev = 1
	doc := toUserDoc(u)
	err := db.run(ctx, func(ctx context.Context) error {
		_, err := db.users.InsertOne(ctx, doc)
		if mongo.IsDuplicateKeyError(err) {
			return fmt.Errorf("id or username taken: %w", storage.ErrExists)
		}
		return err
	})
	if err != nil {
		return storage.User{}, fmt.Errorf("mongo: create user %s: %w", u.ID, err)
	}
	return doc.user(), nil
}

// User returns a user by id, or storage.ErrNotFound.
func (db *DB) User(ctx context.Context, id string) (storage.User, error) {
	return byID(ctx, db, db.users, "user", id, userDoc.user)
}

// UserByLogin returns the user whose Username equals login, or else the one
// user whose Phone does (one indexed lookup each); storage.ErrNotFound when
// none, storage.ErrAmbiguous when no Username matches and several users
// have that Phone.
func (db *DB) UserByLogin(ctx context.Context, login string) (storage.User, error) {
	var doc userDoc
	err := db.run(ctx, func(ctx context.Context) error {
		if login == "" {
			return storage.ErrNotFound
		}
		err := db.users.FindOne(ctx, d("username", login)).Decode(&doc)
		if !errors.Is(err, mongo.ErrNoDocuments) {
			return found(err)
		}
		docs, err := find[userDoc](ctx, db.users, d("phone", login), options.Find().SetSort(d("_id", 1)).SetLimit(2))
		switch {
		case err != nil:
			return err
		case len(docs) == 0:
			return storage.ErrNotFound
		case len(docs) > 1:
			return storage.ErrAmbiguous
		}
		doc = docs[0]
		return nil
	})
	if err != nil {
		// login may be a phone number: keep it out of the error text.
		return storage.User{}, fmt.Errorf("mongo: user by login: %w", err)
	}
	return doc.user(), nil
}

// UsersByPhone returns every user whose Phone equals phone, disabled ones
// included, ordered by ID (one query on the phone index); none for an empty
// or unknown phone.
func (db *DB) UsersByPhone(ctx context.Context, phone string) ([]storage.User, error) {
	if phone == "" {
		if err := db.begin(ctx); err != nil {
			return nil, fmt.Errorf("mongo: users by phone: %w", err)
		}
		return nil, nil
	}
	var docs []userDoc
	err := db.run(ctx, func(ctx context.Context) error {
		var err error
		docs, err = find[userDoc](ctx, db.users, d("phone", phone), options.Find().SetSort(d("_id", 1)))
		return err
	})
	if err != nil {
		// Keep the phone number out of the error text.
		return nil, fmt.Errorf("mongo: users by phone: %w", err)
	}
	var out []storage.User
	for _, doc := range docs {
		out = append(out, doc.user())
	}
	return out, nil
}

// UpdateUser replaces the user with u.ID if its stored Rev equals u.Rev and
// returns it with Rev+1; CreatedAt keeps its stored value and UpdatedAt
// becomes now. The replacement is one compare-and-set on (_id, rev);
// before it, a new Username is looked up so that a taken one is
// storage.ErrExists (the unique index catches a race); a Phone may be
// shared. storage.ErrNotFound,
// storage.ErrConflict (Rev changed), storage.ErrInvalid (empty ID or
// Username); nothing is written on error.
func (db *DB) UpdateUser(ctx context.Context, u storage.User) (storage.User, error) {
	if err := storage.CheckUser(u); err != nil {
		return storage.User{}, fmt.Errorf("mongo: update user %s: %w", u.ID, err)
	}
	var doc userDoc
	err := db.run(ctx, func(ctx context.Context) error {
		var old userDoc
		if err := found(db.users.FindOne(ctx, d("_id", u.ID)).Decode(&old)); err != nil {
			return err
		}
		if uint64(old.Rev) != u.Rev {
			return fmt.Errorf("rev %d, stored %d: %w", u.Rev, old.Rev, storage.ErrConflict)
		}
		if u.Username != old.Username {
			if err := db.taken(ctx, "username", u.Username, u.ID); err != nil {
				return err
			}
		}
		u.CreatedAt = old.CreatedAt
		u.UpdatedAt = now()
		u.Rev = uint64(old.Rev) + 1
		doc = toUserDoc(u)
		res, err := db.users.ReplaceOne(ctx, bson.D{{Key: "_id", Value: u.ID}, {Key: "rev", Value: old.Rev}}, doc)
		if mongo.IsDuplicateKeyError(err) {
			return fmt.Errorf("username taken: %w", storage.ErrExists)
		}
		if err != nil {
			return err
		}
		if res.MatchedCount != 1 {
			return fmt.Errorf("updated concurrently: %w", storage.ErrConflict)
		}
		return nil
	})
	if err != nil {
		return storage.User{}, fmt.Errorf("mongo: update user %s: %w", u.ID, err)
	}
	return doc.user(), nil
}

// taken returns storage.ErrExists when another user than id has value in
// field.
func (db *DB) taken(ctx context.Context, field, value, id string) error {
	n, err := db.users.CountDocuments(ctx, bson.D{{Key: field, Value: value}, {Key: "_id", Value: d("$ne", id)}},
		options.Count().SetLimit(1))
	if err != nil {
		return err
	}
	if n > 0 {
		return fmt.Errorf("%s %q taken: %w", field, value, storage.ErrExists)
	}
	return nil
}

// ListUsers returns up to q.Limit users (default 100) ordered by Username,
// starting after q.After, that have role q.Role (when set), belong to one
// of q.OrgUnits (when non-nil) and whose Username or Name contains q.Search
// ignoring case, or whose Phone contains it (when set), and whether more
// such users follow. One query on the username index, filtered on the
// server.
func (db *DB) ListUsers(ctx context.Context, q storage.UserQuery) ([]storage.User, bool, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = DefaultUserPage
	}
	if q.OrgUnits != nil && len(q.OrgUnits) == 0 {
		if err := db.begin(ctx); err != nil {
			return nil, false, fmt.Errorf("mongo: list users: %w", err)
		}
		return nil, false, nil
	}
	filter := bson.D{}
	if q.After != "" {
		filter = append(filter, bson.E{Key: "username", Value: d("$gt", q.After)})
	}
	if q.Role != "" {
		filter = append(filter, bson.E{Key: "role", Value: q.Role})
	}
	if q.OrgUnits != nil {
		filter = append(filter, bson.E{Key: "org_unit", Value: d("$in", q.OrgUnits)})
	}
	if q.Search != "" {
		quoted := regexp.QuoteMeta(q.Search)
		filter = append(filter, bson.E{Key: "$or", Value: bson.A{
			d("username", bson.Regex{Pattern: quoted, Options: "i"}),
			d("name", bson.Regex{Pattern: quoted, Options: "i"}),
			d("phone", bson.Regex{Pattern: regexp.QuoteMeta(strings.ToLower(q.Search))}),
		}})
	}
	var docs []userDoc
	err := db.run(ctx, func(ctx context.Context) error {
		var err error
		docs, err = find[userDoc](ctx, db.users, filter,
			options.Find().SetSort(d("username", 1)).SetLimit(int64(limit)+1))
		return err
	})
	if err != nil {
		return nil, false, fmt.Errorf("mongo: list users: %w", err)
	}
	more := len(docs) > limit
	if more {
		docs = docs[:limit]
	}
	out := make([]storage.User, len(docs))
	for i, doc := range docs {
		out[i] = doc.user()
	}
	return out, more, nil
}

// CountUsers returns the number of users.
func (db *DB) CountUsers(ctx context.Context) (int, error) {
	var n int64
	err := db.run(ctx, func(ctx context.Context) error {
		var err error
		n, err = db.users.CountDocuments(ctx, bson.D{})
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("mongo: count users: %w", err)
	}
	return int(n), nil
}

// CreateDevice stores a new device with Rev 1 and returns it; a zero
// CreatedAt becomes now. storage.ErrExists if the ID is taken,
// storage.ErrInvalid if ID or UserID is empty. The user is not checked.
func (db *DB) CreateDevice(ctx context.Context, v storage.Device) (storage.Device, error) {
	if err := storage.CheckIdent("id", v.ID); err != nil {
		return storage.Device{}, fmt.Errorf("mongo: create device %s: %w", v.ID, err)
	}
	if err := storage.CheckIdent("user id", v.UserID); err != nil {
		return storage.Device{}, fmt.Errorf("mongo: create device %s: %w", v.ID, err)
	}
	if v.CreatedAt.IsZero() {
		v.CreatedAt = now()
	}
	v.Rev = 1
	doc := toDeviceDoc(v)
	err := db.run(ctx, func(ctx context.Context) error {
		_, err := db.devices.InsertOne(ctx, doc)
		if mongo.IsDuplicateKeyError(err) {
			return fmt.Errorf("id taken: %w", storage.ErrExists)
		}
		return err
	})
	if err != nil {
		return storage.Device{}, fmt.Errorf("mongo: create device %s: %w", v.ID, err)
	}
	return doc.device(), nil
}

// Device returns a device by id, or storage.ErrNotFound.
func (db *DB) Device(ctx context.Context, id string) (storage.Device, error) {
	return byID(ctx, db, db.devices, "device", id, deviceDoc.device)
}

// UpdateDevice replaces the device with v.ID if its stored Rev equals v.Rev
// (one compare-and-set on (_id, rev)) and returns it with Rev+1; CreatedAt
// and UserID keep their stored values. storage.ErrNotFound if absent,
// storage.ErrConflict if the Rev changed, storage.ErrInvalid if v.UserID is
// set and differs from the stored one.
func (db *DB) UpdateDevice(ctx context.Context, v storage.Device) (storage.Device, error) {
	var doc deviceDoc
	err := db.run(ctx, func(ctx context.Context) error {
		var old deviceDoc
		if err := found(db.devices.FindOne(ctx, d("_id", v.ID)).Decode(&old)); err != nil {
			return err
		}
		if v.UserID != "" && v.UserID != old.UserID {
			return fmt.Errorf("user id cannot change: %w", storage.ErrInvalid)
		}
		if uint64(old.Rev) != v.Rev {
			return fmt.Errorf("rev %d, stored %d: %w", v.Rev, old.Rev, storage.ErrConflict)
		}
		v.UserID = old.UserID
		v.CreatedAt = old.CreatedAt
		v.Rev = uint64(old.Rev) + 1
		doc = toDeviceDoc(v)
		res, err := db.devices.ReplaceOne(ctx, bson.D{{Key: "_id", Value: v.ID}, {Key: "rev", Value: old.Rev}}, doc)
		if err != nil {
			return err
		}
		if res.MatchedCount != 1 {
			return fmt.Errorf("updated concurrently: %w", storage.ErrConflict)
		}
		return nil
	})
	if err != nil {
		return storage.Device{}, fmt.Errorf("mongo: update device %s: %w", v.ID, err)
	}
	return doc.device(), nil
}

// DevicesOf lists a user's devices, oldest (CreatedAt, then ID) first; an
// unknown user has none.
func (db *DB) DevicesOf(ctx context.Context, userID string) ([]storage.Device, error) {
	var docs []deviceDoc
	err := db.run(ctx, func(ctx context.Context) error {
		var err error
		docs, err = find[deviceDoc](ctx, db.devices, d("user_id", userID),
			options.Find().SetSort(bson.D{{Key: "created_at", Value: 1}, {Key: "_id", Value: 1}}))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("mongo: devices of %s: %w", userID, err)
	}
	out := make([]storage.Device, len(docs))
	for i, doc := range docs {
		out[i] = doc.device()
	}
	return out, nil
}

// IdleDevices lists the idle devices of the org units' users with two
// queries: the idle devices, then their users in those units.
func (db *DB) IdleDevices(ctx context.Context, orgUnits []string, before time.Time) ([]storage.IdleDevice, error) {
	var out []storage.IdleDevice
	err := db.run(ctx, func(ctx context.Context) error {
		out = nil
		docs, err := find[deviceDoc](ctx, db.devices, bson.D{})
		if err != nil {
			return err
		}
		var idle []deviceDoc
		ids := map[string]bool{}
		for _, doc := range docs {
			last := doc.LastSeen
			if last.IsZero() {
				last = doc.CreatedAt
			}
			if doc.RevokedAt.IsZero() && last.Before(before) {
				idle = append(idle, doc)
				ids[doc.UserID] = true
			}
		}
		if len(idle) == 0 || len(orgUnits) == 0 {
			return nil
		}
		userIDs := make([]string, 0, len(ids))
		for id := range ids {
			userIDs = append(userIDs, id)
		}
		users, err := find[userDoc](ctx, db.users, bson.D{{Key: "_id", Value: d("$in", userIDs)}, {Key: "org_unit", Value: d("$in", orgUnits)}})
		if err != nil {
			return err
		}
		byID := make(map[string]storage.User, len(users))
		for _, u := range users {
			byID[u.ID] = u.user()
		}
		for _, doc := range idle {
			if u, ok := byID[doc.UserID]; ok {
				out = append(out, storage.IdleDevice{Device: doc.device(), User: u})
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("mongo: idle devices: %w", err)
	}
	return out, nil
}
