//go:build !linux

package main

import (
	"errors"
	"syscall"
)

// setPdeathsig is Linux-only; elsewhere --parent-pid is polled only.
func setPdeathsig(syscall.Signal) error { return errors.New("PR_SET_PDEATHSIG is Linux-only") }
