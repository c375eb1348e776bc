package server

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/pairsync/pairsync/storage"
	"github.com/pairsync/pairsync/storage/minio"
	"github.com/pairsync/pairsync/storage/minio/miniotest"
)

// The photo channel runs on a real MinIO on 127.0.0.1 too, when .ci/minio
// has built it (make test does); without it the MinIO cases skip, saying
// so.
func init() {
	photoStoresMinIO = func(t *testing.T) (photoStore, bool) {
		return photoStore{name: "minio", open: func(t *testing.T) storage.Photos {
			srv := miniotest.StartPrivate(t)
			return openMinIO(t, srv)
		}}, true
	}
}

func openMinIO(t testing.TB, srv miniotest.Server) *minio.Store {
	t.Helper()
	cfg := minio.Config{Endpoint: srv.Endpoint, AccessKey: srv.AccessKey, SecretKey: srv.SecretKey,
		Bucket: miniotest.Bucket(t), OpTimeout: 2 * time.Second}
	st, err := minio.Open(t.Context(), cfg)
	// A MinIO that has just started may answer "not initialized yet" for a
	// moment after its readiness check: try again for a few seconds.
	for deadline := time.Now().Add(10 * time.Second); errors.Is(err, storage.ErrUnavailable) && time.Now().Before(deadline); {
		time.Sleep(200 * time.Millisecond)
		st, err = minio.Open(t.Context(), cfg)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// TestPhotoChannelMinIOFaults: an expired signed URL is refused and a new
// one works; MinIO down answers 503 with Retry-After quickly, stores
// nothing, and the server recovers without a restart.
func TestPhotoChannelMinIOFaults(t *testing.T) {
	srv := miniotest.StartPrivate(t)
	e := newEnvWith(t, true, openMinIO(t, srv))
	e.s.presignPut = 2 * time.Second
	pid, _ := domainFixture(t, e)
	off := e.device(t, "officerA")
	off.pull()
	photo := testJPEG(t, 40, 20<<10)
	_, ans := off.push(off.set("visits", "v1", pid, map[string]any{"mode": "onsite", "visited_at": time.Now().UTC().Format(time.RFC3339),
		"officers": []string{"u-officerA"}, "photos": manifestOf("image/jpeg", photo)}))
	wantResults(t, "visit", ans, "applied")

	t.Run("expired URL", func(t *testing.T) {
		var a uploadAnswer
		off.e.call("POST", "/v1/photos/"+sumOf(photo)+"/uploads", off.token, map[string]any{"size": len(photo), "type": "image/jpeg"}).json(t, &a)
		if len(a.Parts) != 1 || !a.Parts[0].Direct {
			t.Fatalf("upload answer: %+v, want one signed part", a)
		}
		time.Sleep(3 * time.Second)
		if r := off.sendPart(a.Parts[0], photo); r.status != http.StatusForbidden {
			t.Fatalf("expired URL: got %d %s, want 403 from MinIO", r.status, r.body)
		}
		if r := off.phoneUpload(photo, "image/jpeg", 0); r.status != 200 {
			t.Fatalf("asking again gives a fresh URL: got %d %s", r.status, r.body)
		}
	})

	t.Run("MinIO down", func(t *testing.T) {
		other := testJPEG(t, 41, 20<<10)
		_, ans := off.push(off.set("visits", "v2", pid, map[string]any{"mode": "onsite", "visited_at": time.Now().UTC().Format(time.RFC3339),
			"officers": []string{"u-officerA"}, "photos": manifestOf("image/jpeg", other)}))
		wantResults(t, "visit 2", ans, "applied")
		srv.Stop()
		start := time.Now()
		r := off.e.call("POST", "/v1/photos/"+sumOf(other)+"/uploads", off.token, map[string]any{"size": len(other), "type": "image/jpeg"})
		took := time.Since(start)
		if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" || took > 3*time.Second {
			t.Fatalf("MinIO down: got %d (Retry-After %q) after %s, want 503 with Retry-After within 3s", r.status, r.header.Get("Retry-After"), took)
		}
		var v visitDetail
		e.call("GET", "/v1/visits/v2", e.login("adminA").AccessToken, nil).json(t, &v)
		if v.Complete {
			t.Fatal("a photo was marked stored while MinIO was down")
		}
		srv.Restart()
		if r := off.phoneUpload(other, "image/jpeg", 0); r.status != 200 {
			t.Fatalf("after MinIO is back: got %d %s", r.status, r.body)
		}
		e.call("GET", "/v1/visits/v2", e.login("adminA").AccessToken, nil).json(t, &v)
		if !v.Complete {
			t.Fatalf("after the upload: %+v, want complete", v)
		}
	})
}
