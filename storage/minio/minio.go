package minio

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"

	s3 "github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/s3utils"

	"github.com/pairsync/pairsync/storage"
)

// Defaults of Config.
const (
	DefaultRegion    = "us-east-1"
	DefaultOpTimeout = 10 * time.Second
)

// Config locates the bucket that holds the photos.
type Config struct {
	// Endpoint is the host:port the server reaches MinIO at.
	Endpoint  string
	AccessKey string
	SecretKey string
	// Bucket is created by Open when missing (private: no policy).
	Bucket string
	// Region signs every request (default "us-east-1"); being set, it spares
	// the client a request for the bucket's location, so that presigning
	// never touches the network.
	Region string
	// Secure: https to Endpoint.
	Secure bool
	// PublicEndpoint is where phones reach MinIO, when it differs from
	// Endpoint: "host:port" (same scheme as Secure) or "https://host[:port]"
	// (or "http://…", for a proxy that terminates TLS in front of MinIO).
	// Presigned URLs are signed for this host.
	PublicEndpoint string
	// OpTimeout bounds how long a call waits on MinIO (default 10s): no
	// answer, or no byte of a stream, for that long fails the call with
	// storage.ErrUnavailable.
	OpTimeout time.Duration
}

// Store is a storage.Photos in one bucket of MinIO or S3. Safe for
// concurrent use.
type Store struct {
	client    *s3.Client
	core      s3.Core
	presigner *s3.Client // signs for the public endpoint; never dials
	transport *http.Transport
	bucket    string
	endpoint  string
	origin    string // PublicOrigin
	timeout   time.Duration
}

var (
	_ storage.Photos    = (*Store)(nil)
	_ storage.Presigner = (*Store)(nil)
)

// maxRetries is how many times the SDK tries a request that failed in a
// way it deems transient (it never retries a streamed body). Few, so that
// a server that is down fails a call fast; OpTimeout bounds them anyway.
const maxRetries = 3

// Open connects to the bucket cfg names, creating it when missing, and
// checks that the credentials reach it. Errors wrap storage.ErrInvalid for
// an incomplete Config and storage.ErrUnavailable when MinIO cannot be
// reached within OpTimeout.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if err := cfg.check(); err != nil {
		return nil, fmt.Errorf("minio: open: %w", err)
	}
	if cfg.Region == "" {
		cfg.Region = DefaultRegion
	}
	if cfg.OpTimeout <= 0 {
		cfg.OpTimeout = DefaultOpTimeout
	}
	transport, err := s3.DefaultTransport(cfg.Secure)
	if err != nil {
		return nil, fmt.Errorf("minio: open: %w", err)
	}
	client, err := s3.New(cfg.Endpoint, &s3.Options{
		Creds:      credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure:     cfg.Secure,
		Region:     cfg.Region,
		Transport:  transport,
		MaxRetries: maxRetries,
	})
	if err != nil {
		return nil, fmt.Errorf("minio: open %s: %w: %w", cfg.Endpoint, storage.ErrInvalid, err)
	}
	presigner := client
	if cfg.PublicEndpoint != "" {
		host, secure, err := publicEndpoint(cfg.PublicEndpoint, cfg.Secure)
		if err != nil {
			return nil, fmt.Errorf("minio: open: %w", err)
		}
		presigner, err = s3.New(host, &s3.Options{
			Creds:  credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
			Secure: secure,
			Region: cfg.Region,
			// Never used to send a request; a transport of its own keeps it
			// from sharing connections with the server's client.
			Transport: &http.Transport{},
		})
		if err != nil {
			return nil, fmt.Errorf("minio: open: public endpoint %q: %w: %w", cfg.PublicEndpoint, storage.ErrInvalid, err)
		}
	}
	origin := "http://" + cfg.Endpoint
	if cfg.Secure {
		origin = "https://" + cfg.Endpoint
	}
	if cfg.PublicEndpoint != "" {
		host, secure, _ := publicEndpoint(cfg.PublicEndpoint, cfg.Secure)
		origin = "http://" + host
		if secure {
			origin = "https://" + host
		}
	}
	s := &Store{
		origin:    origin,
		client:    client,
		core:      s3.Core{Client: client},
		presigner: presigner,
		transport: transport,
		bucket:    cfg.Bucket,
		endpoint:  cfg.Endpoint,
		timeout:   cfg.OpTimeout,
	}
	if err := s.ensureBucket(ctx, cfg.Region); err != nil {
		transport.CloseIdleConnections()
		return nil, fmt.Errorf("minio: open bucket %q at %s: %w", cfg.Bucket, cfg.Endpoint, err)
	}
	return s, nil
}

func (cfg Config) check() error {
	var missing []string
	for _, f := range []struct{ name, value string }{
		{"Endpoint", cfg.Endpoint},
		{"AccessKey", cfg.AccessKey},
		{"SecretKey", cfg.SecretKey},
		{"Bucket", cfg.Bucket},
	} {
		if f.value == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("config lacks %s: %w", strings.Join(missing, ", "), storage.ErrInvalid)
	}
	if strings.Contains(cfg.Endpoint, "/") {
		return fmt.Errorf("endpoint %q: want host:port, without scheme or path: %w", cfg.Endpoint, storage.ErrInvalid)
	}
	if err := s3utils.CheckValidBucketNameStrict(cfg.Bucket); err != nil {
		return fmt.Errorf("bucket %q: %w: %w", cfg.Bucket, storage.ErrInvalid, err)
	}
	return nil
}

// publicEndpoint splits "host:port" or "scheme://host[:port]" into the host
// and whether it takes https.
func publicEndpoint(s string, secure bool) (string, bool, error) {
	if !strings.Contains(s, "://") {
		if strings.Contains(s, "/") {
			return "", false, fmt.Errorf("public endpoint %q: want host:port or a URL without path: %w", s, storage.ErrInvalid)
		}
		return s, secure, nil
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil ||
		(u.Scheme != "http" && u.Scheme != "https") {
		return "", false, fmt.Errorf("public endpoint %q: want host:port or http(s)://host[:port]: %w", s, storage.ErrInvalid)
	}
	return u.Host, u.Scheme == "https", nil
}

// ensureBucket creates the bucket when missing and proves access to it.
func (s *Store) ensureBucket(ctx context.Context, region string) error {
	c := s.call(ctx)
	defer c.end()
	ok, err := s.client.BucketExists(c.ctx, s.bucket)
	if err != nil {
		return c.err(accessHint(err))
	}
	if !ok {
		err := s.client.MakeBucket(c.ctx, s.bucket, s3.MakeBucketOptions{Region: region})
		if code := s3.ToErrorResponse(err).Code; code == "BucketAlreadyOwnedByYou" {
			err = nil // made meanwhile by another process
		}
		if err != nil {
			return c.err(fmt.Errorf("create: %w", accessHint(err)))
		}
	}
	// Listing needs read access, which every call needs; a denied write
	// shows up on the first upload.
	for obj := range s.client.ListObjectsIter(c.ctx, s.bucket, s3.ListObjectsOptions{MaxKeys: 1}) {
		if obj.Err != nil {
			return c.err(fmt.Errorf("list: %w", accessHint(obj.Err)))
		}
		break
	}
	return nil
}

// accessHint says what to check when MinIO refuses the credentials.
func accessHint(err error) error {
	switch s3.ToErrorResponse(err).Code {
	case "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch":
		return fmt.Errorf("%w (check AccessKey, SecretKey and the key's policy)", err)
	}
	return err
}

// Close releases the idle connections to MinIO. The Store must not be used
// afterwards.
func (s *Store) Close() error {
	s.transport.CloseIdleConnections()
	return nil
}

// Bucket returns the bucket's name.
func (s *Store) Bucket() string { return s.bucket }

// PublicOrigin is the origin (scheme://host[:port]) of the URLs it signs:
// where browsers send and fetch photos (the server names it in its
// Content-Security-Policy's connect-src).
func (s *Store) PublicOrigin() string { return s.origin }

// call is one call's hold on MinIO: its context is canceled, with an error
// wrapping storage.ErrUnavailable, once MinIO has kept it waiting for
// OpTimeout. The clock runs except between pause and resume, which bracket
// the time spent on the caller's side of a stream.
type call struct {
	parent context.Context
	ctx    context.Context
	cancel context.CancelCauseFunc
	timer  *time.Timer
	limit  time.Duration
}

func (s *Store) call(ctx context.Context) *call {
	c := &call{parent: ctx, limit: s.timeout}
	c.ctx, c.cancel = context.WithCancelCause(ctx)
	c.timer = time.AfterFunc(s.timeout, func() {
		c.cancel(fmt.Errorf("no answer from minio at %s within %v: %w", s.endpoint, c.limit, storage.ErrUnavailable))
	})
	return c
}

func (c *call) pause()  { c.timer.Stop() }
func (c *call) resume() { c.timer.Reset(c.limit) }
func (c *call) end() {
	c.timer.Stop()
	c.cancel(context.Canceled)
}

// err classifies an error of the SDK: the caller's own cancellation stays
// as it is, a timeout or an unreachable or failing server wraps
// storage.ErrUnavailable, and the S3 codes this package expects map to
// storage's sentinel errors.
func (c *call) err(err error) error {
	switch {
	case err == nil:
		return nil
	case c.parent.Err() != nil:
		// The caller gave up: say so, and what it cut off.
		if errors.Is(err, c.parent.Err()) {
			return err
		}
		return fmt.Errorf("%w (%v)", c.parent.Err(), err)
	case c.ctx.Err() != nil:
		// MinIO kept the call waiting: the cause says all.
		return context.Cause(c.ctx)
	}
	return classify(err)
}

func classify(err error) error {
	resp := s3.ToErrorResponse(errors.Unwrap(err))
	if r := s3.ToErrorResponse(err); r.Code != "" || r.StatusCode != 0 {
		resp = r
	}
	switch resp.Code {
	case "NoSuchKey", "NoSuchUpload":
		return fmt.Errorf("%w: %w", storage.ErrNotFound, err)
	case "XAmzContentSHA256Mismatch", "BadDigest", "InvalidDigest", "IncompleteBody":
		return fmt.Errorf("%w: %w", storage.ErrMismatch, err)
	case "SlowDown", "ServiceUnavailable", "XMinioServerNotInitialized", "RequestTimeout",
		"RequestTimeTooSkewed", "InternalError", "XMinioReadQuorum", "XMinioWriteQuorum":
		return fmt.Errorf("%w: %w", storage.ErrUnavailable, err)
	}
	switch {
	case resp.StatusCode >= 500,
		s3.IsNetworkOrHostDown(err, false),
		errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNREFUSED),
		errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.EPIPE):
		return fmt.Errorf("%w: %w", storage.ErrUnavailable, err)
	}
	return err
}

func checkSum(sum string) error {
	if !storage.ValidSHA256(sum) {
		return fmt.Errorf("malformed sha256 %.80q: %w", sum, storage.ErrInvalid)
	}
	return nil
}
