package server

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pairsync/pairsync/server/auth"
	"github.com/pairsync/pairsync/server/pairing"
	"github.com/pairsync/pairsync/storage"
	"github.com/pairsync/pairsync/storage/mongo"
	"github.com/pairsync/pairsync/storage/mongo/mongotest"
	"github.com/pairsync/pairsync/syncproto"
)

// pairsyncd runs as several replicas behind a load balancer on one
// store. The TestReplicas* tests run three Servers in this process on one
// store (bolt; and MongoDB: MONGODB_URI's, else FerretDB) and check that what
// one replica learns, the others see: sign-in and confirmation-code
// throttles, signing keys, org units, devices' sightings.

// replicaCount is how many Servers share the store.
const replicaCount = 3

// convergeWithin bounds the polls for a change to reach every replica. The
// design bounds are seconds (ARCHITECTURE.md, "Replicas"); the margin is for
// a loaded test machine. Each poll logs how long it took.
const convergeWithin = 20 * time.Second

// replicaEnv is three Servers on one store, each served on 127.0.0.1, with
// the org tree and users of newEnv.
type replicaEnv struct {
	t     *testing.T
	store storage.Store
	rs    []*idEnv // one per replica: call, login, device go to that one
	units map[string]storage.OrgUnit
	// serial is set on FerretDB: racing cases are skipped.
	serial bool
}

// replicaStores runs fn once per store the replicas can share: bolt, and
// MongoDB: the one MONGODB_URI names, else FerretDB embedded, which has no
// transactions and no atomic updates, so there the cases that race (serial
// set) are skipped, saying so.
func replicaStores(t *testing.T, fn func(t *testing.T, e *replicaEnv)) {
	t.Run("bolt", func(t *testing.T) {
		db, photos := openStores(t)
		fn(t, newReplicaEnv(t, db, photos))
	})
	t.Run("mongo", func(t *testing.T) {
		uri, standalone := mongotest.URI(t)
		db, err := mongo.Open(t.Context(), mongo.Config{URI: uri, Database: fmt.Sprintf("replicas_%d", time.Now().UnixNano()), AllowStandalone: standalone})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		_, photos := openStores(t)
		e := newReplicaEnv(t, db, photos)
		e.serial = standalone
		fn(t, e)
	})
}

// racing skips what follows on a store that cannot serve racing writers.
func (e *replicaEnv) racing(t *testing.T) bool {
	if e.serial {
		t.Log("FerretDB (MONGODB_URI not set): the racing part is skipped, as FerretDB has no transactions and its updates are not atomic; it runs on bolt here and on a real MongoDB with MONGODB_URI")
		return false
	}
	return true
}

func newReplicaEnv(t *testing.T, store storage.Store, photos storage.Photos) *replicaEnv {
	t.Helper()
	e := &replicaEnv{t: t, store: store, units: map[string]storage.OrgUnit{}}
	ctx := t.Context()
	for _, u := range []storage.OrgUnit{
		{ID: "root", Name: "单位 root", Kind: "committee"},
		{ID: "unitA", ParentID: "root", Name: "单位 A", Kind: "department"},
		{ID: "unitB", ParentID: "root", Name: "单位 B", Kind: "department"},
	} {
		cu, err := store.CreateOrgUnit(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		e.units[u.ID] = cu
	}
	phc, err := auth.NewHasher(fastPasswords, 1).Hash(ctx, testPassword)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []storage.User{
		{ID: "u-root", Username: "root", Role: "admin", OrgUnit: "root"},
		{ID: "u-adminA", Username: "adminA", Role: "admin", OrgUnit: "unitA"},
		{ID: "u-officerA", Username: "officerA", Role: "officer", OrgUnit: "unitA", Phone: "13800000000"},
		{ID: "u-officerB", Username: "officerB", Role: "officer", OrgUnit: "unitB", Phone: "13800000001"},
		{ID: "u-viewerA", Username: "viewerA", Role: "viewer", OrgUnit: "unitA"},
	} {
		u.Name, u.PasswordHash = u.Username, phc
		if _, err := store.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	for range replicaCount {
		s, err := New(Config{}, Deps{Store: store, Photos: photos, PasswordParams: fastPasswords})
		if err != nil {
			t.Fatal(err)
		}
		e.rs = append(e.rs, &idEnv{t: t, s: s, base: serve(t, s)})
	}
	return e
}

// eventually polls cond until it holds, failing t after convergeWithin;
// it logs how long the change took to reach every replica.
func eventually(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	start := time.Now()
	for {
		ok, state := cond()
		if ok {
			t.Logf("%s: after %v", what, time.Since(start).Round(time.Millisecond))
			return
		}
		if time.Since(start) > convergeWithin {
			t.Fatalf("%s: not after %v (%s)", what, convergeWithin, state)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestReplicasThrottle: wrong passwords spread over the replicas count on
// one counter (the user name and the phone number alike): the fourth from a
// client answers 429 on every replica, the right password too; 30 guesses
// racing over the replicas evaluate 3; wrong confirmation codes spread over
// the replicas are refused after the fifth.
func TestReplicasThrottle(t *testing.T) {
	replicaStores(t, func(t *testing.T, e *replicaEnv) {
		guess := func(i int, login, password string) int {
			return e.rs[i%replicaCount].call("POST", "/v1/auth/login", "", loginRequest{Username: login, Password: password}).status
		}
		for i, login := range []string{"officerA", "13800000000", "officerA"} {
			if got := guess(i, login, "wrong-password-1"); got != http.StatusUnauthorized {
				t.Fatalf("wrong password %d (%s) on replica %d: got %d, want 401", i+1, maskLogin(login), i%replicaCount, got)
			}
		}
		for i := 3; i < 6; i++ {
			if got := guess(i, "officerA", "wrong-password-1"); got != http.StatusTooManyRequests {
				t.Fatalf("wrong password %d on replica %d: got %d, want 429 (the throttle holds across replicas)", i+1, i%replicaCount, got)
			}
		}
		if got := guess(1, "13800000000", testPassword); got != http.StatusTooManyRequests {
			t.Fatalf("the right password by phone after 3 wrong ones: got %d, want 429", got)
		}
		if got := guess(2, "officerB", testPassword); got != http.StatusOK {
			t.Fatalf("another account from the same client: got %d, want 200", got)
		}

		// Confirmation codes: the 6th wrong code is refused whichever
		// replica checks it.
		officer := pairing.Principal{UserID: "u-officerA", Role: "officer"}
		for i := range maxWrongCodesSubject + 3 {
			perr, err := contactCodes{e.rs[i%replicaCount].s}.Verify(t.Context(), officer, "issue", "issue-1#resp-1", "000000")
			if err != nil {
				t.Fatalf("check code %d: got error %v, want none", i+1, err)
			}
			want := syncproto.CodeForbidden
			if i >= maxWrongCodesSubject {
				want = syncproto.CodeRateLimited
			}
			if perr == nil || perr.Code != want {
				t.Fatalf("wrong code %d on replica %d: got %+v, want %s", i+1, i%replicaCount, perr, want)
			}
		}

		// 30 guesses racing over the replicas evaluate 3.
		if !e.racing(t) {
			return
		}
		codes := make([]int, 30)
		var wg sync.WaitGroup
		for i := range codes {
			wg.Go(func() { codes[i] = guess(i, "viewerA", "wrong-password-2") })
		}
		wg.Wait()
		count := map[int]int{}
		for _, c := range codes {
			count[c]++
		}
		if count[http.StatusUnauthorized] != 3 || count[http.StatusTooManyRequests] != 27 {
			t.Fatalf("30 racing guesses over %d replicas: got %v (status → answers), want 3 × 401 and 27 × 429", replicaCount, count)
		}
	})
}

// tokenKID reads the kid from a JWT's header.
func tokenKID(t *testing.T, token string) string {
	t.Helper()
	head, _, _ := strings.Cut(token, ".")
	raw, err := base64.RawURLEncoding.DecodeString(head)
	if err != nil {
		t.Fatalf("token header: %v", err)
	}
	var h struct {
		KID string `json:"kid"`
	}
	if err := json.Unmarshal(raw, &h); err != nil {
		t.Fatalf("token header: %v", err)
	}
	return h.KID
}

// TestReplicasKeyRotation: a key rotated in the store, as `pairsyncd
// rotate-key` does while the replicas run, signs on every replica, and the
// tokens of each verify on every other, without a restart; so does one
// rotated through a replica's route; and a replica started after a rotation
// (a restart) is agreed with at once.
func TestReplicasKeyRotation(t *testing.T) {
	replicaStores(t, func(t *testing.T, e *replicaEnv) {
		// Every replica has loaded the first key and verifies the others'.
		for i, r := range e.rs {
			tok := r.login("officerA").AccessToken
			for j, o := range e.rs {
				if got := o.call("GET", "/v1/me", tok, nil).status; got != http.StatusOK {
					t.Fatalf("a token of replica %d on replica %d before rotating: got %d, want 200", i, j, got)
				}
			}
		}
		converged := func(what, kid string) {
			t.Helper()
			done := make([]bool, replicaCount)
			eventually(t, what, func() (bool, string) {
				var state []string
				for i, r := range e.rs {
					if done[i] {
						continue
					}
					tok := r.login("officerA").AccessToken
					if got := tokenKID(t, tok); !strings.HasPrefix(kid, got) {
						state = append(state, fmt.Sprintf("replica %d signs with %s", i, got))
						continue
					}
					ok := true
					for j, o := range e.rs {
						if got := o.call("GET", "/v1/me", tok, nil).status; got != http.StatusOK {
							state = append(state, fmt.Sprintf("replica %d's token on replica %d: %d", i, j, got))
							ok = false
						}
					}
					done[i] = ok
				}
				return len(state) == 0, strings.Join(state, "; ")
			})
		}

		kid, err := auth.Rotate(t.Context(), e.store, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		converged("a key rotated in the store signs and verifies on every replica", kid)

		var rotated struct {
			KID string `json:"kid"`
		}
		r := e.rs[0].call("POST", "/v1/auth/keys/rotate", e.rs[0].login("root").AccessToken, nil)
		if r.status != http.StatusOK {
			t.Fatalf("rotate through replica 0: got %d %s, want 200", r.status, r.body)
		}
		r.json(t, &rotated)
		converged("a key rotated through replica 0 signs and verifies on every replica", rotated.KID)

		// A restarted replica signs with the newest key; the others accept
		// its tokens.
		kid, err = auth.Rotate(t.Context(), e.store, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		restarted, err := New(Config{}, Deps{Store: e.store, Photos: e.rs[0].s.photos, PasswordParams: fastPasswords})
		if err != nil {
			t.Fatal(err)
		}
		re := &idEnv{t: t, s: restarted, base: serve(t, restarted)}
		tok := re.login("officerA").AccessToken
		if got := tokenKID(t, tok); !strings.HasPrefix(kid, got) {
			t.Fatalf("the restarted replica signs with %s, want the newest key %s", got, kid)
		}
		eventually(t, "the restarted replica's token verifies on every replica", func() (bool, string) {
			for j, o := range e.rs {
				if got := o.call("GET", "/v1/me", tok, nil).status; got != http.StatusOK {
					return false, fmt.Sprintf("replica %d answers %d", j, got)
				}
			}
			return true, ""
		})
	})
}

// TestReplicasOrgUnitChange: an org unit's SLA days changed through one
// replica reach the issue rules of every replica within seconds, although
// each had the tree cached.
func TestReplicasOrgUnitChange(t *testing.T) {
	replicaStores(t, func(t *testing.T, e *replicaEnv) {
		for _, r := range e.rs {
			if got := r.s.sla.Tree(t.Context())["unitA"].SLADays[pairing.SignDaysKey]; got != 0 {
				t.Fatalf("sign days of unit A before the change: got %d, want none", got)
			}
		}
		r := e.rs[0].call("PATCH", "/v1/org-units/unitA", e.rs[0].login("root").AccessToken,
			map[string]any{"sla_days": map[string]int{pairing.SignDaysKey: 9}})
		if r.status != http.StatusOK {
			t.Fatalf("patch unit A: got %d %s, want 200", r.status, r.body)
		}
		eventually(t, "the changed SLA days on every replica", func() (bool, string) {
			var state []string
			for i, r := range e.rs {
				if got := r.s.sla.Tree(t.Context())["unitA"].SLADays[pairing.SignDaysKey]; got != 9 {
					state = append(state, fmt.Sprintf("replica %d reads %d", i, got))
				}
			}
			return len(state) == 0, strings.Join(state, "; ")
		})
	})
}

// TestReplicasLastSeen: a device that synced once on a replica that then
// gets no more requests is seen as synced on every other replica within
// seconds (bolt keeps sightings in memory a few seconds; MongoDB writes
// them during the sync).
func TestReplicasLastSeen(t *testing.T) {
	replicaStores(t, func(t *testing.T, e *replicaEnv) {
		d := e.rs[0].device(t, "officerA")
		// As if replica 1 had just written its sightings: this one waits.
		e.rs[1].s.seen.mu.Lock()
		e.rs[1].s.seen.flushed = time.Now()
		e.rs[1].s.seen.mu.Unlock()
		if r := e.rs[1].call("GET", "/v1/sync/scopes", d.token, nil); r.status != http.StatusOK {
			t.Fatalf("scopes on replica 1: got %d %s, want 200", r.status, r.body)
		}
		admin := e.rs[2].login("adminA").AccessToken
		eventually(t, "the sighting on replica 1 seen by replica 2", func() (bool, string) {
			var v deviceView
			r := e.rs[2].call("GET", "/v1/devices/"+d.id, admin, nil)
			if r.status != http.StatusOK {
				return false, fmt.Sprintf("device view: %d %s", r.status, r.body)
			}
			r.json(t, &v)
			return v.LastSeen != nil, "last seen: none"
		})
	})
}

// TestReplicasPhotoCleanup: photos nobody cites are collected on one
// replica, again and again, while phones push visits citing them through
// the other two and ask whether to upload. No photo a record cites is
// removed after a phone was told it is stored, and every cited photo ends
// stored (a phone not told so sends it again).
func TestReplicasPhotoCleanup(t *testing.T) {
	replicaStores(t, func(t *testing.T, e *replicaEnv) {
		for _, r := range e.rs {
			r.s.cfg.PhotoGCGrace = time.Nanosecond
		}
		admin := e.rs[0].login("adminA").AccessToken
		cp := e.rs[0].create(t, "/v1/counterparties", admin, map[string]any{"kind": "enterprise", "name": "南京某某照片有限公司",
			"credit_code": pairing.CompleteCreditCode("91320100MA1" + "ABCDE2"), "org_unit": "unitA", "industry": "制造业"})
		pid := e.rs[0].create(t, "/v1/pairings", admin, map[string]any{"name": "一支部 ↔ 照片公司", "status": "active", "branches": []string{"unitA"},
			"counterparties": []string{cp}, "officers": []map[string]any{{"user_id": "u-officerA", "primary": true}}, "starts_on": "2026-01-01"})
		at := time.Now().UTC().Format(time.RFC3339)
		visitFields := func(photos ...[]byte) map[string]any {
			m := manifestOf("image/jpeg", photos...)
			if m == nil {
				m = []map[string]any{}
			}
			return map[string]any{"mode": "onsite", "visited_at": at, "officers": []string{"u-officerA"},
				"location": map[string]any{"lat": 32, "lng": 118.8}, "photos": m}
		}
		racing := e.racing(t)
		n := 6
		if !racing {
			n = 2
		}
		var photos [][]byte
		for i := range n {
			photos = append(photos, testJPEG(t, uint64(200+i), 8<<10))
		}
		// Stored, then cited by nobody.
		first := e.rs[0].device(t, "officerA")
		first.pull()
		_, ans := first.push(first.set("visits", "v0", pid, visitFields(photos...)))
		wantWritten(t, "v0 citing every photo", ans)
		for _, p := range photos {
			if r := first.phoneUpload(p, "image/jpeg", 0); r.status != http.StatusOK {
				t.Fatalf("upload: %d %s", r.status, r.body)
			}
		}
		_, ans = first.push(first.set("visits", "v0", pid, visitFields()))
		wantWritten(t, "v0 citing none", ans)

		// One phone per photo, on replicas 0 and 1: push a visit citing
		// it, ask, and send it unless told it is stored.
		told := make([]bool, n)
		devices := make([]*device, n)
		for i := range n { // signed in one after another: racing sign-ins meet the throttle
			devices[i] = e.rs[i%2].device(t, "officerA")
			devices[i].pull()
		}
		phone := func(i int) {
			d := devices[i]
			_, ans := d.push(d.set("visits", fmt.Sprintf("v%d", i+1), pid, visitFields(photos[i])))
			if len(ans.Results) != 1 || ans.Results[0].Status != syncproto.StatusApplied && ans.Results[0].Status != syncproto.StatusMerged {
				t.Errorf("phone %d's visit: %+v", i, ans.Results)
				return
			}
			eventually(t, fmt.Sprintf("phone %d's photo stored", i), func() (bool, string) {
				r := d.phoneUpload(photos[i], "image/jpeg", 0)
				if r.status != http.StatusOK {
					return false, fmt.Sprintf("%d %s", r.status, r.body) // 503 while its removal is under way
				}
				var a uploadAnswer
				r.json(t, &a)
				told[i] = a.Stored || strings.Contains(string(r.body), `"stored":true`)
				return true, ""
			})
		}
		if !racing {
			for i := range n {
				phone(i)
				if _, err := e.rs[2].s.CollectPhotos(t.Context(), false); err != nil {
					t.Fatal(err)
				}
			}
		} else {
			done := make(chan struct{})
			collected := make(chan int)
			go func() {
				runs := 0
				for {
					select {
					case <-done:
						collected <- runs
						return
					default:
					}
					if _, err := e.rs[2].s.CollectPhotos(t.Context(), false); err != nil {
						t.Errorf("collection: %v", err)
					}
					runs++
				}
			}()
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() { phone(i) })
			}
			wg.Wait()
			close(done)
			t.Logf("%d collections ran during the pushes", <-collected)
		}
		// A last collection after everything: every photo is cited now.
		rep, err := e.rs[2].s.CollectPhotos(t.Context(), false)
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Orphan) != 0 {
			t.Errorf("the last collection removed %+v, want nothing (every photo is cited)", rep.Orphan)
		}
		for i, p := range photos {
			if _, err := e.rs[0].s.photos.StatPhoto(t.Context(), sumOf(p)); err != nil {
				t.Errorf("photo %d (told stored: %v), cited by v%d: %v, want stored", i, told[i], i+1, err)
			}
			for k, rep := range e.rs {
				if err := rep.s.ledger.Refresh(t.Context()); err != nil {
					t.Fatal(err)
				}
				if !rep.s.ledger.PhotoStored(sumOf(p)) {
					t.Errorf("photo %d: replica %d's receipt says not stored", i, k)
				}
			}
		}
	})
}
