package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/pairsync/pairsync/storage"
	"github.com/pairsync/pairsync/syncproto"
)

const headerRequestID = "X-Request-ID"

type ctxKey int

const requestIDKey ctxKey = iota

// requestID takes the client's X-Request-ID when it is short and plain
// (so it cannot forge log lines) and otherwise makes one; it is echoed in the
// response and attached to every log line of the request.
func (s *Server) requestID(c *fiber.Ctx) error {
	id := c.Get(headerRequestID)
	if !plainID(id) {
		var b [12]byte
		_, _ = rand.Read(b[:])
		id = hex.EncodeToString(b[:])
	} else {
		id = string([]byte(id)) // copy: fasthttp reuses header memory
	}
	c.Locals(requestIDKey, id)
	c.Set(headerRequestID, id)
	c.SetUserContext(context.WithValue(c.UserContext(), requestIDKey, id))
	return c.Next()
}

func plainID(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func requestID(c *fiber.Ctx) string {
	id, _ := c.Locals(requestIDKey).(string)
	return id
}

// secureHeaders sets what every answer carries (SECURITY.md 15):
// X-Content-Type-Options nosniff everywhere, and Cache-Control no-store on
// the API (tokens and personal data; a handler may loosen it for what is
// neither, like the JWKS). HTML pages set their CSP where they are served
// (web.go, home.go).
func secureHeaders(c *fiber.Ctx) error {
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	if strings.HasPrefix(c.Path(), "/v1/") {
		c.Set(fiber.HeaderCacheControl, "no-store")
	}
	return c.Next()
}

// photoOrigin is the origin browsers reach the photo store at, when photos
// go straight to it (a store with PublicOrigin, as storage/minio), else "".
func photoOrigin(p storage.Photos) string {
	if o, ok := p.(interface{ PublicOrigin() string }); ok {
		return o.PublicOrigin()
	}
	return ""
}

// accessLog writes one structured line per request and records the request
// metrics. Errors are rendered here (not after the whole chain) so the line
// and the metrics carry the final status. Only the path is logged, never the
// query string, headers or body (they may hold tokens or phone numbers).
func (s *Server) accessLog(c *fiber.Ctx) error {
	start := time.Now()
	err := c.Next()
	if err != nil {
		if herr := s.handleError(c, err); herr != nil {
			return herr
		}
	}
	elapsed := time.Since(start)
	status := c.Response().StatusCode()
	route := routeLabel(c)
	// c.Method() aliases fasthttp's buffer, reused by the next request:
	// a label value must own its bytes (else /metrics fails with 500).
	s.metrics.observeRequest(strings.Clone(c.Method()), route, status, elapsed)
	lvl := slog.LevelInfo
	if route == "/healthz" || route == "/readyz" || route == "/metrics" {
		lvl = slog.LevelDebug
	}
	s.log.LogAttrs(c.UserContext(), lvl, "request",
		slog.String("request_id", requestID(c)),
		slog.String("method", c.Method()),
		slog.String("route", route),
		slog.String("path", c.Path()),
		slog.Int("status", status),
		slog.Float64("ms", float64(elapsed.Microseconds())/1000),
		slog.Int("bytes", responseBytes(c)),
		slog.String("ip", c.IP()),
	)
	return nil
}

// routeLabel is the route pattern (bounded cardinality), or "unmatched".
func routeLabel(c *fiber.Ctx) string {
	r := c.Route()
	if r == nil || r.Method == "USE" || r.Path == "/" && c.Path() != "/" {
		return "unmatched"
	}
	return r.Path
}

// deadline gives the handler's context a deadline. It is Fiber's
// timeout.NewWithContext idea (never timeout.New, which races) without its
// mapping of every deadline to 408: a storage call that runs out of time
// becomes 503 + Retry-After in the error handler, because the client was not
// the slow party.
func deadline(d time.Duration, h fiber.Handler) fiber.Handler {
	return func(c *fiber.Ctx) error {
		ctx, cancel := context.WithTimeout(c.UserContext(), d)
		defer cancel()
		c.SetUserContext(ctx)
		return h(c)
	}
}

func retryAfterSeconds(d time.Duration) string {
	return strconv.Itoa(int((d + time.Second - 1) / time.Second))
}

// responseBytes is the size of a response body, or -1 for a stream (whose
// size is not known without reading it all into memory).
func responseBytes(c *fiber.Ctx) int {
	if c.Response().IsBodyStream() {
		return -1
	}
	return len(c.Response().Body())
}

// admit bounds the API requests served at once (Config.MaxInFlight). A
// request past the bound waits up to Config.QueueWait for a slot and then
// gets 503 with Retry-After: under overload, the requests let in keep their
// latency and the rest are told to come back, instead of all of them
// slowing down together. Liveness, readiness and metrics are never held.
func (s *Server) admit(c *fiber.Ctx) error {
	switch c.Path() {
	case "/healthz", "/readyz", "/metrics":
		return c.Next()
	}
	// Sign-ins (password hashes) have their own pool: a flood of them, bad
	// or not, waits there and never takes a slot from sync.
	slots := s.slots
	if s.signInRoutes[c.Method()+" "+c.Path()] {
		slots = s.signInSlots
	}
	select {
	case slots <- struct{}{}:
	default:
		t := time.NewTimer(s.cfg.QueueWait)
		select {
		case slots <- struct{}{}:
			t.Stop()
		case <-t.C:
			s.metrics.shed.Inc()
			return &Error{Status: http.StatusServiceUnavailable, RetryAfter: time.Second,
				Wire: syncproto.Error{Code: syncproto.CodeUnavailable, Message: "the server is busy; send the same request again shortly"}}
		}
	}
	defer func() { <-slots }()
	return c.Next()
}
