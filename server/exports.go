package server

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/pairsync/pairsync/server/pairing"
	"github.com/pairsync/pairsync/server/readmodel"
	"github.com/pairsync/pairsync/server/sheets"
	"github.com/pairsync/pairsync/storage"
	"github.com/pairsync/pairsync/syncproto"
)

// exportTimeout bounds the writing of one export, which runs after the
// handler has returned (and its request deadline with it).
const exportTimeout = 15 * time.Minute

// exportFormat begins every export: it refuses officers and contacts
// (exports are for administrators and viewers, 领导) and reads ?format=.
func exportFormat(c *fiber.Ctx) (sheets.Format, error) {
	if r := principal(c).Role; r != pairing.Admin && r != pairing.Viewer {
		return "", errorf(http.StatusForbidden, syncproto.CodeForbidden, "exports are for administrators and viewers")
	}
	f, err := sheets.ParseFormat(c.Query("format"))
	if err != nil {
		return "", badRequest("format", "format must be xlsx or csv")
	}
	return f, nil
}

// periodName names the period of an export in its file name: the from=
// and to= given (validated by parsePeriod), or the day of the export.
func (s *Server) periodName(c *fiber.Ctx) string {
	from, to := strings.TrimSpace(c.Query("from")), strings.TrimSpace(c.Query("to"))
	switch {
	case from != "" && to != "" && from != to:
		return from + "_" + to
	case from != "":
		return from
	case to != "":
		return to
	}
	return s.now().In(china).Format(time.DateOnly)
}

// streamExport sends an export: the headers now, the rows as write produces them
// once the handler has returned. write must not touch c; it gets a context
// that outlives the request's deadline but keeps its values. An error while
// streaming cuts the file short (the status is already sent) and is logged.
func (s *Server) streamExport(c *fiber.Ctx, format sheets.Format, name, ascii string, write func(ctx context.Context, w sheets.Writer) error) error {
	c.Set(fiber.HeaderContentType, format.ContentType())
	c.Set(fiber.HeaderContentDisposition, attachmentHeader(name+format.Ext(), ascii+format.Ext()))
	c.Set(fiber.HeaderCacheControl, "no-store")
	ctx := context.WithoutCancel(c.UserContext())
	log := s.log.With("request_id", requestID(c), "export", ascii)
	c.Context().SetBodyStreamWriter(func(bw *bufio.Writer) {
		ctx, cancel := context.WithTimeout(ctx, exportTimeout)
		defer cancel()
		w := sheets.NewWriter(format, bw)
		err := write(ctx, w)
		if cerr := w.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = bw.Flush()
		}
		if err != nil {
			log.Warn("export cut short", "err", err)
		}
	})
	return nil
}

// exportNames resolves the ids an export shows to names: org units, users,
// counterparties and pairings. Lookups are cached; a name that cannot be
// found shows as its id.
type exportNames struct {
	s     *Server
	units map[string]string
	users map[string]string
}

// The users named are looked up now, while the request's context lasts.
func (s *Server) exportNames(ctx context.Context, users []string) (*exportNames, error) {
	units, err := s.store.OrgUnits(ctx, "")
	if err != nil {
		return nil, err
	}
	n := &exportNames{s: s, units: make(map[string]string, len(units)), users: map[string]string{}}
	for _, u := range units {
		n.units[u.ID] = u.Name
	}
	for _, id := range users {
		if _, ok := n.users[id]; ok || id == "" {
			continue
		}
		u, err := s.store.User(ctx, id)
		switch {
		case errors.Is(err, storage.ErrNotFound):
			n.users[id] = id
		case err != nil:
			return nil, err
		case u.Name != "":
			n.users[id] = u.Name
		default:
			n.users[id] = u.Username
		}
	}
	return n, nil
}

func (n *exportNames) user(id string) string {
	if v, ok := n.users[id]; ok {
		return v
	}
	return id
}

func (n *exportNames) userList(ids []string) string {
	return nameList(ids, n.user)
}

// nameList shows ids as their names, in a cell: 张三、李四.
func nameList(ids []string, name func(id string) string) string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = name(id)
	}
	return strings.Join(out, "、")
}

func (n *exportNames) unit(id string) string {
	if v := n.units[id]; v != "" {
		return v
	}
	return id
}

func (n *exportNames) unitList(ids []string) string {
	return nameList(ids, n.unit)
}

func (n *exportNames) counterparty(id string) string {
	if cp, ok := n.s.dir.Counterparty(id); ok {
		return cp.Name
	}
	return id
}

func (n *exportNames) counterpartyList(ids []string) string {
	return nameList(ids, n.counterparty)
}

func (n *exportNames) pairing(id string) string {
	if pr, ok := n.s.dir.Pairing(id); ok {
		return pr.Name
	}
	return id
}

// exportedRecord reads a record an export has listed; ok is false when it
// has been deleted since, and the export leaves its row out.
func (s *Server) exportedRecord(ctx context.Context, collection, id string) (r syncproto.Record, ok bool, err error) {
	r, _, err = s.getRecord(ctx, collection, id)
	if errors.Is(err, storage.ErrNotFound) {
		return syncproto.Record{}, false, nil
	}
	return r, err == nil, err
}

// zhLabel is the Chinese label of an enum value (the value itself when unknown).
func zhLabel(values []pairing.Choice, v string) string {
	if l := pairing.LabelOf(values, v); l.ZH != "" {
		return l.ZH
	}
	return v
}

// cnTime shows a time in China time (empty when zero).
func cnTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.In(china)
}

// dateCell shows a date-only field (2006-01-02, as records keep them) as a
// date cell, so that a spreadsheet sorts, filters and compares it as a
// date: empty when unset, the text as stored when it is not such a date.
func dateCell(s string) any {
	if s == "" {
		return nil
	}
	if d, ok := sheets.ParseDate(s); ok {
		return d
	}
	return s
}

// ratePercent is a rate as a percentage with one decimal; empty when there is
// nothing to divide by.
func ratePercent(r readmodel.Rate) any {
	if r.Den == 0 {
		return nil
	}
	return math.Round(r.Value*1000) / 10
}

func yesNo(b bool) string {
	if b {
		return "是"
	}
	return "否"
}

// exportColumns builds the header row.
func exportColumns(headers ...string) []sheets.Column {
	out := make([]sheets.Column, len(headers))
	for i, h := range headers {
		out[i] = sheets.Column{Header: h, Width: min(max(float64(len([]rune(h)))*2+4, 10), 30)}
	}
	return out
}

// exportPairings: GET /v1/exports/pairings — every pairing the filters
// keep, with its figures over the period's months (from= and to=; all
// months when not given).
func (s *Server) exportPairings(c *fiber.Ctx) error {
	format, err := exportFormat(c)
	if err != nil {
		return err
	}
	from, to, err := parsePeriod(c)
	if err != nil {
		return err
	}
	list, err := s.pairingFilter(c)
	if err != nil {
		return err
	}
	ctx := c.UserContext()
	if err := s.ledger.Refresh(ctx); err != nil {
		return err
	}
	var officers []string
	for _, pr := range list {
		officers = append(officers, pr.Officers...)
	}
	nm, err := s.exportNames(ctx, officers)
	if err != nil {
		return err
	}
	now := s.now()
	fromM, toM, period := readmodel.Month(0), readmodel.MonthOf(now.Add(48*time.Hour))+1, "全部"
	if !from.IsZero() {
		fromM = readmodel.MonthOf(from)
	}
	if !to.IsZero() {
		toM = readmodel.MonthOf(to.Add(-time.Nanosecond)) + 1
	}
	switch {
	case from.IsZero() && to.IsZero():
	case from.IsZero():
		period = "至 " + (toM - 1).String()
	case to.IsZero():
		period = fromM.String() + " 起"
	case fromM == toM-1:
		period = fromM.String()
	default:
		period = fromM.String() + " 至 " + (toM - 1).String()
	}
	pl := func(field string) string { return fieldLabel(pairing.CollPairings, field).ZH }
	header := exportColumns(pl("name"), pl("status"), pl("branches"), pl("counterparties"), pl("officers"), pl("starts_on"), pl("ends_on"),
		"统计期间", "走访次数", "走访覆盖率(%)", "诉求提出数", "诉求办结数", "响应率(%)", "解决率(%)", "满意率(%)", "超期诉求数",
		"完成项目数", "计划项目数")
	name := s.periodName(c)
	return s.streamExport(c, format, "结对-"+name, "pairings-"+name, func(ctx context.Context, w sheets.Writer) error {
		if err := w.Sheet("结对", header); err != nil {
			return err
		}
		figs := s.ledger.FiguresEach(pairingIDs(list), fromM, toM, now)
		for i, pr := range list {
			f := &figs[i]
			if err := w.Row(pr.Name, zhLabel(pairing.PairingStatuses, pr.Status), nm.unitList(pr.Branches), nm.counterpartyList(pr.Counterparties),
				nm.userList(pr.Officers), dateCell(pr.StartsOn), dateCell(pr.EndsOn), period, f.Visits, ratePercent(f.Coverage), f.IssuesRaised, f.IssuesClosed,
				ratePercent(f.ResponseRate), ratePercent(f.ResolutionRate), ratePercent(f.SatisfactionRate), f.Overdue.Total,
				f.ProjectsCompleted, f.ProjectsPlanned); err != nil {
				return err
			}
		}
		return nil
	})
}

// exportList opens an export of a list (visits, issues, projects): the
// format asked for and the list's filter, as the list's own route reads it.
func (s *Server) exportList(c *fiber.Ctx) (sheets.Format, []string, readmodel.Filter, error) {
	format, err := exportFormat(c)
	if err != nil {
		return "", nil, readmodel.Filter{}, err
	}
	ids, f, err := s.listFilter(c)
	return format, ids, f, err
}

// exportVisits: GET /v1/exports/visits — one row per visit, newest first.
func (s *Server) exportVisits(c *fiber.Ctx) error {
	format, ids, f, err := s.exportList(c)
	if err != nil {
		return err
	}
	ctx := c.UserContext()
	visits, err := s.ledger.Visits(ctx, ids, f)
	if err != nil {
		return err
	}
	var officers []string
	for _, v := range visits {
		officers = append(officers, v.Officers...)
	}
	nm, err := s.exportNames(ctx, officers)
	if err != nil {
		return err
	}
	vl := func(field string) string { return fieldLabel(pairing.CollVisits, field).ZH }
	header := exportColumns("结对", vl("counterparty"), vl("title"), vl("officers"), vl("mode"), vl("visited_at"), vl("received_at"),
		vl("location"), vl("participants"), vl("notes"), "照片数", vl("status"), vl("return_comment"))
	name := s.periodName(c)
	return s.streamExport(c, format, "走访记录-"+name, "visits-"+name, func(ctx context.Context, w sheets.Writer) error {
		if err := w.Sheet("走访记录", header); err != nil {
			return err
		}
		for _, v := range visits {
			// What the summary does not keep is read from the record, one
			// at a time.
			r, ok, err := s.exportedRecord(ctx, pairing.CollVisits, v.ID)
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			status := v.Status
			if status == "" {
				status = "submitted"
			}
			v.Fill(r)
			if err := w.Row(nm.pairing(v.Pairing), nm.counterparty(v.Counterparty), v.Title, nm.userList(v.Officers),
				zhLabel(pairing.VisitModes, v.Mode), cnTime(v.VisitedAt), cnTime(v.ReceivedAt), visitLocation(r.Value("location")),
				visitParticipants(r.Value("participants")), pairing.Str(r, "notes"), len(v.Photos),
				zhLabel(pairing.VisitStatuses, status), v.ReturnComment); err != nil {
				return err
			}
		}
		return nil
	})
}

// visitLocation shows a location field: "31.230416, 121.473701 (±15 m)".
func visitLocation(raw json.RawMessage) string {
	var l struct {
		Lat, Lng *float64
		Accuracy *float64 `json:"accuracy_m"`
	}
	if json.Unmarshal(raw, &l) != nil || l.Lat == nil || l.Lng == nil {
		return ""
	}
	s := fmt.Sprintf("%.6f, %.6f", *l.Lat, *l.Lng)
	if l.Accuracy != nil {
		s += fmt.Sprintf(" (±%.0f m)", *l.Accuracy)
	}
	return s
}

// visitParticipants shows a participants field: 张三（总经理，某公司）、李四.
func visitParticipants(raw json.RawMessage) string {
	var list []struct{ Name, Title, Org string }
	if json.Unmarshal(raw, &list) != nil {
		return ""
	}
	out := make([]string, 0, len(list))
	for _, p := range list {
		var extra []string
		for _, s := range []string{p.Title, p.Org} {
			if s != "" {
				extra = append(extra, s)
			}
		}
		if len(extra) > 0 {
			out = append(out, p.Name+"（"+strings.Join(extra, "，")+"）")
		} else {
			out = append(out, p.Name)
		}
	}
	return strings.Join(out, "、")
}

// issueStatusNames are the derived issue statuses in Chinese. (The schema
// labels event types, not statuses.)
var issueStatusNames = map[pairing.IssueStatus]string{
	"":                             "待同步",
	pairing.IssueRaised:            "已提出",
	pairing.IssueAccepted:          "已受理",
	pairing.IssueNotAccepted:       "不予受理",
	pairing.IssueDispatched:        "已交办",
	pairing.IssueSigned:            "已签收",
	pairing.IssueBounced:           "已退回",
	pairing.IssueArbitration:       "待管理员裁定",
	pairing.IssueResponded:         "已答复",
	pairing.IssueDisputed:          "有异议",
	pairing.IssueReopened:          "重新办理",
	pairing.IssueClosed:            "已办结",
	pairing.IssueClosedUnconfirmed: "逾期未确认办结",
}

// exportIssues: GET /v1/exports/issues — one row per issue with its derived
// state, in the order of the issue list (overdue first).
func (s *Server) exportIssues(c *fiber.Ctx) error {
	format, ids, f, err := s.exportList(c)
	if err != nil {
		return err
	}
	ctx := c.UserContext()
	issues := s.ledger.Issues(ids, f)
	var handlers []string
	for _, is := range issues {
		if is.State.HandlerName == "" {
			handlers = append(handlers, is.State.Handler)
		}
	}
	nm, err := s.exportNames(ctx, handlers)
	if err != nil {
		return err
	}
	now := s.now()
	il := func(field string) string { return fieldLabel(pairing.CollIssues, field).ZH }
	el := func(field string) string { return fieldLabel(pairing.CollIssueEvents, field).ZH }
	header := exportColumns("结对", il("counterparty"), il("title"), il("category"), il("priority"), "状态", il("raised_at"), "交办时间",
		el("handler"), el("due"), "按时签收", "答复时间", el("resolution"), "办结时间", "退回次数", "重新办理次数", "是否超期")
	name := s.periodName(c)
	return s.streamExport(c, format, "诉求-"+name, "issues-"+name, func(ctx context.Context, w sheets.Writer) error {
		if err := w.Sheet("诉求", header); err != nil {
			return err
		}
		for _, is := range issues {
			st := is.State
			handler := st.HandlerName
			if handler == "" && st.Handler != "" {
				handler = nm.user(st.Handler)
			}
			signedInTime := "" // not signed (yet)
			if !st.SignedAt.IsZero() {
				signedInTime = yesNo(st.SignedInTime)
			}
			status := issueStatusNames[st.Status]
			if status == "" {
				status = string(st.Status)
			}
			priority := is.Priority
			if priority == "" {
				priority = "normal"
			}
			if err := w.Row(nm.pairing(is.Pairing), nm.counterparty(is.Counterparty), is.Title, zhLabel(pairing.IssueCategories, is.Category),
				zhLabel(pairing.IssuePriorities, priority), status, cnTime(is.RaisedAt), cnTime(st.DispatchedAt), handler, cnTime(st.Due),
				signedInTime, cnTime(st.RespondedAt), zhLabel(pairing.Resolutions, st.Resolution), cnTime(st.ClosedAt), st.Bounces, st.Reopens,
				yesNo(st.OverdueAt(now))); err != nil {
				return err
			}
		}
		return nil
	})
}

// exportProjects: GET /v1/exports/projects — one row per practical project,
// by pairing: which pairings have completed which projects.
func (s *Server) exportProjects(c *fiber.Ctx) error {
	format, ids, f, err := s.exportList(c)
	if err != nil {
		return err
	}
	ctx := c.UserContext()
	projects := s.ledger.Projects(ids, f)
	owners := make([]string, len(projects))
	for i, p := range projects {
		owners[i] = p.Owner
	}
	nm, err := s.exportNames(ctx, owners)
	if err != nil {
		return err
	}
	pl := func(field string) string { return fieldLabel(pairing.CollProjects, field).ZH }
	header := exportColumns("结对", "共建单位", pl("title"), pl("category"), pl("status"), pl("owner"), pl("planned_end"), pl("completed_at"),
		pl("verified_at"), "已完成节点数", "节点总数")
	name := s.periodName(c)
	return s.streamExport(c, format, "实事项目-"+name, "projects-"+name, func(ctx context.Context, w sheets.Writer) error {
		if err := w.Sheet("实事项目", header); err != nil {
			return err
		}
		for _, p := range projects {
			done := 0
			for _, m := range p.Milestones {
				if !m.DoneAt.IsZero() {
					done++
				}
			}
			var cps []string
			if pr, ok := s.dir.Pairing(p.Pairing); ok {
				cps = pr.Counterparties
			}
			owner := ""
			if p.Owner != "" {
				owner = nm.user(p.Owner)
			}
			if err := w.Row(nm.pairing(p.Pairing), nm.counterpartyList(cps), p.Title, zhLabel(pairing.ProjectCategories, p.Category),
				zhLabel(pairing.ProjectStatuses, p.Status), owner, dateCell(p.PlannedEnd), cnTime(p.CompletedAt), cnTime(p.VerifiedAt),
				done, len(p.Milestones)); err != nil {
				return err
			}
		}
		return nil
	})
}

// exportCounterparties: GET /v1/exports/counterparties — the counterparty
// list itself (共建单位), with the list's filters (?search=&kind=&org_unit=),
// by name. The sheet and its first columns are those of the import
// template's 共建单位 sheet, so an export can be edited and imported
// elsewhere; 所在结对 names the pairings the caller sees it in.
func (s *Server) exportCounterparties(c *fiber.Ctx) error {
	format, err := exportFormat(c)
	if err != nil {
		return err
	}
	list, err := s.counterpartiesMatching(c, "")
	if err != nil {
		return err
	}
	slices.SortStableFunc(list, func(a, b pairing.Counterparty) int { return strings.Compare(a.Name, b.Name) })
	ctx := c.UserContext()
	nm, err := s.exportNames(ctx, nil)
	if err != nil {
		return err
	}
	in := map[string][]string{} // counterparty → names of the pairings the caller sees it in
	for _, pr := range s.dir.Visible(principal(c)) {
		for _, id := range pr.Counterparties {
			in[id] = append(in[id], pr.Name)
		}
	}
	header := make([]string, 0, len(counterpartySchema.Columns)+1)
	for _, col := range counterpartySchema.Columns {
		header = append(header, col.Headers[0])
	}
	header = append(header, "所在结对")
	name := s.now().In(china).Format(time.DateOnly)
	return s.streamExport(c, format, "共建单位-"+name, "counterparties-"+name, func(ctx context.Context, w sheets.Writer) error {
		if err := w.Sheet(sheetCounterparties, exportColumns(header...)); err != nil {
			return err
		}
		for _, cp := range list {
			// Contacts and note are not in the directory: read the record.
			r, ok, err := s.exportedRecord(ctx, pairing.CollCounterparties, cp.ID)
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			unit := nm.unit(cp.OrgUnit)
			names := in[cp.ID]
			slices.Sort(names)
			if err := w.Row(zhLabel(pairing.CounterpartyKinds, cp.Kind), cp.Name, cp.CreditCode, unit, cp.Address, cp.Industry,
				counterpartyContacts(r.Value("contacts")), pairing.Str(r, "note"), strings.Join(names, "、")); err != nil {
				return err
			}
		}
		return nil
	})
}

// counterpartyContacts shows a counterparty's contacts as the import reads
// them: 张三（总经理）、李四.
func counterpartyContacts(raw json.RawMessage) string {
	var list []struct{ Name, Title string }
	if json.Unmarshal(raw, &list) != nil {
		return ""
	}
	out := make([]string, 0, len(list))
	for _, p := range list {
		if p.Title != "" {
			out = append(out, p.Name+"（"+p.Title+"）")
		} else {
			out = append(out, p.Name)
		}
	}
	return strings.Join(out, "、")
}
