package miniotest

import "syscall"

// sysProcAttr makes the kernel send MinIO SIGTERM when the test binary dies,
// so that a crashed or killed test leaves no server behind.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
