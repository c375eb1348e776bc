// Package miniotest runs a real MinIO server on 127.0.0.1 for tests: the
// binary .ci/minio builds (or $PAIRSYNC_MINIO_BIN), with random credentials
// and its data in a temporary directory.
//
//	srv := miniotest.Start(t) // shared by the tests running at once; skips without a binary
//	photos, err := minio.Open(ctx, minio.Config{
//		Endpoint: srv.Endpoint, AccessKey: srv.AccessKey, SecretKey: srv.SecretKey,
//		Bucket: miniotest.Bucket(t), // a fresh bucket per test
//	})
//
//	own := miniotest.StartPrivate(t) // a server of the test's own
//	own.Stop()                       // requests are refused…
//	own.Restart()                    // …until it serves again, same address and data
//
// A package whose tests call Start in several top-level tests keeps one
// server for the whole binary with
//
//	func TestMain(m *testing.M) { os.Exit(miniotest.Run(m)) }
//
// Only processes the package started are ever signalled, by their PID. On
// Linux a server also dies with the test binary (parent-death signal).
package miniotest
