// Command hog is the noisy neighbour of the gc_pressure injector's hog method: it
// holds --mb MiB of touched memory (and, with --cpu, spins one CPU) for
// --duration, then exits by itself. It runs beside the target: a local process
// on the local platform, a pod on the target's node on Kubernetes.
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"time"
)

const maxDuration = time.Hour

func main() {
	mb := flag.Int("mb", 256, "MiB to allocate and touch (1..16384)")
	cpu := flag.Bool("cpu", true, "also spin one CPU")
	duration := flag.Duration("duration", 30*time.Second, "exit after this long (at most 1h)")
	flag.Parse()
	if *mb < 1 || *mb > 16384 {
		fmt.Fprintf(os.Stderr, "hog: --mb %d out of range 1..16384\n", *mb)
		os.Exit(2)
	}
	if *duration <= 0 || *duration > maxDuration {
		fmt.Fprintf(os.Stderr, "hog: --duration %s out of range (0, %s]\n", *duration, maxDuration)
		os.Exit(2)
	}
	block := hold(*mb)
	fmt.Printf("hog: holding %d MiB for %s (cpu spin %t)\n", *mb, *duration, *cpu)
	end := time.Now().Add(*duration)
	for time.Now().Before(end) {
		if !*cpu {
			time.Sleep(100 * time.Millisecond)
		}
	}
	runtime.KeepAlive(block)
}

// hold allocates mb MiB and writes every page, so all of it is resident.
func hold(mb int) []byte {
	block := make([]byte, mb<<20)
	for i := 0; i < len(block); i += os.Getpagesize() {
		block[i] = 1
	}
	return block
}
