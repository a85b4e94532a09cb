"""A webhook when a run did not pass: a generic JSON document, or a Slack-compatible message.

Sent once (no retries: a chat outage must not stretch a CI job or flood a channel), with a bounded
timeout; a failure to deliver is the caller's one-line warning, never a changed verdict.

generic: {tool, verdict, exit_code, seed (one seed, else null), seeds, replay, report, scenarios[{scenario,
build, verdict, seed, replay, recovery_s, availability, p99_ms}], findings[{scenario, seed, check,
status, summary}], top_finding{scenario, check, status, summary, evidence[text]} | null}.
slack: {text, blocks} (header, the verdict per run, the top finding, replay command and report).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from chaos.report.sanitize import printable
from chaos.verdict import Status

if TYPE_CHECKING:
    from chaos.report.digest import Digest

FORMATS = ("generic", "slack")
Format = Literal["generic", "slack"]
TIMEOUT_S = 5.0
#: Slack refuses a section text over 3000 characters and a header over 150.
_SLACK_TEXT, _SLACK_HEADER = 2900, 150


class DeliveryFailed(Exception):
    """The webhook could not be delivered (one line, for a warning)."""


def wanted(found: Digest) -> bool:
    """Only a run that did not pass is worth a message."""
    return found.verdict is not Status.PASS


def generic(found: Digest) -> dict[str, Any]:
    top = found.top
    return {
        "tool": "gochaos",
        "verdict": found.verdict.value,
        "exit_code": int(found.verdict.exit_code),
        "seed": found.seeds[0] if len(found.seeds) == 1 else None,
        "seeds": found.seeds,
        "replay": found.replay,
        "report": str(found.report) if found.report is not None else None,
        "detection": list(found.detection),
        "scenarios": [{"scenario": r.scenario, "build": r.build, "verdict": r.verdict.value, "seed": r.seed,
                       "replay": r.replay, "recovery_s": r.recovery_s, "availability": r.availability,
                       "p99_ms": r.p99_ms} for r in found.runs],
        "findings": [{"scenario": r.scenario, "seed": r.seed, "check": f.check, "status": f.status.value,
                      "summary": printable(f.summary)} for r in found.runs for f in r.problems],
        "top_finding": None if top is None else {
            "scenario": top.run.scenario, "seed": top.run.seed, "check": top.finding.check,
            "status": top.finding.status.value, "summary": printable(top.finding.summary),
            "evidence": [printable(e.text) for e in top.finding.evidence[:5]]},
    }


def slack(found: Digest) -> dict[str, Any]:
    names = ", ".join(dict.fromkeys(r.scenario for r in found.runs))
    headline = f"gochaos {found.verdict.value.upper()}: {names}"
    rows = "\n".join(f"• *{r.scenario}* ({r.build}, seed {r.seed}): {r.verdict.value.upper()}"
                     + (f" — {r.problems[0].check}: {printable(r.problems[0].summary)}" if r.problems else "")
                     for r in found.runs)
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _cut(headline, _SLACK_HEADER)}},
        {"type": "section", "text": {"type": "mrkdwn", "text": _cut(rows, _SLACK_TEXT)}},
    ]
    if found.detection:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _cut("\n".join(found.detection),
                                                                                  _SLACK_TEXT)}})
    if found.top is not None:
        evidence = printable(found.top.finding.evidence[0].text) if found.top.finding.evidence else ""
        text = f"*Top finding* `{found.top.finding.check}`: {printable(found.top.finding.summary)}"
        if evidence:
            text += "\n```" + _cut(evidence, 1500).replace("```", "'''") + "```"
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _cut(text, _SLACK_TEXT)}})
    context = [f"seed {', '.join(str(s) for s in found.seeds)}"]
    if found.replay:
        context.append(f"replay: `{found.replay}`")
    if found.report is not None:
        context.append(f"report: {found.report}")
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": _cut(" · ".join(context), _SLACK_TEXT)}]})
    top = f"; {found.top.finding.check}: {printable(found.top.finding.summary)}" if found.top else ""
    return {"text": _cut(f"{headline}{top} (replay: {found.replay})", _SLACK_TEXT), "blocks": blocks}


def document(found: Digest, form: Format) -> dict[str, Any]:
    return slack(found) if form == "slack" else generic(found)


def send(url: str, payload: dict[str, Any], *, timeout_s: float = TIMEOUT_S) -> None:
    """POST `payload` as JSON once; DeliveryFailed (one line) when it did not get a 2xx answer."""
    # deferred: requests is slow to import, and the CLI reads this module's FORMATS for every --help
    import requests

    try:
        answer = requests.post(url, json=payload, timeout=timeout_s, allow_redirects=False)
    except requests.RequestException as e:
        raise DeliveryFailed(f"{type(e).__name__}: {' '.join(str(e).split())[:300]}") from e
    if not 200 <= answer.status_code < 300:
        raise DeliveryFailed(f"HTTP {answer.status_code} {answer.reason}: {answer.text[:200].strip()}")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"
