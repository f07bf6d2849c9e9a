"""String literals that name code: ``"pkg.mod:Class"`` or a bare ``"ClassName"`` in a registry,
a settings table or a plugin list. The wiring queries count them as uses of what they name."""

from __future__ import annotations

import re

from tree_sitter import Node

from graphsvc.extract.context import FileContext
from graphsvc.facts import NameString
from graphsvc.parsing import start, string_value

# Dotted identifiers with at least one separator; ':' once, as in entry points and uvicorn's
# "module:attribute" import strings.
_PATH = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*(:[A-Za-z_]\w*(\.[A-Za-z_]\w*)*)?$")
# A bare CapWords name: a registry of class names (docutils' directives: ("body", "Topic")).
_CLASS_NAME = re.compile(r"^[A-Z]\w*[a-z]\w*$")
_MAX_LENGTH = 200


def extract_name_strings(ctx: FileContext, nodes: list[Node]) -> list[NameString]:
    """The captured string literals (container elements, arguments, assigned values) that look
    like a dotted path to code or a class name."""
    found: list[NameString] = []
    at = ctx.index.at
    for node in nodes:
        if node.end_byte - node.start_byte > _MAX_LENGTH + 8:
            continue
        value = string_value(node)
        if value is None:
            continue
        dotted = ("." in value or ":" in value) and _PATH.match(value)
        if not dotted and not _CLASS_NAME.match(value):
            continue
        line, col = start(node)
        found.append(NameString(line, col, at(node.start_byte).qualname, value))
    return found
