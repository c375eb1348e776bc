package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/pairsync/pairsync/server"
	"github.com/pairsync/pairsync/storage/minio"
	"github.com/pairsync/pairsync/storage/mongo"
)

// Config is pairsyncd's configuration. Each setting comes from a flag, else
// from its PAIRSYNC_* environment variable, else from the default shown in
// the flag's help (and in README.md, which a test keeps in step).
type Config struct {
	Addr    string // PAIRSYNC_ADDR
	DataDir string // PAIRSYNC_DATA_DIR
	// AdminPassword is the first administrator's password, used only when
	// the store has no user yet. From PAIRSYNC_ADMIN_PASSWORD or the file
	// named by -admin-password-file; there is deliberately no flag holding
	// the password itself (flags show in ps).
	AdminPassword string
	Storage       string // bolt | mongo
	Photos        string // files | minio
	LogLevel      string // debug | info | warn | error
	// DrainDelay is how long readiness answers 503 before the listener
	// closes on SIGTERM, so load balancers stop sending traffic first.
	DrainDelay time.Duration
	// ShutdownTimeout bounds the wait for in-flight requests after the
	// listener closes; with DrainDelay it must stay under 15s.
	ShutdownTimeout time.Duration
	// MetricsAddr is where /metrics is served, on a listener of its own;
	// empty serves no metrics. Never the public listener: metrics tell
	// routes and timings to anyone who asks.
	MetricsAddr string
	Server      server.Config
	// MinIO locates the photo bucket when Photos is minio. The keys come
	// from PAIRSYNC_MINIO_ACCESS_KEY / PAIRSYNC_MINIO_SECRET_KEY or the
	// files the -minio-*-key-file flags name (never flags holding them).
	MinIO minio.Config
	// Mongo locates the database when Storage is mongo.
	Mongo mongo.Config
}

// setting is one configuration knob: its flag, environment variable,
// default and help. The table drives flag parsing, the environment, and the
// README check.
type setting struct {
	flag, env, def, help string
	set                  func(c *Config, v string) error
}

func settings() []setting {
	str := func(p func(*Config) *string) func(*Config, string) error {
		return func(c *Config, v string) error { *p(c) = v; return nil }
	}
	dur := func(p func(*Config) *time.Duration) func(*Config, string) error {
		return func(c *Config, v string) error {
			d, err := time.ParseDuration(v)
			if err != nil || d < 0 {
				return fmt.Errorf("want a duration like 30s, got %q", v)
			}
			*p(c) = d
			return nil
		}
	}
	return append([]setting{
		{"addr", "PAIRSYNC_ADDR", "127.0.0.1:8080", "address to listen on (host:port)", str(func(c *Config) *string { return &c.Addr })},
		{"metrics-addr", "PAIRSYNC_METRICS_ADDR", "", "address of a separate listener serving /metrics (Prometheus), kept to the private network; empty serves no metrics", str(func(c *Config) *string { return &c.MetricsAddr })},
		{"data-dir", "PAIRSYNC_DATA_DIR", "./data", "directory of the embedded store: pairsync.db (bolt) and photos/", str(func(c *Config) *string { return &c.DataDir })},
		{"storage", "PAIRSYNC_STORAGE", "bolt", "record store: bolt (embedded) or mongo", oneOf(func(c *Config) *string { return &c.Storage }, "bolt", "mongo")},
		{"photos", "PAIRSYNC_PHOTOS", "files", "photo store: files (under the data dir) or minio", oneOf(func(c *Config) *string { return &c.Photos }, "files", "minio")},
		{"admin-password-file", "PAIRSYNC_ADMIN_PASSWORD_FILE", "", "file holding the first administrator's password (else PAIRSYNC_ADMIN_PASSWORD, else one is generated and printed once)", func(c *Config, v string) error {
			if v == "" {
				return nil
			}
			b, err := os.ReadFile(v)
			if err != nil {
				return err
			}
			c.AdminPassword = strings.TrimRight(string(b), "\r\n")
			return nil
		}},
		{"public-url", "PAIRSYNC_PUBLIC_URL", "", "base URL people reach the server at, for activation links; unset, links are made only for requests to a loopback address", str(func(c *Config) *string { return &c.Server.PublicURL })},
		{"tombstone-horizon", "PAIRSYNC_TOMBSTONE_HORIZON", "4320h", "deleted records are purged after this long (180 days); devices offline longer read their pairings again", dur(func(c *Config) *time.Duration { return &c.Server.TombstoneHorizon })},
		{"log-level", "PAIRSYNC_LOG_LEVEL", "info", "log level: debug, info, warn or error (logs are JSON on stderr)", oneOf(func(c *Config) *string { return &c.LogLevel }, "debug", "info", "warn", "error")},
		{"drain-delay", "PAIRSYNC_DRAIN_DELAY", "0s", "on SIGTERM, answer /readyz with 503 this long before closing the listener", dur(func(c *Config) *time.Duration { return &c.DrainDelay })},
		{"shutdown-timeout", "PAIRSYNC_SHUTDOWN_TIMEOUT", "10s", "on SIGTERM, wait this long for in-flight requests", dur(func(c *Config) *time.Duration { return &c.ShutdownTimeout })},
		{"read-timeout", "PAIRSYNC_READ_TIMEOUT", "30s", "limit for reading a whole request", dur(func(c *Config) *time.Duration { return &c.Server.ReadTimeout })},
		{"write-timeout", "PAIRSYNC_WRITE_TIMEOUT", "60s", "limit for writing a response", dur(func(c *Config) *time.Duration { return &c.Server.WriteTimeout })},
		{"idle-timeout", "PAIRSYNC_IDLE_TIMEOUT", "120s", "idle keep-alive connections are closed after this", dur(func(c *Config) *time.Duration { return &c.Server.IdleTimeout })},
		{"request-timeout", "PAIRSYNC_REQUEST_TIMEOUT", "20s", "deadline of a request's work (storage calls past it get 503)", dur(func(c *Config) *time.Duration { return &c.Server.RequestTimeout })},
		{"body-limit", "PAIRSYNC_BODY_LIMIT", "1048576", "largest JSON request body in bytes", func(c *Config, v string) error {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1024 || n > 64<<20 {
				return fmt.Errorf("want bytes between 1024 and 67108864, got %q", v)
			}
			c.Server.BodyLimit = n
			return nil
		}},
		{"mongodb-uri-file", "PAIRSYNC_MONGODB_URI_FILE", "", "file holding the MongoDB connection string (else PAIRSYNC_MONGODB_URI, environment only: it may carry credentials)", secretFile(func(c *Config) *string { return &c.Mongo.URI })},
		{"mongodb-database", "PAIRSYNC_MONGODB_DATABASE", "pairsync", "MongoDB database of Pairsync's collections (with -storage=mongo)", str(func(c *Config) *string { return &c.Mongo.Database })},
		// Two seconds, not the adapters' own defaults (5 s, 10 s): SECURITY.md
		// wants a 503 with Retry-After within 3 s when a dependency is down or
		// slow, and TestDependenciesDown checks these defaults.
		{"mongodb-timeout", "PAIRSYNC_MONGODB_TIMEOUT", "2s", "bound on each MongoDB operation; past it the request gets 503 with Retry-After", dur(func(c *Config) *time.Duration { return &c.Mongo.Timeout })},
		{"minio-timeout", "PAIRSYNC_MINIO_TIMEOUT", "2s", "bound on a MinIO call that gets no answer or moves no byte; past it the request gets 503 with Retry-After", dur(func(c *Config) *time.Duration { return &c.MinIO.OpTimeout })},
		{"photo-max-bytes", "PAIRSYNC_PHOTO_MAX_BYTES", "8388608", "largest photo accepted, in bytes (8 MiB); larger uploads get 413 with the limit", func(c *Config, v string) error {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 64<<10 || n > 64<<20 {
				return fmt.Errorf("want bytes between 65536 and 67108864, got %q", v)
			}
			c.Server.PhotoMaxBytes = n
			return nil
		}},
		{"photo-max-long-edge", "PAIRSYNC_PHOTO_MAX_LONG_EDGE", "4096", "largest width or height of a photo, in pixels", func(c *Config, v string) error {
			n, err := strconv.Atoi(v)
			if err != nil || n < 320 || n > 20000 {
				return fmt.Errorf("want pixels between 320 and 20000, got %q", v)
			}
			c.Server.PhotoMaxLongEdge = n
			return nil
		}},
		{"photo-gc-grace", "PAIRSYNC_PHOTO_GC_GRACE", "168h", "stored photos no record cites are removed after this long (7 days)", dur(func(c *Config) *time.Duration { return &c.Server.PhotoGCGrace })},
		{"minio-endpoint", "PAIRSYNC_MINIO_ENDPOINT", "", "MinIO host:port the server reaches (with -photos=minio)", str(func(c *Config) *string { return &c.MinIO.Endpoint })},
		{"minio-public-endpoint", "PAIRSYNC_MINIO_PUBLIC_ENDPOINT", "", "MinIO address phones reach, when it differs (signed URLs name it): host:port or https://host", str(func(c *Config) *string { return &c.MinIO.PublicEndpoint })},
		{"minio-bucket", "PAIRSYNC_MINIO_BUCKET", "pairsync-photos", "bucket of the photos (created when missing; private)", str(func(c *Config) *string { return &c.MinIO.Bucket })},
		{"minio-region", "PAIRSYNC_MINIO_REGION", "us-east-1", "region the bucket signs for (set, so signing needs no network)", str(func(c *Config) *string { return &c.MinIO.Region })},
		{"minio-secure", "PAIRSYNC_MINIO_SECURE", "false", "use https to MinIO", func(c *Config, v string) error {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return fmt.Errorf("want true or false, got %q", v)
			}
			c.MinIO.Secure = b
			return nil
		}},
		{"minio-access-key-file", "PAIRSYNC_MINIO_ACCESS_KEY_FILE", "", "file holding the MinIO access key (else PAIRSYNC_MINIO_ACCESS_KEY)", secretFile(func(c *Config) *string { return &c.MinIO.AccessKey })},
		{"minio-secret-key-file", "PAIRSYNC_MINIO_SECRET_KEY_FILE", "", "file holding the MinIO secret key (else PAIRSYNC_MINIO_SECRET_KEY)", secretFile(func(c *Config) *string { return &c.MinIO.SecretKey })},
		{"notify-webhook-url", "PAIRSYNC_NOTIFY_WEBHOOK_URL", "", "URL that receives one signed JSON POST per notification (empty: no webhook)", func(c *Config, v string) error {
			if v != "" && !strings.HasPrefix(v, "https://") && !strings.HasPrefix(v, "http://") {
				return fmt.Errorf("want an http(s) URL, got %q", v)
			}
			c.Server.NotifyWebhook.URL = v
			return nil
		}},
		{"notify-webhook-secret-file", "PAIRSYNC_NOTIFY_WEBHOOK_SECRET_FILE", "", "file holding the key of the webhook's HMAC-SHA256 signature (else PAIRSYNC_NOTIFY_WEBHOOK_SECRET, environment only)", func(c *Config, v string) error {
			var secret string
			if err := secretFile(func(*Config) *string { return &secret })(c, v); err != nil {
				return err
			}
			if secret != "" {
				c.Server.NotifyWebhook.Secret = []byte(secret)
			}
			return nil
		}},
		{"notify-webhook-phone", "PAIRSYNC_NOTIFY_WEBHOOK_PHONE", "false", "add the recipient's phone number to each webhook notification", func(c *Config, v string) error {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return fmt.Errorf("want true or false, got %q", v)
			}
			c.Server.NotifyWebhook.Phone = b
			return nil
		}},
		{"notify-lease", "PAIRSYNC_NOTIFY_LEASE", "5m", "how long a sender holds a notification it claimed: after a crash, what it held is sent again once this passes", dur(func(c *Config) *time.Duration { return &c.Server.NotifyLease })},
		{"notify-holder", "PAIRSYNC_NOTIFY_HOLDER", "", "this process's name in the outbox's claims, the same across its restarts and unique among running processes (empty: host name/addr): a restart releases what it held at a crash", func(c *Config, v string) error {
			c.Server.NotifyHolder = v
			return nil
		}},
		{"trusted-proxies", "PAIRSYNC_TRUSTED_PROXIES", "", "comma-separated IPs/CIDRs of reverse proxies whose X-Forwarded-For is believed", func(c *Config, v string) error {
			c.Server.TrustedProxies = nil
			for _, p := range strings.Split(v, ",") {
				if p = strings.TrimSpace(p); p != "" {
					c.Server.TrustedProxies = append(c.Server.TrustedProxies, p)
				}
			}
			return nil
		}},
	}, notifyChannelSettings()...) // notify_config.go
}

// secretFile reads a secret from the file a setting names ("" leaves it as
// the environment set it).
func secretFile(p func(*Config) *string) func(*Config, string) error {
	return func(c *Config, v string) error {
		if v == "" {
			return nil
		}
		b, err := os.ReadFile(v)
		if err != nil {
			return err
		}
		*p(c) = strings.TrimSpace(string(b))
		return nil
	}
}

func oneOf(p func(*Config) *string, allowed ...string) func(*Config, string) error {
	return func(c *Config, v string) error {
		for _, a := range allowed {
			if v == a {
				*p(c) = v
				return nil
			}
		}
		return fmt.Errorf("want one of %s, got %q", strings.Join(allowed, ", "), v)
	}
}

// ParseConfig reads the configuration: defaults, then the environment
// (through getenv), then the flags in args. Usage goes to out.
func ParseConfig(args []string, getenv func(string) string, out io.Writer) (Config, error) {
	var c Config
	c.AdminPassword = getenv("PAIRSYNC_ADMIN_PASSWORD")
	c.MinIO.AccessKey, c.MinIO.SecretKey = getenv("PAIRSYNC_MINIO_ACCESS_KEY"), getenv("PAIRSYNC_MINIO_SECRET_KEY")
	c.Mongo.URI = getenv("PAIRSYNC_MONGODB_URI")
	if v := getenv("PAIRSYNC_NOTIFY_WEBHOOK_SECRET"); v != "" {
		c.Server.NotifyWebhook.Secret = []byte(v)
	}
	fs := flag.NewFlagSet("pairsyncd", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() {
		fmt.Fprintf(out, "pairsyncd: the Pairsync server.\n\nUsage:\n  pairsyncd [serve] [flags]     run the server (the default)\n  pairsyncd rotate-key [flags]  make a new token-signing key (stop the server first on bolt)\n  pairsyncd healthcheck         exit 0 if the server on -addr answers /healthz (for containers)\n\nEach flag may also be set by its environment variable; flags win.\nPAIRSYNC_ADMIN_PASSWORD (environment only) sets the first administrator's password;\nPAIRSYNC_MINIO_ACCESS_KEY and PAIRSYNC_MINIO_SECRET_KEY (environment only) the MinIO keys;\nPAIRSYNC_MONGODB_URI (environment only) the MongoDB connection string;\nPAIRSYNC_NOTIFY_WEBHOOK_SECRET (environment only) the webhook's signing key;\nPAIRSYNC_NOTIFY_SMS_SECRET and PAIRSYNC_NOTIFY_DINGTALK_SECRET (environment only) the SMS gateway's and the 钉钉 robot's keys.\n\n")
		for _, s := range settings() {
			fmt.Fprintf(out, "  -%s (%s, default %q)\n      %s\n", s.flag, s.env, s.def, s.help)
		}
	}
	for _, s := range settings() {
		v := s.def
		if e := getenv(s.env); e != "" {
			v = e
		}
		if err := s.set(&c, v); err != nil {
			return c, fmt.Errorf("%s: %w", s.env, err)
		}
		s := s
		fs.Func(s.flag, s.help, func(v string) error { return s.set(&c, v) })
	}
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q (see -h)", fs.Arg(0))
	}
	if c.Server.NotifyHolder == "" {
		// Stable across restarts and unique among live processes: two
		// processes of one host cannot listen on one address.
		host, _ := os.Hostname()
		c.Server.NotifyHolder = host + "/" + c.Addr
	}
	if err := checkNotifyChannels(&c, getenv); err != nil {
		return c, err
	}
	if c.Server.NotifyWebhook.URL != "" && len(c.Server.NotifyWebhook.Secret) == 0 {
		return c, errors.New("notify-webhook-url needs a signing key: set PAIRSYNC_NOTIFY_WEBHOOK_SECRET or -notify-webhook-secret-file")
	}
	if c.DrainDelay+c.ShutdownTimeout > 14*time.Second {
		return c, errors.New("drain-delay + shutdown-timeout must stay under 14s so the process exits within 15s of SIGTERM")
	}
	return c, nil
}
