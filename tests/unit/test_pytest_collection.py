"""Which files the pytest plugin collects: look-alikes (Chaos Mesh manifests) are skipped with the reason,
invalid scenarios fail loudly, `gochaos_collect` / `gochaos_scenarios` scope it, `-m "not gochaos"`
deselects its items, and a project without scenario files runs exactly as without the plugin.

Nothing here runs a scenario: runs that would collect a valid one use `--collect-only`."""

from __future__ import annotations

import re

import pytest

import chaos.scenario  # noqa: F401  (imported once here: each in-process run would import it again)
from chaos.pytest_plugin.collection import sniff

pytest_plugins = ["pytester"]

POD_CHAOS = """\
apiVersion: chaos-mesh.org/v1alpha1
kind: PodChaos
metadata:
  name: pod-kill
spec:
  action: pod-kill
  mode: one
  selector:
    labelSelectors: {app: configd}
"""
SCENARIO = "name: quiet\ntargets:\n  - bundled: configd\nfaults: []\n"
PASSING = "def test_passes():\n    pass\n"


@pytest.fixture(autouse=True)
def _own_ini(pytester: pytest.Pytester) -> None:
    """Each project has its own (empty) pytest.ini, so nothing above the temporary directory applies."""
    pytester.makeini("[pytest]\n")


@pytest.mark.parametrize(("text", "why"), [
    (POD_CHAOS, "a Kubernetes manifest (apiVersion chaos-mesh.org/v1alpha1, kind PodChaos)"),
    ("---\n" + POD_CHAOS + "---\napiVersion: v1\nkind: ConfigMap\ndata: {a: b}\n",
     "a Kubernetes manifest (apiVersion chaos-mesh.org/v1alpha1, kind PodChaos)"),
    ("{{- if .Values.chaos.enabled }}\n" + POD_CHAOS.replace("PodChaos", "NetworkChaos") + "{{- end }}\n",
     "a Kubernetes manifest (apiVersion chaos-mesh.org/v1alpha1, kind NetworkChaos)"),
    ("title: kill a pod\nmethod:\n  - type: action\n", "none of its top-level keys (title, method) is one of a "
     "scenario (etcd, faults, jobs, load, oracles, scenarios, seed, targets, windows)"),
    ("", "empty"),
    ("- a\n- b\n", "a YAML list at the top level"),
], ids=["chaos-mesh", "multi-document", "helm-template", "other-tool", "empty", "list"])
def test_a_file_that_is_no_scenario_is_skipped_with_the_reason(pytester: pytest.Pytester, text: str,
                                                               why: str) -> None:
    (pytester.path / "x.chaos.yaml").write_text(text)
    pytester.makepyfile(test_other=PASSING)
    result = pytester.runpytest("-p", "no:cacheprovider", "-ra")
    assert result.ret == pytest.ExitCode.OK
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines([f"SKIPPED [[]1[]] x.chaos.yaml: not a gochaos scenario: {why}"])


def test_an_invalid_scenario_fails_collection_and_says_why_it_counts_as_one(pytester: pytest.Pytester) -> None:
    (pytester.path / "broken.chaos.yaml").write_text("name: broken\ntargets:\n  - bundled: confgd\n")
    pytester.makepyfile(test_other=PASSING)
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([
        "*broken.chaos.yaml:3: targets.0: unknown bundled target 'confgd'; did you mean 'configd'?*",
        "(collected as a gochaos scenario for its top-level targets; if it is not one: rename it, narrow ini "
        "gochaos_scenarios or set gochaos_collect = false)",
    ])


def test_a_scenario_with_kubernetes_keys_is_still_a_broken_scenario(pytester: pytest.Pytester) -> None:
    """A key only a scenario has wins: the file is the user's, and `apiVersion` is its mistake."""
    (pytester.path / "odd.chaos.yaml").write_text("apiVersion: v1\nkind: Scenario\n" + SCENARIO)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*odd.chaos.yaml*apiVersion*"])


def test_not_gochaos_deselects_scenario_items_and_tests_using_its_fixtures(pytester: pytest.Pytester) -> None:
    (pytester.path / "quiet.chaos.yaml").write_text(SCENARIO)
    pytester.makepyfile(test_mixed=PASSING + "\ndef test_uses_gochaos(gochaos_timeline):\n    pass\n")
    kept = pytester.runpytest("-p", "no:cacheprovider", "--collect-only", "-q", "-m", "not gochaos")
    assert kept.ret == pytest.ExitCode.OK
    kept.stdout.fnmatch_lines(["test_mixed.py::test_passes", "", "1/3 tests collected (2 deselected) in *"],
                              consecutive=True)
    chosen = pytester.runpytest("-p", "no:cacheprovider", "--collect-only", "-q", "-m", "gochaos")
    chosen.stdout.fnmatch_lines(["quiet.chaos.yaml::quiet", "test_mixed.py::test_uses_gochaos", "",
                                 "2/3 tests collected (1 deselected) in *"], consecutive=True)


def _comparable(lines: list[str]) -> list[str]:
    """The output without what differs between two runs anyway: the plugin list and the durations."""
    return [re.sub(r" in \d+\.\d+s\b", " in Ns", line) for line in lines if not line.startswith("plugins:")]


def test_a_project_without_scenario_files_runs_as_without_the_plugin(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_plain="""
        import pytest

        def test_passes():
            pass

        def test_fails():
            assert 1 == 2

        @pytest.mark.skip(reason="not today")
        def test_skipped():
            pass
    """)
    (pytester.path / "notes.yaml").write_text("apiVersion: v1\nkind: ConfigMap\n")
    (pytester.path / "chaos.yaml").write_text("title: not matched by *.chaos.yaml\n")
    with_plugin = pytester.runpytest("-p", "no:cacheprovider", "-ra")
    without = pytester.runpytest("-p", "no:cacheprovider", "-ra", "-p", "no:gochaos")
    assert "gochaos" not in "\n".join(without.outlines)  # the plugin was really off
    assert with_plugin.ret == without.ret == pytest.ExitCode.TESTS_FAILED
    with_plugin.assert_outcomes(passed=1, failed=1, skipped=1)
    assert _comparable(with_plugin.outlines) == _comparable(without.outlines)
    assert with_plugin.errlines == without.errlines == []


def test_gochaos_collect_no_turns_collection_off_and_the_option_overrides_it(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\ngochaos_collect = false\n")
    (pytester.path / "quiet.chaos.yaml").write_text(SCENARIO)
    (pytester.path / "broken.chaos.yaml").write_text("name: broken\ntargets: []\n")
    pytester.makepyfile(test_other=PASSING)
    off = pytester.runpytest("-p", "no:cacheprovider")
    assert off.ret == pytest.ExitCode.OK
    off.assert_outcomes(passed=1)
    on = pytester.runpytest("-p", "no:cacheprovider", "--collect-only", "-q", "--gochaos-collect", "yes",
                            "quiet.chaos.yaml", "test_other.py")
    on.stdout.fnmatch_lines(["quiet.chaos.yaml::quiet", "test_other.py::test_passes", "", "2 tests collected in *"],
                            consecutive=True)


def test_a_bad_gochaos_collect_is_one_usage_line(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\ngochaos_collect = sometimes\n")
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: gochaos: ini gochaos_collect: invalid truth value 'sometimes'; give true or "
                                 "false"])
    option = pytester.runpytest("-p", "no:cacheprovider", "--gochaos-collect", "maybe")
    assert option.ret == pytest.ExitCode.USAGE_ERROR
    option.stderr.fnmatch_lines(["ERROR: gochaos: --gochaos-collect 'maybe' is neither yes nor no; give one of them"])


def test_gochaos_scenarios_says_which_files_are_scenarios(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\ngochaos_scenarios =\n    gates/*.chaos.yaml\n    *.gochaos.yml\n")
    for path in ("gates/quiet.chaos.yaml", "deploy/pod-kill.chaos.yaml", "other.gochaos.yml"):
        (pytester.path / path).parent.mkdir(exist_ok=True)
        (pytester.path / path).write_text(POD_CHAOS if "pod-kill" in path else SCENARIO.replace("quiet", "other")
                                          if "other" in path else SCENARIO)
    result = pytester.runpytest("-p", "no:cacheprovider", "--collect-only", "-q")
    result.stdout.fnmatch_lines(["gates/quiet.chaos.yaml::quiet", "other.gochaos.yml::other", "",
                                 "2 tests collected in *"], consecutive=True)
    named = pytester.runpytest("-p", "no:cacheprovider", "--collect-only", "-q", "-ra",
                               "--gochaos-scenarios", "deploy/*")
    named.stdout.fnmatch_lines(["SKIPPED [[]1[]] deploy/pod-kill.chaos.yaml: not a gochaos scenario: a Kubernetes "
                                "manifest (apiVersion chaos-mesh.org/v1alpha1, kind PodChaos)",
                                "no tests collected in *"], consecutive=True)


def test_a_suite_and_a_scenario_without_name_are_scenarios_by_their_keys() -> None:
    assert sniff("name: gate\nscenarios: [a.chaos.yaml]\n").not_a_scenario() is None
    assert sniff("faults: []\n").not_a_scenario() is None
    assert sniff("name: x\ndescription: only generic keys\n").not_a_scenario() == (
        "none of its top-level keys (name, description) is one of a scenario (etcd, faults, jobs, load, oracles, "
        "scenarios, seed, targets, windows)")
    assert sniff("!!binary x: 1\n{").not_a_scenario() == "not YAML with top-level keys"
