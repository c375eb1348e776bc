package server

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/compress"
	"github.com/gofiber/fiber/v2/middleware/recover"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/pairsync/pairsync/server/auth"
	"github.com/pairsync/pairsync/server/imaging"
	"github.com/pairsync/pairsync/server/notify"
	"github.com/pairsync/pairsync/server/pairing"
	"github.com/pairsync/pairsync/server/readmodel"
	"github.com/pairsync/pairsync/storage"
	"github.com/pairsync/pairsync/syncproto"
)

// Config is the HTTP service's configuration. Zero values mean the defaults
// documented on each field.
type Config struct {
	// ReadTimeout bounds reading a whole request, headers and body (default
	// 30s). Fiber's default of 0 lets a slow-loris connection stay forever.
	ReadTimeout time.Duration
	// WriteTimeout bounds writing a response (default 60s).
	WriteTimeout time.Duration
	// IdleTimeout closes idle keep-alive connections (default 120s).
	IdleTimeout time.Duration
	// RequestTimeout is the deadline a handler's context carries (default
	// 20s); storage calls that pass it get 503 + Retry-After.
	RequestTimeout time.Duration
	// BodyLimit caps request bodies on JSON routes (default 1 MiB).
	BodyLimit int
	// TrustedProxies lists the proxies (IPs or CIDRs) whose
	// X-Forwarded-For is believed; empty means the peer address is the
	// client address.
	TrustedProxies []string
	// Version is reported by /healthz and the OpenAPI description.
	Version string
	// PublicURL is the base URL people reach the server at (activation
	// links); empty allows links only for requests to a loopback host
	// (users.go, activationBase).
	PublicURL string
	// TombstoneHorizon is how long deleted records are kept before they
	// are purged (default 180 days); devices that have not synced for
	// longer read their pairings again (resync_required).
	TombstoneHorizon time.Duration
	// PhotoMaxBytes is the largest photo accepted (default 8 MiB);
	// PhotoMaxLongEdge its largest width or height in pixels (default 4096).
	PhotoMaxBytes    int64
	PhotoMaxLongEdge int
	// PhotoGCGrace is how long a stored photo no record cites is kept
	// (default 7 days): phones upload photos after the records citing them.
	PhotoGCGrace time.Duration
	// MaxInFlight bounds the API requests served at once (default 256);
	// past it a request waits up to QueueWait (default 100ms) for a slot,
	// then gets 503 with Retry-After, so overload sheds work instead of
	// slowing every request down. Health, readiness and metrics are exempt.
	MaxInFlight int
	QueueWait   time.Duration
	// SignInMaxInFlight bounds the sign-ins (routes that hash a password:
	// login, activation, password change) served at once, in a pool of
	// their own apart from MaxInFlight (default 4 × Deps.HashesInFlight:
	// the hashes running and a short queue); past it a sign-in waits up to
	// QueueWait, then gets 503 with Retry-After.
	SignInMaxInFlight int
	// MaxDevicesPerUser bounds the live (not revoked) devices of one user
	// (default 10): a stolen password cannot enrol phones without end.
	MaxDevicesPerUser int
	// NotifyWebhook is the webhook channel of notifications;
	// an empty URL turns it off (server/notifications.go).
	NotifyWebhook notify.Webhook
	// NotifySMS, NotifyWeCom and NotifyDingTalk are the SMS gateway and the
	// 企业微信 and 钉钉 robots; an empty URL turns each off
	// (server/notify/channels_*.go).
	NotifySMS      notify.SMS
	NotifyWeCom    notify.WeCom
	NotifyDingTalk notify.DingTalk
	// InAppMessages turns on the in-app messages (GET /v1/me/messages);
	// pairsyncd turns them on unless told otherwise.
	InAppMessages bool
	// NotifyPacing holds SMS and robot notifications back in quiet hours
	// and past the per-hour and per-robot limits (nil: 22:00–07:00
	// Shanghai, 6 an hour, 20 a minute per robot).
	NotifyPacing *notify.Pacing
	// NotifyLease is how long a sender holds the notifications it claimed
	// (0: notify.DefaultLease, 5 minutes); after a crash, what it held is
	// sent again once the lease passes.
	NotifyLease time.Duration
	// NotifyHolder names this process's sender in its claims; stable
	// across restarts (a host name and address), it lets a restarted
	// process release at start what it held when it crashed. Empty: the
	// process's fresh replica id (nothing to release after a crash: its
	// claims wait out their lease).
	NotifyHolder string
	// NotifyUnitRobots turns the 企业微信 and 钉钉 channels on for the org
	// units' own robots (set in the console) even without a global robot
	// (NotifyWeCom, NotifyDingTalk): a notification of a unit with none
	// up its tree then fails at once, its reason no_robot.
	NotifyUnitRobots bool
}

func (c *Config) setDefaults() {
	if c.ReadTimeout <= 0 {
		c.ReadTimeout = 30 * time.Second
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = 60 * time.Second
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = 120 * time.Second
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = 20 * time.Second
	}
	if c.BodyLimit <= 0 {
		c.BodyLimit = 1 << 20
	}
	if c.Version == "" {
		c.Version = "dev"
	}
	if c.TombstoneHorizon <= 0 {
		c.TombstoneHorizon = 180 * 24 * time.Hour
	}
	if c.PhotoMaxBytes <= 0 {
		c.PhotoMaxBytes = imaging.DefaultPolicy.MaxBytes
	}
	if c.PhotoMaxLongEdge <= 0 {
		c.PhotoMaxLongEdge = imaging.DefaultPolicy.MaxLongEdge
	}
	if c.MaxInFlight <= 0 {
		c.MaxInFlight = 256
	}
	if c.QueueWait <= 0 {
		c.QueueWait = 100 * time.Millisecond
	}
	if c.MaxDevicesPerUser <= 0 {
		c.MaxDevicesPerUser = 10
	}
	if c.PhotoGCGrace <= 0 {
		c.PhotoGCGrace = 7 * 24 * time.Hour
	}
}

// Deps are the things a Server uses but does not own; the caller opens and
// closes them.
type Deps struct {
	Store  storage.Store
	Photos storage.Photos
	Logger *slog.Logger
	// Registry receives the server's metrics and is served at /metrics; nil
	// makes a fresh one.
	Registry *prometheus.Registry
	// Keys is the token-signing key set; nil loads it from Store (creating
	// the first key).
	Keys *auth.KeySet
	// Now is the clock (tests move it); nil means time.Now.
	Now func() time.Time
	// PasswordParams are argon2id's parameters; zero means
	// auth.DefaultParams. Only tests lower them, to run faster.
	PasswordParams auth.Params
	// HashesInFlight bounds concurrent password hashes (each holds the
	// argon2 memory); zero means 4.
	HashesInFlight int
	// ProtocolOnly is for the sync protocol's own tests: pushes are checked
	// for identity, scope and the protocol, not for the domain's rules
	// (pairing.CheckWrite), so those tests can push free-form records.
	// pairsyncd never sets it.
	ProtocolOnly bool
	// Web holds the built web app (mobile/web's Dist), served at / and its
	// own paths; nil, or only the placeholder, serves a page saying how to
	// build it.
	Web fs.FS
}

// Token issuer and audience.
const (
	tokenIssuer   = "pairsync"
	tokenAudience = "pairsync-api"
)

// Server is the HTTP service. Build it with New.
type Server struct {
	cfg      Config
	store    storage.Store
	photos   storage.Photos
	log      *slog.Logger
	registry *prometheus.Registry
	metrics  *metrics
	app      *fiber.App
	routes   []route
	draining atomic.Bool

	conns  *conns
	dir    *pairing.Directory
	writer *serverWriter
	codes  *codeKey
	// rules is false only with Deps.ProtocolOnly.
	rules bool
	// ledger keeps every pairing's records as summaries and their KPIs.
	ledger *readmodel.Ledger
	// sla is the org tree's SLA days for the issue rules (pairing.SLA).
	sla *pairing.SLA
	// largeBodies maps "METHOD /path" to the body limit of the routes that
	// take more than Config.BodyLimit (set by register, read-only after).
	largeBodies map[string]int
	// photoPolicy is what photos must be; thumbnailer makes thumbnails, a
	// few at a time.
	photoPolicy imaging.Policy
	thumbnailer *imaging.Thumbnailer
	// slots holds one token per API request being served (Config.MaxInFlight);
	// signInSlots one per sign-in (Config.SignInMaxInFlight), the routes
	// listed in signInRoutes ("METHOD /path", set by register).
	slots        chan struct{}
	signInSlots  chan struct{}
	signInRoutes map[string]bool
	// presignPut is how long a signed part URL lives (tests shorten it).
	presignPut time.Duration
	// pairingLocks and deviceLocks serialize, within this process, the
	// commits of one pairing and the pushes of one device.
	pairingLocks *stripedLocks
	deviceLocks  *stripedLocks
	syncLimits   syncproto.Limits
	// pullLimits admit a cursor naming every pairing of a province
	// (thousands of keys; the body limit still bounds it).
	pullLimits syncproto.Limits
	keys       *auth.KeySet
	tokens     *auth.Tokens
	hasher     *auth.Hasher
	throttle   *auth.Throttle
	now        func() time.Time
	web        *webApp
	// seen keeps devices' sightings (LastSeen) until they are written,
	// with toucher when the store can write many at once.
	seen    sightings
	toucher deviceToucher
	// live caches whether sign-ins are live (liveness.go).
	live *liveness
	// probes bounds the refused-probe audit entries per client
	// (auditlimit.go).
	probes probeLimiter
	// notify plans notifications in every commit and sends them.
	notify notifier
	// stopLoops ends what Serve started beside the listener (flushLoop).
	stopLoops     chan struct{}
	stopLoopsOnce sync.Once
	digest        digests
	// photoGC lets one photo collection run at a time in this process
	// (the maintenance lease keeps other processes out: photogc.go);
	// maintenanceTTL is the lease's length while RunMaintenance runs here.
	photoGC        sync.Mutex
	maintenanceTTL atomic.Int64
}

// New builds a Server with every route registered.
func New(cfg Config, deps Deps) (*Server, error) {
	cfg.setDefaults()
	if deps.Store == nil || deps.Photos == nil {
		return nil, errors.New("server: Store and Photos are required")
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	if deps.Registry == nil {
		deps.Registry = prometheus.NewRegistry()
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	if deps.PasswordParams == (auth.Params{}) {
		deps.PasswordParams = auth.DefaultParams
	}
	if deps.HashesInFlight <= 0 {
		deps.HashesInFlight = 4
	}
	if deps.Keys == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		keys, err := auth.LoadKeySet(ctx, deps.Store, auth.AccessTTL+auth.Leeway, deps.Now)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("server: %w", err)
		}
		deps.Keys = keys
	}
	m, err := newMetrics(deps.Registry)
	if err != nil {
		return nil, fmt.Errorf("server: metrics: %w", err)
	}
	live := &liveness{}
	s := &Server{
		cfg:          cfg,
		store:        forgettingStore{Store: instrumentStore(deps.Store, m), live: live},
		live:         live,
		photos:       deps.Photos,
		web:          newWebApp(deps.Web, pagePolicy(photoOrigin(deps.Photos))),
		log:          deps.Logger.With("component", "server"),
		registry:     deps.Registry,
		metrics:      m,
		keys:         deps.Keys,
		tokens:       auth.NewTokens(deps.Keys, tokenIssuer, tokenAudience, deps.Now),
		hasher:       auth.NewHasher(deps.PasswordParams, deps.HashesInFlight),
		now:          deps.Now,
		conns:        newConns(),
		writer:       newServerWriter(),
		codes:        &codeKey{},
		rules:        !deps.ProtocolOnly,
		pairingLocks: newStripedLocks(),
		deviceLocks:  newStripedLocks(),
		syncLimits:   syncproto.DefaultLimits(),
	}
	s.throttle = auth.NewThrottle(s.store, throttleWindow, deps.Now)
	s.toucher, _ = deps.Store.(deviceToucher)
	s.seen.every, s.seen.flushed, s.seen.flushedAt = lastSeenFlushEvery, deps.Now(), time.Now()
	s.stopLoops = make(chan struct{})
	s.syncLimits.MaxBytes = cfg.BodyLimit
	s.pullLimits = s.syncLimits
	s.pullLimits.MaxKeys = 100_000
	s.photoPolicy = imaging.DefaultPolicy
	s.photoPolicy.MaxBytes, s.photoPolicy.MaxLongEdge = cfg.PhotoMaxBytes, cfg.PhotoMaxLongEdge
	s.thumbnailer = imaging.NewThumbnailer(s.photoPolicy, 2)
	s.presignPut = presignPutExpiry
	s.slots = make(chan struct{}, cfg.MaxInFlight)
	if cfg.SignInMaxInFlight <= 0 {
		cfg.SignInMaxInFlight = 4 * deps.HashesInFlight
		s.cfg.SignInMaxInFlight = cfg.SignInMaxInFlight
	}
	s.signInSlots = make(chan struct{}, cfg.SignInMaxInFlight)
	s.dir = pairing.NewDirectory(s.store, s.orgPath)
	s.sla = &pairing.SLA{Units: func(ctx context.Context) ([]storage.OrgUnit, error) { return s.store.OrgUnits(ctx, "") }, Version: s.store.OrgUnitsVersion,
		OnError: func(err error) { s.log.Warn("org units for the issue rules", "err", err) }}
	s.ledger = readmodel.NewLedger(s.store, s.dir, s.sla.IssueRules)
	if err := s.setupNotifications(); err != nil {
		return nil, fmt.Errorf("server: notifications: %w", err)
	}
	s.app = fiber.New(fiber.Config{
		AppName:                 "pairsyncd",
		ReadTimeout:             cfg.ReadTimeout,
		WriteTimeout:            cfg.WriteTimeout,
		IdleTimeout:             cfg.IdleTimeout,
		BodyLimit:               cfg.BodyLimit,
		ErrorHandler:            s.handleError,
		DisableStartupMessage:   true,
		EnableTrustedProxyCheck: true,
		TrustedProxies:          cfg.TrustedProxies,
		ProxyHeader:             proxyHeader(cfg.TrustedProxies),
		JSONEncoder:             marshalJSON,
		// Room for an over-long Authorization header to reach the auth
		// check (401) instead of failing the read (431).
		ReadBufferSize: 16 << 10,
	})
	s.app.Server().ConnState = s.conns.hook
	s.app.Server().HeaderReceived = s.headerReceived
	s.app.Use(
		recover.New(recover.Config{EnableStackTrace: true, StackTraceHandler: s.logPanic}),
		s.requestID,
		secureHeaders,
		s.accessLog,
		s.admit,
		compress.New(compress.Config{Level: compress.LevelDefault}),
	)
	s.routes = s.routeTable()
	s.register(s.routes)
	return s, nil
}

func proxyHeader(trusted []string) string {
	if len(trusted) == 0 {
		return ""
	}
	return fiber.HeaderXForwardedFor
}

// App returns the Fiber app, for tests that drive it with App().Test.
func (s *Server) App() *fiber.App { return s.app }

// Serve answers requests on ln until Shutdown; it returns nil after a clean
// shutdown.
// While it serves, the devices' sightings kept in memory are written every
// few seconds (lastseen.go), so other replicas see them.
func (s *Server) Serve(ln net.Listener) error {
	if s.toucher != nil {
		go s.flushLoop(s.stopLoops)
	}
	return s.app.Listener(countingListener{ln})
}

// Shutdown drains the server: readiness answers 503 at once, new requests on
// open connections are refused, in-flight requests run to completion, and
// Shutdown returns when they have or when ctx ends (then in-flight requests
// are cut off and their answers are lost, never half-written).
func (s *Server) Shutdown(ctx context.Context) error {
	s.draining.Store(true)
	done := make(chan error, 1)
	go func() { done <- s.app.ShutdownWithContext(ctx) }()
	// The listener is closing; close the connections that carry no request
	// now and as they go idle, so only in-flight requests are waited for.
	s.conns.closeQuiet()
	err := <-done
	s.stopLoopsOnce.Do(func() { close(s.stopLoops) })
	// Devices' sightings kept in memory, written even when ctx has ended.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	s.flushSightings(fctx)
	if err != nil {
		return fmt.Errorf("server: shutdown: %w", err)
	}
	return nil
}

// receiptsKept bounds, by counters below its newest, the receipts kept of
// a device whose receipts predate Receipt.Acked. Every receipt written now
// carries the lowest counter of its push, and a device's receipts below the
// highest of those are pruned: the device sends its outbox in counter order
// from the oldest entry and drops an entry only with its answer, so it will
// never send a change below that counter again. What stays is about one
// push (≤ 500 answers) per device, and a retried push, however far apart its
// counters, is still answered from its receipts.
const receiptsKept = 10_000

// RunMaintenance runs the background work until ctx ends: every interval,
// it purges tombstones older than the horizon and prunes old push receipts.
// Errors are logged and retried at the next tick.
func (s *Server) RunMaintenance(ctx context.Context, interval time.Duration) {
	// Not while the ledger loads (RunSLALoop): photo collection needs it,
	// and the start-up should read every feed once, not twice at a time.
	for wait := time.Duration(0); !s.ledger.Loaded() && wait < interval; wait += time.Second {
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	s.maintenanceTTL.Store(int64(2 * interval))
	defer s.maintenanceTTL.Store(0)
	for first := true; ; first = false {
		if !s.leads(ctx, maintenanceLease, 2*interval) {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				continue
			}
		}
		// The one-time migrations first: a no-op (one read) once run.
		if _, err := s.MigratePhotoGrants(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("photo grants migration failed", "err", err)
		}
		n, err := s.SweepTombstones(ctx, s.now().Add(-s.cfg.TombstoneHorizon))
		switch {
		case err != nil && ctx.Err() == nil:
			s.log.Warn("tombstone sweep failed", "err", err)
		case n > 0:
			s.log.Info("tombstones purged", "records", n)
		}
		if rep, err := s.CollectPhotos(ctx, false); err != nil && ctx.Err() == nil {
			s.log.Warn("photo collection failed", "err", err)
		} else if len(rep.Orphan) > 0 || rep.Uploads > 0 {
			s.log.Info("photos collected", "photos", len(rep.Orphan), "bytes", rep.Bytes, "abandoned_uploads", rep.Uploads)
		}
		if n, err := s.throttle.Prune(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("throttle pruning failed", "err", err)
		} else if n > 0 {
			s.log.Info("ended throttle windows pruned", "counters", n)
		}
		if n, err := s.store.PruneReceipts(ctx, receiptsKept); err != nil && ctx.Err() == nil {
			s.log.Warn("receipt pruning failed", "err", err)
		} else if n > 0 {
			s.log.Info("push receipts pruned", "receipts", n)
		}
		if first {
			// The start-up work (this pass reads every feed, after the
			// ledger's load) leaves garbage the size of the store's
			// records: give it back now rather than over GC cycles.
			debug.FreeOSMemory()
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Draining reports whether Shutdown has begun.
func (s *Server) Draining() bool { return s.draining.Load() }

// SetDraining flips readiness to 503 without stopping the listener, so a
// load balancer stops sending traffic before Shutdown.
func (s *Server) SetDraining() { s.draining.Store(true) }

func (s *Server) logPanic(c *fiber.Ctx, e any) {
	s.log.Error("panic", "request_id", requestID(c), "method", c.Method(), "path", c.Path(), "panic", fmt.Sprint(e))
}
