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
// package syncproto. Middleware order: recover → request id → access log and
// metrics → limits and deadlines → auth (per route group).
package server
