package server

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"mime"
	"path"
	"strings"
	"sync"

	"github.com/gofiber/fiber/v2"
)

// webApp serves the built field app (mobile/web, embedded into pairsyncd
// and passed in as Deps.Web): index.html and the service worker revalidated
// on every load (no-cache, with an ETag), hashed assets cached for a year
// (immutable), the app's own paths answered with index.html so a reload or
// a shared link opens the app there (SPA fallback), and the right types for
// .wasm and .webmanifest. Safe for concurrent use.
type webApp struct {
	fsys fs.FS  // nil: no web app
	csp  string // pagePolicy
	// files caches each file read once: its bytes and ETag. The embedded
	// files never change while the process runs.
	files sync.Map // name → *webFile
}

type webFile struct {
	data []byte
	etag string
}

// appPaths are the first segments of the app's own routes (mobile/web's
// router, and the route table): a GET of one of them opens the app.
var appPaths = map[string]bool{"login": true, "pairings": true, "visits": true, "issues": true, "projects": true, "review": true,
	"console":  true, // the administrators' console, /console/*
	"activate": true, "account": true, "messages": true}

// webTypes are the types mime's table may lack on a minimal system.
var webTypes = map[string]string{
	".wasm":        "application/wasm",
	".webmanifest": "application/manifest+json",
	".js":          "text/javascript; charset=utf-8",
	".mjs":         "text/javascript; charset=utf-8",
	".css":         "text/css; charset=utf-8",
	".html":        "text/html; charset=utf-8",
	".json":        "application/json",
	".svg":         "image/svg+xml",
	".png":         "image/png",
	".txt":         "text/plain; charset=utf-8",
}

// pagePolicy is the Content-Security-Policy of every HTML page (the app's and
// the placeholder's): its own code only ('wasm-unsafe-eval' runs
// syncproto.wasm), photos as blob: URLs, the icon font inline, connections
// to this origin and, when photos go straight to an object store (MinIO),
// to photoOrigin; never framed (SECURITY.md 15).
func pagePolicy(photoOrigin string) string {
	extra := ""
	if photoOrigin != "" {
		extra = " " + photoOrigin
	}
	return "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self' 'unsafe-inline'; " +
		"img-src 'self' blob: data:" + extra + "; font-src 'self' data:; connect-src 'self'" + extra +
		"; worker-src 'self'; manifest-src 'self'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
}

func newWebApp(fsys fs.FS, csp string) *webApp { return &webApp{fsys: fsys, csp: csp} }

// built reports whether the app is there (the placeholder alone is not).
func (w *webApp) built() bool {
	if w == nil || w.fsys == nil {
		return false
	}
	_, err := w.file("index.html")
	return err == nil
}

func (w *webApp) file(name string) (*webFile, error) {
	if f, ok := w.files.Load(name); ok {
		return f.(*webFile), nil
	}
	data, err := fs.ReadFile(w.fsys, name)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(data)
	f := &webFile{data: data, etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
	// name may be a string of the request (c.Path()), whose bytes fasthttp
	// reuses once the handler returns: the map keeps a copy.
	actual, _ := w.files.LoadOrStore(strings.Clone(name), f)
	return actual.(*webFile), nil
}

// serveFile answers with one file of the app and its caching headers.
func (w *webApp) serveFile(c *fiber.Ctx, name string) error {
	f, err := w.file(name)
	if err != nil {
		return fiber.ErrNotFound
	}
	ext := path.Ext(name)
	ct, ok := webTypes[ext]
	if !ok {
		if ct = mime.TypeByExtension(ext); ct == "" {
			ct = "application/octet-stream"
		}
	}
	c.Set(fiber.HeaderContentType, ct)
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	if strings.HasPrefix(name, "assets/") {
		// Vite names them after their content.
		c.Set(fiber.HeaderCacheControl, "public, max-age=31536000, immutable")
	} else {
		c.Set(fiber.HeaderCacheControl, "no-cache")
	}
	if ext == ".html" {
		c.Set(fiber.HeaderContentSecurityPolicy, w.csp)
		c.Set(fiber.HeaderReferrerPolicy, "same-origin")
	}
	etag, data := f.etag, f.data
	// A precompressed copy (name.br, name.gz, written by the build) goes
	// out as it is when the browser takes it: the wasm at brotli's best
	// without compressing it on every request. The compress middleware
	// leaves a response with a Content-Encoding alone.
	c.Vary(fiber.HeaderAcceptEncoding)
	for _, enc := range [...]struct{ name, ext string }{{"br", ".br"}, {"gzip", ".gz"}} {
		if !acceptsEncoding(c.Get(fiber.HeaderAcceptEncoding), enc.name) {
			continue
		}
		if z, err := w.file(name + enc.ext); err == nil {
			c.Set(fiber.HeaderContentEncoding, enc.name)
			etag, data = strings.TrimSuffix(f.etag, `"`)+"-"+enc.name+`"`, z.data
			break
		}
	}
	c.Set(fiber.HeaderETag, etag)
	if match := c.Get(fiber.HeaderIfNoneMatch); match != "" && strings.Contains(match, etag) {
		c.Response().Header.Del(fiber.HeaderContentEncoding)
		return c.SendStatus(fiber.StatusNotModified)
	}
	return c.Send(data)
}

// acceptsEncoding reports whether an Accept-Encoding header takes enc (not
// with q=0).
func acceptsEncoding(header, enc string) bool {
	for _, part := range strings.Split(header, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(name), enc) {
			continue
		}
		q := strings.ReplaceAll(strings.TrimSpace(params), " ", "")
		return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
	}
	return false
}

// webFiles: GET of the app's files (/sw.js, /assets/*, …) and of its own
// paths (/pairings/*, …): the file, else index.html for the app's paths;
// anything else goes on to the routes registered after these (then 404).
func (s *Server) webFiles(c *fiber.Ctx) error {
	p := strings.TrimSuffix(strings.TrimPrefix(c.Path(), "/"), "/") // /console/ is /console
	if !s.web.built() || !fs.ValidPath(p) {
		return c.Next()
	}
	if _, err := s.web.file(p); err == nil {
		return s.web.serveFile(c, p)
	} else if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, fs.ErrInvalid) {
		return err
	}
	first, _, _ := strings.Cut(p, "/")
	if appPaths[first] && path.Ext(p) == "" {
		return s.web.serveFile(c, "index.html")
	}
	return c.Next()
}
