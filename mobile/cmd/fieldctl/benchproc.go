package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// serverProc is a pairsyncd that fieldctl bench started on 127.0.0.1, on a
// data directory of its own.
type serverProc struct {
	cmd     *exec.Cmd
	url     string
	metURL  string // the -metrics-addr listener
	dataDir string
	started time.Time
	ready   time.Duration // from exec to the first 200 of /readyz
	done    chan error
	log     *os.File
	once    sync.Once
	stopErr error
}

// startServer runs bin on dataDir (a bolt file and a photos folder) and
// waits until it is ready. Its environment is PATH and HOME only, so no
// PAIRSYNC_* setting of the caller's leaks in.
func startServer(ctx context.Context, bin, dataDir string) (*serverProc, error) {
	return startServerEnv(ctx, bin, dataDir, nil)
}

// startServerEnv is startServer with env added to the server's
// environment (the province workload's MongoDB settings).
func startServerEnv(ctx context.Context, bin, dataDir string, env []string) (*serverProc, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	mln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	metricsAddr := mln.Addr().String()
	mln.Close()
	logf, err := os.Create(filepath.Join(filepath.Dir(dataDir), filepath.Base(dataDir)+"-pairsyncd.log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "serve", "-addr", addr, "-metrics-addr", metricsAddr, "-data-dir", dataDir, "-log-level", "warn")
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	p := &serverProc{cmd: cmd, url: "http://" + addr, metURL: "http://" + metricsAddr, dataDir: dataDir, done: make(chan error, 1), log: logf}
	p.started = time.Now()
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	go func() { p.done <- cmd.Wait() }()
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(10 * time.Minute)
	for {
		select {
		case err := <-p.done:
			p.done <- err
			return nil, fmt.Errorf("pairsyncd exited before it was ready (%v); its log: %s", err, logf.Name())
		case <-ctx.Done():
			p.stop()
			return nil, ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
		resp, err := client.Get(p.url + "/readyz")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				p.ready = time.Since(p.started)
				return p, nil
			}
		}
		if time.Now().After(deadline) {
			p.stop()
			return nil, errors.New("pairsyncd not ready within 10 minutes")
		}
	}
}

// stop ends the server with SIGTERM (SIGKILL after 20s); calling it again
// returns the first call's result.
func (p *serverProc) stop() error {
	p.once.Do(func() {
		defer p.log.Close()
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-p.done:
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				p.stopErr = fmt.Errorf("pairsyncd exited with %v (log: %s)", err, p.log.Name())
			}
		case <-time.After(20 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.done
			p.stopErr = errors.New("pairsyncd did not stop within 20s of SIGTERM: killed")
		}
	})
	return p.stopErr
}

// promSample is one scrape of /metrics: series ("name{labels}") → value.
type promSample map[string]float64

func (p *serverProc) metrics(ctx context.Context) (promSample, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.metURL+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return nil, fmt.Errorf("/metrics: %s: %s", resp.Status, b)
	}
	out := promSample{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		l := sc.Text()
		if l == "" || l[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(l, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(l[i+1:], 64)
		if err != nil {
			continue
		}
		out[l[:i]] = v
	}
	return out, sc.Err()
}

// get sums the series named name whose labels include every one of labels
// (each `key="value"`).
func (s promSample) get(name string, labels ...string) float64 {
	total := 0.0
	for series, v := range s {
		n, rest, _ := strings.Cut(series, "{")
		if n != name {
			continue
		}
		ok := true
		for _, l := range labels {
			if !strings.Contains(rest, l) {
				ok = false
				break
			}
		}
		if ok {
			total += v
		}
	}
	return total
}

// histDelta is what a histogram observed between two scrapes: count, mean
// (seconds) and the share of observations at most le seconds (an upper
// bucket bound of the histogram).
type histDelta struct {
	Count float64 `json:"count"`
	Mean  float64 `json:"mean_s"`
	Le    float64 `json:"le_s,omitempty"`
	Share float64 `json:"share_le,omitempty"`
}

func histogramDelta(before, after promSample, name string, le float64, labels ...string) histDelta {
	n := after.get(name+"_count", labels...) - before.get(name+"_count", labels...)
	sum := after.get(name+"_sum", labels...) - before.get(name+"_sum", labels...)
	d := histDelta{Count: n}
	if n > 0 {
		d.Mean = sum / n
		if le > 0 {
			b := fmt.Sprintf(`le="%s"`, strconv.FormatFloat(le, 'g', -1, 64))
			in := after.get(name+"_bucket", append(labels, b)...) - before.get(name+"_bucket", append(labels, b)...)
			d.Le, d.Share = le, in/n
		}
	}
	return d
}

// procStatus reads a field of /proc/PID/status in bytes (VmRSS, VmHWM).
func (p *serverProc) procStatus(field string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			return kbField(v)
		}
	}
	return 0
}

func kbField(v string) int64 {
	f := strings.Fields(v)
	if len(f) == 0 {
		return 0
	}
	n, _ := strconv.ParseInt(f[0], 10, 64)
	return n << 10
}

// mappedFile is how much of the process's mappings of files named base is
// resident (from /proc/PID/smaps): the bolt file's pages in memory, which
// the kernel may drop at will, unlike the Go heap.
func (p *serverProc) mappedFile(base string) (size, rss int64) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps", p.cmd.Process.Pid))
	if err != nil {
		return 0, 0
	}
	in := false
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) >= 5 && strings.Contains(f[0], "-") && !strings.HasSuffix(f[0], ":") {
			in = len(f) >= 6 && filepath.Base(f[len(f)-1]) == base
			continue
		}
		if !in || len(f) < 2 {
			continue
		}
		switch f[0] {
		case "Size:":
			size += kbField(strings.Join(f[1:], " "))
		case "Rss:":
			rss += kbField(strings.Join(f[1:], " "))
		}
	}
	return size, rss
}

// cpuSeconds is the CPU time the process has used.
func (p *serverProc) cpuSeconds() float64 {
	return procCPU(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
}

// settle waits until the process uses less than 5% of a CPU over a second
// (background start-up work done), at most max; it returns how long it
// waited.
func (p *serverProc) settle(ctx context.Context, max time.Duration) time.Duration {
	start := time.Now()
	last := p.cpuSeconds()
	for time.Since(start) < max {
		select {
		case <-ctx.Done():
			return time.Since(start)
		case <-time.After(time.Second):
		}
		now := p.cpuSeconds()
		if now-last < 0.05 {
			return time.Since(start)
		}
		last = now
	}
	return time.Since(start)
}

// machine describes the computer the figures come from.
type machine struct {
	CPU      string `json:"cpu"`
	Cores    int    `json:"cores"`
	MemBytes int64  `json:"mem_bytes"`
	Kernel   string `json:"kernel"`
	Go       string `json:"go"`
	OS       string `json:"os"`
}

func thisMachine() machine {
	m := machine{Cores: runtime.NumCPU(), Go: runtime.Version(), OS: runtime.GOOS + "/" + runtime.GOARCH}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "model name"); ok {
				m.CPU = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "MemTotal:"); ok {
				m.MemBytes = kbField(v)
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	return m
}

// cpuSnap is the CPU time used so far: by the whole machine (from
// /proc/stat, in seconds of all CPUs), by pairsyncd, by this process (the
// simulated phones).
type cpuSnap struct {
	at                   time.Time
	busy, server, client float64
}

func cpuNow(p *serverProc) cpuSnap {
	s := cpuSnap{at: time.Now(), server: p.cpuSeconds(), client: procCPU("/proc/self/stat")}
	if b, err := os.ReadFile("/proc/stat"); err == nil {
		line, _, _ := strings.Cut(string(b), "\n")
		f := strings.Fields(line)
		if len(f) > 5 && f[0] == "cpu" {
			total := 0.0
			for i, v := range f[1:] {
				n, _ := strconv.ParseFloat(v, 64)
				if i == 3 || i == 4 { // idle, iowait
					continue
				}
				if i >= 8 { // guest time is counted in user already
					break
				}
				total += n
			}
			s.busy = total / 100
		}
	}
	return s
}

// cpuUse is how many cores each party kept busy, on average, over an
// interval: pairsyncd, the simulated phones (fieldctl), and every other
// process on the machine (a benchmark on a shared machine says so).
type cpuUse struct {
	Seconds float64 `json:"seconds"`
	Server  float64 `json:"server_cores"`
	Clients float64 `json:"client_cores"`
	Other   float64 `json:"other_cores"`
}

func (a cpuSnap) until(b cpuSnap) cpuUse {
	d := b.at.Sub(a.at).Seconds()
	if d <= 0 {
		return cpuUse{}
	}
	u := cpuUse{Seconds: d, Server: (b.server - a.server) / d, Clients: (b.client - a.client) / d}
	u.Other = max((b.busy-a.busy)/d-u.Server-u.Clients, 0)
	return u
}

func (u cpuUse) String() string {
	return fmt.Sprintf("pairsyncd %.2f, phones %.2f, other processes %.2f (of %d cores)", u.Server, u.Clients, u.Other, runtime.NumCPU())
}

// procCPU reads the user+system time of a /proc/PID/stat file, seconds.
func procCPU(path string) float64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 {
		s = s[i+1:]
	}
	f := strings.Fields(s)
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100 // USER_HZ is 100 on Linux
}

// loadAvg is the machine's 1-minute load average.
func loadAvg() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}
