"""Which live probes to write, from what the service showed around init's reloads — only probes that did show
something, so none of them is a probe the run would find silent.

Preference: a probe that names WHICH config is live (a log line, JSON field or metric holding the
written file's hash) over one that only moves at a reload (a timestamp, a counter). A moving probe
is written only when nothing names the config: it tells the run a reload happened, not which one.
A log probe gets a `rejected` regex when the unparseable config made the service say so.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from chaos.init import log_patterns
from chaos.init.live_evidence import Observation, names_hash
from chaos.init.metrics_probe import FAILURES, SUCCESS
from chaos.init.reload_probe import ReloadFindings

_IDENTITY_FIELD = re.compile(r"hash|digest|checksum|sha", re.IGNORECASE)


@dataclass(frozen=True)
class Proposal:
    """A live probe as the scenario writes it, and the comment that says what init saw."""

    probe: dict[str, Any]
    why: str


@dataclass
class LiveChoice:
    probes: list[Proposal] = field(default_factory=list)
    #: What was looked for and not found, for the comments.
    missing: list[str] = field(default_factory=list)
    #: Other signals seen (not written as probes), for the comments.
    also: list[str] = field(default_factory=list)


def choose(found: ReloadFindings, port_names: Mapping[int, str]) -> LiveChoice:
    """Live probes from `found`; `port_names` maps a port to its name in the scenario ("" for the main port)."""
    choice = LiveChoice()
    log = _log_probe(found)
    if log is not None:
        choice.probes.append(log)
    else:
        choice.missing.append("log: no output line that speaks of the reload in every accepted reload "
                              "(and of no refused one)")
    identity = [p for p in (_json_probe(found, port_names, identity=True), _metrics_probe(found, port_names,
                                                                                          identity=True)) if p]
    moving = [p for p in (_json_probe(found, port_names, identity=False), _metrics_probe(found, port_names,
                                                                                         identity=False)) if p]
    if identity:
        choice.probes += identity
        choice.also += [f"also moves at each reload (not written: the probes above name the config): {p.why}"
                        for p in moving]
    elif log is not None and "(?P<id>" in str(log.probe.get("accepted")):
        choice.also += [f"also moves at each reload (not written: the log names the config): {p.why}" for p in moving]
    else:
        choice.probes += moving[:1]
        choice.also += [f"also moves at each reload: {p.why}" for p in moving[1:]]
    choice.also += _moved_on_refusal(found)
    if not identity and not moving:
        choice.missing.append("metrics / JSON: no config-ish sample or field (config, reload, hash, digest, "
                              "version, load_time) moved at a reload")
    return choice


def _every(found: ReloadFindings) -> list[Observation]:
    return [seen for seen in found.accepted if seen.showed]


def _log_probe(found: ReloadFindings) -> Proposal | None:
    accepted = _every(found)
    if not accepted:
        return None
    refused = found.rejected.lines if found.rejected is not None and found.refused else []
    candidates: list[str] = []
    for seen in accepted:
        for line in seen.reload_lines:
            if line in log_patterns.failure_lines([line]):
                continue
            digest = names_hash(line, seen.hashes)
            for pattern in (*log_patterns.propose(line, log_patterns.RELOAD_WORDS, [digest] if digest else []),
                            *log_patterns.propose(line, log_patterns.RELOAD_WORDS)):
                if pattern not in candidates:
                    candidates.append(pattern)
    # a regex that names the config first, then one that matches one line per reload (not every line of a
    # reload's report), then the longest: the most specific message
    candidates.sort(key=lambda p: ("(?P<id>" not in p, not _once_each(p, accepted), -len(p)))
    good = next((p for p in candidates if all(_matches(p, seen.lines) for seen in accepted)
                 and not _matches(p, refused) and _ids_match(p, accepted)), None)
    if good is None:
        return None
    probe: dict[str, Any] = {"kind": "log", "accepted": good}
    why = f"accepted: seen after {', '.join(sorted({seen.action for seen in accepted}))}"
    rejected = _rejected_pattern(found, accepted)
    if rejected is not None:
        probe["rejected"] = rejected
        why += f"; rejected: seen after the unparseable config ({found.rejected.failure_lines[0].strip()[:90]!r})" \
            if found.rejected is not None else ""
    else:
        why += "; rejected: TODO, the unparseable config showed no failure line"
    return Proposal(probe, why)


def _rejected_pattern(found: ReloadFindings, accepted: list[Observation]) -> str | None:
    if found.rejected is None or not found.refused:
        return None
    lines = found.rejected.failure_lines
    accepted_lines = [line for seen in accepted for line in seen.lines]
    candidates = {pattern for line in lines for keyword in (log_patterns.FAIL_WORDS, log_patterns.RELOAD_WORDS)
                  for pattern in log_patterns.propose(line, keyword)}
    # a message that speaks of the reload (not any error line), the longest first
    ranked = sorted(candidates, key=lambda p: (not log_patterns.RELOAD_WORDS.search(p), " " not in p, -len(p), p))
    return next((p for p in ranked if log_patterns.confirmed(p, lines, accepted_lines)), None)


def _once_each(pattern: str, accepted: list[Observation]) -> bool:
    compiled = re.compile(pattern)
    return all(sum(1 for line in seen.lines if compiled.search(line)) == 1 for seen in accepted)


def _matches(pattern: str, lines: list[str]) -> bool:
    compiled = re.compile(pattern)
    return any(compiled.search(line) for line in lines)


def _ids_match(pattern: str, accepted: list[Observation]) -> bool:
    """A regex with an `id` group must capture the written file's hash in every accepted reload."""
    if "(?P<id>" not in pattern:
        return True
    compiled = re.compile(pattern)
    for seen in accepted:
        ids = [m.group("id") for line in seen.lines if (m := compiled.search(line))]
        if not any(names_hash(found_id, seen.hashes) for found_id in ids):
            return False
    return True


def _json_probe(found: ReloadFindings, port_names: Mapping[int, str], *, identity: bool) -> Proposal | None:
    accepted = _every(found)
    if not accepted:
        return None
    moves: dict[tuple[int, str, str], list[str]] = {}
    for seen in accepted:
        for move in seen.json:
            moves.setdefault((move.port, move.path, move.key), []).append(move.after)
    refused = {(m.port, m.path, m.key) for m in found.rejected.json} if found.refused and found.rejected else set()
    ranked = sorted(moves, key=lambda k: (not _IDENTITY_FIELD.search(k[2]), "time" not in k[2], k))
    for port, path, key in ranked:
        if len(moves[(port, path, key)]) < len(accepted):
            continue  # it did not move at every reload
        if (port, path, key) in refused:
            continue  # it moves when a config is refused too: it would report a refused config as taken
        names = all(_exact_hash(value, seen.hashes) for value, seen in zip(moves[(port, path, key)], accepted,
                                                                            strict=False))
        if names != identity:
            continue
        probe: dict[str, Any] = {"kind": "json", "path": path, "field": key}
        if not identity:
            probe["moves"] = True
        if port_names.get(port):
            probe["port"] = port_names[port]
        what = "holds the written file's hash" if identity else "changed at every reload"
        return Proposal(probe, f"GET {path} field {key} {what} (e.g. {moves[(port, path, key)][-1][:40]!r})")
    return None


def _metrics_probe(found: ReloadFindings, port_names: Mapping[int, str], *, identity: bool) -> Proposal | None:
    accepted = _every(found)
    if not accepted:
        return None
    for port in sorted({port for seen in accepted for port in seen.metrics}):
        moved = {(m.name, m.label): m for seen in accepted for m in seen.metrics.get(port, [])}
        refused = ({m.name for m in found.rejected.metrics.get(port, [])} if found.refused and found.rejected
                   else set())
        for (name, label), move in sorted(moved.items(), key=lambda i: (not i[0][1], i[0])):
            if FAILURES.search(name) or SUCCESS.search(name) or name in refused:
                continue  # a reload outcome flag, or a sample that also moves when a config is refused
            names = bool(move.after) and any(_exact_hash(move.after, seen.hashes) for seen in accepted)
            if names != identity:
                continue
            probe: dict[str, Any] = {"kind": "metrics", "metric": name}
            if label:
                probe["label"] = label
            if not identity:
                probe["moves"] = True
            if port_names.get(port):
                probe["port"] = port_names[port]
            probe.update(_reload_flags(found, port))
            what = "names the written file's hash" if identity else "moved at a reload"
            return Proposal(probe, f"metric {name}{f'{{{label}}}' if label else ''} {what}")
    return None


def _reload_flags(found: ReloadFindings, port: int) -> dict[str, str]:
    """`failures` / `success` samples the unparseable config moved (a failure counter up, a success flag to 0)."""
    flags: dict[str, str] = {}
    if found.rejected is None:
        return flags
    for move in found.rejected.metrics.get(port, []):
        if FAILURES.search(move.name) and move.label is None:
            flags.setdefault("failures", move.name)
        if SUCCESS.search(move.name) and move.label is None and move.after == "0":
            flags.setdefault("success", move.name)
    return flags


def _exact_hash(value: str, hashes: list[str]) -> bool:
    """Is `value` itself a digest of the written file (in full or a prefix of 8+ hex digits), as the run's
    probes match it (`chaos.configs.identity.matches_name`)?"""
    lowered = value.lower()
    return len(lowered) >= 8 and all(c in "0123456789abcdef" for c in lowered) and any(
        digest.startswith(lowered) for digest in hashes)


def _moved_on_refusal(found: ReloadFindings) -> list[str]:
    """Config-ish samples and fields that moved when the unparseable config was refused: never written as
    probes, since they would report a config the service refused as the one it runs."""
    if found.rejected is None or not found.refused:
        return []
    names = sorted({f"metric {m.name}" for moves in found.rejected.metrics.values() for m in moves
                    if not FAILURES.search(m.name) and not SUCCESS.search(m.name)}
                   | {f"GET {m.path} field {m.key}" for m in found.rejected.json})
    return [f"left out: {name} moved when the unparseable config was refused too, so it would report a refused "
            "config as the one it runs" for name in names]
