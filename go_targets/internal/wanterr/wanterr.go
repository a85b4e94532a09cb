// Package wanterr checks an error against a table test's expectation: none ("") or one whose
// message contains the wanted text.
package wanterr

import (
	"strings"
	"testing"
)

// Check fails t when err does not match want: "" wants no error, anything else an error containing it.
func Check(t testing.TB, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Fatalf("want valid, got %v", err)
	case want != "" && err == nil:
		t.Fatalf("want error containing %q, got none", want)
	case want != "" && !strings.Contains(err.Error(), want):
		t.Fatalf("want error containing %q, got %q", want, err)
	}
}
