package server

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/pairsync/pairsync/server/pairing"
	"github.com/pairsync/pairsync/server/readmodel"
	"github.com/pairsync/pairsync/storage"
	"github.com/pairsync/pairsync/syncproto"
)

// loadedRecord is a synced record of a pairing, loaded for a route.
type loadedRecord struct {
	rec     syncproto.Record
	seq     uint64
	pairing pairing.Pairing
}

// loadRecordOf resolves /v1/<collection>/:id for the policy: the record's
// pairing decides who sees it.
func loadRecordOf(collection string) loader {
	return func(s *Server, c *fiber.Ctx) (pairing.Object, any, error) {
		ctx := c.UserContext()
		if err := s.dir.Refresh(ctx); err != nil {
			return pairing.Object{}, nil, err
		}
		r, seq, err := s.getRecord(ctx, collection, c.Params("id"))
		if err != nil {
			return pairing.Object{}, nil, err
		}
		if r.Deleted() {
			return pairing.Object{}, nil, storage.ErrNotFound
		}
		pr, ok := s.dir.Pairing(r.Pairing)
		if !ok {
			return pairing.Object{}, nil, storage.ErrNotFound
		}
		return pairing.Object{Kind: pairing.KindRecord, ID: r.ID, Pairing: &pr, Collection: collection, At: s.now()},
			loadedRecord{rec: r, seq: seq, pairing: pr}, nil
	}
}

// china is the time zone of periods and months (UTC+8, no tzdata needed).
var china = readmodel.China

// parsePeriod reads from= and to= (YYYY-MM or YYYY-MM-DD, in China time;
// both inclusive) into [from, to). Zero times mean unbounded.
func parsePeriod(c *fiber.Ctx) (from, to time.Time, err error) {
	parse := func(name string, end bool) (time.Time, error) {
		v := strings.TrimSpace(c.Query(name))
		if v == "" {
			return time.Time{}, nil
		}
		if t, err := time.ParseInLocation("2006-01", v, china); err == nil {
			if end {
				t = t.AddDate(0, 1, 0)
			}
			return t, nil
		}
		if t, err := time.ParseInLocation(time.DateOnly, v, china); err == nil {
			if end {
				t = t.AddDate(0, 0, 1)
			}
			return t, nil
		}
		return time.Time{}, badRequest(name, "%s must be a month (2026-03) or a date (2026-03-15)", name)
	}
	if from, err = parse("from", false); err != nil {
		return
	}
	if to, err = parse("to", true); err != nil {
		return
	}
	if !from.IsZero() && !to.IsZero() && !to.After(from) {
		err = badRequest("to", "to must not be before from")
	}
	return
}

// listFilter reads the filters of the record lists: the pairings (see
// pairingFilter, and pairing= for one), the period, status=, category=,
// officer=, q= (title), overdue=true.
func (s *Server) listFilter(c *fiber.Ctx) ([]string, readmodel.Filter, error) {
	prs, err := s.pairingsMatching(c, "pairing_status")
	if err != nil {
		return nil, readmodel.Filter{}, err
	}
	from, to, err := parsePeriod(c)
	if err != nil {
		return nil, readmodel.Filter{}, err
	}
	one := c.Query("pairing")
	var ids []string
	for _, pr := range prs {
		if one == "" || pr.ID == one {
			ids = append(ids, pr.ID)
		}
	}
	f := readmodel.Filter{From: from, To: to, Status: c.Query("status"), Category: c.Query("category"),
		Officer: c.Query("officer"), Counterparty: c.Query("counterparty"), Query: c.Query("q"),
		Overdue: c.QueryBool("overdue"), Now: s.now()}
	if err := s.ledger.Refresh(c.UserContext()); err != nil {
		return nil, readmodel.Filter{}, err
	}
	return ids, f, nil
}

// page cuts a list by offset= and limit= (default 100, at most 1000).
func page[T any](c *fiber.Ctx, all []T) ([]T, int, error) {
	limit, err := queryLimit(c, 100, 1000)
	if err != nil {
		return nil, 0, err
	}
	offset := 0
	if v := c.Query("offset"); v != "" {
		if offset, err = strconv.Atoi(v); err != nil || offset < 0 {
			return nil, 0, badRequest("offset", "offset must be a number ≥ 0")
		}
	}
	if offset > len(all) {
		offset = len(all)
	}
	end := min(offset+limit, len(all))
	return all[offset:end], len(all), nil
}

// listedPage answers a list route of the read model (issues, projects):
// the list's filter, list's answer for it, the page asked for, each item
// in its view, and the total before paging.
func listedPage[S, V any](s *Server, c *fiber.Ctx, list func([]string, readmodel.Filter) []S, view func(S) V) ([]V, int, error) {
	ids, f, err := s.listFilter(c)
	if err != nil {
		return nil, 0, err
	}
	pg, total, err := page(c, list(ids, f))
	if err != nil {
		return nil, 0, err
	}
	out := make([]V, 0, len(pg))
	for _, x := range pg {
		out = append(out, view(x))
	}
	return out, total, nil
}

// visitList is a page of visits.
type visitList struct {
	Visits []visitItem `json:"visits"`
	Total  int         `json:"total"`
}

// visitItem is a visit in a list.
type visitItem struct {
	ID            string    `json:"id"`
	Pairing       string    `json:"pairing"`
	Counterparty  string    `json:"counterparty,omitempty"`
	Title         string    `json:"title,omitempty"`
	Mode          string    `json:"mode"`
	Status        string    `json:"status"`
	Officers      []string  `json:"officers"`
	VisitedAt     time.Time `json:"visited_at"`
	ReceivedAt    time.Time `json:"received_at,omitzero"`
	HasLocation   bool      `json:"has_location"`
	Photos        int       `json:"photos"`
	Issues        int       `json:"issues"`
	ReturnComment string    `json:"return_comment,omitempty"`
	Seq           uint64    `json:"seq"`
}

// listVisits: GET /v1/visits.
func (s *Server) listVisits(c *fiber.Ctx) error {
	ids, f, err := s.listFilter(c)
	if err != nil {
		return err
	}
	if !pairing.MayRead(principal(c).Role, pairing.CollVisits) {
		ids = nil
	}
	all, err := s.ledger.Visits(c.UserContext(), ids, f)
	if err != nil {
		return err
	}
	pg, total, err := page(c, all)
	if err != nil {
		return err
	}
	if err := s.ledger.FillVisits(c.UserContext(), pg); err != nil {
		return err
	}
	out := visitList{Visits: make([]visitItem, 0, len(pg)), Total: total}
	for _, v := range pg {
		out.Visits = append(out.Visits, visitItem{ID: v.ID, Pairing: v.Pairing, Counterparty: v.Counterparty, Title: v.Title,
			Mode: v.Mode, Status: v.Status, Officers: v.Officers, VisitedAt: v.VisitedAt, ReceivedAt: v.ReceivedAt,
			HasLocation: v.HasLocation, Photos: len(v.Photos), Issues: len(v.Issues), ReturnComment: v.ReturnComment, Seq: v.Seq})
	}
	return c.JSON(out)
}

// visitDetail is one visit with the state of its evidence.
type visitDetail struct {
	Record recordView `json:"record"`
	// Complete: every photo of the manifest is stored with a matching hash;
	// until then the visit counts as pending evidence.
	Complete bool     `json:"complete"`
	Missing  []string `json:"missing_photos"`
}

// getVisit: GET /v1/visits/:id.
func (s *Server) getVisit(c *fiber.Ctx) error {
	lr := loaded[loadedRecord](c)
	if err := s.ledger.Refresh(c.UserContext()); err != nil {
		return err
	}
	missing := s.ledger.MissingPhotos(pairing.Photos(lr.rec, "photos"))
	return c.JSON(visitDetail{Record: viewRecord(lr.rec, lr.seq), Complete: len(missing) == 0, Missing: missing})
}

type returnVisitRequest struct {
	// Comment says what the officer should change (required).
	Comment string `json:"comment"`
}

// returnVisit: POST /v1/visits/:id/return — an administrator sends a visit
// back to its officer with a comment; the officer sees it on the next sync
// and resubmits (status submitted).
func (s *Server) returnVisit(c *fiber.Ctx) error {
	var req returnVisitRequest
	if err := bind(c, &req); err != nil {
		return err
	}
	p := principal(c)
	if p.Role != pairing.Admin {
		return errorf(http.StatusForbidden, syncproto.CodeForbidden, "only an administrator returns a visit").why(pairing.ReasonAdminReturnsVisit)
	}
	if strings.TrimSpace(req.Comment) == "" {
		return validation("comment", "say what the officer should change").why(pairing.ReasonReturnComment)
	}
	lr := loaded[loadedRecord](c)
	values, _ := jsonValues(map[string]any{"status": "returned", "return_comment": req.Comment,
		"returned_at": s.now().UTC().Format(time.RFC3339), "returned_by": p.UserID})
	r, seq, err := s.writeAs(c.UserContext(), p, pairing.CollVisits, lr.rec.ID, lr.rec.Pairing, values, writeOptions{})
	if err != nil {
		return err
	}
	s.audit(c, storage.AuditEvent{Action: "visit.return", Object: "visit:" + r.ID, Result: "ok", OrgPath: p.OrgPath})
	return c.JSON(viewRecord(r, seq))
}
