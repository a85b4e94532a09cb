"""A scenario written in Python (the gochaos_* fixtures) says what its YAML file would say."""

from __future__ import annotations

from pathlib import Path

from chaos.pytest_plugin.scenario_fixtures import ScenarioDraft


def test_a_load_at_a_constant_rate_is_the_files_load_rate(tmp_path: Path) -> None:
    draft = ScenarioDraft(name="rated", source=str(tmp_path / "test_x.py"), base_dir=tmp_path)
    configd = draft.target("configd")
    draft.load(configd, users=4, user="http", rate=40)
    draft.oracle("panics")
    scenario = draft.scenario(baseline_s=1, observe_s=1, etcd=None)
    (load,) = scenario.load if isinstance(scenario.load, tuple) else (scenario.load,)
    assert load is not None and (load.rate, load.users, load.user) == (40, 4, "http")
