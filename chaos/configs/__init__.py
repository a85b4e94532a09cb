"""Configs of a user's own Go service, in whatever format and schema it has: parsed keeping what a
person wrote, filled with the platform's addresses, patched, mutated without a schema, identified.

Pure Python on text and trees: writing files and triggering reloads is the reload injector's part.
"""

from chaos.configs.formats import ConfigFormat, Layout, ParsedConfig, dump, parse, read
from chaos.configs.identity import ConfigIdentity, identify
from chaos.configs.kinds import Expect, Kind, Label
from chaos.configs.mutations import Mutation, Mutator
from chaos.configs.patch import Change, ChangeKind, diff, merge_patch
from chaos.configs.placeholders import fill

__all__ = [
    "Change",
    "ChangeKind",
    "ConfigFormat",
    "ConfigIdentity",
    "Expect",
    "Kind",
    "Label",
    "Layout",
    "Mutation",
    "Mutator",
    "ParsedConfig",
    "diff",
    "dump",
    "fill",
    "identify",
    "merge_patch",
    "parse",
    "read",
]
