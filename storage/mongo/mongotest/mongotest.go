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
	uri, stop, err := Start(t.TempDir())
	if err != nil {
		t.Fatalf("mongotest: start FerretDB: %v", err)
	}
	t.Cleanup(stop)
	return uri, true
}

// Start starts FerretDB on SQLite files in dir, listening on 127.0.0.1,
// and returns its URI; stop ends it (dir is the caller's to remove). For a
// FerretDB that a package's tests share; one test's own is URI's.
func Start(dir string) (uri string, stop func(), err error) {
	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: "127.0.0.1:0"},
		Handler:   "sqlite",
		SQLiteURL: "file:" + dir + "/",
		Logger:    slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})),
	})
	if err != nil {
		return "", nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = f.Run(ctx)
	}()
	return f.MongoDBURI(), func() {
		cancel()
		<-done
	}, nil
}
