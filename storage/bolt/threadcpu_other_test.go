//go:build !linux

package bolt

import "time"

// threadCPU is 0 where the thread's CPU time is not read: the cpu-ns/op
// metrics then report 0.
func threadCPU() time.Duration { return 0 }
