package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
)

// The province workload (issue 19, scale-out): a province's directory —
// 7,000 pairings, 60,000 counterparties, 10,000 users with a device each —
// and millions of records, seeded straight into the store through the
// storage interface (the helper, province_helper_test.go), then the real
// pairsyncd on it: restart to full service, the replica's memory, the
// storage calls of a report and of a photo request, report latencies under
// 20 concurrent readers and push/pull latencies under a steady sync load.
// Run alone (`fieldctl bench -only province`, `make bench-province`): it is
// not part of the default set.

// provinceSizes are the province workload's sizes.
type provinceSizes struct {
	Pairings       int           `json:"pairings"`
	Counterparties int           `json:"counterparties"`
	Users          int           `json:"users"`
	Devices        int           `json:"devices"`
	Records        int           `json:"records"`
	Batch          int           `json:"seed_batch"`
	Readers        int           `json:"readers"`
	Duration       time.Duration `json:"duration_ns"`
	SteadyDevices  int           `json:"steady_devices"`
	SteadyInterval time.Duration `json:"steady_interval_ns"`
	CallRepeat     int           `json:"call_repeat"`
	// AloneFor: one reader, nothing else running, before the readers.
	AloneFor time.Duration `json:"alone_ns"`
}

var provinceFull = provinceSizes{Pairings: 7000, Counterparties: 60000, Users: 10000, Devices: 10000, Records: 5_000_000, Batch: 5000,
	Readers: 20, Duration: 30 * time.Second, SteadyDevices: 8, SteadyInterval: 2 * time.Second, CallRepeat: 10, AloneFor: 10 * time.Second}

// provinceSpec is what the helper seeds: org units root → departments →
// a branch per pairing; an administrator of root (Admin) and officers
// officer0001… (Users in all), each with a device when among the first
// Devices; Counterparties counterparties; Pairings pairings of two
// officers and one or two counterparties each; Records records spread
// evenly over the pairings, committed in batches of Batch.
type provinceSpec struct {
	Password       string         `json:"password"`
	Admin          string         `json:"admin"`
	Pairings       int            `json:"pairings"`
	Counterparties int            `json:"counterparties"`
	Users          int            `json:"users"`
	Devices        int            `json:"devices"`
	Records        int            `json:"records"`
	Batch          int            `json:"batch"`
	RNG            uint64         `json:"rng"`
	Mongo          *provinceMongo `json:"mongo,omitempty"`
}

// provinceMongo: the store is MongoDB's database Database at the URI in
// the environment variable URIEnv (never in a file or a log).
type provinceMongo struct {
	URIEnv   string `json:"uri_env"`
	Database string `json:"database"`
}

func provincePairing(i int) string      { return fmt.Sprintf("pv%05d", i+1) }
func provinceBranch(i int) string       { return fmt.Sprintf("br%05d", i+1) }
func provinceDept(d int) string         { return fmt.Sprintf("dept%03d", d+1) }
func provinceCounterparty(k int) string { return fmt.Sprintf("cp%05d", k+1) }

// departments: 100 for a province (70 branches each), fewer for less.
func (s provinceSpec) departments() int { return max(1, min(100, s.Pairings/70)) }

// officers of pairing i: two of the Users-1 officers, in turn (with 7,000
// pairings and 9,999 officers, about 4,000 officers have two pairings).
func (s provinceSpec) officers(i int) []string {
	n := s.Users - 1
	a, b := officerName((2*i)%n+1), officerName((2*i+1)%n+1)
	if a == b {
		return []string{a}
	}
	return []string{a, b}
}

// counterparties of pairing i: cp(i), and cp(i+Pairings) when there is
// one; the rest of the counterparties are in no pairing.
func (s provinceSpec) counterparties(i int) []string {
	out := []string{provinceCounterparty(i)}
	if i+s.Pairings < s.Counterparties {
		out = append(out, provinceCounterparty(i+s.Pairings))
	}
	return out
}

func (s provinceSpec) recordsOf(i int) int {
	n := s.Records / s.Pairings
	if i < s.Records%s.Pairings {
		n++
	}
	return n
}

// provinceSeed is what the helper seeded, and how long it took.
type provinceSeed struct {
	OrgUnits         int     `json:"org_units"`
	Users            int     `json:"users"`
	Devices          int     `json:"devices"`
	Directory        int     `json:"directory_records"`
	Records          int     `json:"records"`
	Batches          int     `json:"batches"`
	DataBytes        int64   `json:"data_bytes"`
	FileBytes        int64   `json:"file_bytes"`
	AccountsSeconds  float64 `json:"accounts_s"`
	DirectorySeconds float64 `json:"directory_s"`
	RecordsSeconds   float64 `json:"records_s"`
	Seconds          float64 `json:"seconds"`
}

// provinceCallsSpec: count the storage calls of the overview, of the
// pairing page of Pairing and of a request of Photo, Repeat times each.
type provinceCallsSpec struct {
	Admin    string         `json:"admin"`
	Password string         `json:"password"`
	Pairing  string         `json:"pairing"`
	Photo    string         `json:"photo"`
	Repeat   int            `json:"repeat"`
	Mongo    *provinceMongo `json:"mongo,omitempty"`
}

// provinceCallCount is the storage calls of one kind of request: the
// fewest, median and most of Repeat samples (background work of the
// server — its flushes, the notification sender — can land in a sample),
// and the calls by method of the fewest.
type provinceCallCount struct {
	Requests int            `json:"requests"`
	Min      int            `json:"min"`
	Median   int            `json:"median"`
	Max      int            `json:"max"`
	Samples  []int          `json:"samples"`
	ByOp     map[string]int `json:"by_op"`
}

type provinceCallsResult struct {
	WarmSeconds float64                      `json:"warm_s"`
	Calls       map[string]provinceCallCount `json:"calls"`
}

// provinceOverviewPath is the console's overview as it opens: the
// caller's subtree, January to this month.
const provinceOverviewPath = "/v1/reports/overview"

// pairingPagePaths are the reads of the console's pairing page
// (PairingPage.vue) that depend on the pairing's size: the pairing, its
// visits and issues (first page of 100) and its line of the pairings
// report.
func pairingPagePaths(pid string) []string {
	return []string{
		"/v1/pairings/" + pid,
		"/v1/visits?pairing=" + pid + "&limit=100",
		"/v1/issues?pairing=" + pid + "&limit=100",
		"/v1/reports/pairings?search=" + url.QueryEscape(pid) + "&limit=1000",
	}
}

// httpGet makes an authorized GET and reads the answer.
func httpGet(ctx context.Context, u, token string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// httpLogin signs user in and returns the access token.
func httpLogin(ctx context.Context, base, user, password string) (string, error) {
	body := strings.NewReader(fmt.Sprintf(`{"username":%q,"password":%q}`, user, password))
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/auth/login", body)
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("login %s: %d %s", user, resp.StatusCode, b)
	}
	var tr struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(b, &tr); err != nil || tr.AccessToken == "" {
		return "", errors.Join(errors.New("login: no access token"), err)
	}
	return tr.AccessToken, nil
}

// waitOverview polls the overview until it answers 200 (a warming ledger
// answers 503), at most max; it returns when it did.
func waitOverview(ctx context.Context, base, token string, max time.Duration) (time.Time, error) {
	deadline := time.Now().Add(max)
	for {
		st, body, err := httpGet(ctx, base+provinceOverviewPath, token)
		if err == nil && st == http.StatusOK {
			return time.Now(), nil
		}
		if err == nil && st != http.StatusServiceUnavailable {
			return time.Time{}, fmt.Errorf("overview: %d %s", st, body)
		}
		if time.Now().After(deadline) {
			return time.Time{}, fmt.Errorf("overview not answered within %s (last: %d %v)", max, st, err)
		}
		if err := sleepCtx(ctx, 5*time.Millisecond); err != nil {
			return time.Time{}, err
		}
	}
}

// readerStats are the latencies of the readers' requests, by kind.
type readerStats struct {
	mu   sync.Mutex
	lat  map[string][]time.Duration
	errs map[string]int
	last map[string]string
}

func (r *readerStats) add(kind string, d time.Duration, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.errs[kind]++
		r.last[kind] = err.Error()
		return
	}
	r.lat[kind] = append(r.lat[kind], d)
}

// latencySummary is a distribution in milliseconds.
type latencySummary struct {
	Count int     `json:"count"`
	P50   float64 `json:"p50_ms"`
	P90   float64 `json:"p90_ms"`
	P99   float64 `json:"p99_ms"`
	Max   float64 `json:"max_ms"`
}

func summarize(ds []time.Duration) latencySummary {
	if len(ds) == 0 {
		return latencySummary{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	q := func(p float64) float64 {
		i := int(p*float64(len(s))+0.5) - 1
		return float64(s[min(max(i, 0), len(s)-1)]) / float64(time.Millisecond)
	}
	return latencySummary{Count: len(s), P50: q(0.50), P90: q(0.90), P99: q(0.99), Max: float64(s[len(s)-1]) / float64(time.Millisecond)}
}

// runReaders runs n readers for d against base: each in turn reads the
// overview, a random pairing's page (its requests at once, as the browser
// sends them; the page's time is the slowest) and, when photo is set,
// that photo.
func runReaders(ctx context.Context, base, token string, n int, d time.Duration, pairings int, photo string) *readerStats {
	st := &readerStats{lat: map[string][]time.Duration{}, errs: map[string]int{}, last: map[string]string{}}
	deadline := time.Now().Add(d)
	get := func(path string) error {
		code, body, err := httpGet(ctx, base+path, token)
		if err != nil {
			return err
		}
		if code != http.StatusOK {
			return fmt.Errorf("%s: %d %.200s", path, code, body)
		}
		return nil
	}
	var wg sync.WaitGroup
	for r := range n {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(r), uint64(time.Now().UnixNano())))
			for k := 0; time.Now().Before(deadline) && ctx.Err() == nil; k++ {
				switch {
				case k%3 == 0:
					t := time.Now()
					err := get(provinceOverviewPath)
					st.add("overview", time.Since(t), err)
				case k%3 == 1 || photo == "":
					paths := pairingPagePaths(provincePairing(rng.IntN(pairings)))
					t := time.Now()
					errs := make([]error, len(paths))
					var pw sync.WaitGroup
					for i, p := range paths {
						pw.Go(func() {
							t := time.Now()
							errs[i] = get(p)
							kind, _, _ := strings.Cut(strings.TrimPrefix(p, "/v1/"), "?")
							if strings.HasPrefix(kind, "pairings/") {
								kind = "pairings/:id"
							}
							st.add("page: "+kind, time.Since(t), errs[i])
						})
					}
					pw.Wait()
					st.add("pairing page", time.Since(t), errors.Join(errs...))
				default:
					t := time.Now()
					err := get("/v1/photos/" + photo)
					st.add("photo", time.Since(t), err)
				}
			}
		})
	}
	wg.Wait()
	return st
}

// memSnap is the replica's memory at one moment.
type memSnap struct {
	RSS        int64   `json:"vm_rss"`
	RSSAnon    int64   `json:"rss_anon"`
	RSSFile    int64   `json:"rss_file"`
	HeapInuse  float64 `json:"heap_inuse"`
	LiveHeap   float64 `json:"live_heap"`
	MappedSize int64   `json:"bolt_mapped"`
	MappedRSS  int64   `json:"bolt_mapped_rss"`
}

func memNow(ctx context.Context, srv *serverProc) memSnap {
	m := memSnap{RSS: srv.procStatus("VmRSS"), RSSAnon: srv.procStatus("RssAnon"), RSSFile: srv.procStatus("RssFile")}
	if s, err := srv.metrics(ctx); err == nil {
		m.HeapInuse = s.get("go_memstats_heap_inuse_bytes")
		m.LiveHeap = s.get("go_memstats_next_gc_bytes") / (1 + s.get("go_gc_gogc_percent")/100)
	}
	m.MappedSize, m.MappedRSS = srv.mappedFile("pairsync.db")
	return m
}

func (m memSnap) String() string {
	return fmt.Sprintf("RSS %s (anonymous %s, file %s); Go heap in use %s, live %s",
		bytesString(m.RSS), bytesString(m.RSSAnon), bytesString(m.RSSFile), bytesString(int64(m.HeapInuse)), bytesString(int64(m.LiveHeap)))
}

// photoOfDevice is the SHA-256 of the first photo of a visit the device
// wrote.
func photoOfDevice(d *device) (string, error) {
	for _, ref := range d.wrote {
		if ref.collection != "visits" {
			continue
		}
		r, ok := d.e.Get(ref.collection, ref.id)
		if !ok {
			continue
		}
		var ps []struct {
			SHA256 string `json:"sha256"`
		}
		if err := json.Unmarshal(r.Value("photos"), &ps); err == nil && len(ps) > 0 {
			return ps[0].SHA256, nil
		}
	}
	return "", errors.New("the photo device wrote no visit with a photo")
}

// province: the workload. ps are its sizes; mongo, when set, seeds and
// serves from MongoDB instead of bolt. Each figure becomes a row as soon as
// it is measured, so a later step that fails (the steady devices' setup is
// the longest) leaves the earlier ones in the report.
func (b *bench) province(ps provinceSizes, mongo *provinceMongo) error {
	name, store := "province", "bolt"
	if mongo != nil {
		name, store = "province-mongo", "MongoDB"
	}
	dataDir := b.root + "/" + name
	spec := provinceSpec{Password: benchPassword, Admin: benchAdmin, Pairings: ps.Pairings, Counterparties: ps.Counterparties, Users: ps.Users,
		Devices: ps.Devices, Records: ps.Records, Batch: ps.Batch, RNG: 20261, Mongo: mongo}
	fmt.Fprintf(b.log, "bench: seeding a province: %d pairings, %d counterparties, %d users, %d devices, %d records…\n",
		spec.Pairings, spec.Counterparties, spec.Users, spec.Devices, spec.Records)
	var seeded provinceSeed
	if err := runHelper(b.ctx, b.helper, helperJob{Op: "province-seed", DataDir: dataDir, Province: &spec}, &seeded, b.log); err != nil {
		return err
	}
	recPerS := float64(seeded.Records) / max(seeded.RecordsSeconds, 1e-9)
	fmt.Fprintf(b.log, "bench: seeded in %.1fs (accounts %.1fs, directory %.1fs, %d records %.1fs = %.0f/s; %s of records, file %s)\n",
		seeded.Seconds, seeded.AccountsSeconds, seeded.DirectorySeconds, seeded.Records, seeded.RecordsSeconds, recPerS,
		bytesString(seeded.DataBytes), bytesString(seeded.FileBytes))
	details := map[string]any{"sizes": ps, "seeded": seeded}
	b.rep.Details[name] = details
	w := fmt.Sprintf("8 province, %s (%d records, %d pairings)", store, seeded.Records, ps.Pairings)
	b.add(w, "seeding: accounts + directory + records (storage batches)", "", fmt.Sprintf("%.0f s (%.0f + %.0f + %.0f s; %.0f records/s; file %s)",
		seeded.Seconds, seeded.AccountsSeconds, seeded.DirectorySeconds, seeded.RecordsSeconds, recPerS, bytesString(seeded.FileBytes)), seeded.Seconds, "s", nil)
	var env []string
	if mongo != nil {
		env = []string{"PAIRSYNC_STORAGE=mongo", "PAIRSYNC_MONGODB_URI=" + os.Getenv(mongo.URIEnv), "PAIRSYNC_MONGODB_DATABASE=" + mongo.Database}
	}

	// First start on the seeded data: sign in, wait for full service, let
	// the start-up work settle.
	srv, err := startServerEnv(b.ctx, b.pairsyncd, dataDir, env)
	if err != nil {
		return err
	}
	defer srv.stop()
	token, err := httpLogin(b.ctx, srv.url, benchAdmin, benchPassword)
	if err != nil {
		return err
	}
	full1, err := waitOverview(b.ctx, srv.url, token, 10*time.Minute)
	if err != nil {
		return err
	}
	first := full1.Sub(srv.started)
	fmt.Fprintf(b.log, "bench: first start: ready %.2fs, full service (signed in, overview 200) %.2fs\n", srv.ready.Seconds(), first.Seconds())
	settle := srv.settle(b.ctx, 5*time.Minute)
	memFirst := memNow(b.ctx, srv)
	fmt.Fprintf(b.log, "bench: settled %.1fs later: %s\n", settle.Seconds(), memFirst)
	details["first_start"] = map[string]any{"ready_s": srv.ready.Seconds(), "full_service_s": first.Seconds(), "settle_s": settle.Seconds(), "memory": memFirst}

	// A photo to request: one device pushes a visit with two small photos
	// and uploads them.
	pcfg := b.loadCfg(srv, modePushBurst, 1, officerName(1))
	pcfg.photos, pcfg.photoKB, pcfg.changes, pcfg.track = true, 64, 1, true
	pf, err := newFleet(b.ctx, pcfg, b.log)
	if err != nil {
		return fmt.Errorf("photo device: %w", err)
	}
	if _, err := pf.run(b.ctx, pcfg, b.log); err != nil {
		pf.close()
		return fmt.Errorf("photo device: %w", err)
	}
	photo, err := photoOfDevice(pf.devs[0])
	pf.close()
	if err != nil {
		return err
	}

	// One reader alone: the reports' own latency, without queueing.
	alone := runReaders(b.ctx, srv.url, token, 1, ps.AloneFor, ps.Pairings, photo)
	aloneLat := map[string]latencySummary{}
	for k, v := range alone.lat {
		aloneLat[k] = summarize(v)
	}
	details["alone"] = map[string]any{"latency": aloneLat, "errors": alone.errs, "last_errors": alone.last}
	fmt.Fprintf(b.log, "bench: one reader alone: overview p50 %s, pairing page p50 %s\n", fmtMS(aloneLat["overview"].P50), fmtMS(aloneLat["pairing page"].P50))

	// Restart: a fresh token first, then exec to /readyz and to the first
	// overview answered.
	if token, err = httpLogin(b.ctx, srv.url, benchAdmin, benchPassword); err != nil {
		return err
	}
	if err := srv.stop(); err != nil {
		fmt.Fprintf(b.log, "bench: %v\n", err)
	}
	srv, err = startServerEnv(b.ctx, b.pairsyncd, dataDir, env)
	if err != nil {
		return err
	}
	defer srv.stop()
	full2, err := waitOverview(b.ctx, srv.url, token, 10*time.Minute)
	if err != nil {
		return err
	}
	restart := full2.Sub(srv.started)
	memRestart := memNow(b.ctx, srv)
	settle2 := srv.settle(b.ctx, 5*time.Minute)
	memSettled := memNow(b.ctx, srv)
	fmt.Fprintf(b.log, "bench: restart: ready %.2fs, full service %.2fs; at full service %s; settled %s\n",
		srv.ready.Seconds(), restart.Seconds(), memRestart, memSettled)
	details["restart"] = map[string]any{"ready_s": srv.ready.Seconds(), "full_service_s": restart.Seconds(), "settle_s": settle2.Seconds(),
		"memory_full_service": memRestart, "memory_settled": memSettled}
	b.add(w, "restart to full service: exec → /readyz 200 → first overview 200", "≤ 5 s", fmt.Sprintf("%.2f s → %.2f s (first start: %.2f s → %.2f s)",
		srv.ready.Seconds(), restart.Seconds(), details["first_start"].(map[string]any)["ready_s"], first.Seconds()),
		restart.Seconds(), "s", atMost(restart.Seconds(), 5))
	b.add(w, "replica memory at full service: RSS without the bolt file's pages (anonymous)", "≤ 300 MiB, flat in records", bytesString(memRestart.RSSAnon),
		float64(memRestart.RSSAnon), "bytes", atMost(float64(memRestart.RSSAnon), 300<<20))
	b.add(w, "  settled: RSS anonymous; Go heap in use, live; whole RSS (bolt pages included)", "", fmt.Sprintf("%s; %s, %s; %s",
		bytesString(memSettled.RSSAnon), bytesString(int64(memSettled.HeapInuse)), bytesString(int64(memSettled.LiveHeap)),
		bytesString(memSettled.RSS)), float64(memSettled.RSSAnon), "bytes", nil)
	ao, ap, aph := aloneLat["overview"], aloneLat["pairing page"], aloneLat["photo"]
	b.add(w, "one reader alone: overview p50 / p99", "p99 ≤ 20 ms", fmt.Sprintf("%s / %s (%d requests)", fmtMS(ao.P50), fmtMS(ao.P99), ao.Count),
		ao.P99, "ms", boolp(ao.Count > 0 && ao.P99 <= 20))
	b.add(w, "  pairing page p50 / p99; photo p50 / p99", "", fmt.Sprintf("%s / %s (%d); %s / %s (%d)",
		fmtMS(ap.P50), fmtMS(ap.P99), ap.Count, fmtMS(aph.P50), fmtMS(aph.P99), aph.Count), ap.P99, "ms", nil)

	// The steady load and the readers, at once, on the restarted server.
	var failed []error
	scfg := b.loadCfg(srv, modeSteady, ps.SteadyDevices, officers(ps.SteadyDevices)...)
	scfg.interval, scfg.duration, scfg.concurrency, scfg.setupWait = ps.SteadyInterval, ps.Duration, 8, 20*time.Minute
	fmt.Fprintf(b.log, "bench: signing in %d steady devices (each pulls its pairings and the directory first)…\n", ps.SteadyDevices)
	sf, err := newFleet(b.ctx, scfg, b.log)
	if err != nil {
		failed = append(failed, fmt.Errorf("steady devices: %w", err))
		fmt.Fprintf(b.log, "bench: %v; the readers run without them\n", failed[0])
		sf = nil
	} else {
		defer sf.close()
	}
	// A fresh token: access tokens live 10 minutes, and the steady
	// devices' setup can take longer than that.
	if token, err = httpLogin(b.ctx, srv.url, benchAdmin, benchPassword); err != nil {
		return errors.Join(append(failed, err)...)
	}
	before, _ := srv.metrics(b.ctx)
	var steady *report
	var cpu cpuUse
	var wg sync.WaitGroup
	if sf != nil {
		wg.Go(func() {
			var err error
			if steady, cpu, err = b.runMeasured(sf, srv, scfg); err != nil {
				failed = append(failed, fmt.Errorf("steady load: %w", err))
			}
		})
	}
	fmt.Fprintf(b.log, "bench: %d readers for %s beside %d devices syncing every %s…\n", ps.Readers, ps.Duration, ps.SteadyDevices, ps.SteadyInterval)
	c0 := cpuNow(srv)
	rd := runReaders(b.ctx, srv.url, token, ps.Readers, ps.Duration, ps.Pairings, photo)
	wg.Wait()
	if steady == nil {
		cpu = c0.until(cpuNow(srv))
	}
	after, _ := srv.metrics(b.ctx)
	server := map[string]histDelta{}
	for _, route := range []string{"/v1/reports/overview", "/v1/sync/push", "/v1/sync/pull", "/v1/photos/:id"} {
		server[route] = histogramDelta(before, after, "pairsync_http_request_duration_seconds", 0.02, `route="`+route+`"`)
	}
	lat := map[string]latencySummary{}
	for k, v := range rd.lat {
		lat[k] = summarize(v)
	}
	details["readers"] = map[string]any{"latency": lat, "errors": rd.errs, "last_errors": rd.last, "server": server}
	details["steady"] = map[string]any{"load": steady, "cpu": cpu}
	beside := fmt.Sprintf("beside %d devices syncing every %s", ps.SteadyDevices, ps.SteadyInterval)
	if steady == nil {
		beside = "(the steady devices failed: alone)"
	}
	ov, pp, ph := lat["overview"], lat["pairing page"], lat["photo"]
	b.add(w, fmt.Sprintf("overview p50 / p99, %d readers %s", ps.Readers, beside), "p99 ≤ 20 ms",
		fmt.Sprintf("%s / %s (%d requests)", fmtMS(ov.P50), fmtMS(ov.P99), ov.Count), ov.P99, "ms", boolp(ov.Count > 0 && ov.P99 <= 20))
	b.add(w, "pairing page p50 / p99 (its 4 requests at once)", "", fmt.Sprintf("%s / %s (%d pages)", fmtMS(pp.P50), fmtMS(pp.P99), pp.Count), pp.P99, "ms", nil)
	b.add(w, "photo request p50 / p99 (64 KiB)", "", fmt.Sprintf("%s / %s (%d)", fmtMS(ph.P50), fmtMS(ph.P99), ph.Count), ph.P99, "ms", nil)
	syncErrs := 0
	if steady != nil {
		p, pl := steady.Latency["push"], steady.Latency["pull"]
		b.add(w, "steady devices' setup: sign-in and first sync (their pairings and the directory)", "", fmt.Sprintf("%.0f s for %d devices, 8 at a time",
			steady.SetupTime, steady.Devices), steady.SetupTime, "s", nil)
		b.add(w, fmt.Sprintf("push p50 / p99, %d devices syncing every %s, beside the readers", steady.Devices, ps.SteadyInterval), "",
			fmt.Sprintf("%s / %s", fmtMS(p.P50), fmtMS(p.P99)), p.P99, "ms", nil)
		b.add(w, "pull p50 / p99, same devices", "", fmt.Sprintf("%s / %s", fmtMS(pl.P50), fmtMS(pl.P99)), pl.P99, "ms", nil)
		syncErrs = steady.Errors + steady.Rejected
	}
	b.add(w, "CPU used during the readers and syncs, cores", "", cpu.String(), cpu.Server, "cores", nil)
	if err := srv.stop(); err != nil {
		fmt.Fprintf(b.log, "bench: %v\n", err)
	}

	// Storage calls per request, with the server in the helper's process.
	fmt.Fprintf(b.log, "bench: counting storage calls per request (server in process)…\n")
	var calls provinceCallsResult
	cspec := provinceCallsSpec{Admin: benchAdmin, Password: benchPassword, Pairing: provincePairing(0), Photo: photo, Repeat: ps.CallRepeat, Mongo: mongo}
	if err := runHelper(b.ctx, b.helper, helperJob{Op: "province-calls", DataDir: dataDir, ProvinceCalls: &cspec}, &calls, b.log); err != nil {
		failed = append(failed, fmt.Errorf("storage calls: %w", err))
	}
	details["storage_calls"] = calls
	for _, k := range []struct{ key, label string }{{"overview", "overview"}, {"pairing_page", "pairing page (4 requests)"}, {"scopes", "sync scopes list"}, {"pull", "first pull page (all pairings)"}, {"photo", "photo request"}} {
		c, ok := calls.Calls[k.key]
		if !ok {
			continue
		}
		b.add(w, "storage calls per "+k.label+": fewest / median / most of "+fmt.Sprint(len(c.Samples)), "constant",
			fmt.Sprintf("%d / %d / %d %s", c.Min, c.Median, c.Max, opsString(c.ByOp)), float64(c.Min), "calls", nil)
	}

	rerrs := 0
	for _, n := range rd.errs {
		rerrs += n
	}
	measured := fmt.Sprintf("%d reader errors, %d sync errors and rejected changes", rerrs, syncErrs)
	for k, v := range rd.last {
		measured += fmt.Sprintf(" (%s: %.120s)", k, v)
		break
	}
	if steady != nil && len(steady.Samples) > 0 {
		measured += " (" + steady.Samples[0] + ")"
	}
	e := float64(rerrs + syncErrs)
	b.add(w, "errors and rejected changes", "0", measured, e, "count", atMost(e, 0))
	return errors.Join(failed...)
}

func opsString(by map[string]int) string {
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range by {
			if !yield(k) {
				return
			}
		}
	})
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %d", k, by[k]))
	}
	return "(" + strings.Join(parts, ", ") + ")"
}
