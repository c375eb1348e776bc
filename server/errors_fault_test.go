package server

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"syscall"
	"testing"

	"github.com/pairsync/pairsync/server/readmodel"
	"github.com/pairsync/pairsync/syncproto"
)

// TestClassifyDependencyTransportErrors: an error of a
// dependency's transport that its adapter left unclassified — MinIO
// stopping closes the connection a request was sent on ("http: server
// closed idle connection"), refuses or resets one — answers 503 with
// Retry-After, not 500 internal.
func TestClassifyDependencyTransportErrors(t *testing.T) {
	for _, err := range []error{
		fmt.Errorf("minio: open x: %w", &url.Error{Op: "Get", URL: "http://127.0.0.1:9000/b/x", Err: errors.New("http: server closed idle connection")}),
		fmt.Errorf("minio: begin upload x: %w", &url.Error{Op: "Head", URL: "http://127.0.0.1:9000/b/x", Err: &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}}),
		fmt.Errorf("minio: stat x: %w", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}),
	} {
		e, known := classify(err)
		if !known || e.Status != 503 || e.RetryAfter <= 0 {
			t.Errorf("classify(%v): got %d (known %v, Retry-After %v), want 503 with Retry-After", err, e.Status, known, e.RetryAfter)
		}
	}
	if e, _ := classify(errors.New("a bug")); e.Status != 500 {
		t.Errorf("an unknown error: got %d, want 500", e.Status)
	}
}

// TestClassifyWarmingUp: while the ledger's first load runs, a report
// answers 503 with Retry-After and says why, rather than figures that miss
// records.
func TestClassifyWarmingUp(t *testing.T) {
	e, known := classify(fmt.Errorf("overview: %w", readmodel.ErrWarmingUp))
	if !known || e.Status != 503 || e.RetryAfter <= 0 || e.Wire.Code != syncproto.CodeUnavailable || !strings.Contains(e.Wire.Message, "loading") {
		t.Errorf("got %+v (known %v), want 503 unavailable with Retry-After, saying the figures are loading", e, known)
	}
}
