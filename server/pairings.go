package server

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/pairsync/pairsync/server/pairing"
	"github.com/pairsync/pairsync/storage"
	"github.com/pairsync/pairsync/syncproto"
)

// pairingView is one pairing (结对) in a list.
type pairingView struct {
	ID             string   `json:"id"`
	Name           string   `json:"name"`
	Status         string   `json:"status"`
	Branches       []string `json:"branches"`
	Counterparties []string `json:"counterparties"`
	// Officers are the assigned liaison officers, primary first.
	Officers []string `json:"officers"`
	Contacts []string `json:"contacts,omitempty"`
	StartsOn string   `json:"starts_on,omitempty"`
	EndsOn   string   `json:"ends_on,omitempty"`
	Seq      uint64   `json:"seq"`
}

func viewPairing(pr pairing.Pairing) pairingView {
	v := pairingView{ID: pr.ID, Name: pr.Name, Status: pr.Status, Branches: pr.Branches, Counterparties: pr.Counterparties,
		Officers: pr.Officers, Contacts: pr.Contacts, StartsOn: pr.StartsOn, EndsOn: pr.EndsOn, Seq: pr.Seq}
	for _, p := range []*[]string{&v.Branches, &v.Counterparties, &v.Officers} {
		if *p == nil {
			*p = []string{}
		}
	}
	return v
}

type pairingList struct {
	Pairings []pairingView `json:"pairings"`
	More     bool          `json:"more"`
	Next     string        `json:"next,omitempty"`
}

func pairingObject(pr pairing.Pairing, now time.Time) pairing.Object {
	return pairing.Object{Kind: pairing.KindRecord, ID: pr.ID, Pairing: &pr, Collection: pairing.CollPairings, At: now}
}

// loadPairing resolves /v1/pairings/:id for the policy.
func loadPairing(s *Server, c *fiber.Ctx) (pairing.Object, any, error) {
	if err := s.dir.Refresh(c.UserContext()); err != nil {
		return pairing.Object{}, nil, err
	}
	pr, ok := s.dir.Pairing(c.Params("id"))
	if !ok {
		return pairing.Object{}, nil, storage.ErrNotFound
	}
	return pairingObject(pr, s.now()), pr, nil
}

// pairingFilter reads the list filters shared by the pairing list, the
// reports and the exports: org_unit= (a subtree), status= (the pairing's;
// pairing_status= on the lists of records, whose status= is the record's),
// officer=, counterparty=, search= (name). It returns the visible pairings
// that pass.
func (s *Server) pairingFilter(c *fiber.Ctx) ([]pairing.Pairing, error) {
	return s.pairingsMatching(c, "status")
}

// orgUnitFilter is a list's ?org_unit= filter: the unit's path ("" when
// none is asked for). A unit the caller may not read answers as an unknown
// one, so the answer tells nothing of units outside the caller's subtree.
func (s *Server) orgUnitFilter(c *fiber.Ctx) (string, error) {
	id := c.Query("org_unit")
	if id == "" {
		return "", nil
	}
	u, err := s.store.OrgUnit(c.UserContext(), id)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return "", err
	}
	if u.Path == "" || pairing.Policy(principal(c), pairing.Read, pairing.Object{Kind: pairing.KindOrgUnit, ID: id, OrgPath: u.Path}) != nil {
		return "", errNoOrgUnit(id)
	}
	return u.Path, nil
}

func (s *Server) pairingsMatching(c *fiber.Ctx, statusParam string) ([]pairing.Pairing, error) {
	ctx, p := c.UserContext(), principal(c)
	if err := s.dir.Refresh(ctx); err != nil {
		return nil, err
	}
	root, err := s.orgUnitFilter(c)
	if err != nil {
		return nil, err
	}
	status, officer, cp := c.Query(statusParam), c.Query("officer"), c.Query("counterparty")
	search := strings.ToLower(strings.TrimSpace(c.Query("search")))
	var out []pairing.Pairing
	for _, pr := range s.dir.Visible(p) {
		switch {
		case status != "" && pr.Status != status,
			officer != "" && !slices.Contains(pr.Officers, officer),
			cp != "" && !slices.Contains(pr.Counterparties, cp),
			root != "" && !slices.ContainsFunc(pr.BranchPaths, func(path string) bool { return strings.HasPrefix(path, root) }),
			search != "" && !strings.Contains(strings.ToLower(pr.Name), search) && !s.counterpartyNameMatches(pr, search):
			continue
		}
		out = append(out, pr)
	}
	return out, nil
}

func errNoOrgUnit(id string) *Error {
	return errorf(http.StatusNotFound, syncproto.CodeNotFound, "no org unit %s", id)
}

func (s *Server) counterpartyNameMatches(pr pairing.Pairing, search string) bool {
	for _, id := range pr.Counterparties {
		if cp, ok := s.dir.Counterparty(id); ok && strings.Contains(strings.ToLower(cp.Name), search) {
			return true
		}
	}
	return false
}

// listPairings: GET /v1/pairings — the pairings the caller may see, with
// the filters of pairingFilter and after=, limit=.
func (s *Server) listPairings(c *fiber.Ctx) error {
	limit, err := queryLimit(c, 100, 1000)
	if err != nil {
		return err
	}
	list, err := s.pairingFilter(c)
	if err != nil {
		return err
	}
	after := c.Query("after")
	out := pairingList{Pairings: []pairingView{}}
	for _, pr := range list {
		if pr.ID <= after {
			continue
		}
		if len(out.Pairings) == limit {
			out.More, out.Next = true, out.Pairings[limit-1].ID
			break
		}
		out.Pairings = append(out.Pairings, viewPairing(pr))
	}
	return c.JSON(out)
}

// getPairing: GET /v1/pairings/:id — the whole record.
func (s *Server) getPairing(c *fiber.Ctx) error {
	return s.recordAnswer(c, pairing.CollPairings, loaded[pairing.Pairing](c).ID)
}

// createPairing: POST /v1/pairings.
func (s *Server) createPairing(c *fiber.Ctx) error {
	req, err := adminCreates(c, "pairings")
	if err != nil {
		return err
	}
	ctx, p := c.UserContext(), principal(c)
	if req.Fields == nil {
		return badRequest("fields", "name the pairing's fields")
	}
	if _, ok := req.Fields["status"]; !ok {
		req.Fields["status"] = json.RawMessage(`"` + pairing.StatusDraft + `"`)
	}
	v, err := s.putPairing(ctx, p, "", req)
	if err != nil {
		return err
	}
	s.audit(c, storage.AuditEvent{Action: "pairing.create", Object: "pairing:" + v.ID, Result: "ok", OrgPath: p.OrgPath})
	return c.Status(http.StatusCreated).JSON(writeAnswer{Record: v})
}

// patchPairing: PATCH /v1/pairings/:id. Officers taken off the pairing are
// recorded in former_officers, so their devices may still push what they
// hold for RemovalGrace.
func (s *Server) patchPairing(c *fiber.Ctx) error {
	var req fieldsRequest
	if err := bind(c, &req); err != nil {
		return err
	}
	ctx, p := c.UserContext(), principal(c)
	pr := loaded[pairing.Pairing](c)
	v, err := s.putPairing(ctx, p, pr.ID, req)
	if err != nil {
		return err
	}
	s.audit(c, storage.AuditEvent{Action: "pairing.update", Object: "pairing:" + v.ID, Result: "ok", OrgPath: p.OrgPath})
	return c.JSON(writeAnswer{Record: v})
}

type endPairingRequest struct {
	// Reason is kept in the pairing's description history (optional).
	Reason string `json:"reason,omitempty"`
}

// endPairing: POST /v1/pairings/:id/end — the pairing becomes read-only in
// the field (its records stay, for the reports).
func (s *Server) endPairing(c *fiber.Ctx) error {
	var req endPairingRequest
	if len(c.Body()) > 0 {
		if err := bind(c, &req); err != nil {
			return err
		}
	}
	ctx, p := c.UserContext(), principal(c)
	pr := loaded[pairing.Pairing](c)
	if pr.Status == pairing.StatusEnded {
		return errorf(http.StatusConflict, syncproto.CodeConflict, "pairing %s has already ended", pr.ID)
	}
	values, _ := jsonValues(map[string]any{"status": pairing.StatusEnded, "ended_at": s.now().UTC().Format(time.RFC3339)})
	v, err := s.putPairing(ctx, p, pr.ID, fieldsRequest{Fields: values})
	if err != nil {
		return err
	}
	s.audit(c, storage.AuditEvent{Action: "pairing.end", Object: "pairing:" + pr.ID, Result: "ok", Detail: req.Reason, OrgPath: p.OrgPath})
	return c.JSON(writeAnswer{Record: v})
}

// putPairing creates (id "") or changes a pairing for p. Its references
// (branches in p's subtree, counterparties, officers and contacts p may
// name, with their roles) are checked by pairing.CheckRefs through writeAs.
func (s *Server) putPairing(ctx context.Context, p pairing.Principal, id string, req fieldsRequest) (recordView, error) {
	if err := s.dir.Refresh(ctx); err != nil {
		return recordView{}, err
	}
	create := id == ""
	if create {
		id = newID()
	}
	now := s.now().UTC()
	fields := req.Fields
	// Officers taken off: remember when, for their devices' last pushes.
	if raw, ok := fields["officers"]; ok && !create {
		old, _ := s.dir.Pairing(id)
		var next []struct {
			UserID string `json:"user_id"`
		}
		_ = json.Unmarshal(raw, &next)
		stay := map[string]bool{}
		for _, o := range next {
			stay[o.UserID] = true
		}
		type former struct {
			UserID    string    `json:"user_id"`
			RemovedAt time.Time `json:"removed_at"`
		}
		var formers []former
		for uid, at := range old.FormerOfficers {
			if !stay[uid] && now.Sub(at) < 4*pairing.RemovalGrace {
				formers = append(formers, former{uid, at})
			}
		}
		for _, uid := range old.Officers {
			if !stay[uid] {
				formers = append(formers, former{uid, now})
			}
		}
		slices.SortFunc(formers, func(a, b former) int { return strings.Compare(a.UserID, b.UserID) })
		if len(formers) > 0 || len(old.FormerOfficers) > 0 {
			fields["former_officers"], _ = json.Marshal(formers)
		}
	}
	r, seq, err := s.writeAs(ctx, p, pairing.CollPairings, id, pairing.DirectoryScope, fields,
		writeOptions{create: create, expect: req.Seq})
	if err != nil {
		return recordView{}, err
	}
	if err := s.dir.Refresh(ctx); err != nil {
		return recordView{}, err
	}
	return viewRecord(r, seq), nil
}

// why sets the domain reason (server/pairing/reasons.go) and its args on e.
func (e *Error) why(reason string, kv ...string) *Error {
	pairing.Why(&e.Wire, reason, kv...)
	return e
}

// validation is a 400 validation_failed naming a field.
func validation(field, format string, args ...any) *Error {
	e := errorf(http.StatusBadRequest, syncproto.CodeValidation, format, args...)
	e.Wire.Field = field
	return e
}
