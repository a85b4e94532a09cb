package greeter

import (
	"io"
	"log/slog"
	"strings"
	"time"
)

// NewLogger returns the JSON-lines logger greeter writes to stderr: one object
// per line with time (UTC, RFC 3339 with nanoseconds), level in lower case
// (debug, info, warn, error), msg, target "greeter" and the event's fields.
func NewLogger(w io.Writer) *slog.Logger {
	h := slog.NewJSONHandler(w, &slog.HandlerOptions{
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) > 0 {
				return a
			}
			switch a.Key {
			case slog.TimeKey:
				if a.Value.Kind() == slog.KindTime {
					a.Value = slog.StringValue(a.Value.Time().UTC().Format(time.RFC3339Nano))
				}
			case slog.LevelKey:
				if l, ok := a.Value.Any().(slog.Level); ok {
					a.Value = slog.StringValue(strings.ToLower(l.String()))
				}
			}
			return a
		},
	})
	return slog.New(h).With("target", "greeter")
}
