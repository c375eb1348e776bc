package main

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/jpeg"
	"path/filepath"
	"testing"
	"time"

	"github.com/pairsync/pairsync/mobile"
	"github.com/pairsync/pairsync/server/pairing"
	"github.com/pairsync/pairsync/storage/minio/miniotest"
	"github.com/pairsync/pairsync/storage/mongo/mongotest"
)

// TestScaleOutRoundTrip runs pairsyncd as deployments that outgrow one
// machine do, -storage=mongo -photos=minio (FerretDB embedded in the test,
// or MONGODB_URI; a real MinIO on 127.0.0.1), and takes a visit with a
// photo from the Go client through push, the photo channel and a second
// device's pull.
func TestScaleOutRoundTrip(t *testing.T) {
	mongoURI, standalone := mongotest.URI(t)
	srv := miniotest.StartPrivate(t)
	env := map[string]string{
		"PAIRSYNC_STORAGE": "mongo", "PAIRSYNC_PHOTOS": "minio",
		"PAIRSYNC_MONGODB_URI": mongoURI, "PAIRSYNC_MONGODB_DATABASE": "e2e_" + time.Now().Format("150405"),
		"PAIRSYNC_MINIO_ENDPOINT": srv.Endpoint, "PAIRSYNC_MINIO_ACCESS_KEY": srv.AccessKey, "PAIRSYNC_MINIO_SECRET_KEY": srv.SecretKey,
		"PAIRSYNC_MINIO_BUCKET": miniotest.Bucket(t), "PAIRSYNC_ADMIN_PASSWORD": "e2e-admin-password",
	}
	m, _, logs := testMain(t, t.TempDir(), env)
	m.Config.Mongo.AllowStandalone = standalone // FerretDB: no transactions (test only)
	stopped := make(chan error, 1)
	go func() { stopped <- m.Run(context.Background()) }()
	select {
	case <-m.Ready():
	case err := <-stopped:
		t.Fatalf("pairsyncd did not start: %v\n%s", err, logs.String())
	case <-time.After(60 * time.Second):
		t.Fatal("pairsyncd not ready after 60s")
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = m.Shutdown(ctx)
		_ = m.Close()
	})
	base := m.URL()

	// The administrator sets up a pairing with an officer, over the API.
	status, body := api(t, "POST", base+"/v1/auth/login", "", map[string]string{"username": "admin", "password": env["PAIRSYNC_ADMIN_PASSWORD"]})
	if status != 200 {
		t.Fatalf("admin login: %d %s", status, body)
	}
	var login struct {
		AccessToken string `json:"access_token"`
		User        struct {
			OrgUnit string `json:"org_unit"`
		} `json:"user"`
	}
	json.Unmarshal(body, &login)
	admin, unit := login.AccessToken, login.User.OrgUnit
	officer := createOfficer(t, base, admin, "officer1", unit, "officer-password-1")
	status, body = api(t, "POST", base+"/v1/counterparties", admin, map[string]any{"fields": map[string]any{
		"kind": "enterprise", "name": "苏州某某精密机械有限公司", "credit_code": pairing.CompleteCreditCode("91320500MA1XYK123"), "org_unit": unit}})
	if status != 201 {
		t.Fatalf("counterparty: %d %s", status, body)
	}
	var cp struct{ Record struct{ ID string } }
	json.Unmarshal(body, &cp)
	status, body = api(t, "POST", base+"/v1/pairings", admin, map[string]any{"fields": map[string]any{"name": "一支部 ↔ 精密机械", "status": "active",
		"branches": []string{unit}, "counterparties": []string{cp.Record.ID}, "officers": []map[string]any{{"user_id": officer, "primary": true}}}})
	if status != 201 {
		t.Fatalf("pairing: %d %s", status, body)
	}
	var pr struct{ Record struct{ ID string } }
	json.Unmarshal(body, &pr)
	pid := pr.Record.ID

	// The officer's phone: a visit with a photo, pushed, then the photo.
	phone, err := mobile.Open(filepath.Join(t.TempDir(), "phone.db"), mobile.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer phone.Close()
	ctx := context.Background()
	if err := phone.SignIn(ctx, base, "officer1", "officer-password-1", "测试手机"); err != nil {
		t.Fatal(err)
	}
	if _, err := phone.Sync(ctx); err != nil {
		t.Fatalf("first sync: %v", err)
	}
	img := image.NewRGBA(image.Rect(0, 0, 640, 480))
	for i := range img.Pix {
		img.Pix[i] = byte(i * 7)
	}
	var jb bytes.Buffer
	jpeg.Encode(&jb, img, &jpeg.Options{Quality: 90})
	photo, err := phone.AddPhoto(jb.Bytes(), "image/jpeg")
	if err != nil {
		t.Fatal(err)
	}
	vals := map[string]json.RawMessage{}
	for k, v := range map[string]any{"mode": "onsite", "visited_at": time.Now().UTC().Format(time.RFC3339),
		"officers": []string{officer}, "notes": "走访企业，了解设备更新贷款需求"} {
		vals[k], _ = json.Marshal(v)
	}
	vals["photos"] = mobile.Manifest(photo)
	if err := phone.Set("visits", "v-e2e", pid, vals); err != nil {
		t.Fatal(err)
	}
	p, err := phone.Sync(ctx)
	if err != nil || phone.Pending() != 0 || len(phone.Rejected()) != 0 || p.PhotosDone != 1 {
		t.Fatalf("sync: %+v (err %v), pending %d, rejected %+v; want the visit and its photo sent", p, err, phone.Pending(), phone.Rejected())
	}

	// The server holds the visit, complete, and the photo in MinIO.
	status, body = api(t, "GET", base+"/v1/visits/v-e2e", admin, nil)
	var v struct {
		Complete bool `json:"complete"`
	}
	json.Unmarshal(body, &v)
	if status != 200 || !v.Complete {
		t.Fatalf("the visit on the server: %d %s, want complete", status, body)
	}
	status, body = api(t, "GET", base+"/v1/photos/"+photo.SHA256, admin, nil)
	if status != 200 || !bytes.Equal(body, jb.Bytes()) {
		t.Fatalf("the photo: %d, %d bytes; want its %d bytes", status, len(body), jb.Len())
	}

	// A second device of the same officer pulls it all.
	other, err := mobile.Open(filepath.Join(t.TempDir(), "tablet.db"), mobile.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if err := other.SignIn(ctx, base, "officer1", "officer-password-1", "测试平板"); err != nil {
		t.Fatal(err)
	}
	if _, err := other.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	got, ok := other.Get("visits", "v-e2e")
	if !ok || pairing.Str(got, "notes") != "走访企业，了解设备更新贷款需求" {
		t.Fatalf("second device: %v %v, want the visit", got, ok)
	}
}
