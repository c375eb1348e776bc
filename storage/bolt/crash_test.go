package bolt_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pairsync/pairsync/storage"
	"github.com/pairsync/pairsync/storage/bolt"
	bbolt "go.etcd.io/bbolt"
)

// crashEnv, when set to a database path, turns the test binary into the
// crash child: it commits batches to that file until it is killed.
const crashEnv = "PAIRSYNC_BOLT_CRASH_CHILD"

// Shape of the crash child's batches: crashRecords fresh records of
// crashRecordSize bytes, plus the counter record (the batch id) and a
// receipt (child, batch id). Big enough that a commit spans many pages.
const (
	crashPairing    = "crash"
	crashRecords    = 20
	crashRecordSize = 2000
)

var crashCounter = storage.Key{Collection: "counters", ID: "batch"}

func TestMain(m *testing.M) {
	if path := os.Getenv(crashEnv); path != "" {
		os.Exit(crashChild(path))
	}
	os.Exit(m.Run())
}

func crashRecordKey(batch, i int) storage.Key {
	return storage.Key{Collection: "visits", ID: fmt.Sprintf("b%06d-%02d", batch, i)}
}

func crashData(batch, i int) []byte {
	return bytes.Repeat([]byte{byte(batch), byte(i)}, crashRecordSize/2)
}

// crashChild resumes after the last batch stored in path and commits batch
// after batch, writing "ack N" to stdout once batch N's Commit returned. It
// returns only on error.
func crashChild(path string) int {
	ctx := context.Background()
	db, err := bolt.Open(ctx, bolt.Config{Path: path})
	if err != nil {
		fmt.Fprintln(os.Stderr, "crash child:", err)
		return 2
	}
	next, expect := 1, uint64(0)
	if r, err := db.Get(ctx, crashCounter); err == nil {
		n, _ := strconv.Atoi(string(r.Data))
		next, expect = n+1, r.Seq
	}
	fmt.Fprintln(os.Stdout, "ready")
	for batch := next; ; batch++ {
		b := storage.Batch{Pairing: crashPairing,
			Receipts: []storage.Receipt{{Replica: "child", Counter: uint64(batch), Answer: []byte(strconv.Itoa(batch))}},
		}
		for i := range crashRecords {
			b.Puts = append(b.Puts, storage.Put{Key: crashRecordKey(batch, i), Data: crashData(batch, i)})
		}
		b.Puts = append(b.Puts, storage.Put{Key: crashCounter, Expect: expect, Data: []byte(strconv.Itoa(batch))})
		c, err := db.Commit(ctx, b)
		if err != nil {
			fmt.Fprintln(os.Stderr, "crash child:", err)
			return 3
		}
		expect = c.Seqs[len(c.Seqs)-1]
		// One write(2) per line, unbuffered: once the parent reads it, the
		// commit had returned.
		if _, err := fmt.Fprintf(os.Stdout, "ack %d\n", batch); err != nil {
			return 4
		}
	}
}

// TestCrash kills a committing process at random moments (SIGKILL, three
// times on the same file) and checks after each kill that every batch it
// acknowledged is wholly there and no batch is there in part.
func TestCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test skipped in -short mode: it runs child processes")
	}
	path := filepath.Join(t.TempDir(), "crash.db")
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 0))
	t.Logf("seed %d", seed)
	maxAcked := 0
	for kill := 1; kill <= 3; kill++ {
		acks := 5 + rng.IntN(60)
		delay := time.Duration(rng.IntN(3000)) * time.Microsecond
		got := runAndKill(t, path, acks, delay, kill == 1)
		if got.first != maxAcked+1 && got.first != maxAcked+2 {
			t.Fatalf("kill %d: child resumed at batch %d, want %d (or %d if its last batch was stored unacknowledged)", kill, got.first, maxAcked+1, maxAcked+2)
		}
		maxAcked = got.last
		stored := checkCrashFile(t, path, maxAcked)
		t.Logf("kill %d after %d acks + %v: batches acknowledged up to %d, stored up to %d", kill, acks, delay, maxAcked, stored)
		maxAcked = stored
	}
}

// acked is what the parent read from one child.
type acked struct{ first, last int }

// runAndKill starts the crash child on path, lets it acknowledge at least
// acks batches, waits delay more, kills it with SIGKILL and returns the
// range of batches it acknowledged.
func runAndKill(t *testing.T, path string, acks int, delay time.Duration, tryLock bool) acked {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashEnv+"="+path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start crash child: %v", err)
	}
	killed := false
	defer func() {
		if !killed {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	}()
	lines := bufio.NewScanner(out)
	var got acked
	n := 0
	readAck := func() bool {
		if !lines.Scan() {
			return false
		}
		line := lines.Text()
		if line == "ready" {
			return true
		}
		id, err := strconv.Atoi(strings.TrimPrefix(line, "ack "))
		if err != nil || !strings.HasPrefix(line, "ack ") {
			t.Fatalf("crash child said %q, want \"ack N\"", line)
		}
		if got.first == 0 {
			got.first = id
		} else if id != got.last+1 {
			t.Fatalf("crash child acknowledged batch %d after %d, want %d", id, got.last, got.last+1)
		}
		got.last = id
		n++
		return true
	}
	for n < acks {
		if !readAck() {
			_ = cmd.Wait()
			t.Fatalf("crash child stopped after %d acks, want it to run until killed; stderr:\n%s", n, stderr.String())
		}
	}
	if tryLock {
		// Another process holds the file: Open fails fast with ErrLocked.
		db, err := bolt.Open(t.Context(), bolt.Config{Path: path, LockTimeout: 100 * time.Millisecond})
		if err == nil {
			db.Close()
			t.Fatalf("open while the crash child runs: got no error, want ErrLocked")
		}
		if !errors.Is(err, bolt.ErrLocked) {
			t.Fatalf("open while the crash child runs: got error %v, want ErrLocked", err)
		}
	}
	time.Sleep(delay)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("kill crash child: %v", err)
	}
	killed = true
	for readAck() { // acks written before the kill
	}
	err = cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("crash child: got exit %v, want death by SIGKILL; stderr:\n%s", err, stderr.String())
	}
	if got.first == 0 {
		t.Fatalf("crash child acknowledged nothing")
	}
	return got
}

// checkCrashFile reopens path and checks it holds batches 1…k wholly and
// nothing of any later batch, with k ≥ lastAcked (at most one batch may
// have been stored without its acknowledgement reaching us). It returns k.
func checkCrashFile(t *testing.T, path string, lastAcked int) int {
	t.Helper()
	checkBoltFile(t, path)
	db, err := bolt.Open(t.Context(), bolt.Config{Path: path})
	if err != nil {
		t.Fatalf("reopen after the kill: got error %v, want none", err)
	}
	defer db.Close()
	ctx := t.Context()
	r, err := db.Get(ctx, crashCounter)
	if err != nil {
		t.Fatalf("counter after the kill: got error %v, want none", err)
	}
	stored, _ := strconv.Atoi(string(r.Data))
	if stored < lastAcked || stored > lastAcked+1 {
		t.Fatalf("last stored batch: got %d, want %d or %d (the last acknowledged, or one after it)", stored, lastAcked, lastAcked+1)
	}
	per := uint64(crashRecords + 1)
	if head, _ := db.Head(ctx, crashPairing); head != uint64(stored)*per || r.Seq != head {
		t.Fatalf("head after the kill: got %d (counter at seq %d), want %d", head, r.Seq, uint64(stored)*per)
	}
	for batch := 1; batch <= stored+2; batch++ {
		present := 0
		for i := range crashRecords {
			rec, err := db.Get(ctx, crashRecordKey(batch, i))
			switch {
			case err == nil:
				present++
				want := uint64(batch-1)*per + uint64(i) + 1
				if rec.Seq != want || !bytes.Equal(rec.Data, crashData(batch, i)) {
					t.Fatalf("batch %d record %d: got seq %d and %d bytes, want seq %d and its %d bytes", batch, i, rec.Seq, len(rec.Data), want, crashRecordSize)
				}
			case !errors.Is(err, storage.ErrNotFound):
				t.Fatalf("batch %d record %d: got error %v", batch, i, err)
			}
		}
		_, rerr := db.Receipt(ctx, "child", uint64(batch))
		receipt := rerr == nil
		switch {
		case batch <= stored && (present != crashRecords || !receipt):
			t.Fatalf("batch %d (stored): got %d of %d records, receipt %v; want all and the receipt", batch, present, crashRecords, receipt)
		case batch > stored && (present != 0 || receipt):
			t.Fatalf("batch %d (not stored): got %d of %d records, receipt %v; want none: a partial batch", batch, present, crashRecords, receipt)
		}
	}
	feed := 0
	var after uint64
	for {
		p, err := db.Changes(ctx, crashPairing, after, storage.PageLimit{})
		if err != nil {
			t.Fatalf("changes after the kill: got error %v", err)
		}
		feed += len(p.Records)
		after = p.Next
		if !p.More {
			break
		}
	}
	if want := stored*crashRecords + 1; feed != want {
		t.Fatalf("feed after the kill: got %d records, want %d", feed, want)
	}
	return stored
}

// checkBoltFile runs bbolt's own consistency check on the file.
func checkBoltFile(t *testing.T, path string) {
	t.Helper()
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: time.Second, ReadOnly: true})
	if err != nil {
		t.Fatalf("bbolt open %s: %v", path, err)
	}
	defer db.Close()
	err = db.View(func(tx *bbolt.Tx) error {
		for err := range tx.Check() {
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatalf("bbolt check after the kill: %v", err)
	}
}
