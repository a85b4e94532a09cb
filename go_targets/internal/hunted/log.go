package hunted

import (
	"io"
	"log/slog"

	"github.com/gochaos/gochaos/go_targets/internal/serve"
)

// NewLogger returns the JSON-lines logger hunted writes to stderr: one object
// per line with time (UTC, RFC 3339 with nanoseconds), level in lower case,
// msg, target "hunted" and the event's fields.
func NewLogger(w io.Writer) *slog.Logger {
	return serve.NewLowerCaseLogger(w, "hunted")
}
