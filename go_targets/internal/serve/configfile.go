package serve

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"strings"
	"time"
)

// ConfigHash identifies a config file: the first 12 hex digits of the
// SHA-256 of its bytes (what greeter and hunted report as "hash").
func ConfigHash(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])[:12]
}

// JoinErrors joins the non-nil errors into one line ("a; b"), or returns nil:
// every rule a config breaks, said at once.
func JoinErrors(errs ...error) error {
	var msgs []string
	for _, err := range errs {
		if err != nil {
			msgs = append(msgs, err.Error())
		}
	}
	if len(msgs) == 0 {
		return nil
	}
	return errors.New(strings.Join(msgs, "; "))
}

// PollFile reads path every interval until ctx is done and calls reload when
// changed says its content (or its readability) differs from what the last
// load read: a config watcher for services that poll instead of using inotify.
func PollFile(ctx context.Context, path string, interval time.Duration, changed func(data []byte, err error) bool,
	reload func()) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if data, err := os.ReadFile(path); changed(data, err) {
			reload()
		}
	}
}
