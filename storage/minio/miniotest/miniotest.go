package miniotest

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
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
	"testing"
	"time"
)

// Server is a MinIO server running on 127.0.0.1 for tests.
type Server struct {
	// Endpoint is host:port (plain http).
	Endpoint  string
	AccessKey string
	SecretKey string
	// Dir is the server's data directory.
	Dir string

	p *process
}

// How long a server may take to start, and to stop on SIGTERM.
const (
	startTimeout = 30 * time.Second
	stopTimeout  = 10 * time.Second
)

// shared is the server Start hands out: started by the first test that
// asks, stopped when the last test using it has finished.
var shared struct {
	mu    sync.Mutex
	p     *process
	users int
}

// Start returns a MinIO server shared by the tests of this test binary that
// run at the same time: started by the first of them (in under a second),
// stopped, and its data removed, when the last of them has finished (or at
// the end of the binary, with Run). Give each test its own bucket (Bucket). A shared server cannot be stopped or
// restarted: use StartPrivate for that.
//
// When no MinIO binary is built, Start skips the test, saying how to build
// one (.ci/minio, or make test). It fails the test when MinIO does not
// start.
func Start(t testing.TB) Server {
	t.Helper()
	bin := findBinary(t)
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.p == nil {
		root, err := os.MkdirTemp("", "pairsync-miniotest-")
		if err != nil {
			t.Fatalf("miniotest: %v", err)
		}
		began := time.Now()
		p, err := launch(bin, root)
		if err != nil {
			_ = os.RemoveAll(root)
			t.Fatalf("miniotest: %v", err)
		}
		t.Logf("miniotest: MinIO serving on %s after %v", p.addr, time.Since(began).Round(time.Millisecond))
		shared.p = p
	}
	p := shared.p
	shared.users++
	t.Cleanup(func() {
		if err := release(); err != nil {
			t.Errorf("miniotest: %v", err)
		}
	})
	return p.server()
}

// release drops a hold on the shared server, stopping it and removing its
// data when it was the last.
func release() error {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	shared.users--
	if shared.users > 0 || shared.p == nil {
		return nil
	}
	p := shared.p
	shared.p = nil
	err := p.stop()
	if rerr := os.RemoveAll(p.root); rerr != nil && err == nil {
		err = fmt.Errorf("remove the shared server's data: %w", rerr)
	}
	return err
}

// Run runs m's tests holding the shared server from the first Start to the
// end of the test binary, rather than starting one for each top-level test
// that calls Start. From TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(miniotest.Run(m)) }
func Run(m *testing.M) int {
	shared.mu.Lock()
	shared.users++
	shared.mu.Unlock()
	code := m.Run()
	if err := release(); err != nil {
		fmt.Fprintf(os.Stderr, "miniotest: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// StartPrivate starts a MinIO server of the test's own, which the test may
// Stop and Restart; it is stopped when the test ends, its data in
// t.TempDir. Skips and failures as for Start.
func StartPrivate(t testing.TB) Server {
	t.Helper()
	bin := findBinary(t)
	root := t.TempDir()
	p, err := launch(bin, root)
	if err != nil {
		t.Fatalf("miniotest: %v", err)
	}
	p.owner = t
	t.Cleanup(func() {
		if err := p.stop(); err != nil {
			t.Errorf("miniotest: %v", err)
		}
	})
	return p.server()
}

// Stop stops a private server (SIGTERM, then SIGKILL after 10 s), so that
// requests to it are refused until Restart. Call it from the test that
// started the server.
func (s Server) Stop() {
	p := s.private("Stop")
	if err := p.stop(); err != nil {
		p.owner.Fatalf("miniotest: %v", err)
	}
}

// Restart starts a private server again on the same address, with the same
// data and credentials (stopping it first if it runs), and waits until it
// serves. Call it from the test that started the server.
func (s Server) Restart() {
	p := s.private("Restart")
	if err := p.stop(); err != nil {
		p.owner.Fatalf("miniotest: %v", err)
	}
	if err := p.start(); err != nil {
		p.owner.Fatalf("miniotest: restart: %v", err)
	}
}

func (s Server) private(method string) *process {
	if s.p == nil {
		panic("miniotest: " + method + " on a Server not returned by StartPrivate")
	}
	if s.p.owner == nil {
		panic("miniotest: " + method + " on the shared server, which other tests use: start one with StartPrivate")
	}
	return s.p
}

// Bucket returns a new random bucket name, for a test's own bucket on a
// shared server.
func Bucket(t testing.TB) string {
	return "pairsync-test-" + randomHex(t, 8)
}

func randomHex(t testing.TB, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("miniotest: %v", err)
	}
	return hex.EncodeToString(b)
}

// findBinary returns the MinIO binary or skips t, saying how to build one.
func findBinary(t testing.TB) string {
	t.Helper()
	bin, err := binary()
	if errors.Is(err, errNoBinary) {
		t.Skipf("miniotest: %v; build it with .ci/minio (about 6 minutes, once) or run make test, "+
			"or point %s at a MinIO server binary", err, BinaryEnv)
	}
	if err != nil {
		t.Fatalf("miniotest: %v", err)
	}
	return bin
}

// process is one MinIO server and the address and data it keeps across
// restarts.
type process struct {
	bin, root   string
	addr        string // 127.0.0.1:port
	consoleAddr string
	user, pass  string
	owner       testing.TB // the test of a private server; nil: shared

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{} // closed when cmd has exited
}

func (p *process) server() Server {
	return Server{Endpoint: p.addr, AccessKey: p.user, SecretKey: p.pass, Dir: p.dataDir(), p: p}
}

func (p *process) dataDir() string { return filepath.Join(p.root, "data") }
func (p *process) logPath() string { return filepath.Join(p.root, "minio.log") }

// launch starts a new server with its data under root, on free ports.
func launch(bin, root string) (*process, error) {
	user, pass := make([]byte, 6), make([]byte, 16)
	if _, err := rand.Read(user); err != nil {
		return nil, err
	}
	if _, err := rand.Read(pass); err != nil {
		return nil, err
	}
	p := &process{bin: bin, root: root, user: "pairsync-" + hex.EncodeToString(user), pass: hex.EncodeToString(pass)}
	var err error
	for range 3 { // another process may take a free port before MinIO binds it
		if p.addr, err = freeAddr(); err != nil {
			return nil, err
		}
		if p.consoleAddr, err = freeAddr(); err != nil {
			return nil, err
		}
		if err = p.start(); err == nil || !errors.Is(err, errAddrInUse) {
			break
		}
	}
	return p, err
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}

var errAddrInUse = errors.New("address already in use")

// start runs the server and waits until it serves.
func (p *process) start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		return nil
	}
	if err := os.MkdirAll(p.dataDir(), 0o700); err != nil {
		return err
	}
	logf, err := os.OpenFile(p.logPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close() // the child has its own descriptor
	fmt.Fprintf(logf, "--- miniotest: starting %s on %s at %s\n", p.bin, p.addr, time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(p.bin, "server", p.dataDir(),
		"--address", p.addr,
		"--console-address", p.consoleAddr,
		"--certs-dir", filepath.Join(p.root, "certs"),
		"--quiet", "--anonymous")
	cmd.Env = append(environ(),
		"HOME="+p.root,
		"MINIO_ROOT_USER="+p.user,
		"MINIO_ROOT_PASSWORD="+p.pass,
		"MINIO_BROWSER=off",
		"MINIO_UPDATE=off",
		"MINIO_CALLHOME_ENABLE=off",
	)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = sysProcAttr()

	began := time.Now()
	exited := make(chan struct{})
	started := make(chan error, 1)
	go func() {
		// The parent-death signal (Linux) is sent when the thread that
		// started the child ends: keep this one until the child has
		// exited, so that MinIO dies with the test binary, however it ends.
		runtime.LockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		_ = cmd.Wait()
		close(exited)
	}()
	if err := <-started; err != nil {
		return fmt.Errorf("start %s: %w", p.bin, err)
	}
	p.cmd, p.exited = cmd, exited

	if err := p.waitServing(began); err != nil {
		p.kill()
		tail := p.logTail()
		if strings.Contains(tail, "already in use") {
			err = fmt.Errorf("%w: %w", errAddrInUse, err)
		}
		return fmt.Errorf("%w\nlast lines of %s:\n%s", err, p.logPath(), tail)
	}
	return nil
}

// environ returns the test binary's environment without the MINIO_ and
// HOME variables, which the server gets from start.
func environ() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "MINIO_") || strings.HasPrefix(kv, "HOME=") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// waitServing polls the server's health checks (live, then ready) until
// they pass, the server exits, or startTimeout passes.
func (p *process) waitServing(began time.Time) error {
	client := &http.Client{Timeout: time.Second}
	defer client.CloseIdleConnections()
	for _, check := range []string{"live", "ready"} {
		url := "http://" + p.addr + "/minio/health/" + check
		for {
			resp, err := client.Get(url)
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					break
				}
			}
			if time.Since(began) > startTimeout {
				return fmt.Errorf("minio on %s not %s after %v (last: %v)", p.addr, check, startTimeout, statusOrErr(resp, err))
			}
			select {
			case <-p.exited:
				return fmt.Errorf("minio on %s exited before it served: %v", p.addr, p.cmd.ProcessState)
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	return nil
}

func statusOrErr(resp *http.Response, err error) string {
	if err != nil {
		return err.Error()
	}
	return resp.Status
}

// stop sends SIGTERM to the server and waits for it to exit, killing it
// after stopTimeout. Stopping a stopped server does nothing.
func (p *process) stop() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return nil
	}
	pid := p.cmd.Process.Pid
	defer func() { p.cmd = nil }()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("stop minio (pid %d): %w", pid, err)
	}
	select {
	case <-p.exited:
		return nil
	case <-time.After(stopTimeout):
	}
	_ = p.cmd.Process.Kill()
	<-p.exited
	return fmt.Errorf("minio (pid %d) still running %v after SIGTERM: killed\nlast lines of %s:\n%s", pid, stopTimeout, p.logPath(), p.logTail())
}

// kill ends a server that failed to start; p.mu is held.
func (p *process) kill() {
	_ = p.cmd.Process.Kill()
	<-p.exited
	p.cmd = nil
}

// logTail returns the last lines of the server's log.
func (p *process) logTail() string {
	b, err := os.ReadFile(p.logPath())
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > 30 {
		lines = lines[len(lines)-30:]
	}
	return strings.Join(lines, "\n")
}

// PID returns the process id of the running server, or 0 when it is
// stopped.
func (s Server) PID() int {
	if s.p == nil {
		return 0
	}
	s.p.mu.Lock()
	defer s.p.mu.Unlock()
	if s.p.cmd == nil {
		return 0
	}
	return s.p.cmd.Process.Pid
}

// String describes the server for test logs.
func (s Server) String() string {
	return "minio at " + s.Endpoint + " (pid " + strconv.Itoa(s.PID()) + ", data " + s.Dir + ")"
}
