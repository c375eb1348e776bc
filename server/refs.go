package server

import (
	"context"
	"errors"

	"github.com/gofiber/fiber/v2"

	"github.com/pairsync/pairsync/server/pairing"
	"github.com/pairsync/pairsync/storage"
	"github.com/pairsync/pairsync/syncproto"
)

// lookupFunc finds a record as a commit sees it: changed earlier in the
// same commit, or stored.
type lookupFunc func(ctx context.Context, k storage.Key) (syncproto.Record, bool, error)

// resolver is pairing.Resolver over the server's stores: what the domain
// rules (pairing.Admit) read. lookup, when set, sees the records a commit
// changed before the current change (commitTx); batch lists them, for the
// issue events and ratings not yet committed.
type resolver struct {
	s      *Server
	lookup lookupFunc
	batch  func() []syncproto.Record
}

var _ pairing.Resolver = resolver{}

func (s *Server) resolver() resolver { return resolver{s: s} }

func (r resolver) User(ctx context.Context, id string) (pairing.UserRef, bool, error) {
	if id == "" {
		return pairing.UserRef{}, false, nil
	}
	u, err := r.s.store.User(ctx, id)
	if errors.Is(err, storage.ErrNotFound) {
		return pairing.UserRef{}, false, nil
	}
	if err != nil {
		return pairing.UserRef{}, false, err
	}
	path, err := r.s.orgPath(ctx, u.OrgUnit)
	if err != nil {
		return pairing.UserRef{}, false, err
	}
	return pairing.UserRef{ID: u.ID, Role: pairing.Role(u.Role), OrgPath: path, Counterparty: u.Counterparty, Disabled: u.Disabled}, true, nil
}

func (r resolver) OrgPath(ctx context.Context, id string) (string, error) {
	return r.s.orgPath(ctx, id)
}

func (r resolver) Counterparty(id string) (pairing.Counterparty, bool) {
	return r.s.dir.Counterparty(id)
}

func (r resolver) RelatedCounterparty(p pairing.Principal, id string) bool {
	return r.s.dir.SeesPairingOf(p, id)
}

func (r resolver) Record(ctx context.Context, collection, id string) (syncproto.Record, bool, error) {
	if id == "" {
		return syncproto.Record{}, false, nil
	}
	k := storage.Key{Collection: collection, ID: id}
	if r.lookup != nil {
		return r.lookup(ctx, k)
	}
	rec, _, err := r.s.getRecord(ctx, collection, id)
	if errors.Is(err, storage.ErrNotFound) {
		return syncproto.Record{}, false, nil
	}
	if err != nil {
		return syncproto.Record{}, false, err
	}
	return rec, true, nil
}

func (r resolver) Issue(ctx context.Context, id string) (pairing.IssueState, bool, error) {
	if err := r.s.ledger.Refresh(ctx); err != nil {
		return pairing.IssueState{}, false, err
	}
	var extra []pairing.IssueEvent
	for _, rec := range r.Pending() {
		if rec.Collection != pairing.CollIssueEvents || pairing.Str(rec, "issue") != id {
			continue
		}
		if ev, err := pairing.IssueEventFromRecord(rec); err == nil {
			extra = append(extra, ev)
		}
	}
	return r.s.ledger.IssueWith(ctx, id, extra)
}

func (r resolver) Pending() []syncproto.Record {
	if r.batch == nil {
		return nil
	}
	return r.batch()
}

func (r resolver) CodedRatings(pid, kind, target string) int {
	return r.s.ledger.CodedRatings(pid, kind, target)
}

// userRefs checks, with pairing.CheckUserRefs, the references of a user an
// administrator creates or moves (the org unit in their subtree; a
// contact's counterparty one they may name), and returns the unit.
func (s *Server) userRefs(c *fiber.Ctx, orgUnit, counterparty string) (storage.OrgUnit, error) {
	ctx, p := c.UserContext(), principal(c)
	if err := s.dir.Refresh(ctx); err != nil {
		return storage.OrgUnit{}, err
	}
	e, err := pairing.CheckUserRefs(ctx, p, s.resolver(), orgUnit, counterparty)
	if err != nil {
		return storage.OrgUnit{}, err
	}
	if e != nil {
		return storage.OrgUnit{}, &Error{Status: statusOf(e.Code), Wire: *e}
	}
	return s.store.OrgUnit(ctx, orgUnit)
}
