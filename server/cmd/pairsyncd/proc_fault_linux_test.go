package main

import "syscall"

// childSysProcAttr makes the pairsyncd child die with the test binary.
func childSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
