package server

import (
	"strings"
	"sync"
	"time"
)

// Refused probes in the audit log are bounded per client (SECURITY.md 10):
// authentication failures and authorization
// refusals are recorded one by one up to probeAuditMax per client per
// probeAuditWindow; the first one over that writes one summary entry
// instead, and the rest of the window is only counted (the metric
// pairsync_audit_probes_suppressed_total). A flood of probes then costs
// the log at most probeAuditMax+1 entries per client per minute, and an
// administrator still sees that it happened and from where.
const (
	probeAuditWindow = time.Minute
	probeAuditMax    = 20
	// probeAuditClients bounds the memory: past it, expired windows go;
	// if none has expired, clients not yet tracked share one window (so a
	// flood from many addresses is bounded too, and nobody is evicted).
	probeAuditClients = 10_000
	probeOverflowKey  = "*"
)

// probeResults are the audit results that record a refused request.
var probeResults = map[string]bool{"denied": true, "not_found": true, "failed": true}

type probeWindow struct {
	start time.Time
	count int
}

// probeLimiter counts refused-probe audit entries per client. Safe for
// concurrent use.
type probeLimiter struct {
	mu      sync.Mutex
	clients map[string]*probeWindow
}

// admit reports whether the next refused probe from client is recorded
// (record), or replaced by the one summary entry of its window (summary),
// or only counted (both false).
func (l *probeLimiter) admit(client string, now time.Time) (record, summary bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.clients == nil {
		l.clients = map[string]*probeWindow{}
	}
	w := l.clients[client]
	if w == nil && len(l.clients) >= probeAuditClients {
		for k, old := range l.clients {
			if now.Sub(old.start) >= probeAuditWindow || now.Before(old.start) {
				delete(l.clients, k)
			}
		}
		if len(l.clients) >= probeAuditClients {
			client = probeOverflowKey
			w = l.clients[client]
		}
	}
	if w == nil || now.Sub(w.start) >= probeAuditWindow || now.Before(w.start) {
		w = &probeWindow{start: now}
		// client may be a string of the request (c.IP()), whose bytes
		// fasthttp reuses: the map keeps a copy.
		l.clients[strings.Clone(client)] = w
	}
	w.count++
	switch {
	case w.count <= probeAuditMax:
		return true, false
	case w.count == probeAuditMax+1:
		return false, true
	}
	return false, false
}
