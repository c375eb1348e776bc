package server

import (
	"cmp"
	"errors"
	"slices"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/pairsync/pairsync/server/imaging"
	"github.com/pairsync/pairsync/server/pairing"
	"github.com/pairsync/pairsync/server/readmodel"
	"github.com/pairsync/pairsync/storage"
)

// reportScope reads what every report starts from: the period (from= and
// to=), the pairings the caller sees that the filters keep, and the ledger
// brought up to date.
func (s *Server) reportScope(c *fiber.Ctx) (from, to readmodel.Month, prs []pairing.Pairing, err error) {
	if from, to, err = s.reportPeriod(c); err != nil {
		return 0, 0, nil, err
	}
	if prs, err = s.pairingFilter(c); err != nil {
		return 0, 0, nil, err
	}
	if err := s.ledger.Refresh(c.UserContext()); err != nil {
		return 0, 0, nil, err
	}
	return from, to, prs, nil
}

// reportPeriod reads from= and to= as months (YYYY-MM, both inclusive) into
// the ledger's [from, to); the default is this year up to this month.
func (s *Server) reportPeriod(c *fiber.Ctx) (readmodel.Month, readmodel.Month, error) {
	now := readmodel.MonthOf(s.now())
	from, to := now-now%12, now+1 // January of this year … this month
	if v := c.Query("from"); v != "" {
		m, err := readmodel.ParseMonth(v)
		if err != nil {
			return 0, 0, badRequest("from", "from must be a month such as 2026-01")
		}
		from = m
	}
	if v := c.Query("to"); v != "" {
		m, err := readmodel.ParseMonth(v)
		if err != nil {
			return 0, 0, badRequest("to", "to must be a month such as 2026-12")
		}
		to = m + 1
	}
	if to <= from {
		return 0, 0, badRequest("to", "to must not be before from")
	}
	if to-from > 120 {
		return 0, 0, badRequest("from", "a report covers at most ten years")
	}
	return from, to, nil
}

// overviewReport is the dashboard of an org unit's subtree for a period.
type overviewReport struct {
	OrgUnit string                   `json:"org_unit,omitempty"`
	Figures readmodel.Figures        `json:"figures"`
	Trend   []readmodel.MonthFigures `json:"trend"`
	// Units are the figures of each unit directly below OrgUnit (the
	// ranking of departments or branches).
	Units []unitFigures `json:"units"`
}

type unitFigures struct {
	ID      string            `json:"id"`
	Name    string            `json:"name"`
	Figures readmodel.Figures `json:"figures"`
}

// overview: GET /v1/reports/overview?org_unit=&from=&to= (and the
// pairing filters) — the figures, a month-by-month trend and the units
// below, for the pairings the caller may see. One call to the ledger
// (Ledger.Overview) gives all three, each pairing read once however many
// sets hold it.
func (s *Server) overview(c *fiber.Ctx) error {
	ctx, p := c.UserContext(), principal(c)
	from, to, prs, err := s.reportScope(c)
	if err != nil {
		return err
	}
	now := s.now()
	ids := pairingIDs(prs)
	out := overviewReport{OrgUnit: c.Query("org_unit"), Units: []unitFigures{}}
	// The units one level below the report's root: only within the
	// caller's subtree (administrators and viewers); a unit outside it
	// answers as an unknown one, and other roles see no breakdown
	// (the org tree is not read through the overview).
	root := p.OrgPath
	if out.OrgUnit != "" {
		u, err := s.store.OrgUnit(ctx, out.OrgUnit)
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			return err
		}
		root = u.Path
	}
	if pairing.Policy(p, pairing.Read, pairing.Object{Kind: pairing.KindReport, OrgPath: root}) != nil {
		if out.OrgUnit != "" {
			return errNoOrgUnit(out.OrgUnit)
		}
		ov := s.ledger.Overview(ids, nil, from, to, now)
		out.Figures, out.Trend = ov.Figures, ov.Trend
		return c.JSON(out)
	}
	units, err := s.store.OrgUnits(ctx, root)
	if err != nil {
		return err
	}
	depth := strings.Count(root, "/")
	var below []storage.OrgUnit
	for _, u := range units {
		if strings.Count(u.Path, "/") == depth+1 {
			below = append(below, u)
		}
	}
	ov := s.ledger.Overview(ids, unitPairings(below, depth, prs), from, to, now)
	out.Figures, out.Trend = ov.Figures, ov.Trend
	for i, u := range below {
		out.Units = append(out.Units, unitFigures{ID: u.ID, Name: u.Name, Figures: ov.Units[i]})
	}
	return c.JSON(out)
}

// unitPairings returns, for each unit (all depth+1 levels deep, so their
// paths hold depth+1 slashes), the ids of the pairings with a branch path
// under the unit's path, in the order of prs. One pass over the pairings
// (not one per unit: a province has 100 departments over 7,000 pairings):
// a branch path is under a unit ending in "/" exactly when its prefix up
// to its (depth+1)th slash is the unit's path. Units whose path does not
// end in "/" are matched by prefix, pairing by pairing.
func unitPairings(units []storage.OrgUnit, depth int, prs []pairing.Pairing) [][]string {
	out := make([][]string, len(units))
	byPath := map[string][]int{}
	var odd []int
	for i, u := range units {
		if strings.HasSuffix(u.Path, "/") {
			byPath[u.Path] = append(byPath[u.Path], i)
		} else {
			odd = append(odd, i)
		}
	}
	last := make([]int, len(units)) // 1 + the index in prs last added to the unit
	for k, pr := range prs {
		for _, path := range pr.BranchPaths {
			if end := nthSlash(path, depth+1); end >= 0 {
				for _, i := range byPath[path[:end+1]] {
					if last[i] != k+1 {
						last[i] = k + 1
						out[i] = append(out[i], pr.ID)
					}
				}
			}
		}
		for _, i := range odd {
			if slices.ContainsFunc(pr.BranchPaths, func(path string) bool { return strings.HasPrefix(path, units[i].Path) }) {
				out[i] = append(out[i], pr.ID)
			}
		}
	}
	return out
}

// nthSlash returns the index of the nth "/" of s (n ≥ 1), or -1.
func nthSlash(s string, n int) int {
	for i := range len(s) {
		if s[i] == '/' {
			if n--; n == 0 {
				return i
			}
		}
	}
	return -1
}

// pairingFigures is one row of the pairings report.
type pairingFigures struct {
	Pairing pairingView        `json:"pairing"`
	Figures *readmodel.Figures `json:"figures"` // into FiguresEach's answer: rows stay small to sort
}

type pairingsReport struct {
	From     readmodel.Month  `json:"from"`
	To       readmodel.Month  `json:"to"`
	Pairings []pairingFigures `json:"pairings"`
	Total    int              `json:"total"`
}

// pairingsReport answers GET /v1/reports/pairings: every visible pairing
// with its figures for the period: ?sort=visits|satisfaction|overdue|
// resolution|response (descending; default name), offset=, limit=.
func (s *Server) pairingsReport(c *fiber.Ctx) error {
	from, to, prs, err := s.reportScope(c)
	if err != nil {
		return err
	}
	figs := s.ledger.FiguresEach(pairingIDs(prs), from, to, s.now())
	rows := make([]pairingFigures, 0, len(prs))
	for i, pr := range prs {
		rows = append(rows, pairingFigures{Pairing: viewPairing(pr), Figures: &figs[i]})
	}
	key := map[string]func(f *readmodel.Figures) float64{
		"visits":       func(f *readmodel.Figures) float64 { return float64(f.Visits) },
		"satisfaction": func(f *readmodel.Figures) float64 { return f.SatisfactionRate.Value },
		"resolution":   func(f *readmodel.Figures) float64 { return f.ResolutionRate.Value },
		"response":     func(f *readmodel.Figures) float64 { return f.ResponseRate.Value },
		"overdue":      func(f *readmodel.Figures) float64 { return float64(f.Overdue.Total) },
		"coverage":     func(f *readmodel.Figures) float64 { return f.Coverage.Value },
	}[c.Query("sort")]
	slices.SortStableFunc(rows, func(a, b pairingFigures) int {
		if key != nil {
			if d := cmp.Compare(key(b.Figures), key(a.Figures)); d != 0 {
				return d
			}
		}
		return cmp.Or(strings.Compare(a.Pairing.Name, b.Pairing.Name), strings.Compare(a.Pairing.ID, b.Pairing.ID))
	})
	pg, total, err := page(c, rows)
	if err != nil {
		return err
	}
	return c.JSON(pairingsReport{From: from, To: to - 1, Pairings: pg, Total: total})
}

func pairingIDs(prs []pairing.Pairing) []string {
	ids := make([]string, len(prs))
	for i, pr := range prs {
		ids[i] = pr.ID
	}
	return ids
}

// schemaAnswer is what GET /v1/schema publishes: the app validates offline
// with the server's own rules.
type schemaAnswer struct {
	Collections      []pairing.CollectionSpec             `json:"collections"`
	IssueTransitions []pairing.IssueTransition            `json:"issue_transitions"`
	ProjectMoves     map[string]map[string][]pairing.Role `json:"project_moves"`
	ProjectMoveNeeds map[string][]string                  `json:"project_move_needs"`
	ProjectActions   []pairing.Choice                     `json:"project_actions"`
	DueDays          map[string]int                       `json:"due_days"`
	SignDays         int                                  `json:"sign_days"`
	ConfirmDays      int                                  `json:"confirm_days"`
	Photos           imaging.Policy                       `json:"photos"`
	Limits           schemaLimits                         `json:"limits"`
}

type schemaLimits struct {
	MaxChangesPerPush int `json:"max_changes_per_push"`
	MaxBodyBytes      int `json:"max_body_bytes"`
}

// schema: GET /v1/schema.
func (s *Server) schema(c *fiber.Ctx) error {
	return c.JSON(schemaAnswer{
		Collections:      pairing.Schema,
		IssueTransitions: pairing.IssueTransitions(),
		ProjectMoves:     pairing.ProjectMoves(),
		ProjectMoveNeeds: pairing.ProjectMoveNeeds(),
		ProjectActions:   pairing.ProjectActions,
		DueDays:          pairing.DefaultDueDays,
		SignDays:         pairing.DefaultSignDays,
		ConfirmDays:      pairing.DefaultConfirmDays,
		Photos:           s.photoPolicy,
		Limits:           schemaLimits{MaxChangesPerPush: s.syncLimits.MaxChanges, MaxBodyBytes: s.cfg.BodyLimit},
	})
}
