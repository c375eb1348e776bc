package minio_test

import (
	"os"
	"testing"

	"github.com/pairsync/pairsync/storage/minio/miniotest"
)

// One MinIO for the whole package.
func TestMain(m *testing.M) { os.Exit(miniotest.Run(m)) }
