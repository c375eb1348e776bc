package pairing

import (
	"testing"
	"time"
)

// TestDueSoonAt: 即将超期 is the 办理期限 in force, not yet past, ending
// within 24 h; an issue answered, or without a due date, is never due soon.
func TestDueSoonAt(t *testing.T) {
	now := time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		st   IssueState
		want bool
	}{
		{"dispatched, due in 23 h", IssueState{Status: IssueDispatched, Due: now.Add(23 * time.Hour)}, true},
		{"signed, due in exactly 24 h", IssueState{Status: IssueSigned, Due: now.Add(24 * time.Hour)}, true},
		{"reopened, due in 25 h", IssueState{Status: IssueReopened, Due: now.Add(25 * time.Hour)}, false},
		{"dispatched, past due", IssueState{Status: IssueDispatched, Due: now.Add(-time.Minute)}, false},
		{"responded, due in 1 h", IssueState{Status: IssueResponded, Due: now.Add(time.Hour)}, false},
		{"dispatched, no due date", IssueState{Status: IssueDispatched}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.st.DueSoonAt(now); got != tc.want {
				t.Fatalf("DueSoonAt: got %v, want %v", got, tc.want)
			}
		})
	}
}
