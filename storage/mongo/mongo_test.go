package mongo_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	driver "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/pairsync/pairsync/storage"
	"github.com/pairsync/pairsync/storage/mongo"
	"github.com/pairsync/pairsync/storage/mongo/mongotest"
	"github.com/pairsync/pairsync/storage/storagetest"
)

// uriEnv names the environment variable pointing at a real MongoDB (a
// replica set: docker compose -f deploy/compose.test.yml gives one).
const uriEnv = "MONGODB_URI"

// ferretReason is why the concurrent cases do not run on FerretDB.
const ferretReason = "FerretDB v1.24 has no transactions and its updates are not atomic, so the adapter runs there with transactions off (Config.AllowStandalone), which keeps every contract for serial use only; the concurrent cases run against a real MongoDB replica set ($MONGODB_URI)"

// ferretSkips are the serial cases that cannot pass on FerretDB v1.24
// because of one of its limitations, by test name below the conformance
// test, with the reason. Empty: every serial case passes there.
var ferretSkips = map[string]string{}

// ferret is the FerretDB server the package's tests share, started on
// first use and stopped by TestMain.
var ferret struct {
	once sync.Once
	uri  string
	err  error
	stop func()
}

func TestMain(m *testing.M) {
	code := m.Run()
	if ferret.stop != nil {
		ferret.stop()
	}
	os.Exit(code)
}

// ferretURI starts (once) FerretDB v1.24 in this process, on SQLite in a
// temporary directory, listening on 127.0.0.1, and returns its URI.
func ferretURI(t *testing.T) string {
	t.Helper()
	ferret.once.Do(func() {
		dir, err := os.MkdirTemp("", "pairsync-ferretdb-")
		if err != nil {
			ferret.err = err
			return
		}
		uri, stop, err := mongotest.Start(dir)
		if err != nil {
			os.RemoveAll(dir)
			ferret.err = err
			return
		}
		ferret.uri = uri
		ferret.stop = func() {
			stop()
			os.RemoveAll(dir)
		}
	})
	if ferret.err != nil {
		t.Fatalf("start FerretDB: %v", ferret.err)
	}
	return ferret.uri
}

// testLogger writes the adapter's log lines into the test's output.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// server is a MongoDB (or FerretDB) the tests open fresh databases on.
type server struct {
	uri        string
	standalone bool // open with AllowStandalone
	admin      *driver.Client
	seq        atomic.Int64
	mu         sync.Mutex
	ran        []caseResult // cases that opened a store
}

type caseResult struct{ name, status string }

func newServer(t *testing.T, uri string, standalone bool) *server {
	t.Helper()
	admin, err := driver.Connect(options.Client().ApplyURI(uri).SetTimeout(30 * time.Second))
	if err != nil {
		t.Fatalf("connect %s: %v", uri, err)
	}
	t.Cleanup(func() { _ = admin.Disconnect(context.Background()) })
	return &server{uri: uri, standalone: standalone, admin: admin}
}

// config returns the Config of a database on the server.
func (s *server) config(t *testing.T, database string) mongo.Config {
	// The conformance suite checks contracts, not speed: a generous bound per
	// operation keeps a loaded machine (FerretDB on SQLite writing 1 MiB
	// records) from failing it with client-side timeouts. The timeout itself
	// is tested apart (TestUnreachable…).
	return mongo.Config{URI: s.uri, Database: database, AllowStandalone: s.standalone, Logger: testLogger(t), Timeout: 30 * time.Second}
}

// open opens a fresh, empty database, closed and dropped when t ends.
func (s *server) open(t *testing.T) storage.Store {
	t.Helper()
	if reason, ok := ferretSkips[caseName(t)]; ok && s.standalone {
		t.Skipf("skipped on FerretDB: %s", reason)
	}
	name := fmt.Sprintf("pairsync_test_%d_%d", os.Getpid(), s.seq.Add(1))
	db, err := mongo.Open(t.Context(), s.config(t, name))
	if err != nil {
		t.Fatalf("open database %s: got error %v, want none", name, err)
	}
	t.Cleanup(func() {
		_ = db.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := s.admin.Database(name).Drop(ctx); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
		status := "passed"
		switch {
		case t.Skipped():
			status = "skipped"
		case t.Failed():
			status = "FAILED"
		}
		s.mu.Lock()
		s.ran = append(s.ran, caseResult{caseName(t), status})
		s.mu.Unlock()
	})
	return db
}

// reopen opens the database of a closed store again.
func (s *server) reopen(t *testing.T, closed storage.Store) storage.Store {
	t.Helper()
	db, err := mongo.Open(t.Context(), s.config(t, closed.(*mongo.DB).Database()))
	if err != nil {
		t.Fatalf("reopen: got error %v, want none", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// caseName is t's name below the top-level test ("Records/Purge").
func caseName(t *testing.T) string {
	_, rest, _ := strings.Cut(t.Name(), "/")
	return rest
}

// summary logs which cases ran (opened a store) and how they ended.
func (s *server) summary(t *testing.T, where string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	// A case that opened several stores is listed once.
	seen := map[string]bool{}
	var passed, failed, skipped []string
	for _, r := range s.ran {
		if seen[r.name] {
			continue
		}
		seen[r.name] = true
		switch r.status {
		case "passed":
			passed = append(passed, r.name)
		case "FAILED":
			failed = append(failed, r.name)
		default:
			skipped = append(skipped, r.name)
		}
	}
	slices.Sort(passed)
	t.Logf("%s: %d cases ran (opened a store) and passed, %d failed, %d skipped after opening", where, len(passed), len(failed), len(skipped))
	t.Logf("%s: passed: %s", where, strings.Join(passed, ", "))
	if len(failed) > 0 {
		t.Logf("%s: FAILED: %s", where, strings.Join(failed, ", "))
	}
	if len(skipped) > 0 {
		t.Logf("%s: skipped after opening: %s", where, strings.Join(skipped, ", "))
	}
}

// TestConformanceFerretDB runs the storagetest suite against FerretDB v1.24
// embedded in this test (SQLite backend), with transactions off: the
// concurrent cases skip, each saying why.
func TestConformanceFerretDB(t *testing.T) {
	srv := newServer(t, ferretURI(t), true)
	t.Logf("FerretDB v1.24 at %s (SQLite): the storagetest suite runs with Options.Serial, the adapter with AllowStandalone (no transactions). Concurrent cases are skipped: %s", srv.uri, ferretReason)
	for name, reason := range ferretSkips {
		t.Logf("skipped on FerretDB: %s: %s", name, reason)
	}
	storagetest.TestStoreWith(t, srv.open, storagetest.Options{
		Serial:       true,
		SerialReason: ferretReason,
		Reopen:       srv.reopen,
	})
	srv.summary(t, "FerretDB")
	t.Logf("FerretDB: every case of the suite not listed as passed above was skipped before opening a store; its --- SKIP line gives the reason")
}

// TestConformanceMongoDB runs the whole storagetest suite, concurrent
// cases included, against the MongoDB at $MONGODB_URI (a fresh database
// per case, dropped after it).
func TestConformanceMongoDB(t *testing.T) {
	uri := os.Getenv(uriEnv)
	if uri == "" {
		t.Skipf("%s is not set: the suite runs against FerretDB only (TestConformanceFerretDB); set it to a MongoDB replica set to run the concurrent cases and the transactions", uriEnv)
	}
	srv := newServer(t, uri, false)
	storagetest.TestStoreWith(t, srv.open, storagetest.Options{Reopen: srv.reopen})
	srv.summary(t, "MongoDB")
}

// TestOpenRefusesStandalone: without AllowStandalone, Open refuses a server
// that is not a replica set, saying so.
func TestOpenRefusesStandalone(t *testing.T) {
	for _, tc := range []struct {
		name string
		uri  func(t *testing.T) string
	}{
		{"FerretDB", ferretURI},
		{"MONGODB_URI", func(t *testing.T) string {
			uri := os.Getenv(uriEnv)
			if uri == "" {
				t.Skipf("%s is not set", uriEnv)
			}
			if !isStandalone(t, uri) {
				t.Skipf("%s points at a replica set or a sharded cluster, not a standalone server: nothing to refuse", uriEnv)
			}
			return uri
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			uri := tc.uri(t)
			db, err := mongo.Open(t.Context(), mongo.Config{URI: uri, Database: "pairsync_refused", Logger: testLogger(t)})
			if err == nil {
				db.Close()
				t.Fatalf("open a standalone server: got no error, want ErrStandalone")
			}
			if !errors.Is(err, mongo.ErrStandalone) {
				t.Fatalf("open a standalone server: got error %v, want ErrStandalone", err)
			}
			if !strings.Contains(err.Error(), "not a replica set") {
				t.Fatalf("open a standalone server: got message %q, want it to say \"not a replica set\"", err)
			}
			t.Logf("refused as expected: %v", err)
		})
	}
}

// isStandalone asks the server at uri whether it is a standalone mongod.
func isStandalone(t *testing.T, uri string) bool {
	t.Helper()
	c, err := driver.Connect(options.Client().ApplyURI(uri).SetTimeout(10 * time.Second))
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer c.Disconnect(context.Background())
	var hello struct {
		SetName string `bson:"setName"`
		Msg     string `bson:"msg"`
	}
	if err := c.Database("admin").RunCommand(t.Context(), bson.D{{Key: "hello", Value: 1}}).Decode(&hello); err != nil {
		t.Fatalf("hello: %v", err)
	}
	return hello.SetName == "" && hello.Msg != "isdbgrid"
}

// TestOpenUnreachable: a server that does not answer is ErrUnavailable,
// within about the configured timeout.
func TestOpenUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	start := time.Now()
	db, err := mongo.Open(t.Context(), mongo.Config{
		URI: "mongodb://user:secret@" + addr + "/?connectTimeoutMS=200", Database: "x",
		Timeout: 300 * time.Millisecond, Logger: testLogger(t),
	})
	elapsed := time.Since(start)
	if err == nil {
		db.Close()
		t.Fatalf("open %s: got no error, want ErrUnavailable", addr)
	}
	if !errors.Is(err, storage.ErrUnavailable) {
		t.Fatalf("open %s: got error %v, want ErrUnavailable", addr, err)
	}
	if strings.Contains(err.Error(), "secret") {
		t.Fatalf("open: got message %q, want no password in it", err)
	}
	if elapsed > 10*time.Second {
		t.Fatalf("open: failed after %v, want about the 300ms timeout", elapsed)
	}
	t.Logf("failed after %v: %v", elapsed.Round(time.Millisecond), err)
}

// TestOpenInvalid: an empty URI or database is ErrInvalid.
func TestOpenInvalid(t *testing.T) {
	for _, cfg := range []mongo.Config{{Database: "x"}, {URI: "mongodb://127.0.0.1"}} {
		if _, err := mongo.Open(t.Context(), cfg); !errors.Is(err, storage.ErrInvalid) {
			t.Fatalf("open %+v: got error %v, want ErrInvalid", cfg, err)
		}
	}
}

// TestCommitBodyInTransactionOrder runs, on FerretDB, the body Commit runs
// in a transaction on a replica set (the counter taken first with $inc,
// its value before checked against ExpectHead), with batches whose checks
// pass, and checks seqs, heads and the feed as the suite does.
func TestCommitBodyInTransactionOrder(t *testing.T) {
	srv := newServer(t, ferretURI(t), true)
	db := srv.open(t).(*mongo.DB)
	ctx := t.Context()
	put := func(id string, expect uint64) storage.Put {
		return storage.Put{Key: storage.Key{Collection: "visits", ID: id}, Expect: expect, Data: []byte(id)}
	}
	zero, two := uint64(0), uint64(2)
	for i, tc := range []struct {
		batch    storage.Batch
		wantSeqs []uint64
		wantHead uint64
	}{
		{storage.Batch{Pairing: "p1", ExpectHead: &zero, Puts: []storage.Put{put("a", 0), put("b", 0)}}, []uint64{1, 2}, 2},
		{storage.Batch{Pairing: "p1", ExpectHead: &two, Puts: []storage.Put{put("a", 1)},
			Receipts: []storage.Receipt{{Replica: "dev1", Counter: 1, Answer: []byte("applied")}}}, []uint64{3}, 3},
		{storage.Batch{Pairing: "p2", Puts: []storage.Put{put("c", 0)}}, []uint64{1}, 1},
		{storage.Batch{Pairing: "p1", Receipts: []storage.Receipt{{Replica: "dev1", Counter: 2}}}, nil, 3},
		{storage.Batch{Pairing: "p1", Puts: []storage.Put{put("d", 0), put("b", 2)}}, []uint64{4, 5}, 5},
	} {
		c, err := mongo.CommitBody(ctx, db, tc.batch)
		if err != nil {
			t.Fatalf("batch %d: got error %v, want none", i, err)
		}
		if !slices.Equal(c.Seqs, tc.wantSeqs) || c.Head != tc.wantHead {
			t.Fatalf("batch %d: got seqs %v head %d, want %v head %d", i, c.Seqs, c.Head, tc.wantSeqs, tc.wantHead)
		}
	}
	p, err := db.Changes(ctx, "p1", 0, storage.PageLimit{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range p.Records {
		got = append(got, fmt.Sprintf("%s@%d", r.ID, r.Seq))
	}
	if want := "a@3 d@4 b@5"; strings.Join(got, " ") != want {
		t.Fatalf("changes p1: got %s, want %s", strings.Join(got, " "), want)
	}
	// A refused batch is refused the same way (in a transaction the abort
	// would also undo the counter's increment).
	if _, err := mongo.CommitBody(ctx, db, storage.Batch{Pairing: "p1", ExpectHead: &two, Puts: []storage.Put{put("x", 0)}}); !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("batch with a stale ExpectHead: got error %v, want ErrConflict", err)
	}
}

// TestPhoneIndexNotUnique: a database whose users' phone index is unique
// (as an older Open made it) gets a non-unique one when opened,
// and two users may then share a phone; opening again changes nothing.
// Runs on FerretDB, and on $MONGODB_URI when set.
func TestPhoneIndexNotUnique(t *testing.T) {
	srvs := []*server{newServer(t, ferretURI(t), true)}
	if uri := os.Getenv(uriEnv); uri != "" {
		srvs = append(srvs, newServer(t, uri, false))
	} else {
		t.Logf("%s is not set: on FerretDB only", uriEnv)
	}
	for _, srv := range srvs {
		t.Run(map[bool]string{true: "FerretDB", false: "MongoDB"}[srv.standalone], func(t *testing.T) {
			ctx := t.Context()
			st := srv.open(t)
			name := st.(*mongo.DB).Database()
			if err := st.Close(); err != nil {
				t.Fatal(err)
			}
			// Lay the users collection out as the old Open did: a user, and
			// a unique sparse index on phone.
			users := srv.admin.Database(name).Collection("users")
			if err := users.Indexes().DropOne(ctx, "phone_1"); err != nil {
				t.Fatalf("drop the new index: %v", err)
			}
			if _, err := users.Indexes().CreateOne(ctx, driver.IndexModel{Keys: bson.D{{Key: "phone", Value: 1}},
				Options: options.Index().SetUnique(true).SetSparse(true)}); err != nil {
				t.Fatalf("create the old unique index: %v", err)
			}
			if _, err := users.InsertOne(ctx, bson.D{{Key: "_id", Value: "a"}, {Key: "username", Value: "alice"}, {Key: "phone", Value: "13800000001"}, {Key: "rev", Value: 1}}); err != nil {
				t.Fatal(err)
			}
			unique := func() bool {
				t.Helper()
				specs, err := users.Indexes().ListSpecifications(ctx)
				if err != nil {
					t.Fatal(err)
				}
				for _, s := range specs {
					if s.Name == "phone_1" {
						return s.Unique != nil && *s.Unique
					}
				}
				t.Fatal("no phone_1 index")
				return false
			}
			if !unique() {
				t.Fatal("the old layout's phone index is not unique: the test cannot show the migration")
			}
			for round := 1; round <= 2; round++ {
				db := srv.reopen(t, st)
				if unique() {
					t.Fatalf("open %d: the phone index is still unique", round)
				}
				if round == 1 {
					if _, err := db.CreateUser(ctx, storage.User{ID: "b", Username: "bob", Phone: "13800000001"}); err != nil {
						t.Fatalf("a second user with alice's phone after open: got error %v, want none", err)
					}
				}
				us, err := db.UsersByPhone(ctx, "13800000001")
				if err != nil || len(us) != 2 || us[0].ID != "a" || us[1].ID != "b" {
					t.Fatalf("open %d: holders of the phone: got %v, %v; want a and b", round, us, err)
				}
				if err := db.Close(); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}
