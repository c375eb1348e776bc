package server

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/pairsync/pairsync/server/pairing"
	"github.com/pairsync/pairsync/storage"
	"github.com/pairsync/pairsync/syncproto"
)

// counterpartyView is one counterparty (共建单位) in a list.
type counterpartyView struct {
	ID         string `json:"id"`
	Kind       string `json:"kind"`
	Name       string `json:"name"`
	CreditCode string `json:"credit_code,omitempty"`
	OrgUnit    string `json:"org_unit"`
	Industry   string `json:"industry,omitempty"`
	Address    string `json:"address,omitempty"`
	Seq        uint64 `json:"seq"`
}

func viewCounterparty(cp pairing.Counterparty) counterpartyView {
	return counterpartyView{ID: cp.ID, Kind: cp.Kind, Name: cp.Name, CreditCode: cp.CreditCode, OrgUnit: cp.OrgUnit,
		Industry: cp.Industry, Address: cp.Address, Seq: cp.Seq}
}

type counterpartyList struct {
	Counterparties []counterpartyView `json:"counterparties"`
	More           bool               `json:"more"`
	Next           string             `json:"next,omitempty"`
}

// writeAnswer is what a create or change of a directory record answers:
// the record, and warnings that did not stop the write (likely duplicates).
type writeAnswer struct {
	Record   recordView `json:"record"`
	Warnings []warning  `json:"warnings,omitempty"`
}

// warning points at something the caller should look at.
type warning struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	ID      string `json:"id,omitempty"`
}

// counterpartyObject describes a counterparty for the policy.
func (s *Server) counterpartyObject(p pairing.Principal, cp pairing.Counterparty) pairing.Object {
	return pairing.Object{Kind: pairing.KindCounterparty, ID: cp.ID, OrgPath: cp.OrgPath,
		Related: s.dir.SeesDirectoryRecord(p, pairing.CollCounterparties, cp.ID)}
}

// loadCounterparty resolves /v1/counterparties/:id for the policy.
func loadCounterparty(s *Server, c *fiber.Ctx) (pairing.Object, any, error) {
	if err := s.dir.Refresh(c.UserContext()); err != nil {
		return pairing.Object{}, nil, err
	}
	cp, ok := s.dir.Counterparty(c.Params("id"))
	if !ok {
		return pairing.Object{}, nil, storage.ErrNotFound
	}
	return s.counterpartyObject(principal(c), cp), cp, nil
}

// listCounterparties: GET /v1/counterparties — the counterparties the
// caller may see: ?search= (name or credit code), kind=, org_unit=,
// after=, limit=.
func (s *Server) listCounterparties(c *fiber.Ctx) error {
	limit, err := queryLimit(c, 100, 1000)
	if err != nil {
		return err
	}
	list, err := s.counterpartiesMatching(c, c.Query("after"))
	if err != nil {
		return err
	}
	out := counterpartyList{Counterparties: []counterpartyView{}}
	for i, cp := range list {
		if i == limit {
			out.More, out.Next = true, list[i-1].ID
			break
		}
		out.Counterparties = append(out.Counterparties, viewCounterparty(cp))
	}
	return c.JSON(out)
}

// counterpartiesMatching is the counterparties the caller may see that the
// list's filters keep (?search= name or credit code, kind=, org_unit=),
// with ids after after (the list's pages; "" for all), by id: the list
// and its export (GET /v1/exports/counterparties).
func (s *Server) counterpartiesMatching(c *fiber.Ctx, after string) ([]pairing.Counterparty, error) {
	ctx, p := c.UserContext(), principal(c)
	if err := s.dir.Refresh(ctx); err != nil {
		return nil, err
	}
	root, err := s.orgUnitFilter(c)
	if err != nil {
		return nil, err
	}
	search, kind := strings.ToLower(strings.TrimSpace(c.Query("search"))), c.Query("kind")
	return s.dir.Counterparties(func(cp pairing.Counterparty) bool {
		switch {
		case cp.ID <= after,
			kind != "" && cp.Kind != kind,
			root != "" && !strings.HasPrefix(cp.OrgPath, root),
			search != "" && !strings.Contains(strings.ToLower(cp.Name), search) && !strings.Contains(strings.ToLower(cp.CreditCode), search):
			return false
		}
		return s.seesCounterparty(p, cp)
	}), nil
}

// seesCounterparty reports whether p may see cp (the list's and the
// loader's rule): only then may an answer name it.
func (s *Server) seesCounterparty(p pairing.Principal, cp pairing.Counterparty) bool {
	return pairing.Policy(p, pairing.Read, s.counterpartyObject(p, cp)) == nil
}

// getCounterparty: GET /v1/counterparties/:id — the whole record.
func (s *Server) getCounterparty(c *fiber.Ctx) error {
	return s.recordAnswer(c, pairing.CollCounterparties, loaded[pairing.Counterparty](c).ID)
}

// createCounterparty: POST /v1/counterparties. An enterprise's id is its
// 统一社会信用代码, so one enterprise is stored once however many
// administrators enter it; likely duplicates by name come back as warnings.
func (s *Server) createCounterparty(c *fiber.Ctx) error {
	req, err := adminCreates(c, "counterparties")
	if err != nil {
		return err
	}
	ctx, p := c.UserContext(), principal(c)
	cp, warnings, err := s.putCounterparty(ctx, p, "", req)
	if err != nil {
		return err
	}
	s.audit(c, storage.AuditEvent{Action: "counterparty.create", Object: "counterparty:" + cp.ID, Result: "ok", OrgPath: p.OrgPath})
	return c.Status(http.StatusCreated).JSON(writeAnswer{Record: cp, Warnings: warnings})
}

// patchCounterparty: PATCH /v1/counterparties/:id.
func (s *Server) patchCounterparty(c *fiber.Ctx) error {
	var req fieldsRequest
	if err := bind(c, &req); err != nil {
		return err
	}
	ctx, p := c.UserContext(), principal(c)
	old := loaded[pairing.Counterparty](c)
	cp, warnings, err := s.putCounterparty(ctx, p, old.ID, req)
	if err != nil {
		return err
	}
	s.audit(c, storage.AuditEvent{Action: "counterparty.update", Object: "counterparty:" + cp.ID, Result: "ok", OrgPath: p.OrgPath})
	return c.JSON(writeAnswer{Record: cp, Warnings: warnings})
}

// putCounterparty creates (id "") or changes a counterparty for p.
func (s *Server) putCounterparty(ctx context.Context, p pairing.Principal, id string, req fieldsRequest) (recordView, []warning, error) {
	if err := s.dir.Refresh(ctx); err != nil {
		return recordView{}, nil, err
	}
	fields := req.Fields
	var code string
	if v, ok := fields["credit_code"]; ok {
		_ = json.Unmarshal(v, &code)
		if up := strings.ToUpper(strings.TrimSpace(code)); up != code {
			code = up
			fields["credit_code"], _ = json.Marshal(code)
		}
	}
	create := id == ""
	if create {
		var kind string
		_ = json.Unmarshal(fields["kind"], &kind)
		id = newID()
		if kind == "enterprise" && code != "" {
			if err := pairing.ValidateCreditCode(code); err != nil {
				return recordView{}, nil, &Error{Status: http.StatusBadRequest, Wire: syncproto.Error{Code: syncproto.CodeValidation, Field: "credit_code", Message: err.Error(),
					Reason: pairing.CreditCodeReason(err), Args: map[string]string{"field": "credit_code"}}}
			}
			id = code
		}
	}
	if code != "" {
		if other, ok := s.dir.ByCreditCode(code); ok && other.ID != id || create && ok {
			if !s.seesCounterparty(p, other) {
				// Outside the caller's scope: said without naming or
				// identifying it, which would tell what exists elsewhere.
				return recordView{}, nil, &Error{Status: http.StatusConflict, Wire: syncproto.Error{Code: syncproto.CodeConflict, Field: "credit_code",
					Reason:  pairing.ReasonCreditCodeTakenElsewhere,
					Message: "this unified social credit code is already registered outside your scope and cannot be added again: to pair with this enterprise, ask an administrator above you"}}
			}
			return recordView{}, nil, &Error{Status: http.StatusConflict, Wire: syncproto.Error{Code: syncproto.CodeConflict, Field: "credit_code",
				Reason: pairing.ReasonCreditCodeTaken, Args: map[string]string{"name": other.Name},
				Message: "统一社会信用代码 " + code + " is already registered as " + other.Name + " (" + other.ID + "): use that one"}}
		}
	}
	// The managing unit is checked, before and after, by the reference
	// checker (pairing.CheckRefs) that writeAs runs.
	r, seq, err := s.writeAs(ctx, p, pairing.CollCounterparties, id, pairing.DirectoryScope, fields,
		writeOptions{create: create, expect: req.Seq})
	if err != nil {
		return recordView{}, nil, err
	}
	if err := s.dir.Refresh(ctx); err != nil {
		return recordView{}, nil, err
	}
	var warnings []warning
	for _, d := range s.dir.LikelyDuplicates(pairing.Str(r, "name"), "", r.ID) {
		if !s.seesCounterparty(p, d) {
			continue // outside the caller's scope: never named
		}
		warnings = append(warnings, warning{Code: "likely_duplicate", ID: d.ID,
			Message: "a counterparty with a similar name exists: " + d.Name + " (" + d.ID + ")"})
	}
	return viewRecord(r, seq), warnings, nil
}
