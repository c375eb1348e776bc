package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"

	"github.com/pairsync/pairsync/server/pairing"
	"github.com/pairsync/pairsync/storage/minio/miniotest"
	"github.com/pairsync/pairsync/syncproto"
)

// ferret is a FerretDB (MongoDB wire protocol on SQLite) the test stops and
// starts again on the same data.
type ferret struct {
	t      testing.TB
	dir    string
	addr   string
	cancel context.CancelFunc
	done   chan struct{}
}

func startFerret(t testing.TB) *ferret {
	f := &ferret{t: t, dir: t.TempDir()}
	f.start()
	t.Cleanup(f.stop)
	return f
}

func (f *ferret) start() {
	f.t.Helper()
	db, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: "127.0.0.1:0"},
		Handler:   "sqlite",
		SQLiteURL: "file:" + f.dir + "/",
		Logger:    slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError + 4})),
	})
	if err != nil {
		f.t.Fatalf("start FerretDB: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = db.Run(ctx)
	}()
	u, err := url.Parse(db.MongoDBURI())
	if err != nil {
		f.t.Fatal(err)
	}
	f.addr, f.cancel, f.done = u.Host, cancel, done
}

// stop stops FerretDB: its listener and connections close.
func (f *ferret) stop() {
	if f.cancel != nil {
		f.cancel()
		<-f.done
		f.cancel = nil
	}
}

// depCall is one request to the server, timed.
type depCall struct {
	status int
	header http.Header
	body   []byte
	took   time.Duration
}

func callTimed(t testing.TB, method, url, token, ctype string, body []byte) depCall {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	began := time.Now()
	resp, err := (&http.Client{Timeout: 60 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return depCall{status: resp.StatusCode, header: resp.Header, body: b, took: time.Since(began)}
}

// waitReady polls /readyz until it answers 200 and returns how long that
// took.
func waitReady(t testing.TB, base string, within time.Duration) time.Duration {
	t.Helper()
	began := time.Now()
	for time.Since(began) < within {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return time.Since(began)
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("/readyz not 200 within %v of the dependency's return", within)
	return 0
}

func noiseJPEG(t testing.TB, seed int) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 320, 240))
	for i := range img.Pix {
		img.Pix[i] = byte(i*seed + i/7)
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestDependenciesDown (SECURITY.md 8): pairsyncd on MongoDB
// (FerretDB) and MinIO, each behind a proxy that can make it slow. MinIO
// stopped, FerretDB stopped, MinIO slow, FerretDB slow, one after the
// other: the routes that need the dependency answer 503 with Retry-After
// within 3 s, /readyz answers 503, what does not need it keeps working,
// nothing is acknowledged that is not stored, and once the dependency is
// back the server serves again without a restart and its goroutines come
// back to their number before the faults.
//
// pairsyncd runs with its default dependency timeouts (-mongodb-timeout,
// -minio-timeout: 2 s each), the ones a deployment gets.
func TestDependenciesDown(t *testing.T) {
	if testing.Short() {
		t.Skip("runs MinIO and FerretDB; skipped with -short")
	}
	mio := miniotest.StartPrivate(t)
	mp := startProxy(t, mio.Endpoint)
	fdb := startFerret(t)
	fp := startProxy(t, fdb.addr)
	env := map[string]string{
		"PAIRSYNC_STORAGE": "mongo", "PAIRSYNC_PHOTOS": "minio",
		"PAIRSYNC_MONGODB_URI": "mongodb://" + fp.addr() + "/", "PAIRSYNC_MONGODB_DATABASE": "faults",
		"PAIRSYNC_MINIO_ENDPOINT": mp.addr(), "PAIRSYNC_MINIO_ACCESS_KEY": mio.AccessKey, "PAIRSYNC_MINIO_SECRET_KEY": mio.SecretKey,
		"PAIRSYNC_MINIO_BUCKET": miniotest.Bucket(t), "PAIRSYNC_ADMIN_PASSWORD": adminPassword,
	}
	m, _, logs := testMain(t, t.TempDir(), env)
	m.Config.Mongo.AllowStandalone = true // FerretDB: no transactions (test only)
	if m.Config.Mongo.Timeout != 2*time.Second || m.Config.MinIO.OpTimeout != 2*time.Second {
		t.Fatalf("default dependency timeouts %v (MongoDB), %v (MinIO); this test measures 2 s each", m.Config.Mongo.Timeout, m.Config.MinIO.OpTimeout)
	}
	if err := m.Run(context.Background()); err != nil {
		t.Fatalf("pairsyncd: %v\n%s", err, logs.String())
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = m.Shutdown(ctx)
		if t.Failed() {
			for _, l := range strings.Split(logs.String(), "\n") {
				if strings.Contains(l, `"level":"ERROR"`) {
					t.Log(l)
				}
			}
		}
	})
	base := m.URL()

	// An officer with a phone in a pairing; a visit citing photos.
	admin := loginAs(t, base, "admin", adminPassword)
	var me struct {
		OrgUnit string `json:"org_unit"`
	}
	_, body := api(t, "GET", base+"/v1/me", admin, nil)
	json.Unmarshal(body, &me)
	officer := createOfficer(t, base, admin, "officer01", me.OrgUnit, officerPassword)
	fx := &fixture{officers: []string{"officer01"}, ids: map[string]string{"officer01": officer}}
	fx.unit = me.OrgUnit
	fx.setUpPairings(t, base, 1)
	dev := registerDevices(t, base, fx, 1)[0]
	var seq atomic.Int64
	photos := [][]byte{noiseJPEG(t, 3), noiseJPEG(t, 5), noiseJPEG(t, 7)}
	var manifest []map[string]any
	for _, p := range photos {
		manifest = append(manifest, map[string]any{"sha256": fmt.Sprintf("%x", sha256Sum(p)), "size": len(p), "type": "image/jpeg"})
	}
	first := dev.batch(t, fx.pairings, 1, &seq)
	vals := visitFields(dev.user, "v-photos")
	vals["photos"], _ = json.Marshal(manifest)
	next, w, err := dev.w.Set(syncproto.NewRecord(pairing.CollVisits, "v-photos", fx.pairings[0]), vals, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	first.changes = append(first.changes, syncproto.Change{Dot: w.Dot, HLC: w.HLC, Record: next})
	first.body, _ = syncproto.Encode(&syncproto.PushRequest{V: 1, Device: syncproto.ReplicaID(dev.id), Changes: first.changes})
	if err := first.send(http.DefaultClient, base); err != nil {
		t.Fatalf("first push: %v", err)
	}
	acked := []*pushed{first}
	putPhoto := func(i int) depCall {
		return callTimed(t, "PUT", base+"/v1/photos/"+fmt.Sprintf("%x", sha256Sum(photos[i])), dev.token, "image/jpeg", photos[i])
	}
	if r := putPhoto(0); r.status != 200 {
		t.Fatalf("photo upload with everything up: %d %s", r.status, r.body)
	}
	// The number of goroutines once every path has run once.
	for range 3 {
		callTimed(t, "GET", base+"/readyz", "", "", nil)
		callTimed(t, "GET", base+"/v1/photos/"+fmt.Sprintf("%x", sha256Sum(photos[0])), dev.token, "", nil)
	}
	runtime.GC()
	baseline := runtime.NumGoroutine()

	var report []string
	refused := 0
	want503 := func(what string, r depCall) {
		t.Helper()
		refused++
		report = append(report, fmt.Sprintf("%s: %d in %v", what, r.status, r.took.Round(10*time.Millisecond)))
		if r.status != 503 || r.header.Get("Retry-After") == "" || r.took > 3*time.Second {
			t.Errorf("%s: got %d (Retry-After %q) after %v: %.200s; want 503 with Retry-After within 3s",
				what, r.status, r.header.Get("Retry-After"), r.took, r.body)
		}
	}
	pushOK := func(what string) {
		t.Helper()
		p := dev.batch(t, fx.pairings, 3, &seq)
		if err := p.send(http.DefaultClient, base); err != nil {
			t.Errorf("%s: push: %v", what, err)
			return
		}
		acked = append(acked, p)
	}
	// pushRefused sends a push that must be refused; it is sent again
	// once the dependency is back.
	pushRefused := func(what string) *pushed {
		t.Helper()
		p := dev.batch(t, fx.pairings, 3, &seq)
		r := callTimed(t, "POST", base+"/v1/sync/push", dev.token, "application/json", p.body)
		want503(what, r)
		return p
	}
	resend := func(what string, p *pushed) {
		t.Helper()
		if err := p.send(http.DefaultClient, base); err != nil {
			t.Errorf("%s: sent again: %v", what, err)
			return
		}
		acked = append(acked, p)
	}

	// MinIO stopped.
	mio.Stop()
	want503("MinIO stopped: GET /readyz", callTimed(t, "GET", base+"/readyz", "", "", nil))
	want503("MinIO stopped: PUT /v1/photos/:id", putPhoto(1))
	want503("MinIO stopped: GET /v1/photos/:id", callTimed(t, "GET", base+"/v1/photos/"+fmt.Sprintf("%x", sha256Sum(photos[0])), dev.token, "", nil))
	pushOK("MinIO stopped") // records do not need the photo store
	mio.Restart()
	report = append(report, fmt.Sprintf("MinIO back: ready after %v", waitReady(t, base, 30*time.Second).Round(10*time.Millisecond)))
	if r := putPhoto(1); r.status != 200 {
		t.Errorf("MinIO back: photo upload: %d %s", r.status, r.body)
	}

	// FerretDB stopped.
	fdb.stop()
	want503("FerretDB stopped: GET /readyz", callTimed(t, "GET", base+"/readyz", "", "", nil))
	p := pushRefused("FerretDB stopped: POST /v1/sync/push")
	want503("FerretDB stopped: GET /v1/visits", callTimed(t, "GET", base+"/v1/visits", admin, "", nil))
	fdb.start()
	fp.setTarget(fdb.addr)
	report = append(report, fmt.Sprintf("FerretDB back: ready after %v", waitReady(t, base, 30*time.Second).Round(10*time.Millisecond)))
	resend("FerretDB back", p)

	// MinIO slow: every chunk 5 s late.
	mp.setDelay(5 * time.Second)
	want503("MinIO slow: GET /readyz", callTimed(t, "GET", base+"/readyz", "", "", nil))
	want503("MinIO slow: PUT /v1/photos/:id", putPhoto(2))
	mp.setDelay(0)
	mp.cutAll()
	report = append(report, fmt.Sprintf("MinIO fast again: ready after %v", waitReady(t, base, 30*time.Second).Round(10*time.Millisecond)))
	if r := putPhoto(2); r.status != 200 {
		t.Errorf("MinIO fast again: photo upload: %d %s", r.status, r.body)
	}

	// FerretDB slow.
	fp.setDelay(5 * time.Second)
	want503("FerretDB slow: GET /readyz", callTimed(t, "GET", base+"/readyz", "", "", nil))
	p = pushRefused("FerretDB slow: POST /v1/sync/push")
	fp.setDelay(0)
	fp.cutAll()
	report = append(report, fmt.Sprintf("FerretDB fast again: ready after %v", waitReady(t, base, 30*time.Second).Round(10*time.Millisecond)))
	resend("FerretDB fast again", p)

	// Nothing acknowledged is missing; every change of a refused push
	// was applied once when sent again.
	changes := 0
	for _, p := range acked {
		for i, ch := range p.changes {
			changes++
			if p.answer.Results[i].Status != syncproto.StatusApplied {
				t.Errorf("%s: answered %+v, want applied", ch.Dot, p.answer.Results[i])
			}
			if r := callTimed(t, "GET", base+"/v1/visits/"+ch.Record.ID, admin, "", nil); r.status != 200 {
				t.Errorf("acknowledged visit %s: GET %d %s", ch.Record.ID, r.status, r.body)
			}
		}
	}
	for i, ph := range photos {
		// As a phone reads: a 503 with Retry-After (the driver's connection
		// pool, cleared by a fault, is ready again once the server is seen)
		// is tried again, a few times.
		r := callTimed(t, "GET", base+"/v1/photos/"+fmt.Sprintf("%x", sha256Sum(ph)), dev.token, "", nil)
		for try := 0; try < 5 && r.status == 503 && r.header.Get("Retry-After") != ""; try++ {
			time.Sleep(time.Second)
			r = callTimed(t, "GET", base+"/v1/photos/"+fmt.Sprintf("%x", sha256Sum(ph)), dev.token, "", nil)
		}
		if r.status != 200 || !bytes.Equal(r.body, ph) {
			t.Errorf("photo %d after the faults: %d, %d bytes", i, r.status, len(r.body))
		}
	}
	// The goroutines come back (idle connections of the faults closed).
	var now int
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		runtime.GC()
		if now = runtime.NumGoroutine(); now <= baseline+10 || time.Now().After(deadline) {
			break
		}
	}
	if now > baseline+10 {
		buf := make([]byte, 1<<20)
		n := runtime.Stack(buf, true)
		t.Errorf("goroutines: %d before the faults, %d after recovery (tolerance 10):\n%s", baseline, now, summarizeStacks(string(buf[:n])))
	}
	t.Logf("%d requests refused with 503 + Retry-After; %d acknowledged changes all stored; goroutines %d before, %d after:\n  %s",
		refused, changes, baseline, now, strings.Join(report, "\n  "))
}

// summarizeStacks counts goroutines by their top function.
func summarizeStacks(all string) string {
	counts := map[string]int{}
	for _, g := range strings.Split(all, "\n\n") {
		lines := strings.Split(g, "\n")
		if len(lines) > 1 {
			counts[strings.TrimSpace(lines[1])]++
		}
	}
	var b strings.Builder
	for f, n := range counts {
		if n > 1 {
			fmt.Fprintf(&b, "%4d %s\n", n, f)
		}
	}
	return b.String()
}

func sha256Sum(b []byte) [32]byte { return sha256.Sum256(b) }
