package server

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode"
)

// GET /v1/issues/{id} names every member in snake_case like every other
// answer, and shows a time not reached as null — never Go's field names
// (DispatchedAt) or Go's zero time (0001-01-01T00:00:00Z).
func TestIssueDetailJSON(t *testing.T) {
	e := newImportExportEnv(t)
	fx := seedExports(t, e)

	keys := func(t *testing.T, v any, path string, out map[string]any) {
		t.Helper()
		var walk func(v any, path string)
		walk = func(v any, path string) {
			switch v := v.(type) {
			case map[string]any:
				for k, x := range v {
					if path != "$.record.fields" { // record fields are the schema's names
						out[path+"."+k] = x
					}
					walk(x, path+"."+k)
				}
			case []any:
				for _, x := range v {
					walk(x, path+"[]")
				}
			}
		}
		walk(v, path)
	}
	get := func(t *testing.T, id string) map[string]any {
		t.Helper()
		r := e.call("GET", "/v1/issues/"+id, fx.admin, nil)
		if r.status != 200 {
			t.Fatalf("GET /v1/issues/%s: got %d %s, want 200", id, r.status, r.body)
		}
		if strings.Contains(string(r.body), "0001-01-01") {
			t.Errorf("GET /v1/issues/%s: got a zero time: %s", id, r.body)
		}
		var v any
		if err := json.Unmarshal(r.body, &v); err != nil {
			t.Fatal(err)
		}
		members := map[string]any{}
		keys(t, v, "$", members)
		for path := range members {
			name := path[strings.LastIndexAny(path, ".]")+1:]
			if strings.IndexFunc(name, unicode.IsUpper) >= 0 {
				t.Errorf("GET /v1/issues/%s: member %s is not snake_case", id, path)
			}
		}
		return members
	}

	// i2 is raised only: nothing after the raise has happened.
	m := get(t, "i2")
	for _, k := range []string{"dispatched_at", "signed_at", "responded_at", "closed_at", "confirmed_at", "accepted_at", "due"} {
		if v, ok := m["$.state."+k]; !ok || v != nil {
			t.Errorf("i2 state.%s: got %v (present %v), want null", k, v, ok)
		}
	}
	if m["$.state.status"] != "raised" {
		t.Errorf("i2 state.status: got %v, want raised", m["$.state.status"])
	}

	// i1 is dispatched: its dispatch time and due date are times.
	m = get(t, "i1")
	for k, want := range map[string]time.Time{"dispatched_at": fx.dispatched, "due": fx.due, "raised_at": fx.issue1} {
		s, _ := m["$.state."+k].(string)
		if got, err := time.Parse(time.RFC3339Nano, s); err != nil || !got.Equal(want) {
			t.Errorf("i1 state.%s: got %v, want %s", k, m["$.state."+k], want)
		}
	}
	if m["$.state.status"] != "dispatched" || m["$.state.handler"] != "u-officerA" || m["$.state.dispatches"] != 1.0 {
		t.Errorf("i1 state: got status %v handler %v dispatches %v, want dispatched, u-officerA, 1",
			m["$.state.status"], m["$.state.handler"], m["$.state.dispatches"])
	}
	if m["$.events[].type"] != "dispatched" || m["$.events[].id"] != "e1" {
		t.Errorf("i1 events: got type %v id %v, want the dispatch e1", m["$.events[].type"], m["$.events[].id"])
	}
}

// The OpenAPI description, generated from the types, says the same: the
// state's members in snake_case, a time not reached a nullable date-time.
func TestIssueStateOpenAPI(t *testing.T) {
	s, _ := newTestServer(t)
	_, body := do(t, s, httptest.NewRequest("GET", "/v1/openapi.json", nil))
	var spec struct {
		Components struct {
			Schemas map[string]struct {
				Properties map[string]json.RawMessage `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(body, &spec); err != nil {
		t.Fatal(err)
	}
	state, ok := spec.Components.Schemas["IssueStateView"]
	if !ok {
		t.Fatal("no IssueStateView schema")
	}
	for name := range state.Properties {
		if strings.IndexFunc(name, unicode.IsUpper) >= 0 {
			t.Errorf("IssueStateView.%s is not snake_case", name)
		}
	}
	if got, want := string(state.Properties["dispatched_at"]), `{"format":"date-time","type":["string","null"]}`; got != want {
		t.Errorf("dispatched_at: got %s, want %s", got, want)
	}
	if _, ok := spec.Components.Schemas["IssueDetail"].Properties["state"]; !ok {
		t.Error("IssueDetail has no state")
	}
}
