"""Configs of a user's own Go service, in whatever format and schema it has: parsed keeping what a
person wrote, filled with the platform's addresses, patched, mutated without a schema, identified.

Pure Python on text and trees: writing files and triggering reloads is the reload injector's part.
Modules are imported one by one (nothing here), so reading placeholders does not load the parsers.
"""
