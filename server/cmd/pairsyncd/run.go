package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/pairsync/pairsync/mobile/web"
	"github.com/pairsync/pairsync/server"
	"github.com/pairsync/pairsync/server/auth"
	"github.com/pairsync/pairsync/storage"
	"github.com/pairsync/pairsync/storage/bolt"
	"github.com/pairsync/pairsync/storage/files"
	"github.com/pairsync/pairsync/storage/minio"
	"github.com/pairsync/pairsync/storage/mongo"
)

// Main is the pairsyncd program: it opens storage, makes sure an
// administrator exists, builds the server and serves until shut down. The
// binary's main() and the end-to-end tests both use it.
type Main struct {
	Config Config
	// Stdout gets the few lines meant for the person who started the server
	// (where to open it, the first administrator's password); Stderr gets the
	// JSON logs. Nothing secret is ever written to Stderr.
	Stdout io.Writer
	Stderr io.Writer

	log    *slog.Logger
	store  storage.Store
	photos storage.Photos
	srv    *server.Server
	ln     net.Listener
	done   chan error
	// metrics serves /metrics on Config.MetricsAddr (nil when unset).
	metrics   *http.Server
	metricsLn net.Listener
	ready     chan struct{}
	// stopMaintenance ends the background work (tombstone sweeps).
	stopMaintenance context.CancelFunc

	// extraRoutes lets tests add routes (a deliberately slow one) before the
	// server starts.
	extraRoutes func(app *fiber.App)

	closeOnce sync.Once
	closeErr  error
}

// NewMain returns a Main with default configuration writing to the
// process's stdout and stderr.
func NewMain() *Main {
	cfg, _ := ParseConfig(nil, func(string) string { return "" }, io.Discard)
	return &Main{Config: cfg, Stdout: os.Stdout, Stderr: os.Stderr, ready: make(chan struct{})}
}

// Run opens everything and starts serving in the background; it returns once
// the listener is open (or with the reason it could not start). Call Done to
// learn when serving stops, and Shutdown or Close to stop.
func (m *Main) Run(ctx context.Context) (err error) {
	start := time.Now()
	var level slog.Level
	if err := level.UnmarshalText([]byte(m.Config.LogLevel)); err != nil {
		return fmt.Errorf("log level: %w", err)
	}
	base := slog.New(slog.NewJSONHandler(m.Stderr, &slog.HandlerOptions{Level: level}))
	m.log = base.With("component", "pairsyncd")

	if err := m.openStorage(ctx); err != nil {
		return err
	}
	password, created, err := bootstrapAdmin(ctx, m.store, m.Config.AdminPassword)
	if err != nil {
		return err
	}
	m.srv, err = server.New(m.Config.Server, server.Deps{Store: m.store, Photos: m.photos, Logger: base, Web: web.Dist()})
	if err != nil {
		return err
	}
	if m.extraRoutes != nil {
		m.extraRoutes(m.srv.App())
	}
	m.ln, err = net.Listen("tcp", m.Config.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", m.Config.Addr, err)
	}
	if m.Config.MetricsAddr != "" {
		if m.metricsLn, err = net.Listen("tcp", m.Config.MetricsAddr); err != nil {
			m.ln.Close()
			return fmt.Errorf("listen for metrics on %s: %w", m.Config.MetricsAddr, err)
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", m.srv.MetricsHandler())
		m.metrics = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
			WriteTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute}
		go func() {
			if err := m.metrics.Serve(m.metricsLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
				m.log.Error("metrics listener stopped", "err", err)
			}
		}()
	}
	m.done = make(chan error, 1)
	go func() { m.done <- m.srv.Serve(m.ln) }()
	mctx, stopMaintenance := context.WithCancel(context.WithoutCancel(ctx))
	m.stopMaintenance = stopMaintenance
	go m.srv.RunMaintenance(mctx, time.Hour)
	go m.srv.RunSLALoop(mctx, 5*time.Minute)
	go m.srv.RunNotifyLoop(mctx, 5*time.Second)

	m.log.Info("ready", "addr", m.ln.Addr().String(), "storage", m.Config.Storage, "photos", m.Config.Photos,
		"data_dir", m.Config.DataDir, "startup_ms", time.Since(start).Milliseconds())
	m.printBanner(password, created)
	close(m.ready)
	return nil
}

func (m *Main) openStorage(ctx context.Context) error {
	switch m.Config.Storage {
	case "bolt":
		if err := os.MkdirAll(m.Config.DataDir, 0o700); err != nil {
			return fmt.Errorf("data dir: %w", err)
		}
		db, err := bolt.Open(ctx, bolt.Config{Path: filepath.Join(m.Config.DataDir, "pairsync.db")})
		if err != nil {
			return err
		}
		m.store = db
	case "mongo":
		cfg := m.Config.Mongo
		cfg.Logger = m.log
		db, err := mongo.Open(ctx, cfg)
		if err != nil {
			return fmt.Errorf("storage: %w", err)
		}
		m.store = db
	default:
		return fmt.Errorf("storage %q is unknown; use bolt or mongo", m.Config.Storage)
	}
	switch m.Config.Photos {
	case "files":
		p, err := files.Open(filepath.Join(m.Config.DataDir, "photos"))
		if err != nil {
			return err
		}
		m.photos = p
	case "minio":
		p, err := minio.Open(ctx, m.Config.MinIO)
		if err != nil {
			return fmt.Errorf("photo store: %w", err)
		}
		m.photos = p
	default:
		return fmt.Errorf("photo store %q is unknown; use files or minio", m.Config.Photos)
	}
	return nil
}

// rootUnitName is the name the root org unit gets on first start; an
// administrator renames it (PATCH /v1/org-units/:id).
const rootUnitName = "机关工委"

type bootstrapStore interface {
	storage.Users
	storage.OrgUnits
}

// RotateKey makes a new active token-signing key in the configured store
// and prints its kid. Running servers (replicas on MongoDB) sign and verify
// with it within seconds (server/auth: refreshEvery); tokens of the old key
// verify until they expire. With the embedded store the server holds the
// file: stop it first, or rotate through POST /v1/auth/keys/rotate.
func (m *Main) RotateKey(ctx context.Context) error {
	m.log = slog.New(slog.NewJSONHandler(m.Stderr, nil)).With("component", "pairsyncd")
	defer m.Close()
	if err := m.openStorage(ctx); err != nil {
		if errors.Is(err, bolt.ErrLocked) {
			return fmt.Errorf("%w\n(a running pairsyncd holds the data directory: stop it, or rotate with POST /v1/auth/keys/rotate as an administrator of the root unit)", err)
		}
		return err
	}
	kid, err := auth.Rotate(ctx, m.store, time.Now())
	if err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "New signing key %s is active; tokens signed by the previous key stay valid until they expire (%s).\n", kid, auth.AccessTTL)
	return nil
}

// bootstrapAdmin creates, when the store has no user, the root org unit and
// the first administrator in it, user name "admin". It returns the password
// to show (a generated one; empty when the operator supplied it) and whether
// an account was created.
func bootstrapAdmin(ctx context.Context, store bootstrapStore, password string) (shown string, created bool, err error) {
	n, err := store.CountUsers(ctx)
	if err != nil {
		return "", false, fmt.Errorf("count users: %w", err)
	}
	if n > 0 {
		return "", false, nil
	}
	if password == "" {
		password = generatePassword()
		shown = password
	} else if err := auth.CheckPassword(password); err != nil {
		return "", false, fmt.Errorf("PAIRSYNC_ADMIN_PASSWORD: %w", err)
	}
	phc, err := auth.NewHasher(auth.DefaultParams, 1).Hash(ctx, password)
	if err != nil {
		return "", false, err
	}
	now := time.Now().UTC()
	root, err := rootUnit(ctx, store, now)
	if err != nil {
		return "", false, err
	}
	_, err = store.CreateUser(ctx, storage.User{
		ID: uuid.Must(uuid.NewV7()).String(), Username: "admin", Name: "系统管理员", Role: "admin",
		// Printed or configured, the password is not the person's own: the
		// console prompts them to change it until they do.
		OrgUnit: root.ID, PasswordHash: phc, MustChangePassword: true, CreatedAt: now, UpdatedAt: now,
	})
	if errors.Is(err, storage.ErrExists) {
		return "", false, nil // another process created it first
	}
	if err != nil {
		return "", false, fmt.Errorf("create administrator: %w", err)
	}
	return shown, true, nil
}

// rootUnit returns the first root org unit, creating one when the tree is
// empty.
func rootUnit(ctx context.Context, store storage.OrgUnits, now time.Time) (storage.OrgUnit, error) {
	units, err := store.OrgUnits(ctx, "")
	if err != nil {
		return storage.OrgUnit{}, fmt.Errorf("org units: %w", err)
	}
	for _, u := range units {
		if u.ParentID == "" {
			return u, nil
		}
	}
	u, err := store.CreateOrgUnit(ctx, storage.OrgUnit{ID: uuid.Must(uuid.NewV7()).String(), Name: rootUnitName, Kind: "committee", CreatedAt: now, UpdatedAt: now})
	if err != nil {
		return storage.OrgUnit{}, fmt.Errorf("create root org unit: %w", err)
	}
	return u, nil
}

// generatePassword returns 26 random base32 characters (128 bits).
func generatePassword() string { return rand.Text() }

func (m *Main) printBanner(password string, created bool) {
	var b strings.Builder
	fmt.Fprintf(&b, "Pairsync is running. Open %s\n", m.URL())
	switch {
	case created && password != "":
		fmt.Fprintf(&b, "First start: an administrator was created.\n  user name: admin\n  password:  %s\n", password)
		b.WriteString("  (shown only this once and stored only as a hash: note it now, change it after signing in)\n")
		fmt.Fprintf(&b, "  Change it after signing in: %s/console/account (账号 · 修改密码), or 我的 in the field app.\n", m.URL())
	case created:
		b.WriteString("First start: an administrator was created. Sign in as admin with the password from PAIRSYNC_ADMIN_PASSWORD.\n")
		fmt.Fprintf(&b, "  Change it after signing in: %s/console/account (账号 · 修改密码), or 我的 in the field app.\n", m.URL())
	default:
		b.WriteString("Sign in with your account (the first administrator is admin).\n")
	}
	fmt.Fprintf(&b, "Sign in at %s/ (the field app) or %s/console (administrators), or POST %s/v1/auth/login\n", m.URL(), m.URL(), m.URL())
	fmt.Fprintf(&b, "API description: %s/v1/openapi.json · stop with Ctrl-C\n", m.URL())
	_, _ = io.WriteString(m.Stdout, b.String())
}

// Addr is the address the server listens on (useful with port 0).
func (m *Main) Addr() string {
	if m.ln == nil {
		return ""
	}
	return m.ln.Addr().String()
}

// URL is the base URL to open.
func (m *Main) URL() string { return "http://" + m.Addr() }

// MetricsURL is the base URL of the metrics listener ("" when there is none).
func (m *Main) MetricsURL() string {
	if m.metricsLn == nil {
		return ""
	}
	return "http://" + m.metricsLn.Addr().String()
}

// Ready is closed once Run has started serving.
func (m *Main) Ready() <-chan struct{} { return m.ready }

// Done delivers the error Serve returned, when serving stops.
func (m *Main) Done() <-chan error { return m.done }

// Shutdown stops the server gracefully (see serveUntilSignal) and closes
// storage. It is bounded by DrainDelay + ShutdownTimeout.
func (m *Main) Shutdown(ctx context.Context) error {
	if m.stopMaintenance != nil {
		m.stopMaintenance()
	}
	if m.srv != nil {
		m.srv.SetDraining()
		m.log.Info("shutting down", "drain_delay", m.Config.DrainDelay.String())
		select {
		case <-time.After(m.Config.DrainDelay):
		case <-ctx.Done():
		}
		sctx, cancel := context.WithTimeout(ctx, m.Config.ShutdownTimeout)
		defer cancel()
		if err := m.srv.Shutdown(sctx); err != nil {
			m.log.Warn("in-flight requests cut off", "err", err)
		}
	}
	return m.Close()
}

// Close closes storage without waiting for requests; safe to call twice.
func (m *Main) Close() error {
	m.closeOnce.Do(func() {
		if m.stopMaintenance != nil {
			m.stopMaintenance()
		}
		var errs []error
		if m.metrics != nil {
			_ = m.metrics.Close()
		}
		if m.srv != nil && !m.srv.Draining() {
			// Not shut down gracefully: stop accepting and cut connections.
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			_ = m.srv.Shutdown(ctx)
		}
		if m.store != nil {
			errs = append(errs, m.store.Close())
		}
		m.closeErr = errors.Join(errs...)
		if m.log != nil {
			m.log.Info("stopped")
		}
	})
	return m.closeErr
}
