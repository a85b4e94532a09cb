package wanterr

import (
	"errors"
	"testing"
)

func TestCheckAcceptsWhatIsWanted(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"no error wanted, none", nil, ""},
		{"error wanted, contained", errors.New("limits.burst: 0 must be > 0"), "must be > 0"},
	} {
		t.Run(tc.name, func(t *testing.T) { Check(t, tc.err, tc.want) })
	}
}
