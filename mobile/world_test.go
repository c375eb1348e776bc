package mobile

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/pairsync/pairsync/server"
	"github.com/pairsync/pairsync/server/auth"
	"github.com/pairsync/pairsync/storage"
	"github.com/pairsync/pairsync/storage/bolt"
	"github.com/pairsync/pairsync/storage/files"
	"github.com/pairsync/pairsync/syncproto"
)

// The real server, in-process on 127.0.0.1, on a real bolt file: org units
// root → {unitA, unitB}, users of every role, and pairings committed into
// the directory scope straight through the store (as an administrator's
// write through the server would be: a Writer with its own replica id).
//
//	p1: unitA, officer officerA, counterparty cp-A (contactA)
//	p2: unitB, officer officerB, counterparty cp-B (contactB)
//	p3: unitA, officer officerA, counterparty cp-C

const testPassword = "correct-horse-9"

// fastPasswords keeps sign-ins quick (production parameters are tested in
// server/auth).
var fastPasswords = auth.Params{MemoryKiB: 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

type world struct {
	t   testing.TB
	db  *bolt.DB
	srv *server.Server
	url string

	dirMu sync.Mutex
	dirW  syncproto.Writer // the "administrator" writing the directory
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
	ctx := t.Context()
	dir := t.TempDir()
	db, err := bolt.Open(ctx, bolt.Config{Path: filepath.Join(dir, "pairsync.db"), NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	photos, err := files.Open(filepath.Join(dir, "photos"))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Config{}, server.Deps{Store: db, Photos: photos, PasswordParams: fastPasswords, ProtocolOnly: !rules})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	w := &world{t: t, db: db, srv: srv, url: "http://" + ln.Addr().String(), dirW: syncproto.Writer{Replica: "srv-mobiletest"}}

	for _, u := range []storage.OrgUnit{
		{ID: "root", Name: "市委组织部", Kind: "committee"},
		{ID: "unitA", ParentID: "root", Name: "单位 A", Kind: "department"},
		{ID: "unitB", ParentID: "root", Name: "单位 B", Kind: "department"},
	} {
		if _, err := db.CreateOrgUnit(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	phc, err := auth.NewHasher(fastPasswords, 1).Hash(ctx, testPassword)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []storage.User{
		{ID: "u-adminA", Username: "adminA", Role: "admin", OrgUnit: "unitA"},
		{ID: "u-officerA", Username: "officerA", Role: "officer", OrgUnit: "unitA"},
		{ID: "u-contactA", Username: "contactA", Role: "contact", OrgUnit: "unitA", Counterparty: "cp-A"},
		{ID: "u-officerB", Username: "officerB", Role: "officer", OrgUnit: "unitB"},
		{ID: "u-contactB", Username: "contactB", Role: "contact", OrgUnit: "unitB", Counterparty: "cp-B"},
	} {
		u.Name, u.PasswordHash = u.Username, phc
		if _, err := db.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []struct{ id, unit, officer, cp string }{
		{"p1", "unitA", "u-officerA", "cp-A"}, {"p2", "unitB", "u-officerB", "cp-B"}, {"p3", "unitA", "u-officerA", "cp-C"},
	} {
		// starts_on: the fixtures record visits dated weeks back, and a
		// device time before its pairing began is refused.
		w.dirSet("pairings", p.id, map[string]any{"name": "结对 " + p.id, "status": "active", "branches": []string{p.unit},
			"counterparties": []string{p.cp}, "officers": []map[string]any{{"user_id": p.officer, "primary": true}}, "starts_on": "2020-01-01"})
		w.dirSet("counterparties", p.cp, map[string]any{"name": "企业 " + p.cp, "kind": "enterprise"})
	}
	return w
}

// dirSet writes fields of a directory record through the store's commit
// path, as the server's own writes are committed.
func (w *world) dirSet(coll, id string, fields map[string]any) {
	w.t.Helper()
	w.dirMu.Lock()
	defer w.dirMu.Unlock()
	ctx := w.t.Context()
	k := storage.Key{Collection: coll, ID: id}
	cur := syncproto.NewRecord(coll, id, "_directory")
	var expect uint64
	sr, err := w.db.Get(ctx, k)
	switch {
	case errors.Is(err, storage.ErrNotFound):
	case err != nil:
		w.t.Fatal(err)
	default:
		if cur, err = syncproto.DecodeRecord(sr.Data, syncproto.Limits{}); err != nil {
			w.t.Fatal(err)
		}
		expect = sr.Seq
	}
	next, _, err := w.dirW.Set(cur, jsonFields(w.t, fields), time.Now())
	if err != nil {
		w.t.Fatal(err)
	}
	data, err := syncproto.Encode(next)
	if err != nil {
		w.t.Fatal(err)
	}
	if _, err := w.db.Commit(ctx, storage.Batch{Pairing: "_directory", Puts: []storage.Put{{Key: k, Expect: expect, Data: data}}}); err != nil {
		w.t.Fatal(err)
	}
}

func jsonFields(t testing.TB, fields map[string]any) map[string]json.RawMessage {
	t.Helper()
	out := make(map[string]json.RawMessage, len(fields))
	for k, v := range fields {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		out[k] = b
	}
	return out
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
	out := map[string][]byte{}
	var after uint64
	for {
		page, err := w.db.Changes(w.t.Context(), pairing, after, storage.PageLimit{})
		if err != nil {
			w.t.Fatal(err)
		}
		for _, r := range page.Records {
			out[r.Collection+"/"+r.ID] = r.Data
		}
		after = page.Next
		if !page.More {
			return out
		}
	}
}

func (w *world) head(pairing string) uint64 {
	w.t.Helper()
	h, err := w.db.Head(w.t.Context(), pairing)
	if err != nil {
		w.t.Fatal(err)
	}
	return h
}

// receipt returns the server's stored answer to a device's change.
func (w *world) receipt(device string, counter uint64) (syncproto.Result, bool) {
	w.t.Helper()
	b, err := w.db.Receipt(w.t.Context(), device, counter)
	if errors.Is(err, storage.ErrNotFound) {
		return syncproto.Result{}, false
	}
	if err != nil {
		w.t.Fatal(err)
	}
	var r syncproto.Result
	if err := json.Unmarshal(b, &r); err != nil {
		w.t.Fatal(err)
	}
	return r, true
}

// call makes a REST call as an administrator would (outside the engine).
func (w *world) call(method, path, token string, body any) (int, []byte) {
	w.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(w.t.Context(), method, w.url+path, rd)
	if err != nil {
		w.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func (w *world) login(user string) string {
	w.t.Helper()
	st, b := w.call("POST", "/v1/auth/login", "", map[string]string{"username": user, "password": testPassword})
	if st != 200 {
		w.t.Fatalf("login %s: %d %s", user, st, b)
	}
	var tr tokenResponse
	if err := json.Unmarshal(b, &tr); err != nil {
		w.t.Fatal(err)
	}
	return tr.AccessToken
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
