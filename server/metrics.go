package server

import (
	"context"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/pairsync/pairsync/storage"
)

// metrics are the server's Prometheus collectors, registered on the
// registry the caller injected (never the global one).
type metrics struct {
	requests     *prometheus.CounterVec
	latency      *prometheus.HistogramVec
	storageCalls *prometheus.HistogramVec
	photoBytes   prometheus.Counter
	shed         prometheus.Counter
	// probesSuppressed counts refused requests not audited one by one
	// (auditlimit.go).
	probesSuppressed prometheus.Counter
}

func newMetrics(reg *prometheus.Registry) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "pairsync", Name: "http_requests_total",
			Help: "HTTP requests answered, by method, route pattern and status code.",
		}, []string{"method", "route", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "pairsync", Name: "http_request_duration_seconds",
			Help:    "Time to answer an HTTP request, by method and route pattern.",
			Buckets: []float64{.001, .002, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"method", "route"}),
		storageCalls: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "pairsync", Name: "storage_call_duration_seconds",
			Help:    "Time spent in storage calls, by operation and outcome (ok or error).",
			Buckets: []float64{.0001, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1},
		}, []string{"op", "outcome"}),
		shed: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "pairsync", Name: "http_requests_shed_total",
			Help: "API requests answered 503 because MaxInFlight requests were being served.",
		}),
		probesSuppressed: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "pairsync", Name: "audit_probes_suppressed_total",
			Help: "Refused requests (authentication failures, authorization refusals) over a client's audit budget: counted, not recorded one by one.",
		}),
		photoBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "pairsync", Name: "photo_bytes_stored_total",
			Help: "Bytes of photos verified and stored.",
		}),
	}
	for _, c := range []prometheus.Collector{
		m.requests, m.latency, m.storageCalls, m.photoBytes, m.shed, m.probesSuppressed,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *metrics) observeRequest(method, route string, status int, d time.Duration) {
	m.requests.WithLabelValues(method, route, strconv.Itoa(status)).Inc()
	m.latency.WithLabelValues(method, route).Observe(d.Seconds())
}

func (m *metrics) observeStorage(op string, start time.Time, err error) {
	outcome := "ok"
	if err != nil {
		outcome = "error"
	}
	m.storageCalls.WithLabelValues(op, outcome).Observe(time.Since(start).Seconds())
}

// meteredStore wraps a storage.Store and times every call.
type meteredStore struct {
	storage.Store
	m *metrics
}

func instrumentStore(s storage.Store, m *metrics) storage.Store {
	return &meteredStore{Store: s, m: m}
}

func (s *meteredStore) Get(ctx context.Context, k storage.Key) (r storage.Record, err error) {
	defer func(t time.Time) { s.m.observeStorage("get", t, err) }(time.Now())
	return s.Store.Get(ctx, k)
}

// GetMany is timed as op "get", and ReceiptsOf as "receipt": op names what
// is read, and a push now reads its records (its receipts) in one call,
// not one per change; the time a push spends reading them stays under the
// same name (fieldctl bench's "server time per push" row reads it).
func (s *meteredStore) GetMany(ctx context.Context, keys []storage.Key) (r map[storage.Key]storage.Record, err error) {
	defer func(t time.Time) { s.m.observeStorage("get", t, err) }(time.Now())
	return s.Store.GetMany(ctx, keys)
}

func (s *meteredStore) Commit(ctx context.Context, b storage.Batch) (c storage.Committed, err error) {
	defer func(t time.Time) { s.m.observeStorage("commit", t, err) }(time.Now())
	return s.Store.Commit(ctx, b)
}

func (s *meteredStore) Changes(ctx context.Context, pairing string, after uint64, lim storage.PageLimit) (p storage.Page, err error) {
	defer func(t time.Time) { s.m.observeStorage("changes", t, err) }(time.Now())
	return s.Store.Changes(ctx, pairing, after, lim)
}

func (s *meteredStore) Head(ctx context.Context, pairing string) (h uint64, err error) {
	defer func(t time.Time) { s.m.observeStorage("head", t, err) }(time.Now())
	return s.Store.Head(ctx, pairing)
}

func (s *meteredStore) Receipt(ctx context.Context, replica string, counter uint64) (b []byte, err error) {
	defer func(t time.Time) { s.m.observeStorage("receipt", t, err) }(time.Now())
	return s.Store.Receipt(ctx, replica, counter)
}

func (s *meteredStore) ReceiptsOf(ctx context.Context, replica string, counters []uint64) (m map[uint64][]byte, err error) {
	defer func(t time.Time) { s.m.observeStorage("receipt", t, err) }(time.Now())
	return s.Store.ReceiptsOf(ctx, replica, counters)
}

func (s *meteredStore) Ping(ctx context.Context) (err error) {
	defer func(t time.Time) { s.m.observeStorage("ping", t, err) }(time.Now())
	return s.Store.Ping(ctx)
}
