//go:build !linux

package miniotest

import "syscall"

// sysProcAttr: only Linux has a parent-death signal; elsewhere a test
// binary that dies without running its cleanups leaves MinIO running.
func sysProcAttr() *syscall.SysProcAttr { return nil }
