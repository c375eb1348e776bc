package storage

import (
	"context"
	"time"
)

// OrgUnit is a node of the organisation tree: committee → department →
// branch. Path holds the ids from the root down to and including this unit,
// each followed by "/" ("/root/dept/branch/"), so a subtree is a prefix.
type OrgUnit struct {
	ID       string
	ParentID string // empty for a root
	Name     string
	Kind     string // committee | department | branch
	Path     string // set by the adapter from the parent's path
	// SLADays overrides the default days-to-respond per issue category for
	// this unit and its subtree (category → days); nil inherits.
	SLADays map[string]int
	// Robots are the unit's own 企业微信 and 钉钉 group robots (its
	// subtree's notifications go there unless a unit below has its own);
	// their URLs and secret are keys: never shown back, never logged.
	Robots    Robots
	CreatedAt time.Time
	UpdatedAt time.Time
	Rev       uint64
}

// Robots are an org unit's group robots; an empty field is none.
type Robots struct {
	WeComURL       string // …/cgi-bin/webhook/send?key=…
	DingTalkURL    string // …/robot/send?access_token=…
	DingTalkSecret string // 加签 SEC…, when signed
}

// OrgUnits stores the organisation tree. Safe for concurrent use.
type OrgUnits interface {
	// CreateOrgUnit stores a unit under its parent (ParentID empty: a root)
	// and returns it with Path and Rev set. ErrNotFound for an unknown
	// parent, ErrExists for a taken ID, ErrInvalid for an empty ID or Name.
	CreateOrgUnit(ctx context.Context, u OrgUnit) (OrgUnit, error)
	// OrgUnit returns a unit, or ErrNotFound.
	OrgUnit(ctx context.Context, id string) (OrgUnit, error)
	// UpdateOrgUnit changes Name, Kind, SLADays and Robots if Rev matches
	// (ErrConflict otherwise). Moving a unit is not supported: ParentID and
	// Path are kept as stored.
	UpdateOrgUnit(ctx context.Context, u OrgUnit) (OrgUnit, error)
	// OrgUnits lists the units whose Path starts with pathPrefix ("" = all),
	// ordered by Path.
	OrgUnits(ctx context.Context, pathPrefix string) ([]OrgUnit, error)
	// OrgUnitsVersion returns a number that changes (grows) with every
	// successful CreateOrgUnit and UpdateOrgUnit, by any process: a cache of
	// the tree reads it (one small read) to learn whether to read the tree
	// again. A version read after a write returns is that write's or later.
	OrgUnitsVersion(ctx context.Context) (uint64, error)
}

// SigningKey is one key of the server's token-signing key set.
type SigningKey struct {
	ID        string // the JWT kid
	Algorithm string // EdDSA
	Private   []byte // the private key (Ed25519 seed)
	CreatedAt time.Time
	// RetiredAt is when the key stopped signing (zero while it is the
	// active key). It still verifies until its last token has expired.
	RetiredAt time.Time
}

// SigningKeys stores the key set. Safe for concurrent use.
type SigningKeys interface {
	// SigningKeys returns every stored key, oldest first.
	SigningKeys(ctx context.Context) ([]SigningKey, error)
	// RotateSigningKey atomically retires the active key (if any) at
	// k.CreatedAt and stores k as the new active key; with ifNone set it
	// stores k only when there is no key at all (first start, several
	// processes racing) and returns ErrExists otherwise.
	RotateSigningKey(ctx context.Context, k SigningKey, ifNone bool) error
	// PruneSigningKeys deletes keys retired before the given time.
	PruneSigningKeys(ctx context.Context, retiredBefore time.Time) error
}

// Session is one refresh token of a sign-in family. Only the token's hash
// is stored.
type Session struct {
	TokenHash string // hex SHA-256 of the refresh token: the key
	Family    string // every token rotated from one sign-in shares it
	UserID    string
	DeviceID  string // empty until the device is registered
	IssuedAt  time.Time
	// ExpiresAt is the family's absolute end (sign-in + 30 days); rotation
	// never extends it.
	ExpiresAt time.Time
	UsedAt    time.Time // when it was exchanged (zero if unused)
	RevokedAt time.Time // when its family was revoked (zero if live)
}

// Sessions stores refresh tokens. Safe for concurrent use.
type Sessions interface {
	// CreateSession stores a new refresh token; ErrExists for a taken hash.
	CreateSession(ctx context.Context, s Session) error
	// RotateSession atomically marks the token with hash used at time now
	// and stores next in its place; next needs only TokenHash (and may set
	// IssuedAt): Family, UserID, DeviceID and ExpiresAt are copied from the
	// old token (a different one is ErrInvalid). It returns the old session
	// as it was before the call. If the old token was already used or
	// revoked, it stores nothing, revokes the whole family (reuse of a stolen
	// token; the revocation is committed) and returns the old session with
	// ErrConflict: UsedAt tells reuse from a merely revoked token.
	// ErrNotFound for an unknown hash or an expired family; ErrInvalid for a
	// malformed hash.
	RotateSession(ctx context.Context, hash string, now time.Time, next Session) (Session, error)
	// Session returns a stored refresh token by hash, or ErrNotFound.
	Session(ctx context.Context, hash string) (Session, error)
	// RevokeSessions revokes every live token matching the filter: a family,
	// a user's, or a device's (exactly one of the three is set, else
	// ErrInvalid). It returns how many tokens it revoked (tokens, not
	// sign-ins: used tokens of a rotation chain count too).
	RevokeSessions(ctx context.Context, f SessionFilter, now time.Time) (int, error)
	// BindSessionDevice sets DeviceID on every live (not revoked, not
	// expired) token of a family; ErrNotFound when it has none.
	BindSessionDevice(ctx context.Context, family, deviceID string) error
	// SessionLive reports whether a sign-in family is still live: it has a
	// token, used or not, that is not revoked and whose family has not
	// expired at now. An unknown family is not live (no error). The server
	// asks it (through a short cache) on every authenticated request, so
	// that logout, disabling a user or revoking a device ends the access
	// tokens of the family at once (SECURITY.md item 12).
	SessionLive(ctx context.Context, family string, now time.Time) (bool, error)
}

// SessionFilter selects sessions to revoke.
type SessionFilter struct {
	Family, UserID, DeviceID string
}

// Activation is a one-time code an administrator hands to a new contact or
// officer (printed, or as a QR code) to set their own password.
type Activation struct {
	CodeHash  string // hex SHA-256 of the code: the key
	UserID    string
	CreatedBy string
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    time.Time
}

// Activations stores activation codes. Safe for concurrent use.
type Activations interface {
	// CreateActivation stores a code, replacing any unused code of the same
	// user (only the newest code works).
	CreateActivation(ctx context.Context, a Activation) error
	// ConsumeActivation atomically marks the code used at now and returns
	// it. ErrNotFound for an unknown, used, replaced or expired code (one
	// answer for all, so nothing leaks about which).
	ConsumeActivation(ctx context.Context, hash string, now time.Time) (Activation, error)
	// LiveActivation returns the code with this hash as it is stored when
	// ConsumeActivation would accept it at now, without marking it used (the
	// activation page shows whom a code is for). ErrNotFound for an unknown,
	// used, replaced or expired code, one answer for all.
	LiveActivation(ctx context.Context, hash string, now time.Time) (Activation, error)
}

// AuditEvent is one line of the append-only audit log. It never holds
// tokens, passwords or phone numbers.
type AuditEvent struct {
	Seq      uint64    // set by the store: strictly increasing
	Time     time.Time // UTC
	Actor    string    // user id ("" for an anonymous request)
	Device   string
	IP       string
	Action   string // login, login_failed, refresh_reuse, denied, user_create, …
	Object   string // what was acted on: "user:…", "device:…", "pairing:…"
	Result   string // ok | denied | not_found (an id route's unknown id) | failed
	Detail   string // a short reason, never a secret
	OrgPath  string // org-unit path the event belongs to (for subtree views)
	Username string // the login typed at sign-in (for failed sign-ins)
}

// AuditQuery selects audit events, newest first.
type AuditQuery struct {
	OrgPath string // path prefix ending in "/"; "" = all
	Actor   string
	Action  string
	Since   time.Time // inclusive
	Until   time.Time // exclusive
	Before  uint64    // continue below this Seq (0 = from the newest)
	Limit   int       // 0 means 100; callers clamp it
}

// Audit is the append-only audit log. Safe for concurrent use.
type Audit interface {
	// AppendAudit stores events durably, assigning Seq; ErrInvalid for an
	// event without Action.
	AppendAudit(ctx context.Context, events ...AuditEvent) error
	// AuditLog returns one page of events matching q, newest first, and
	// whether more follow.
	AuditLog(ctx context.Context, q AuditQuery) ([]AuditEvent, bool, error)
}

// Secrets stores the server's own secrets (the key that derives contacts'
// confirmation codes), shared by every server process. Safe for concurrent
// use.
type Secrets interface {
	// Secret returns the secret stored under name, storing fresh first when
	// there is none: processes racing on first start all get the one that
	// was stored. ErrInvalid for an empty name or fresh.
	Secret(ctx context.Context, name string, fresh []byte) ([]byte, error)
}

// Leases let one of several server processes do a background job (the SLA
// sweep, photo collection, tombstone purges) at a time. Safe for concurrent
// use.
type Leases interface {
	// AcquireLease takes the named lease for holder until now+ttl if it is
	// free, expired (its expiry ≤ now), or already holder's (a renewal). It
	// reports whether holder holds the lease when it returns. ErrInvalid for
	// an empty name or holder or a ttl ≤ 0.
	AcquireLease(ctx context.Context, name, holder string, now time.Time, ttl time.Duration) (bool, error)
	// ReleaseLease gives the lease up if holder holds it (else nothing).
	ReleaseLease(ctx context.Context, name, holder string) error
}
