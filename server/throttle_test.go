package server

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pairsync/pairsync/syncproto"
)

// TestConcurrentGuessesReserved (SECURITY.md 14): 60
// concurrent guesses at one account from one client evaluate at most the
// allowed number of passwords; the right password among the refused ones
// does not get through.
func TestConcurrentGuessesReserved(t *testing.T) {
	// Hashes slow enough (8 MiB, t=2) that the guesses overlap.
	slow := fastPasswords
	slow.MemoryKiB, slow.Time = 8<<10, 2
	e := newEnvConfig(t, false, nil, nil, Config{}, Deps{PasswordParams: slow})
	h0 := e.s.hasher.Hashes()
	const n = 60
	statuses := make([]int, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pw := "wrong-password-" + strconv.Itoa(i)
			if i == n-1 {
				pw = testPassword
			}
			<-start
			statuses[i] = e.call("POST", "/v1/auth/login", "", map[string]string{"username": "officerA", "password": pw}).status
		}()
	}
	close(start)
	wg.Wait()
	evaluated, wrong := 0, 0
	for _, st := range statuses {
		switch st {
		case 200:
			evaluated++
		case 401:
			evaluated++
			wrong++
		case 429, 503: // throttled, or shed by the sign-in pool
		default:
			t.Errorf("a guess answered %d, want 200, 401 or 429", st)
		}
	}
	// At most 3 wrong passwords are evaluated; the right one, if it was
	// reserved, gives its attempt back (a success costs no attempt), so at
	// most one more hash.
	hashes := e.s.hasher.Hashes() - h0
	if wrong > maxFailsAccountIP || evaluated > maxFailsAccountIP+1 || hashes > int64(evaluated) {
		t.Fatalf("%d concurrent guesses: %d evaluated (%d wrong), %d hashes; want at most %d wrong and %d evaluated", n, evaluated, wrong, hashes, maxFailsAccountIP, maxFailsAccountIP+1)
	}
	t.Logf("%d concurrent guesses: %d evaluated (%d hashes), the rest 429", n, evaluated, hashes)
}

// TestThrottleCannotLockOwnerOut: guesses from one client, typing the phone
// number or the user name, share one counter and end in 429 with how long to
// wait; the owner signing in from another client is not locked out.
func TestThrottleCannotLockOwnerOut(t *testing.T) {
	e := newEnvConfig(t, false, nil, nil, Config{TrustedProxies: []string{"127.0.0.1"}}, Deps{})
	try := func(login, pw, ip string) result {
		return e.call("POST", "/v1/auth/login", "", map[string]string{"username": login, "password": pw}, "X-Forwarded-For", ip)
	}
	phone := e.users["officerA"].Phone
	for i, login := range []string{"officerA", phone, "officerA"} {
		if r := try(login, "wrong-password", "10.6.6.6"); r.status != 401 {
			t.Fatalf("wrong password %d (%s): got %d, want 401", i+1, maskLogin(login), r.status)
		}
	}
	r := try(phone, "wrong-password", "10.6.6.6")
	if r.status != 429 {
		t.Fatalf("4th wrong password, by phone number after user names: got %d %s, want 429 (one counter per account)", r.status, r.body)
	}
	var body syncproto.Error
	if err := json.Unmarshal(r.body, &body); err != nil {
		t.Fatal(err)
	}
	ra, _ := strconv.Atoi(r.header.Get("Retry-After"))
	if ra < 60 || ra > int(throttleWindow/time.Second) || body.RetryAfter != ra || body.Code != syncproto.CodeRateLimited ||
		!strings.Contains(body.Message, fmt.Sprintf("%d minutes", (ra+59)/60)) {
		t.Fatalf("429: Retry-After %q, body %s; want the wait in the header, in retry_after and in minutes in the message", r.header.Get("Retry-After"), r.body)
	}
	if r := try("officerA", testPassword, "10.6.6.6"); r.status != 429 {
		t.Fatalf("the right password from the throttled client: got %d, want 429", r.status)
	}
	if r := try(phone, testPassword, "10.7.7.7"); r.status != 200 {
		t.Fatalf("the owner from another client: got %d %s, want 200 (an attacker cannot lock the owner out)", r.status, r.body)
	}
}

// TestSignInFloodDoesNotStarveSync (SECURITY.md 14): while a
// flood of bad sign-ins (from many clients, so no throttle stops it) keeps
// the password hasher saturated, authenticated requests and pushes are
// admitted by the shared slots and never answered 503.
func TestSignInFloodDoesNotStarveSync(t *testing.T) {
	slow := fastPasswords
	slow.MemoryKiB, slow.Time = 8<<10, 2
	e := newEnvConfig(t, false, nil, nil,
		Config{MaxInFlight: 4, QueueWait: 50 * time.Millisecond, TrustedProxies: []string{"127.0.0.1"}},
		Deps{HashesInFlight: 1, PasswordParams: slow})
	pairingsFixture(t, e)
	d := e.device(t, "officerA")

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var floodMu sync.Mutex
	flood := map[int]int{}
	for g := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				r := e.call("POST", "/v1/auth/login", "", map[string]string{"username": fmt.Sprintf("nobody%d-%d", g, i), "password": "wrong-password"},
					"X-Forwarded-For", fmt.Sprintf("10.%d.%d.%d", g, i/250%250, i%250+1))
				floodMu.Lock()
				flood[r.status]++
				floodMu.Unlock()
			}
		}()
	}
	h0 := e.s.hasher.Hashes()
	time.Sleep(100 * time.Millisecond) // the flood fills the hasher's queue
	authed := map[int]int{}
	for i := range 40 {
		authed[e.call("GET", "/v1/me", d.token, nil).status]++
		r, _ := d.push(d.set("visits", fmt.Sprintf("v-flood-%d", i), "p1", map[string]any{"notes": "洪水期间"}))
		authed[r.status]++
	}
	close(stop)
	wg.Wait()
	hashes := e.s.hasher.Hashes() - h0
	t.Logf("authenticated answers %v; flood answers %v, %d hashes during it", authed, flood, hashes)
	if authed[503] != 0 || authed[200] != 80 {
		t.Fatalf("authenticated requests under a sign-in flood: %v; want 80 × 200, no 503", authed)
	}
	// Saturated: the flood was shed (503) because the hasher's queue was
	// full, and the hasher worked throughout. How many hashes that is
	// depends on the machine (9 under -race on two busy cores).
	if hashes < 2 || flood[503] == 0 {
		t.Fatalf("the flood did not saturate sign-ins (%d hashes, answers %v): the test proves nothing", hashes, flood)
	}
}
