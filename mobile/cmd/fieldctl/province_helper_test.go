package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/pairsync/pairsync/server"
	"github.com/pairsync/pairsync/server/auth"
	"github.com/pairsync/pairsync/server/servertest"
	"github.com/pairsync/pairsync/storage"
	"github.com/pairsync/pairsync/storage/bolt"
	"github.com/pairsync/pairsync/storage/files"
	"github.com/pairsync/pairsync/storage/mongo"
	"github.com/pairsync/pairsync/syncproto"
)

// The province workload's helper jobs (province.go drives them): seed a
// province's directory and records straight into the store through the
// storage interface, and count a report's and a photo request's storage
// calls with the server in this process on the seeded store.

// openProvinceStore opens the workload's store: the bolt file in dataDir,
// or spec.Mongo's database.
func openProvinceStore(ctx context.Context, dataDir string, m *provinceMongo, seeding bool) (storage.Store, error) {
	if m != nil {
		uri := os.Getenv(m.URIEnv)
		if uri == "" {
			return nil, fmt.Errorf("%s is not set", m.URIEnv)
		}
		return mongo.Open(ctx, mongo.Config{URI: uri, Database: m.Database, Timeout: 30 * time.Second})
	}
	// NoSync while seeding (setup, not measured), as seedStore.
	return bolt.Open(ctx, bolt.Config{Path: filepath.Join(dataDir, "pairsync.db"), NoSync: seeding})
}

// seedProvince writes a province: org units (a committee, departments,
// a branch per pairing), users (an administrator of the root and
// officers, each in the branch of their first pairing) with a device
// each, the directory (counterparties, pairings of two officers and one
// or two counterparties) and spec.Records records spread evenly over the
// pairings, generated as seedPairing's are.
func seedProvince(ctx context.Context, dataDir string, spec provinceSpec) (provinceSeed, error) {
	start := time.Now()
	res := provinceSeed{}
	if spec.Pairings < 1 || spec.Users < 2 || spec.Counterparties < spec.Pairings {
		return res, fmt.Errorf("province: want ≥ 1 pairing, ≥ 2 users and ≥ 1 counterparty per pairing (got %d, %d, %d)", spec.Pairings, spec.Users, spec.Counterparties)
	}
	db, err := openProvinceStore(ctx, dataDir, spec.Mongo, true)
	if err != nil {
		return res, err
	}
	defer db.Close()
	now := time.Now().UTC()

	// Org units: the committee, departments, a branch per pairing.
	units := []storage.OrgUnit{{ID: "root", Name: "省直机关工委", Kind: "committee", CreatedAt: now, UpdatedAt: now}}
	for d := range spec.departments() {
		units = append(units, storage.OrgUnit{ID: provinceDept(d), ParentID: "root", Name: fmt.Sprintf("省直第%d部门机关党委", d+1), Kind: "department", CreatedAt: now, UpdatedAt: now})
	}
	for i := range spec.Pairings {
		units = append(units, storage.OrgUnit{ID: provinceBranch(i), ParentID: provinceDept(i % spec.departments()), Name: fmt.Sprintf("第%d党支部", i+1), Kind: "branch", CreatedAt: now, UpdatedAt: now})
	}
	for _, u := range units {
		if _, err := db.CreateOrgUnit(ctx, u); err != nil {
			return res, fmt.Errorf("org unit %s: %w", u.ID, err)
		}
	}
	res.OrgUnits = len(units)

	// Users and their devices, by a few writers at once (bolt's
	// transactions are serial; MongoDB's round trips are not).
	phc, err := auth.NewHasher(seedHashParams, 1).Hash(ctx, spec.Password)
	if err != nil {
		return res, err
	}
	users := []storage.User{{ID: "u-" + spec.Admin, Username: spec.Admin, Name: "管理员", Role: "admin", OrgUnit: "root", PasswordHash: phc, CreatedAt: now, UpdatedAt: now}}
	for n := 1; n < spec.Users; n++ {
		name := officerName(n)
		users = append(users, storage.User{ID: "u-" + name, Username: name, Name: "联络员" + name[len(name)-4:], Role: "officer",
			OrgUnit: provinceBranch(((n - 1) / 2) % spec.Pairings), PasswordHash: phc, CreatedAt: now, UpdatedAt: now})
	}
	err = parallel(ctx, 4, len(users), func(i int) error {
		u := users[i]
		if _, err := db.CreateUser(ctx, u); err != nil {
			return fmt.Errorf("user %s: %w", u.Username, err)
		}
		if i < spec.Devices {
			if _, err := db.CreateDevice(ctx, storage.Device{ID: "dev-province-" + u.ID, UserID: u.ID, Name: "province " + u.Username, CreatedAt: now}); err != nil {
				return fmt.Errorf("device of %s: %w", u.Username, err)
			}
		}
		return nil
	})
	if err != nil {
		return res, err
	}
	res.Users, res.Devices = len(users), min(len(users), spec.Devices)
	res.AccountsSeconds = time.Since(start).Seconds()

	// The directory: every counterparty, every pairing.
	t := time.Now()
	dirW := &syncproto.Writer{Replica: "srv-provinceseed"}
	var dir []storage.Put
	for k := range spec.Counterparties {
		f := map[string]any{"name": fmt.Sprintf("江苏某某科技有限公司%05d", k+1), "kind": "enterprise", "org_unit": provinceBranch(k % spec.Pairings)}
		if k%10 == 9 {
			f["name"], f["kind"] = fmt.Sprintf("某某街道社区%05d", k+1), "community"
		}
		data, err := encodeNew(dirW, nil, "counterparties", provinceCounterparty(k), "_directory", f, now)
		if err != nil {
			return res, err
		}
		dir = append(dir, storage.Put{Key: storage.Key{Collection: "counterparties", ID: provinceCounterparty(k)}, Data: data})
	}
	for i := range spec.Pairings {
		var officers []map[string]any
		for j, name := range spec.officers(i) {
			officers = append(officers, map[string]any{"user_id": "u-" + name, "primary": j == 0})
		}
		f := map[string]any{"name": "结对共建 " + provincePairing(i), "status": "active", "branches": []string{provinceBranch(i)},
			"counterparties": spec.counterparties(i), "officers": officers}
		data, err := encodeNew(dirW, nil, "pairings", provincePairing(i), "_directory", f, now)
		if err != nil {
			return res, err
		}
		dir = append(dir, storage.Put{Key: storage.Key{Collection: "pairings", ID: provincePairing(i)}, Data: data})
	}
	res.Directory = len(dir)
	for len(dir) > 0 {
		n := min(len(dir), 2000)
		if _, err := db.Commit(ctx, storage.Batch{Pairing: "_directory", Puts: dir[:n]}); err != nil {
			return res, fmt.Errorf("directory: %w", err)
		}
		dir = dir[n:]
	}
	res.DirectorySeconds = time.Since(t).Seconds()

	// The records: generated by a worker per core, committed by a few
	// committers (bolt's group commit shares their transactions).
	t = time.Now()
	type batch struct {
		pid  string
		puts []storage.Put
	}
	jobs := make(chan int)
	batches := make(chan batch, 8)
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var gen sync.WaitGroup
	for w := range runtime.GOMAXPROCS(0) {
		gen.Go(func() {
			srv := &syncproto.Writer{Replica: syncproto.ReplicaID(fmt.Sprintf("srv-provinceseed%d", w))}
			for i := range jobs {
				pid := provincePairing(i)
				rng := rand.New(rand.NewPCG(spec.RNG, uint64(i)))
				err := seedProvincePairing(rng, srv, pid, spec.counterparties(i)[0], spec.officers(i), spec.recordsOf(i), spec.Batch, now, func(puts []storage.Put) bool {
					select {
					case batches <- batch{pid, puts}:
						return true
					case <-ctx.Done():
						return false
					}
				})
				if err != nil {
					cancel(err)
				}
			}
		})
	}
	go func() {
		defer close(jobs)
		for i := range spec.Pairings {
			select {
			case jobs <- i:
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() { gen.Wait(); close(batches) }()
	var mu sync.Mutex
	var commit sync.WaitGroup
	for range 4 {
		commit.Go(func() {
			for b := range batches {
				if ctx.Err() != nil {
					continue
				}
				if _, err := db.Commit(ctx, storage.Batch{Pairing: b.pid, Puts: b.puts}); err != nil {
					cancel(fmt.Errorf("records of %s: %w", b.pid, err))
					continue
				}
				mu.Lock()
				res.Records += len(b.puts)
				res.Batches++
				for _, p := range b.puts {
					res.DataBytes += int64(len(p.Data))
				}
				mu.Unlock()
			}
		})
	}
	commit.Wait()
	if err := context.Cause(ctx); err != nil {
		return res, err
	}
	res.RecordsSeconds = time.Since(t).Seconds()
	if err := db.Close(); err != nil {
		return res, err
	}
	if spec.Mongo == nil {
		if fi, err := os.Stat(filepath.Join(dataDir, "pairsync.db")); err == nil {
			res.FileBytes = fi.Size()
		}
	}
	res.Seconds = time.Since(start).Seconds()
	return res, nil
}

// parallel runs f(0…n-1) on k goroutines; the first error stops it.
func parallel(ctx context.Context, k, n int, f func(i int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	next := make(chan int)
	var wg sync.WaitGroup
	for range k {
		wg.Go(func() {
			for i := range next {
				if err := f(i); err != nil {
					cancel(err)
				}
			}
		})
	}
	for i := 0; i < n && ctx.Err() == nil; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	return context.Cause(ctx)
}

// seedProvincePairing generates one pairing's records over the past year,
// as seedPairing does (visits of ~1 KB with two photo references, about one
// in four raising an issue later accepted), and hands them out in batches
// of up to batch; emit returns false when seeding stops.
func seedProvincePairing(rng *rand.Rand, srv *syncproto.Writer, pid, cp string, officers []string, records, batch int, now time.Time, emit func([]storage.Put) bool) error {
	t := target{pairing: pid, counterparty: cp}
	phones := make([]*syncproto.Writer, len(officers))
	for j := range phones {
		phones[j] = &syncproto.Writer{Replica: syncproto.ReplicaID(fmt.Sprintf("dev-seed-%s-%d", pid, j))}
	}
	var puts []storage.Put
	stopped := false
	put := func(phone *syncproto.Writer, coll, id string, f map[string]any, at time.Time) error {
		data, err := encodeNew(phone, srv, coll, id, pid, f, at)
		if err != nil {
			return fmt.Errorf("seed %s/%s: %w", coll, id, err)
		}
		puts = append(puts, storage.Put{Key: storage.Key{Collection: coll, ID: id}, Data: data})
		if len(puts) == batch {
			stopped = !emit(puts)
			puts = nil
		}
		return nil
	}
	if err := seedRecordMix(rng, t, officers, phones, records, now, func() bool { return stopped }, put); err != nil {
		return err
	}
	if len(puts) > 0 && !stopped {
		emit(puts)
	}
	return nil
}

// provinceCalls counts the storage calls of the reports and a photo
// request with the server in this process on the seeded store (pairsyncd
// stopped: a bolt file is locked to one process), wired as pairsyncd wires
// it, through servertest.CountingStore.
func provinceCalls(ctx context.Context, dataDir string, spec provinceCallsSpec) (provinceCallsResult, error) {
	var res provinceCallsResult
	db, err := openProvinceStore(ctx, dataDir, spec.Mongo, false)
	if err != nil {
		return res, err
	}
	defer db.Close()
	photos, err := files.Open(filepath.Join(dataDir, "photos"))
	if err != nil {
		return res, err
	}
	counted := servertest.Counting(db)
	srv, err := server.New(server.Config{}, server.Deps{Store: counted.WithToucher(), Photos: photos})
	if err != nil {
		return res, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return res, err
	}
	go srv.Serve(ln)
	defer srv.Shutdown(context.Background())
	base := "http://" + ln.Addr().String()
	token, err := httpLogin(ctx, base, spec.Admin, spec.Password)
	if err != nil {
		return res, err
	}
	// The first report waits for the ledger's first load (not counted).
	t := time.Now()
	for {
		st, _, err := httpGet(ctx, base+provinceOverviewPath, token)
		if err != nil {
			return res, err
		}
		if st == http.StatusOK {
			break
		}
		if time.Since(t) > 10*time.Minute {
			return res, fmt.Errorf("overview: %d after 10 minutes", st)
		}
		time.Sleep(20 * time.Millisecond)
	}
	res.WarmSeconds = time.Since(t).Seconds()
	measure := func(name, token string, paths []string) error {
		var totals []int
		var ops []map[string]int
		for range spec.Repeat {
			counted.Reset()
			for _, p := range paths {
				get := httpGet
				if p == provincePullPath {
					get = func(ctx context.Context, u, token string) (int, []byte, error) {
						return httpPost(ctx, u, token, `{"v":1,"cursor":{}}`)
					}
				}
				st, body, err := get(ctx, base+p, token)
				if err != nil {
					return err
				}
				if st != http.StatusOK {
					return fmt.Errorf("%s: %d %s", p, st, body)
				}
			}
			n, by := counted.Calls()
			totals, ops = append(totals, n), append(ops, by)
		}
		c := provinceCallCount{Requests: len(paths), Samples: totals}
		sorted := slices.Clone(totals)
		slices.Sort(sorted)
		c.Min, c.Median, c.Max = sorted[0], sorted[len(sorted)/2], sorted[len(sorted)-1]
		for i, n := range totals {
			if n == c.Min {
				c.ByOp = ops[i]
				break
			}
		}
		if res.Calls == nil {
			res.Calls = map[string]provinceCallCount{}
		}
		res.Calls[name] = c
		return nil
	}
	if err := measure("overview", token, []string{provinceOverviewPath}); err != nil {
		return res, err
	}
	if err := measure("pairing_page", token, pairingPagePaths(spec.Pairing)); err != nil {
		return res, err
	}
	// What every sync asks: the scopes, and a first pull page (a new
	// device's, the administrator seeing every pairing). Sync takes a
	// token bound to a device.
	st, body, err := httpPost(ctx, base+"/v1/devices", token, `{"name":"province calls"}`)
	if err != nil {
		return res, err
	}
	var dev struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(body, &dev); err != nil || st != http.StatusCreated && st != http.StatusOK || dev.AccessToken == "" {
		return res, fmt.Errorf("register a device: %d %s", st, body)
	}
	if err := measure("scopes", dev.AccessToken, []string{"/v1/sync/scopes"}); err != nil {
		return res, err
	}
	if err := measure("pull", dev.AccessToken, []string{provincePullPath}); err != nil {
		return res, err
	}
	if spec.Photo != "" {
		if err := measure("photo", token, []string{"/v1/photos/" + spec.Photo}); err != nil {
			return res, err
		}
	}
	return res, nil
}

// provincePullPath is the pull provinceCalls counts: a first page (no
// cursor).
const provincePullPath = "/v1/sync/pull"

// httpPost POSTs a JSON body to u with the token.
func httpPost(ctx context.Context, u, token, body string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}
