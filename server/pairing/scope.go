package pairing

import (
	"encoding/json"
	"slices"
	"time"

	"github.com/pairsync/pairsync/syncproto"
)

// DirectoryScope is the scope that holds the pairing and counterparty
// records themselves (ARCHITECTURE.md: every server process keeps its
// membership index by tailing this scope's gap-free feed, so processes agree
// on who may see what). Phones receive a filtered view of it: the pairings
// they are in and those pairings' counterparties.
const DirectoryScope = "_directory"

// Collections of the directory scope.
const (
	CollPairings       = "pairings"
	CollCounterparties = "counterparties"
)

// Pairing statuses (DOMAIN.md): draft → active → ended.
const (
	StatusDraft  = "draft"
	StatusActive = "active"
	StatusEnded  = "ended"
)

// Pairing is what the policy needs of a pairing: who is in it. It is read
// from the pairing's record in the directory scope.
type Pairing struct {
	ID     string
	Name   string
	Status string
	// Branches are the org units (branches) on the organ side; BranchPaths
	// their paths, resolved by the directory.
	Branches    []string
	BranchPaths []string
	// Counterparties are the enterprises and communities on the other side.
	Counterparties []string
	// Officers are the assigned liaison officers (user ids), primary first.
	Officers []string
	// Contacts are the counterparties' contact users (user ids).
	Contacts []string
	// FormerOfficers maps officers removed from the pairing to when they
	// were removed: for RemovalGrace after that, their devices may still
	// push what they recorded (nothing recorded is lost), though they no
	// longer see the pairing.
	FormerOfficers map[string]time.Time
	// StartsOn and EndsOn are the pairing's period (YYYY-MM-DD, may be
	// empty); Seq is the directory sequence of this version.
	StartsOn, EndsOn string
	// Since is when the pairing began, for the device times recorded in
	// it: the earlier of its starts_on and the wall time of the oldest
	// write its record still holds (zero when neither is known).
	Since   time.Time
	Seq     uint64
	Deleted bool
}

// RemovalGrace is how long an officer removed from a pairing may still
// push the changes their devices hold for it.
const RemovalGrace = 7 * 24 * time.Hour

// formerRef is one entry of a pairing record's "former_officers" field.
type formerRef struct {
	UserID    string    `json:"user_id"`
	RemovedAt time.Time `json:"removed_at"`
}

// officerRef is one entry of a pairing record's "officers" field.
type officerRef struct {
	UserID  string `json:"user_id"`
	Primary bool   `json:"primary"`
}

// PairingFromRecord reads a pairing record. Malformed fields read as empty:
// a pairing nobody can be found in is visible only to administrators of
// its branches, never to everyone.
func PairingFromRecord(r syncproto.Record) Pairing {
	p := Pairing{ID: r.ID, Deleted: r.Deleted()}
	str := func(name string) string {
		var s string
		_ = json.Unmarshal(r.Value(name), &s)
		return s
	}
	strs := func(name string) []string {
		var ss []string
		_ = json.Unmarshal(r.Value(name), &ss)
		return ss
	}
	p.Name, p.Status = str("name"), str("status")
	p.StartsOn, p.EndsOn = str("starts_on"), str("ends_on")
	p.Branches, p.Counterparties, p.Contacts = strs("branches"), strs("counterparties"), strs("contacts")
	for _, f := range r.Fields {
		if t := f.HLC.Time(); !f.HLC.IsZero() && (p.Since.IsZero() || t.Before(p.Since)) {
			p.Since = t
		}
	}
	if d, err := time.Parse(time.DateOnly, p.StartsOn); err == nil && (p.Since.IsZero() || d.Before(p.Since)) {
		p.Since = d
	}
	var officers []officerRef
	_ = json.Unmarshal(r.Value("officers"), &officers)
	slices.SortStableFunc(officers, func(a, b officerRef) int {
		switch {
		case a.Primary == b.Primary:
			return 0
		case a.Primary:
			return -1
		}
		return 1
	})
	for _, o := range officers {
		if o.UserID != "" {
			p.Officers = append(p.Officers, o.UserID)
		}
	}
	var former []formerRef
	_ = json.Unmarshal(r.Value("former_officers"), &former)
	for _, f := range former {
		if f.UserID != "" && !f.RemovedAt.IsZero() {
			if p.FormerOfficers == nil {
				p.FormerOfficers = map[string]time.Time{}
			}
			p.FormerOfficers[f.UserID] = f.RemovedAt
		}
	}
	return p
}

// inGrace reports whether the principal is an officer removed from the
// pairing less than RemovalGrace before at.
func (p Pairing) inGrace(pr Principal, at time.Time) bool {
	removed, ok := p.FormerOfficers[pr.UserID]
	return ok && pr.Role == Officer && !slices.Contains(p.Officers, pr.UserID) && at.Sub(removed) < RemovalGrace
}

// Sees reports whether the principal may see the pairing: administrators and
// viewers whose subtree holds one of its branches, its officers, and the
// contacts of its counterparties.
func (p Pairing) Sees(pr Principal) bool {
	if p.Deleted || pr.UserID == "" {
		return false
	}
	switch pr.Role {
	case Admin, Viewer:
		for _, path := range p.BranchPaths {
			if within(path, pr.OrgPath) {
				return true
			}
		}
	case Officer:
		return slices.Contains(p.Officers, pr.UserID)
	case Contact:
		return pr.Counterparty != "" && slices.Contains(p.Counterparties, pr.Counterparty) ||
			slices.Contains(p.Contacts, pr.UserID)
	}
	return false
}

// writers lists the roles that may write a collection (Schema says;
// field- and transition-level rules are CheckWrite's).
func writers(collection string) []Role {
	spec, _ := Spec(collection)
	return spec.Writers
}

// recordPolicy decides on a synced record of a pairing.
func recordPolicy(p Principal, a Action, o Object) error {
	if o.Pairing != nil && !o.Pairing.Sees(p) && a == Manage && o.Pairing.inGrace(p, o.At) && slices.Contains(writers(o.Collection), p.Role) &&
		!o.Recorded.After(o.Pairing.FormerOfficers[p.UserID].Add(syncproto.MaxClockAhead)) {
		// A removed officer's last changes, recorded before the removal
		// (by the device's clock, allowed MaxClockAhead of error), still
		// land; what they record after it does not.
		return nil
	}
	if o.Pairing == nil || !o.Pairing.Sees(p) {
		return ErrNotVisible
	}
	if a == Read {
		if !MayRead(p.Role, o.Collection) {
			return ErrNotVisible
		}
		return nil
	}
	if !slices.Contains(writers(o.Collection), p.Role) {
		return ErrForbidden
	}
	if o.Pairing.Status == StatusEnded && p.Role != Admin {
		return ErrForbidden // an ended pairing is read-only in the field
	}
	return nil
}

// hiddenFromContacts are the collections of a pairing a contact does not
// see (DOMAIN.md: contacts see their pairing's issues and projects): the
// officers' visit records, with their notes about the enterprise.
var hiddenFromContacts = map[string]bool{CollVisits: true}

// MayRead reports whether a role reads a collection of the pairings it
// sees (the pull filter and every read route ask it through Policy).
func MayRead(role Role, collection string) bool {
	return role != Contact || !hiddenFromContacts[collection]
}
