package servertest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"
)

// Client makes real HTTP requests to a server at URL, failing TB's test
// when a request cannot be made.
type Client struct {
	TB  testing.TB
	URL string // the server's base URL, "http://127.0.0.1:…"
	// Language, when set, is sent as Accept-Language (the server's
	// messages are Chinese by default).
	Language string
}

// Response is a server's answer.
type Response struct {
	Status int
	Body   []byte
	Header http.Header
}

// JSON decodes the body into v.
func (r Response) JSON(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode %s: %v", r.Body, err)
	}
}

// Call makes a request. token "" sends no Authorization; a body other than
// []byte is sent as JSON; hdr are header names and values in pairs (a
// "Host" sets the request's host).
func (c Client) Call(method, path, token string, body any, hdr ...string) Response {
	c.TB.Helper()
	var rd io.Reader
	if body != nil {
		b, ok := body.([]byte)
		if !ok {
			b, _ = json.Marshal(body)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.URL+path, rd)
	if err != nil {
		c.TB.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if c.Language != "" {
		req.Header.Set("Accept-Language", c.Language)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i] == "Host" {
			req.Host = hdr[i+1] // net/http sends req.Host, not a Host header
			continue
		}
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.TB.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return Response{Status: resp.StatusCode, Body: b, Header: resp.Header}
}

// Login signs user in with Password and decodes the answer (the tokens)
// into v; anything but 200 fails the test.
func (c Client) Login(user string, v any) {
	c.TB.Helper()
	r := c.Call("POST", "/v1/auth/login", "", map[string]string{"username": user, "password": Password})
	if r.Status != 200 {
		c.TB.Fatalf("login %s: got %d %s, want 200", user, r.Status, r.Body)
	}
	r.JSON(c.TB, v)
}

// Token signs user in and returns the access token.
func (c Client) Token(user string) string {
	c.TB.Helper()
	var tr struct {
		AccessToken string `json:"access_token"`
	}
	c.Login(user, &tr)
	return tr.AccessToken
}
