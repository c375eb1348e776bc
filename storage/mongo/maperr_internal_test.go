package mongo

import (
	"errors"
	"fmt"
	"testing"

	"github.com/pairsync/pairsync/storage"
)

// clearedPool stands for the driver's unexported poolClearedError (it
// implements driver.RetryablePoolError the same way).
type clearedPool struct{}

func (clearedPool) Error() string {
	return "connection pool for 127.0.0.1:1 was cleared because another operation failed with: EOF"
}
func (clearedPool) Retryable() bool { return true }

// TestMapErrPoolCleared: a cleared connection pool (seen once when the
// fault tests restart FerretDB) is unavailability, answered 503 with
// Retry-After, not an internal error.
func TestMapErrPoolCleared(t *testing.T) {
	err := mapErr(fmt.Errorf("find: %w", clearedPool{}))
	if !errors.Is(err, storage.ErrUnavailable) {
		t.Fatalf("a cleared pool: got %v, want an error wrapping storage.ErrUnavailable", err)
	}
	if other := mapErr(errors.New("something else")); errors.Is(other, storage.ErrUnavailable) {
		t.Fatalf("another error: got %v, want it unchanged", other)
	}
}
