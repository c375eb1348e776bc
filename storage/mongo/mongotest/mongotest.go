// Package mongotest runs FerretDB v1.24 (the MongoDB wire protocol on
// SQLite, embedded in the test binary) for tests of other packages that
// need a MongoDB without one being installed. FerretDB has no transactions:
// open storage/mongo with AllowStandalone (test only). With MONGODB_URI set,
// URI returns it instead.
package mongotest

import (
	"context"
	"log/slog"
	"os"
	"testing"

	"github.com/FerretDB/FerretDB/ferretdb"
)

// URI returns the connection string of a MongoDB for the test: MONGODB_URI
// when set (standalone false), else a FerretDB started for this test and
// stopped when it ends (standalone true: open with AllowStandalone).
func URI(t testing.TB) (uri string, standalone bool) {
	t.Helper()
	if u := os.Getenv("MONGODB_URI"); u != "" {
		return u, false
	}
	dir := t.TempDir()
	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: "127.0.0.1:0"},
		Handler:   "sqlite",
		SQLiteURL: "file:" + dir + "/",
		Logger:    slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})),
	})
	if err != nil {
		t.Fatalf("mongotest: start FerretDB: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = f.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return f.MongoDBURI(), true
}
