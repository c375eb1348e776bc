package miniotest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
)

// BinaryEnv names the environment variable that points at a MinIO server
// binary (the Makefile sets it after running .ci/minio).
const BinaryEnv = "PAIRSYNC_MINIO_BIN"

// errNoBinary: no binary was found where .ci/minio puts it.
var errNoBinary = errors.New("no MinIO server binary")

// binary returns the path of the MinIO server to run: $PAIRSYNC_MINIO_BIN,
// else the one .ci/minio caches for the version it pins. An error wrapping
// errNoBinary means none is built yet.
func binary() (string, error) {
	if bin := os.Getenv(BinaryEnv); bin != "" {
		if _, err := os.Stat(bin); err != nil {
			return "", fmt.Errorf("%s=%s: %w", BinaryEnv, bin, err)
		}
		return bin, nil
	}
	script := ciScript()
	version, err := pinnedVersion(script)
	if err != nil {
		return "", fmt.Errorf("%w: %v", errNoBinary, err)
	}
	if v := os.Getenv("MINIO_VERSION"); v != "" {
		version = v // as .ci/minio does
	}
	cache := os.Getenv("PAIRSYNC_CACHE")
	if cache == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("%w: %v", errNoBinary, err)
		}
		cache = filepath.Join(home, ".cache", "pairsync")
	}
	bin := filepath.Join(cache, "minio-"+version, "minio")
	if _, err := os.Stat(bin); err != nil {
		return "", fmt.Errorf("%w at %s", errNoBinary, bin)
	}
	return bin, nil
}

// ciScript returns the path of .ci/minio, found from this source file.
func ciScript() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return filepath.Join(".ci", "minio")
	}
	// storage/minio/miniotest/binary.go → the repository root.
	return filepath.Join(filepath.Dir(file), "..", "..", "..", ".ci", "minio")
}

var versionLine = regexp.MustCompile(`(?m)^MINIO_VERSION="\$\{MINIO_VERSION:-([^}"]+)\}"`)

// pinnedVersion reads the MinIO version .ci/minio pins.
func pinnedVersion(script string) (string, error) {
	b, err := os.ReadFile(script)
	if err != nil {
		return "", fmt.Errorf("read the pinned MinIO version: %w", err)
	}
	m := versionLine.FindSubmatch(b)
	if m == nil {
		return "", fmt.Errorf("%s: no line MINIO_VERSION=\"${MINIO_VERSION:-…}\"", script)
	}
	return string(m[1]), nil
}
