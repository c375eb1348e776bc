package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/pairsync/pairsync/server/servertest"
	"github.com/pairsync/pairsync/storage/bolt"
	"github.com/pairsync/pairsync/storage/files"
)

// openStores opens a real bolt file (synced on every commit, as pairsyncd
// runs it) and photo folder in a temporary directory, closed when the test
// ends.
func openStores(t testing.TB) (*bolt.DB, *files.Store) {
	t.Helper()
	return servertest.OpenStores(t, true)
}

// newTestServer builds a Server on a real bolt file and photo folder.
func newTestServer(t *testing.T) (*Server, *bolt.DB) {
	t.Helper()
	db, photos := openStores(t)
	s, err := New(Config{}, Deps{Store: db, Photos: photos})
	if err != nil {
		t.Fatal(err)
	}
	return s, db
}

// serve runs s on 127.0.0.1:0 until the test ends and returns its base URL.
func serve(t testing.TB, s *Server) string {
	t.Helper()
	return servertest.Serve(t, s)
}

func do(t *testing.T, s *Server, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := s.App().Test(req, 10_000)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

type problem struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	s, _ := newTestServer(t)
	_, body := do(t, s, httptest.NewRequest("GET", "/v1/openapi.json", nil))
	var spec struct {
		OpenAPI string                               `json:"openapi"`
		Paths   map[string]map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(body, &spec); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if !strings.HasPrefix(spec.OpenAPI, "3.") {
		t.Fatalf("got openapi %q, want 3.x", spec.OpenAPI)
	}
	described := map[string]bool{}
	for p, ops := range spec.Paths {
		for m, op := range ops {
			described[strings.ToUpper(m)+" "+p] = true
			if op["summary"] == "" || op["summary"] == nil {
				t.Errorf("%s %s has no summary", m, p)
			}
		}
	}
	served := map[string]bool{}
	for _, r := range s.App().GetRoutes(true) {
		if r.Method == fiber.MethodHead { // Fiber adds HEAD to every GET
			continue
		}
		served[r.Method+" "+openAPIPath(r.Path)] = true
	}
	var missing, extra []string
	for k := range served {
		if !described[k] {
			missing = append(missing, k)
		}
	}
	for k := range described {
		if !served[k] {
			extra = append(extra, k)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing) > 0 || len(extra) > 0 {
		t.Fatalf("routes served but not in OpenAPI: %v; described but not served: %v", missing, extra)
	}
	if len(served) < 4 {
		t.Fatalf("got %d routes, want at least the 4 operational ones", len(served))
	}
}

func TestErrorBodies(t *testing.T) {
	s, _ := newTestServer(t)
	s.App().Get("/test/panic", func(c *fiber.Ctx) error { panic("boom: secret detail") })
	base := serve(t, s)
	for _, tc := range []struct {
		name, method, path string
		body               []byte
		status             int
		code               string
	}{
		{"unknown route", "GET", "/v1/nope", nil, 404, "not_found"},
		{"wrong method", "DELETE", "/healthz", nil, 405, "method_not_allowed"},
		{"panic", "GET", "/test/panic", nil, 500, "internal"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, base+tc.path, bytes.NewReader(tc.body))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Fatalf("got status %d, want %d (body %s)", resp.StatusCode, tc.status, body)
			}
			var p problem
			if err := json.Unmarshal(body, &p); err != nil {
				t.Fatalf("body %q is not a problem: %v", body, err)
			}
			if p.Code != tc.code || p.Message == "" {
				t.Fatalf("got %+v, want code %q and a message", p, tc.code)
			}
			if strings.Contains(string(body), "secret") {
				t.Fatalf("body leaks the panic value: %s", body)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Fatalf("got Content-Type %q, want application/json", ct)
			}
		})
	}
}

// TestBodyOverLimit announces a 2 MiB body and sends none of it: the
// server must answer 413 from the headers alone (over raw TCP, so the
// answer is read whatever the client would do with its unsent body).
func TestBodyOverLimit(t *testing.T) {
	s, _ := newTestServer(t)
	base := serve(t, s)
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", 2<<20)
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	var p problem
	if resp.StatusCode != 413 || json.Unmarshal(body, &p) != nil || p.Code != "too_large" {
		t.Fatalf("got %d %s, want 413 too_large", resp.StatusCode, body)
	}
}

func TestRequestID(t *testing.T) {
	s, _ := newTestServer(t)
	req := httptest.NewRequest("GET", "/healthz", nil)
	req.Header.Set("X-Request-ID", "abc-123")
	resp, _ := do(t, s, req)
	if got := resp.Header.Get("X-Request-ID"); got != "abc-123" {
		t.Errorf("got request id %q, want the client's abc-123", got)
	}
	req = httptest.NewRequest("GET", "/healthz", nil)
	req.Header.Set("X-Request-ID", "forged\"}{\"level\":\"ERROR")
	resp, _ = do(t, s, req)
	if got := resp.Header.Get("X-Request-ID"); len(got) != 24 || strings.ContainsAny(got, "\"{}") {
		t.Errorf("got request id %q, want a fresh 24-hex id instead of the forged one", got)
	}
}

func TestReadiness(t *testing.T) {
	s, db := newTestServer(t)
	resp, _ := do(t, s, httptest.NewRequest("GET", "/readyz", nil))
	if resp.StatusCode != 200 {
		t.Fatalf("got /readyz %d, want 200", resp.StatusCode)
	}
	s.SetDraining()
	resp, body := do(t, s, httptest.NewRequest("GET", "/readyz", nil))
	if resp.StatusCode != 503 || !strings.Contains(string(body), "shutting_down") || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("draining: got %d %s (Retry-After %q), want 503 shutting_down with Retry-After", resp.StatusCode, body, resp.Header.Get("Retry-After"))
	}
	resp, _ = do(t, s, httptest.NewRequest("GET", "/healthz", nil))
	if resp.StatusCode != 200 {
		t.Fatalf("draining: got /healthz %d, want 200 (the process is alive)", resp.StatusCode)
	}

	s2, db2 := newTestServer(t)
	_ = db
	db2.Close()
	resp, body = do(t, s2, httptest.NewRequest("GET", "/readyz", nil))
	if resp.StatusCode != 503 || !strings.Contains(string(body), "unavailable") {
		t.Fatalf("storage closed: got %d %s, want 503 unavailable", resp.StatusCode, body)
	}
}

// scrape reads the server's metrics as Prometheus would.
func scrape(t testing.TB, s *Server) string {
	t.Helper()
	rec := httptest.NewRecorder()
	s.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("metrics: got %d", rec.Code)
	}
	return rec.Body.String()
}

func TestMetricsAndGzip(t *testing.T) {
	s, _ := newTestServer(t)
	do(t, s, httptest.NewRequest("GET", "/readyz", nil))
	do(t, s, httptest.NewRequest("GET", "/v1/nothing/here", nil))
	body := scrape(t, s)
	for _, want := range []string{
		`pairsync_http_requests_total{code="200",method="GET",route="/readyz"} 1`,
		`pairsync_http_requests_total{code="404",method="GET",route="unmatched"} 1`,
		`pairsync_http_request_duration_seconds_bucket{method="GET",route="/readyz",le=`,
		`pairsync_storage_call_duration_seconds_count{op="ping",outcome="ok"} 1`,
		`go_goroutines`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	// Metrics are not on the public listener (they would tell anyone the
	// load and the routes): pairsyncd serves MetricsHandler on -metrics-addr.
	if resp, _ := do(t, s, httptest.NewRequest("GET", "/metrics", nil)); resp.StatusCode != 404 {
		t.Errorf("GET /metrics on the public app: got %d, want 404", resp.StatusCode)
	}
	req := httptest.NewRequest("GET", "/v1/openapi.json", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	resp, _ := do(t, s, req)
	if got := resp.Header.Get("Content-Encoding"); got != "gzip" {
		t.Errorf("got Content-Encoding %q, want gzip", got)
	}
}

// TestShutdownClosesQuietConnections: a connection opened and never used
// must not hold Shutdown until its read timeout, while a request in flight
// still finishes.
func TestShutdownClosesQuietConnections(t *testing.T) {
	s, _ := newTestServer(t)
	started, release := make(chan struct{}), make(chan struct{})
	s.App().Get("/test/slow", func(c *fiber.Ctx) error {
		close(started)
		<-release
		return c.SendString("done")
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(ln)
	quiet, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer quiet.Close()
	slow := make(chan string, 1)
	go func() {
		resp, err := http.Get("http://" + ln.Addr().String() + "/test/slow")
		if err != nil {
			slow <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		slow <- string(b)
	}()
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	shut := make(chan error, 1)
	go func() { shut <- s.Shutdown(ctx) }()
	// The quiet connection is closed by the server: a read sees EOF.
	quiet.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := quiet.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("quiet connection: got %v, want EOF (closed by Shutdown)", err)
	}
	close(release)
	if got := <-slow; got != "done" {
		t.Fatalf("in-flight request: got %q, want it to finish", got)
	}
	if err := <-shut; err != nil {
		t.Fatalf("Shutdown: %v, want nil (nothing left to wait for)", err)
	}
}
