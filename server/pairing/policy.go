package pairing

import (
	"errors"
	"strings"
	"time"
)

// Role is what a user is, from DOMAIN.md.
type Role string

// The roles.
const (
	Admin   Role = "admin"   // 管理员: manages an org-unit subtree
	Viewer  Role = "viewer"  // 领导: reads an org-unit subtree
	Officer Role = "officer" // 联络员: works in their pairings
	Contact Role = "contact" // 企业/社区联系人: sees their counterparty's pairings
)

// Roles lists every role, for validation and tests.
var Roles = []Role{Admin, Viewer, Officer, Contact}

// Valid reports whether r is a known role.
func (r Role) Valid() bool {
	for _, x := range Roles {
		if r == x {
			return true
		}
	}
	return false
}

// Principal is who is asking: taken from a verified access token.
type Principal struct {
	UserID string
	Role   Role
	// OrgPath is the path of the org unit the user belongs to
	// ("/root/dept/"); for contacts, the unit that manages them.
	OrgPath      string
	Counterparty string // contacts only
	Device       string // the registered device, if the token is bound to one
}

// Action is what the principal wants to do.
type Action string

// The actions.
const (
	Read   Action = "read"
	Manage Action = "manage" // create, change, disable, revoke
)

// Kind is the kind of object acted on.
type Kind string

// The kinds of object the policy knows.
const (
	KindUser    Kind = "user"
	KindDevice  Kind = "device"
	KindOrgUnit Kind = "org_unit"
	KindAudit   Kind = "audit"
	// KindSystem is server-wide administration (signing-key rotation):
	// only administrators of a root org unit.
	KindSystem Kind = "system"
	// KindRecord is a synced record in a pairing's scope (Object.Pairing
	// and Object.Collection say which).
	KindRecord Kind = "record"
	// KindReport is the figures of an org-unit subtree broken down by the
	// units below it (the overview): administrators and viewers of the
	// subtree; to everyone else it is not visible, so a unit outside a
	// caller's subtree answers as an unknown one.
	KindReport Kind = "report"
	// KindCounterparty is a counterparty (共建单位): administrators of the
	// managing unit's subtree manage it; viewers of that subtree, and
	// everyone who sees a pairing with it (Object.Related), read it.
	KindCounterparty Kind = "counterparty"
)

// Object is what is acted on, described by what the policy needs: where it
// sits in the org tree and who owns it.
type Object struct {
	Kind Kind
	ID   string
	// OrgPath is the org-unit path the object belongs to: a user's unit, a
	// device's owner's unit, an org unit's own path, an audit event's unit.
	// For a listing or a creation, the path of the subtree concerned.
	OrgPath string
	// Owner is the user the object belongs to: the user itself, or a
	// device's user.
	Owner string
	// Pairing and Collection describe a KindRecord: the pairing whose scope
	// holds the record (nil when unknown: not visible) and its collection.
	Pairing    *Pairing
	Collection string
	// At is when the decision is made (the removal grace of a pairing's
	// former officers is measured from it).
	At time.Time
	// Recorded is when a pushed change was made, by its writer's clock
	// (its HLC): an officer in their removal grace may push only changes
	// recorded before the removal. Zero: not a pushed change.
	Recorded time.Time
	// Related reports, for a counterparty, that the principal sees a
	// pairing it belongs to.
	Related bool
}

// Decisions other than "allowed". Handlers map ErrNotVisible to 404 (so an
// answer never tells whether something outside the caller's scope exists)
// and ErrForbidden to 403.
var (
	ErrNotVisible = errors.New("pairing: not visible to the caller")
	ErrForbidden  = errors.New("pairing: not allowed for the caller's role")
)

// Policy decides whether p may do a to o. It is the one authorization
// function of the server: every handler, the sync pull filter and push
// validation call it. It returns nil, ErrNotVisible or ErrForbidden.
func Policy(p Principal, a Action, o Object) error {
	if p.UserID == "" || !p.Role.Valid() {
		return ErrNotVisible
	}
	inSubtree := within(o.OrgPath, p.OrgPath)
	self := o.Owner != "" && o.Owner == p.UserID

	switch o.Kind {
	case KindUser, KindDevice:
		switch {
		case self && (a == Read || o.Kind == KindDevice):
			// Everyone reads their own account and manages (revokes) their
			// own devices; account changes go through the admin or the
			// password route.
			return nil
		case p.Role == Admin && inSubtree:
			return nil
		case p.Role == Viewer && inSubtree:
			// Viewers see figures, not people's accounts and phone numbers.
			return ErrForbidden
		case self:
			return ErrForbidden
		}
		return ErrNotVisible

	case KindOrgUnit:
		// Everyone reads the units above them and their own (names on
		// their screens); admins manage their subtree, viewers read it.
		above := ancestorOrSelf(o.OrgPath, p.OrgPath)
		switch {
		case a == Read && above:
			return nil
		case inSubtree && p.Role == Admin:
			return nil
		case inSubtree && p.Role == Viewer && a == Read:
			return nil
		case inSubtree && p.Role == Viewer, above:
			return ErrForbidden
		}
		return ErrNotVisible

	case KindAudit:
		if p.Role == Admin && inSubtree && a == Read {
			return nil
		}
		if p.Role == Admin && inSubtree {
			return ErrForbidden // the audit log is append-only
		}
		return ErrNotVisible

	case KindRecord:
		return recordPolicy(p, a, o)

	case KindReport:
		if (p.Role == Admin || p.Role == Viewer) && inSubtree && a == Read {
			return nil
		}
		return ErrNotVisible

	case KindCounterparty:
		switch {
		case p.Role == Admin && inSubtree:
			return nil
		case (p.Role == Viewer && inSubtree || o.Related) && a == Read:
			return nil
		case p.Role == Viewer && inSubtree || o.Related:
			return ErrForbidden
		}
		return ErrNotVisible

	case KindSystem:
		if p.Role == Admin && isRootPath(p.OrgPath) {
			return nil
		}
		return ErrForbidden
	}
	return ErrNotVisible
}

// within reports whether path lies in the subtree rooted at root. An empty
// root is no subtree at all (never "everything").
func within(path, root string) bool {
	return root != "" && path != "" && strings.HasPrefix(path, root)
}

// ancestorOrSelf reports whether the unit at path is the unit at of, or
// above it.
func ancestorOrSelf(path, of string) bool {
	return path != "" && strings.HasPrefix(of, path)
}

// isRootPath reports whether path names a root unit ("/id/").
func isRootPath(path string) bool {
	return len(path) > 2 && path[0] == '/' && strings.Count(path, "/") == 2
}
