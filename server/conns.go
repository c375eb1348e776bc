package server

import (
	"net"
	"sync"
	"sync/atomic"

	"github.com/valyala/fasthttp"
)

// conns tracks every open connection, so that Shutdown can close at once
// those carrying no request and wait only for the ones mid-request.
//
// fasthttp marks a connection active before the first byte of its first
// request arrives and then blocks for ReadTimeout (30s): a connection opened
// and never used (an HTTP client dialing ahead, a browser preconnect, a
// slow-loris client) held every shutdown for 30s. So connections count the
// bytes they read since their last request: active with nothing read yet
// counts as quiet.
type conns struct {
	mu    sync.Mutex
	state map[net.Conn]fasthttp.ConnState
	// closing is set by Shutdown: connections that go idle from then on are
	// closed as they do.
	closing bool
}

func newConns() *conns {
	return &conns{state: map[net.Conn]fasthttp.ConnState{}}
}

// countingConn counts the bytes read since the connection last went idle.
type countingConn struct {
	net.Conn
	read atomic.Int64
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.read.Add(int64(n))
	return n, err
}

// countingListener hands out countingConns.
type countingListener struct{ net.Listener }

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: c}, nil
}

// hook is the fasthttp ConnState callback.
func (cs *conns) hook(c net.Conn, st fasthttp.ConnState) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	switch st {
	case fasthttp.StateClosed, fasthttp.StateHijacked:
		delete(cs.state, c)
		return
	case fasthttp.StateIdle:
		if cc, ok := c.(*countingConn); ok {
			cc.read.Store(0)
		}
		if cs.closing {
			delete(cs.state, c)
			_ = c.Close()
			return
		}
	}
	cs.state[c] = st
}

// closeQuiet marks the server closing and closes every connection that is
// not in the middle of a request.
func (cs *conns) closeQuiet() {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	cs.closing = true
	for c, st := range cs.state {
		quiet := st == fasthttp.StateNew || st == fasthttp.StateIdle
		if cc, ok := c.(*countingConn); ok && st == fasthttp.StateActive && cc.read.Load() == 0 {
			quiet = true
		}
		if quiet {
			_ = c.Close()
			delete(cs.state, c)
		}
	}
}
