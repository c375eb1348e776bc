package minio_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	s3 "github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/pairsync/pairsync/storage"
	"github.com/pairsync/pairsync/storage/minio"
	"github.com/pairsync/pairsync/storage/minio/miniotest"
	"github.com/pairsync/pairsync/storage/storagetest"
)

// config returns the Config of a fresh bucket on srv.
func config(t *testing.T, srv miniotest.Server) minio.Config {
	return minio.Config{
		Endpoint:  srv.Endpoint,
		AccessKey: srv.AccessKey,
		SecretKey: srv.SecretKey,
		Bucket:    miniotest.Bucket(t),
	}
}

func open(t *testing.T, cfg minio.Config) *minio.Store {
	t.Helper()
	st, err := minio.Open(t.Context(), cfg)
	if err != nil {
		t.Fatalf("open: got error %v, want none", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// raw returns a plain client of srv, to look behind the adapter.
func raw(t *testing.T, srv miniotest.Server) s3.Core {
	t.Helper()
	c, err := s3.New(srv.Endpoint, &s3.Options{Creds: credentials.NewStaticV4(srv.AccessKey, srv.SecretKey, ""), Region: "us-east-1"})
	if err != nil {
		t.Fatal(err)
	}
	return s3.Core{Client: c}
}

func hexSum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// photo returns n bytes that differ by seed.
func photo(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*13) ^ seed
	}
	return b
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if want == nil && err != nil || want != nil && !errors.Is(err, want) {
		t.Fatalf("%s: got error %v, want %v", what, err, want)
	}
}

func TestConformance(t *testing.T) {
	srv := miniotest.Start(t)
	storagetest.TestPhotosWith(t, func(t *testing.T) storage.Photos {
		return open(t, config(t, srv))
	}, storagetest.PhotoOptions{MinPartSize: minio.PartSize})
}

// keys lists every object key in the bucket.
func keys(t *testing.T, c s3.Core, bucket string) []string {
	t.Helper()
	var out []string
	for obj := range c.ListObjectsIter(t.Context(), bucket, s3.ListObjectsOptions{Recursive: true}) {
		if obj.Err != nil {
			t.Fatal(obj.Err)
		}
		out = append(out, obj.Key)
	}
	return out
}

func TestLayout(t *testing.T) {
	srv := miniotest.Start(t)
	cfg := config(t, srv)
	st := open(t, cfg)
	c := raw(t, srv)
	ctx := t.Context()

	data := photo(1000, 1)
	s := hexSum(data)
	if _, err := st.PutPhoto(ctx, s, 1000, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	if err := st.PutThumbnail(ctx, s, []byte("thumb")); err != nil {
		t.Fatal(err)
	}
	// A refused put leaves nothing behind.
	_, err := st.PutPhoto(ctx, hexSum([]byte("other")), 1000, bytes.NewReader(data))
	wantErr(t, "put under another sum", err, storage.ErrMismatch)
	got, want := keys(t, c, cfg.Bucket), []string{s, "thumbs/" + s}
	if !slices.Equal(got, want) {
		t.Fatalf("keys: got %q, want %q", got, want)
	}

	pending := photo(minio.PartSize+10, 2)
	up, err := st.BeginUpload(ctx, hexSum(pending), int64(len(pending)))
	if err != nil {
		t.Fatal(err)
	}
	if up.PartSize != 5<<20 || up.Parts() != 2 {
		t.Fatalf("upload: got PartSize %d and %d parts, want 5 MiB and 2", up.PartSize, up.Parts())
	}
	if err := st.PutPart(ctx, up.SHA256, up.ID, 2, bytes.NewReader(pending[minio.PartSize:])); err != nil {
		t.Fatal(err)
	}
	key := "incoming/" + up.SHA256 + "/" + strconv.Itoa(len(pending))
	res, err := c.ListMultipartUploads(ctx, cfg.Bucket, key, "", "", "", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Uploads) != 1 || !strings.HasSuffix(up.ID, "."+res.Uploads[0].UploadID) {
		t.Fatalf("multipart uploads to %s: got %+v, want the one of ID %q", key, res.Uploads, up.ID)
	}
	// Nothing pending is an object yet, and listing skips the prefixes.
	if got := keys(t, c, cfg.Bucket); !slices.Equal(got, want) {
		t.Fatalf("keys with an upload pending: got %q, want %q", got, want)
	}
	photos, more, err := st.ListPhotos(ctx, "", 0)
	if err != nil || more || len(photos) != 1 || photos[0].SHA256 != s {
		t.Fatalf("list photos: got %+v, more %v, error %v; want only %s", photos, more, err, s)
	}
}

// TestServerChecksPayloadHash pins what PutPhoto relies on besides its own
// check: MinIO refuses a PUT whose body does not hash to the signed
// x-amz-content-sha256, and stores nothing.
func TestServerChecksPayloadHash(t *testing.T) {
	srv := miniotest.Start(t)
	cfg := config(t, srv)
	open(t, cfg) // creates the bucket
	c := raw(t, srv)
	data := photo(1000, 3)
	wrong := hexSum([]byte("not these bytes"))
	_, err := c.PutObject(t.Context(), cfg.Bucket, wrong, bytes.NewReader(data), int64(len(data)), "", wrong,
		s3.PutObjectOptions{DisableContentSha256: true})
	if code := s3.ToErrorResponse(err).Code; code != "XAmzContentSHA256Mismatch" {
		t.Fatalf("put with a wrong payload hash: got error %v (code %q), want XAmzContentSHA256Mismatch", err, code)
	}
	if got := keys(t, c, cfg.Bucket); len(got) != 0 {
		t.Fatalf("keys after a refused put: got %q, want none", got)
	}
}

// TestStreams checks that neither PutPhoto nor CompleteUpload holds a photo
// in memory: moving 32 MiB allocates well under that.
func TestStreams(t *testing.T) {
	const size = 32 << 20
	s := storagetest.PatternSum(size)
	srv := miniotest.Start(t)
	st := open(t, config(t, srv))
	ctx := t.Context()

	measure := func(what string, f func() error) {
		t.Helper()
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		if err := f(); err != nil {
			t.Fatalf("%s: got error %v, want none", what, err)
		}
		runtime.ReadMemStats(&after)
		t.Logf("%s of %d MiB: %d KiB allocated", what, size>>20, (after.TotalAlloc-before.TotalAlloc)>>10)
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 8<<20 {
			t.Fatalf("%s of %d MiB: got %d KiB allocated, want under 8 MiB (streamed)", what, size>>20, alloc>>10)
		}
	}
	measure("put", func() error {
		_, err := st.PutPhoto(ctx, s, size, storagetest.Pattern(size))
		return err
	})
	if err := st.DeletePhoto(ctx, s); err != nil {
		t.Fatal(err)
	}
	up, err := st.BeginUpload(ctx, s, size)
	if err != nil {
		t.Fatal(err)
	}
	all := storagetest.Pattern(size)
	for n := 1; n <= up.Parts(); n++ {
		if err := st.PutPart(ctx, s, up.ID, n, io.LimitReader(all, up.PartLen(n))); err != nil {
			t.Fatal(err)
		}
	}
	measure("complete", func() error {
		_, err := st.CompleteUpload(ctx, s, up.ID, nil)
		return err
	})
}

// TestCompleteAfterCutOff: a completion cut off after MinIO assembled the
// parts (here: assembled behind the adapter's back) is finished by the
// next CompleteUpload, with the old ID or the one BeginUpload gives, and
// the parts are never sent again.
func TestCompleteAfterCutOff(t *testing.T) {
	srv := miniotest.Start(t)
	cfg := config(t, srv)
	st := open(t, cfg)
	c := raw(t, srv)
	ctx := t.Context()
	for _, viaBegin := range []bool{false, true} {
		data := photo(minio.PartSize+77, 14)
		if viaBegin {
			data[0] ^= 1
		}
		s := hexSum(data)
		up, err := st.BeginUpload(ctx, s, int64(len(data)))
		if err != nil {
			t.Fatal(err)
		}
		var parts []s3.CompletePart
		for n := 1; n <= up.Parts(); n++ {
			if err := st.PutPart(ctx, s, up.ID, n, bytes.NewReader(data[int64(n-1)*up.PartSize:][:up.PartLen(n)])); err != nil {
				t.Fatal(err)
			}
		}
		key := "incoming/" + s + "/" + strconv.Itoa(len(data))
		lp, err := c.ListObjectParts(ctx, cfg.Bucket, key, up.ID[strings.Index(up.ID, ".")+1:], 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range lp.ObjectParts {
			parts = append(parts, s3.CompletePart{PartNumber: p.PartNumber, ETag: p.ETag})
		}
		if _, err := c.CompleteMultipartUpload(ctx, cfg.Bucket, key, up.ID[strings.Index(up.ID, ".")+1:], parts, s3.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}

		ups, err := st.Uploads(ctx, time.Now().Add(time.Hour))
		if err != nil || len(ups) != 1 || ups[0].SHA256 != s || ups[0].Size != int64(len(data)) {
			t.Fatalf("uploads with assembled parts: got %+v (error %v), want one of %s", ups, err, s)
		}
		id := up.ID
		if viaBegin {
			again, err := st.BeginUpload(ctx, s, int64(len(data)))
			if err != nil {
				t.Fatal(err)
			}
			if len(again.Done) != again.Parts() {
				t.Fatalf("begin upload of assembled parts: got Done %v, want all %d parts", again.Done, again.Parts())
			}
			id = again.ID
		}
		info, err := st.CompleteUpload(ctx, s, id, nil)
		if err != nil || info.SHA256 != s || info.Size != int64(len(data)) {
			t.Fatalf("complete after a cut-off: got %+v, error %v; want the photo stored", info, err)
		}
		if got := keys(t, c, cfg.Bucket); slices.ContainsFunc(got, func(k string) bool { return strings.HasPrefix(k, "incoming/") }) {
			t.Fatalf("keys after completing: got %q, want nothing under incoming/", got)
		}
		if err := st.DeletePhoto(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
}

// do sends a presigned request as a phone does: the method, the URL and
// the signed headers as given (Content-Length as the request's length).
func do(t *testing.T, req storage.PresignedRequest, body []byte) (int, []byte) {
	t.Helper()
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	hr, err := http.NewRequestWithContext(t.Context(), req.Method, req.URL, r)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range req.Header {
		if k == "Content-Length" {
			continue // net/http sends the body's length; a wrong one is a test case
		}
		hr.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(hr)
	if err != nil {
		t.Fatalf("%s %s: got error %v, want an answer", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

func TestPresignedPartUpload(t *testing.T) {
	srv := miniotest.Start(t)
	st := open(t, config(t, srv))
	ctx := t.Context()
	data := photo(minio.PartSize+4321, 4)
	s := hexSum(data)
	up, err := st.BeginUpload(ctx, s, int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	part := func(n int) []byte { return data[int64(n-1)*up.PartSize:][:up.PartLen(n)] }
	var reqs []storage.PresignedRequest
	for n := 1; n <= up.Parts(); n++ {
		req, err := st.PresignPart(ctx, s, up.ID, n, time.Minute)
		if err != nil {
			t.Fatalf("presign part %d: got error %v, want none", n, err)
		}
		if req.Method != http.MethodPut || req.Header["Content-Length"] != strconv.FormatInt(up.PartLen(n), 10) {
			t.Fatalf("presigned part %d: got %s with headers %v, want PUT with Content-Length %d", n, req.Method, req.Header, up.PartLen(n))
		}
		if d := time.Until(req.ExpiresAt); d < 55*time.Second || d > time.Minute {
			t.Fatalf("presigned part %d: got ExpiresAt in %v, want in about a minute", n, d)
		}
		reqs = append(reqs, req)
	}
	// The signed length holds: a part a byte short or long is refused.
	for _, body := range [][]byte{part(2)[1:], append(bytes.Clone(part(2)), 'x')} {
		if code, answer := do(t, reqs[1], body); code != http.StatusForbidden {
			t.Fatalf("PUT of %d bytes to a URL signed for %d: got %d %s, want 403", len(body), up.PartLen(2), code, answer)
		}
	}
	// The part number is signed: part 2's bytes cannot go in as part 1.
	tampered := reqs[0]
	tampered.URL = strings.Replace(tampered.URL, "partNumber=1", "partNumber=2", 1)
	if code, _ := do(t, tampered, part(2)); code != http.StatusForbidden {
		t.Fatalf("PUT to a URL with another part number: got %d, want 403", code)
	}
	for i, req := range reqs {
		if code, answer := do(t, req, part(i+1)); code != http.StatusOK {
			t.Fatalf("PUT of part %d: got %d %s, want 200", i+1, code, answer)
		}
	}
	again, err := st.BeginUpload(ctx, s, int64(len(data)))
	if err != nil || len(again.Done) != up.Parts() || again.ID != up.ID {
		t.Fatalf("begin upload after the phone's PUTs: got %+v (error %v), want upload %s with every part done", again, err, up.ID)
	}
	var head []byte
	info, err := st.CompleteUpload(ctx, s, up.ID, func(h []byte) error { head = bytes.Clone(h); return nil })
	if err != nil || info.Size != int64(len(data)) {
		t.Fatalf("complete: got %+v, error %v; want the photo stored", info, err)
	}
	if !bytes.Equal(head, data[:64<<10]) {
		t.Fatalf("check: got a head of %d bytes, want the first 64 KiB", len(head))
	}
	rc, _, err := st.OpenPhoto(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("photo sent by presigned PUTs: got %d bytes (sha256 %s, error %v), want the %d sent", len(got), hexSum(got), err, len(data))
	}
}

// TestPresignedExpiry: MinIO refuses a presigned URL, PUT or GET, once it
// has expired.
func TestPresignedExpiry(t *testing.T) {
	srv := miniotest.Start(t)
	st := open(t, config(t, srv))
	ctx := t.Context()
	stored := photo(3000, 5)
	if _, err := st.PutPhoto(ctx, hexSum(stored), 3000, bytes.NewReader(stored)); err != nil {
		t.Fatal(err)
	}
	get, err := st.PresignGet(ctx, hexSum(stored), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if get.Method != http.MethodGet || len(get.Header) != 0 {
		t.Fatalf("presigned get: got %s with headers %v, want a plain GET", get.Method, get.Header)
	}
	if code, body := do(t, get, nil); code != http.StatusOK || !bytes.Equal(body, stored) {
		t.Fatalf("GET before expiry: got %d and %d bytes, want 200 and the photo", code, len(body))
	}
	missing, err := st.PresignGet(ctx, hexSum([]byte("never stored")), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if code, _ := do(t, missing, nil); code != http.StatusNotFound {
		t.Fatalf("GET of a photo never stored: got %d, want 404", code)
	}

	pending := photo(100, 6)
	up, err := st.BeginUpload(ctx, hexSum(pending), 100)
	if err != nil {
		t.Fatal(err)
	}
	put, err := st.PresignPart(ctx, up.SHA256, up.ID, 1, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Until(put.ExpiresAt.Add(time.Second)))
	if code, body := do(t, get, nil); code != http.StatusForbidden {
		t.Fatalf("GET after expiry: got %d %s, want 403", code, body)
	}
	if code, body := do(t, put, pending); code != http.StatusForbidden || !strings.Contains(string(body), "expired") {
		t.Fatalf("PUT after expiry: got %d %s, want 403 (expired)", code, body)
	}
	again, err := st.BeginUpload(ctx, up.SHA256, 100)
	if err != nil || len(again.Done) != 0 {
		t.Fatalf("upload after an expired PUT: got %+v (error %v), want no part done", again, err)
	}
}

func TestPresignRefused(t *testing.T) {
	srv := miniotest.Start(t)
	st := open(t, config(t, srv))
	ctx := t.Context()
	data := photo(minio.PartSize+1, 7)
	up, err := st.BeginUpload(ctx, hexSum(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		sum    string
		id     string
		n      int
		expiry time.Duration
		want   error
	}{
		{"longer than 15 minutes", up.SHA256, up.ID, 1, 15*time.Minute + time.Second, storage.ErrInvalid},
		{"under a second", up.SHA256, up.ID, 1, 999 * time.Millisecond, storage.ErrInvalid},
		{"part 0", up.SHA256, up.ID, 0, time.Minute, storage.ErrInvalid},
		{"part past the last", up.SHA256, up.ID, 3, time.Minute, storage.ErrInvalid},
		{"malformed sum", "x", up.ID, 1, time.Minute, storage.ErrInvalid},
		{"unknown id", up.SHA256, "bogus", 1, time.Minute, storage.ErrNotFound},
	} {
		_, err := st.PresignPart(ctx, tc.sum, tc.id, tc.n, tc.expiry)
		wantErr(t, "presign part, "+tc.name, err, tc.want)
	}
	if _, err := st.PresignPart(ctx, up.SHA256, up.ID, 2, minio.MaxPresignExpiry); err != nil {
		t.Fatalf("presign part for %v: got error %v, want none", minio.MaxPresignExpiry, err)
	}
	_, err = st.PresignGet(ctx, up.SHA256, time.Hour)
	wantErr(t, "presign get for an hour", err, storage.ErrInvalid)
	_, err = st.PresignGet(ctx, "x", time.Minute)
	wantErr(t, "presign get of a malformed sum", err, storage.ErrInvalid)
}

// TestPublicEndpoint: URLs are signed for the host phones reach MinIO at,
// here a reverse proxy that keeps the Host header.
func TestPublicEndpoint(t *testing.T) {
	srv := miniotest.Start(t)
	target, _ := url.Parse("http://" + srv.Endpoint)
	proxy := &http.Server{Handler: &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(target)
		r.Out.Host = r.In.Host
	}}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go proxy.Serve(ln)
	t.Cleanup(func() { proxy.Close() })
	public := ln.Addr().String()

	for _, form := range []string{public, "http://" + public} {
		cfg := config(t, srv)
		cfg.PublicEndpoint = form
		st := open(t, cfg)
		ctx := t.Context()
		data := photo(2000, 8)
		s := hexSum(data)
		if _, err := st.PutPhoto(ctx, s, 2000, bytes.NewReader(data)); err != nil {
			t.Fatal(err)
		}
		get, err := st.PresignGet(ctx, s, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		u, _ := url.Parse(get.URL)
		if u.Host != public || u.Scheme != "http" {
			t.Fatalf("PublicEndpoint %q: got URL %s, want http://%s/…", form, get.URL, public)
		}
		if code, body := do(t, get, nil); code != http.StatusOK || !bytes.Equal(body, data) {
			t.Fatalf("GET through the public endpoint: got %d and %d bytes, want 200 and the photo", code, len(body))
		}
		direct := get
		direct.URL = strings.Replace(get.URL, public, srv.Endpoint, 1)
		if code, _ := do(t, direct, nil); code != http.StatusForbidden {
			t.Fatalf("GET of the public URL sent to MinIO's own address: got %d, want 403 (signed for another host)", code)
		}
		pending := photo(300, 9)
		up, err := st.BeginUpload(ctx, hexSum(pending), 300)
		if err != nil {
			t.Fatal(err)
		}
		put, err := st.PresignPart(ctx, up.SHA256, up.ID, 1, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if code, body := do(t, put, pending); code != http.StatusOK {
			t.Fatalf("PUT through the public endpoint: got %d %s, want 200", code, body)
		}
		if _, err := st.CompleteUpload(ctx, up.SHA256, up.ID, nil); err != nil {
			t.Fatalf("complete: got error %v, want none", err)
		}
	}
	cfg := config(t, srv)
	cfg.PublicEndpoint = "ftp://" + public
	_, err = minio.Open(t.Context(), cfg)
	wantErr(t, "open with an ftp public endpoint", err, storage.ErrInvalid)
}

// within fails t unless f returns an error wrapping storage.ErrUnavailable
// within limit.
//
// The limit proves the call is bounded by the adapter's timeout (a hung
// MinIO without it would block until the gate thaws, which it never does
// during f): the caller's limit plus hungSlack, so a busy machine's
// scheduling delays do not fail it. The precise figure is make soak's
// (TestDependenciesDown).
func within(t *testing.T, what string, limit time.Duration, f func() error) {
	t.Helper()
	limit += hungSlack
	start := time.Now()
	err := f()
	took := time.Since(start)
	if !errors.Is(err, storage.ErrUnavailable) {
		t.Fatalf("%s: got error %v, want ErrUnavailable", what, err)
	}
	if took > limit {
		t.Fatalf("%s: failed after %v, want within %v", what, took.Round(time.Millisecond), limit)
	}
}

// allUnavailable runs the calls at once (the test machine may have fewer
// CPUs than calls: no t.Parallel) and fails t unless each returns an error
// wrapping storage.ErrUnavailable within limit.
// hungSlack is added to the bounds of calls made while MinIO hangs.
const hungSlack = 5 * time.Second

func allUnavailable(t *testing.T, what string, limit time.Duration, calls map[string]func(context.Context) error) {
	t.Helper()
	limit += hungSlack
	type result struct {
		err  error
		took time.Duration
	}
	results := make(map[string]result)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for name, call := range calls {
		wg.Go(func() {
			start := time.Now()
			err := call(t.Context())
			mu.Lock()
			results[name] = result{err, time.Since(start)}
			mu.Unlock()
		})
	}
	wg.Wait()
	for name, r := range results {
		if !errors.Is(r.err, storage.ErrUnavailable) {
			t.Errorf("%s %s: got error %v, want ErrUnavailable", name, what, r.err)
		} else if r.took > limit {
			t.Errorf("%s %s: failed after %v, want within %v", name, what, r.took.Round(time.Millisecond), limit)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
}

// calls returns one call of each kind, for the unavailability cases.
func calls(st *minio.Store, stored, other []byte) map[string]func(ctx context.Context) error {
	s := hexSum(stored)
	return map[string]func(context.Context) error{
		"stat": func(ctx context.Context) error { _, err := st.StatPhoto(ctx, s); return err },
		"open": func(ctx context.Context) error { _, _, err := st.OpenPhoto(ctx, s); return err },
		"put": func(ctx context.Context) error {
			_, err := st.PutPhoto(ctx, hexSum(other), int64(len(other)), bytes.NewReader(other))
			return err
		},
		"list":      func(ctx context.Context) error { _, _, err := st.ListPhotos(ctx, "", 0); return err },
		"delete":    func(ctx context.Context) error { return st.DeletePhoto(ctx, hexSum(other)) },
		"thumbnail": func(ctx context.Context) error { _, err := st.Thumbnail(ctx, s); return err },
		"begin": func(ctx context.Context) error {
			_, err := st.BeginUpload(ctx, hexSum(other), int64(len(other)))
			return err
		},
		"uploads": func(ctx context.Context) error { _, err := st.Uploads(ctx, time.Now()); return err },
	}
}

// TestStopped: with MinIO stopped every call fails within OpTimeout with
// storage.ErrUnavailable, presigning still works (it needs no network),
// and the same Store works again once MinIO is back.
func TestStopped(t *testing.T) {
	srv := miniotest.StartPrivate(t)
	cfg := config(t, srv)
	cfg.OpTimeout = 2 * time.Second
	st := open(t, cfg)
	ctx := t.Context()
	stored, other := photo(4000, 10), photo(5000, 11)
	if _, err := st.PutPhoto(ctx, hexSum(stored), 4000, bytes.NewReader(stored)); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	allUnavailable(t, "with MinIO stopped", cfg.OpTimeout+time.Second, calls(st, stored, other))
	if _, err := st.PresignGet(ctx, hexSum(stored), time.Minute); err != nil {
		t.Fatalf("presign get with MinIO stopped: got error %v, want none", err)
	}
	_, err := minio.Open(ctx, cfg)
	wantErr(t, "open with MinIO stopped", err, storage.ErrUnavailable)

	srv.Restart()
	rc, info, err := st.OpenPhoto(ctx, hexSum(stored))
	if err != nil {
		t.Fatalf("open after the restart: got error %v, want none", err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(got, stored) || info.Size != 4000 {
		t.Fatalf("photo after the restart: got %d bytes, want the %d stored", len(got), len(stored))
	}
	if _, err := st.PutPhoto(ctx, hexSum(other), 5000, bytes.NewReader(other)); err != nil {
		t.Fatalf("put after the restart: got error %v, want none", err)
	}
}

// TestHung: a MinIO that accepts connections and then answers nothing
// fails every call within OpTimeout, including a read in the middle of a
// photo; a slow caller on either side of a stream is not a hung MinIO.
func TestHung(t *testing.T) {
	srv := miniotest.Start(t)
	g := newGate(t, srv.Endpoint)
	cfg := config(t, srv)
	cfg.Endpoint = g.Addr()
	cfg.OpTimeout = time.Second
	st := open(t, cfg)
	ctx := t.Context()
	stored, other := photo(24<<20, 12), photo(5000, 13)
	if _, err := st.PutPhoto(ctx, hexSum(stored), int64(len(stored)), bytes.NewReader(stored)); err != nil {
		t.Fatal(err)
	}

	g.Freeze()
	allUnavailable(t, "with MinIO hung", cfg.OpTimeout+time.Second, calls(st, stored, other))
	_, err := minio.Open(ctx, cfg)
	wantErr(t, "open with MinIO hung", err, storage.ErrUnavailable)
	g.Thaw()

	// Hung in the middle of a photo.
	rc, _, err := st.OpenPhoto(ctx, hexSum(stored))
	if err != nil {
		t.Fatalf("open: got error %v, want none", err)
	}
	if _, err := io.ReadFull(rc, make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
	g.Freeze()
	within(t, "read with MinIO hung", cfg.OpTimeout+time.Second, func() error {
		_, err := io.Copy(io.Discard, rc)
		return err
	})
	rc.Close()
	g.Thaw()

	// Hung while a photo goes in.
	within(t, "put with MinIO hung mid-stream", cfg.OpTimeout+time.Second, func() error {
		big := photo(24<<20, 15)
		r := &freezer{r: bytes.NewReader(big), after: 1 << 20, g: g}
		_, err := st.PutPhoto(ctx, hexSum(big), int64(len(big)), r)
		return err
	})
	g.Thaw()

	// A reader taking its time, or a phone uploading slowly, is no reason to
	// give up.
	var wg sync.WaitGroup
	wg.Go(func() {
		rc, _, err := st.OpenPhoto(ctx, hexSum(stored))
		if err != nil {
			t.Errorf("open: got error %v, want none", err)
			return
		}
		defer rc.Close()
		time.Sleep(cfg.OpTimeout + cfg.OpTimeout/2)
		got, err := io.ReadAll(rc)
		if err != nil || !bytes.Equal(got, stored) {
			t.Errorf("read after a pause of the reader: got %d bytes, error %v; want the photo", len(got), err)
		}
	})
	wg.Go(func() {
		slow := io.MultiReader(bytes.NewReader(other[:2000]), &sleeper{d: cfg.OpTimeout + cfg.OpTimeout/2}, bytes.NewReader(other[2000:]))
		if _, err := st.PutPhoto(ctx, hexSum(other), int64(len(other)), slow); err != nil {
			t.Errorf("put from a slow reader: got error %v, want none", err)
		}
	})
	wg.Wait()
}

// freezer freezes the gate once after bytes have been read from it.
type freezer struct {
	r     io.Reader
	after int
	n     int
	g     *gate
}

func (f *freezer) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	f.n += n
	if f.n >= f.after {
		f.g.Freeze()
	}
	return n, err
}

// sleeper sleeps once, then ends.
type sleeper struct{ d time.Duration }

func (s *sleeper) Read([]byte) (int, error) {
	time.Sleep(s.d)
	return 0, io.EOF
}

func TestOpenRefused(t *testing.T) {
	srv := miniotest.Start(t)
	good := config(t, srv)
	for _, tc := range []struct {
		name string
		edit func(*minio.Config)
		want error
		says string
	}{
		{"no endpoint", func(c *minio.Config) { c.Endpoint = "" }, storage.ErrInvalid, "Endpoint"},
		{"no bucket", func(c *minio.Config) { c.Bucket = "" }, storage.ErrInvalid, "Bucket"},
		{"bad bucket name", func(c *minio.Config) { c.Bucket = "Not_A_Bucket" }, storage.ErrInvalid, "bucket"},
		{"endpoint with scheme", func(c *minio.Config) { c.Endpoint = "http://" + c.Endpoint }, storage.ErrInvalid, "host:port"},
		{"wrong secret", func(c *minio.Config) { c.SecretKey += "x" }, nil, "SecretKey"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := good
			tc.edit(&cfg)
			_, err := minio.Open(t.Context(), cfg)
			if err == nil || tc.want != nil && !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("open: got error %v, want one wrapping %v that mentions %q", err, tc.want, tc.says)
			}
		})
	}
}
