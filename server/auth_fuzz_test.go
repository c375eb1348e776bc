package server

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"
)

// serveInProcess runs one request through the app's handler, with no
// network: any header bytes can be sent this way.
func serveInProcess(app *fiber.App, method, uri string, header map[string][]byte, body []byte) *fasthttp.Response {
	var ctx fasthttp.RequestCtx
	ctx.Request.Header.SetMethod(method)
	ctx.Request.SetRequestURI(uri)
	for k, v := range header {
		ctx.Request.Header.SetBytesV(k, v)
	}
	ctx.Request.SetBody(body)
	app.Handler()(&ctx)
	var resp fasthttp.Response
	ctx.Response.CopyTo(&resp)
	return &resp
}

// FuzzAuthorizationHeader (SECURITY.md 1): any Authorization
// header on GET /v1/me of a real server gets 200 only for the one valid
// token of the seed corpus, and otherwise 401 with the one body every
// refused credential gets; never a panic or a 5xx.
func FuzzAuthorizationHeader(f *testing.F) {
	e := newIDEnv(f)
	valid := "Bearer " + e.login("officerA").AccessToken
	refused := serveInProcess(e.s.App(), "GET", "/v1/me", nil, nil)
	if refused.StatusCode() != 401 {
		f.Fatalf("no token: got %d, want 401", refused.StatusCode())
	}
	want401 := string(refused.Body())
	parts := strings.Split(strings.TrimPrefix(valid, "Bearer "), ".")
	for _, s := range []string{
		valid, "", "Bearer", "Bearer ", "bearer " + valid[7:], "Basic dXNlcjpwYXNz", valid + " ", " " + valid, valid + "x",
		"Bearer " + parts[0] + "." + parts[1] + ".", "Bearer " + parts[0] + ".." + parts[2], "Bearer " + strings.Repeat("A", 9000),
		"Bearer eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJ1LW9mZmljZXJBIn0.",
		"Bearer " + parts[1] + "." + parts[0] + "." + parts[2], valid + "\x00", "Bearer \xff\xfe",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, h []byte) {
		resp := serveInProcess(e.s.App(), "GET", "/v1/me", map[string][]byte{"Authorization": h}, nil)
		switch code := resp.StatusCode(); {
		case code == 200:
			if string(h) != valid {
				t.Fatalf("Authorization %q: got 200, want 401", h)
			}
		case code == 401:
			if string(resp.Body()) != want401 {
				t.Fatalf("Authorization %q: 401 with body %s, want %s", h, resp.Body(), want401)
			}
		default:
			if string(h) == valid && code == 503 {
				return // the server under a fuzzer's load; not the header's doing
			}
			t.Fatalf("Authorization %q: got %d %s", h, code, resp.Body())
		}
	})
}

// FuzzBind: the REST decoder, on any body and content type, binds
// the value or refuses it with a 4xx *Error carrying a code and a message;
// it never panics.
func FuzzBind(f *testing.F) {
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	targets := []func() any{
		func() any { return &loginRequest{} },
		func() any { return &createUserRequest{} },
		func() any { return &fieldsRequest{} },
		func() any { return &orgUnitRequest{} },
		func() any { return &createProjectRequest{} },
		func() any { return &map[string]any{} },
	}
	var last error
	app.Post("/bind/:n", func(c *fiber.Ctx) error {
		n, _ := c.ParamsInt("n")
		last = bind(c, targets[n%len(targets)]())
		return c.SendStatus(204)
	})
	for _, s := range []string{
		`{"username":"a","password":"b"}`, `{"fields":{"name":"x","$where":"1"}}`, `{"fields":{"a":{"$ne":null}}}`,
		`{"username":"a","extra":1}`, `{"a":1}{"b":2}`, strings.Repeat("[", 40) + strings.Repeat("]", 40), "\xff\xfe",
		`{"parent_id":"u","name":"n","sla_days":{"x":1e400}}`, `{"pairing":"p","fields":{"title":"\ud800"}}`, ``, `null`, `"\\"`,
	} {
		for n := range len(targets) {
			f.Add(uint8(n), true, []byte(s))
		}
	}
	f.Fuzz(func(t *testing.T, n uint8, asJSON bool, body []byte) {
		ctype := []byte("application/json")
		if !asJSON {
			ctype = []byte("text/plain")
		}
		last = nil
		resp := serveInProcess(app, "POST", "/bind/"+string(rune('0'+n%6)), map[string][]byte{"Content-Type": ctype}, body)
		if resp.StatusCode() != 204 {
			t.Fatalf("bind handler: status %d (a panic?)", resp.StatusCode())
		}
		if last == nil {
			if !asJSON {
				t.Fatal("bound a body sent as text/plain")
			}
			return
		}
		var e *Error
		if !errors.As(last, &e) || e.Status < 400 || e.Status >= 500 || e.Wire.Code == "" || e.Wire.Message == "" {
			t.Fatalf("bind(%q): got %v, want a 4xx *Error with a code and a message", body, last)
		}
		if e.Status != http.StatusUnsupportedMediaType && !asJSON {
			t.Fatalf("a text/plain body: got %d, want 415", e.Status)
		}
	})
}
