"""Where a reload storm's writes come from: the user's own config, mutated or replaced by variants.

Every write is a `NextWrite`: the exact text, its tree (None when it does not parse), a label (value,
structural, invalid, syntax, type-break, unchanged), what the service must do with it (accept,
reject, or unknown: the suite cannot know) and its path-level diff. Three sources, one contract:
- `auto`: derived from the config tree itself, written back in the file's own format, with the
  addresses the platform filled in protected. A round of `pattern: auto` (label `auto`) first
  explores: every site of the config (`chaos.configs.operators`: one path, one operator) is written
  once, each applied alone to the original config, likeliest breakers first; then, guided, the
  follow-ups (`chaos.configs.followups`) of the sites whose write showed something new (the storm
  calls `interesting`); then it gambles: seeded mutations (`chaos.configs.mutations`) of a random
  label, each on top of the last;
- declared variants: whole files or JSON merge patches, each with its expectation and label;
- `configd`: the bundled configd's own schema-aware edits (routes, middleware, rate limits).
A config with a version key gets a fresh version stamped into every write, so each is told apart.
An `auto` write never repeats the config of the write just before it; a follow-up never repeats any.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import random
from dataclasses import dataclass
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from chaos.configs import placeholders
from chaos.configs.followups import FollowUp, FollowUps
from chaos.configs.formats import ConfigFormat, ParsedConfig, parse
from chaos.configs.identity import version_at
from chaos.configs.kinds import Expect, Kind, Label
from chaos.configs.mutations import Mutation, Mutator
from chaos.configs.operators import Site, SiteWriter, schedule
from chaos.configs.patch import diff, merge_patch
from chaos.configs.tree import Path, assoc, has, parse_path, plain, walk
from chaos.errors import ConfigError, InjectionFailed, ScenarioError
from chaos.suggest import did_you_mean
from chaos.targets import TargetSpec, fill_config_text

#: The labels a pattern asks a source for. AUTO: the next unexplored site, then a mutation of a random label.
VALUE, STRUCTURAL, INVALID, SYNTAX, UNCHANGED, AUTO = "value", "structural", "invalid", "syntax", "unchanged", "auto"
#: A flap: one site of the config and the original, in turn, as fast as the storm goes (a reload race).
FLAP = "flap"
#: The operators a flap toggles when no site is named, in order: a structure that changes size under a reader.
FLAP_OPERATORS = ("first-only", "shrink", "empty-list", "remove-key")
#: The most rounds `rounds: auto` runs, however many sites the config has.
AUTO_ROUNDS_CAP = 10_000
#: How many times an auto write is drawn again when it would repeat the config written just before it.
REDRAWS = 24
_AUTO_KINDS = {
    VALUE: (Kind.VALUE_CHANGE,),
    STRUCTURAL: tuple(k for k in Kind if k not in (Kind.VALUE_CHANGE, Kind.STRING_FOR_NUMBER, Kind.NEGATIVE_COUNT)),
    INVALID: (Kind.STRING_FOR_NUMBER, Kind.NEGATIVE_COUNT),
}


class Variant(BaseModel):
    """A config the user declares, with what the service must do with it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,60}$", description="Shown in reports")
    patch: dict[str, Any] | None = Field(None, description="JSON merge patch (RFC 7396) on the target's config")
    file: str | None = Field(None, description="A whole config file, relative to the scenario file")
    text: str | None = Field(None, description="A whole config, inline (a `file` is read into it at load)")
    expect: Literal["accept", "reject", "unknown"] = Field("accept", description="What the service must do")
    label: str = Field(VALUE, pattern=r"^[a-z][a-z-]{0,30}$",
                       description="value, structural, invalid, syntax, ... (what `pattern` draws by)")

    @model_validator(mode="after")
    def _one_body(self) -> Variant:
        if (self.patch is None) == (self.text is None and self.file is None):
            raise ValueError(f"variant {self.name}: give exactly one of `patch` or `file` (or `text`)")
        return self


@dataclass(frozen=True)
class NextWrite:
    """One config to write, and what the service must do with it."""

    text: str
    tree: Any
    label: str
    expect: str
    source: str
    changes: tuple[str, ...]
    version: str | None
    #: The site an exploring `auto` write covers (`middleware:empty-list`: path and operator), else None; a
    #: follow-up's sites joined by `+` (`workers:zero+buffer_size:zero`).
    site: str | None = None
    #: The interesting site a follow-up write follows up, else None.
    follows: str | None = None


class WriteSource:
    """The writes of one storm on one target: `next(label)` draws, `took(write)` advances."""

    def __init__(self, original: str, fmt: ConfigFormat | None, name: str, *, version_key: str | None,
                 values: dict[str, str], variants: tuple[Variant, ...], mutator: str, rng: random.Random,
                 tag: str, protect: tuple[Path, ...] = (), flap: str | None = None) -> None:
        self.fmt, self.name, self.rng, self.tag, self.values = fmt, name, rng, tag, values
        self.variants = variants
        self.mutator_name = mutator
        self.protect = protect
        self.version_path: Path | None = parse_path(version_key) if version_key else None
        self.parsed = parse(original, fmt, name) if fmt is not None else None
        self.current_text, self.current_tree = original, (plain(self.parsed.tree) if self.parsed else None)
        self._mutator = None
        #: The sites the exploring stage writes, in order (`sites_total` of them), each applied alone to
        #: `original`; `sites_tried` the ids of those written so far, `sites_skipped` of those not written as
        #: their config was the one just written.
        self.sites: tuple[Site, ...] = ()
        self.sites_tried: list[str] = []
        self.sites_skipped: list[str] = []
        self._site_writer: SiteWriter | None = None
        #: The follow-ups of the sites the storm found interesting (`interesting`), written after the sites.
        self.follow_ups: FollowUps | None = None
        if self.parsed is not None and mutator == "auto":
            protect_all = [*_protected_paths(self.parsed.tree, values, self.version_path), *protect]
            self._mutator = Mutator(self.parsed, rng, protect=protect_all)
            self._site_writer = SiteWriter(self.parsed)
            found = self._site_writer.sites(protect_all)
            self.sites = tuple(schedule(found, rng))
            self.follow_ups = FollowUps(self._site_writer, protect_all)
            _remember(_site_key(original, self.parsed.format, version_key, values, protect), len(found))
        self._next_site = 0
        self._count = 0
        self._turn: dict[str, int] = {}
        self._flaps = 0
        #: The site a flap storm toggles (None: the first that changes a structure's size).
        self.flap_wanted = flap
        self._previous: str | None = original  # the config last written (before any version stamp)
        self._content: str | None = None  # the config of the write being drawn, when a stamp hides it
        self._written: set[str] = {_digest(original)}  # every config written (before any stamp), by digest

    @property
    def sites_total(self) -> int:
        """How many sites the exploring stage has (before any cap on the rounds)."""
        return len(self.sites)

    @property
    def sites_untried(self) -> list[str]:
        """The ids of the sites not written (yet), in the order the storm would write them: what coverage over
        several runs names as never tried."""
        tried = set(self.sites_tried)
        return [site.id for site in self.sites if site.id not in tried]

    @property
    def exploring(self) -> bool:
        """Are sites left to write?"""
        return self._next_site < len(self.sites)

    def next(self, label: str) -> NextWrite:
        """A write of `label` (a variant of that label when one is declared, else a mutation); `auto`: the next
        site while any is left, then a mutation of a label drawn from the seed."""
        self._count += 1
        self._content = None
        write = self._draw(label, f"{self.tag}-{self._count}")
        self._previous = self._content if self._content is not None else write.text
        self._written.add(_digest(self._previous))
        return write

    def interesting(self, site_id: str) -> bool:
        """The write of site `site_id` showed something new: queue its follow-ups, written once every site was
        (False: no such site, or already queued)."""
        site = next((s for s in self.sites if s.id == site_id), None)
        return site is not None and self.follow_ups is not None and self.follow_ups.add(site)

    def flap_site(self, wanted: str | None) -> Site:
        """The site a flap storm toggles: `wanted` (an id, `backends:first-only`), else the first list shrunk to
        its first item (then: emptied, an entry removed), as a reload race needs a structure to change size."""
        if not self.sites:
            raise InjectionFailed(f"{self.name}: a flap storm needs a config the suite can parse (yaml, json, toml) "
                                  "with something to change")
        by_id = {site.id: site for site in self.sites}
        if wanted is not None:
            if wanted not in by_id:
                raise InjectionFailed(f"{self.name}: no site {wanted!r} in its config{did_you_mean(wanted, by_id)}")
            return by_id[wanted]
        in_order = sorted(self.sites, key=lambda site: [str(k) for k in site.path])
        for operator in FLAP_OPERATORS:
            found = next((site for site in in_order if site.operator.name == operator), None)
            if found is not None:
                return found
        return in_order[0]

    def flap(self, site: Site, version: str) -> NextWrite:
        """The next write of a flap: the site applied to the original, then the original, in turn."""
        assert self._site_writer is not None
        self._flaps += 1
        if self._flaps % 2 == 0:
            text, data = self._stamped(self._site_writer.config.text, self._site_writer.config.tree,
                                       self._site_writer.data, version, self._site_writer.config)
            return NextWrite(text, data, VALUE, Expect.ACCEPT, "flap", ("(the original again)",),
                             self.version_of(data), site=site.id)
        rendered = self._site_writer.render(site)
        text, data = self._stamped(rendered.text, rendered.tree, rendered.data, version, self._site_writer.config)
        label = INVALID if site.label is Label.TYPE_BREAK else site.label.value
        return NextWrite(text, data, label, site.expect, "flap", tuple(str(c) for c in rendered.changes),
                         self.version_of(data), site=site.id)

    def _draw(self, label: str, version: str) -> NextWrite:
        if label == FLAP:
            return self.flap(self.flap_site(self.flap_wanted), version)
        if label == AUTO:
            explored = self._explore(version) or self._follow_up(version)
            if explored is not None:
                return explored
            label = self.rng.choice([VALUE, STRUCTURAL, INVALID])
        if label == UNCHANGED:
            return NextWrite(self.current_text, self.current_tree, UNCHANGED, Expect.ACCEPT, "unchanged", (),
                             self.version_of(self.current_tree))
        declared = [v for v in self.variants if v.label == label] or (self.variants if label == "variant" else [])
        if declared:
            turn = self._turn.get(label, 0)
            self._turn[label] = turn + 1
            return self._variant(declared[turn % len(declared)], version)
        if label == SYNTAX:
            return self._syntax(version)
        if self.mutator_name == "configd":
            return self._configd(label, version)
        return self._auto(label, version)

    def took(self, write: NextWrite) -> None:
        """`write` is likely what the service runs now (it need not reject it): later writes derive from it."""
        if write.tree is not None and write.expect != Expect.REJECT:
            if write.source == "auto":  # the mutator applied its own mutation already
                self.current_text, self.current_tree = write.text, write.tree
            else:
                self.rebase(write.text, write.tree)

    def rebase(self, text: str, tree: Any) -> None:
        """Derive later writes from `text` (the config the service was last seen to take)."""
        self.current_text, self.current_tree = text, tree
        if self._mutator is not None and self.parsed is not None:
            self._mutator = Mutator(parse(text, self.parsed.format, self.name), self.rng,
                                    protect=[*_protected_paths(tree, self.values, self.version_path), *self.protect])

    # -- sources --------------------------------------------------------------------------------
    def _explore(self, version: str) -> NextWrite | None:
        """The next site not yet written, applied alone to the original config; None when all were."""
        writer = self._site_writer
        while writer is not None and self._next_site < len(self.sites):
            site = self.sites[self._next_site]
            self._next_site += 1
            rendered = writer.render(site)
            if rendered.text == self._previous:
                self.sites_skipped.append(site.id)
                continue
            self.sites_tried.append(site.id)
            text, data = self._stamped(rendered.text, rendered.tree, rendered.data, version, writer.config)
            self._content = rendered.text
            label = INVALID if site.label is Label.TYPE_BREAK else site.label.value
            return NextWrite(text, data, label, site.expect, "auto", tuple(str(c) for c in rendered.changes),
                             self.version_of(data), site=site.id)
        return None

    def _follow_up(self, version: str) -> NextWrite | None:
        """The next follow-up of an interesting site never written before; None when none is left."""
        if self.follow_ups is None or self._site_writer is None:
            return None
        follow: FollowUp | None = self.follow_ups.next(lambda text: _digest(text) in self._written)
        if follow is None:
            return None
        rendered = follow.rendered
        text, data = self._stamped(rendered.text, rendered.tree, rendered.data, version, self._site_writer.config)
        self._content = rendered.text
        label = INVALID if follow.label is Label.TYPE_BREAK else follow.label.value
        return NextWrite(text, data, label, follow.expect, "auto", tuple(str(c) for c in rendered.changes),
                         self.version_of(data), site=follow.id, follows=follow.follows.id)

    def _stamped(self, text: str, tree: Any, data: Any, version: str, config: ParsedConfig) -> tuple[str, Any]:
        """(text, data) with the fresh `version` at the version key, when the config has one."""
        if self.version_path is None or not has(data, self.version_path):
            return text, data
        stamped = assoc(tree, self.version_path, version)
        return config.dump(stamped), plain(stamped)

    def _auto(self, label: str, version: str) -> NextWrite:
        if self._mutator is None:
            raise InjectionFailed(f"{self.name}: a {label} write needs a config the suite can parse (yaml, json, "
                                  "toml) or a declared variant of that label")
        mutation = None
        for attempt in range(REDRAWS):  # a draw repeating the config just written is drawn again
            wanted = _AUTO_KINDS.get(label, tuple(Kind)) if attempt < REDRAWS // 2 else tuple(Kind)
            mutation = self._mutation(wanted) or (self._mutation(tuple(Kind)) if label != INVALID else None)
            if mutation is None or mutation.text != self._previous:
                break
        if mutation is None:  # nothing of that kind left (e.g. every number dropped): the nearest other write
            if label == INVALID:
                return self._fresh_syntax(version)
            return self._draw(UNCHANGED, version)
        text, data = self._stamped(mutation.text, mutation.tree, mutation.data, version, self._mutator.config)
        self._content = mutation.text
        if mutation.expect is not Expect.REJECT:
            self._mutator.apply(mutation)
        changes = tuple(str(c) for c in mutation.changes)
        written_label = INVALID if mutation.label is Label.TYPE_BREAK else mutation.label.value
        return NextWrite(text, data, written_label, mutation.expect, "auto", changes, self.version_of(data))

    def _mutation(self, kinds: tuple[Kind, ...]) -> Mutation | None:
        assert self._mutator is not None
        self._mutator.kinds = kinds
        try:
            return self._mutator.next()
        except ConfigError:
            return None

    def _fresh_syntax(self, version: str) -> NextWrite:
        """A syntax-error write that is not the text written just before (an auto storm never repeats one)."""
        write = self._syntax(version)
        if write.text != self._previous:
            return write
        return dataclasses.replace(write, text=write.text + f"\n# gochaos {self._count}\n")

    def _variant(self, variant: Variant, version: str) -> NextWrite:
        built = build_variant(variant, self.parsed, self.fmt, self.name, self.values)
        tree, text = built
        if tree is not None and self.version_path is not None and has(tree, self.version_path) \
                and self.parsed is not None:
            stamped = assoc(parse(text, self.parsed.format, self.name).tree, self.version_path, version)
            text, tree = self.parsed.dump(stamped), plain(stamped)
        changes = tuple(str(c) for c in diff(self.current_tree, tree)) if tree is not None and \
            self.current_tree is not None else ()
        return NextWrite(text, tree, variant.label, variant.expect, f"variant:{variant.name}", changes,
                         self.version_of(tree))

    def _syntax(self, version: str) -> NextWrite:
        broken = {ConfigFormat.JSON: self.current_text.rstrip().rstrip("}") + ',\n  "gochaos": [\n',
                  ConfigFormat.TOML: self.current_text + '\n[gochaos\nbroken = "\n',
                  ConfigFormat.YAML: self.current_text + "\ngochaos: [unclosed\n"}
        if self.fmt is None:
            raise InjectionFailed(f"{self.name}: a syntax-error write needs the config's format (yaml, json, "
                                  "toml), or a declared variant with label syntax")
        text = broken[self.fmt]
        if self.version_path is not None and self.fmt is ConfigFormat.YAML:
            text = f"{self.version_path[-1]}: {version}\n" + text
        return NextWrite(text, None, SYNTAX, Expect.REJECT, "syntax", ("(does not parse)",), version)

    def _configd(self, label: str, version: str) -> NextWrite:
        current = copy.deepcopy(self.current_tree) if isinstance(self.current_tree, dict) else {}
        config, valid = configd_mutation(current, label, version, str(self.version_path[-1] if self.version_path
                                                                       else "version"), self._count)
        text = yaml.safe_dump(config, sort_keys=False)
        changes = tuple(str(c) for c in diff(self.current_tree, config))
        return NextWrite(text, config, label, Expect.ACCEPT if valid else Expect.REJECT, "configd", changes,
                         version)

    def version_of(self, tree: Any) -> str | None:
        if tree is None or self.version_path is None:
            return None
        return version_at(tree, self.version_path)


def _digest(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


def build_variant(variant: Variant, parsed: ParsedConfig | None, fmt: ConfigFormat | None, name: str,
                  values: dict[str, str]) -> tuple[Any, str]:
    """(tree or None, text) of a variant, its placeholders filled; ScenarioError when it cannot be built."""
    where = f"{name}: variant {variant.name}"
    if variant.patch is not None:
        if parsed is None:
            raise ScenarioError(f"{where}: a merge patch needs a config in yaml, json or toml; give the variant "
                                "as a whole `file` instead")
        text = parsed.dump(merge_patch(parsed.tree, variant.patch))
        text = placeholders.fill(text, values, where)
    else:
        assert variant.text is not None
        text = placeholders.fill(variant.text, values, f"{where} ({variant.file or 'inline text'})")
    if fmt is None:
        return None, text
    try:
        return plain(parse(text, fmt, where).tree), text
    except ConfigError:
        if variant.expect == "accept":
            raise
        return None, text  # a variant meant to be rejected may well not parse


def configd_mutation(current: dict[str, Any], label: str, version: str, version_key: str,
                     n: int) -> tuple[dict[str, Any], bool]:
    """The bundled configd's next config (from the current one) and whether it must accept it."""
    config = current
    config[version_key] = version
    if label == VALUE:
        if "log_level" in config:
            config["log_level"] = "debug" if config["log_level"] != "debug" else "info"
        return config, True
    limits = config.setdefault("rate_limits", {})
    if label in (INVALID, SYNTAX):
        if isinstance(limits, dict):
            limits[f"gochaos_bad_{n}"] = -1
        return config, False
    http = config.setdefault("http", {})
    if isinstance(http, dict):
        routes = http.setdefault("routes", {})
        if isinstance(routes, dict):
            routes[f"/gochaos/r{n}"] = {"status": 200, "body": f"r{n}"}
        if "middleware" in http:
            del http["middleware"]  # the list appears and disappears: a structural change
        else:
            http["middleware"] = []
    if isinstance(limits, dict):
        limits[f"gochaos_{n}"] = 1000 + n
    return config, True


def sample_values(values: dict[str, str] | None, ports: tuple[str, ...]) -> dict[str, str]:
    """Placeholder values to check variants with before anything runs (real ones come at start)."""
    if values:
        return values
    sample = {"binary": "/bin/true", "listen": "127.0.0.1:1", "host": "127.0.0.1", "port": "1",
              "config": "/config", "etcd_endpoints": "http://127.0.0.1:2", "workdir": "/tmp"}
    for name in ports:
        sample.update({f"port.{name}": "1", f"listen.{name}": "127.0.0.1:1"})
    return sample


#: Plan-time stand-ins for the placeholders: the local platform's host, ports no config holds by chance, so the
#: paths they protect are the ones the real addresses will (see `planned_site_count`).
PLAN_HOST, PLAN_PORT = "127.0.0.1", 59_871


def plan_values(ports: tuple[str, ...]) -> dict[str, str]:
    """Placeholder values to count a config's sites with before anything runs."""
    values = {"binary": "/bin/true", "listen": f"{PLAN_HOST}:{PLAN_PORT}", "host": PLAN_HOST, "port": str(PLAN_PORT),
              "config": "/tmp/gochaos-plan/config", "etcd_endpoints": f"http://{PLAN_HOST}:{PLAN_PORT + 1}",
              "etcd_endpoints_spaced": f"http://{PLAN_HOST}:{PLAN_PORT + 1}", "workdir": "/tmp/gochaos-plan"}
    for offset, name in enumerate(ports, start=2):
        values.update({f"port.{name}": str(PLAN_PORT + offset), f"listen.{name}": f"{PLAN_HOST}:{PLAN_PORT + offset}"})
    return values


_SiteKey = tuple[str, ConfigFormat, str | None, frozenset[tuple[str, str]], tuple[Path, ...]]
#: Site counts already enumerated (by a WriteSource, or at plan time), so a storm counts its config once.
_SITE_COUNTS: dict[_SiteKey, int] = {}


def _site_key(text: str, fmt: ConfigFormat, version_key: str | None, values: dict[str, str],
              protect: tuple[Path, ...]) -> _SiteKey:
    return text, fmt, version_key, frozenset(values.items()), protect


def _remember(key: _SiteKey, count: int) -> None:
    while len(_SITE_COUNTS) >= 32:
        del _SITE_COUNTS[next(iter(_SITE_COUNTS))]
    _SITE_COUNTS[key] = count


def auto_site_count(text: str, fmt: ConfigFormat, name: str, *, version_key: str | None, values: dict[str, str],
                    protect: tuple[Path, ...] = ()) -> int:
    """How many sites the exploring stage of a storm on config `text` has (what `WriteSource.sites_total` is
    for the same arguments); ConfigError when it does not parse."""
    key = _site_key(text, fmt, version_key, values, protect)
    if key not in _SITE_COUNTS:
        parsed = parse(text, fmt, name)
        version_path = parse_path(version_key) if version_key else None
        protect_all = [*_protected_paths(parsed.tree, values, version_path), *protect]
        _remember(key, len(SiteWriter(parsed).sites(protect_all)))
    return _SITE_COUNTS[key]


def planned_site_count(spec: TargetSpec, *, version_key: str | None, protect: tuple[Path, ...],
                       required: bool = True) -> int | None:
    """The sites of `spec`'s config as the plan sees it (placeholders filled with `plan_values`); None when they
    cannot be known before the run: a deployed service's config is what its ConfigMap holds when the storm
    starts, and a config that does not fill or parse is refused by the plan's own checks. A config with no
    sites at all (a format the suite does not parse, configd's own mutator) is a ScenarioError if `required`
    (`rounds: auto`), else None."""
    config = spec.config
    if config is None or spec.deployed is not None:
        return None
    fmt = None
    if config.format != "text":
        try:
            fmt = ConfigFormat.of(config.file_name, config.format)
        except ConfigError:
            fmt = None
    if fmt is None or config.mutator != "auto":
        if not required:
            return None
        why = (f"its config {config.file_name} is in a format the suite does not parse" if fmt is None else
               f"its writes come from the {config.mutator} mutator")
        raise ScenarioError(f"reload_storm on {spec.name}: rounds: auto runs one round per mutation site of the "
                            f"config's own tree, but {why}; give `rounds` a number")
    values = plan_values(spec.ports)
    try:
        return auto_site_count(fill_config_text(spec, values), fmt, config.file_name,
                               version_key=version_key or config.version_key, values=values, protect=protect)
    except ConfigError:
        return None


def auto_rounds(sites: int | None) -> int:
    """The rounds of `rounds: auto`: one per site, at least 1, at most AUTO_ROUNDS_CAP (also when unknown)."""
    return AUTO_ROUNDS_CAP if sites is None else max(1, min(sites, AUTO_ROUNDS_CAP))


def _protected_paths(tree: Any, values: dict[str, str], version_path: Path | None) -> list[Path]:
    """Paths a storm must not mutate: the addresses the platform filled in (its listen addresses, ports and
    etcd endpoints, wherever they stand in a value; its host only as a whole value, since every loopback URL
    of the config holds it: a list of upstreams stays a thing to mutate), and the version key."""
    addresses = {v for k, v in values.items()
                 if k in ("listen", "port", "etcd_endpoints", "etcd_endpoints_spaced") or "." in k}
    addresses.discard("")
    whole = {*addresses, values.get("host", "")} - {""}
    protected = [version_path] if version_path else []
    for path, value in walk(plain(tree)):
        if isinstance(value, (str, int)) and not isinstance(value, bool) and \
                (str(value) in whole or any(len(a) > 4 and a in str(value) for a in addresses)):
            protected.append(path)
    return protected
