package server

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pairsync/pairsync/storage"
)

// testJPEG returns a JPEG of noise at least minBytes long (seeded, so each
// seed gives other bytes).
func testJPEG(t testing.TB, seed uint64, minBytes int) []byte {
	t.Helper()
	rng := mrand.New(mrand.NewPCG(seed, 7))
	for w := 320; ; w = w * 11 / 10 {
		h := w * 3 / 4
		img := image.NewRGBA(image.Rect(0, 0, w, h))
		for i := range img.Pix {
			img.Pix[i] = byte(rng.IntN(256))
		}
		var buf bytes.Buffer
		if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 95}); err != nil {
			t.Fatal(err)
		}
		if buf.Len() >= minBytes || w > 4000 {
			return buf.Bytes()
		}
	}
}

func testPNG(t testing.TB) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 40, 30))
	img.Set(3, 3, color.RGBA{R: 255, A: 255})
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func sumOf(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func manifestOf(typ string, photos ...[]byte) []map[string]any {
	var out []map[string]any
	for _, p := range photos {
		out = append(out, map[string]any{"sha256": sumOf(p), "size": len(p), "type": typ})
	}
	return out
}

// phoneUpload sends a photo the way a phone does: ask what is missing,
// PUT each missing part (to the object store's signed URL as is, or to
// the server with the token), then POST done. stopAfter > 0 cuts the
// upload after that many parts (a lost connection). It returns the final
// answer's status and body.
func (d *device) phoneUpload(data []byte, typ string, stopAfter int) result {
	d.t.Helper()
	sum := sumOf(data)
	r := d.e.call("POST", "/v1/photos/"+sum+"/uploads", d.token, map[string]any{"size": len(data), "type": typ})
	if r.status != 200 {
		return r
	}
	var ans uploadAnswer
	r.json(d.t, &ans)
	if ans.Stored {
		return r
	}
	if stopAfter < 0 { // the connection drops before any byte
		return result{status: 0}
	}
	sent := 0
	for _, p := range ans.Parts {
		if p.Sent {
			continue
		}
		if stopAfter > 0 && sent == stopAfter {
			return result{status: 0}
		}
		start := int64(p.Number-1) * ans.PartSize
		body := data[start : start+p.Size]
		if pr := d.sendPart(p, body); pr.status >= 300 {
			return pr
		}
		sent++
	}
	return d.e.call("POST", ans.Done, d.token, nil)
}

func (d *device) sendPart(p uploadPart, body []byte) result {
	d.t.Helper()
	if !p.Direct {
		return d.e.call(p.Method, p.URL, d.token, body)
	}
	req, err := http.NewRequest(p.Method, p.URL, bytes.NewReader(body))
	if err != nil {
		d.t.Fatal(err)
	}
	for k, v := range p.Header {
		req.Header.Set(k, v)
	}
	req.ContentLength = int64(len(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return result{status: 599, body: []byte(err.Error())}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return result{status: resp.StatusCode, body: b, header: resp.Header}
}

// photoStores are the photo stores the channel is tested on: the local
// folder always, MinIO when its binary is built (photoStoresMinIO).
type photoStore struct {
	name string
	open func(t *testing.T) storage.Photos // nil: the local folder
}

var photoStoresMinIO func(t *testing.T) (photoStore, bool)

func photoStores(t *testing.T) []photoStore {
	stores := []photoStore{{name: "files"}}
	if photoStoresMinIO != nil {
		if ms, ok := photoStoresMinIO(t); ok {
			stores = append(stores, ms)
		}
	}
	return stores
}

// TestPhotoChannel: the photo channel end to end on each photo store.
func TestPhotoChannel(t *testing.T) {
	for _, st := range photoStores(t) {
		t.Run(st.name, func(t *testing.T) {
			var store storage.Photos
			if st.open != nil {
				store = st.open(t)
			}
			e := newEnvWith(t, true, store)
			testPhotoChannel(t, e, st)
		})
	}
}

func testPhotoChannel(t *testing.T, e *idEnv, st photoStore) {
	pid, _ := domainFixture(t, e)
	off := e.device(t, "officerA")
	off.pull()
	at := time.Now().UTC().Format(time.RFC3339)
	p1, p2, p3 := testJPEG(t, 1, 50<<10), testJPEG(t, 2, 50<<10), testJPEG(t, 3, 50<<10)
	_, ans := off.push(off.set("visits", "v1", pid, map[string]any{"mode": "onsite", "visited_at": at, "officers": []string{"u-officerA"},
		"location": map[string]any{"lat": 32, "lng": 118.8}, "photos": manifestOf("image/jpeg", p1, p2, p3)}))
	wantResults(t, "visit with 3 photos", ans, "applied")
	admin := e.login("adminA").AccessToken
	visit := func() visitDetail {
		t.Helper()
		var v visitDetail
		e.call("GET", "/v1/visits/v1", admin, nil).json(t, &v)
		return v
	}
	pending := func() int {
		t.Helper()
		var ov overviewReport
		e.call("GET", "/v1/reports/overview?org_unit=unitA", admin, nil).json(t, &ov)
		return ov.Figures.VisitsPendingEvidence
	}
	if v := visit(); v.Complete || len(v.Missing) != 3 || pending() != 1 {
		t.Fatalf("before uploads: complete %v, missing %d, pending %d; want false, 3, 1", v.Complete, len(v.Missing), pending())
	}

	t.Run("cut after 1 of 3, retry sends only what is missing", func(t *testing.T) {
		if r := off.phoneUpload(p1, "image/jpeg", 0); r.status != 200 {
			t.Fatalf("photo 1: %d %s", r.status, r.body)
		}
		// The connection drops before photo 2's bytes.
		if r := off.phoneUpload(p2, "image/jpeg", -1); r.status != 0 && r.status != 200 {
			t.Fatalf("photo 2 cut: %d %s", r.status, r.body)
		}
		if v := visit(); v.Complete || len(v.Missing) != 2 {
			t.Fatalf("after 1 of 3: complete %v missing %v, want 2 missing", v.Complete, v.Missing)
		}
		// The retry: photo 1 is stored (nothing to send), 2 and 3 go.
		r := off.e.call("POST", "/v1/photos/"+sumOf(p1)+"/uploads", off.token, map[string]any{"size": len(p1), "type": "image/jpeg"})
		var a uploadAnswer
		r.json(t, &a)
		if !a.Stored || len(a.Parts) != 0 {
			t.Fatalf("retry of a stored photo: got %+v, want stored and no parts", a)
		}
		for _, p := range [][]byte{p2, p3} {
			if r := off.phoneUpload(p, "image/jpeg", 0); r.status != 200 {
				t.Fatalf("retry: %d %s", r.status, r.body)
			}
		}
		if v := visit(); !v.Complete || len(v.Missing) != 0 || pending() != 0 {
			t.Fatalf("after the retry: complete %v missing %v pending %d, want complete", v.Complete, v.Missing, pending())
		}
	})

	t.Run("a photo resumes inside itself", func(t *testing.T) {
		// Big enough for three parts of this store.
		var probe uploadAnswer
		big0 := testJPEG(t, 10, 1)
		_, ans := off.push(off.set("visits", "v-probe", pid, map[string]any{"mode": "phone", "visited_at": at, "officers": []string{"u-officerA"}, "photos": manifestOf("image/jpeg", big0)}))
		wantResults(t, "probe", ans, "applied")
		off.e.call("POST", "/v1/photos/"+sumOf(big0)+"/uploads", off.token, map[string]any{"size": len(big0), "type": "image/jpeg"}).json(t, &probe)
		big := testJPEG(t, 11, int(probe.PartSize+1)) // two parts at least
		if int64(len(big)) > e.s.photoPolicy.MaxBytes {
			t.Fatalf("a two-part photo (%d bytes) is over the policy's %d", len(big), e.s.photoPolicy.MaxBytes)
		}
		_, ans = off.push(off.set("visits", "v-big", pid, map[string]any{"mode": "phone", "visited_at": at, "officers": []string{"u-officerA"}, "photos": manifestOf("image/jpeg", big)}))
		wantResults(t, "big visit", ans, "applied")
		if r := off.phoneUpload(big, "image/jpeg", 1); r.status != 0 {
			t.Fatalf("cut after one part: %d %s", r.status, r.body)
		}
		var again uploadAnswer
		off.e.call("POST", "/v1/photos/"+sumOf(big)+"/uploads", off.token, map[string]any{"size": len(big), "type": "image/jpeg"}).json(t, &again)
		if len(again.Parts) < 2 || !again.Parts[0].Sent || again.Parts[1].Sent {
			t.Fatalf("resume: got parts %+v, want part 1 sent and the rest not", again.Parts)
		}
		if r := off.phoneUpload(big, "image/jpeg", 0); r.status != 200 {
			t.Fatalf("resumed: %d %s", r.status, r.body)
		}
		if r := e.call("GET", "/v1/photos/"+sumOf(big), admin, nil); r.status != 200 || !bytes.Equal(r.body, big) {
			t.Fatalf("read back: %d, %d bytes, want the photo", r.status, len(r.body))
		}
	})

	t.Run("refusals", func(t *testing.T) {
		other := testJPEG(t, 20, 10<<10)
		notJPEG := testPNG(t)
		big := make([]byte, e.s.photoPolicy.MaxBytes+1)
		_, ans := off.push(off.set("visits", "v-bad", pid, map[string]any{"mode": "phone", "visited_at": at, "officers": []string{"u-officerA"},
			"photos": append(manifestOf("image/jpeg", other, notJPEG), map[string]any{"sha256": sumOf(big), "size": 60 << 20, "type": "image/jpeg"})}))
		wantResults(t, "visit citing bad photos", ans, "applied")
		sum := sumOf(other)
		start := func(size int, typ string) (result, uploadAnswer) {
			r := off.e.call("POST", "/v1/photos/"+sum+"/uploads", off.token, map[string]any{"size": size, "type": typ})
			var a uploadAnswer
			if r.status == 200 {
				r.json(t, &a)
			}
			return r, a
		}
		// Wrong hash: other bytes sent under this photo's hash.
		wrong := testJPEG(t, 21, 10<<10)[:len(other)]
		r, a := start(len(other), "image/jpeg")
		if r.status != 200 {
			t.Fatalf("start: %d %s", r.status, r.body)
		}
		for _, p := range a.Parts {
			off.sendPart(p, wrong[int64(p.Number-1)*a.PartSize:int64(p.Number-1)*a.PartSize+p.Size])
		}
		if r := off.e.call("POST", a.Done, off.token, nil); r.status != 422 || !strings.Contains(string(r.body), "keep the photo") {
			t.Fatalf("wrong hash: got %d %s, want 422 telling to keep the photo", r.status, r.body)
		}
		if r := e.call("GET", "/v1/photos/"+sum, admin, nil); r.status != 404 {
			t.Fatalf("after a wrong hash the photo reads %d, want 404 (nothing stored)", r.status)
		}
		// Wrong size: the declared size is not the bytes'.
		_, a = start(len(other)+5, "image/jpeg")
		for _, p := range a.Parts {
			body := other[int64(p.Number-1)*a.PartSize : min(int64(len(other)), int64(p.Number-1)*a.PartSize+p.Size)]
			if pr := off.sendPart(p, body); pr.status < 400 && p.Number == len(a.Parts) {
				if dr := off.e.call("POST", a.Done, off.token, nil); dr.status < 400 {
					t.Fatalf("wrong size accepted: %d %s", dr.status, dr.body)
				}
			}
		}
		// Wrong type: PNG bytes cited as JPEG; a type the policy refuses; too large.
		if r := off.phoneUpload(notJPEG, "image/jpeg", 0); r.status != 422 {
			t.Fatalf("PNG cited as JPEG: got %d %s, want 422", r.status, r.body)
		}
		if r, _ := start(len(other), "application/pdf"); r.status != 415 {
			t.Fatalf("a PDF: got %d %s, want 415", r.status, r.body)
		}
		r = off.e.call("POST", "/v1/photos/"+sumOf(big)+"/uploads", off.token, map[string]any{"size": len(big), "type": "image/jpeg"})
		if r.status != 413 || !strings.Contains(string(r.body), "MiB") {
			t.Fatalf("too large: got %d %s, want 413 with the limit", r.status, r.body)
		}
		// Someone else's photo, and a photo nobody cites: 404 alike.
		offB := e.device(t, "officerB")
		for _, path := range []string{"/v1/photos/" + sumOf(p1), "/v1/photos/" + strings.Repeat("ab", 32)} {
			if r := offB.e.call("GET", path, offB.token, nil); r.status != 404 {
				t.Fatalf("GET %s by another pairing's officer: got %d, want 404", path, r.status)
			}
			if r := offB.e.call("POST", path+"/uploads", offB.token, map[string]any{"size": 10, "type": "image/jpeg"}); r.status != 404 {
				t.Fatalf("upload %s by another pairing's officer: got %d, want 404", path, r.status)
			}
		}
		// Finally the right bytes go through.
		if r := off.phoneUpload(other, "image/jpeg", 0); r.status != 200 {
			t.Fatalf("the right bytes: %d %s", r.status, r.body)
		}
	})

	t.Run("dedupe and thumbnails", func(t *testing.T) {
		con := e.device(t, "contactA")
		con.pull()
		_, ans := con.push(con.set("issues", "i-photo", pid, map[string]any{"title": "门口道路破损", "category": "livelihood",
			"raised_by": "u-contactA", "raised_at": at, "photos": manifestOf("image/jpeg", p1)}))
		wantResults(t, "contact's issue citing the same photo", ans, "applied")
		r := con.e.call("POST", "/v1/photos/"+sumOf(p1)+"/uploads", con.token, map[string]any{"size": len(p1), "type": "image/jpeg"})
		var a uploadAnswer
		r.json(t, &a)
		if !a.Stored {
			t.Fatalf("the same photo from a second phone: got %s, want stored (sent once)", r.body)
		}
		r = e.call("GET", "/v1/photos/"+sumOf(p1)+"?thumb=1", admin, nil)
		if r.status != 200 {
			t.Fatalf("thumbnail: %d %s", r.status, r.body)
		}
		cfg, err := jpeg.DecodeConfig(bytes.NewReader(r.body))
		if err != nil || max(cfg.Width, cfg.Height) > 320 {
			t.Fatalf("thumbnail: %dx%d (err %v), want a JPEG of at most 320 px", cfg.Width, cfg.Height, err)
		}
	})

	t.Run("collection", func(t *testing.T) {
		root := e.login("root").AccessToken
		// Drop photo 3 from the visit: nobody cites it any more.
		off.pull()
		_, ans := off.push(off.set("visits", "v1", pid, map[string]any{"photos": manifestOf("image/jpeg", p1, p2)}))
		wantResults(t, "drop photo 3", ans, "applied")
		if err := e.s.ledger.Refresh(t.Context()); err != nil {
			t.Fatal(err)
		}
		if got, _ := e.s.ledger.PhotoPairings(t.Context(), sumOf(p3)); len(got) != 0 {
			v, _, _ := e.s.getRecord(t.Context(), "visits", "v1")
			t.Fatalf("photo 3 still cited by %v; v1 is %s", got, v.Value("photos"))
		}
		gc := func(dry bool) gcReport {
			t.Helper()
			var rep gcReport
			r := e.call("POST", fmt.Sprintf("/v1/photos/gc?dry_run=%v", dry), root, nil)
			if r.status != 200 {
				t.Fatalf("gc: %d %s", r.status, r.body)
			}
			r.json(t, &rep)
			return rep
		}
		if rep := gc(true); len(rep.Orphan) != 0 || rep.Young == 0 {
			t.Fatalf("within the grace period: %+v, want no orphans", rep)
		}
		e.advance(8 * 24 * time.Hour)
		root = e.login("root").AccessToken
		admin = e.login("adminA").AccessToken
		rep := gc(true)
		if len(rep.Orphan) != 1 || rep.Orphan[0].SHA256 != sumOf(p3) {
			t.Fatalf("dry run after the grace period: %+v, want photo 3 only", rep)
		}
		if r := e.call("GET", "/v1/photos/"+sumOf(p3), admin, nil); r.status != 404 {
			// photo 3 is uncited now: nobody may read it either
			t.Fatalf("uncited photo: %d, want 404", r.status)
		}
		if rep := gc(false); len(rep.Orphan) != 1 {
			t.Fatalf("collection: %+v", rep)
		}
		if _, err := e.s.photos.StatPhoto(t.Context(), sumOf(p3)); err == nil {
			t.Fatal("photo 3 still stored after the collection")
		}
		for _, p := range [][]byte{p1, p2} {
			if r := e.call("GET", "/v1/photos/"+sumOf(p), admin, nil); r.status != 200 || !bytes.Equal(r.body, p) {
				t.Fatalf("a cited photo after the collection: %d, %d bytes (%.40q), want its %d bytes", r.status, len(r.body), r.body, len(p))
			}
		}
		if rep := gc(true); len(rep.Orphan) != 0 {
			t.Fatalf("second collection: %+v, want nothing", rep)
		}
	})
}

// TestMilestoneEvidencePhotos: a milestone's evidence photos (and a
// project's own photos) travel on the same channel as a visit's. The
// records cite them, so the officer may
// upload them, everyone who sees the project's pairing may read them (the
// contact, the administrator), another pairing's officer may not, and the
// photo collection never removes them while the milestone cites them.
func TestMilestoneEvidencePhotos(t *testing.T) {
	e := newEnvWith(t, true, nil)
	pid, _ := domainFixture(t, e)
	admin := e.login("adminA").AccessToken
	off := e.device(t, "officerA")
	off.pull()
	at := time.Now().UTC().Format(time.RFC3339)
	ev, plan := testJPEG(t, 40, 20<<10), testJPEG(t, 41, 20<<10)
	_, ans := off.push(off.set("projects", "pj-ev", pid, map[string]any{"title": "企业党建指导员进驻", "category": "party_building", "status": "proposed",
		"photos": manifestOf("image/jpeg", plan)}))
	wantResults(t, "project proposed with a photo of its plan", ans, "applied")
	if r := off.phoneUpload(plan, "image/jpeg", 0); r.status != 200 {
		t.Fatalf("officer uploads the project's own photo: got %d %s, want 200", r.status, r.body)
	}
	_, ans = off.push(off.set("milestones", "m-ev", pid, map[string]any{"project": "pj-ev", "title": "召开对接会", "order": 1,
		"done_at": at, "evidence": manifestOf("image/jpeg", ev)}))
	wantResults(t, "milestone done with evidence", ans, "applied")
	if r := off.phoneUpload(ev, "image/jpeg", 0); r.status != 200 {
		t.Fatalf("officer uploads the milestone's evidence: got %d %s, want 200", r.status, r.body)
	}
	con := e.device(t, "contactA")
	offB := e.device(t, "officerB")
	for _, c := range []struct {
		who, token string
		want       int
	}{{"administrator", admin, 200}, {"contact of the pairing", con.token, 200}, {"officer of another pairing", offB.token, 404}} {
		for _, p := range [][]byte{ev, plan} {
			if r := e.call("GET", "/v1/photos/"+sumOf(p), c.token, nil); r.status != c.want || c.want == 200 && !bytes.Equal(r.body, p) {
				t.Fatalf("GET a project's photo as the %s: got %d (%d bytes), want %d", c.who, r.status, len(r.body), c.want)
			}
		}
	}
	var pd projectDetail
	pr := e.call("GET", "/v1/projects/pj-ev", admin, nil)
	pr.json(t, &pd)
	// The API speaks snake_case throughout, its summaries too.
	var raw struct {
		Milestones []map[string]any `json:"milestones"`
	}
	pr.json(t, &raw)
	if len(raw.Milestones) != 1 || raw.Milestones[0]["evidence"] == nil || raw.Milestones[0]["title"] == nil || raw.Milestones[0]["Evidence"] != nil {
		t.Fatalf("project detail's milestone keys: got %v, want snake_case (evidence, title)", raw.Milestones)
	}
	if len(pd.Milestones) != 1 || len(pd.Milestones[0].Evidence) != 1 || pd.Milestones[0].Evidence[0].SHA256 != sumOf(ev) {
		t.Fatalf("project detail: got milestones %+v, want m-ev citing the evidence", pd.Milestones)
	}
	e.advance(8 * 24 * time.Hour)
	root := e.login("root").AccessToken
	var rep gcReport
	e.call("POST", "/v1/photos/gc?dry_run=false", root, nil).json(t, &rep)
	for _, o := range rep.Orphan {
		if o.SHA256 == sumOf(ev) || o.SHA256 == sumOf(plan) {
			t.Fatalf("the photo collection removed a milestone's evidence: %+v", rep)
		}
	}
	admin = e.login("adminA").AccessToken
	if r := e.call("GET", "/v1/photos/"+sumOf(ev), admin, nil); r.status != 200 {
		t.Fatalf("the evidence after the collection: got %d, want 200", r.status)
	}
}
