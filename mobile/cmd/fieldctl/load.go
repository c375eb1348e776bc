package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/pairsync/pairsync/mobile"
	"github.com/pairsync/pairsync/syncproto"
)

// Bounds of a load run: it always ends.
const (
	maxDevices  = 5000
	maxDuration = time.Hour
	maxChanges  = 100000 // per device
	minInterval = 100 * time.Millisecond
)

// The load modes.
const (
	modeSteady     = "steady"      // every device writes a little and syncs every interval
	modePushBurst  = "push-burst"  // every device pushes M new visits, in batches
	modeIdle       = "idle"        // every device, caught up, syncs once with nothing new
	modeHotPairing = "hot-pairing" // steady, all devices writing one pairing
	modeInitial    = "initial"     // every device, signed in but never synced, syncs once: reads all it may see
)

var loadModes = []string{modeSteady, modePushBurst, modeIdle, modeHotPairing, modeInitial}

// loadConfig is what a load run does.
type loadConfig struct {
	server      string
	devices     int
	duration    time.Duration
	interval    time.Duration
	batch       int
	mode        string
	changes     int
	users       []string
	password    string
	photos      bool
	photoKB     int
	pairing     string
	dir         string
	keep        bool
	setupWait   time.Duration
	concurrency int
	// spread starts each device's one sync (idle, initial) at a random
	// moment within it, instead of all at once.
	spread time.Duration
	// track keeps, per device, the records it wrote (for checking that
	// the server has every acknowledged change: fieldctl bench).
	track bool
	// begin and end, when set, are called as the measured work starts and
	// ends (a profile of it: bench_profile_test.go).
	begin, end func()
}

func cmdLoad(c *cli, args []string) error {
	fs := c.flags("load", "-server URL -devices N -users 'officer%03d' [-mode steady] [-duration 60s] [-interval 10s] [-batch 50] [-json]",
		`Run N simulated devices against a server, each its own engine in a temporary directory, signed in as
a user of -users (a pattern numbered from 1, or a file of names) with one password (`+envPassword+`).
Each device signs in and catches up first (not measured); then, by -mode:
  steady       every -interval, each device records a visit (~1 KB of Chinese notes, 2 photo references),
               raises an issue every other time, accepts the issues it raised before, and syncs
  push-burst   each device writes -changes new visits offline, then pushes them in requests of -batch
  idle         each device, with nothing new, syncs once: server time and bytes per sync
  hot-pairing  steady, but every device writes the same pairing (-pairing, or the first they share)
  initial      each device, signed in but not caught up, syncs once: a first sync reading all it may see
It prints throughput (changes pushed/s, records pulled/s), latency percentiles of push and pull requests
and of whole syncs, bytes, and errors; -json prints them as JSON. Photos are references only (never
uploaded) unless -photos. Runs end after -duration (and -changes per device), whatever happens.`)
	cfg := loadConfig{}
	fs.IntVar(&cfg.devices, "devices", 10, fmt.Sprintf("simulated devices (1–%d)", maxDevices))
	fs.DurationVar(&cfg.duration, "duration", 60*time.Second, "how long the measured work lasts (at most 1h)")
	fs.DurationVar(&cfg.interval, "interval", 10*time.Second, "steady, hot-pairing: time between a device's syncs")
	fs.IntVar(&cfg.batch, "batch", 50, "changes per push request (1–500)")
	fs.StringVar(&cfg.mode, "mode", modeSteady, "what the devices do: "+strings.Join(loadModes, ", "))
	fs.IntVar(&cfg.changes, "changes", 0, fmt.Sprintf("push-burst: visits each device pushes (default 200); steady: the most changes a device writes (default 1000; at most %d)", maxChanges))
	users := fs.String("users", "officer%03d", "user names: a pattern numbered 1…-user-count (officer%03d), or @FILE with one name a line")
	userCount := fs.Int("user-count", 0, "how many users the pattern names (default: one per device); devices share them round-robin")
	fs.BoolVar(&cfg.photos, "photos", false, "attach and upload real photos (generated JPEGs) instead of references")
	fs.IntVar(&cfg.photoKB, "photo-kb", 200, "size of each generated photo, KiB")
	fs.StringVar(&cfg.pairing, "pairing", "", "hot-pairing: the pairing every device writes")
	fs.StringVar(&cfg.dir, "dir", "", "where the devices' data goes (default: a temporary directory, removed at the end)")
	fs.BoolVar(&cfg.keep, "keep", false, "keep the devices' data")
	fs.DurationVar(&cfg.setupWait, "setup-timeout", 5*time.Minute, "how long signing in and catching up may take")
	fs.IntVar(&cfg.concurrency, "setup-concurrency", 8, "devices signing in at once")
	fs.DurationVar(&cfg.spread, "spread", 0, "idle, initial: start each device's sync at a random moment within this (default: all at once)")
	asJSON := fs.Bool("json", false, "print the figures as JSON on stdout")
	if err := c.parse(fs, args); err != nil {
		return err
	}
	cfg.server = c.g.server
	if cfg.server == "" {
		return usagef("name the server (-server URL)")
	}
	switch {
	case cfg.devices < 1 || cfg.devices > maxDevices:
		return usagef("-devices %d: want 1–%d", cfg.devices, maxDevices)
	case cfg.duration <= 0 || cfg.duration > maxDuration:
		return usagef("-duration %v: want up to %v", cfg.duration, maxDuration)
	case cfg.interval < minInterval:
		return usagef("-interval %v: want at least %v", cfg.interval, minInterval)
	case cfg.batch < 1 || cfg.batch > 500:
		return usagef("-batch %d: want 1–500", cfg.batch)
	case !slices.Contains(loadModes, cfg.mode):
		return usagef("-mode %q: want one of %s", cfg.mode, strings.Join(loadModes, ", "))
	case cfg.changes < 0 || cfg.changes > maxChanges:
		return usagef("-changes %d: want up to %d", cfg.changes, maxChanges)
	case cfg.photoKB < 1 || cfg.photoKB > 8<<10:
		return usagef("-photo-kb %d: want 1–8192", cfg.photoKB)
	case cfg.spread < 0 || cfg.spread >= cfg.duration:
		return usagef("-spread %v: want less than -duration", cfg.spread)
	case cfg.concurrency < 1:
		cfg.concurrency = 1
	}
	if cfg.changes == 0 {
		cfg.changes = 1000
		if cfg.mode == modePushBurst {
			cfg.changes = 200
		}
	}
	var err error
	if cfg.users, err = userNames(*users, *userCount, cfg.devices); err != nil {
		return err
	}
	if cfg.password, err = c.password(); err != nil {
		return err
	}
	rep, err := runLoad(c.ctx, cfg, c.stderr)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(c.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	rep.print(c.stdout)
	return nil
}

// userNames expands -users.
func userNames(spec string, count, devices int) ([]string, error) {
	if name, ok := strings.CutPrefix(spec, "@"); ok {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		var out []string
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if l := strings.TrimSpace(sc.Text()); l != "" && !strings.HasPrefix(l, "#") {
				out = append(out, l)
			}
		}
		if err := sc.Err(); err != nil {
			return nil, err
		}
		if len(out) == 0 {
			return nil, fmt.Errorf("%s names no user", name)
		}
		return out, nil
	}
	if !strings.Contains(spec, "%") {
		return []string{spec}, nil
	}
	if count <= 0 {
		count = devices
	}
	out := make([]string, count)
	for i := range out {
		out[i] = fmt.Sprintf(spec, i+1)
	}
	return out, nil
}

// report is what a load run measured.
type report struct {
	Server      string  `json:"server"`
	Mode        string  `json:"mode"`
	Devices     int     `json:"devices"`
	Users       int     `json:"users"`
	Duration    float64 `json:"duration_s"`
	Interval    float64 `json:"interval_s,omitempty"`
	Batch       int     `json:"batch"`
	SetupTime   float64 `json:"setup_s"`
	Elapsed     float64 `json:"elapsed_s"`
	Syncs       int     `json:"syncs"`
	Changes     int     `json:"changes_pushed"`
	ChangesPerS float64 `json:"changes_per_s"`
	// PushWindow is from the start to the end of the last push answer:
	// push-burst's pushes, without the pull that ends the last syncs.
	PushWindow float64 `json:"push_window_s,omitempty"`
	PushPerS   float64 `json:"push_changes_per_s,omitempty"`
	Pulled     int     `json:"records_pulled"`
	PulledPerS float64 `json:"records_pulled_per_s"`
	Rejected   int     `json:"rejected"`
	Photos     int     `json:"photos_stored"`
	PhotoBytes int64   `json:"photo_bytes"`
	// Latency: whole syncs, and requests by kind (push, pull, scopes,
	// photo); in idle mode "server" is every request of the syncs.
	Latency      map[string]Stats `json:"latency"`
	BytesSent    int64            `json:"bytes_sent"`
	BytesRecv    int64            `json:"bytes_received"`
	BytesPerSync float64          `json:"bytes_per_sync"`
	// Wire bytes: what crossed the TCP connections (HTTP headers and
	// compressed bodies), where the bytes above count bodies as sent and
	// as read (decompressed).
	WireSent    int64          `json:"wire_bytes_sent"`
	WireRecv    int64          `json:"wire_bytes_received"`
	WirePerSync float64        `json:"wire_bytes_per_sync"`
	Errors      int            `json:"errors"`
	Failures    map[string]int `json:"failures,omitempty"`
	Samples     []string       `json:"error_samples,omitempty"`
	Pairing     string         `json:"pairing,omitempty"`
}

func (r *report) print(w io.Writer) {
	fmt.Fprintf(w, "fieldctl load: %s, %d devices as %d users, %s against %s (batch %d", r.Mode, r.Devices, r.Users, time.Duration(r.Duration*float64(time.Second)), r.Server, r.Batch)
	if r.Interval > 0 {
		fmt.Fprintf(w, ", interval %s", time.Duration(r.Interval*float64(time.Second)))
	}
	if r.Pairing != "" {
		fmt.Fprintf(w, ", pairing %s", r.Pairing)
	}
	fmt.Fprintf(w, ")\nsetup            %.1fs to sign in and catch up; measured %.1fs\n", r.SetupTime, r.Elapsed)
	fmt.Fprintf(w, "syncs            %s\n", r.Latency["sync"])
	for _, k := range []string{"push", "pull", "scopes", "photo", "server"} {
		label := k + " requests"
		if k == "server" {
			label = "server time"
		}
		if s, ok := r.Latency[k]; ok && s.Count > 0 {
			fmt.Fprintf(w, "%-16s %s\n", label, s)
		}
	}
	fmt.Fprintf(w, "changes pushed   %d (%.1f/s), rejected %d\n", r.Changes, r.ChangesPerS, r.Rejected)
	if r.PushWindow > 0 {
		fmt.Fprintf(w, "push window      %.2fs to the last push answer (%.1f changes/s)\n", r.PushWindow, r.PushPerS)
	}
	fmt.Fprintf(w, "records pulled   %d (%.1f/s)\n", r.Pulled, r.PulledPerS)
	if r.Photos > 0 {
		fmt.Fprintf(w, "photos stored    %d (%s)\n", r.Photos, bytesString(r.PhotoBytes))
	}
	fmt.Fprintf(w, "bytes            sent %s, received %s (%s per sync)\n", bytesString(r.BytesSent), bytesString(r.BytesRecv), bytesString(int64(r.BytesPerSync)))
	fmt.Fprintf(w, "on the wire      sent %s, received %s (%s per sync, headers and compression included)\n", bytesString(r.WireSent), bytesString(r.WireRecv), bytesString(int64(r.WirePerSync)))
	fmt.Fprintf(w, "errors           %d\n", r.Errors)
	keys := make([]string, 0, len(r.Failures))
	for k := range r.Failures {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Fprintf(w, "  %-14s %d\n", k, r.Failures[k])
	}
	for _, s := range r.Samples {
		fmt.Fprintf(w, "  e.g. %s\n", s)
	}
}

// device is one simulated phone.
type device struct {
	n       int
	user    string
	e       *mobile.Engine
	acc     mobile.Account
	targets []target // pairings it may write
	rng     *rand.Rand
	raised  []raisedIssue
	written int
	photoN  int
	// track: wrote lists every record written (a load run that checks
	// them afterwards).
	track bool
	wrote []recordRef
}

// recordRef names a record a device wrote.
type recordRef struct{ collection, id string }

type target struct{ pairing, counterparty string }

type raisedIssue struct{ id, pairing string }

// outcome is what a device's syncs did.
type outcome struct {
	mu      sync.Mutex
	syncs   []time.Duration
	changes int
	pulled  int
	reject  int
	photos  int
	pbytes  int64
	errs    int
	samples []string
}

func (o *outcome) add(d time.Duration, p mobile.Progress, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.syncs = append(o.syncs, d)
	o.changes += p.UploadDone
	o.pulled += p.RecordsDone
	o.reject += p.Rejected
	o.photos += p.PhotosDone
	o.pbytes += p.PhotoBytesDone
	if err != nil {
		o.errs++
		if len(o.samples) < 5 {
			o.samples = append(o.samples, err.Error())
		}
	}
}

func runLoad(ctx context.Context, cfg loadConfig, log io.Writer) (*report, error) {
	f, err := newFleet(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	defer f.close()
	return f.run(ctx, cfg, log)
}

// fleet is a load run's devices, signed in and (except for the initial
// mode) caught up, sharing one metered transport. A fleet may run several
// workloads one after the other (fieldctl bench does).
type fleet struct {
	devs    []*device
	m       *meter
	tr      *http.Transport
	dir     string
	removed bool // dir is ours to remove
	setup   time.Duration
	users   int
}

// newFleet opens and signs in cfg.devices devices.
func newFleet(ctx context.Context, cfg loadConfig, log io.Writer) (*fleet, error) {
	f := &fleet{dir: cfg.dir, users: len(cfg.users)}
	if f.dir == "" {
		d, err := os.MkdirTemp("", "fieldctl-load-*")
		if err != nil {
			return nil, err
		}
		f.dir, f.removed = d, !cfg.keep
	}
	f.tr = http.DefaultTransport.(*http.Transport).Clone()
	f.tr.MaxIdleConns = cfg.devices * 2
	f.tr.MaxIdleConnsPerHost = cfg.devices * 2
	f.m = newMeter(f.tr)
	f.tr.DialContext = f.m.dial((&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext)

	fmt.Fprintf(log, "load: signing in %d devices…\n", cfg.devices)
	start := time.Now()
	devs, err := setupDevices(ctx, cfg, f.dir, f.m)
	f.devs = devs
	f.setup = time.Since(start)
	if err != nil {
		f.close()
		return nil, err
	}
	return f, nil
}

// close closes the devices' engines and removes their data (unless kept).
func (f *fleet) close() {
	for _, d := range f.devs {
		if d != nil && d.e != nil {
			d.e.Close()
		}
	}
	f.tr.CloseIdleConnections()
	if f.removed {
		os.RemoveAll(f.dir)
	}
}

// run runs one workload (cfg.mode) on the first cfg.devices devices of the
// fleet and measures it.
func (f *fleet) run(ctx context.Context, cfg loadConfig, log io.Writer) (*report, error) {
	devs := f.devs[:min(cfg.devices, len(f.devs))]
	m := f.m
	rep := &report{Server: cfg.server, Mode: cfg.mode, Devices: len(devs), Users: min(f.users, len(devs)), Duration: cfg.duration.Seconds(),
		Batch: cfg.batch, SetupTime: f.setup.Seconds(), Latency: map[string]Stats{}}
	if cfg.mode == modeSteady || cfg.mode == modeHotPairing {
		rep.Interval = cfg.interval.Seconds()
	}
	if cfg.mode == modeHotPairing {
		hot, err := hotPairing(devs, cfg.pairing)
		if err != nil {
			return nil, err
		}
		rep.Pairing = hot.pairing
		for _, d := range devs {
			d.targets = []target{hot}
		}
	}
	if cfg.mode == modePushBurst {
		fmt.Fprintf(log, "load: each device writes %d visits offline…\n", cfg.changes)
		errs := make([]error, len(devs))
		var wg sync.WaitGroup
		for i, d := range devs {
			wg.Go(func() {
				d.written = 0
				for range cfg.changes {
					if err := d.visit(cfg, false); err != nil {
						errs[i] = fmt.Errorf("device %d: %w", d.n, err)
						return
					}
				}
			})
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			return nil, err
		}
	}

	fmt.Fprintf(log, "load: %s for %v…\n", cfg.mode, cfg.duration)
	m.reset()
	out := &outcome{}
	runCtx, cancel := context.WithTimeout(ctx, cfg.duration+max(cfg.interval, 30*time.Second)+time.Minute)
	defer cancel()
	deadline := time.Now().Add(cfg.duration)
	wireSent, wireRecv := m.wire()
	if cfg.begin != nil {
		cfg.begin()
	}
	m.on.Store(true)
	start := time.Now()
	var wg sync.WaitGroup
	for _, d := range devs {
		wg.Go(func() {
			switch cfg.mode {
			case modeSteady, modeHotPairing:
				d.written = 0
				d.steady(runCtx, cfg, deadline, out)
			case modePushBurst, modeIdle, modeInitial:
				// One sync each: a burst of pushes, a sync with nothing
				// new, or a first sync. The deadline bounds it too.
				if cfg.spread > 0 {
					if err := sleepCtx(runCtx, time.Duration(d.rng.Int64N(int64(cfg.spread)))); err != nil {
						return
					}
				}
				sctx, cancel := context.WithDeadline(runCtx, deadline)
				defer cancel()
				t := time.Now()
				p, err := d.e.Sync(sctx)
				if err != nil && sctx.Err() != nil {
					err = nil // cut by the run's own bound, not a failure of the server
				}
				out.add(time.Since(t), p, err)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	m.on.Store(false)
	if cfg.end != nil {
		cfg.end()
	}
	ws, wr := m.wire()
	rep.WireSent, rep.WireRecv = ws-wireSent, wr-wireRecv

	rep.Elapsed = elapsed.Seconds()
	rep.Syncs = len(out.syncs)
	rep.Changes, rep.Pulled, rep.Rejected = out.changes, out.pulled, out.reject
	rep.Photos, rep.PhotoBytes = out.photos, out.pbytes
	rep.ChangesPerS = float64(out.changes) / elapsed.Seconds()
	rep.PulledPerS = float64(out.pulled) / elapsed.Seconds()
	rep.Latency["sync"] = statsOf(out.syncs)
	m.mu.Lock()
	var all []time.Duration
	for k, ds := range m.lat {
		rep.Latency[k] = statsOf(ds)
		all = append(all, ds...)
	}
	if cfg.mode == modeIdle {
		rep.Latency["server"] = statsOf(all)
	}
	rep.BytesSent, rep.BytesRecv = m.sent, m.received
	if end, ok := m.lastEnd["push"]; ok && cfg.mode == modePushBurst {
		rep.PushWindow = end.Sub(start).Seconds()
		rep.PushPerS = float64(out.changes) / rep.PushWindow
	}
	failures := 0
	rep.Failures = map[string]int{}
	for k, n := range m.failures {
		rep.Failures[k] = n
		failures += n
	}
	rep.Samples = append(slices.Clone(m.samples), out.samples...)
	m.mu.Unlock()
	if out.errs > 0 {
		rep.Failures["sync"] = out.errs
	}
	if len(rep.Samples) > 5 {
		rep.Samples = rep.Samples[:5]
	}
	rep.Errors = failures + out.errs
	if rep.Syncs > 0 {
		rep.BytesPerSync = float64(rep.BytesSent+rep.BytesRecv) / float64(rep.Syncs)
		rep.WirePerSync = float64(rep.WireSent+rep.WireRecv) / float64(rep.Syncs)
	}
	return rep, nil
}

// setupDevices opens, signs in and catches up every device, a few at a
// time.
func setupDevices(ctx context.Context, cfg loadConfig, dir string, m *meter) ([]*device, error) {
	ctx, cancel := context.WithTimeout(ctx, cfg.setupWait)
	defer cancel()
	devs := make([]*device, cfg.devices)
	errs := make([]error, cfg.devices)
	sem := make(chan struct{}, cfg.concurrency)
	var wg sync.WaitGroup
	for i := range devs {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			d := &device{n: i + 1, user: cfg.users[i%len(cfg.users)], rng: rand.New(rand.NewPCG(uint64(i+1), uint64(time.Now().UnixNano()))), track: cfg.track}
			devs[i] = d
			errs[i] = d.setup(ctx, cfg, dir, m)
		})
	}
	wg.Wait()
	var failed []error
	for i, err := range errs {
		if err != nil {
			failed = append(failed, fmt.Errorf("device %d (%s): %w", i+1, devs[i].user, err))
		}
	}
	if len(failed) > 0 {
		if len(failed) > 3 {
			failed = append(failed[:3], fmt.Errorf("and %d more", len(failed)-3))
		}
		return devs, errors.Join(failed...)
	}
	return devs, nil
}

func (d *device) setup(ctx context.Context, cfg loadConfig, dir string, m *meter) error {
	path := filepath.Join(dir, fmt.Sprintf("device-%04d", d.n), "fieldctl.db")
	e, err := mobile.Open(path, mobile.Config{Transport: m, MaxChanges: cfg.batch})
	if err != nil {
		return err
	}
	d.e = e
	if err := e.SignIn(ctx, cfg.server, d.user, cfg.password, fmt.Sprintf("fieldctl load %04d", d.n)); err != nil {
		return err
	}
	d.acc = e.Account()
	if cfg.mode == modeInitial {
		return nil // its first sync is the measurement
	}
	if _, err := e.Sync(ctx); err != nil {
		return fmt.Errorf("first sync: %w", err)
	}
	return d.findTargets(cfg)
}

// findTargets lists the pairings the device may write.
func (d *device) findTargets(cfg loadConfig) error {
	prs, err := d.e.List(directoryScope, collPairings)
	if err != nil {
		return err
	}
	d.targets = nil
	for _, pr := range prs {
		if str(pr, "status") == "ended" || !mayWrite(pr, d.acc) {
			continue
		}
		t := target{pairing: pr.ID}
		if cps := strs(pr, "counterparties"); len(cps) > 0 {
			t.counterparty = cps[0]
		}
		d.targets = append(d.targets, t)
	}
	if len(d.targets) == 0 && cfg.mode != modeIdle {
		return fmt.Errorf("%s may write no pairing (an officer of none)", d.user)
	}
	return nil
}

// mayWrite: officers write their own pairings; administrators any they see.
func mayWrite(pr syncproto.Record, acc mobile.Account) bool {
	if acc.Role == "admin" {
		return true
	}
	var officers []officerRef
	_ = json.Unmarshal(pr.Value("officers"), &officers)
	return slices.ContainsFunc(officers, func(o officerRef) bool { return o.UserID == acc.UserID })
}

type officerRef struct {
	UserID string `json:"user_id"`
}

// hotPairing is the pairing every device writes: the one named, or the
// first they all may write.
func hotPairing(devs []*device, name string) (target, error) {
	var common []target
	for i, d := range devs {
		if i == 0 {
			common = slices.Clone(d.targets)
			continue
		}
		common = slices.DeleteFunc(common, func(t target) bool {
			return !slices.ContainsFunc(d.targets, func(u target) bool { return u.pairing == t.pairing })
		})
	}
	slices.SortFunc(common, func(a, b target) int { return strings.Compare(a.pairing, b.pairing) })
	for _, t := range common {
		if name == "" || t.pairing == name {
			return t, nil
		}
	}
	if name != "" {
		return target{}, fmt.Errorf("hot-pairing: not every device may write pairing %s", name)
	}
	return target{}, errors.New("hot-pairing: the devices share no pairing they may write")
}

// steady: write a little, sync, every interval, until the deadline or the
// device's change budget.
func (d *device) steady(ctx context.Context, cfg loadConfig, deadline time.Time, out *outcome) {
	// Spread the devices over the interval.
	if err := sleepCtx(ctx, time.Duration(d.rng.Int64N(int64(cfg.interval)))); err != nil {
		return
	}
	for tick := 0; time.Now().Before(deadline) && d.written < cfg.changes; tick++ {
		next := time.Now().Add(cfg.interval)
		if err := d.work(cfg); err != nil {
			out.add(0, mobile.Progress{}, err)
			return
		}
		sctx, cancel := context.WithDeadline(ctx, deadline.Add(cfg.interval))
		t := time.Now()
		p, err := d.e.Sync(sctx)
		if err != nil && sctx.Err() != nil {
			err = nil // cut by the run's own bound, not a failure of the server
		}
		cancel()
		out.add(time.Since(t), p, err)
		wait := time.Until(next)
		if left := time.Until(deadline); wait > left {
			return
		}
		if err := sleepCtx(ctx, wait); err != nil {
			return
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// work is one round of field work: accept the issues raised last time
// (they are on the server now), then a visit, raising an issue every
// other time.
func (d *device) work(cfg loadConfig) error {
	now := time.Now()
	for _, is := range d.raised {
		if err := d.set("issue_events", newID(), is.pairing, acceptedFields(is.id, d.acc.UserID, d.acc.Role, now)); err != nil {
			return err
		}
	}
	d.raised = d.raised[:0]
	return d.visit(cfg, d.rng.IntN(2) == 0)
}

func (d *device) set(coll, id, pairing string, fields map[string]any) error {
	fv, err := fieldsOf(fields)
	if err != nil {
		return err
	}
	if err := d.e.Set(coll, id, pairing, fv); err != nil {
		return err
	}
	d.written++
	if d.track {
		d.wrote = append(d.wrote, recordRef{coll, id})
	}
	return nil
}

// visit records a visit of about 1 KB with two photos, raising an issue
// when asked.
func (d *device) visit(cfg loadConfig, raise bool) error {
	t := d.targets[d.rng.IntN(len(d.targets))]
	now := time.Now()
	vid := newID()
	photos := make([]mobile.Photo, 2)
	for i := range photos {
		p, err := d.photo(cfg, now)
		if err != nil {
			return err
		}
		photos[i] = p
	}
	f := visitFields(d.rng, d.acc.UserID, t, now, photos)
	if raise {
		iid := newID()
		if err := d.set("issues", iid, t.pairing, issueFields(d.rng, d.acc.UserID, t, now, vid)); err != nil {
			return err
		}
		f["issues"] = []string{iid}
		d.raised = append(d.raised, raisedIssue{id: iid, pairing: t.pairing})
	}
	return d.set("visits", vid, t.pairing, f)
}

// visitFields are the fields of a visit of about 1 KB (Chinese notes, two
// participants, a location) citing photos, recorded now by an officer.
// fieldctl bench seeds its stores with the same records.
func visitFields(rng *rand.Rand, officer string, t target, now time.Time, photos []mobile.Photo) map[string]any {
	f := map[string]any{
		"title":        pick(rng, visitTitles),
		"officers":     []string{officer},
		"mode":         pick(rng, []string{"onsite", "onsite", "onsite", "phone", "online", "joint_activity"}),
		"visited_at":   stamp(now.Add(-time.Duration(rng.IntN(120)) * time.Minute)),
		"recorded_at":  stamp(now),
		"location":     map[string]float64{"lat": 32.0 + rng.Float64()*0.2, "lng": 118.7 + rng.Float64()*0.2, "accuracy_m": float64(5 + rng.IntN(40))},
		"participants": []map[string]string{{"name": pick(rng, surnames) + "经理", "title": "总经理"}, {"name": pick(rng, surnames) + "主任", "title": "办公室主任"}},
		"notes":        notes(rng, 1000),
		"photos":       photos,
		"status":       "submitted",
	}
	if t.counterparty != "" {
		f["counterparty"] = t.counterparty
	}
	return f
}

// issueFields are the fields of an issue raised in a visit.
func issueFields(rng *rand.Rand, officer string, t target, now time.Time, visit string) map[string]any {
	f := map[string]any{"title": pick(rng, issueTitles), "category": pick(rng, issueCategories), "description": notes(rng, 300),
		"raised_by": officer, "raised_at": stamp(now), "visit": visit, "priority": "normal"}
	if t.counterparty != "" {
		f["counterparty"] = t.counterparty
	}
	return f
}

// acceptedFields are the fields of an issue's accepted event.
func acceptedFields(issue, by, role string, now time.Time) map[string]any {
	return map[string]any{"issue": issue, "type": "accepted", "at": stamp(now), "by": by, "role": role, "note": "已受理，转相关部门办理"}
}

// photoRef is the manifest entry of a photo that is never sent.
func photoRef(rng *rand.Rand, now time.Time) mobile.Photo {
	var sum [32]byte
	for i := range sum {
		sum[i] = byte(rng.Uint32())
	}
	return mobile.Photo{SHA256: hex.EncodeToString(sum[:]), Size: int64(150<<10 + rng.IntN(250<<10)), Type: "image/jpeg",
		Width: 4000, Height: 3000, TakenAt: stamp(now.Add(-time.Duration(rng.IntN(60)) * time.Minute))}
}

// photo is a photo of the visit: a reference to a photo never sent, or,
// with -photos, a generated JPEG queued for upload.
func (d *device) photo(cfg loadConfig, now time.Time) (mobile.Photo, error) {
	if !cfg.photos {
		return photoRef(d.rng, now), nil
	}
	taken := stamp(now.Add(-time.Duration(d.rng.IntN(60)) * time.Minute))
	d.photoN++
	p, err := d.e.AddPhoto(jpegOf(d.rng, cfg.photoKB<<10), "image/jpeg")
	if err != nil {
		return mobile.Photo{}, err
	}
	p.TakenAt = taken
	return p, nil
}

// jpegOf makes a small JPEG of noise padded to about size bytes: unique,
// valid in its header, quick to make.
func jpegOf(rng *rand.Rand, size int) []byte {
	m := image.NewRGBA(image.Rect(0, 0, 64, 48))
	for y := range 48 {
		for x := range 64 {
			m.Set(x, y, color.RGBA{uint8(rng.Uint32()), uint8(x * 4), uint8(y * 5), 255})
		}
	}
	var b bytes.Buffer
	_ = jpeg.Encode(&b, m, &jpeg.Options{Quality: 85})
	for b.Len() < size {
		b.WriteByte(byte(rng.Uint32()))
	}
	return b.Bytes()
}

func pick[T any](rng *rand.Rand, xs []T) T { return xs[rng.IntN(len(xs))] }

// notes is at least n bytes of plausible visit notes.
func notes(rng *rand.Rand, n int) string {
	var b strings.Builder
	for b.Len() < n {
		b.WriteString(pick(rng, phrases))
	}
	return b.String()
}

var (
	visitTitles = []string{"走访企业了解经营情况", "主题党日联建活动", "政策宣讲与诉求收集", "复工复产服务走访", "回访诉求办理情况", "社区共建项目推进会"}
	issueTitles = []string{"融资难，需对接银行授信", "用工缺口较大", "厂房扩建审批进度慢", "希望了解研发费用加计扣除政策", "周边道路交通拥堵", "出口订单需物流支持"}
	surnames    = []string{"王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴"}
	phrases     = []string{
		"今日到企业实地走访，与企业负责人就生产经营情况进行了深入交流。",
		"企业反映今年订单总体平稳，但原材料价格上涨明显，利润空间受到挤压。",
		"联络员详细讲解了最新的减税降费政策和稳岗补贴申报流程。",
		"企业希望在技术改造项目上得到相关部门的指导和支持。",
		"双方商定下月共同开展主题党日活动，推动党建与业务深度融合。",
		"现场查看了新建生产线，了解到设备调试已基本完成。",
		"企业提出招工难问题，特别是熟练技术工人缺口较大。",
		"已将相关诉求记录在案，将按程序交办并跟踪办理进度。",
		"社区书记介绍了老旧小区改造和便民服务中心建设的进展。",
		"针对企业融资需求，建议对接辖区银行开展专项授信服务。",
	}
)
