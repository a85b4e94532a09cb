package main

import (
	"os"
	"testing"
)

func TestHoldTouchesEveryPage(t *testing.T) {
	block := hold(2)
	if len(block) != 2<<20 {
		t.Fatalf("held %d bytes, want %d", len(block), 2<<20)
	}
	for i := 0; i < len(block); i += os.Getpagesize() {
		if block[i] != 1 {
			t.Fatalf("page at %d not touched", i)
		}
	}
}
