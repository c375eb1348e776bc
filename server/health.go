package server

import (
	"context"
	"net/http"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"

	"github.com/pairsync/pairsync/syncproto"
)

type health struct {
	Status  string `json:"status"`
	Version string `json:"version,omitempty"`
}

// healthz answers while the process is alive; it touches nothing else.
func (s *Server) healthz(c *fiber.Ctx) error {
	return c.JSON(health{Status: "ok", Version: s.cfg.Version})
}

// readyzTimeout bounds the storage ping behind /readyz.
const readyzTimeout = 2 * time.Second

// readyz answers 200 when the server takes traffic: not draining and its
// storage reachable.
func (s *Server) readyz(c *fiber.Ctx) error {
	if s.draining.Load() {
		return &Error{Status: http.StatusServiceUnavailable, RetryAfter: time.Second,
			Wire: syncproto.Error{Code: syncproto.CodeShuttingDown, Message: "shutting down"}}
	}
	ctx, cancel := context.WithTimeout(c.UserContext(), readyzTimeout)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		return &Error{Status: http.StatusServiceUnavailable, RetryAfter: retryAfterUnavailable, Cause: err,
			Wire: syncproto.Error{Code: syncproto.CodeUnavailable, Message: "storage unreachable"}}
	}
	return c.JSON(health{Status: "ready"})
}

// metricsHandler serves the Prometheus registry.
func (s *Server) metricsHandler() fiber.Handler {
	h := fasthttpadaptor.NewFastHTTPHandler(promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{}))
	return func(c *fiber.Ctx) error {
		h(c.Context())
		return nil
	}
}
