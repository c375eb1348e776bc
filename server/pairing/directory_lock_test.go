package pairing

import "testing"

// TestCounterpartiesKeepRunsUnlocked: Counterparties calls keep without
// holding the directory's lock. GET /v1/counterparties's keep asks the
// directory again (SeesDirectoryRecord → Visible: a second RLock); with the
// lock held, a refresh waiting to write in between deadlocked the server
// (seen in the browser journeys: the console loads counterparties and
// pairings at once). keep TryLocks: it can only when no lock is held.
func TestCounterpartiesKeepRunsUnlocked(t *testing.T) {
	d := NewDirectory(nil, nil)
	d.counterparties["cp1"] = Counterparty{ID: "cp1", Name: "星河电梯"}
	locked := false
	got := d.Counterparties(func(Counterparty) bool {
		if d.mu.TryLock() {
			d.mu.Unlock()
		} else {
			locked = true
		}
		return true
	})
	if locked {
		t.Errorf("keep ran with the directory's lock held: a keep that asks the directory can deadlock")
	}
	if len(got) != 1 || got[0].Name != "星河电梯" {
		t.Errorf("got %+v, want the one counterparty", got)
	}
}
