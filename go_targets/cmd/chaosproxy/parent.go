package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

// pdeathSignal is what the kernel sends when the parent dies (PR_SET_PDEATHSIG):
// not SIGTERM, so that it can be told apart from a stop request — Linux also
// sends it when only the parent's *thread* that started us ends, which
// watchParent recognises (the parent process still runs) and ignores.
const pdeathSignal = syscall.SIGUSR2

// watchParent cancels ctx once process pid is gone: polled every poll, and,
// when pid is this process's parent, also on the kernel's parent-death signal.
func watchParent(ctx context.Context, cancel context.CancelCauseFunc, log *slog.Logger, pid int, poll time.Duration) error {
	if !alive(pid) {
		return fmt.Errorf("--parent-pid %d: no such process", pid)
	}
	direct := os.Getppid() == pid
	pdeath := make(chan os.Signal, 1)
	if direct {
		signal.Notify(pdeath, pdeathSignal)
		if err := setPdeathsig(pdeathSignal); err != nil {
			log.Warn("pdeathsig_unavailable", "error", err.Error())
		}
	}
	gone := func() bool { return (direct && os.Getppid() != pid) || !alive(pid) }
	stop := func(via string) {
		log.Info("parent_gone", "parent_pid", pid, "via", via)
		cancel(fmt.Errorf("parent pid %d gone (%s)", pid, via))
	}
	go func() {
		t := time.NewTicker(poll)
		defer t.Stop()
		for {
			if gone() { // also right away: the parent may have died before the prctl
				stop("poll")
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-pdeath:
				if gone() {
					stop("pdeathsig")
					return
				}
				log.Warn("pdeathsig_ignored", "parent_pid", pid,
					"reason", "the parent process still runs (the thread that started this one ended, or a stray signal)")
			case <-t.C:
			}
		}
	}()
	return nil
}

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true // no procfs: trust kill(2)
	}
	// pid (comm) STATE ...: comm may hold spaces and parentheses.
	if i := bytes.LastIndexByte(stat, ')'); i >= 0 && i+2 < len(stat) && stat[i+2] == 'Z' {
		return false
	}
	return true
}
