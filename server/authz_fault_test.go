package server

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/pairsync/pairsync/server/pairing"
	"github.com/pairsync/pairsync/storage"
	"github.com/pairsync/pairsync/syncproto"
)

// scopeFixture is one pairing's objects, of every kind a route names.
type scopeFixture struct {
	unit string
	ids  map[string]string // route kind ("visits") → id
}

// authzFixture makes pairings p1 (unit A) and p2 (unit B), and in each a
// device, a visit, an issue and a project citing a stored photo.
func authzFixture(t *testing.T, e *idEnv) map[string]*scopeFixture {
	t.Helper()
	pairingsFixture(t, e)
	out := map[string]*scopeFixture{}
	for _, sc := range []struct{ key, pid, unit, officer, cp string }{{"A", "p1", "unitA", "officerA", "cp-A"}, {"B", "p2", "unitB", "officerB", "cp-B"}} {
		var reg registeredDevice
		e.call("POST", "/v1/devices", e.login(sc.officer).AccessToken, map[string]string{"name": sc.officer + " 的手机"}).json(t, &reg)
		photo := []byte("照片 of " + sc.pid)
		sum := fmt.Sprintf("%x", sha256.Sum256(photo))
		if _, err := e.s.photos.PutPhoto(t.Context(), sum, int64(len(photo)), bytes.NewReader(photo)); err != nil {
			t.Fatal(err)
		}
		if err := e.s.writeReceipt(t.Context(), pairing.PhotoReceipt{SHA256: sum, Stored: true, Size: int64(len(photo))}); err != nil {
			t.Fatal(err)
		}
		grantPhotoForTest(t, e, sc.pid, sum) // as the upload of the pairing's officer would
		for _, coll := range []string{"visits", "issues", "projects"} {
			vals, _ := jsonValues(map[string]any{"title": "记录 " + sc.pid, "photos": []map[string]any{{"sha256": sum, "size": len(photo), "type": "image/jpeg"}}})
			if _, _, err := e.s.writeRecord(t.Context(), coll, coll[:1]+"-"+sc.pid, sc.pid, vals); err != nil {
				t.Fatal(err)
			}
		}
		note := storage.Notification{ID: "n-" + sc.pid, Channel: "webhook", Recipient: "u-" + sc.officer, Pairing: sc.pid,
			OrgPaths: []string{e.units[sc.key].Path}, CreatedAt: e.now()}
		// An in-app message of the pairing's officer (/v1/me/messages/:id).
		msg := storage.Notification{ID: "m-" + sc.pid, Channel: "inapp", Recipient: "u-" + sc.officer, Pairing: sc.pid,
			OrgPaths: []string{e.units[sc.key].Path}, CreatedAt: e.now()}
		if _, err := e.s.store.Commit(t.Context(), storage.Batch{Notifications: []storage.Notification{note, msg}}); err != nil {
			t.Fatal(err)
		}
		out[sc.key] = &scopeFixture{unit: sc.unit, ids: map[string]string{
			"users": "u-" + sc.officer, "devices": reg.Device.ID, "org-units": sc.unit, "counterparties": sc.cp,
			"pairings": sc.pid, "visits": "v-" + sc.pid, "issues": "i-" + sc.pid, "projects": "p-" + sc.pid, "photos": sum,
			"notifications": note.ID, "me": msg.ID}}
	}
	return out
}

// matrixUsers are the users of the matrix: every role in A and in B, and
// the root administrator (who sees both: the control).
var matrixUsers = []string{"root", "adminA", "viewerA", "officerA", "contactA", "adminB", "viewerB", "officerB", "contactB"}

func scopeOf(user string) string {
	if user == "root" {
		return ""
	}
	return user[len(user)-1:]
}

// TestAuthorizationMatrix (SECURITY.md 4), on bolt and MongoDB:
// every route with an id, for every user of the two subtrees, on the
// objects of both pairings. A user of one subtree never succeeds on an
// object of the other pairing (404, the same as an unknown id); the root
// administrator reads both. Every list, report and export route, read by
// every user, never mentions an object of the other pairing, never holds
// a secret, shows phone numbers only to administrators, visits never to
// contacts. A push into the other pairing is rejected out_of_scope and a
// pull never returns its records.
func TestAuthorizationMatrix(t *testing.T) {
	for _, ad := range adapters() {
		t.Run(ad.name, func(t *testing.T) {
			e := newFaultEnv(t, Config{}, ad.open(t), true)
			fx := authzFixture(t, e)
			tokens := map[string]string{}
			for _, u := range matrixUsers {
				tokens[u] = e.login(u).AccessToken
			}
			bodies := map[string]any{"PATCH": map[string]any{"fields": map[string]any{"name": "改名"}}, "POST": map[string]any{}, "PUT": []byte("x")}

			fields := newFieldSeen()
			// 1. Routes with an id × users × the two pairings' objects.
			calls, crossOK, crossNot404, sameOK := 0, 0, 0, 0
			var rows []string
			for _, rt := range e.s.routes {
				if !strings.Contains(rt.Path, ":id") {
					continue
				}
				kind := strings.Split(rt.Path, "/")[2]
				for _, scope := range []string{"A", "B"} {
					id, ok := fx[scope].ids[kind]
					if !ok {
						t.Fatalf("no fixture for %s %s", rt.Method, rt.Path)
					}
					path := strings.Replace(strings.Replace(rt.Path, ":id", id, 1), ":n", "1", 1)
					row := fmt.Sprintf("%-6s %-36s %s:", rt.Method, rt.Path, scope)
					for _, u := range matrixUsers {
						same := scopeOf(u) == "" || scopeOf(u) == scope
						if same && rt.Method != "GET" {
							continue // changes by those allowed to make them are other tests' subject
						}
						r := e.call(rt.Method, path, tokens[u], bodies[rt.Method])
						calls++
						ok := r.status >= 200 && r.status < 300
						switch {
						case !same && ok:
							crossOK++
							t.Errorf("%s %s as %s (subtree %s) on pairing %s's object: got %d %.200s, want 404", rt.Method, path, u, scopeOf(u), scope, r.status, r.body)
						case !same && r.status != 404:
							crossNot404++
							t.Errorf("%s %s as %s on the other pairing's object: got %d %.200s, want 404 (as for an unknown id)", rt.Method, path, u, r.status, r.body)
						case same && ok:
							sameOK++
							if rt.Method == "GET" {
								fields.add(u, rt.Path, r.body)
							}
						case same && r.status >= 500:
							t.Errorf("%s %s as %s: got %d %s", rt.Method, path, u, r.status, r.body)
						}
						if u == "root" && rt.Method == "GET" && r.status != 200 && r.status != 403 {
							t.Errorf("control: %s as root: got %d %.200s, want 200 (or 403 from the handler)", path, r.status, r.body)
						}
						row += fmt.Sprintf(" %s:%d", u, r.status)
					}
					rows = append(rows, row)
				}
			}

			// 2. Routes without an id (reads): nothing of the other pairing.
			leaks, reads := 0, 0
			for _, rt := range e.s.routes {
				if rt.Method != "GET" || !rt.Auth || strings.Contains(rt.Path, ":") || strings.Contains(rt.Path, "template") || strings.HasPrefix(rt.Path, "/v1/sync") {
					continue
				}
				path := rt.Path
				if strings.HasPrefix(path, "/v1/exports/") {
					path += "?format=csv"
				}
				for _, u := range matrixUsers {
					r := e.call("GET", path, tokens[u], nil)
					reads++
					if r.status >= 500 {
						t.Errorf("GET %s as %s: %d %s", path, u, r.status, r.body)
					}
					body := string(r.body)
					keys := jsonKeys(r.body)
					if r.status == 200 {
						fields.add(u, rt.Path, r.body)
					}
					for _, k := range []string{"password", "password_hash", "token", "token_hash", "refresh_token_hash", "secret", "private", "private_key"} {
						if keys[k] {
							leaks++
							t.Errorf("GET %s as %s: the answer holds %q", path, u, k)
						}
					}
					role := strings.TrimRight(u, "AB")
					if (keys["phone"] || strings.Contains(body, "1380000000")) && role != "admin" && role != "root" && path != "/v1/me" {
						leaks++
						t.Errorf("GET %s as %s: a phone number: %.300s", path, u, body)
					}
					if role == "contact" && strings.Contains(body, "v-p") {
						leaks++
						t.Errorf("GET %s as a contact: mentions a visit: %.300s", path, body)
					}
					// (The audit log names what the caller's own users were
					// refused, the ids they asked for: not a leak, skipped.)
					if s := scopeOf(u); s != "" && path != "/v1/audit" {
						other := map[string]string{"A": "B", "B": "A"}[s]
						for kind, id := range fx[other].ids {
							if kind == "users" || kind == "org-units" {
								continue // the units above and beside are named in org trees and audit lines
							}
							if strings.Contains(body, id) {
								leaks++
								t.Errorf("GET %s as %s: mentions %s %s of the other pairing: %.300s", path, u, kind, id, body)
							}
						}
					}
				}
			}

			// 3. Creating in the other subtree or pairing.
			creates, createOK := 0, 0
			for _, u := range append(matrixUsers[1:], "root") {
				other := map[string]string{"A": "B", "B": "A", "": "B"}[scopeOf(u)]
				ofx := fx[other]
				for _, c := range []struct {
					path string
					body any
				}{
					{"/v1/users", map[string]any{"username": "new-" + u, "name": "新用户", "role": "officer", "org_unit": ofx.unit}},
					{"/v1/org-units", map[string]any{"parent_id": ofx.unit, "name": "新支部 " + u, "kind": "branch"}},
					{"/v1/counterparties", map[string]any{"fields": map[string]any{"kind": "community", "name": "新社区 " + u, "org_unit": ofx.unit}}},
					{"/v1/pairings", map[string]any{"fields": map[string]any{"name": "新结对 " + u, "status": "active", "branches": []string{ofx.unit},
						"counterparties": []string{ofx.ids["counterparties"]}}}},
					{"/v1/projects", map[string]any{"pairing": ofx.ids["pairings"], "fields": map[string]any{"title": "新项目", "category": pairing.ProjectCategories[0].Value, "status": "proposed"}}},
				} {
					r := e.call("POST", c.path, tokens[u], c.body)
					if u == "root" {
						// The control: the same request from one who may.
						if r.status < 200 || r.status >= 300 {
							t.Errorf("control: POST %s as root: got %d %.300s, want it created", c.path, r.status, r.body)
						}
						continue
					}
					creates++
					if r.status >= 200 && r.status < 300 {
						createOK++
						t.Errorf("POST %s as %s into subtree %s: got %d %.200s, want a refusal", c.path, u, other, r.status, r.body)
					} else if r.status >= 500 {
						t.Errorf("POST %s as %s: %d %s", c.path, u, r.status, r.body)
					}
				}
			}

			// 4. Sync: a push into the other pairing, a pull.
			syncDenied := 0
			for _, u := range []string{"adminA", "officerA", "contactA", "adminB", "officerB", "contactB"} {
				d := e.device(t, u)
				keys, _ := d.pull()
				other := map[string]string{"A": "p2", "B": "p1"}[scopeOf(u)]
				for _, k := range keys {
					if rec, ok := d.view[k]; ok && rec.Pairing == other {
						leaks++
						t.Errorf("%s pulled %s of pairing %s", u, k, other)
					}
					// Officers' phone numbers (1380000000…) never travel in a pull.
					if rec, ok := d.view[k]; ok {
						if b, _ := json.Marshal(rec); strings.Contains(string(b), "1380000000") {
							leaks++
							t.Errorf("%s pulled %s holding an officer's phone number", u, k)
						}
					}
				}
				_, ans := d.push(d.set("issues", "i-intrude-"+u, other, map[string]any{"title": "越权", "category": pairing.IssueCategories[0].Value,
					"raised_by": "u-" + u, "raised_at": time.Now().UTC().Format(time.RFC3339)}))
				if len(ans.Results) != 1 || ans.Results[0].Status != syncproto.StatusRejected || ans.Results[0].Error.Code != syncproto.CodeOutOfScope {
					t.Errorf("%s pushes into pairing %s: %+v, want rejected out_of_scope", u, other, ans.Results)
				} else {
					syncDenied++
				}
			}
			fields.check(t)
			sort.Strings(rows)
			if crossOK+crossNot404 == 0 && !slices.Contains(rows, "") {
				t.Logf("%s: %d calls on routes with an id (%d routes × %d users × 2 pairings, same-subtree changes left out): %d cross-pairing successes, %d cross-pairing answers other than 404, %d same-subtree successes; %d reads of lists, reports and exports, %d leaks; %d creations in the other subtree, %d succeeded; %d intruding pushes rejected out_of_scope\n%s",
					ad.name, calls, len(rows)/2, len(matrixUsers), crossOK, crossNot404, sameOK, reads, leaks, creates, createOK, syncDenied, strings.Join(rows, "\n"))
			}
		})
	}
}
