package mobile

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	bbolt "go.etcd.io/bbolt"

	"github.com/pairsync/pairsync/server"
	"github.com/pairsync/pairsync/server/servertest"
	"github.com/pairsync/pairsync/storage/bolt"
	"github.com/pairsync/pairsync/syncproto"
)

// The real server, in-process on 127.0.0.1, on a real bolt file: the
// servertest world EveryRole (org units root → {unitA, unitB}, a user of
// every role in each) and pairings committed into the directory scope
// straight through the store (as an administrator's write through the
// server would be).
//
//	p1: unitA, officer officerA, counterparty cp-A (contactA)
//	p2: unitB, officer officerB, counterparty cp-B (contactB)
//	p3: unitA, officer officerA, counterparty cp-C

const testPassword = servertest.Password

type world struct {
	*servertest.World
	t   testing.TB
	db  *bolt.DB
	srv *server.Server
	url string
}

func newWorld(t *testing.T) *world {
	t.Helper()
	return newWorldWith(t, false)
}

// newWorldWith is newWorld; with rules the server also applies the
// domain's rules and stamps (received_at), as pairsyncd does.
func newWorldWith(t *testing.T, rules bool) *world {
	t.Helper()
	return newWorldTB(t, rules)
}

// newWorldTB is newWorldWith for benchmarks too.
func newWorldTB(t testing.TB, rules bool) *world {
	t.Helper()
	f := servertest.EveryRole()
	for _, p := range []struct{ id, unit, officer, cp string }{
		{"p1", "unitA", "u-officerA", "cp-A"}, {"p2", "unitB", "u-officerB", "cp-B"}, {"p3", "unitA", "u-officerA", "cp-C"},
	} {
		// starts_on: the fixtures record visits dated weeks back, and a
		// device time before its pairing began is refused.
		f.Directory = append(f.Directory,
			servertest.Record{Collection: "pairings", ID: p.id, Fields: map[string]any{"name": "结对 " + p.id, "status": "active", "branches": []string{p.unit},
				"counterparties": []string{p.cp}, "officers": []map[string]any{{"user_id": p.officer, "primary": true}}, "starts_on": "2020-01-01"}},
			servertest.Record{Collection: "counterparties", ID: p.cp, Fields: map[string]any{"name": "企业 " + p.cp, "kind": "enterprise"}})
	}
	sw := servertest.New(t, servertest.Options{Fixture: f})
	srv, err := server.New(server.Config{}, server.Deps{Store: sw.Store, Photos: sw.Photos, PasswordParams: sw.PasswordParams, ProtocolOnly: !rules})
	if err != nil {
		t.Fatal(err)
	}
	return &world{World: sw, t: t, db: sw.DB, srv: srv, url: sw.Serve(srv)}
}

// dirSet writes fields of a directory record through the store's commit
// path, as the server's own writes are committed.
func (w *world) dirSet(coll, id string, fields map[string]any) {
	w.t.Helper()
	w.DirSet(coll, id, fields)
}

func jsonFields(t testing.TB, fields map[string]any) map[string]json.RawMessage {
	t.Helper()
	return servertest.JSONFields(t, fields)
}

// engine opens an engine in a fresh file and signs it in as user.
func (w *world) engine(user string, cfg Config) (*Engine, string) {
	w.t.Helper()
	path := filepath.Join(w.t.TempDir(), user+".db")
	e, err := Open(path, cfg)
	if err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(func() { e.Close() })
	if err := e.SignIn(w.t.Context(), w.url, user, testPassword, user+" 的手机"); err != nil {
		w.t.Fatalf("sign in %s: %v", user, err)
	}
	return e, path
}

// serverRecords returns the server's current version of every record of a
// pairing, encoded, by collection/id.
func (w *world) serverRecords(pairing string) map[string][]byte {
	w.t.Helper()
	return w.Records(pairing)
}

func (w *world) head(pairing string) uint64 {
	w.t.Helper()
	return w.Head(pairing)
}

// receipt returns the server's stored answer to a device's change.
func (w *world) receipt(device string, counter uint64) (syncproto.Result, bool) {
	w.t.Helper()
	return w.Receipt(device, counter)
}

// call makes a REST call as an administrator would (outside the engine).
func (w *world) call(method, path, token string, body any) (int, []byte) {
	w.t.Helper()
	r := w.Call(method, path, token, body)
	return r.Status, r.Body
}

func (w *world) login(user string) string {
	w.t.Helper()
	return w.Token(user)
}

// set is Engine.Set with Go values, failing the test on error.
func set(t testing.TB, e *Engine, coll, id, pairing string, fields map[string]any) {
	t.Helper()
	if err := e.Set(coll, id, pairing, jsonFields(t, fields)); err != nil {
		t.Fatalf("set %s/%s: %v", coll, id, err)
	}
}

func mustSync(t testing.TB, e *Engine) Progress {
	t.Helper()
	p, err := e.Sync(t.Context())
	if err != nil {
		t.Fatalf("sync: %v", err)
	}
	return p
}

// encoded is the canonical encoding of an engine's view of a record.
func encoded(t testing.TB, e *Engine, key string) []byte {
	t.Helper()
	coll, id, _ := cutKey(key)
	r, ok := e.Get(coll, id)
	if !ok {
		return nil
	}
	b, err := syncproto.Encode(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func cutKey(key string) (string, string, bool) {
	for i := 0; i < len(key); i++ {
		if key[i] == '/' {
			return key[:i], key[i+1:], true
		}
	}
	return key, "", false
}

// sameAsServer checks that the engine holds every record of the pairing
// exactly as the server does, byte for byte.
func sameAsServer(t testing.TB, w *world, e *Engine, who, pairing string) int {
	t.Helper()
	recs := w.serverRecords(pairing)
	for k, data := range recs {
		if who == "contact" && strings.HasPrefix(k, "visits/") {
			// Contacts do not receive the officers' visits.
			if got := encoded(t, e, k); got != nil {
				t.Errorf("the contact holds %s", k)
			}
			delete(recs, k)
			continue
		}
		if got := encoded(t, e, k); !bytes.Equal(got, data) {
			t.Errorf("%s's %s:\n got  %s\n want %s (the server's)", who, k, got, data)
		}
	}
	return len(recs)
}

// localState dumps what an engine holds of a pairing: base keys, outbox
// entries, cursor entry.
func localState(t testing.TB, e *Engine, pairing string) (base []string, outbox int, cursor bool) {
	t.Helper()
	err := e.db.View(func(tx *bbolt.Tx) error {
		err := tx.Bucket(bucketBase).ForEach(func(k, v []byte) error {
			var r syncproto.Record
			if err := r.UnmarshalJSON(v); err != nil {
				return err
			}
			if r.Pairing == pairing || (r.Collection == "pairings" && r.ID == pairing) {
				base = append(base, r.Collection+"/"+r.ID)
			}
			return nil
		})
		if err != nil {
			return err
		}
		err = tx.Bucket(bucketOutbox).ForEach(func(_, v []byte) error {
			w, err := decodeWrite(v)
			if err == nil && w.Pairing == pairing {
				outbox++
			}
			return err
		})
		cursor = tx.Bucket(bucketCursor).Get([]byte(pairing)) != nil
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return base, outbox, cursor
}

func writerOf(t testing.TB, e *Engine) writerState {
	t.Helper()
	var ws writerState
	if err := e.db.View(func(tx *bbolt.Tx) error {
		var err error
		ws, _, err = loadWriter(tx)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return ws
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
