package mobile

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
)

// bodyMeter counts the request bodies of pushes as they go out (after the
// engine compressed them, if it does).
type bodyMeter struct {
	base   http.RoundTripper
	pushUp atomic.Int64
	pushes atomic.Int64
	gzip   atomic.Int64
}

func (m *bodyMeter) RoundTrip(req *http.Request) (*http.Response, error) {
	if strings.HasSuffix(req.URL.Path, "/sync/push") {
		m.pushUp.Add(max(req.ContentLength, 0))
		m.pushes.Add(1)
		if req.Header.Get("Content-Encoding") == "gzip" {
			m.gzip.Add(1)
		}
	}
	return m.base.RoundTrip(req)
}

// refuseGzip answers 415 to any request sent with Content-Encoding, as a
// server or proxy that takes no compressed bodies would.
type refuseGzip struct {
	base    http.RoundTripper
	refused atomic.Int64
}

func (r *refuseGzip) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Header.Get("Content-Encoding") != "" {
		r.refused.Add(1)
		body := `{"code":"unsupported_media","message":"no encodings here"}`
		return &http.Response{StatusCode: http.StatusUnsupportedMediaType, Header: http.Header{"Content-Type": {"application/json"}},
			Body: io.NopCloser(strings.NewReader(body)), ContentLength: int64(len(body)), Request: req}, nil
	}
	return r.base.RoundTrip(req)
}

// TestPushCompressed: the engine sends its push bodies gzip-compressed by
// default (a third of the bytes or less for visits), plain with
// Config.PlainPush, and plain from then on after a 415; the server takes
// them all alike.
func TestPushCompressed(t *testing.T) {
	w := newWorldWith(t, true)
	up := map[bool]int64{}
	for _, plain := range []bool{false, true} {
		m := &bodyMeter{base: http.DefaultTransport}
		e, _ := w.engine("officerA", Config{Transport: m, PlainPush: plain})
		for i := range 5 {
			f := benchVisitFields(i)
			f["officers"] = json.RawMessage(`["u-officerA"]`)
			must(t, e.Set("visits", fmt.Sprintf("v-%t-%d", plain, i), "p1", f))
		}
		if p := mustSync(t, e); p.UploadDone != 5 || p.Rejected != 0 {
			t.Fatalf("plain %t: %d uploaded, %d rejected, want 5 and 0: %+v", plain, p.UploadDone, p.Rejected, e.Rejected())
		}
		if got, want := m.gzip.Load(), map[bool]int64{false: m.pushes.Load(), true: 0}[plain]; got != want {
			t.Errorf("plain %t: %d of %d pushes sent gzip, want %d", plain, got, m.pushes.Load(), want)
		}
		up[plain] = m.pushUp.Load()
		sameAsServer(t, w, e, "officer", "p1")
	}
	if up[false]*2 > up[true] {
		t.Errorf("push bodies: %d bytes gzip, %d plain; want gzip under half", up[false], up[true])
	}

	rg := &refuseGzip{base: http.DefaultTransport}
	m := &bodyMeter{base: rg}
	e, _ := w.engine("officerA", Config{Transport: m})
	for round := range 2 {
		f := benchVisitFields(round)
		f["officers"] = json.RawMessage(`["u-officerA"]`)
		must(t, e.Set("visits", fmt.Sprintf("v-refused-%d", round), "p1", f))
		if p := mustSync(t, e); p.UploadDone != 1 || p.Rejected != 0 {
			t.Fatalf("round %d behind a server refusing gzip: %d uploaded, %d rejected, want 1 and 0: %+v", round, p.UploadDone, p.Rejected, e.Rejected())
		}
	}
	if rg.refused.Load() != 1 {
		t.Errorf("gzip bodies refused: %d, want 1 (then plain)", rg.refused.Load())
	}
}
