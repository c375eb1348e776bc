package minio_test

import (
	"net"
	"sync"
	"testing"
)

// gate is a TCP proxy in front of MinIO that can freeze: while frozen it
// accepts connections and holds every byte in either direction, as a
// server that hangs does (no refusal, no reset).
type gate struct {
	ln     net.Listener
	target string

	mu     sync.Mutex
	frozen bool
	thaw   chan struct{} // closed when the gate thaws
	conns  []net.Conn
}

func newGate(t *testing.T, target string) *gate {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := &gate{ln: ln, target: target, thaw: make(chan struct{})}
	close(g.thaw)
	go g.serve()
	t.Cleanup(func() {
		g.Thaw()
		ln.Close()
		g.mu.Lock()
		defer g.mu.Unlock()
		for _, c := range g.conns {
			c.Close()
		}
	})
	return g
}

func (g *gate) Addr() string { return g.ln.Addr().String() }

// Freeze holds every byte from now on.
func (g *gate) Freeze() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.frozen {
		g.frozen = true
		g.thaw = make(chan struct{})
	}
}

// Thaw lets the held bytes through.
func (g *gate) Thaw() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.frozen {
		g.frozen = false
		close(g.thaw)
	}
}

// wait blocks while the gate is frozen.
func (g *gate) wait() {
	g.mu.Lock()
	ch := g.thaw
	g.mu.Unlock()
	<-ch
}

func (g *gate) serve() {
	for {
		c, err := g.ln.Accept()
		if err != nil {
			return
		}
		go g.forward(c)
	}
}

func (g *gate) forward(c net.Conn) {
	g.wait()
	up, err := net.Dial("tcp", g.target)
	if err != nil {
		c.Close()
		return
	}
	g.mu.Lock()
	g.conns = append(g.conns, c, up)
	g.mu.Unlock()
	go g.pipe(up, c)
	g.pipe(c, up)
}

// pipe copies from src to dst, holding each chunk while the gate is frozen.
func (g *gate) pipe(dst, src net.Conn) {
	defer dst.Close()
	defer src.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			g.wait()
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}
