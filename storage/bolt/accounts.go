package bolt

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/pairsync/pairsync/storage"
	bbolt "go.etcd.io/bbolt"
)

// DefaultUserPage is the page size of ListUsers when UserQuery.Limit is 0.
const DefaultUserPage = 100

// userDoc is a storage.User as stored (JSON) in the users bucket.
type userDoc struct {
	ID           string    `json:"id"`
	Username     string    `json:"username"`
	Phone        string    `json:"phone,omitempty"`
	Name         string    `json:"name,omitempty"`
	Role         string    `json:"role,omitempty"`
	OrgUnit      string    `json:"org_unit,omitempty"`
	Counterparty string    `json:"counterparty,omitempty"`
	PasswordHash string    `json:"password_hash,omitempty"`
	MustChange   bool      `json:"must_change_password,omitempty"`
	Disabled     bool      `json:"disabled,omitempty"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
	Rev          uint64    `json:"rev"`
	NotifyOff    string    `json:"notify_off,omitempty"`
	Language     string    `json:"language,omitempty"`
}

func toUserDoc(u storage.User) userDoc {
	return userDoc{
		ID: u.ID, Username: u.Username, Phone: u.Phone, Name: u.Name, Role: u.Role,
		OrgUnit: u.OrgUnit, Counterparty: u.Counterparty, PasswordHash: u.PasswordHash, MustChange: u.MustChangePassword,
		NotifyOff: u.NotifyOff, Language: u.Language, Disabled: u.Disabled, CreatedAt: millis(u.CreatedAt), UpdatedAt: millis(u.UpdatedAt), Rev: u.Rev,
	}
}

func (d userDoc) user() storage.User {
	return storage.User{
		ID: d.ID, Username: d.Username, Phone: d.Phone, Name: d.Name, Role: d.Role,
		OrgUnit: d.OrgUnit, Counterparty: d.Counterparty, PasswordHash: d.PasswordHash, MustChangePassword: d.MustChange,
		NotifyOff: d.NotifyOff, Language: d.Language, Disabled: d.Disabled, CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt, Rev: d.Rev,
	}
}

// deviceDoc is a storage.Device as stored (JSON) in the devices bucket.
type deviceDoc struct {
	ID        string    `json:"id"`
	UserID    string    `json:"user_id"`
	Name      string    `json:"name,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	LastSeen  time.Time `json:"last_seen"`
	RevokedAt time.Time `json:"revoked_at"`
	Rev       uint64    `json:"rev"`
}

func toDeviceDoc(d storage.Device) deviceDoc {
	return deviceDoc{
		ID: d.ID, UserID: d.UserID, Name: d.Name, CreatedAt: millis(d.CreatedAt),
		LastSeen: millis(d.LastSeen), RevokedAt: millis(d.RevokedAt), Rev: d.Rev,
	}
}

func (d deviceDoc) device() storage.Device {
	return storage.Device{
		ID: d.ID, UserID: d.UserID, Name: d.Name, CreatedAt: d.CreatedAt,
		LastSeen: d.LastSeen, RevokedAt: d.RevokedAt, Rev: d.Rev,
	}
}

// now is the time adapters stamp: UTC, millisecond precision (what every
// backend, MongoDB included, stores exactly).
func now() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }

func getJSON(b *bbolt.Bucket, key string, v any) error {
	raw := b.Get([]byte(key))
	if raw == nil {
		return storage.ErrNotFound
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("decode %s: %w", key, err)
	}
	return nil
}

func putJSON(b *bbolt.Bucket, key string, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put([]byte(key), raw)
}

// phoneKey is the users_by_phone key of a user's phone: several users may
// share one, and the length prefix keeps "111" and "1112" apart.
func phoneKey(phone, id string) []byte {
	return append(appendStr(make([]byte, 0, len(phone)+len(id)+2), phone), id...)
}

// phoneHolders returns the ids of the users whose phone is phone, in id
// order, stopping after max (0: all).
func phoneHolders(tx *bbolt.Tx, phone string, max int) []string {
	var ids []string
	prefix := appendStr(nil, phone)
	c := tx.Bucket(bucketUsersByPhone).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		ids = append(ids, string(k[len(prefix):]))
		if len(ids) == max {
			break
		}
	}
	return ids
}

// CreateUser stores a new user with Rev 1 and returns it. A zero CreatedAt
// becomes now, a zero UpdatedAt becomes CreatedAt; times are returned in
// UTC. storage.ErrExists when the ID or Username is taken (a Phone may be
// shared); storage.ErrInvalid when ID or Username is empty (or over 1 KiB).
func (db *DB) CreateUser(ctx context.Context, u storage.User) (storage.User, error) {
	if err := storage.CheckUser(u); err != nil {
		return storage.User{}, fmt.Errorf("bolt: create user %s: %w", u.ID, err)
	}
	if u.CreatedAt.IsZero() {
		u.CreatedAt = now()
	}
	if u.UpdatedAt.IsZero() {
		u.UpdatedAt = u.CreatedAt
	}
	u.Rev = 1
	doc := toUserDoc(u)
	err := db.update(ctx, func(tx *bbolt.Tx) error {
		users, byName, byPhone := tx.Bucket(bucketUsers), tx.Bucket(bucketUsersByName), tx.Bucket(bucketUsersByPhone)
		if users.Get([]byte(u.ID)) != nil {
			return fmt.Errorf("id taken: %w", storage.ErrExists)
		}
		if byName.Get([]byte(u.Username)) != nil {
			return fmt.Errorf("username %q taken: %w", u.Username, storage.ErrExists)
		}
		if err := byName.Put([]byte(u.Username), []byte(u.ID)); err != nil {
			return err
		}
		if u.Phone != "" {
			if err := byPhone.Put(phoneKey(u.Phone, u.ID), nil); err != nil {
				return err
			}
		}
		return putJSON(users, u.ID, doc)
	})
	if err != nil {
		return storage.User{}, fmt.Errorf("bolt: create user %s: %w", u.ID, err)
	}
	return doc.user(), nil
}

// User returns a user by id, or storage.ErrNotFound.
func (db *DB) User(ctx context.Context, id string) (storage.User, error) {
	var doc userDoc
	err := db.view(ctx, func(tx *bbolt.Tx) error {
		return getJSON(tx.Bucket(bucketUsers), id, &doc)
	})
	if err != nil {
		return storage.User{}, fmt.Errorf("bolt: user %s: %w", id, err)
	}
	return doc.user(), nil
}

// UserByLogin returns the user whose Username equals login, or else the one
// user whose Phone does; storage.ErrNotFound when none, storage.ErrAmbiguous
// when no Username matches and several users have that Phone.
func (db *DB) UserByLogin(ctx context.Context, login string) (storage.User, error) {
	var doc userDoc
	err := db.view(ctx, func(tx *bbolt.Tx) error {
		if login == "" {
			return storage.ErrNotFound
		}
		id := tx.Bucket(bucketUsersByName).Get([]byte(login))
		if id == nil {
			switch ids := phoneHolders(tx, login, 2); len(ids) {
			case 0:
				return storage.ErrNotFound
			case 1:
				id = []byte(ids[0])
			default:
				return storage.ErrAmbiguous
			}
		}
		return getJSON(tx.Bucket(bucketUsers), string(id), &doc)
	})
	if err != nil {
		// login may be a phone number: keep it out of the error text.
		return storage.User{}, fmt.Errorf("bolt: user by login: %w", err)
	}
	return doc.user(), nil
}

// UsersByPhone returns every user whose Phone equals phone, disabled ones
// included, ordered by ID; none for an empty or unknown phone.
func (db *DB) UsersByPhone(ctx context.Context, phone string) ([]storage.User, error) {
	var out []storage.User
	err := db.view(ctx, func(tx *bbolt.Tx) error {
		if phone == "" {
			return nil
		}
		users := tx.Bucket(bucketUsers)
		for _, id := range phoneHolders(tx, phone, 0) {
			var doc userDoc
			if err := getJSON(users, id, &doc); err != nil {
				return fmt.Errorf("index phone → %s: %w", id, err)
			}
			out = append(out, doc.user())
		}
		return nil
	})
	if err != nil {
		// Keep the phone number out of the error text.
		return nil, fmt.Errorf("bolt: users by phone: %w", err)
	}
	return out, nil
}

// UpdateUser replaces the user with u.ID if its stored Rev equals u.Rev and
// returns it with Rev+1. CreatedAt keeps its stored value and UpdatedAt
// becomes now. storage.ErrNotFound, storage.ErrConflict (Rev changed),
// storage.ErrExists (the new Username belongs to another user; a Phone may be shared),
// storage.ErrInvalid (empty ID or Username); nothing is written on error.
func (db *DB) UpdateUser(ctx context.Context, u storage.User) (storage.User, error) {
	if err := storage.CheckUser(u); err != nil {
		return storage.User{}, fmt.Errorf("bolt: update user %s: %w", u.ID, err)
	}
	var doc userDoc
	err := db.update(ctx, func(tx *bbolt.Tx) error {
		users, byName, byPhone := tx.Bucket(bucketUsers), tx.Bucket(bucketUsersByName), tx.Bucket(bucketUsersByPhone)
		var old userDoc
		if err := getJSON(users, u.ID, &old); err != nil {
			return err
		}
		if old.Rev != u.Rev {
			return fmt.Errorf("rev %d, stored %d: %w", u.Rev, old.Rev, storage.ErrConflict)
		}
		if u.Username != old.Username {
			if byName.Get([]byte(u.Username)) != nil {
				return fmt.Errorf("username %q taken: %w", u.Username, storage.ErrExists)
			}
		}
		if u.Username != old.Username {
			if err := byName.Delete([]byte(old.Username)); err != nil {
				return err
			}
			if err := byName.Put([]byte(u.Username), []byte(u.ID)); err != nil {
				return err
			}
		}
		if u.Phone != old.Phone {
			if old.Phone != "" {
				if err := byPhone.Delete(phoneKey(old.Phone, u.ID)); err != nil {
					return err
				}
			}
			if u.Phone != "" {
				if err := byPhone.Put(phoneKey(u.Phone, u.ID), nil); err != nil {
					return err
				}
			}
		}
		u.CreatedAt = old.CreatedAt
		u.UpdatedAt = now()
		u.Rev = old.Rev + 1
		doc = toUserDoc(u)
		return putJSON(users, u.ID, doc)
	})
	if err != nil {
		return storage.User{}, fmt.Errorf("bolt: update user %s: %w", u.ID, err)
	}
	return doc.user(), nil
}

// ListUsers returns up to q.Limit users (default 100) ordered by Username,
// starting after q.After, that have role q.Role (when set) and whose
// Username, Name or Phone contains q.Search (case-insensitively, when set),
// and whether more such users follow.
func (db *DB) ListUsers(ctx context.Context, q storage.UserQuery) ([]storage.User, bool, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = DefaultUserPage
	}
	search := strings.ToLower(q.Search)
	var units map[string]bool
	if q.OrgUnits != nil {
		units = make(map[string]bool, len(q.OrgUnits))
		for _, id := range q.OrgUnits {
			units[id] = true
		}
	}
	var (
		out  []storage.User
		more bool
	)
	err := db.view(ctx, func(tx *bbolt.Tx) error {
		users := tx.Bucket(bucketUsers)
		c := tx.Bucket(bucketUsersByName).Cursor()
		k, id := c.Seek([]byte(q.After))
		if k != nil && q.After != "" && string(k) == q.After {
			k, id = c.Next()
		}
		for ; k != nil; k, id = c.Next() {
			var doc userDoc
			if err := getJSON(users, string(id), &doc); err != nil {
				return fmt.Errorf("index username %q: %w", k, err)
			}
			if q.Role != "" && doc.Role != q.Role {
				continue
			}
			if units != nil && !units[doc.OrgUnit] {
				continue
			}
			if search != "" && !strings.Contains(strings.ToLower(doc.Username), search) &&
				!strings.Contains(strings.ToLower(doc.Name), search) &&
				!strings.Contains(doc.Phone, search) {
				continue
			}
			if len(out) == limit {
				more = true
				return nil
			}
			out = append(out, doc.user())
		}
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("bolt: list users: %w", err)
	}
	return out, more, nil
}

// CountUsers returns the number of users.
func (db *DB) CountUsers(ctx context.Context) (int, error) {
	var n int
	err := db.view(ctx, func(tx *bbolt.Tx) error {
		n = tx.Bucket(bucketUsers).Stats().KeyN
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("bolt: count users: %w", err)
	}
	return n, nil
}

// deviceIndexKey is the devices_by_user key of a device.
func deviceIndexKey(userID, id string) []byte {
	return append(appendStr(make([]byte, 0, len(userID)+len(id)+2), userID), id...)
}

// CreateDevice stores a new device with Rev 1 and returns it; a zero
// CreatedAt becomes now. storage.ErrExists if the ID is taken,
// storage.ErrInvalid if ID or UserID is empty. The user is not checked.
func (db *DB) CreateDevice(ctx context.Context, d storage.Device) (storage.Device, error) {
	if err := storage.CheckIdent("id", d.ID); err != nil {
		return storage.Device{}, fmt.Errorf("bolt: create device %s: %w", d.ID, err)
	}
	if err := storage.CheckIdent("user id", d.UserID); err != nil {
		return storage.Device{}, fmt.Errorf("bolt: create device %s: %w", d.ID, err)
	}
	if d.CreatedAt.IsZero() {
		d.CreatedAt = now()
	}
	d.Rev = 1
	doc := toDeviceDoc(d)
	err := db.update(ctx, func(tx *bbolt.Tx) error {
		devices := tx.Bucket(bucketDevices)
		if devices.Get([]byte(d.ID)) != nil {
			return fmt.Errorf("id taken: %w", storage.ErrExists)
		}
		if err := tx.Bucket(bucketDevicesByUser).Put(deviceIndexKey(d.UserID, d.ID), nil); err != nil {
			return err
		}
		return putJSON(devices, d.ID, doc)
	})
	if err != nil {
		return storage.Device{}, fmt.Errorf("bolt: create device %s: %w", d.ID, err)
	}
	return doc.device(), nil
}

// Device returns a device by id, or storage.ErrNotFound.
func (db *DB) Device(ctx context.Context, id string) (storage.Device, error) {
	var doc deviceDoc
	err := db.view(ctx, func(tx *bbolt.Tx) error {
		return getJSON(tx.Bucket(bucketDevices), id, &doc)
	})
	if err != nil {
		return storage.Device{}, fmt.Errorf("bolt: device %s: %w", id, err)
	}
	return doc.device(), nil
}

// UpdateDevice replaces the device with d.ID if its stored Rev equals d.Rev
// and returns it with Rev+1; CreatedAt and UserID keep their stored values.
// storage.ErrNotFound if absent, storage.ErrConflict if the Rev changed,
// storage.ErrInvalid if d.UserID is set and differs from the stored one.
func (db *DB) UpdateDevice(ctx context.Context, d storage.Device) (storage.Device, error) {
	var doc deviceDoc
	err := db.update(ctx, func(tx *bbolt.Tx) error {
		devices := tx.Bucket(bucketDevices)
		var old deviceDoc
		if err := getJSON(devices, d.ID, &old); err != nil {
			return err
		}
		if d.UserID != "" && d.UserID != old.UserID {
			return fmt.Errorf("user id cannot change: %w", storage.ErrInvalid)
		}
		if old.Rev != d.Rev {
			return fmt.Errorf("rev %d, stored %d: %w", d.Rev, old.Rev, storage.ErrConflict)
		}
		d.UserID = old.UserID
		d.CreatedAt = old.CreatedAt
		d.Rev = old.Rev + 1
		doc = toDeviceDoc(d)
		return putJSON(devices, d.ID, doc)
	})
	if err != nil {
		return storage.Device{}, fmt.Errorf("bolt: update device %s: %w", d.ID, err)
	}
	return doc.device(), nil
}

// TouchDevices records when devices were last seen, in one transaction:
// each device in seen whose stored LastSeen is older gets the time given
// (millisecond precision) and Rev+1; unknown devices are skipped. A server
// keeps sightings in memory and writes them a few seconds at a time with
// it, so that a sync reads the store only.
func (db *DB) TouchDevices(ctx context.Context, seen map[string]time.Time) error {
	if len(seen) == 0 {
		return nil
	}
	err := db.update(ctx, func(tx *bbolt.Tx) error {
		devices := tx.Bucket(bucketDevices)
		for id, t := range seen {
			var doc deviceDoc
			if err := getJSON(devices, id, &doc); errors.Is(err, storage.ErrNotFound) {
				continue
			} else if err != nil {
				return fmt.Errorf("device %s: %w", id, err)
			}
			if t = millis(t); !doc.LastSeen.Before(t) {
				continue
			}
			doc.LastSeen = t
			doc.Rev++
			if err := putJSON(devices, id, doc); err != nil {
				return fmt.Errorf("device %s: %w", id, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("bolt: touch devices: %w", err)
	}
	return nil
}

// DevicesOf lists a user's devices, oldest (CreatedAt, then ID) first; an
// unknown user has none.
func (db *DB) DevicesOf(ctx context.Context, userID string) ([]storage.Device, error) {
	var out []storage.Device
	err := db.view(ctx, func(tx *bbolt.Tx) error {
		devices := tx.Bucket(bucketDevices)
		prefix := appendStr(nil, userID)
		c := tx.Bucket(bucketDevicesByUser).Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			id := string(k[len(prefix):])
			var doc deviceDoc
			if err := getJSON(devices, id, &doc); err != nil {
				return fmt.Errorf("index device %s: %w", id, err)
			}
			out = append(out, doc.device())
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("bolt: devices of %s: %w", userID, err)
	}
	slices.SortFunc(out, func(a, b storage.Device) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), strings.Compare(a.ID, b.ID))
	})
	return out, nil
}

// IdleDevices lists the idle devices of the org units' users in one read
// transaction: every device, and the user of each idle one.
func (db *DB) IdleDevices(ctx context.Context, orgUnits []string, before time.Time) ([]storage.IdleDevice, error) {
	units := make(map[string]bool, len(orgUnits))
	for _, u := range orgUnits {
		units[u] = true
	}
	var out []storage.IdleDevice
	err := db.view(ctx, func(tx *bbolt.Tx) error {
		users := tx.Bucket(bucketUsers)
		return tx.Bucket(bucketDevices).ForEach(func(_, v []byte) error {
			var doc deviceDoc
			if err := json.Unmarshal(v, &doc); err != nil {
				return fmt.Errorf("device: %w", err)
			}
			last := doc.LastSeen
			if last.IsZero() {
				last = doc.CreatedAt
			}
			if !doc.RevokedAt.IsZero() || !last.Before(before) {
				return nil
			}
			var u userDoc
			if err := getJSON(users, doc.UserID, &u); err != nil {
				if errors.Is(err, storage.ErrNotFound) {
					return nil
				}
				return fmt.Errorf("user of device %s: %w", doc.ID, err)
			}
			if units[u.OrgUnit] {
				out = append(out, storage.IdleDevice{Device: doc.device(), User: u.user()})
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("bolt: idle devices: %w", err)
	}
	return out, nil
}
