//go:build !linux

package main

import "syscall"

// childSysProcAttr: elsewhere the test's cleanup kills the child.
func childSysProcAttr() *syscall.SysProcAttr { return nil }
