//go:build unix

package servertest

import (
	"syscall"
	"time"
)

// CPUTime is the process's CPU time so far, user and system (GC
// included): benchmarks report cpu-ms/op from it, which the machine's
// other load moves less than wall time.
func CPUTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
