"""Where a run's reports go: its files in the run directory, then the places teams look.

Files (`write_files`): report.json, junit.xml, report.html, summary.md and metrics.prom; a report
that cannot be written is named, the others are still written. Then (`deliver`): summary.md appended
to the CI step summary (`$GITHUB_STEP_SUMMARY`), the metrics pushed to a Prometheus Pushgateway
(one group per scenario: job `gochaos`, grouping key `scenario`), and a webhook when the run did not
pass. Delivery never changes a verdict: whatever fails is one warning line, and says so.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from prometheus_client import push_to_gateway

from chaos.report import html, json_report, junit, markdown, openmetrics, webhook
from chaos.report.digest import digest
from chaos.report.webhook import Format

if TYPE_CHECKING:
    from chaos.run_result import RunResult

Warn = Callable[[str], None]
JOB = "gochaos"
PUSH_TIMEOUT_S = 5.0
UNCHANGED = "the verdict is unchanged"


@dataclass(frozen=True, slots=True)
class Destinations:
    """Where reports go beyond the run directory (each optional)."""

    pushgateway: str | None = None
    webhook: str | None = None
    webhook_format: Format = "generic"
    #: A file to append summary.md to: GitHub's `$GITHUB_STEP_SUMMARY`.
    step_summary: Path | None = None


def http_url(value: str) -> str:
    """`value` when it is an http(s) URL with a host (a bare host:port means http); ValueError if not."""
    url = value.strip()
    if "://" not in url:
        url = f"http://{url}"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port out of range or not a number
    except ValueError as e:
        raise ValueError(f"{value!r} is not a URL ({e})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{value!r} is not an http(s) URL with a host; pass e.g. http://127.0.0.1:9091")
    return url


def write_files(results: Sequence[RunResult], directory: Path, warn: Warn) -> tuple[list[Path], list[str]]:
    """Every report file of `results` into `directory`: (paths written, kinds that could not be)."""
    documents = [json_report.to_dict(r) for r in results]
    single = len(results) == 1

    def json_file() -> Path:
        return json_report.write(results[0], directory) if single else json_report.write_many(results, directory)

    def junit_file() -> Path:
        return junit.write(results[0], directory) if single else junit.write_many(results, directory)

    def html_file() -> Path:
        return html.write(results[0], directory) if single else html.write_many(results, directory)

    writers: tuple[tuple[str, Callable[[], Path]], ...] = (
        ("json", json_file), ("junit", junit_file), ("html", html_file),
        ("markdown", lambda: markdown.write_many(results, directory)),
        ("metrics", lambda: openmetrics.write_many(documents, directory)),
    )
    written: list[Path] = []
    missing: list[str] = []
    for kind, write in writers:
        try:
            written.append(write())
        except Exception as e:  # a broken report must not hide the verdict; say so and go on
            missing.append(kind)
            warn(f"could not write the {kind} report to {directory}: {e!r}")
    return written, missing


def deliver(results: Sequence[RunResult], to: Destinations, *, run_dir: Path | None, warn: Warn) -> None:
    """The step summary, the Pushgateway and the webhook, each tried once; trouble is a warning."""
    found = digest(results, report=run_dir)
    if to.step_summary is not None:
        try:
            markdown.append_step_summary(to.step_summary, markdown.render(found))
        except OSError as e:
            warn(f"could not append the summary to {to.step_summary}: {e.strerror or e}; {UNCHANGED}")
    if to.pushgateway is not None:
        push(to.pushgateway, results, warn)
    if to.webhook is not None and webhook.wanted(found):
        try:
            webhook.send(to.webhook, webhook.document(found, to.webhook_format))
        except webhook.DeliveryFailed as e:
            warn(f"could not deliver the webhook to {to.webhook}: {e}; {UNCHANGED}")


def push(url: str, results: Sequence[RunResult], warn: Warn) -> bool:
    """Push each scenario's series to the Pushgateway at `url`; stops at the first failure (one warning)."""
    documents = [json_report.to_dict(r) for r in results]
    for name, registry in openmetrics.by_scenario(documents).items():
        try:
            push_to_gateway(url, job=JOB, registry=registry, grouping_key={"scenario": name},
                            timeout=PUSH_TIMEOUT_S)
        except Exception as e:  # URLError, HTTPError, timeouts: the gateway is not the gate
            reason = " ".join(str(getattr(e, "reason", None) or e).split())[:300]
            warn(f"could not push metrics to the Pushgateway at {url}: {type(e).__name__}: {reason}; {UNCHANGED}")
            return False
    return True
