package main

import (
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// faultProxy is a TCP proxy on 127.0.0.1 in front of a dependency (MinIO,
// FerretDB): it passes bytes through, late by a set delay (a slow
// dependency); cutAll drops the open connections.
type faultProxy struct {
	ln     net.Listener
	target atomic.Value // string
	delay  atomic.Int64 // per chunk, nanoseconds

	mu    sync.Mutex
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

func startProxy(t testing.TB, target string) *faultProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &faultProxy{ln: ln, conns: map[net.Conn]struct{}{}}
	p.target.Store(target)
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(p.close)
	return p
}

func (p *faultProxy) addr() string { return p.ln.Addr().String() }

// setTarget points new connections elsewhere (a dependency restarted on
// another port).
func (p *faultProxy) setTarget(addr string) { p.target.Store(addr) }

// setDelay makes every chunk of bytes wait d in each direction.
func (p *faultProxy) setDelay(d time.Duration) { p.delay.Store(int64(d)) }

// cutAll closes every open connection (a restart of the dependency).
func (p *faultProxy) cutAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
	}
}

func (p *faultProxy) close() {
	p.ln.Close()
	p.cutAll()
	p.wg.Wait()
}

func (p *faultProxy) track(c net.Conn, add bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if add {
		p.conns[c] = struct{}{}
	} else {
		delete(p.conns, c)
	}
}

func (p *faultProxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			up, err := net.DialTimeout("tcp", p.target.Load().(string), time.Second)
			if err != nil {
				c.Close()
				return
			}
			p.track(c, true)
			p.track(up, true)
			done := make(chan struct{}, 2)
			go func() { p.pipe(up, c); done <- struct{}{} }()
			go func() { p.pipe(c, up); done <- struct{}{} }()
			<-done
			c.Close()
			up.Close()
			<-done
			p.track(c, false)
			p.track(up, false)
		}()
	}
}

func (p *faultProxy) pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if d := time.Duration(p.delay.Load()); d > 0 {
				time.Sleep(d)
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}
