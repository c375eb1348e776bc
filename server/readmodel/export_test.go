package readmodel

// Waiting returns how many Refresh callers wait for the next shared pass.
func (l *Ledger) Waiting() int {
	l.passMu.Lock()
	defer l.passMu.Unlock()
	return l.waiters
}
