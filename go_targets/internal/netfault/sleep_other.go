//go:build !linux

package netfault

import "time"

// preciseSleep sleeps d; off Linux it is time.Sleep.
func preciseSleep(d time.Duration) { time.Sleep(d) }
