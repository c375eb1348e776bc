package server

import (
	"errors"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/pairsync/pairsync/server/pairing"
	"github.com/pairsync/pairsync/storage"
)

// Org-unit kinds, from DOMAIN.md: committee → department → branch.
var orgUnitKinds = map[string]bool{"committee": true, "department": true, "branch": true}

type orgUnitView struct {
	ID       string         `json:"id"`
	ParentID string         `json:"parent_id,omitempty"`
	Name     string         `json:"name"`
	Kind     string         `json:"kind"`
	Path     string         `json:"path"`
	SLADays  map[string]int `json:"sla_days,omitempty"`
	// Robots says which group robots the unit has, never their URLs or
	// secret (write-only: the console shows 已设置); only to those who may
	// manage the unit (orgUnitAnswer).
	Robots    *robotsView `json:"robots,omitempty"`
	CreatedAt time.Time   `json:"created_at"`
	UpdatedAt time.Time   `json:"updated_at"`
	Rev       uint64      `json:"rev"`
}

func viewOrgUnit(u storage.OrgUnit) orgUnitView {
	return orgUnitView{ID: u.ID, ParentID: u.ParentID, Name: u.Name, Kind: u.Kind, Path: u.Path, SLADays: u.SLADays,
		CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt, Rev: u.Rev}
}

func orgObject(u storage.OrgUnit) pairing.Object {
	return pairing.Object{Kind: pairing.KindOrgUnit, ID: u.ID, OrgPath: u.Path}
}

// loadOrgUnit resolves /v1/org-units/:id for the policy.
func loadOrgUnit(s *Server, c *fiber.Ctx) (pairing.Object, any, error) {
	u, err := s.store.OrgUnit(c.UserContext(), c.Params("id"))
	if err != nil {
		return pairing.Object{}, nil, err
	}
	return orgObject(u), u, nil
}

// listOrgUnits: GET /v1/org-units — the caller's subtree (admins and
// viewers) and the units above the caller, ordered by path.
func (s *Server) listOrgUnits(c *fiber.Ctx) error {
	ctx, p := c.UserContext(), principal(c)
	var units []storage.OrgUnit
	if p.Role == pairing.Admin || p.Role == pairing.Viewer {
		sub, err := s.store.OrgUnits(ctx, p.OrgPath)
		if err != nil {
			return err
		}
		units = sub
	}
	// The units above the caller (and the caller's own, for officers and
	// contacts).
	ids := strings.Split(strings.Trim(p.OrgPath, "/"), "/")
	for i, id := range ids {
		own := i == len(ids)-1
		if id == "" || own && (p.Role == pairing.Admin || p.Role == pairing.Viewer) {
			continue
		}
		u, err := s.store.OrgUnit(ctx, id)
		if errors.Is(err, storage.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		units = append(units, u)
	}
	out := make([]orgUnitView, 0, len(units))
	for _, u := range units {
		if pairing.Policy(p, pairing.Read, orgObject(u)) == nil {
			out = append(out, orgUnitAnswer(p, u))
		}
	}
	return c.JSON(fiber.Map{"org_units": out})
}

// getOrgUnit: GET /v1/org-units/:id.
func (s *Server) getOrgUnit(c *fiber.Ctx) error {
	return c.JSON(orgUnitAnswer(principal(c), loaded[storage.OrgUnit](c)))
}

type orgUnitRequest struct {
	ParentID string         `json:"parent_id"`
	Name     *string        `json:"name"`
	Kind     *string        `json:"kind"`
	SLADays  map[string]int `json:"sla_days"`
	// Robots sets the unit's group robots (PATCH): a field left out keeps
	// its value, "" clears it.
	Robots *robotsRequest `json:"robots"`
	Rev    uint64         `json:"rev"`
}

func validateOrgUnit(name, kind string, sla map[string]int) error {
	switch {
	case strings.TrimSpace(name) == "" || utf8.RuneCountInString(name) > 100:
		return badRequest("name", "name must be 1 to 100 characters")
	case pairing.HasBidiControl(name):
		return &Error{Status: http.StatusBadRequest, Wire: *pairing.BidiRefusal("name")}
	case !orgUnitKinds[kind]:
		return badRequest("kind", "kind must be committee, department or branch")
	}
	for cat, days := range sla {
		_, known := pairing.DefaultDueDays[cat]
		if !known && cat != pairing.SignDaysKey && cat != pairing.ConfirmDaysKey {
			return badRequest("sla_days", "sla_days: %q is not an issue category (nor %s or %s)", cat, pairing.SignDaysKey, pairing.ConfirmDaysKey)
		}
		if days < 1 || days > 365 {
			return badRequest("sla_days", "sla_days maps an issue category to 1..365 days")
		}
	}
	return nil
}

// createOrgUnit: POST /v1/org-units — a unit under a parent in the
// caller's subtree.
func (s *Server) createOrgUnit(c *fiber.Ctx) error {
	var req orgUnitRequest
	if err := bind(c, &req); err != nil {
		return err
	}
	ctx := c.UserContext()
	if req.Name == nil || req.Kind == nil {
		return badRequest("name", "name and kind are required")
	}
	if err := validateOrgUnit(*req.Name, *req.Kind, req.SLADays); err != nil {
		return err
	}
	noParent := badRequest("parent_id", "parent_id must name an existing org unit in your subtree")
	if req.ParentID == "" {
		return noParent
	}
	parent, err := s.store.OrgUnit(ctx, req.ParentID)
	if errors.Is(err, storage.ErrNotFound) {
		// Audited as a refusal, as a unit outside the subtree is below:
		// the two answer alike, so no answer tells which units exist.
		s.audit(c, storage.AuditEvent{Action: "denied", Object: objectName(pairing.Object{Kind: pairing.KindOrgUnit, ID: truncatePath(req.ParentID)}), Result: "not_found",
			Detail: string(pairing.Manage), OrgPath: principal(c).OrgPath})
		return noParent
	}
	if err != nil {
		return err
	}
	if err := s.authorize(c, pairing.Manage, orgObject(parent)); err != nil {
		if e, ok := errors.AsType[*Error](err); ok && e.Status == http.StatusNotFound {
			return noParent // outside the caller's scope: as for no unit at all
		}
		return err
	}
	now := s.now().UTC()
	u, err := s.store.CreateOrgUnit(ctx, storage.OrgUnit{ID: uuid.Must(uuid.NewV7()).String(), ParentID: parent.ID,
		Name: strings.TrimSpace(*req.Name), Kind: *req.Kind, SLADays: req.SLADays, CreatedAt: now, UpdatedAt: now})
	if err != nil {
		return err
	}
	s.audit(c, storage.AuditEvent{Action: "org_unit_create", Result: "ok", Object: "org_unit:" + u.ID, OrgPath: u.Path})
	return c.Status(http.StatusCreated).JSON(orgUnitAnswer(principal(c), u))
}

// patchOrgUnit: PATCH /v1/org-units/:id — name, kind, SLA days.
func (s *Server) patchOrgUnit(c *fiber.Ctx) error {
	var req orgUnitRequest
	if err := bind(c, &req); err != nil {
		return err
	}
	u := loaded[storage.OrgUnit](c)
	if req.ParentID != "" && req.ParentID != u.ParentID {
		return badRequest("parent_id", "org units cannot be moved")
	}
	if req.Rev != 0 && req.Rev != u.Rev {
		return &Error{Status: http.StatusConflict, Wire: *conflictWire()}
	}
	if req.Name != nil {
		u.Name = strings.TrimSpace(*req.Name)
	}
	if req.Kind != nil {
		u.Kind = *req.Kind
	}
	if req.SLADays != nil {
		u.SLADays = req.SLADays
	}
	if err := validateOrgUnit(u.Name, u.Kind, u.SLADays); err != nil {
		return err
	}
	if req.Robots != nil {
		r, err := req.Robots.apply(u.Robots)
		if err != nil {
			return err
		}
		u.Robots = r
	}
	nu, err := s.store.UpdateOrgUnit(c.UserContext(), u)
	s.sla.Invalidate()
	if err != nil {
		return err
	}
	s.audit(c, storage.AuditEvent{Action: "org_unit_update", Result: "ok", Object: "org_unit:" + u.ID, OrgPath: u.Path})
	return c.JSON(orgUnitAnswer(principal(c), nu))
}
