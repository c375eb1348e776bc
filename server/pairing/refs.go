package pairing

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/pairsync/pairsync/syncproto"
)

// The reference checker (SECURITY.md 11): every id a write names — a
// counterparty, a contact, an officer, a handler, the target of a rating or
// comment, a parent issue or project, the response a confirmation answers, an
// org unit — is resolved here and checked against the writer's scope and the
// referenced thing's state. REST writes (server.writeAs) and pushes
// (server.commitChanges) both reach CheckRefs through Admit; the user routes
// call CheckUserRefs. The route table and Policy stay the one check of ids in
// paths.
//
// A reference the writer may not see is refused exactly as one that does not
// exist: same code, reason, field and message.
//
// Soft references — a visit's list of issues raised and an issue's source
// visit — may name records a later push brings (a form saves the visit and
// its issues together, and a push may split them): they are not refused,
// and everything that joins them does so within the record's own pairing,
// so an id of another pairing resolves to nothing, as an unknown id does.

// UserRef is what the reference checker needs of a user.
type UserRef struct {
	ID           string
	Role         Role
	OrgPath      string
	Counterparty string
	Disabled     bool
}

// principal is the user as Pairing.Sees and Policy judge them.
func (u UserRef) principal() Principal {
	return Principal{UserID: u.ID, Role: u.Role, OrgPath: u.OrgPath, Counterparty: u.Counterparty}
}

// Resolver looks up what references name, as the write sees them: a record
// changed earlier in the same push counts as stored. The server implements
// it over its stores, its Directory and the read model's Ledger
// (server/readmodel).
type Resolver interface {
	// User returns a user (false when there is none).
	User(ctx context.Context, id string) (UserRef, bool, error)
	// OrgPath returns an org unit's path ("" when there is none).
	OrgPath(ctx context.Context, id string) (string, error)
	// Counterparty returns a live counterparty.
	Counterparty(id string) (Counterparty, bool)
	// RelatedCounterparty reports whether p sees a pairing the
	// counterparty belongs to.
	RelatedCounterparty(p Principal, id string) bool
	// Record returns a record by collection and id, in any pairing.
	Record(ctx context.Context, collection, id string) (syncproto.Record, bool, error)
	// Issue returns an issue's state derived from its events (those of
	// this push included).
	Issue(ctx context.Context, id string) (IssueState, bool, error)
	// Pending lists the records the write changed before the current
	// change (earlier changes of the same push), not yet committed.
	Pending() []syncproto.Record
	// CodedRatings counts the committed ratings of a target recorded with
	// the contact's code (readmodel.Ledger.CodedRatings).
	CodedRatings(pairing, kind, target string) int
}

// unknownRef is the one answer for a reference that does not resolve or
// that the writer may not see.
func unknownRef(field, what, id string) *syncproto.Error {
	return &syncproto.Error{Code: syncproto.CodeValidation, Field: field, Reason: ReasonUnknownRef,
		Message: fmt.Sprintf("no %s %s that you may name here", what, id)}
}

// unknownUnit is unknownRef for org units: out of the writer's subtree, or
// none, refused alike (403: the writer manages only their subtree).
func unknownUnit(field, id string) *syncproto.Error {
	return &syncproto.Error{Code: syncproto.CodeForbidden, Field: field, Reason: ReasonUnknownRef,
		Message: fmt.Sprintf("no org unit %s in your subtree", id)}
}

func wrongRole(field string, u UserRef, want string) *syncproto.Error {
	return &syncproto.Error{Code: syncproto.CodeValidation, Field: field, Reason: ReasonWrongRole,
		Args:    map[string]string{"field": field, "role": string(u.Role), "want": want},
		Message: fmt.Sprintf("user %s is a %s, not a %s", u.ID, u.Role, want)}
}

// written reports whether the write sets the field (to a value).
func (w Write) written(field string) bool {
	v, ok := w.Values[field]
	return ok && !isNull(v)
}

// CheckRefs checks every reference the write makes. It returns the refusal
// (nil when every reference resolves) or an error of the resolver.
func CheckRefs(ctx context.Context, w Write, r Resolver) (*syncproto.Error, error) {
	if w.Op != syncproto.OpSet || w.Merged.Deleted() {
		return nil, nil
	}
	switch w.Merged.Collection {
	case CollPairings:
		return checkPairingRefs(ctx, w, r)
	case CollCounterparties:
		return checkCounterpartyRefs(ctx, w, r)
	case CollIssueEvents:
		return checkEventRefs(ctx, w, r)
	case CollMilestones:
		return sameRecord(ctx, w, r, "project", CollProjects, str(w.Merged, "project"))
	case CollProjects:
		for _, f := range []struct {
			name  string
			roles []Role
		}{{"owner", []Role{Officer, Admin, Contact}}, {"contact_accepted_by", []Role{Contact}}, {"verified_by", []Role{Admin}}} {
			if w.written(f.name) {
				if e, err := personOfPairing(ctx, w, r, f.name, str(w.Merged, f.name), f.roles); e != nil || err != nil {
					return e, err
				}
			}
		}
	case CollVisits:
		if w.written("returned_by") {
			return personOfPairing(ctx, w, r, "returned_by", str(w.Merged, "returned_by"), []Role{Admin})
		}
	case CollRatings:
		return checkRatingTarget(ctx, w, r)
	case CollComments:
		kind, id := str(w.Merged, "target_kind"), str(w.Merged, "target")
		coll := map[string]string{"visit": CollVisits, "issue": CollIssues, "project": CollProjects, "milestone": CollMilestones}[kind]
		if coll == "" || !MayRead(w.Principal.Role, coll) {
			return unknownRef("target", kind, id), nil
		}
		return sameRecord(ctx, w, r, "target", coll, id)
	}
	return nil, nil
}

// sameRecord: the record named exists, live, in the write's pairing.
func sameRecord(ctx context.Context, w Write, r Resolver, field, coll, id string) (*syncproto.Error, error) {
	rec, ok, err := r.Record(ctx, coll, id)
	if err != nil {
		return nil, err
	}
	if !ok || rec.Deleted() || rec.Pairing != w.Merged.Pairing {
		what := map[string]string{CollProjects: "project", CollIssues: "issue", CollVisits: "visit", CollMilestones: "milestone", CollIssueEvents: "response"}[coll]
		return unknownRef(field, what, id), nil
	}
	return nil, nil
}

// personOfPairing: the user named sees the write's pairing (an officer of
// it, an administrator of its branches, a contact of it) and has one of the
// roles.
func personOfPairing(ctx context.Context, w Write, r Resolver, field, id string, roles []Role) (*syncproto.Error, error) {
	u, ok, err := r.User(ctx, id)
	if err != nil {
		return nil, err
	}
	if !ok || u.Disabled || !w.Pairing.Sees(u.principal()) {
		return unknownRef(field, "user", id), nil
	}
	if !slices.Contains(roles, u.Role) {
		names := make([]string, len(roles))
		for i, r := range roles {
			names[i] = string(r)
		}
		return wrongRole(field, u, fmt.Sprint(names)), nil
	}
	return nil, nil
}

func checkEventRefs(ctx context.Context, w Write, r Resolver) (*syncproto.Error, error) {
	issue := str(w.Merged, "issue")
	if e, err := sameRecord(ctx, w, r, "issue", CollIssues, issue); e != nil || err != nil {
		return e, err
	}
	if w.written("handler") {
		if e, err := personOfPairing(ctx, w, r, "handler", str(w.Merged, "handler"), []Role{Officer, Admin}); e != nil || err != nil {
			return e, err
		}
	}
	if w.written("response") {
		id := str(w.Merged, "response")
		rec, ok, err := r.Record(ctx, CollIssueEvents, id)
		if err != nil {
			return nil, err
		}
		if !ok || rec.Pairing != w.Merged.Pairing || str(rec, "issue") != issue || str(rec, "type") != string(EventResponded) {
			return unknownRef("response", "response", id), nil
		}
	}
	return nil, nil
}

// Ratable reports whether an issue of the status may be rated: once it
// has been answered (responded, disputed) or closed.
func Ratable(st IssueStatus) bool {
	switch st {
	case IssueResponded, IssueDisputed, IssueClosed, IssueClosedUnconfirmed:
		return true
	}
	return false
}

// ratableProject: a project is rated once it is completed (claimed),
// verified (accepted) or archived.
var ratableProject = []string{"completed", "verified", "archived"}

func checkRatingTarget(ctx context.Context, w Write, r Resolver) (*syncproto.Error, error) {
	kind, id := str(w.Merged, "target_kind"), str(w.Merged, "target")
	switch kind {
	case "issue":
		if e, err := sameRecord(ctx, w, r, "target", CollIssues, id); e != nil || err != nil {
			return e, err
		}
		st, ok, err := r.Issue(ctx, id)
		if err != nil {
			return nil, err
		}
		if !ok || !Ratable(st.Status) {
			return &syncproto.Error{Code: syncproto.CodeValidation, Field: "target", Reason: ReasonNotRatable,
				Message: fmt.Sprintf("issue %s cannot be rated yet: rate it once it has been answered or closed", id)}, nil
		}
	case "project":
		rec, ok, err := r.Record(ctx, CollProjects, id)
		if err != nil {
			return nil, err
		}
		if !ok || rec.Deleted() || rec.Pairing != w.Merged.Pairing {
			return unknownRef("target", "project", id), nil
		}
		if !slices.Contains(ratableProject, str(rec, "status")) {
			return &syncproto.Error{Code: syncproto.CodeValidation, Field: "target", Reason: ReasonNotRatable,
				Message: fmt.Sprintf("project %s cannot be rated yet: rate it once it is completed", id)}, nil
		}
	default:
		return unknownRef("target", kind, id), nil
	}
	return nil, nil
}

// checkCounterpartyRefs: the managing unit lies in the writer's subtree,
// before and after the write.
func checkCounterpartyRefs(ctx context.Context, w Write, r Resolver) (*syncproto.Error, error) {
	for _, rec := range []syncproto.Record{w.Stored, w.Merged} {
		if rec.IsZero() {
			continue
		}
		if e, err := unitInScope(ctx, w.Principal, r, "org_unit", str(rec, "org_unit")); e != nil || err != nil {
			return e, err
		}
	}
	return nil, nil
}

// unitInScope: the org unit exists and the writer manages its subtree.
func unitInScope(ctx context.Context, p Principal, r Resolver, field, id string) (*syncproto.Error, error) {
	path, err := r.OrgPath(ctx, id)
	if err != nil {
		return nil, err
	}
	if path == "" || p.Role != Admin || !within(path, p.OrgPath) {
		return unknownUnit(field, id), nil
	}
	return nil, nil
}

// checkPairingRefs: a pairing pairs at least one branch with at least one
// counterparty; its branches lie in the writer's subtree (before and after);
// the counterparties, officers and contacts it gains are ones the writer may
// name (a counterparty managed in their subtree or already paired where they
// see, users of their subtree) with the right role; the officers it keeps
// have it still; former officers' removal times are not in the future.
func checkPairingRefs(ctx context.Context, w Write, r Resolver) (*syncproto.Error, error) {
	after, before := PairingFromRecord(w.Merged), PairingFromRecord(w.Stored)
	if len(after.Branches) == 0 || len(after.Counterparties) == 0 {
		return invalid("branches", "a pairing pairs at least one branch with at least one counterparty"), nil
	}
	for _, b := range append(slices.Clone(before.Branches), after.Branches...) {
		if e, err := unitInScope(ctx, w.Principal, r, "branches", b); e != nil || err != nil {
			return e, err
		}
	}
	for _, id := range after.Counterparties {
		if slices.Contains(before.Counterparties, id) {
			continue
		}
		cp, ok := r.Counterparty(id)
		if !ok || Policy(w.Principal, Read, Object{Kind: KindCounterparty, ID: id, OrgPath: cp.OrgPath, Related: r.RelatedCounterparty(w.Principal, id)}) != nil {
			return unknownRef("counterparties", "counterparty", id), nil
		}
	}
	people := []struct {
		field string
		ids   []string
		had   []string
		role  Role
	}{{"officers", after.Officers, before.Officers, Officer}, {"contacts", after.Contacts, before.Contacts, Contact}}
	for _, g := range people {
		for _, id := range g.ids {
			u, ok, err := r.User(ctx, id)
			if err != nil {
				return nil, err
			}
			gained := !slices.Contains(g.had, id)
			if gained && g.role == Officer {
				_, gained = before.FormerOfficers[id]
				gained = !gained
			}
			if !ok || gained && Policy(w.Principal, Read, Object{Kind: KindUser, ID: id, OrgPath: u.OrgPath, Owner: id}) != nil {
				return unknownRef(g.field, "user", id), nil
			}
			if u.Role != g.role {
				return wrongRole(g.field, u, string(g.role)), nil
			}
		}
	}
	if w.written("former_officers") {
		var former []formerRef
		_ = json.Unmarshal(w.Merged.Value("former_officers"), &former)
		for _, f := range former {
			if !w.Now.IsZero() && f.RemovedAt.After(w.Now) {
				return &syncproto.Error{Code: syncproto.CodeValidation, Field: "former_officers", Reason: ReasonFutureTime,
					Message: fmt.Sprintf("former_officers: %s's removal time %s is later than now", f.UserID, f.RemovedAt.Format(time.RFC3339))}, nil
			}
		}
	}
	return nil, nil
}

// CheckUserRefs checks the references of a user an administrator creates
// or moves: the org unit lies in p's subtree, and a contact's counterparty
// is one p may name (managed in p's subtree, or paired where p sees).
func CheckUserRefs(ctx context.Context, p Principal, r Resolver, orgUnit, counterparty string) (*syncproto.Error, error) {
	if e, err := unitInScope(ctx, p, r, "org_unit", orgUnit); e != nil || err != nil {
		return e, err
	}
	if counterparty == "" {
		return nil, nil
	}
	cp, ok := r.Counterparty(counterparty)
	if !ok || Policy(p, Read, Object{Kind: KindCounterparty, ID: counterparty, OrgPath: cp.OrgPath, Related: r.RelatedCounterparty(p, counterparty)}) != nil {
		return unknownRef("counterparty", "counterparty", counterparty), nil
	}
	return nil, nil
}
