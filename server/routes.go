package server

import (
	"time"

	"github.com/gofiber/fiber/v2"
)

// route is one entry of the route table: the handler and what the OpenAPI
// description says about it. Every route is declared here and nowhere else;
// a test fails when the app serves a route the table does not describe.
type route struct {
	Method  string
	Path    string // Fiber pattern, e.g. /v1/visits/:id
	Summary string
	Tag     string
	// Request and Response name schemas in openapi.go's components (empty:
	// no body / a plain object).
	Request  string
	Response string
	// Timeout overrides Config.RequestTimeout for this route; negative means
	// no deadline (streams that end by themselves).
	Timeout time.Duration
	Handler fiber.Handler
}

// routeTable lists every route the server answers.
func (s *Server) routeTable() []route {
	return []route{
		{Method: fiber.MethodGet, Path: "/", Tag: "web", Summary: "Landing page (the web app, once built)", Handler: s.home},
		{Method: fiber.MethodGet, Path: "/healthz", Tag: "ops", Summary: "Process liveness", Response: "Health", Handler: s.healthz},
		{Method: fiber.MethodGet, Path: "/readyz", Tag: "ops", Summary: "Readiness: storage reachable and not shutting down", Response: "Health", Handler: s.readyz},
		{Method: fiber.MethodGet, Path: "/metrics", Tag: "ops", Summary: "Prometheus metrics (text exposition format)", Handler: s.metricsHandler()},
		{Method: fiber.MethodGet, Path: "/v1/openapi.json", Tag: "ops", Summary: "This OpenAPI description", Handler: s.openAPIHandler},
	}
}

// register adds the routes to the app, each with its deadline.
func (s *Server) register(routes []route) {
	for _, r := range routes {
		h := r.Handler
		switch {
		case r.Timeout > 0:
			h = deadline(r.Timeout, h)
		case r.Timeout == 0:
			h = deadline(s.cfg.RequestTimeout, h)
		}
		s.app.Add(r.Method, r.Path, h)
	}
}
