"""The pytest plugin as a user meets it: options in --help, fixtures in a fresh test session."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration
pytest_plugins = ["pytester"]


def test_options_are_grouped_under_gochaos(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--help")
    result.stdout.fnmatch_lines(["gochaos: chaos testing of Go services:", "*--gochaos-platform*",
                                 "*--gochaos-report-dir*", "*--gochaos-etcd-members*"])


def test_fixtures_start_targets_and_etcd_and_clean_up(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import requests

        SEEN = {}

        def test_configd_and_kvd(make_target, etcd_cluster, chaos_timeline):
            configd = make_target("configd", reload_strategy="atomic")
            assert requests.get(configd.endpoint.url + "/", timeout=5).ok
            kvd = make_target("kvd", etcd=etcd_cluster)
            assert requests.get(kvd.endpoint.url + "/-/readyz", timeout=5).ok
            SEEN["pids"] = [e.details["pid"] for e in chaos_timeline.events(kind="target.start")]
            SEEN["etcd"] = [m.process.pid for m in etcd_cluster.members]

        def test_everything_is_gone_afterwards():
            import os
            for pid in SEEN["pids"] + SEEN["etcd"]:
                try:
                    state = open(f"/proc/{pid}/stat").read().split(") ")[1][0]
                except OSError:
                    continue
                assert state == "Z", f"pid {pid} still running"
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--gochaos-etcd-members", "1")
    result.assert_outcomes(passed=2)
