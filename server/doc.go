// Package server is Pairsync's HTTP service, built on Fiber v2.
//
// New builds a Server from plain configuration and injected dependencies
// (storage, photo store, logger, metrics registry); the binary in
// server/cmd/pairsyncd does the wiring:
//
//	srv, err := server.New(server.Config{}, server.Deps{Store: db, Photos: photos, Logger: log})
//	go srv.Serve(ln)
//	…
//	srv.Shutdown(ctx) // readiness goes 503, in-flight requests finish
//
// Every route is declared once, in routes.go, together with its OpenAPI
// description. Handlers parse, validate, call and answer; they return errors
// and never write error bodies themselves: one error handler (errors.go) maps
// typed errors to a status and a {"code","message"} body with the codes of
// package syncproto.
//
// A request meets, in order (New, then register in routes.go): a body size
// check on its headers alone (headerReceived: 413 before the body is read,
// except on upload routes); then recover → request id → security headers →
// access log and metrics → admission (Config.MaxInFlight, sign-ins in a pool
// of their own) → compression; then, per route, authentication (routes with
// Auth) → the route's deadline → its body limit → the policy guard (routes
// with Load) → the handler.
package server
