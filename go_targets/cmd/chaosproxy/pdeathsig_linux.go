package main

import "syscall"

// setPdeathsig asks the kernel to send sig to this process when its parent dies.
func setPdeathsig(sig syscall.Signal) error {
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, syscall.PR_SET_PDEATHSIG, uintptr(sig), 0); errno != 0 {
		return errno
	}
	return nil
}
