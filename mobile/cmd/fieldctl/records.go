package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"

	"github.com/pairsync/pairsync/mobile"
	"github.com/pairsync/pairsync/syncproto"
)

// The enumerations a command checks before writing offline, as GET
// /v1/schema publishes them; the server has the last word (a change it
// refuses shows in fieldctl rejected).
var (
	visitModes      = []string{"onsite", "phone", "online", "joint_activity"}
	issueCategories = []string{"policy", "tax", "financing", "technology", "market", "talent", "land", "approval", "livelihood", "other"}
	resolutions     = []string{"solved", "partly", "explained", "cannot"}
	eventTypes      = []string{"accepted", "not_accepted", "dispatched", "signed", "bounced", "responded", "confirmed", "disputed", "reopened", "closed"}
)

const (
	directoryScope = "_directory"
	collPairings   = "pairings"
)

func cmdLogin(c *cli, args []string) error {
	fs := c.flags("login", "-server URL -user NAME", "Sign in (online) and register this device with the server; the device session is kept in the\ndata directory, so later commands need no password. Signing in again keeps the device and its data.")
	device := fs.String("device", "", "a name for this device, shown to administrators (default: fieldctl on HOST)")
	if err := c.parse(fs, args); err != nil {
		return err
	}
	if c.g.user == "" {
		return usagef("name the user (-user or %s)", envUser)
	}
	pw, err := c.password()
	if err != nil {
		return err
	}
	e, err := c.open(mobile.Config{})
	if err != nil {
		return err
	}
	defer e.Close()
	server := c.g.server
	if server == "" {
		server = e.Account().Server
	}
	if server == "" {
		return usagef("name the server (-server URL or %s)", envServer)
	}
	name := *device
	if name == "" {
		host, _ := os.Hostname()
		name = "fieldctl on " + host
	}
	if err := e.SignIn(c.ctx, server, c.g.user, pw, name); err != nil {
		return err
	}
	a := e.Account()
	fmt.Fprintf(c.stdout, "signed in to %s as %s (%s%s); device %s\n", a.Server, a.Username, a.Role, nameSuffix(a.Name), a.DeviceID)
	fmt.Fprintf(c.stdout, "data in %s; next: fieldctl sync\n", c.g.data)
	return nil
}

func nameSuffix(name string) string {
	if name == "" {
		return ""
	}
	return ", " + name
}

func cmdPairings(c *cli, args []string) error {
	e, err := c.openNoFlags("pairings", "List the pairings (结对) this device has synced, with their local counts and the changes\nwaiting to be pushed. Works offline.", args)
	if err != nil {
		return err
	}
	defer e.Close()
	prs, err := e.List(directoryScope, collPairings)
	if err != nil {
		return err
	}
	if len(prs) == 0 {
		fmt.Fprintln(c.stdout, "no pairings synced yet: run fieldctl sync")
		return nil
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PAIRING\tNAME\tSTATUS\tCOUNTERPARTIES\tVISITS\tISSUES\tPENDING")
	for _, r := range prs {
		visits, _ := e.List(r.ID, "visits")
		issues, _ := e.List(r.ID, "issues")
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%d\n", r.ID, str(r, "name"), str(r, "status"),
			strings.Join(strs(r, "counterparties"), ","), len(visits), len(issues), e.PendingIn(r.ID))
	}
	return tw.Flush()
}

// str reads a string field of a record ("" if absent or not a string).
func str(r syncproto.Record, field string) string {
	var s string
	_ = json.Unmarshal(r.Value(field), &s)
	return s
}

func strs(r syncproto.Record, field string) []string {
	var s []string
	_ = json.Unmarshal(r.Value(field), &s)
	return s
}

func newID() string { return uuid.Must(uuid.NewV7()).String() }

// parseTime reads a time flag: RFC 3339, or a local "2006-01-02 15:04"
// or "2006-01-02"; "" is now.
func parseTime(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return now, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	for _, layout := range []string{"2006-01-02 15:04", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.Local); err == nil {
			return t, nil
		}
	}
	return time.Time{}, usagef("cannot read the time %q: want RFC 3339 or \"2006-01-02 15:04\"", s)
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func fieldsOf(m map[string]any) (map[string]json.RawMessage, error) {
	out := make(map[string]json.RawMessage, len(m))
	for k, v := range m {
		b, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("field %s: %w", k, err)
		}
		out[k] = b
	}
	return out, nil
}

// writer is what the record commands need: the engine and the signed-in
// user, whose id and role the records carry.
type writer struct {
	e   *mobile.Engine
	acc mobile.Account
	now time.Time
}

func (c *cli) writer() (*writer, error) {
	e, err := c.openSignedIn(mobile.Config{})
	if err != nil {
		return nil, err
	}
	return &writer{e: e, acc: e.Account(), now: time.Now()}, nil
}

// seen reads what a visit and an issue both take from the command line:
// when (-at, default now), the counterparty in pairing id (-counterparty,
// default the pairing's only one), and the manifest of the photo files
// (w.photos).
func (w *writer) seen(at, id, cp string, files []string) (time.Time, string, []mobile.Photo, error) {
	when, err := parseTime(at, w.now)
	if err != nil {
		return time.Time{}, "", nil, err
	}
	counterparty, err := w.counterpartyIn(id, cp)
	if err != nil {
		return time.Time{}, "", nil, err
	}
	manifest, err := w.photos(files)
	return when, counterparty, manifest, err
}

// counterpartyIn checks that pairing id is synced to this device and
// returns the counterparty a record in it names: cp, or when cp is empty
// the pairing's only counterparty (none when it has several).
func (w *writer) counterpartyIn(id, cp string) (string, error) {
	if id == "" {
		return "", usagef("name the pairing (-pairing; see fieldctl pairings)")
	}
	r, ok := w.e.Get(collPairings, id)
	if !ok || r.Pairing != directoryScope {
		return "", fmt.Errorf("pairing %s is not on this device: run fieldctl sync, or see fieldctl pairings", id)
	}
	if cps := strs(r, "counterparties"); cp == "" && len(cps) == 1 {
		return cps[0], nil
	}
	return cp, nil
}

// photos adds photo files to the queue and returns their manifest.
func (w *writer) photos(files []string) ([]mobile.Photo, error) {
	var out []mobile.Photo
	for _, f := range files {
		p, err := w.e.AddPhotoFile(f, "")
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

func (w *writer) set(coll, id, pairing string, fields map[string]any) error {
	fv, err := fieldsOf(fields)
	if err != nil {
		return err
	}
	return w.e.Set(coll, id, pairing, fv)
}

// issueFields are the fields of a new issue (诉求) raised by the user.
func (w *writer) issueFields(title, category string, at time.Time) map[string]any {
	return map[string]any{"title": title, "category": category, "raised_by": w.acc.UserID, "raised_at": stamp(at)}
}

func cmdVisit(c *cli, args []string) error {
	fs := c.flags("visit", "-pairing ID [-mode onsite] [-notes TEXT] [-at TIME] [-lat N -lng N -accuracy M] [-photo FILE …] [-issue \"TITLE:CATEGORY\" …]",
		"Record a visit (走访) to a pairing's counterparty, offline: you are its officer, its time is -at (default\nnow). Photos are kept until the server has them; issues raised in the visit are created with it.\nfieldctl sync sends everything.")
	pid := fs.String("pairing", "", "the pairing visited (required)")
	mode := fs.String("mode", "onsite", "how: "+strings.Join(visitModes, ", "))
	title := fs.String("title", "", "the visit's topic (主题)")
	notes := fs.String("notes", "", "what was seen and said (走访记录)")
	at := fs.String("at", "", "when it took place: RFC 3339 or \"2006-01-02 15:04\" (default now)")
	lat := fs.Float64("lat", 0, "latitude of the place (with -lng)")
	lng := fs.Float64("lng", 0, "longitude of the place (with -lat)")
	acc := fs.Float64("accuracy", 0, "accuracy of the location, metres")
	cp := fs.String("counterparty", "", "the counterparty visited (default: the pairing's, when it has exactly one)")
	id := fs.String("id", "", "the visit's id (default: a new UUIDv7)")
	var photos, issues multi
	fs.Var(&photos, "photo", "a photo file (JPEG or PNG) to attach; repeat for more")
	fs.Var(&issues, "issue", "an issue raised in the visit, \"title:category\"; repeat for more (categories: "+strings.Join(issueCategories, ", ")+")")
	if err := c.parse(fs, args); err != nil {
		return err
	}
	set := setFlags(fs)
	if !slices.Contains(visitModes, *mode) {
		return usagef("-mode %q: want one of %s", *mode, strings.Join(visitModes, ", "))
	}
	if set["lat"] != set["lng"] {
		return usagef("give both -lat and -lng")
	}
	type raised struct{ title, category string }
	var rs []raised
	for _, is := range issues {
		t, cat, ok := strings.Cut(is, ":")
		t, cat = strings.TrimSpace(t), strings.TrimSpace(cat)
		if !ok || t == "" || !slices.Contains(issueCategories, cat) {
			return usagef("-issue %q: want \"title:category\", category one of %s", is, strings.Join(issueCategories, ", "))
		}
		rs = append(rs, raised{t, cat})
	}
	w, err := c.writer()
	if err != nil {
		return err
	}
	defer w.e.Close()
	when, counterparty, manifest, err := w.seen(*at, *pid, *cp, photos)
	if err != nil {
		return err
	}
	vid := *id
	if vid == "" {
		vid = newID()
	}
	var issueIDs []string
	for _, r := range rs {
		iid := newID()
		f := w.issueFields(r.title, r.category, when)
		f["visit"] = vid
		if counterparty != "" {
			f["counterparty"] = counterparty
		}
		if err := w.set("issues", iid, *pid, f); err != nil {
			return err
		}
		issueIDs = append(issueIDs, iid)
	}
	f := map[string]any{"officers": []string{w.acc.UserID}, "mode": *mode, "visited_at": stamp(when), "recorded_at": stamp(w.now), "status": "submitted"}
	if *title != "" {
		f["title"] = *title
	}
	if *notes != "" {
		f["notes"] = *notes
	}
	if counterparty != "" {
		f["counterparty"] = counterparty
	}
	if set["lat"] {
		loc := map[string]float64{"lat": *lat, "lng": *lng}
		if set["accuracy"] {
			loc["accuracy_m"] = *acc
		}
		f["location"] = loc
	}
	if len(manifest) > 0 {
		f["photos"] = manifest
	}
	if len(issueIDs) > 0 {
		f["issues"] = issueIDs
	}
	if err := w.set("visits", vid, *pid, f); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "visit %s saved in %s (%d photos, %d issues)\n", vid, *pid, len(manifest), len(issueIDs))
	for i, iid := range issueIDs {
		fmt.Fprintf(c.stdout, "issue %s: %s\n", iid, rs[i].title)
	}
	fmt.Fprintf(c.stdout, "%d changes pending: fieldctl sync sends them\n", w.e.Pending())
	return nil
}

// setFlags returns the flags given on the command line.
func setFlags(fs *flag.FlagSet) map[string]bool {
	out := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { out[f.Name] = true })
	return out
}

func cmdIssue(c *cli, args []string) error {
	fs := c.flags("issue", "-pairing ID -title TEXT -category CATEGORY [-description TEXT] [-priority urgent] [-photo FILE …]",
		"Raise an issue (诉求) in a pairing, offline; you are who raised it. fieldctl sync sends it.")
	pid := fs.String("pairing", "", "the pairing (required)")
	title := fs.String("title", "", "the issue's title (required)")
	cat := fs.String("category", "other", "one of "+strings.Join(issueCategories, ", "))
	desc := fs.String("description", "", "what is asked for (诉求内容)")
	prio := fs.String("priority", "", "normal or urgent")
	cp := fs.String("counterparty", "", "the counterparty raising it (default: the pairing's, when it has exactly one)")
	visit := fs.String("visit", "", "the visit it came from")
	at := fs.String("at", "", "when it was raised (default now)")
	id := fs.String("id", "", "the issue's id (default: a new UUIDv7)")
	var photos multi
	fs.Var(&photos, "photo", "a photo file to attach; repeat for more")
	if err := c.parse(fs, args); err != nil {
		return err
	}
	if strings.TrimSpace(*title) == "" {
		return usagef("give the issue a -title")
	}
	if !slices.Contains(issueCategories, *cat) {
		return usagef("-category %q: want one of %s", *cat, strings.Join(issueCategories, ", "))
	}
	if *prio != "" && *prio != "normal" && *prio != "urgent" {
		return usagef("-priority %q: want normal or urgent", *prio)
	}
	w, err := c.writer()
	if err != nil {
		return err
	}
	defer w.e.Close()
	when, counterparty, manifest, err := w.seen(*at, *pid, *cp, photos)
	if err != nil {
		return err
	}
	f := w.issueFields(*title, *cat, when)
	for k, v := range map[string]string{"description": *desc, "priority": *prio, "counterparty": counterparty, "visit": *visit} {
		if v != "" {
			f[k] = v
		}
	}
	if len(manifest) > 0 {
		f["photos"] = manifest
	}
	iid := *id
	if iid == "" {
		iid = newID()
	}
	if err := w.set("issues", iid, *pid, f); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "issue %s raised in %s; %d changes pending\n", iid, *pid, w.e.Pending())
	return nil
}

func cmdEvent(c *cli, args []string) error {
	fs := c.flags("event", "-issue ID -type TYPE [-resolution solved] [-reason TEXT] [-note TEXT] [-evidence FILE …]",
		"Append an event to an issue's log (诉求办理记录), offline: accepted, not_accepted, signed, bounced,\nresponded (with -resolution), reopened… The issue must be on this device (synced or raised here).")
	issue := fs.String("issue", "", "the issue (required)")
	typ := fs.String("type", "", "the event: "+strings.Join(eventTypes, ", ")+" (required)")
	res := fs.String("resolution", "", "for responded: "+strings.Join(resolutions, ", "))
	reason := fs.String("reason", "", "why (not_accepted, bounced, disputed, reopened need one)")
	note := fs.String("note", "", "a note (说明)")
	handler := fs.String("handler", "", "for dispatched: the handler's user id")
	response := fs.String("response", "", "for confirmed/disputed: the responded event answered")
	code := fs.String("code", "", "the contact's confirmation code (an officer recording the contact's answer)")
	at := fs.String("at", "", "when it happened (default now)")
	id := fs.String("id", "", "the event's id (default: a new UUIDv7)")
	var evidence multi
	fs.Var(&evidence, "evidence", "a photo file as evidence; repeat for more")
	if err := c.parse(fs, args); err != nil {
		return err
	}
	if *issue == "" || *typ == "" {
		return usagef("give -issue and -type")
	}
	if !slices.Contains(eventTypes, *typ) {
		return usagef("-type %q: want one of %s", *typ, strings.Join(eventTypes, ", "))
	}
	if *res != "" && !slices.Contains(resolutions, *res) {
		return usagef("-resolution %q: want one of %s", *res, strings.Join(resolutions, ", "))
	}
	if *typ == "responded" && *res == "" {
		return usagef("a responded event needs -resolution (%s)", strings.Join(resolutions, ", "))
	}
	w, err := c.writer()
	if err != nil {
		return err
	}
	defer w.e.Close()
	when, err := parseTime(*at, w.now)
	if err != nil {
		return err
	}
	ir, ok := w.e.Get("issues", *issue)
	if !ok || ir.Deleted() {
		return fmt.Errorf("issue %s is not on this device: run fieldctl sync", *issue)
	}
	photos, err := w.photos(evidence)
	if err != nil {
		return err
	}
	f := map[string]any{"issue": *issue, "type": *typ, "at": stamp(when), "by": w.acc.UserID, "role": w.acc.Role}
	for k, v := range map[string]string{"resolution": *res, "reason": *reason, "note": *note, "handler": *handler, "response": *response, "code": *code} {
		if v != "" {
			f[k] = v
		}
	}
	if len(photos) > 0 {
		sums := make([]string, len(photos))
		for i, p := range photos {
			sums[i] = p.SHA256
		}
		f["evidence"] = sums
	}
	eid := *id
	if eid == "" {
		eid = newID()
	}
	if err := w.set("issue_events", eid, ir.Pairing, f); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "event %s (%s) appended to issue %s; %d changes pending\n", eid, *typ, *issue, w.e.Pending())
	return nil
}

// setRecord is one record of fieldctl set -file.
type setRecord struct {
	Collection string                     `json:"collection"`
	ID         string                     `json:"id"`
	Pairing    string                     `json:"pairing"`
	Fields     map[string]json.RawMessage `json:"fields"`
}

func cmdSet(c *cli, args []string) error {
	fs := c.flags("set", "-collection C -id ID -pairing P -json '{\"field\": value}'  |  -file records.json",
		"Set fields of any record, offline: one record from -json, or every record of -file, a JSON array of\n{\"collection\",\"id\",\"pairing\",\"fields\"}. null clears a field. The server checks them against its schema\n(GET /v1/schema) when they are pushed.")
	coll := fs.String("collection", "", "the record's collection (visits, issues, issue_events, projects, milestones, ratings, comments)")
	id := fs.String("id", "", "the record's id (default with -json: a new UUIDv7)")
	pid := fs.String("pairing", "", "the record's pairing (may be omitted for an existing record)")
	js := fs.String("json", "", "the fields, as a JSON object")
	file := fs.String("file", "", "a JSON file: an array of {collection, id, pairing, fields}")
	if err := c.parse(fs, args); err != nil {
		return err
	}
	var recs []setRecord
	switch {
	case *js != "" && *file != "":
		return usagef("give -json or -file, not both")
	case *js != "":
		if *coll == "" {
			return usagef("-json needs -collection")
		}
		var f map[string]json.RawMessage
		if err := json.Unmarshal([]byte(*js), &f); err != nil {
			return usagef("-json: %v", err)
		}
		recs = []setRecord{{Collection: *coll, ID: *id, Pairing: *pid, Fields: f}}
	case *file != "":
		b, err := os.ReadFile(*file)
		if err != nil {
			return err
		}
		if err := json.Unmarshal(b, &recs); err != nil {
			return fmt.Errorf("%s: want a JSON array of {collection, id, pairing, fields}: %w", *file, err)
		}
	default:
		return usagef("give -json or -file")
	}
	w, err := c.writer()
	if err != nil {
		return err
	}
	defer w.e.Close()
	for i, r := range recs {
		if r.Collection == "" || len(r.Fields) == 0 {
			return fmt.Errorf("record %d: needs a collection and fields", i)
		}
		if r.ID == "" {
			if *file != "" {
				return fmt.Errorf("record %d: needs an id", i)
			}
			r.ID = newID()
		}
		if err := w.e.Set(r.Collection, r.ID, r.Pairing, r.Fields); err != nil {
			if errors.Is(err, mobile.ErrNotFound) {
				return fmt.Errorf("record %d (%s/%s): %w", i, r.Collection, r.ID, err)
			}
			return err
		}
		fmt.Fprintf(c.stdout, "set %s/%s\n", r.Collection, r.ID)
	}
	fmt.Fprintf(c.stdout, "%d changes pending: fieldctl sync sends them\n", w.e.Pending())
	return nil
}
