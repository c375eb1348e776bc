package server

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/pairsync/pairsync/storage"
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

// readyz answers 200 when the server takes traffic: not draining, its
// storage reachable and its photo store too (both asked at once, within
// readyzTimeout).
func (s *Server) readyz(c *fiber.Ctx) error {
	if s.draining.Load() {
		return &Error{Status: http.StatusServiceUnavailable, RetryAfter: time.Second,
			Wire: syncproto.Error{Code: syncproto.CodeShuttingDown, Message: "shutting down"}}
	}
	ctx, cancel := context.WithTimeout(c.UserContext(), readyzTimeout)
	defer cancel()
	photos := make(chan error, 1)
	go func() { photos <- s.pingPhotos(ctx) }()
	if err := s.store.Ping(ctx); err != nil {
		return &Error{Status: http.StatusServiceUnavailable, RetryAfter: retryAfterUnavailable, Cause: err,
			Wire: syncproto.Error{Code: syncproto.CodeUnavailable, Message: "storage unreachable"}}
	}
	if err := <-photos; err != nil {
		return &Error{Status: http.StatusServiceUnavailable, RetryAfter: retryAfterUnavailable, Cause: err,
			Wire: syncproto.Error{Code: syncproto.CodeUnavailable, Message: "photo store unreachable"}}
	}
	return c.JSON(health{Status: "ready"})
}

// noPhoto is the key of a photo that is never stored (no bytes hash to
// it in practice): asking for it is a cheap round trip to the photo store.
const noPhoto = "0000000000000000000000000000000000000000000000000000000000000000"

// pingPhotos reports whether the photo store answers: a Ping when it has
// one, else a stat of noPhoto, whose "not found" is the healthy answer.
func (s *Server) pingPhotos(ctx context.Context) error {
	if p, ok := s.photos.(interface{ Ping(context.Context) error }); ok {
		return p.Ping(ctx)
	}
	_, err := s.photos.StatPhoto(ctx, noPhoto)
	if err == nil || errors.Is(err, storage.ErrNotFound) {
		return nil
	}
	return err
}

// MetricsHandler serves the Prometheus registry (text exposition format).
// It is not a route of the public listener: metrics tell request volumes,
// routes and timings to anyone who asks, so pairsyncd serves them only on
// a listener of their own (-metrics-addr), kept to the private network.
func (s *Server) MetricsHandler() http.Handler {
	return promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{})
}
