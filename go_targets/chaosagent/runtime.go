package chaosagent

import (
	"bufio"
	"bytes"
	"math"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"strings"
	"time"
)

// Quantiles summarises a runtime/metrics histogram, in seconds. Each quantile is
// the upper bound of the bucket it falls in (a conservative estimate); Count is
// the number of samples since the process started.
type Quantiles struct {
	Count uint64  `json:"count"`
	P50   float64 `json:"p50"`
	P99   float64 `json:"p99"`
	Max   float64 `json:"max"`
}

// Runtime is the GET /-/chaos/runtime document.
type Runtime struct {
	Time string `json:"time"`
	// Goroutines counts the program's own goroutines (runtime.NumGoroutine, as
	// Prometheus' go_goroutines): /sched/goroutines also counts the runtime's,
	// such as the GC's mark workers started at the first collection, which would
	// read as a leak between an idle sample before any GC and one after.
	Goroutines       uint64    `json:"goroutines"`
	GOMAXPROCS       uint64    `json:"gomaxprocs"`
	HeapLiveBytes    uint64    `json:"heap_live_bytes"`
	HeapGoalBytes    uint64    `json:"heap_goal_bytes"`
	HeapObjectsBytes uint64    `json:"heap_objects_bytes"`
	TotalMemoryBytes uint64    `json:"total_memory_bytes"`
	GCCycles         uint64    `json:"gc_cycles"`
	GCCyclesForced   uint64    `json:"gc_cycles_forced"`
	GCPercent        uint64    `json:"gc_percent"`
	MemoryLimitBytes uint64    `json:"memory_limit_bytes"`
	GCCPUSeconds     float64   `json:"gc_cpu_seconds"`
	GCPauseSeconds   Quantiles `json:"gc_pause_seconds"`
	SchedLatency     Quantiles `json:"sched_latency_seconds"`
	ActiveActions    []Status  `json:"active_actions"`
	// Creators counts live goroutines by the function that started them; only
	// with ?creators=1, as the dump behind it stops the world briefly.
	Creators map[string]int `json:"creators,omitempty"`
}

var runtimeMetrics = []string{
	"/sched/goroutines:goroutines",
	"/sched/gomaxprocs:threads",
	"/gc/heap/live:bytes",
	"/gc/heap/goal:bytes",
	"/memory/classes/heap/objects:bytes",
	"/memory/classes/total:bytes",
	"/gc/cycles/total:gc-cycles",
	"/gc/cycles/forced:gc-cycles",
	"/gc/gogc:percent",
	"/gc/gomemlimit:bytes",
	"/cpu/classes/gc/total:cpu-seconds",
	"/sched/pauses/total/gc:seconds",
	"/sched/latencies:seconds",
}

// ReadRuntime takes a snapshot of the runtime metrics the agent reports.
func ReadRuntime() Runtime {
	samples := make([]metrics.Sample, len(runtimeMetrics))
	for i, name := range runtimeMetrics {
		samples[i].Name = name
	}
	metrics.Read(samples)
	u := func(i int) uint64 {
		if samples[i].Value.Kind() != metrics.KindUint64 {
			return 0
		}
		return samples[i].Value.Uint64()
	}
	f := func(i int) float64 {
		if samples[i].Value.Kind() != metrics.KindFloat64 {
			return 0
		}
		return samples[i].Value.Float64()
	}
	h := func(i int) Quantiles {
		if samples[i].Value.Kind() != metrics.KindFloat64Histogram {
			return Quantiles{}
		}
		return summarise(samples[i].Value.Float64Histogram())
	}
	return Runtime{
		Time:             time.Now().UTC().Format(time.RFC3339Nano),
		Goroutines:       uint64(runtime.NumGoroutine()),
		GOMAXPROCS:       u(1),
		HeapLiveBytes:    u(2),
		HeapGoalBytes:    u(3),
		HeapObjectsBytes: u(4),
		TotalMemoryBytes: u(5),
		GCCycles:         u(6),
		GCCyclesForced:   u(7),
		GCPercent:        u(8),
		MemoryLimitBytes: u(9),
		GCCPUSeconds:     f(10),
		GCPauseSeconds:   h(11),
		SchedLatency:     h(12),
		ActiveActions:    []Status{},
	}
}

// summarise computes p50, p99 and max of a runtime/metrics histogram, where
// bucket i counts samples in [Buckets[i], Buckets[i+1]).
func summarise(h *metrics.Float64Histogram) Quantiles {
	var q Quantiles
	for _, c := range h.Counts {
		q.Count += c
	}
	if q.Count == 0 {
		return q
	}
	bound := func(i int) float64 { // a finite upper bound for bucket i
		if up := h.Buckets[i+1]; !math.IsInf(up, 0) {
			return up
		}
		if lo := h.Buckets[i]; !math.IsInf(lo, 0) {
			return lo
		}
		return 0
	}
	at := func(p float64) float64 {
		target := uint64(math.Ceil(p * float64(q.Count)))
		var cum uint64
		for i, c := range h.Counts {
			cum += c
			if cum >= target && c > 0 {
				return bound(i)
			}
		}
		return 0
	}
	q.P50 = at(0.50)
	q.P99 = at(0.99)
	for i := len(h.Counts) - 1; i >= 0; i-- {
		if h.Counts[i] > 0 {
			q.Max = bound(i)
			break
		}
	}
	return q
}

// GoroutineCreators counts the live goroutines by the function that created
// them (the "created by" line of each stack in a full goroutine dump), which is
// what names a leak: the surplus after a storm grouped by where it came from.
// Goroutines started by the runtime itself (main, with no creator) are left out.
func GoroutineCreators() map[string]int {
	var dump bytes.Buffer
	if err := pprof.Lookup("goroutine").WriteTo(&dump, 2); err != nil {
		return nil
	}
	creators := map[string]int{}
	lines := bufio.NewScanner(&dump)
	lines.Buffer(make([]byte, 64*1024), 1<<20)
	for lines.Scan() {
		rest, ok := strings.CutPrefix(lines.Text(), "created by ")
		if !ok {
			continue
		}
		fn, _, _ := strings.Cut(rest, " in goroutine ")
		creators[fn]++
	}
	return creators
}
