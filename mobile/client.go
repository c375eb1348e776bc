package mobile

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/klauspost/compress/gzip"
	bolt "go.etcd.io/bbolt"

	"github.com/pairsync/pairsync/syncproto"
)

// maxAnswerBytes bounds an answer body read into memory. A pull page is
// about 1 MiB and always holds at least one record, however large.
const maxAnswerBytes = 32 << 20

// refreshAhead: the access token is refreshed when it has less than this
// left, so a request never leaves with a token about to die.
const refreshAhead = 60 * time.Second

// conn is one signed-in conversation with the server: the session, kept in
// memory and saved to the store whenever the tokens change.
type conn struct {
	e    *Engine
	sess session
	// noRefresh: the device was revoked; use the access token as long as
	// it lives, never the refresh token.
	noRefresh bool
}

// tokenResponse is the answer of /v1/auth/login and /v1/auth/refresh.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	ExpiresIn    int    `json:"expires_in"`
	User         struct {
		ID       string `json:"id"`
		Username string `json:"username"`
		Name     string `json:"name"`
		Role     string `json:"role"`
	} `json:"user"`
}

// registeredDevice is the answer of POST /v1/devices.
type registeredDevice struct {
	Device struct {
		ID string `json:"id"`
	} `json:"device"`
	AccessToken string `json:"access_token"`
	ExpiresIn   int    `json:"expires_in"`
}

// request is one HTTP exchange: method, path, JSON body, and the bearer
// token when auth is set.
type request struct {
	method, path string
	body         []byte
	auth         bool
	token        string // explicit token (sign-in), instead of the session's
	// ctype is the body's type (default application/json).
	ctype string
	// once: no waiting and asking again on 503 or 429; the caller decides
	// (the photo queue retries on its own terms).
	once bool
	// encoding is the body's Content-Encoding ("" or "gzip"); plain then
	// gives the body uncompressed, for a server that refuses gzip (415).
	encoding string
	plain    func() []byte
}

// minGzipBytes: smaller bodies go plain (gzip's header and the work would
// gain next to nothing).
const minGzipBytes = 1 << 10

// gzipLevel compresses push bodies with github.com/klauspost/compress at
// no more bytes than the standard library's compress/gzip at its default
// level on visits with notes of their own (ARCHITECTURE.md, issue 20: an
// officer's phone pays for bytes on a weak signal, not for microseconds):
// level 8 is 2–4% smaller from 10 visits a push up, within a few bytes
// below, for about a quarter less CPU. klauspost's own default (level 5)
// and level 6 are 1.6–2% larger at 50 visits. (On fieldctl's notes, built
// of ten phrases repeated, level 8 is 4–7% larger at 25–100 visits;
// TestPushGzipNoLarger holds the bytes of the first kind.)
const gzipLevel = 8

// gzipParts compresses the concatenation of what parts writes (size bytes
// in all), without building it first, with the engine's gzip writer. Only
// a Sync calls it (under syncMu).
func (e *Engine) gzipParts(size int, parts func(w io.Writer)) []byte {
	var buf bytes.Buffer
	buf.Grow(size/4 + 64)
	if e.zw == nil {
		// Kept for the engine's life (about 1 MB at gzipLevel): a
		// writer from a sync.Pool was dropped by nearly every GC, so each
		// push allocated and cleared a new one.
		e.zw, _ = gzip.NewWriterLevel(&buf, gzipLevel)
	} else {
		e.zw.Reset(&buf)
	}
	parts(e.zw) // writes to a bytes.Buffer do not fail
	_ = e.zw.Close()
	e.zw.Reset(io.Discard) // keep no reference to buf
	return buf.Bytes()
}

// do sends a request and returns the body of a 2xx answer. It waits and
// retries on 503 and 429 (Retry-After, else exponential backoff with
// jitter), refreshes the access token before it expires and once on a 401,
// and turns any other answer into a *ServerError.
func (c *conn) do(ctx context.Context, r request) ([]byte, error) {
	refreshed := false
	for attempt := 1; ; attempt++ {
		token := r.token
		if r.auth && token == "" {
			var err error
			if token, err = c.accessToken(ctx); err != nil {
				return nil, err
			}
		}
		status, hdr, body, err := c.send(ctx, r, token)
		if err != nil {
			return nil, err
		}
		if status >= 200 && status < 300 {
			return body, nil
		}
		serr := problem(status, body)
		switch {
		case status == http.StatusUnsupportedMediaType && r.encoding != "":
			// A server (or a proxy before it) that takes no gzip: send
			// this body and every later one plain.
			c.e.noGzip.Store(true)
			c.e.log.Warn("the server refused a gzip body; pushing plain from now on")
			r.body, r.encoding = r.plain(), ""
			attempt--
			continue
		case status == http.StatusUnauthorized && r.auth && r.token == "" && !refreshed && !c.noRefresh:
			refreshed = true
			if err := c.refresh(ctx); err != nil {
				return nil, err
			}
			attempt--
			continue
		case status == http.StatusUnauthorized && r.auth && r.token == "":
			return nil, fmt.Errorf("%w (%w)", ErrSignInRequired, serr)
		case (status == http.StatusServiceUnavailable || status == http.StatusTooManyRequests && r.auth) && attempt < c.e.cfg.MaxAttempts && !r.once:
			// (A 429 on sign-in is the password throttle: asking again
			// does not help.)
			if err := sleep(ctx, c.wait(attempt, hdr.Get("Retry-After"))); err != nil {
				return nil, err
			}
			continue
		}
		serr.retryAfter = hdr.Get("Retry-After")
		return nil, serr
	}
}

func (c *conn) send(ctx context.Context, r request, token string) (int, http.Header, []byte, error) {
	var rd io.Reader
	if r.body != nil {
		rd = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, c.sess.Server+r.path, rd)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("%s %s: %w", r.method, r.path, err)
	}
	if r.body != nil {
		ctype := r.ctype
		if ctype == "" {
			ctype = "application/json"
		}
		req.Header.Set("Content-Type", ctype)
		if r.encoding != "" {
			req.Header.Set("Content-Encoding", r.encoding)
		}
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Accept-Language", c.e.cfg.Language)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	// Asked for explicitly, so that the answer comes as it was sent and
	// gunzip (not net/http's transparent compress/gzip) decodes it.
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := c.e.http.Do(req)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("%s %s: %w", r.method, r.path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes+1))
	if err != nil {
		return 0, nil, nil, fmt.Errorf("%s %s: reading the answer: %w", r.method, r.path, err)
	}
	if len(body) > maxAnswerBytes {
		return 0, nil, nil, fmt.Errorf("%s %s: answer over %d bytes", r.method, r.path, maxAnswerBytes)
	}
	switch enc := resp.Header.Get("Content-Encoding"); {
	case enc == "" || strings.EqualFold(enc, "identity"):
	case strings.EqualFold(enc, "gzip"):
		if body, err = gunzip(body); err != nil {
			return 0, nil, nil, fmt.Errorf("%s %s: reading the answer: %w", r.method, r.path, err)
		}
	default:
		return 0, nil, nil, fmt.Errorf("%s %s: answer in an encoding not asked for (%q)", r.method, r.path, enc)
	}
	return resp.StatusCode, resp.Header, body, nil
}

// gzipReaders keeps decompressors between answers (each holds a 32 KiB
// window and its tables).
var gzipReaders sync.Pool

// gunzip decodes a gzip answer into at most maxAnswerBytes, reserving the
// size its trailer gives (ISIZE, the size mod 2^32) when that is within the
// bound. An empty body stays empty (a HEAD, a 204).
func gunzip(gz []byte) ([]byte, error) {
	if len(gz) == 0 {
		return gz, nil
	}
	zr, _ := gzipReaders.Get().(*gzip.Reader)
	var err error
	if zr == nil {
		zr, err = gzip.NewReader(bytes.NewReader(gz))
	} else {
		err = zr.Reset(bytes.NewReader(gz))
	}
	if err != nil {
		return nil, err
	}
	defer gzipReaders.Put(zr)
	var out bytes.Buffer
	if len(gz) >= 18 {
		if n := int(binary.LittleEndian.Uint32(gz[len(gz)-4:])); n <= maxAnswerBytes {
			out.Grow(n + bytes.MinRead)
		}
	}
	if _, err := out.ReadFrom(io.LimitReader(zr, maxAnswerBytes+1)); err != nil {
		return nil, err
	}
	if out.Len() > maxAnswerBytes {
		return nil, fmt.Errorf("answer over %d bytes once decompressed", maxAnswerBytes)
	}
	return out.Bytes(), nil
}

// problem decodes a problem body; a body that is not one still gives a
// ServerError with the status.
func problem(status int, body []byte) *ServerError {
	var p syncproto.Error
	if json.Unmarshal(body, &p) != nil || p.Code == "" {
		return &ServerError{Status: status, Code: syncproto.CodeInternal, Message: http.StatusText(status)}
	}
	return &ServerError{Status: status, Code: p.Code, Message: p.Message, Field: p.Field}
}

// wait is how long to wait before attempt+1: Retry-After when the server
// gave one, else 0.5s·2^(attempt-1) with jitter; never over MaxRetryWait.
func (c *conn) wait(attempt int, retryAfter string) time.Duration {
	d := time.Duration(-1)
	if retryAfter != "" {
		if n, err := strconv.Atoi(strings.TrimSpace(retryAfter)); err == nil && n >= 0 {
			d = time.Duration(n) * time.Second
		} else if t, err := http.ParseTime(retryAfter); err == nil {
			d = max(t.Sub(c.e.now()), 0)
		}
	}
	if d < 0 {
		base := 500 * time.Millisecond << min(attempt-1, 8)
		d = base/2 + rand.N(base/2+1)
	}
	return min(d, c.e.cfg.MaxRetryWait)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// accessToken returns a live access token, refreshing it first when it is
// about to expire.
func (c *conn) accessToken(ctx context.Context) (string, error) {
	if c.sess.AccessToken != "" && (c.noRefresh || c.e.now().Add(refreshAhead).Before(c.sess.AccessExpires)) {
		return c.sess.AccessToken, nil
	}
	if c.noRefresh {
		return "", ErrDeviceRevoked
	}
	if err := c.refresh(ctx); err != nil {
		return "", err
	}
	return c.sess.AccessToken, nil
}

// refresh exchanges the refresh token (single use) for new tokens and
// saves them at once. A 401 ends the session (ErrSignInRequired); a 403
// device_revoked comes back as a *ServerError matching ErrDeviceRevoked.
func (c *conn) refresh(ctx context.Context) error {
	if c.sess.RefreshToken == "" {
		return ErrSignInRequired
	}
	body, _ := json.Marshal(map[string]string{"refresh_token": c.sess.RefreshToken})
	ans, err := c.do(ctx, request{method: http.MethodPost, path: "/v1/auth/refresh", body: body})
	var serr *ServerError
	if errors.As(err, &serr) && serr.Status == http.StatusUnauthorized {
		// The refresh token is dead: forget the tokens, keep the data.
		c.sess.AccessToken, c.sess.RefreshToken = "", ""
		if err := c.save(); err != nil {
			return err
		}
		return fmt.Errorf("%w (%w)", ErrSignInRequired, serr)
	}
	if err != nil {
		return err
	}
	var tr tokenResponse
	if err := json.Unmarshal(ans, &tr); err != nil || tr.AccessToken == "" || tr.RefreshToken == "" {
		return errors.New("refresh: malformed answer")
	}
	c.setTokens(tr.AccessToken, tr.RefreshToken, tr.ExpiresIn)
	c.sess.setUser(tr)
	if err := c.save(); err != nil {
		return fmt.Errorf("mobile: sign in: %w", err)
	}
	return nil
}

// setUser keeps who the tokens are for (name and role may change on the
// server between sign-ins).
func (s *session) setUser(tr tokenResponse) {
	if tr.User.ID != "" {
		s.UserID = tr.User.ID
	}
	if tr.User.Name != "" {
		s.Name = tr.User.Name
	}
	if tr.User.Role != "" {
		s.Role = tr.User.Role
	}
}

func (c *conn) setTokens(access, refresh string, expiresIn int) {
	c.sess.AccessToken = access
	if refresh != "" {
		c.sess.RefreshToken = refresh
	}
	// The server's expires_in; never trust more than the 10 minutes an
	// access token lives.
	exp := time.Duration(expiresIn) * time.Second
	if exp <= 0 || exp > 10*time.Minute {
		exp = 10 * time.Minute
	}
	c.sess.AccessExpires = c.e.now().Add(exp)
}

// save stores the session (the tokens just changed: a refresh token is
// single use, so the new one must survive a crash).
func (c *conn) save() error {
	err := c.e.db.Update(func(tx *bolt.Tx) error { return saveJSON(tx, keySession, c.sess) })
	if err != nil {
		return fmt.Errorf("save session: %w", dbErr(err))
	}
	return nil
}

// SignIn signs in online: it logs in, registers this device if the engine
// has none yet (its id becomes the replica id of every local write), logs
// in again bound to the device, and stores the tokens. With a device
// already registered it only logs in, bound to it, keeping local data.
func (e *Engine) SignIn(ctx context.Context, serverURL, username, password, deviceName string) error {
	e.syncMu.Lock()
	defer e.syncMu.Unlock()
	serverURL = strings.TrimRight(serverURL, "/")
	var (
		sess   session
		exists bool
	)
	err := e.db.View(func(tx *bolt.Tx) error {
		var err error
		sess, exists, err = loadSession(tx)
		return err
	})
	if err != nil {
		return fmt.Errorf("mobile: sign in: %w", dbErr(err))
	}
	if exists && sess.DeviceID != "" && sess.Server != serverURL {
		return fmt.Errorf("mobile: sign in: this device is registered with %s; Reset to use another server", sess.Server)
	}
	c := &conn{e: e, sess: session{Server: serverURL}}
	if exists {
		c.sess = sess
	}
	login := func(deviceID string) (tokenResponse, error) {
		body, _ := json.Marshal(map[string]string{"username": username, "password": password, "device_id": deviceID})
		ans, err := c.do(ctx, request{method: http.MethodPost, path: "/v1/auth/login", body: body})
		if err != nil {
			return tokenResponse{}, fmt.Errorf("mobile: sign in: %w", err)
		}
		var tr tokenResponse
		if err := json.Unmarshal(ans, &tr); err != nil || tr.AccessToken == "" || tr.RefreshToken == "" {
			return tokenResponse{}, errors.New("mobile: sign in: malformed answer")
		}
		return tr, nil
	}
	if c.sess.DeviceID == "" {
		first, err := login("")
		if err != nil {
			return err
		}
		body, _ := json.Marshal(map[string]string{"name": deviceName})
		ans, err := c.do(ctx, request{method: http.MethodPost, path: "/v1/devices", body: body, auth: true, token: first.AccessToken})
		if err != nil {
			return fmt.Errorf("mobile: register device: %w", err)
		}
		var reg registeredDevice
		if err := json.Unmarshal(ans, &reg); err != nil || !syncproto.ReplicaID(reg.Device.ID).Valid() {
			return errors.New("mobile: register device: malformed answer")
		}
		// The login's session is now bound to the device: keep it at once,
		// with the device and a fresh Writer, so a crash here loses nothing.
		c.sess = session{Server: serverURL, UserID: first.User.ID, Username: username, DeviceID: reg.Device.ID, RefreshToken: first.RefreshToken}
		c.sess.setUser(first)
		c.setTokens(reg.AccessToken, "", reg.ExpiresIn)
		err = e.db.Update(func(tx *bolt.Tx) error {
			if ws, ok, err := loadWriter(tx); err != nil {
				return err
			} else if ok && ws.Counter > 0 && string(ws.Replica) != reg.Device.ID {
				return fmt.Errorf("local writes of replica %s are still here", ws.Replica)
			}
			if err := saveJSON(tx, keyWriter, writerState{Replica: syncproto.ReplicaID(reg.Device.ID)}); err != nil {
				return err
			}
			return saveJSON(tx, keySession, c.sess)
		})
		if err != nil {
			return fmt.Errorf("mobile: register device: %w", dbErr(err))
		}
		e.log.Info("device registered", "device", reg.Device.ID)
		tr, err := login(c.sess.DeviceID)
		if err != nil {
			return err // the stored session (the first one) still works
		}
		c.setTokens(tr.AccessToken, tr.RefreshToken, tr.ExpiresIn)
		if err := c.save(); err != nil {
			return fmt.Errorf("mobile: sign in: %w", err)
		}
		// The first session is not needed any more: end it.
		body, _ = json.Marshal(map[string]string{"refresh_token": first.RefreshToken})
		_, _ = c.do(ctx, request{method: http.MethodPost, path: "/v1/auth/logout", body: body})
		return nil
	}
	tr, err := login(c.sess.DeviceID)
	if err != nil {
		return err
	}
	c.sess.Username = username
	c.sess.setUser(tr)
	c.setTokens(tr.AccessToken, tr.RefreshToken, tr.ExpiresIn)
	if err := c.save(); err != nil {
		return fmt.Errorf("mobile: sign in: %w", err)
	}
	return nil
}
