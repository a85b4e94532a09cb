"""Reading a Go service's runtime from what it already serves: the Go collector's Prometheus samples and
net/http/pprof's goroutine dump (whose `created by` lines name a leak's creator), and config names as
services shorten them."""

from __future__ import annotations

from chaos.configs.identity import matches_name
from chaos.observe.runtime_sources import from_goroutine_dump, from_prometheus

PROMETHEUS = """\
# HELP go_goroutines Number of goroutines that currently exist.
# TYPE go_goroutines gauge
go_goroutines 14
# HELP go_memstats_heap_alloc_bytes Number of heap bytes allocated and currently in use.
# TYPE go_memstats_heap_alloc_bytes gauge
go_memstats_heap_alloc_bytes 3.4568e+06
greeter_config_info{hash="aff6b6434974"} 1
"""

DUMP = """\
goroutine 1 [IO wait]:
internal/poll.runtime_pollWait(0x7f, 0x72)
\t/usr/local/go/src/runtime/netpoll.go:351 +0x85
main.main()
\t/src/cmd/greeter/main.go:40 +0x1d

goroutine 18 [chan receive, 2 minutes]:
github.com/acme/greeter/internal/greeter.(*Server).refreshQuota(0xc000120000, 0xc0000a2060)
\t/src/internal/greeter/server.go:230 +0x9c
created by github.com/acme/greeter/internal/greeter.(*Server).startQuota in goroutine 7
\t/src/internal/greeter/server.go:221 +0x65

goroutine 19 [chan receive, 2 minutes]:
github.com/acme/greeter/internal/greeter.(*Server).refreshQuota(0xc000120000, 0xc0000a2060)
\t/src/internal/greeter/server.go:230 +0x9c
created by github.com/acme/greeter/internal/greeter.(*Server).startQuota in goroutine 7
\t/src/internal/greeter/server.go:221 +0x65

goroutine 7 [select]:
net/http.(*persistConn).writeLoop(0xc0001b2000)
\t/usr/local/go/src/net/http/transport.go:2519 +0xe7
created by net/http.(*Transport).dialConn
\t/usr/local/go/src/net/http/transport.go:1875 +0x15a5
"""


def test_the_go_collectors_samples_give_goroutines_and_heap() -> None:
    snapshot = from_prometheus(PROMETHEUS)
    assert snapshot is not None
    assert (snapshot.goroutines, snapshot.heap_bytes) == (14, 3456800)
    assert from_prometheus("greeter_config_info{hash=\"x\"} 1\n") is None, "no go_goroutines: not a source"


def test_a_goroutine_dump_counts_every_goroutine_and_names_who_created_them() -> None:
    snapshot = from_goroutine_dump(DUMP)
    assert snapshot is not None and snapshot.goroutines == 4 and snapshot.heap_bytes is None
    assert snapshot.creators == {"github.com/acme/greeter/internal/greeter.(*Server).startQuota": 2,
                                 "net/http.(*Transport).dialConn": 1}
    assert from_goroutine_dump("404 page not found\n") is None


def test_a_hash_shortened_by_the_service_still_names_its_write() -> None:
    full = "aff6b6434974" + "0" * 52
    assert matches_name("aff6b6434974", frozenset({full}))
    assert matches_name("AFF6B643", frozenset({full})), "hex in upper case, 8 digits"
    assert not matches_name("aff6b64", frozenset({full})), "under 8 digits says too little"
    assert not matches_name("v7", frozenset({full})) and matches_name("v7", frozenset({"v7"}))
