"""The listen addresses a service's config file and argv name, turned into the suite's port placeholders.

A scenario's config and command must not hard-code ports: the platform hands every run free
loopback ports through `{listen}`/`{port}` (the main port) and `{listen.NAME}`/`{port.NAME}` (named
extra ports). `gochaos init` first runs the service as given and reads which ports it really
listens on (`chaos.init.listeners`); only a value naming one of those ports is replaced, so an
upstream's URL (`http://127.0.0.1:9003`) or a time of day (`11:30`) is left as written:

- `host:port` and `:port` (`127.0.0.1:4222`, `:8080`, `[::]:53`, `localhost:9090`) become
  `{listen.NAME}`; a host that is no address (`.:1053` in a Corefile, `example.org:53`) keeps its
  host and gets `{port.NAME}`;
- a bare number equal to a listened port (`port: 4222`, `-port 8080`) becomes `{port.NAME}`;
- a bind address beside them (`host: 0.0.0.0`, `-host 0.0.0.0`) becomes `{host}`, so the service
  binds loopback only;
- argv's config path becomes `{config}`.

Until init knows which port is the main one, every port gets a provisional name (`initport0`, ...);
`Template.render` gives the final placeholders.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from chaos.configs.placeholders import PORT_NAME, port_names
from chaos.errors import UsageError

#: host:port or :port; the host an IPv6 literal in brackets, or a name/IPv4 (possibly empty).
_HOST_PORT = re.compile(r"(?P<host>\[[0-9A-Fa-f:.]*\]|[A-Za-z0-9_.*-]*):(?P<port>[0-9]{1,5})(?![0-9])")
_BARE_PORT = re.compile(r"(?<![\w.:/{-])(?P<port>[0-9]{2,5})(?![\w.:}])")
#: The key or flag a value stands after on its line: `listen: `, `"addr": "`, `port = `, `http_port `.
_KEY_BEFORE = re.compile(r"""([A-Za-z_][\w.-]*)["']?\s*[:=]?\s*["']?$""")
#: Keys and flags that hold a bind address (not a port).
BIND_KEYS = frozenset({"host", "bind", "addr", "address", "ip", "a", "listen-host", "listen_host", "bind-address",
                       "bind_address", "bind-addr", "bind_addr", "net"})
_BIND_VALUES = frozenset({"0.0.0.0", "127.0.0.1", "localhost", "::", "[::]", "::1", "*"})
#: A provisional port name: `initport0`, `initport1`, ...
PROVISIONAL = "initport"
_PORT_NAME = re.compile(PORT_NAME)


@dataclass
class Slot:
    """One port the service listens on, named by its config or argv (or a placeholder the user already wrote)."""

    index: int
    #: The port the service listened on in the first run (None: a placeholder the user wrote, filled by init).
    port: int | None
    #: The config key or flag that names it (e.g. `http`, `listen`, `port`), for the port's final name.
    key: str
    #: Where it was found, for the scenario's comments (`config line 2: listen: 127.0.0.1:4222`).
    where: list[str] = field(default_factory=list)
    #: A name the user already gave it: "" for their `{port}`/`{listen}` (the main port), NAME for `{port.NAME}`.
    given: str | None = None

    @property
    def provisional(self) -> str:
        return self.given if self.given else f"{PROVISIONAL}{self.index}"


#: How a found port gets its slot: (port, key or flag naming it, where it was found) -> the slot.
SlotFor = Callable[[int, str, str], Slot]


@dataclass
class Template:
    """The config text and argv with placeholders for the ports (provisional names) and the config path."""

    config: str | None
    argv: list[str]
    slots: list[Slot]
    #: Bind addresses replaced by `{host}`, for the comments.
    hosts: list[str] = field(default_factory=list)

    def provisional_ports(self) -> list[str]:
        """Named ports the template uses until the final names are known."""
        return [slot.provisional for slot in self.slots if slot.given != ""]

    def render(self, names: Mapping[int, str]) -> tuple[str | None, list[str]]:
        """Config text and argv with each slot's final placeholder: `names[index]` is "" for the main port
        (`{listen}`/`{port}`), else the port's name."""
        def final(text: str) -> str:
            for slot in self.slots:
                if slot.given is not None:
                    continue
                old, new = slot.provisional, names[slot.index]
                for kind in ("listen", "port"):
                    text = text.replace(f"{{{kind}.{old}}}", f"{{{kind}.{new}}}" if new else f"{{{kind}}}")
            return text
        return (final(self.config) if self.config is not None else None), [final(arg) for arg in self.argv]


def user_ports(config: str | None, argv: Iterable[str]) -> list[str]:
    """Named ports the user's own placeholders already ask for (`{port.admin}` -> admin)."""
    names: dict[str, None] = {}
    for text in [*(argv), *([config] if config is not None else [])]:
        for name in port_names(text):
            names.setdefault(name, None)
    return list(names)


def uses_main_port(config: str | None, argv: Iterable[str]) -> bool:
    """Does the user's own text already use `{listen}` or `{port}`?"""
    return any(token in text for text in [*argv, config or ""] for token in ("{listen}", "{port}"))


def templated(config: str | None, argv: list[str], listened: set[int], config_words: set[str]) -> Template:
    """`config` and `argv` with every value naming a port in `listened` replaced by a provisional placeholder,
    bind addresses by `{host}`, and the argv word naming the config file (any of `config_words`) by `{config}`."""
    slots: dict[int, Slot] = {}

    def slot_for(port: int, key: str, where: str) -> Slot:
        if port not in slots:
            slots[port] = Slot(len(slots), port, key)
        found = slots[port]
        found.where.append(where)
        return found

    hosts: list[str] = []
    out_config = None
    if config is not None:
        out_config = _config_text(config, listened, slot_for, hosts)
    out_argv = _argv(argv, listened, slot_for, hosts, config_words)
    ordered = sorted(slots.values(), key=lambda s: s.index)
    given: list[Slot] = []
    if uses_main_port(config, argv):
        given.append(Slot(len(ordered) + len(given), None, "port", ["your own {listen}/{port}"], given=""))
    for name in user_ports(config, argv):
        given.append(Slot(len(ordered) + len(given), None, name, [f"your own {{port.{name}}}"], given=name))
    return Template(out_config, out_argv, ordered + given, hosts)


def _config_text(text: str, listened: set[int], slot_for: SlotFor, hosts: list[str]) -> str:
    out_lines = []
    for number, line in enumerate(text.splitlines(keepends=True), start=1):
        if line.lstrip().startswith(("#", "//", ";")):
            out_lines.append(line)
            continue
        out_lines.append(_line(line, listened, slot_for, f"config line {number}: {line.strip()}"))
    replaced = "".join(out_lines)
    if replaced == text:
        return text
    # bind addresses only where a port was found: `host: 0.0.0.0` beside `port: 4222`
    out_lines = []
    for line in replaced.splitlines(keepends=True):
        match = re.match(r"""^(\s*["']?)([A-Za-z_][\w.-]*)(["']?\s*[:=]\s*["']?)([^"'\s,]+)""", line)
        if match and match.group(2).lower() in BIND_KEYS and match.group(4) in _BIND_VALUES:
            hosts.append(f"config: {line.strip()}")
            line = line[:match.start(4)] + "{host}" + line[match.end(4):]
        out_lines.append(line)
    return "".join(out_lines)


def _line(line: str, listened: set[int], slot_for: SlotFor, where: str) -> str:
    """One line (or argv word) with its addresses of listened ports replaced."""
    out, at = [], 0
    spans: list[tuple[int, int]] = []
    for match in _HOST_PORT.finditer(line):
        port, host = int(match.group("port")), match.group("host")
        if port not in listened or (host and not _hostish(host)):
            continue
        slot = slot_for(port, _key(line[:match.start()]), where)
        if _address(host):
            out += [line[at:match.start()], f"{{listen.{slot.provisional}}}"]
        else:  # a host that is a name the service means (a DNS zone `.`, a server name): keep it
            out += [line[at:match.start("port")], f"{{port.{slot.provisional}}}"]
        at = match.end()
        spans.append((match.start(), match.end()))
    text = "".join([*out, line[at:]])
    if spans:
        return text
    out, at = [], 0
    for match in _BARE_PORT.finditer(line):
        port = int(match.group("port"))
        if port not in listened:
            continue
        slot = slot_for(port, _key(line[:match.start()]), where)
        out += [line[at:match.start()], f"{{port.{slot.provisional}}}"]
        at = match.end()
    return "".join([*out, line[at:]])


def _hostish(host: str) -> bool:
    """A host part as listen addresses have it: an address, a name, `.`, `*` (not `http` of `http://`)."""
    return not host.isalpha() or host.lower() == "localhost"


def _address(host: str) -> bool:
    """Is `host` (of host:port) an address the suite may replace with its loopback one?"""
    if host in ("", "*", "localhost"):
        return True
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def _key(before: str) -> str:
    match = _KEY_BEFORE.search(before)
    return match.group(1) if match else ""


def _argv(argv: list[str], listened: set[int], slot_for: SlotFor, hosts: list[str],
          config_words: set[str]) -> list[str]:
    """argv with the config path as `{config}`, bind addresses as `{host}` and listened ports as placeholders;
    a value is a word after a flag (`-port 8080`), after `=` (`--listen=:8080`) or a positional word."""
    out: list[str] = [argv[0]] if argv else []
    for i, word in enumerate(argv[1:], start=1):
        if word.startswith("-") and "=" in word:
            flag, _, value = word.partition("=")
        elif word.startswith("-"):
            out.append(word)
            continue
        else:
            flag, value = (argv[i - 1] if argv[i - 1].startswith("-") and "=" not in argv[i - 1] else ""), word
        prefix = word[:len(word) - len(value)]
        name = flag.lstrip("-").lower()
        if value in config_words:
            out.append(prefix + "{config}")
        elif name in BIND_KEYS and value in _BIND_VALUES:
            out.append(prefix + "{host}")
            hosts.append(f"argv: {flag} {value}" if prefix == "" else f"argv: {word}")
        else:
            def named_by_flag(port: int, key: str, where: str, flag_name: str = name) -> Slot:
                return slot_for(port, flag_name or key, where)
            out.append(prefix + _line(value, listened, named_by_flag, f"argv: {' '.join(argv[i - 1:i + 1])}"
                                      if not prefix and flag else f"argv: {word}"))
    return out


def final_names(template: Template, protocols: Mapping[int, str], main: int | None) -> dict[int, str]:
    """Each init-found slot's final name: "" for the main port, else its key (when it says something) or its
    protocol, made a valid port name and unique."""
    names: dict[int, str] = {}
    taken = {slot.given for slot in template.slots if slot.given}
    for slot in template.slots:
        if slot.given is not None:
            continue
        if slot.index == main:
            names[slot.index] = ""
            continue
        spoken = protocols.get(slot.index, "tcp")
        spoken = "tcp" if spoken == "banner" else spoken
        base = _port_name(slot.key) or spoken
        if base in ("listen", "addr", "address", "port", "bind", "host", "a", "p", "net", "listen_addr",
                    "listen-addr", "http_addr", "http-addr"):
            base = spoken
        name, n = base, 2
        while name in taken:
            name, n = f"{base}{n}", n + 1
        taken.add(name)
        names[slot.index] = name
    return names


def _port_name(key: str) -> str:
    """A port name from the key or flag naming it: `listen-peer-urls` -> `peer`, `http_port` -> `http`."""
    name = re.sub(r"[^a-z0-9_-]", "-", key.lower()).strip("-_")
    name = re.sub(r"^(listen|bind)[-_](?=.)", "", name)
    name = re.sub(r"(?<=.)[-_](urls?|addr|address|port|listen)$", "", name)
    name = re.sub(r"^[^a-z]+", "", name)[:31]
    return name if _PORT_NAME.match(name) else ""


def config_words(path: Path, given_as: Iterable[str]) -> set[str]:
    """How argv may name the config file: as the user typed it, absolute, or by its file name."""
    return {str(path), str(path.resolve()), path.name, *given_as}


def require_config_in_argv(argv: list[str], config: Path | None) -> None:
    """UsageError when a config file is given but argv never passes it: the service would read another."""
    if config is not None and not any("{config}" in word for word in argv):
        raise UsageError(f"the command never names the config file {config}: pass it where the service reads it, "
                         f"as the path or as {{config}} (e.g. -- {{binary}} -c {{config}})")
