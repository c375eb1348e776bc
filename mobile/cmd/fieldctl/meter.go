package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pairsync/pairsync/syncproto"
)

// meter is the engines' http.RoundTripper in a load run (mobile.Config's
// Transport): it times every request, from sending it to the end of its
// answer's body, by kind (push, pull, scopes, photo, auth), and counts body
// bytes and failures. Only requests made while on is set are counted.
type meter struct {
	base http.RoundTripper
	on   atomic.Bool
	// Bytes read and written on the transport's connections, always
	// counted (dial).
	wireOut, wireIn atomic.Int64

	mu       sync.Mutex
	lat      map[string][]time.Duration
	sent     int64
	received int64
	failures map[string]int // "push: 503", "pull: network"
	samples  []string       // a few failure messages
	// lastEnd is when the last answer of each kind ended.
	lastEnd map[string]time.Time
}

func newMeter(base http.RoundTripper) *meter {
	return &meter{base: base, lat: map[string][]time.Duration{}, failures: map[string]int{}, lastEnd: map[string]time.Time{}}
}

// kindOf names a request by what it does.
func kindOf(req *http.Request) string {
	p := req.URL.Path
	switch {
	case p == "/v1/sync/push":
		return "push"
	case p == "/v1/sync/pull":
		return "pull"
	case p == "/v1/sync/scopes":
		return "scopes"
	case strings.HasPrefix(p, "/v1/photos/"):
		return "photo"
	case strings.HasPrefix(p, "/v1/auth/"), p == "/v1/devices":
		return "auth"
	}
	return "other"
}

func (m *meter) RoundTrip(req *http.Request) (*http.Response, error) {
	if !m.on.Load() {
		return m.base.RoundTrip(req)
	}
	kind := kindOf(req)
	start := time.Now()
	resp, err := m.base.RoundTrip(req)
	if err != nil {
		if req.Context().Err() == nil { // not cut by the run's own bound
			m.fail(kind, "network", err.Error())
		}
		return nil, err
	}
	out := max(req.ContentLength, 0)
	status := resp.StatusCode
	body := &meteredBody{rc: resp.Body, keep: status >= 400}
	body.done = func(n int64) {
		m.mu.Lock()
		now := time.Now()
		m.lat[kind] = append(m.lat[kind], now.Sub(start))
		m.lastEnd[kind] = now
		m.sent += out
		m.received += n
		m.mu.Unlock()
		if status >= 400 {
			m.fail(kind, fmt.Sprint(status), fmt.Sprintf("%s %s: %d%s", req.Method, req.URL.Path, status, answerMessage(body.head)))
		}
	}
	resp.Body = body
	return resp, nil
}

// reset forgets what was measured (a fleet running its next workload).
func (m *meter) reset() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.lat = map[string][]time.Duration{}
	m.sent, m.received = 0, 0
	m.failures = map[string]int{}
	m.samples = nil
	m.lastEnd = map[string]time.Time{}
}

// dial wraps a transport's DialContext so that every byte its connections
// carry is counted: what crosses the wire, HTTP headers and compressed
// bodies included.
func (m *meter) dial(next func(ctx context.Context, network, addr string) (net.Conn, error)) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := next(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &countedConn{Conn: c, m: m}, nil
	}
}

// wire returns the bytes written and read on the wire so far.
func (m *meter) wire() (sent, received int64) { return m.wireOut.Load(), m.wireIn.Load() }

type countedConn struct {
	net.Conn
	m *meter
}

func (c *countedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.m.wireIn.Add(int64(n))
	return n, err
}

func (c *countedConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.m.wireOut.Add(int64(n))
	return n, err
}

func (m *meter) fail(kind, what, msg string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.failures[kind+": "+what]++
	if len(m.samples) < 5 && !slices.Contains(m.samples, msg) {
		m.samples = append(m.samples, msg)
	}
}

// meteredBody counts an answer's bytes and reports once, at its end or
// when closed.
type meteredBody struct {
	rc   io.ReadCloser
	n    int64
	done func(n int64)
	once sync.Once
	// keep: an error answer, whose first bytes (head) the sample quotes.
	keep bool
	head []byte
}

func (b *meteredBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	b.n += int64(n)
	if b.keep && len(b.head) < 1024 {
		b.head = append(b.head, p[:min(n, 1024-len(b.head))]...)
	}
	if err == io.EOF {
		b.once.Do(func() { b.done(b.n) })
	}
	return n, err
}

func (b *meteredBody) Close() error {
	b.once.Do(func() { b.done(b.n) })
	return b.rc.Close()
}

// answerMessage is the server's words in an error answer's body (its
// problem's message), so that a sample says which refusal it was.
func answerMessage(head []byte) string {
	var e syncproto.Error
	if json.Unmarshal(head, &e) != nil || e.Message == "" {
		return ""
	}
	return " (" + string(e.Code) + ": " + e.Message + ")"
}

// Stats are percentiles of durations, in milliseconds.
type Stats struct {
	Count int     `json:"count"`
	P50   float64 `json:"p50_ms"`
	P95   float64 `json:"p95_ms"`
	P99   float64 `json:"p99_ms"`
	Max   float64 `json:"max_ms"`
}

// statsOf computes nearest-rank percentiles.
func statsOf(ds []time.Duration) Stats {
	if len(ds) == 0 {
		return Stats{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	rank := func(q float64) float64 {
		i := int(math.Ceil(q*float64(len(s)))) - 1
		return ms(s[min(max(i, 0), len(s)-1)])
	}
	return Stats{Count: len(s), P50: rank(0.50), P95: rank(0.95), P99: rank(0.99), Max: ms(s[len(s)-1])}
}

func ms(d time.Duration) float64 { return math.Round(float64(d)/float64(time.Microsecond)) / 1000 }

func (s Stats) String() string {
	if s.Count == 0 {
		return "0"
	}
	return fmt.Sprintf("%-7d p50 %s  p95 %s  p99 %s  max %s", s.Count, msString(s.P50), msString(s.P95), msString(s.P99), msString(s.Max))
}

func msString(v float64) string {
	if v >= 1000 {
		return fmt.Sprintf("%.2fs", v/1000)
	}
	return fmt.Sprintf("%.1fms", v)
}
