package configd

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Watch watches the directory holding path (not the file itself) and calls
// trigger for every event that can change what path reads, until ctx is done.
// Watching the directory is what makes all the ways a file gets replaced
// visible: rename-replace (sed -i, editors: Create of the file's name),
// truncate-and-write in place (Write), deletion (Remove), and the Kubernetes
// ConfigMap volume swap, where path is a symlink through "..data" and the
// kubelet renames a new "..data" symlink into place (Create of "..data").
func Watch(ctx context.Context, path string, log *slog.Logger, trigger func(reason string)) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("watch %s: %w", path, err)
	}
	dir, base := filepath.Split(filepath.Clean(path))
	if dir == "" {
		dir = "."
	}
	if err := w.Add(dir); err != nil {
		_ = w.Close()
		return fmt.Errorf("watch directory %s: %w", dir, err)
	}
	log.Info("watching", "dir", dir, "file", base)
	go func() {
		defer w.Close()
		for {
			select {
			case <-ctx.Done():
				return
			case ev, ok := <-w.Events:
				if !ok {
					return
				}
				if relevant(ev, base) {
					trigger("watch")
				}
			case err, ok := <-w.Errors:
				if !ok {
					return
				}
				log.Error("watch_error", "dir", dir, "error", err.Error())
			}
		}
	}()
	return nil
}

func relevant(ev fsnotify.Event, base string) bool {
	name := filepath.Base(ev.Name)
	if name != base && name != "..data" {
		return false
	}
	return ev.Has(fsnotify.Create) || ev.Has(fsnotify.Write) || ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename)
}

// debouncer runs fn once events stop arriving for d; with d <= 0 it runs fn
// for every event. Runs never overlap.
type debouncer struct {
	d  time.Duration
	fn func(trigger string)

	mu      sync.Mutex
	timer   *time.Timer
	trigger string
	run     sync.Mutex
}

func newDebouncer(d time.Duration, fn func(string)) *debouncer {
	return &debouncer{d: d, fn: fn}
}

func (b *debouncer) fire(trigger string) {
	if b.d <= 0 {
		go b.call(trigger)
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.trigger = trigger
	if b.timer == nil {
		b.timer = time.AfterFunc(b.d, func() {
			b.mu.Lock()
			t := b.trigger
			b.timer = nil
			b.mu.Unlock()
			b.call(t)
		})
		return
	}
	b.timer.Reset(b.d)
}

func (b *debouncer) call(trigger string) {
	b.run.Lock()
	defer b.run.Unlock()
	b.fn(trigger)
}
