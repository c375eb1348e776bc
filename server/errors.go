package server

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/pairsync/pairsync/server/readmodel"
	"github.com/pairsync/pairsync/storage"
	"github.com/pairsync/pairsync/syncproto"
)

// Error is what a handler returns when it knows what went wrong: the status
// and wire error the client sees, kept apart from the cause that is logged.
type Error struct {
	Status int
	Wire   syncproto.Error
	// Cause is logged, never sent.
	Cause error
	// RetryAfter, when positive, is sent as a Retry-After header.
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	if e.Cause != nil {
		return e.Wire.Error() + ": " + e.Cause.Error()
	}
	return e.Wire.Error()
}

func (e *Error) Unwrap() error { return e.Cause }

// errorf returns an Error with a formatted message for the client.
func errorf(status int, code syncproto.Code, format string, args ...any) *Error {
	return &Error{Status: status, Wire: *syncproto.Errorf(code, format, args...)}
}

// retryAfterUnavailable is how long a client should wait after a 503 caused
// by a dependency.
const retryAfterUnavailable = 2 * time.Second

// classify turns any error into the Error the client gets. Unknown errors
// become 500 internal; the caller logs them.
func classify(err error) (*Error, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e, true
	}
	var we *syncproto.Error
	if errors.As(err, &we) {
		return &Error{Status: statusOf(we.Code), Wire: *we, Cause: err}, true
	}
	var fe *fiber.Error
	if errors.As(err, &fe) {
		return fiberError(fe), true
	}
	switch {
	case errors.Is(err, readmodel.ErrWarmingUp):
		return &Error{Status: http.StatusServiceUnavailable, Wire: syncproto.Error{Code: syncproto.CodeUnavailable,
			Message: "the server is still loading its figures after a restart; try again shortly"}, Cause: err, RetryAfter: retryAfterUnavailable}, true
	case errors.Is(err, storage.ErrNotFound):
		return &Error{Status: http.StatusNotFound, Wire: syncproto.Error{Code: syncproto.CodeNotFound, Message: "not found"}, Cause: err}, true
	case errors.Is(err, storage.ErrConflict), errors.Is(err, storage.ErrExists):
		return &Error{Status: http.StatusConflict, Wire: syncproto.Error{Code: syncproto.CodeConflict, Message: "the object changed or already exists; reload and try again"}, Cause: err}, true
	case errors.Is(err, storage.ErrUnavailable), errors.Is(err, context.DeadlineExceeded),
		// A dependency reached over the network (MinIO, S3) gave no answer at
		// all — its connection refused, reset or closed as it went down —
		// in a way its adapter did not classify: still the dependency, not a
		// server bug (net/http's "http: server closed idle connection"
		// when MinIO stops; TestDependenciesDown).
		errors.As(err, new(*url.Error)), errors.As(err, new(*net.OpError)):
		return &Error{Status: http.StatusServiceUnavailable, Wire: syncproto.Error{Code: syncproto.CodeUnavailable, Message: "the service is temporarily unavailable; try again shortly"}, Cause: err, RetryAfter: retryAfterUnavailable}, true
	case errors.Is(err, storage.ErrTooLarge):
		return &Error{Status: http.StatusRequestEntityTooLarge, Wire: syncproto.Error{Code: syncproto.CodeTooLarge, Message: "content too large"}, Cause: err}, true
	case errors.Is(err, storage.ErrInvalid), errors.Is(err, storage.ErrMismatch):
		return &Error{Status: http.StatusBadRequest, Wire: syncproto.Error{Code: syncproto.CodeBadRequest, Message: err.Error()}, Cause: err}, true
	}
	return &Error{Status: http.StatusInternalServerError, Wire: syncproto.Error{Code: syncproto.CodeInternal, Message: "internal error"}, Cause: err}, false
}

// statusOf is the HTTP status a wire code travels with.
func statusOf(c syncproto.Code) int {
	switch c {
	case syncproto.CodeBadRequest, syncproto.CodeInvalidJSON, syncproto.CodeValidation:
		return http.StatusBadRequest
	case syncproto.CodeTooLarge:
		return http.StatusRequestEntityTooLarge
	case syncproto.CodeUnauthorized:
		return http.StatusUnauthorized
	case syncproto.CodeForbidden, syncproto.CodeOutOfScope, syncproto.CodeDeviceRevoked:
		return http.StatusForbidden
	case syncproto.CodeNotFound:
		return http.StatusNotFound
	case syncproto.CodeMethodNotAllowed:
		return http.StatusMethodNotAllowed
	case syncproto.CodeConflict, syncproto.CodeNotConfigured, syncproto.CodeTooManyDevices, syncproto.CodeAmbiguousLogin:
		return http.StatusConflict
	case syncproto.CodeRateLimited:
		return http.StatusTooManyRequests
	case syncproto.CodeUnavailable, syncproto.CodeShuttingDown, syncproto.CodeTimeout:
		return http.StatusServiceUnavailable
	case syncproto.CodeUnsupportedMedia:
		return http.StatusUnsupportedMediaType
	case syncproto.CodeResyncRequired:
		return http.StatusGone
	}
	return http.StatusInternalServerError
}

// fiberError maps the errors Fiber and fasthttp raise themselves (unknown
// route, body over the limit, bad request line) to wire errors.
func fiberError(fe *fiber.Error) *Error {
	e := &Error{Status: fe.Code, Cause: fe}
	switch fe.Code {
	case http.StatusNotFound:
		e.Wire = syncproto.Error{Code: syncproto.CodeNotFound, Message: "no such route"}
	case http.StatusMethodNotAllowed:
		e.Wire = syncproto.Error{Code: syncproto.CodeMethodNotAllowed, Message: "method not allowed on this route"}
	case http.StatusRequestEntityTooLarge:
		e.Wire = syncproto.Error{Code: syncproto.CodeTooLarge, Message: "request body too large"}
	case http.StatusRequestTimeout:
		e.Wire = syncproto.Error{Code: syncproto.CodeTimeout, Message: "request took too long"}
	case http.StatusRequestHeaderFieldsTooLarge:
		e.Wire = syncproto.Error{Code: syncproto.CodeTooLarge, Message: "request headers too large"}
	case http.StatusUnsupportedMediaType:
		e.Wire = syncproto.Error{Code: syncproto.CodeUnsupportedMedia, Message: "unsupported content type"}
	case http.StatusTooManyRequests:
		e.Wire = syncproto.Error{Code: syncproto.CodeRateLimited, Message: "too many requests"}
	case http.StatusServiceUnavailable:
		e.Wire = syncproto.Error{Code: syncproto.CodeUnavailable, Message: "service unavailable"}
	default:
		if fe.Code >= 400 && fe.Code < 500 {
			e.Wire = syncproto.Error{Code: syncproto.CodeBadRequest, Message: "malformed request"}
		} else {
			e.Status = http.StatusInternalServerError
			e.Wire = syncproto.Error{Code: syncproto.CodeInternal, Message: "internal error"}
		}
	}
	return e
}

// handleError is Fiber's ErrorHandler: it writes the problem body for any
// error a handler or middleware returned, and logs the ones that are ours.
func (s *Server) handleError(c *fiber.Ctx, err error) error {
	e, known := classify(err)
	if !known || e.Status >= 500 {
		lvl := slog.LevelWarn
		if !known {
			lvl = slog.LevelError
		}
		s.log.Log(c.UserContext(), lvl, "request failed",
			"request_id", requestID(c), "method", c.Method(), "path", c.Path(),
			"status", e.Status, "code", string(e.Wire.Code), "err", err)
	}
	if e.RetryAfter > 0 {
		c.Set(fiber.HeaderRetryAfter, retryAfterSeconds(e.RetryAfter))
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	wire := e.Wire
	localize(lang(c), "", &wire, int((e.RetryAfter+time.Second-1)/time.Second))
	return c.Status(e.Status).JSON(wire)
}

// conflictWire is the body of a 409 for an object changed since it was read.
func conflictWire() *syncproto.Error {
	return &syncproto.Error{Code: syncproto.CodeConflict, Message: "the object changed since you read it; reload and try again"}
}
