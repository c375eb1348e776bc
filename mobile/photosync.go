package mobile

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The photo phase of a Sync: after the records, every queued photo that a
// record the server accepted cites goes up, oldest first, one at a time:
//
//	POST /v1/photos/{sha}/uploads {"size","type"} → stored, or the parts
//	     the server lacks, each with where to PUT it
//	PUT  each missing part: to a signed URL of the object store (its
//	     headers, no token) or to the server's part route (the token)
//	POST the upload's done route → the server checks and stores it
//
// A network error, a 5xx or a 429 is tried again, up to
// Config.MaxAttempts, after Retry-After or an exponential backoff with
// jitter; each attempt starts with the uploads request, so it resumes with
// the parts the server lacks. A photo the server refuses (another 4xx) is
// kept, reported, and not sent again until RetryPhoto; the others go on.
// The local copy is deleted only once the server said stored.

// uploadAnswer is the answer of POST /v1/photos/{sha}/uploads.
type uploadAnswer struct {
	SHA256   string       `json:"sha256"`
	Stored   bool         `json:"stored"`
	UploadID string       `json:"upload_id"`
	Size     int64        `json:"size"`
	PartSize int64        `json:"part_size"`
	Parts    []uploadPart `json:"parts"`
	Done     string       `json:"done"`
}

type uploadPart struct {
	Number int               `json:"number"`
	Size   int64             `json:"size"`
	Sent   bool              `json:"sent"`
	Method string            `json:"method"`
	URL    string            `json:"url"`
	Header map[string]string `json:"header"`
	// Direct: a signed URL of the object store; send no token.
	Direct bool `json:"direct"`
}

// failKind is what to do after a failed step of a photo upload.
type failKind int

const (
	failTransient failKind = iota // network, 5xx, 429: wait and try again
	failRestart                   // the upload is gone or incomplete: ask again now
	failRefused                   // the server refuses the photo: keep it, stop
	failWait                      // no record we may see cites it there: next Sync
	failLost                      // the local copy is missing or damaged
)

// photoFail is a failed step of a photo upload.
type photoFail struct {
	kind       failKind
	status     int
	code       string
	message    string
	retryAfter string
	err        error
}

func (f *photoFail) Error() string {
	if f.err != nil {
		return f.err.Error()
	}
	return f.message
}

func (f *photoFail) Unwrap() error { return f.err }

// step names the request a failure came from.
type step int

const (
	stepBegin step = iota
	stepPart
	stepDirect
	stepDone
)

// classify turns a request's error into a photoFail, or returns it as is
// when it ends the phase (closed engine, cancelled, session ended, device
// revoked).
func (s *syncRun) classify(err error, st step) error {
	if errors.Is(err, ErrSignInRequired) || errors.Is(err, ErrDeviceRevoked) || errors.Is(err, ErrClosed) || s.ctx.Err() != nil {
		return err
	}
	var serr *ServerError
	if !errors.As(err, &serr) {
		return &photoFail{kind: failTransient, message: err.Error(), err: err}
	}
	f := &photoFail{status: serr.Status, code: string(serr.Code), message: serr.Message, retryAfter: serr.retryAfter, err: err}
	switch {
	case serr.Status >= 500 || serr.Status == http.StatusTooManyRequests || serr.Status == http.StatusRequestTimeout:
		f.kind = failTransient
	case st == stepBegin && serr.Status == http.StatusNotFound:
		f.kind = failWait
	case st == stepDirect,
		st == stepPart && (serr.Status == http.StatusNotFound || serr.Status == http.StatusUnprocessableEntity),
		st == stepDone && (serr.Status == http.StatusNotFound || serr.Status == http.StatusConflict):
		f.kind = failRestart
	default:
		f.kind = failRefused
	}
	return f
}

// queuedPhoto is a photo ready to go.
type queuedPhoto struct {
	sum   string
	size  int64
	typ   string
	added time.Time
}

// photoQueue lists the photos ready to go (a record the server accepted
// cites them), oldest first, and counts the others.
func (s *syncRun) photoQueue() ([]queuedPhoto, error) {
	var q []queuedPhoto
	refused, waiting := 0, 0
	err := s.e.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketPhotos).ForEach(func(k, v []byte) error {
			var pe photoEntry
			if err := json.Unmarshal(v, &pe); err != nil {
				return fmt.Errorf("photo %s: %w", k, err)
			}
			if pe.Refused != nil || pe.Lost != "" {
				refused++
				return nil
			}
			by, err := citedBy(tx, string(k), pe)
			if err != nil {
				return err
			}
			if by == "" {
				waiting++
				return nil
			}
			q = append(q, queuedPhoto{sum: string(k), size: pe.Size, typ: pe.Type, added: pe.Added})
			return nil
		})
	})
	if err != nil {
		return nil, dbErr(err)
	}
	slices.SortStableFunc(q, func(a, b queuedPhoto) int { return a.added.Compare(b.added) })
	s.p.PhotosRefused, s.p.PhotosWaiting = refused, waiting
	return q, nil
}

// SyncPhotos runs only the photo phase of a Sync: it uploads the queued
// photos that records the server accepted cite (say, once on Wi-Fi).
func (e *Engine) SyncPhotos(ctx context.Context) (Progress, error) {
	e.syncMu.Lock()
	defer e.syncMu.Unlock()
	var (
		sess session
		ok   bool
	)
	err := e.db.View(func(tx *bolt.Tx) error {
		var err error
		sess, ok, err = loadSession(tx)
		return err
	})
	if err != nil {
		return Progress{}, fmt.Errorf("mobile: sync photos: %w", dbErr(err))
	}
	if !ok || sess.DeviceID == "" {
		return Progress{}, ErrNotSignedIn
	}
	s := &syncRun{e: e, ctx: ctx, c: &conn{e: e, sess: sess}}
	if err := s.syncPhotos(); err != nil {
		return s.p, fmt.Errorf("mobile: sync photos: %w", err)
	}
	s.p.Phase = PhaseDone
	s.report()
	return s.p, nil
}

// syncPhotos is the photo phase.
func (s *syncRun) syncPhotos() error {
	s.p.Phase = PhasePhotos
	queue, err := s.photoQueue()
	if err != nil {
		return err
	}
	if len(queue) == 0 {
		return nil
	}
	if !s.e.onWiFi() {
		s.p.PhotosWaiting += len(queue)
		s.report()
		return nil
	}
	for _, q := range queue {
		s.p.PhotosTotal++
		s.p.PhotoBytesTotal += q.size
	}
	s.report()
	for i, q := range queue {
		if !s.e.onWiFi() {
			s.p.PhotosWaiting += len(queue) - i
			break
		}
		if err := s.uploadPhoto(q); err != nil {
			s.p.PhotosWaiting += len(queue) - i - 1
			return err
		}
	}
	s.report()
	s.e.log.Info("photos synced", "stored", s.p.PhotosDone, "of", s.p.PhotosTotal, "refused", s.p.PhotosRefused, "waiting", s.p.PhotosWaiting)
	return nil
}

// alive stops an upload of an engine closed, or a Sync cancelled, before
// its next request.
func (s *syncRun) alive() error {
	if s.e.closed.Load() {
		return ErrClosed
	}
	return s.ctx.Err()
}

// updatePhoto changes a queued photo's entry (nothing if it was discarded
// meanwhile).
func (e *Engine) updatePhoto(sum string, change func(*photoEntry)) error {
	err := e.db.Update(func(tx *bolt.Tx) error {
		pe, ok, err := getPhoto(tx, sum)
		if err != nil || !ok {
			return err
		}
		change(&pe)
		return putPhoto(tx, sum, pe)
	})
	return dbErr(err)
}

// checkLocal verifies that the local copy is there and hashes to its name.
func (e *Engine) checkLocal(sum string) string {
	f, err := os.Open(e.photoPath(sum))
	if err != nil {
		return "the photo's local copy is missing: " + err.Error()
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "the photo's local copy cannot be read: " + err.Error()
	}
	if hex.EncodeToString(h.Sum(nil)) != sum {
		return "the photo's local copy is damaged (its bytes no longer hash to its SHA-256)"
	}
	return ""
}

// uploadPhoto sends one photo, trying again on transient failures.
func (s *syncRun) uploadPhoto(q queuedPhoto) error {
	short := q.sum[:12]
	// credited is how much of this photo PhotoBytesDone counts.
	credited := int64(0)
	credit := func(held int64) {
		if held > credited {
			s.p.PhotoBytesDone += held - credited
			credited = held
		}
	}
	if lost := s.e.checkLocal(q.sum); lost != "" {
		s.p.PhotosRefused++
		s.e.log.Warn("photo lost", "sha256", q.sum, "why", lost)
		return s.e.updatePhoto(q.sum, func(pe *photoEntry) { pe.Lost = lost })
	}
	for attempt := 1; ; attempt++ {
		err := s.tryPhoto(q, credit)
		if err == nil {
			if err := s.e.photoStored(q.sum); err != nil {
				return err
			}
			credit(q.size)
			s.p.PhotosDone++
			s.report()
			return nil
		}
		var f *photoFail
		if !errors.As(err, &f) {
			return err
		}
		problem := &photoProblem{Status: f.status, Code: f.code, Message: f.message, At: s.e.now().UTC()}
		switch f.kind {
		case failRefused:
			s.p.PhotosRefused++
			s.e.log.Warn("photo refused", "sha256", q.sum, "status", f.status, "code", f.code, "message", f.message)
			s.report()
			return s.e.updatePhoto(q.sum, func(pe *photoEntry) { pe.Refused, pe.Last = problem, nil })
		case failLost:
			s.p.PhotosRefused++
			return s.e.updatePhoto(q.sum, func(pe *photoEntry) { pe.Lost = f.message })
		case failWait:
			s.p.PhotosWaiting++
			return s.e.updatePhoto(q.sum, func(pe *photoEntry) { pe.Last = problem })
		}
		if err := s.e.updatePhoto(q.sum, func(pe *photoEntry) { pe.Attempts++; pe.Last = problem }); err != nil {
			return err
		}
		if attempt >= s.e.cfg.MaxAttempts {
			s.p.PhotosWaiting++
			if f.status == http.StatusInternalServerError {
				// The server fails on this photo, maybe only this one:
				// the others still go; it is tried again next Sync.
				s.e.log.Warn("photo upload failed", "sha256", q.sum, "attempts", attempt, "err", f)
				return nil
			}
			// The network, or a busy server: the other photos wait too.
			return fmt.Errorf("photo %s: %d attempts: %w", short, attempt, f.err)
		}
		s.e.log.Info("photo upload failed, trying again", "sha256", q.sum, "attempt", attempt, "err", f)
		if f.kind == failTransient {
			if err := sleep(s.ctx, s.c.wait(attempt, f.retryAfter)); err != nil {
				return err
			}
		}
	}
}

// tryPhoto is one attempt: ask what is missing, send it, say done. nil
// means the server has the photo.
func (s *syncRun) tryPhoto(q queuedPhoto, credit func(int64)) error {
	if err := s.alive(); err != nil {
		return err
	}
	body, _ := json.Marshal(map[string]any{"size": q.size, "type": q.typ})
	resp, err := s.c.do(s.ctx, request{method: http.MethodPost, path: "/v1/photos/" + q.sum + "/uploads", body: body, auth: true, once: true})
	if err != nil {
		return s.classify(err, stepBegin)
	}
	var ans uploadAnswer
	if err := json.Unmarshal(resp, &ans); err != nil {
		return &photoFail{kind: failTransient, message: "malformed uploads answer", err: fmt.Errorf("uploads answer: %w", err)}
	}
	if ans.Stored {
		return nil
	}
	if ans.Size != q.size || ans.PartSize <= 0 || len(ans.Parts) == 0 {
		return &photoFail{kind: failTransient, message: "malformed uploads answer",
			err: fmt.Errorf("uploads answer: size %d, part size %d, %d parts for a photo of %d bytes", ans.Size, ans.PartSize, len(ans.Parts), q.size)}
	}
	held := int64(0)
	for _, p := range ans.Parts {
		if p.Sent {
			held += p.Size
		}
	}
	credit(held)
	if err := s.e.updatePhoto(q.sum, func(pe *photoEntry) { pe.Sent = held }); err != nil {
		return err
	}
	s.report()
	f, err := os.Open(s.e.photoPath(q.sum))
	if err != nil {
		return &photoFail{kind: failLost, message: "the photo's local copy is missing: " + err.Error(), err: err}
	}
	defer f.Close()
	for _, p := range ans.Parts {
		if p.Sent {
			continue
		}
		if err := s.alive(); err != nil {
			return err
		}
		off := int64(p.Number-1) * ans.PartSize
		if p.Number < 1 || p.Size <= 0 || off+p.Size > q.size {
			return &photoFail{kind: failTransient, message: "malformed uploads answer", err: fmt.Errorf("uploads answer: part %d of %d bytes", p.Number, p.Size)}
		}
		buf := make([]byte, p.Size)
		if _, err := f.ReadAt(buf, off); err != nil {
			return &photoFail{kind: failLost, message: "the photo's local copy cannot be read: " + err.Error(), err: err}
		}
		if p.Direct {
			err = s.putDirect(p, buf)
		} else {
			method := p.Method
			if method == "" {
				method = http.MethodPut
			}
			if !strings.HasPrefix(p.URL, "/") {
				return &photoFail{kind: failTransient, message: "malformed uploads answer", err: fmt.Errorf("uploads answer: part %d goes to %.100q", p.Number, p.URL)}
			}
			_, err = s.c.do(s.ctx, request{method: method, path: p.URL, body: buf, ctype: "application/octet-stream", auth: true, once: true})
			if err != nil {
				err = s.classify(err, stepPart)
			}
		}
		if err != nil {
			return err
		}
		held += p.Size
		credit(held)
		s.report()
	}
	if err := s.alive(); err != nil {
		return err
	}
	done := ans.Done
	if !strings.HasPrefix(done, "/") {
		done = "/v1/photos/" + q.sum + "/done?upload=" + url.QueryEscape(ans.UploadID)
	}
	resp, err = s.c.do(s.ctx, request{method: http.MethodPost, path: done, auth: true, once: true})
	if err != nil {
		return s.classify(err, stepDone)
	}
	var stored struct {
		Stored bool `json:"stored"`
	}
	if err := json.Unmarshal(resp, &stored); err != nil || !stored.Stored {
		return &photoFail{kind: failTransient, message: "the server did not say stored", err: fmt.Errorf("done answer: %.200s", resp)}
	}
	return nil
}

// putDirect sends a part to the object store's signed URL: its headers,
// no token.
func (s *syncRun) putDirect(p uploadPart, buf []byte) error {
	method := p.Method
	if method == "" {
		method = http.MethodPut
	}
	req, err := http.NewRequestWithContext(s.ctx, method, p.URL, bytes.NewReader(buf))
	if err != nil {
		return &photoFail{kind: failRestart, message: "malformed part URL", err: err}
	}
	for k, v := range p.Header {
		req.Header.Set(k, v)
	}
	resp, err := s.e.http.Do(req)
	if err != nil {
		return s.classify(fmt.Errorf("%s part %d: %w", method, p.Number, err), stepDirect)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	serr := &ServerError{Status: resp.StatusCode, Code: "object_store", Message: fmt.Sprintf("the object store answered %s to part %d", resp.Status, p.Number),
		retryAfter: resp.Header.Get("Retry-After")}
	return s.classify(serr, stepDirect)
}
