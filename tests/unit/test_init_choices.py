"""Which live probes `gochaos init` writes, from what a service showed around its reloads: only probes that
showed something, a probe naming the config over one that only moves, never one that moved on a refusal."""

from __future__ import annotations

from chaos.init.config_format import detect
from chaos.init.live_choice import choose
from chaos.init.live_evidence import FieldMove, Observation, digests, flatten, names_hash
from chaos.init.metrics_probe import Moved, moved, parse
from chaos.init.reload_probe import ReloadFindings
from chaos.targets import ReloadTrigger

CONFIG = "listen: 127.0.0.1:4222\nmax_payload: 1024\n"
BROKEN = CONFIG + '\n}\n"x: [{\n'


def seen(action: str, written: str, lines: list[str], **more: object) -> Observation:
    return Observation(action, written, digests(written), lines=lines, **more)  # type: ignore[arg-type]


def nats_like() -> ReloadFindings:
    """SIGHUP reloads; its log names no file hash; /varz moves a load time at each reload."""
    def reload(action: str, text: str) -> Observation:
        return seen(action, text, ["[INF] Reloaded: accounts", "[INF] Reloaded server configuration (sha256:0abc)"],
                    json=[FieldMove(8222, "/varz", "config_load_time", "t0", f"t-{action}")])
    return ReloadFindings(
        trigger=ReloadTrigger.SIGHUP, accepted=[reload("SIGHUP", CONFIG), reload("original back", CONFIG)],
        rejected=seen("unparseable + sighup", BROKEN, ["[ERR] Failed to reload server configuration: Parse error"]))


def test_a_log_probe_one_line_per_reload_and_a_moving_field_when_nothing_names_the_config() -> None:
    choice = choose(nats_like(), {8222: ""})

    assert [p.probe for p in choice.probes] == [
        {"kind": "log", "accepted": "Reloaded server configuration",
         "rejected": "Failed to reload server configuration"},
        {"kind": "json", "path": "/varz", "field": "config_load_time", "moves": True},
    ]


def test_a_log_line_naming_the_written_file_gets_an_id_group_and_the_moving_field_stays_out() -> None:
    digest = digests(CONFIG)[1]
    found = nats_like()
    for observation in found.accepted:
        observation.lines = [f'msg="config reloaded" sha256={digest}']

    choice = choose(found, {8222: "monitor"})

    assert [p.probe["kind"] for p in choice.probes] == ["log"]
    assert choice.probes[0].probe["accepted"] == 'config reloaded" sha256=(?P<id>[0-9a-f]{8,})'
    assert any("config_load_time" in line for line in choice.also)


def test_a_metric_that_moves_when_a_config_is_refused_is_left_out() -> None:
    move = Moved("coredns_reload_version_info", "value", "a", "b")
    refusal = Moved("coredns_reload_failed_total", None, "0", "1")
    found = ReloadFindings(
        trigger=ReloadTrigger.WATCH,
        accepted=[seen("original back", CONFIG, ["[INFO] Reloading", "[INFO] Reloading complete"],
                       metrics={9153: [move]})],
        rejected=seen("unparseable", BROKEN, ["[INFO] Reloading", "[ERROR] Restart failed: parse error"],
                      metrics={9153: [move, refusal]}))

    choice = choose(found, {9153: "metrics"})

    assert [p.probe for p in choice.probes] == [
        {"kind": "log", "accepted": "Reloading complete", "rejected": "Restart failed"}]
    assert any("coredns_reload_version_info moved when the unparseable config was refused" in a for a in choice.also)


def test_nothing_seen_is_a_named_gap_not_a_probe() -> None:
    choice = choose(ReloadFindings(trigger=ReloadTrigger.SIGHUP, assumed=True), {})

    assert choice.probes == []
    assert len(choice.missing) == 2


def test_metrics_moves_by_label_and_by_value_without_the_go_runtime() -> None:
    before = parse('app_config_info{hash="aa"} 1\napp_reloads_total 3\ngo_memstats_buck_hash_sys_bytes 5\n')
    after = parse('app_config_info{hash="bb"} 1\napp_reloads_total 4\ngo_memstats_buck_hash_sys_bytes 6\n')

    assert moved(before, after) == [Moved("app_config_info", "hash", "aa", "bb"),
                                    Moved("app_reloads_total", None, "3", "4")]


def test_json_fields_that_speak_of_the_config_and_hashes_found_by_prefix() -> None:
    assert flatten({"config_digest": "sha256:ab", "now": "t", "memstats": {"BuckHashSys": 1},
                    "reload": {"version": 3}}) == {"config_digest": "sha256:ab", "reload.version": "3"}
    digest = digests("x")[1]
    assert names_hash(f"loaded {digest[:16]}", digests("x")) == digest[:16]


def test_a_conf_file_the_suite_can_write_back_is_parsed_a_corefile_is_text() -> None:
    assert detect("nats.conf", CONFIG).declared == "yaml"
    assert detect("c.yaml", CONFIG).declared is None
    corefile = detect("Corefile", ".:53 {\n    whoami\n}\n")
    assert corefile.declared == "text" and not corefile.parsed
