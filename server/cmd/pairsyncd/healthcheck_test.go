package main

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestHealthcheck runs `pairsyncd healthcheck` (the command line, as the
// container's health check runs it) against a server answering /healthz
// 200, one answering 503, a port nobody listens on, and an unspecified
// host, which is probed on loopback.
func TestHealthcheck(t *testing.T) {
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(status)
	}))
	defer srv.Close()
	_, port, err := net.SplitHostPort(srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()

	for _, tc := range []struct {
		name   string
		addr   string
		status int
		want   int
	}{
		{"healthy", srv.Listener.Addr().String(), http.StatusOK, 0},
		{"unhealthy", srv.Listener.Addr().String(), http.StatusServiceUnavailable, 1},
		{"nobody listening", closed, http.StatusOK, 1},
		{"unspecified host probes loopback", "0.0.0.0:" + port, http.StatusOK, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status = tc.status
			var stderr strings.Builder
			env := map[string]string{"PAIRSYNC_ADDR": tc.addr}
			got := run([]string{"healthcheck"}, func(k string) string { return env[k] }, &stderr)
			if got != tc.want {
				t.Fatalf("pairsyncd healthcheck on %s (server answers %d): exit %d, want %d; stderr %q", tc.addr, tc.status, got, tc.want, stderr.String())
			}
		})
	}
	if got := run([]string{"healthcheck", "-no-such-flag"}, func(string) string { return "" }, io.Discard); got != 2 {
		t.Fatalf("pairsyncd healthcheck -no-such-flag: exit %d, want 2", got)
	}
}
