package server

import (
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
)

func TestWebAppNotBuilt(t *testing.T) {
	s, _ := newTestServer(t) // no Deps.Web
	resp, body := do(t, s, httptest.NewRequest("GET", "/", nil))
	if resp.StatusCode != 200 || !strings.Contains(string(body), "make web") {
		t.Fatalf("got %d %q, want 200 and a page saying to run make web", resp.StatusCode, body)
	}
	if resp, _ := do(t, s, httptest.NewRequest("GET", "/sw.js", nil)); resp.StatusCode != 404 {
		t.Fatalf("GET /sw.js without the app: got %d, want 404", resp.StatusCode)
	}
}

func TestWebAppFiles(t *testing.T) {
	db, photos := openStores(t)
	app := fstest.MapFS{
		"index.html":              {Data: []byte("<!doctype html><title>app</title>")},
		"sw.js":                   {Data: []byte("self.addEventListener('fetch', () => {})")},
		"syncproto.wasm":          {Data: []byte("\x00asm\x01\x00\x00\x00")},
		"manifest.webmanifest":    {Data: []byte(`{"name":"结对共建"}`)},
		"assets/index-Ab12Cd.js":  {Data: []byte("console.log(1)")},
		"assets/index-Ab12Cd.css": {Data: []byte("body{}")},
		"BUILD.txt":               {Data: []byte("placeholder")},
	}
	s, err := New(Config{}, Deps{Store: db, Photos: photos, Web: app})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path, status, ctype, cache, body string
	}{
		{"/", "200", "text/html", "no-cache", "<title>app</title>"},
		{"/pairings/p1", "200", "text/html", "no-cache", "<title>app</title>"},
		{"/issues/i-1", "200", "text/html", "no-cache", "<title>app</title>"},
		{"/login", "200", "text/html", "no-cache", "<title>app</title>"},
		{"/sw.js", "200", "text/javascript", "no-cache", "addEventListener"},
		{"/syncproto.wasm", "200", "application/wasm", "no-cache", "asm"},
		{"/manifest.webmanifest", "200", "application/manifest+json", "no-cache", "结对共建"},
		{"/assets/index-Ab12Cd.js", "200", "text/javascript", "immutable", "console"},
		{"/assets/index-Ab12Cd.css", "200", "text/css", "immutable", "body"},
		{"/assets/missing.js", "404", "application/json", "", "not_found"},
		{"/pairings/p1/x.js", "404", "application/json", "", "not_found"},
		{"/nope", "404", "application/json", "", "not_found"},
		{"/BUILD.txt", "404", "application/json", "", "not_found"},
		{"/v1/nope", "404", "application/json", "", "not_found"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			resp, body := do(t, s, httptest.NewRequest("GET", tc.path, nil))
			if got := resp.Status[:3]; got != tc.status {
				t.Fatalf("got status %s, want %s (%s)", resp.Status, tc.status, body)
			}
			if got := resp.Header.Get("Content-Type"); !strings.HasPrefix(got, tc.ctype) {
				t.Errorf("got Content-Type %q, want %s", got, tc.ctype)
			}
			if got := resp.Header.Get("Cache-Control"); !strings.Contains(got, tc.cache) {
				t.Errorf("got Cache-Control %q, want %s", got, tc.cache)
			}
			if !strings.Contains(string(body), tc.body) {
				t.Errorf("got body %q, want it to hold %q", body, tc.body)
			}
		})
	}
	// Revalidation: the ETag answers 304.
	resp, _ := do(t, s, httptest.NewRequest("GET", "/sw.js", nil))
	req := httptest.NewRequest("GET", "/sw.js", nil)
	req.Header.Set("If-None-Match", resp.Header.Get("ETag"))
	if resp, _ := do(t, s, req); resp.StatusCode != 304 {
		t.Fatalf("revalidating with the ETag: got %d, want 304", resp.StatusCode)
	}
	resp, _ = do(t, s, httptest.NewRequest("GET", "/", nil))
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "'wasm-unsafe-eval'") {
		t.Fatalf("got CSP %q, want one that lets syncproto.wasm run", csp)
	}
	// Other methods on API routes keep their 405.
	if resp, _ := do(t, s, httptest.NewRequest("DELETE", "/healthz", nil)); resp.StatusCode != 405 {
		t.Fatalf("DELETE /healthz: got %d, want 405", resp.StatusCode)
	}
}

// TestWebAppPrecompressed: a file the build wrote a .br or .gz copy of goes
// out as that copy to a browser that takes it (Content-Encoding, its own
// ETag, Vary), and as it is to one that does not; its 304 still works.
func TestWebAppPrecompressed(t *testing.T) {
	db, photos := openStores(t)
	app := fstest.MapFS{
		"index.html":        {Data: []byte("<!doctype html><title>app</title>")},
		"syncproto.wasm":    {Data: []byte("\x00asm\x01\x00\x00\x00 raw")},
		"syncproto.wasm.br": {Data: []byte("BROTLI-BYTES")},
		"syncproto.wasm.gz": {Data: []byte("GZIP-BYTES")},
	}
	s, err := New(Config{}, Deps{Store: db, Photos: photos, Web: app})
	if err != nil {
		t.Fatal(err)
	}
	get := func(ae, inm string) (int, string, string, string, string) {
		req := httptest.NewRequest("GET", "/syncproto.wasm", nil)
		if ae != "" {
			req.Header.Set("Accept-Encoding", ae)
		}
		if inm != "" {
			req.Header.Set("If-None-Match", inm)
		}
		resp, body := do(t, s, req)
		return resp.StatusCode, resp.Header.Get("Content-Encoding"), resp.Header.Get("ETag"), resp.Header.Get("Vary"), string(body)
	}
	code, enc, brTag, vary, body := get("gzip, deflate, br, zstd", "")
	if code != 200 || enc != "br" || body != "BROTLI-BYTES" || !strings.Contains(vary, "Accept-Encoding") {
		t.Fatalf("with br: got %d %q %q Vary %q, want 200 br BROTLI-BYTES Vary Accept-Encoding", code, enc, body, vary)
	}
	code, enc, gzTag, _, body := get("gzip", "")
	if code != 200 || enc != "gzip" || body != "GZIP-BYTES" || gzTag == brTag {
		t.Fatalf("with gzip: got %d %q %q (ETag %s, br's %s), want 200 gzip GZIP-BYTES with its own ETag", code, enc, body, gzTag, brTag)
	}
	code, enc, _, _, body = get("br;q=0, gzip", "")
	if enc != "gzip" {
		t.Fatalf("br;q=0: got %d %q %q, want gzip", code, enc, body)
	}
	code, enc, _, _, body = get("identity", "")
	if code != 200 || enc != "" || !strings.HasSuffix(body, " raw") {
		t.Fatalf("without br or gzip: got %d %q %q, want the file as it is", code, enc, body)
	}
	if code, _, _, _, _ = get("gzip, br", brTag); code != 304 {
		t.Fatalf("revalidating the br copy: got %d, want 304", code)
	}
}
