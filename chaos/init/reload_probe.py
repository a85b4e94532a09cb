"""How a service reloads its config, found by trying each way and watching what it shows.

After a control second with nothing done (what moves then is noise, ignored), in order, stopping
at the first that shows something (a log line, a metric or JSON field that moved):
1. watch: the config file is replaced (a temp file renamed over it, as the storm writes) with a
   change that means nothing (one more trailing newline); a watcher that compares what it parsed
   ignores that, so next an unparseable config is written with nothing else done: a service that
   watches its file says it refused it. The original goes back either way;
2. SIGHUP: sent to its process group. A Go service that does not handle it dies of it (then it is
   started again and SIGHUP is ruled out); one that survives and shows nothing may reload silently;
3. HTTP: `POST /-/reload` on the main HTTP port (a reload endpoint that rereads the file), then on
   each HTTP port `POST /load` with the config as its body (an admin API that loads what it is sent,
   as Caddy's; its Content-Type names the format, `Cache-Control: must-revalidate` asks it to reload
   even an unchanged config, as the storm's unchanged writes need).
Then, with the method found, an unparseable config is triggered (unless step 1 already did) — to
see how the service refuses a config (its failure line, a failure counter) or whether it crashes
on it — and the original config is put back and triggered once more. Every attempt and what it
showed goes into the scenario's comments.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import requests

from chaos.http_reload import post_reload
from chaos.init.launch import Launched, Progress
from chaos.init.live_evidence import Observation, Observer
from chaos.init.metrics_probe import FAILURES
from chaos.ports import LOOPBACK
from chaos.targets import HttpReload, ReloadTrigger

#: How long a file watcher may take to notice a write (CoreDNS's reload plugin looks every 2 s +- 1 s).
WATCH_WAIT_S = 4.0
SIGNAL_WAIT_S = 2.5
#: An admin API that loads the config it is sent (Caddy's): asked on every HTTP port, after `POST /-/reload`.
LOAD_PATH = "/load"
#: Appended to the config: no YAML, JSON, TOML, Corefile or NATS parser takes a stray `}` then an unclosed quote
#: and brackets (a Corefile takes the quoted line alone as one more server block).
UNPARSEABLE = '\n}\n"gochaos-init-unparseable: [{\n'


@dataclass
class ReloadFindings:
    """The reload method found (None: none showed a reload), and what each attempt showed."""

    trigger: ReloadTrigger | None = None
    #: The method was assumed, not seen (survived SIGHUP but showed nothing): the scenario says so.
    assumed: bool = False
    tried: list[str] = field(default_factory=list)
    #: Observations of configs the service took (the harmless rewrite, the original put back).
    accepted: list[Observation] = field(default_factory=list)
    #: The observation of the unparseable config (None: not tried).
    rejected: Observation | None = None
    #: How the unparseable config ended the service, with its last words (None: it survived).
    crashed: str | None = None
    #: reload http: the port that answered the POST and the request (its `port` is named by the writer).
    http: tuple[int, HttpReload] | None = None

    @property
    def refused(self) -> bool:
        """Was the unparseable config seen refused (a failure line or a failure metric), not crashed on or taken?"""
        seen = self.rejected
        if seen is None or self.crashed is not None:
            return False
        return bool(seen.failure_lines or any(FAILURES.search(m.name) for ms in seen.metrics.values() for m in ms))

    @property
    def latency_s(self) -> float:
        """The longest it took, from an action to its first sign (0 when nothing showed)."""
        seen = [o.latency_s for o in [*self.accepted, *([self.rejected] if self.rejected else [])] if o.latency_s]
        return max(seen, default=0.0)


def http_requests(main_port: int | None, http_ports: Sequence[int], content_type: str
                  ) -> list[tuple[int, HttpReload]]:
    """The reload POSTs init tries, in order: a reload endpoint on the main port, then an admin API's load of the
    config (sent as `content_type`) on each HTTP port."""
    tried = [(main_port, HttpReload())] if main_port is not None else []
    load = HttpReload(path=LOAD_PATH, body="config",
                      headers={"Content-Type": content_type, "Cache-Control": "must-revalidate"})
    return tried + [(port, load) for port in http_ports]


def find_reload(service: Launched, observer: Observer, config: str, *, http: Sequence[tuple[int, HttpReload]],
                revive: Callable[[], None], progress: Progress) -> ReloadFindings:
    """Try every reload method on `service`, whose config file holds `config` (`http`: the POSTs to try, from
    `http_requests`); `revive` starts it again after an attempt ended it."""
    found = ReloadFindings()
    noisy = observer.learn_noise()
    if noisy:
        found.tried.append(f"control (nothing done for 1 s): moved on their own, so ignored: {', '.join(noisy[:6])}")
    _watch(found, service, observer, config, revive, progress)
    survived_hup = False
    if found.trigger is None:
        progress("reload: SIGHUP")
        seen = observer.watch("SIGHUP", lambda: service.process.send_signal(signal.SIGHUP), written=config,
                              wait_s=SIGNAL_WAIT_S)
        survived_hup = _alive_after(seen, revive)
        found.tried.append(f"sighup: {seen.summary()}" + ("" if survived_hup else "; it was started again"))
        if survived_hup and seen.showed:
            found.trigger = ReloadTrigger.SIGHUP
            found.accepted.append(seen)
    else:
        found.tried.append("sighup: not tried (it reloads when its file changes)")
    for port, request in http if found.trigger is None else ():
        what = _shown(request)
        progress(f"reload: {what} on :{port}")
        answer, seen = _watch_post(observer, what, port, request, config)
        ok = _alive_after(seen, revive) and answer == "2xx"
        found.tried.append(f"http ({what} on :{port}): answered {answer}; {seen.summary()}")
        if ok and seen.showed:
            found.trigger, found.http = ReloadTrigger.HTTP, (port, request)
            found.accepted.append(seen)
            break
    if found.trigger is not None and found.trigger is not ReloadTrigger.HTTP:
        posts = ", ".join(dict.fromkeys(_shown(request) for _, request in http)) or "no HTTP port"
        found.tried.append(f"http ({posts}): not tried (a reload was already seen)")
    if found.trigger is None and survived_hup:
        found.trigger, found.assumed = ReloadTrigger.SIGHUP, True
    if found.trigger is None:
        return found
    wait_s = WATCH_WAIT_S if found.trigger is ReloadTrigger.WATCH else SIGNAL_WAIT_S
    if found.rejected is None:
        progress("reload: an unparseable config (how does it refuse one?)")
        broken = config + UNPARSEABLE
        seen = observer.watch(f"unparseable config + {found.trigger.value}",
                              _trigger(service, found, broken), written=broken, wait_s=wait_s)
        _rejected(found, seen, service, revive)
    progress("reload: the original config back")
    seen = observer.watch(f"original config + {found.trigger.value}", _trigger(service, found, config),
                          written=config, wait_s=wait_s)
    if _alive_after(seen, revive) and seen.showed:
        found.accepted.append(seen)
    found.tried.append(f"the original config back: {seen.summary()}")
    return found


def _watch(found: ReloadFindings, service: Launched, observer: Observer, config: str, revive: Callable[[], None],
           progress: Progress) -> None:
    """Does it watch its file: a harmless rewrite, then an unparseable config, with nothing else done."""
    progress("reload: rewriting the config file (does it watch it?)")
    harmless = config + "\n"
    seen = observer.watch("config file rewritten (watch)", lambda: service.write_config(harmless), written=harmless,
                          wait_s=WATCH_WAIT_S)
    found.tried.append(f"watch (config file rewritten with one more newline, nothing else): {seen.summary()}")
    if _alive_after(seen, revive) and seen.showed:
        found.trigger = ReloadTrigger.WATCH
        found.accepted.append(seen)
        return
    progress("reload: an unparseable config written, nothing else (does its watcher refuse it?)")
    broken = config + UNPARSEABLE
    seen = observer.watch("unparseable config written (watch)", lambda: service.write_config(broken), written=broken,
                          wait_s=WATCH_WAIT_S)
    if seen.showed or seen.died is not None:
        found.trigger = ReloadTrigger.WATCH
        _rejected(found, seen, service, revive)
        return
    found.tried.append(f"watch (an unparseable config written, nothing else): {seen.summary()}")
    service.write_config(config)  # the original back before the next method is tried
    time.sleep(0.3)


def _rejected(found: ReloadFindings, seen: Observation, service: Launched, revive: Callable[[], None]) -> None:
    found.rejected = seen
    if seen.died is not None:
        found.crashed = f"{seen.died}: {service.last_words()}"
        revive()
    found.tried.append(f"an unparseable config ({seen.action}): {seen.summary()}")


def _trigger(service: Launched, found: ReloadFindings, text: str) -> Callable[[], None]:
    def act() -> None:
        service.write_config(text)
        if found.trigger is ReloadTrigger.SIGHUP:
            service.process.send_signal(signal.SIGHUP)
        elif found.trigger is ReloadTrigger.HTTP and found.http is not None:
            _post(*found.http, text)
    return act


def _shown(request: HttpReload) -> str:
    return f"POST {request.path}" + (" with the config" if request.body == "config" else "")


def _watch_post(observer: Observer, what: str, port: int, request: HttpReload, config: str
                ) -> tuple[str, Observation]:
    """POST `request` (carrying `config` if it takes it) to `port`, watched as `what`: what it answered and what
    showed."""
    answer: list[str] = []
    seen = observer.watch(what, lambda: answer.append(_post(port, request, config)), written=config,
                          wait_s=SIGNAL_WAIT_S)
    return answer[0], seen


def _alive_after(seen: Observation, revive: Callable[[], None]) -> bool:
    """True when the service survived the attempt; else it is started again (the next attempt needs it)."""
    if seen.died is None:
        return True
    revive()
    return False


def _post(port: int, request: HttpReload, config: str) -> str:
    """POST `request` to `port` (with `config` as the body when it takes one): 2xx, or what it answered."""
    try:
        status = post_reload(f"http://{LOOPBACK}:{port}", request, config).status_code
    except requests.RequestException as e:
        return f"no answer ({type(e).__name__})"
    return "2xx" if 200 <= status < 300 else f"HTTP {status}"
