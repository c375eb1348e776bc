package storage

import (
	"context"
	"time"
)

// User is an account. Role and scope are plain strings here; their meaning
// belongs to the server's policy. Adapters store times in UTC at
// millisecond precision (what MongoDB keeps); a zero CreatedAt is set to
// the time of the create, and every update sets UpdatedAt.
type User struct {
	ID       string
	Username string // unique, case-sensitive, as typed at sign-in
	Phone    string // optional, NOT unique (UsersByPhone lists its holders); also accepted at sign-in
	Name     string // display name
	Role     string // admin | viewer | officer | contact
	// OrgUnit is the org unit an admin, viewer or officer belongs to;
	// Counterparty the enterprise or community a contact belongs to.
	OrgUnit      string
	Counterparty string
	// PasswordHash is a PHC-format argon2id hash, empty until the user has
	// set a password (activation pending).
	PasswordHash string
	Disabled     bool
	CreatedAt    time.Time
	UpdatedAt    time.Time
	// Rev is the revision for compare-and-set; adapters set it (1 on
	// create, +1 on each update).
	Rev uint64

	// MustChangePassword is set while the password is one the person did
	// not choose (the first administrator's printed or configured
	// password): the apps prompt them to change it, and a password change
	// clears it.
	MustChangePassword bool

	// NotifyOff lists, comma-separated, the notification channels the
	// person turned off (server/notify: "sms", "wecom", "dingtalk",
	// "webhook"); every other configured channel is on. In-app messages
	// cannot be turned off. (A string keeps User comparable.)
	NotifyOff string

	// Language is the language the person chose in an app: "en" for
	// English; empty (or "zh") for Chinese, the default. Their
	// notifications are written in it (server/notify.Lang).
	Language string
}

// UserQuery selects users for listing. Results are ordered by Username.
type UserQuery struct {
	// Search matches a substring of Username, Name or Phone, ignoring case;
	// empty matches all.
	Search string
	Role   string // exact match when set
	// OrgUnits, when non-nil, keeps only users whose OrgUnit is listed (an
	// administrator's subtree); an empty non-nil list matches nobody.
	OrgUnits []string
	// After is the Username to continue after (the last one of the previous
	// page); empty starts at the beginning.
	After string
	Limit int // 0 means 100
}

// Users stores accounts. Safe for concurrent use.
type Users interface {
	// CreateUser stores a new user and returns it with Rev set. ErrExists
	// when the ID or Username is taken (never for a Phone: other users may
	// have it); ErrInvalid when ID or Username is empty.
	CreateUser(ctx context.Context, u User) (User, error)
	// User returns a user by id, or ErrNotFound.
	User(ctx context.Context, id string) (User, error)
	// UserByLogin returns the user whose Username equals login, or else the
	// one user whose Phone equals login. ErrNotFound when there is none;
	// ErrAmbiguous when no Username matches and several users have that
	// Phone (UsersByPhone lists them).
	UserByLogin(ctx context.Context, login string) (User, error)
	// UsersByPhone returns every user whose Phone equals phone, disabled
	// ones included, ordered by ID; none for an empty or unknown phone.
	// The slice is the caller's.
	UsersByPhone(ctx context.Context, phone string) ([]User, error)
	// UpdateUser replaces a user if its stored Rev equals u.Rev, and returns
	// it with the new Rev. ErrNotFound, ErrConflict (Rev changed), ErrExists
	// (new Username taken; a Phone never is).
	UpdateUser(ctx context.Context, u User) (User, error)
	// ListUsers returns one page of users and whether more users matching
	// the query follow.
	ListUsers(ctx context.Context, q UserQuery) (users []User, more bool, err error)
	// CountUsers returns the number of users.
	CountUsers(ctx context.Context) (int, error)
}

// Device is a phone or browser a user syncs from. Its ID is the replica id
// that stamps the device's changes.
type Device struct {
	ID        string
	UserID    string
	Name      string
	CreatedAt time.Time
	// LastSeen is the last time the device synced (zero if never).
	LastSeen time.Time
	// RevokedAt is set when an admin revoked the device (zero if active).
	RevokedAt time.Time
	Rev       uint64
}

// Devices stores devices. Safe for concurrent use.
type Devices interface {
	// CreateDevice stores a new device; ErrExists if the ID is taken,
	// ErrInvalid if ID or UserID is empty.
	CreateDevice(ctx context.Context, d Device) (Device, error)
	// Device returns a device by id, or ErrNotFound.
	Device(ctx context.Context, id string) (Device, error)
	// UpdateDevice replaces a device if its stored Rev equals d.Rev
	// (ErrConflict otherwise, ErrNotFound if absent). UserID never changes:
	// an empty UserID keeps the stored one, another one is ErrInvalid.
	UpdateDevice(ctx context.Context, d Device) (Device, error)
	// DevicesOf lists a user's devices, oldest first.
	DevicesOf(ctx context.Context, userID string) ([]Device, error)
	// IdleDevices lists the devices, not revoked, of the users of the
	// given org units whose LastSeen (CreatedAt when never seen) is before
	// before, each with its user, in no set order: one call however many
	// users the units hold (the console's devices needing attention).
	IdleDevices(ctx context.Context, orgUnits []string, before time.Time) ([]IdleDevice, error)
}

// IdleDevice is a device with its user (Devices.IdleDevices).
type IdleDevice struct {
	Device Device
	User   User
}
