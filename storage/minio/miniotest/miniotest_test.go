package miniotest

import (
	"context"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestPinnedVersion(t *testing.T) {
	v, err := pinnedVersion(ciScript())
	if err != nil {
		t.Fatalf("pinned version: got error %v, want none", err)
	}
	// A Go pseudo-version: MinIO tags are not semver.
	if !regexp.MustCompile(`^v0\.0\.0-\d{14}-[0-9a-f]{12}$`).MatchString(v) {
		t.Fatalf("pinned version: got %q, want a Go pseudo-version", v)
	}
	script, err := os.ReadFile(ciScript())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(script), `BIN="$CACHE/minio-$MINIO_VERSION/minio"`) {
		t.Fatalf(".ci/minio: got no line BIN=\"$CACHE/minio-$MINIO_VERSION/minio\", want the cache layout binary() assumes")
	}
}

func live(t *testing.T, srv Server) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+srv.Endpoint+"/minio/health/live", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func TestSharedServer(t *testing.T) {
	a := Start(t)
	b := Start(t)
	if a.Endpoint != b.Endpoint || a.PID() != b.PID() {
		t.Fatalf("second Start in one test: got %v, want the same server as %v", b, a)
	}
	if a.AccessKey == "minioadmin" || len(a.SecretKey) < 16 {
		t.Fatalf("credentials: got %q/%q, want random ones", a.AccessKey, a.SecretKey)
	}
	if !live(t, a) {
		t.Fatalf("%v: not live", a)
	}
	if x, y := Bucket(t), Bucket(t); x == y {
		t.Fatalf("two buckets: got the same name %q twice, want fresh ones", x)
	}
}

func TestPrivateStopRestart(t *testing.T) {
	srv := StartPrivate(t)
	if !live(t, srv) {
		t.Fatalf("%v: not live", srv)
	}
	pid := srv.PID()
	srv.Stop()
	if live(t, srv) {
		t.Fatalf("after Stop: %v still answers", srv)
	}
	if err := syscallKill0(pid); err == nil {
		t.Fatalf("after Stop: process %d still exists", pid)
	}
	srv.Restart()
	if !live(t, srv) {
		t.Fatalf("after Restart: %v not live", srv)
	}
	if srv.PID() == pid || srv.PID() == 0 {
		t.Fatalf("after Restart: got pid %d, want a new process", srv.PID())
	}
}
