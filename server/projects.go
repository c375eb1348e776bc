package server

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/pairsync/pairsync/server/pairing"
	"github.com/pairsync/pairsync/server/readmodel"
	"github.com/pairsync/pairsync/storage"
	"github.com/pairsync/pairsync/syncproto"
)

// projectItem is a practical project (实事项目) in a list.
type projectItem struct {
	ID                string    `json:"id"`
	Pairing           string    `json:"pairing"`
	Title             string    `json:"title"`
	Category          string    `json:"category"`
	Status            string    `json:"status"`
	StatusReason      string    `json:"status_reason,omitempty"`
	Owner             string    `json:"owner,omitempty"`
	PlannedEnd        string    `json:"planned_end,omitempty"`
	CompletedAt       time.Time `json:"completed_at,omitzero"`
	ContactAcceptedAt time.Time `json:"contact_accepted_at,omitzero"`
	VerifiedAt        time.Time `json:"verified_at,omitzero"`
	Milestones        int       `json:"milestones"`
	MilestonesDone    int       `json:"milestones_done"`
	Ratings           int       `json:"ratings"`
	Seq               uint64    `json:"seq"`
}

type projectList struct {
	Projects []projectItem `json:"projects"`
	Total    int           `json:"total"`
}

func viewProject(ps readmodel.ProjectSummary) projectItem {
	v := projectItem{ID: ps.ID, Pairing: ps.Pairing, Title: ps.Title, Category: ps.Category, Status: ps.Status, StatusReason: ps.StatusReason, Owner: ps.Owner,
		PlannedEnd: ps.PlannedEnd, CompletedAt: ps.CompletedAt, ContactAcceptedAt: ps.ContactAcceptedAt, VerifiedAt: ps.VerifiedAt,
		Milestones: len(ps.Milestones), Ratings: len(ps.Ratings), Seq: ps.Seq}
	for _, m := range ps.Milestones {
		if !m.DoneAt.IsZero() {
			v.MilestonesDone++
		}
	}
	return v
}

// listProjects: GET /v1/projects — the projects board: by status=,
// category=, period (completion, or creation while not completed).
func (s *Server) listProjects(c *fiber.Ctx) error {
	items, total, err := listedPage(s, c, s.ledger.Projects, viewProject)
	if err != nil {
		return err
	}
	return c.JSON(projectList{Projects: items, Total: total})
}

// projectDetail is a project with its milestones and ratings.
type projectDetail struct {
	Record     recordView                   `json:"record"`
	Milestones []readmodel.MilestoneSummary `json:"milestones"`
	Ratings    []readmodel.RatingSummary    `json:"ratings"`
}

// getProject: GET /v1/projects/:id.
func (s *Server) getProject(c *fiber.Ctx) error {
	lr := loaded[loadedRecord](c)
	if err := s.ledger.Refresh(c.UserContext()); err != nil {
		return err
	}
	ps, _ := s.ledger.Project(lr.rec.ID)
	out := projectDetail{Record: viewRecord(lr.rec, lr.seq), Milestones: ps.Milestones, Ratings: ps.Ratings}
	if out.Milestones == nil {
		out.Milestones = []readmodel.MilestoneSummary{}
	}
	if out.Ratings == nil {
		out.Ratings = []readmodel.RatingSummary{}
	}
	return c.JSON(out)
}

type verifyProjectRequest struct {
	Note string `json:"note,omitempty"`
}

// verifyProject: POST /v1/projects/:id/verify — an administrator verifies
// (验收) a completed project the contact has accepted.
func (s *Server) verifyProject(c *fiber.Ctx) error {
	var req verifyProjectRequest
	if len(c.Body()) > 0 {
		if err := bind(c, &req); err != nil {
			return err
		}
	}
	p := principal(c)
	if p.Role != pairing.Admin {
		return errorf(http.StatusForbidden, syncproto.CodeForbidden, "only an administrator verifies a project")
	}
	lr := loaded[loadedRecord](c)
	switch {
	case pairing.Str(lr.rec, "status") != "completed":
		return errorf(http.StatusConflict, syncproto.CodeConflict, "a project is verified once completed (it is %s)", pairing.Str(lr.rec, "status"))
	case pairing.Str(lr.rec, "contact_accepted_at") == "":
		return errorf(http.StatusConflict, syncproto.CodeConflict, "the contact has not accepted the project yet")
	}
	// The verification is the project's last decision: who and when, like
	// 立项 or 暂缓 (status_by, status_by_name, status_at), so the phones show it.
	now := s.now().UTC().Format(time.RFC3339)
	fields := map[string]any{"status": "verified", "verified_at": now, "verified_by": p.UserID, "status_by": p.UserID, "status_at": now}
	if u, err := s.store.User(c.UserContext(), p.UserID); err == nil && u.Name != "" {
		fields["status_by_name"] = u.Name
	}
	values, _ := jsonValues(fields)
	r, seq, err := s.writeAs(c.UserContext(), p, pairing.CollProjects, lr.rec.ID, lr.rec.Pairing, values, writeOptions{expect: &lr.seq})
	if err != nil {
		return err
	}
	s.audit(c, storage.AuditEvent{Action: "project.verify", Object: "project:" + r.ID, Result: "ok", Detail: req.Note, OrgPath: p.OrgPath})
	return c.JSON(viewRecord(r, seq))
}

// projectCode: GET /v1/projects/:id/confirmation-code — contacts only: the
// codes an officer's phone needs to record the contact's acceptance and
// rating.
func (s *Server) projectCode(c *fiber.Ctx) error {
	ctx, p := c.UserContext(), principal(c)
	if p.Role != pairing.Contact {
		return errorf(http.StatusForbidden, syncproto.CodeForbidden, "confirmation codes are the contact's own")
	}
	lr := loaded[loadedRecord](c)
	var ans confirmationCodeAnswer
	var err error
	if ans.AcceptCode, err = s.confirmationCode(ctx, "accept", lr.rec.ID); err != nil {
		return err
	}
	if err := s.ledger.Refresh(ctx); err != nil {
		return err
	}
	if ans.RateCode, err = s.confirmationCode(ctx, "rate", pairing.RateSubject(s.resolver(), lr.rec.Pairing, "project", lr.rec.ID)); err != nil {
		return err
	}
	return c.JSON(ans)
}

type createProjectRequest struct {
	Pairing string                     `json:"pairing"`
	Fields  map[string]json.RawMessage `json:"fields"`
}

// createProject: POST /v1/projects — a practical project from the console
// (officers' phones create them by sync).
func (s *Server) createProject(c *fiber.Ctx) error {
	var req createProjectRequest
	if err := bind(c, &req); err != nil {
		return err
	}
	ctx, p := c.UserContext(), principal(c)
	if err := s.dir.Refresh(ctx); err != nil {
		return err
	}
	pr, ok := s.dir.Pairing(req.Pairing)
	obj := pairing.Object{Kind: pairing.KindRecord, Collection: pairing.CollProjects, At: s.now()}
	if ok {
		obj.Pairing = &pr
	}
	if err := s.authorize(c, pairing.Manage, obj); err != nil {
		return err
	}
	r, seq, err := s.writeAs(ctx, p, pairing.CollProjects, newID(), pr.ID, req.Fields, writeOptions{create: true})
	if err != nil {
		return err
	}
	s.audit(c, storage.AuditEvent{Action: "project.create", Object: "project:" + r.ID, Result: "ok", OrgPath: p.OrgPath})
	return c.Status(http.StatusCreated).JSON(viewRecord(r, seq))
}

// patchProject: PATCH /v1/projects/:id — change a project's plan or move
// its status (approve, defer, cancel, archive…) under the same rules as a
// synced write.
func (s *Server) patchProject(c *fiber.Ctx) error {
	var req fieldsRequest
	if err := bind(c, &req); err != nil {
		return err
	}
	ctx, p := c.UserContext(), principal(c)
	lr := loaded[loadedRecord](c)
	r, seq, err := s.writeAs(ctx, p, pairing.CollProjects, lr.rec.ID, lr.rec.Pairing, req.Fields, writeOptions{expect: req.Seq})
	if err != nil {
		return err
	}
	s.audit(c, storage.AuditEvent{Action: "project.update", Object: "project:" + r.ID, Result: "ok", OrgPath: p.OrgPath})
	return c.JSON(viewRecord(r, seq))
}
