package server

import (
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/pairsync/pairsync/syncproto"
)

// TestConcurrentGuessesReserved is issue 18 M5 (SECURITY.md 14): 60
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
	evaluated := 0
	for _, st := range statuses {
		switch st {
		case 200, 401:
			evaluated++
		case 429:
		default:
			t.Errorf("a guess answered %d, want 200, 401 or 429", st)
		}
	}
	hashes := e.s.hasher.Hashes() - h0
	if evaluated > maxFailsAccountIP || hashes > maxFailsAccountIP {
		t.Fatalf("%d concurrent guesses: %d evaluated, %d hashes; want at most %d", n, evaluated, hashes, maxFailsAccountIP)
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
		body.Message != fmt.Sprintf("too many failed attempts: try again in %d minutes", (ra+59)/60) {
		t.Fatalf("429: Retry-After %q, body %s; want the wait in the header, in retry_after and in minutes in the message", r.header.Get("Retry-After"), r.body)
	}
	if r := try("officerA", testPassword, "10.6.6.6"); r.status != 429 {
		t.Fatalf("the right password from the throttled client: got %d, want 429", r.status)
	}
	if r := try(phone, testPassword, "10.7.7.7"); r.status != 200 {
		t.Fatalf("the owner from another client: got %d %s, want 200 (an attacker cannot lock the owner out)", r.status, r.body)
	}
}
