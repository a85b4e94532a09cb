package netfault

import (
	"syscall"
	"time"
)

// preciseSleep sleeps d (at most a couple of milliseconds) in nanosleep(2),
// which keeps to tens of microseconds where the runtime timer may be ~1 ms late.
func preciseSleep(d time.Duration) {
	if d <= 0 {
		return
	}
	ts := syscall.NsecToTimespec(d.Nanoseconds())
	for syscall.Nanosleep(&ts, &ts) == syscall.EINTR {
	}
}
