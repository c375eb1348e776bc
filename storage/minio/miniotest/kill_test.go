package miniotest

import "syscall"

// syscallKill0 reports whether process pid exists (signal 0).
func syscallKill0(pid int) error { return syscall.Kill(pid, 0) }
