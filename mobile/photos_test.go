package mobile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// testPhoto returns a w×h JPEG (or PNG) of noise from seed, padded after
// its end with pad bytes (readers stop at the end marker; the server reads
// the header and hashes everything): a photo of any size, quickly.
func testPhoto(t testing.TB, format string, w, h, pad int, seed uint64) []byte {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 7))
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			m.Set(x, y, color.RGBA{uint8(r.IntN(256)), uint8(x), uint8(y), 255})
		}
	}
	var b bytes.Buffer
	var err error
	if format == "png" {
		err = png.Encode(&b, m)
	} else {
		err = jpeg.Encode(&b, m, &jpeg.Options{Quality: 80})
	}
	if err != nil {
		t.Fatal(err)
	}
	tail := make([]byte, pad)
	for i := range tail {
		tail[i] = byte(r.Uint32())
	}
	return append(b.Bytes(), tail...)
}

// photoTraffic is an http.RoundTripper that counts the photo requests and
// the bytes of the parts sent, and can cut the connection: once cutAfter
// part bytes have gone (0: never), every request fails until reconnect.
type photoTraffic struct {
	base http.RoundTripper

	mu        sync.Mutex
	requests  []string // "METHOD path" of photo requests
	partBytes int64    // part bytes fully sent
	parts     int      // parts fully sent
	cutAfter  int64
	cut       bool
	// inject answers the next requests whose "METHOD path" contains the
	// key with the status (Retry-After: 1 for a 429, else 0), once each.
	inject map[string][]int
	// onPart, when set, runs before the n-th part request (1-based) and
	// may fail it.
	onPart func(n int) error
}

var errCut = errors.New("connection cut (test)")

func (p *photoTraffic) RoundTrip(req *http.Request) (*http.Response, error) {
	photo := strings.HasPrefix(req.URL.Path, "/v1/photos/")
	part := photo && strings.Contains(req.URL.Path, "/parts/")
	p.mu.Lock()
	if p.cut {
		p.mu.Unlock()
		return nil, errCut
	}
	key := req.Method + " " + req.URL.Path
	if photo {
		p.requests = append(p.requests, key)
	}
	var status int
	for k, sts := range p.inject {
		if strings.Contains(key, k) && len(sts) > 0 {
			status, p.inject[k] = sts[0], sts[1:]
			break
		}
	}
	nPart := 0
	if part {
		nPart = len(p.requestsWith("/parts/"))
	}
	onPart := p.onPart
	p.mu.Unlock()
	if status != 0 {
		if req.Body != nil {
			io.Copy(io.Discard, req.Body)
			req.Body.Close()
		}
		retryAfter := "0"
		if status == http.StatusTooManyRequests {
			retryAfter = "1" // honoured: the test sees the second
		}
		return &http.Response{StatusCode: status, Header: http.Header{"Retry-After": {retryAfter}, "Content-Type": {"application/json"}},
			Body: io.NopCloser(strings.NewReader(`{"code":"unavailable","message":"injected"}`)), Request: req}, nil
	}
	if part && onPart != nil {
		if err := onPart(nPart); err != nil {
			return nil, err
		}
	}
	if part && req.Body != nil {
		req.Body = &cutReader{rc: req.Body, t: p}
	}
	resp, err := p.base.RoundTrip(req)
	if err == nil && part && resp.StatusCode/100 == 2 {
		p.mu.Lock()
		p.parts++
		p.partBytes += req.ContentLength
		p.mu.Unlock()
	}
	return resp, err
}

func (p *photoTraffic) requestsWith(s string) []string {
	var out []string
	for _, r := range p.requests {
		if strings.Contains(r, s) {
			out = append(out, r)
		}
	}
	return out
}

func (p *photoTraffic) count(s string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.requestsWith(s))
}

func (p *photoTraffic) sent() (parts int, bytes int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.parts, p.partBytes
}

func (p *photoTraffic) reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.requests, p.parts, p.partBytes, p.cut, p.cutAfter = nil, 0, 0, false, 0
}

// cutReader counts a part's body as it goes and fails it once the
// traffic's cutAfter is reached.
type cutReader struct {
	rc io.ReadCloser
	t  *photoTraffic
	n  int64
}

func (c *cutReader) Read(b []byte) (int, error) {
	c.t.mu.Lock()
	limit, total := c.t.cutAfter, c.t.partBytes+c.n
	c.t.mu.Unlock()
	if limit > 0 && total+int64(len(b)) > limit {
		allow := limit - total
		if allow <= 0 {
			c.t.mu.Lock()
			c.t.cut = true
			c.t.mu.Unlock()
			return 0, errCut
		}
		b = b[:allow]
	}
	n, err := c.rc.Read(b)
	c.n += int64(n)
	return n, err
}

func (c *cutReader) Close() error { return c.rc.Close() }

// visitWith writes a visit citing photos.
func visitWith(t testing.TB, e *Engine, id, pairing string, photos ...Photo) {
	t.Helper()
	f := jsonFields(t, map[string]any{"notes": "走访并拍照 " + id, "mode": "onsite"})
	f["photos"] = Manifest(photos...)
	must(t, e.Set("visits", id, pairing, f))
}

// serverPhoto reads a photo back from the server as the user would.
func serverPhoto(t testing.TB, w *world, user, sum string) (int, []byte) {
	t.Helper()
	return w.call("GET", "/v1/photos/"+sum, w.login(user), nil)
}

func addPhoto(t testing.TB, e *Engine, data []byte, typ string) Photo {
	t.Helper()
	p, err := e.AddPhoto(data, typ)
	if err != nil {
		t.Fatalf("add photo: %v", err)
	}
	return p
}

// TestPhotosSynced: a visit with three photos (one of several parts) is
// synced; the server has all three, byte for byte, and the phone's copies
// are gone.
func TestPhotosSynced(t *testing.T) {
	w := newWorld(t)
	tr := &photoTraffic{base: http.DefaultTransport}
	var last Progress
	off, _ := w.engine("officerA", Config{Transport: tr, OnProgress: func(p Progress) { last = p }})
	data := [][]byte{
		testPhoto(t, "jpeg", 64, 48, 0, 1),
		testPhoto(t, "png", 40, 30, 0, 2),
		testPhoto(t, "jpeg", 320, 240, 2<<20+12345, 3), // three parts of 1 MiB on the local store
	}
	var photos []Photo
	for i, d := range data {
		p := addPhoto(t, off, d, "")
		photos = append(photos, p)
		if path := off.LocalPhoto(p.SHA256); path == "" {
			t.Fatalf("photo %d: no local copy", i)
		}
	}
	if p := photos[1]; p.Type != "image/png" || p.Width != 40 || p.Height != 30 || p.Size != int64(len(data[1])) {
		t.Fatalf("png manifest entry: got %+v, want image/png 40×30 of %d bytes", p, len(data[1]))
	}
	if p := photos[2]; p.Type != "image/jpeg" || p.Width != 320 || p.Height != 240 {
		t.Fatalf("jpeg manifest entry: got %+v, want image/jpeg 320×240", p)
	}
	photos[0].TakenAt = time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	photos[0].HasLocation, photos[0].Lat, photos[0].Lng = true, 32.06, 118.79
	if pp := off.PendingPhotos(); len(pp) != 3 || pp[0].State != PhotoWaitingRecord {
		t.Fatalf("before the visit: %+v; want 3 photos waiting for a record", pp)
	}
	visitWith(t, off, "v1", "p1", photos...)

	p := mustSync(t, off)
	t.Logf("progress: %+v", p)
	var total int64
	for _, d := range data {
		total += int64(len(d))
	}
	if p.PhotosDone != 3 || p.PhotosTotal != 3 || p.PhotoBytesDone != total || p.PhotoBytesTotal != total || p.PhotosRefused != 0 {
		t.Fatalf("progress: photos %d/%d, bytes %d/%d, refused %d; want 3/3, %d/%d, 0", p.PhotosDone, p.PhotosTotal, p.PhotoBytesDone, p.PhotoBytesTotal, p.PhotosRefused, total, total)
	}
	if last.Phase != PhaseDone || last.PhotosDone != 3 {
		t.Fatalf("last OnProgress: %+v", last)
	}
	for i, ph := range photos {
		st, body := serverPhoto(t, w, "officerA", ph.SHA256)
		if st != 200 || !bytes.Equal(body, data[i]) {
			t.Errorf("photo %d on the server: status %d, %d bytes; want 200 and its %d bytes", i, st, len(body), len(data[i]))
		}
		if _, err := os.Stat(off.photoPath(ph.SHA256)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("photo %d: local copy still there after the server stored it (%v)", i, err)
		}
	}
	if pp := off.PendingPhotos(); len(pp) != 0 {
		t.Fatalf("pending photos after sync: %+v", pp)
	}
	// The manifest went as written, taken_at and place included.
	r, _ := off.Get("visits", "v1")
	var got []Photo
	if err := json.Unmarshal(r.Value("photos"), &got); err != nil || len(got) != 3 || got[0] != photos[0] || got[2] != photos[2] {
		t.Errorf("manifest: %s; want %+v", r.Value("photos"), photos)
	}
	// Parts: 1 + 1 + 3, each once; the next sync sends nothing.
	if parts, n := tr.sent(); parts != 5 || n != total {
		t.Errorf("parts sent: %d (%d bytes); want 5 (%d bytes)", parts, n, total)
	}
	tr.reset()
	if p := mustSync(t, off); p.PhotosTotal != 0 || tr.count("/v1/photos/") != 0 {
		t.Fatalf("second sync: %+v, %d photo requests; want none", p, tr.count("/v1/photos/"))
	}
	// The same photo from a second phone: the server has it, nothing sent.
	adm, _ := w.engine("adminA", Config{Transport: tr})
	again := addPhoto(t, adm, data[2], "")
	visitWith(t, adm, "v2", "p1", again)
	tr.reset()
	if p := mustSync(t, adm); p.PhotosDone != 1 || tr.count("/parts/") != 0 || tr.count("/done") != 0 {
		t.Fatalf("a photo the server has: %+v, requests %v; want it done with one uploads request", p, tr.requests)
	}
}

// TestPhotoResume: the connection is cut in the middle of a photo's third
// part; the Sync fails after its attempts with the records done; the next
// Sync sends only the parts the server lacks.
func TestPhotoResume(t *testing.T) {
	w := newWorld(t)
	tr := &photoTraffic{base: http.DefaultTransport}
	off, _ := w.engine("officerA", Config{Transport: tr, MaxAttempts: 2, MaxRetryWait: time.Millisecond})
	data := testPhoto(t, "jpeg", 200, 150, 3<<20+500<<10, 4) // 4 parts: 1, 1, 1 MiB and the rest
	ph := addPhoto(t, off, data, "image/jpeg")
	visitWith(t, off, "v1", "p1", ph)
	tr.mu.Lock()
	tr.cutAfter = 2<<20 + 300<<10 // two parts and 300 KiB of the third
	tr.mu.Unlock()

	p, err := off.Sync(t.Context())
	if !errors.Is(err, errCut) || p.UploadDone != 1 || p.PhotosDone != 0 {
		t.Fatalf("cut sync: %+v, %v; want the visit pushed, the photo not done, the cut reported", p, err)
	}
	if w.head("p1") != 1 {
		t.Fatalf("the visit did not wait for its photo: head %d, want 1", w.head("p1"))
	}
	parts, _ := tr.sent()
	pp := off.PendingPhotos()
	if parts != 2 || len(pp) != 1 || pp[0].State != PhotoRetrying || pp[0].Attempts != 2 {
		t.Fatalf("after the cut: %d parts stored, pending %+v; want 2 parts, the photo retrying after 2 failed attempts", parts, pp)
	}
	if st, _ := serverPhoto(t, w, "officerA", ph.SHA256); st != 404 {
		t.Fatalf("photo on the server before done: %d, want 404", st)
	}

	tr.reset()
	var seen []Progress
	off.cfg.OnProgress = func(p Progress) { seen = append(seen, p) }
	p = mustSync(t, off)
	parts, n := tr.sent()
	if want := int64(len(data)) - 2<<20; parts != 2 || n != want {
		t.Fatalf("resumed: %d parts, %d bytes; want 2 parts, %d bytes (only the missing ones)", parts, n, want)
	}
	if got := tr.count("/uploads"); got != 1 {
		t.Errorf("uploads requests: %d, want 1", got)
	}
	if p.PhotosDone != 1 || p.PhotoBytesDone != int64(len(data)) {
		t.Fatalf("resumed progress: %+v", p)
	}
	// Progress counted the parts the server held from the start.
	for _, s := range seen {
		if s.Phase == PhasePhotos && s.PhotoBytesDone > 0 && s.PhotoBytesDone < 2<<20 {
			t.Errorf("progress went below what the server held: %+v", s)
		}
	}
	if st, body := serverPhoto(t, w, "officerA", ph.SHA256); st != 200 || !bytes.Equal(body, data) {
		t.Fatalf("photo on the server: %d, %d bytes", st, len(body))
	}
}

// TestPhotoRefused: a photo declared PNG whose bytes are JPEG is refused by
// the server; it is kept and reported with the server's message, and the
// other photos go. The next Sync does not send it again; RetryPhoto does.
func TestPhotoRefused(t *testing.T) {
	w := newWorld(t)
	tr := &photoTraffic{base: http.DefaultTransport}
	off, _ := w.engine("officerA", Config{Transport: tr})
	good1 := addPhoto(t, off, testPhoto(t, "jpeg", 30, 20, 0, 5), "")
	bad := addPhoto(t, off, testPhoto(t, "jpeg", 30, 20, 0, 6), "image/png")
	good2 := addPhoto(t, off, testPhoto(t, "png", 30, 20, 0, 7), "")
	if bad.Type != "image/png" {
		t.Fatalf("declared type: got %s, want image/png as given", bad.Type)
	}
	visitWith(t, off, "v1", "p1", good1, bad, good2)
	p := mustSync(t, off)
	if p.PhotosDone != 2 || p.PhotosRefused != 1 {
		t.Fatalf("progress: %+v; want 2 stored, 1 refused", p)
	}
	pp := off.PendingPhotos()
	if len(pp) != 1 || pp[0].SHA256 != bad.SHA256 || pp[0].State != PhotoRefused || pp[0].Status != 422 || pp[0].Code != "validation_failed" || !strings.Contains(pp[0].Message, "declared") {
		t.Fatalf("pending photos: %+v; want the mislabelled one refused with the server's 422 and message", pp)
	}
	t.Logf("refused: %d %s: %s", pp[0].Status, pp[0].Code, pp[0].Message)
	if off.LocalPhoto(bad.SHA256) == "" {
		t.Fatal("the refused photo's local copy is gone; it must stay")
	}
	for _, g := range []Photo{good1, good2} {
		if st, _ := serverPhoto(t, w, "officerA", g.SHA256); st != 200 {
			t.Errorf("good photo %s: %d", g.SHA256[:8], st)
		}
	}
	tr.reset()
	if p := mustSync(t, off); tr.count(bad.SHA256) != 0 || p.PhotosRefused != 1 {
		t.Fatalf("next sync: %d requests for the refused photo, %+v; want none and it still reported", tr.count(bad.SHA256), p)
	}
	must(t, off.RetryPhoto(bad.SHA256))
	if p := mustSync(t, off); tr.count(bad.SHA256+"/uploads") != 1 || p.PhotosRefused != 1 {
		t.Fatalf("after RetryPhoto: %d uploads requests, %+v; want one more try, refused again", tr.count(bad.SHA256+"/uploads"), p)
	}
	must(t, off.DiscardPhoto(bad.SHA256))
	if len(off.PendingPhotos()) != 0 || off.LocalPhoto(bad.SHA256) != "" {
		t.Fatal("discarded photo still queued")
	}
}

// TestPhotoWaitsForRecord: a photo cited only by a rejected record stays
// on the phone, waiting, and is never offered to the server.
func TestPhotoWaitsForRecord(t *testing.T) {
	w := newWorld(t)
	tr := &photoTraffic{base: http.DefaultTransport}
	off, _ := w.engine("officerA", Config{Transport: tr})
	ph := addPhoto(t, off, testPhoto(t, "jpeg", 30, 20, 0, 8), "")
	visitWith(t, off, "v1", "p2", ph) // p2 is not officerA's: rejected
	p := mustSync(t, off)
	if p.Rejected != 1 || p.PhotosWaiting != 1 || p.PhotosTotal != 0 || tr.count("/v1/photos/") != 0 {
		t.Fatalf("%+v, %d photo requests; want the visit rejected, the photo waiting, nothing sent", p, tr.count("/v1/photos/"))
	}
	if pp := off.PendingPhotos(); len(pp) != 1 || pp[0].State != PhotoWaitingRecord {
		t.Fatalf("pending: %+v", pp)
	}
	// Cited by an accepted record: it goes.
	visitWith(t, off, "v2", "p1", ph)
	if p := mustSync(t, off); p.PhotosDone != 1 {
		t.Fatalf("cited by an accepted visit: %+v", p)
	}
}

// TestPhotosWiFiOnly: with WiFiOnly, photos wait for Wi-Fi; records go.
func TestPhotosWiFiOnly(t *testing.T) {
	w := newWorld(t)
	tr := &photoTraffic{base: http.DefaultTransport}
	var wifi atomic.Bool
	off, _ := w.engine("officerA", Config{Transport: tr, WiFiOnly: true, OnWiFi: wifi.Load})
	a := addPhoto(t, off, testPhoto(t, "jpeg", 30, 20, 0, 9), "")
	b := addPhoto(t, off, testPhoto(t, "jpeg", 30, 20, 0, 10), "")
	visitWith(t, off, "v1", "p1", a, b)
	p := mustSync(t, off)
	if p.UploadDone != 1 || p.PhotosWaiting != 2 || p.PhotosDone != 0 || tr.count("/v1/photos/") != 0 {
		t.Fatalf("on mobile data: %+v, %d photo requests; want the visit pushed, 2 photos waiting, none sent", p, tr.count("/v1/photos/"))
	}
	if pp := off.PendingPhotos(); len(pp) != 2 || pp[0].State != PhotoWaitingWiFi {
		t.Fatalf("pending: %+v; want both waiting for Wi-Fi", pp)
	}
	wifi.Store(true)
	if p, err := off.SyncPhotos(t.Context()); err != nil || p.PhotosDone != 2 {
		t.Fatalf("on Wi-Fi: %+v %v", p, err)
	}
	if len(off.PendingPhotos()) != 0 {
		t.Fatal("photos left after syncing on Wi-Fi")
	}
}

// TestPhotoRetry: 5xx and 429 answers are tried again within the Sync
// (after Retry-After), resuming the upload.
func TestPhotoRetry(t *testing.T) {
	w := newWorld(t)
	tr := &photoTraffic{base: http.DefaultTransport, inject: map[string][]int{
		"/uploads": {503, 429}, "/parts/2": {502}, "/done": {500},
	}}
	off, _ := w.engine("officerA", Config{Transport: tr, MaxAttempts: 5})
	data := testPhoto(t, "jpeg", 100, 80, 1<<20+1000, 11) // 2 parts
	ph := addPhoto(t, off, data, "")
	visitWith(t, off, "v1", "p1", ph)
	start := time.Now()
	p := mustSync(t, off)
	if p.PhotosDone != 1 {
		t.Fatalf("%+v", p)
	}
	// uploads: 503, 429, ok (parts 1 ok, 2 → 502); uploads (part 1 held),
	// part 2 ok, done → 500; uploads (all held), done ok.
	if got := tr.count("/uploads"); got != 5 {
		t.Errorf("uploads requests: %d, want 5 (%v)", got, tr.requests)
	}
	if parts, _ := tr.sent(); parts != 2 {
		t.Errorf("parts stored: %d, want 2 (each once)", parts)
	}
	took := time.Since(start)
	t.Logf("4 retries in %v (Retry-After: 1 on the 429, 0 on the others)", took.Round(time.Millisecond))
	if took < time.Second {
		t.Errorf("took %v: the 429's Retry-After of 1s was not honoured", took)
	}
	if st, body := serverPhoto(t, w, "officerA", ph.SHA256); st != 200 || !bytes.Equal(body, data) {
		t.Fatalf("photo on the server: %d", st)
	}
}

// TestPhotoCrash: the engine is closed (killed) in the middle of a photo's
// upload; reopened from its files, the next Sync finishes it, sending only
// the parts the server lacks; the photo is stored once.
func TestPhotoCrash(t *testing.T) {
	w := newWorld(t)
	tr := &photoTraffic{base: http.DefaultTransport}
	off, path := w.engine("officerA", Config{Transport: tr})
	data := testPhoto(t, "jpeg", 120, 90, 3<<20, 12) // 4 parts
	ph := addPhoto(t, off, data, "")
	visitWith(t, off, "v1", "p1", ph)
	tr.onPart = func(n int) error {
		if n == 3 {
			off.Close()
			return errCut // the process died with the request
		}
		return nil
	}
	if _, err := off.Sync(t.Context()); !errors.Is(err, ErrClosed) {
		t.Fatalf("sync of a closed engine: %v, want ErrClosed", err)
	}
	if parts, _ := tr.sent(); parts != 2 {
		t.Fatalf("parts before the crash: %d, want 2", parts)
	}
	tr.reset()
	tr.onPart = nil
	again, err := Open(path, Config{Transport: tr})
	must(t, err)
	defer again.Close()
	if pp := again.PendingPhotos(); len(pp) != 1 || pp[0].SentBytes != 0 && pp[0].SentBytes != 2<<20 {
		t.Fatalf("after reopening: %+v", pp)
	}
	p := mustSync(t, again)
	parts, n := tr.sent()
	if want := int64(len(data)) - 2<<20; p.PhotosDone != 1 || parts != 2 || n != want || p.UploadDone != 0 {
		t.Fatalf("after the crash: %+v; %d parts, %d bytes sent; want the photo done with 2 parts, %d bytes, no change pushed again", p, parts, n, want)
	}
	if w.head("p1") != 1 {
		t.Errorf("p1 head %d, want 1: the visit was committed once", w.head("p1"))
	}
	if st, body := serverPhoto(t, w, "officerA", ph.SHA256); st != 200 || !bytes.Equal(body, data) {
		t.Fatalf("photo on the server: %d", st)
	}
	// One receipt, one object (the photo scope also holds the grant that
	// lets p1's citations open it).
	receipts := 0
	for k := range w.serverRecords("_photos") {
		if strings.HasPrefix(k, "photos/") {
			receipts++
		}
	}
	if receipts != 1 {
		t.Errorf("photo receipts: %d, want 1", receipts)
	}
	if _, err := os.Stat(again.photoPath(ph.SHA256)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("local copy kept after stored: %v", err)
	}
	t.Logf("resumed after a crash: %s", fmt.Sprint(tr.requests))
}

// TestPhotoLocalRules: what AddPhoto refuses, keeps once, and what a Reset
// removes.
func TestPhotoLocalRules(t *testing.T) {
	w := newWorld(t)
	off, _ := w.engine("officerA", Config{})
	if _, err := off.AddPhoto([]byte("not a photo at all"), ""); err == nil {
		t.Error("text taken as a photo")
	}
	if _, err := off.AddPhoto(nil, ""); err == nil {
		t.Error("no bytes taken as a photo")
	}
	jpg := testPhoto(t, "jpeg", 30, 20, 0, 13)
	if _, err := off.AddPhoto(jpg[:200], ""); err == nil {
		t.Error("a cut JPEG header taken as a photo")
	}
	a := addPhoto(t, off, jpg, "")
	b := addPhoto(t, off, jpg, "")
	if a != b || len(off.PendingPhotos()) != 1 {
		t.Fatalf("the same photo twice: %+v %+v, %d queued", a, b, len(off.PendingPhotos()))
	}
	f := t.TempDir() + "/p.jpg"
	must(t, os.WriteFile(f, jpg, 0o600))
	if c, err := off.AddPhotoFile(f, ""); err != nil || c.SHA256 != a.SHA256 {
		t.Fatalf("from a file: %+v %v", c, err)
	}
	// A damaged local copy is reported lost, not sent.
	must(t, os.WriteFile(off.photoPath(a.SHA256), jpg[:100], 0o600))
	visitWith(t, off, "v1", "p1", a)
	if p := mustSync(t, off); p.PhotosRefused != 1 || p.PhotosDone != 0 {
		t.Fatalf("damaged copy: %+v", p)
	}
	if pp := off.PendingPhotos(); len(pp) != 1 || pp[0].State != PhotoLost {
		t.Fatalf("damaged copy: %+v, want lost", pp)
	}
	// Adding the photo again restores it; it then goes.
	addPhoto(t, off, jpg, "")
	if p := mustSync(t, off); p.PhotosDone != 1 {
		t.Fatalf("restored copy: %+v", p)
	}
	c := addPhoto(t, off, testPhoto(t, "png", 10, 10, 0, 14), "")
	must(t, off.Reset())
	if off.LocalPhoto(c.SHA256) != "" || len(off.PendingPhotos()) != 0 {
		t.Fatal("Reset kept a photo")
	}
	if ents, _ := os.ReadDir(off.photos); len(ents) != 0 {
		t.Fatalf("Reset left %d files in the photo folder", len(ents))
	}
}

// TestPhotoServerFailsOne: a photo the server keeps failing on (500 after
// every attempt) does not hold back the others; the next Sync tries it
// again. A busy server (503) stops the photo phase instead.
func TestPhotoServerFailsOne(t *testing.T) {
	w := newWorld(t)
	tr := &photoTraffic{base: http.DefaultTransport, inject: map[string][]int{}}
	off, _ := w.engine("officerA", Config{Transport: tr, MaxAttempts: 3, MaxRetryWait: time.Millisecond})
	a := addPhoto(t, off, testPhoto(t, "jpeg", 30, 20, 0, 15), "")
	b := addPhoto(t, off, testPhoto(t, "jpeg", 30, 20, 0, 16), "")
	visitWith(t, off, "v1", "p1", a, b)
	tr.inject[a.SHA256+"/uploads"] = []int{500, 500, 500}
	p := mustSync(t, off)
	if p.PhotosDone != 1 || p.PhotosWaiting != 1 {
		t.Fatalf("%+v; want b stored, a waiting", p)
	}
	if pp := off.PendingPhotos(); len(pp) != 1 || pp[0].SHA256 != a.SHA256 || pp[0].State != PhotoRetrying || pp[0].Status != 500 || pp[0].Attempts != 3 {
		t.Fatalf("pending: %+v", pp)
	}
	if p := mustSync(t, off); p.PhotosDone != 1 || len(off.PendingPhotos()) != 0 {
		t.Fatalf("next sync: %+v", p)
	}
	c := addPhoto(t, off, testPhoto(t, "jpeg", 30, 20, 0, 17), "")
	d := addPhoto(t, off, testPhoto(t, "jpeg", 30, 20, 0, 18), "")
	visitWith(t, off, "v2", "p1", c, d)
	tr.inject["/uploads"] = []int{503, 503, 503}
	p, err := off.Sync(t.Context())
	var serr *ServerError
	if !errors.As(err, &serr) || serr.Status != 503 || p.PhotosDone != 0 || p.PhotosWaiting != 2 || p.UploadDone != 1 {
		t.Fatalf("busy server: %+v, %v; want the visit pushed, the 503 returned, both photos waiting", p, err)
	}
}

// TestSkimCitedMatchesEncodingJSON: the hashes a record cites, read by the
// byte scan (skimCited), are those encoding/json reads (citedSlow) for
// every value the scan takes; the rest it leaves to encoding/json.
func TestSkimCitedMatchesEncodingJSON(t *testing.T) {
	sum := strings.Repeat("ab", 32)
	values := []string{
		string(Manifest(Photo{SHA256: sum, Size: 200000, Type: "image/jpeg", Width: 4000, Height: 3000, TakenAt: "2026-11-22T11:31:32Z"}, Photo{SHA256: strings.Repeat("cd", 32), Size: 1})),
		string(Manifest()),
		`[]`, ` [ ] `, `null`, `"x"`, `{}`, `[null]`, `[1]`, `[[]]`, `[{}]`, `[{},{}]`,
		`["` + sum + `"]`, `["a","b"]`, `["a",1]`, `["a",{"sha256":"b"}]`, `[{"sha256":"b"},"a"]`,
		`[{"sha256":"a","x":{"sha256":"nested"}}]`, `[{"x":["sha256"],"sha256":"a"}]`,
		`[{"SHA256":"upper"}]`, `[{"Sha256":"a","sha256":"b"}]`, `[{"sha256":"a","sha256":"b"}]`,
		`[{"sha256":1}]`, `[{"sha256":null}]`, `[{"sha256":"a\"b"}]`, `[{"sha256":"\u0061"}]`, `["\u0061"]`,
		`[{"sh\u0061256":"a"}]`, `[ {"sha256" : "a" , "type":"image/jpeg" } , {"sha256":"b"} ]`,
		`[{"sha256":"a"}] x`, `[{"sha256":"a"}`, `[{"sha256":"a"},]`, `[,]`, `["a" "b"]`, `[{"sha256":"a" "x":1}]`,
		`[{"sha256":"é"}]`, `[{"size":-1.5e3,"sha256":"a","ok":true,"no":false,"z":null}]`,
	}
	for _, v := range values {
		slow := citedSlow([]byte(v), nil)
		fast, ok := skimCited([]byte(v), nil)
		if !ok {
			continue
		}
		if !slices.Equal(fast, slow) {
			t.Errorf("%s: scan read %q, encoding/json %q", v, fast, slow)
		}
	}
	// The usual values take the scan.
	for _, v := range []string{values[0], `[]`, `["a","b"]`} {
		if _, ok := skimCited([]byte(v), nil); !ok {
			t.Errorf("%s: not read by the scan", v)
		}
	}
}
