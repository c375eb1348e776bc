//go:build race

package web_test

// raceDetector: the browser journeys run without it (make test runs them in
// a second, plain go test): under it the server is three times slower and
// the journeys take minutes; the server's concurrency has its own race-
// tested suites.
const raceDetector = true
