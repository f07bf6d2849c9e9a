"""Self attributes that nothing assigns: why ``self.a.m()`` or ``self.a()`` cannot work.

When the name layer finds no value for ``self.a`` in a method of class C, this module looks at
every class ``self`` can be (C and its subclasses in the tree, class hierarchy analysis) and at
each one's C3 MRO, across files, and says one of three things:

- ``a`` is assigned nowhere: no ``self.a = ...``/``cls.a = ...``, no definition or class-body
  assignment, no ``setattr``/``hasattr``/``getattr`` naming it, in any of those classes;
- ``a`` is only ever assigned ``None`` there (``self.a = None`` and nothing else);
- or nothing certain (the usual case): ``a`` exists somewhere, or some class on the way can
  grow attributes the tree does not show (an outside or undefined base, ``__getattr__``,
  ``__getattribute__``, ``__slots__``, a metaclass, a class decorator that may replace the
  class, ``setattr`` with a computed name, ``__dict__`` or ``vars()``).

The first two become the link's ``reason`` (see ``MISSING_REASON`` / ``NONE_REASON``), which the
saved query ``unassigned_self_attributes`` reads. Only receivers spelt ``self`` count: the local
candidate of ``x = self.a.b; x.m()`` also says ``self_attr``, but its first attribute is not ``a``.
A class defined inside a function is skipped: its methods may use the enclosing method's
``self`` (a closure), which the call's facts cannot tell from their own receiver.
"""

from __future__ import annotations

from typing import Literal

from graphsvc.link.index import DOTTED, DYNAMIC_ATTRS, SUBSCRIPT, ModuleData, top_name
from graphsvc.link.names import Lookup, Value

# Reason texts (the saved queries match their beginnings: keep them in step).
MISSING_REASON = (
    "class {cls} has no attribute {name}: assigned nowhere in the class, its bases or subclasses"
    " (receivers: {receivers})"
)
NONE_REASON = (
    "class {cls} attribute {name} is only ever assigned None (in {where}) (receivers: {receivers})"
)
# Members that let instances answer names nobody assigns.
_DYNAMIC_MEMBERS = ("__getattr__", "__getattribute__", "__slots__")
# Class decorators known to return the class with no attributes added beyond its body.
_PLAIN_CLASS_DECORATORS = frozenset(
    {
        "dataclasses.dataclass",
        "functools.total_ordering",
        "enum.unique",
        "typing.final",
        "typing.runtime_checkable",
        "typing_extensions.final",
        "typing_extensions.runtime_checkable",
    }
)
Verdict = Literal["found", "unknown", "none", "absent"]


def self_attribute_reason(
    lookup: Lookup,
    scope: str,
    module: str,
    expression: str,
    candidate_kind: str,
    candidate: str | None,
) -> str | None:
    """The reason to record for an unresolved call through ``self.<name>``, or None.

    Args:
        lookup: the name layer (its consulted names become the site's link_deps).
        scope: the calling scope (a method of the class, or a function nested in one).
        module: the module of the site.
        expression: the callee as written (``self.a.m`` or ``self.a``).
        candidate_kind: ``self_attr`` (``self.a.m()``) or ``self`` (``self.a()``).
        candidate: the local candidate (``C.a`` for ``self``; None for ``self_attr``).
    """
    if not DOTTED.match(expression):
        return None
    parts = expression.split(".")
    if parts[0] != "self":
        return None
    if candidate_kind == "self" and candidate is not None and len(parts) == 2:
        cls, _, name = candidate.rpartition(".")
        if lookup.enclosing_class(scope, module) != cls:
            return None  # x = self.a; x.m(): the candidate names a member of self.a
    elif candidate_kind == "self_attr" and candidate is None and len(parts) >= 3:
        found = lookup.enclosing_class(scope, module)
        if found is None:
            return None
        cls, name = found, parts[1]
    else:
        return None
    if _in_function(lookup, cls):
        return None  # a class in a function: its methods may use the outer method's self
    return lookup.remember(("self_attribute", cls, name), lambda: _reason(lookup, cls, name))


def _in_function(lookup: Lookup, cls: str) -> bool:
    module = lookup.module_of(cls)
    if module is None:
        return True
    for data in lookup.read(module, top_name(cls, module)):
        parent = data.parents.get(cls)
        if parent is not None and data.kinds.get(parent) not in ("module", "class"):
            return True
    return False


def _reason(lookup: Lookup, cls: str, name: str) -> str | None:
    none_in: set[str] = set()
    receivers = (cls, *lookup.subclasses(cls))
    for receiver in receivers:
        module = lookup.module_of(receiver)
        if module is None:
            return None
        for entry in lookup.mro(receiver, module):
            if entry.kind == "builtin" and entry.name == "<builtin>.object":
                continue
            if entry.kind != "symbol" or entry.symbol_kind != "class":
                return None  # an outside, builtin or undefined base: anything may be there
            verdict = _verdict(lookup, entry, name)
            if verdict in ("found", "unknown"):
                return None
            if verdict == "none":
                none_in.add(entry.name)
    listed = ", ".join(receivers)
    if none_in:
        where = ", ".join(sorted(none_in))
        return NONE_REASON.format(cls=cls, name=name, where=where, receivers=listed)
    return MISSING_REASON.format(cls=cls, name=name, receivers=listed)


def _verdict(lookup: Lookup, entry: Value, name: str) -> Verdict:
    """What class ``entry`` itself (not its bases) says about attribute ``name``."""
    module = entry.module or ""
    datas = [d for d in lookup.read(module, top_name(entry.name, module)) if entry.name in d.kinds]
    if len(datas) != 1:
        return "unknown"  # not found, or a module defined by two files
    data = datas[0]
    qualname = entry.name
    members = data.children.get(qualname, {})
    if name in members:
        return "found"
    if any(m in members for m in _DYNAMIC_MEMBERS) or _opaque(lookup, data, entry):
        return "unknown"
    dynamic = data.dynamic.get(qualname, set())
    if name in dynamic:
        return "found"
    if DYNAMIC_ATTRS in dynamic:
        return "unknown"
    if name in data.attributes.get(qualname, set()):
        return "none" if name in data.none_only.get(qualname, set()) else "found"
    return "absent"


def _opaque(lookup: Lookup, data: ModuleData, entry: Value) -> bool:
    """A base the name layer skips (a call such as ``namedtuple(...)``, ``*bases``), a metaclass
    (other than ABCMeta) or a class decorator that may replace the class."""
    for written in data.bases.get(entry.name, ()):
        keyword, equals, value = written.partition("=")
        if not equals and not DOTTED.match(SUBSCRIPT.sub("", written.strip())):
            return True
        if equals and keyword.strip() == "metaclass" and not value.strip().endswith("ABCMeta"):
            return True
    for _, values in lookup.decorators(entry):
        names = {v.name for v in values}
        if not names or not names <= _PLAIN_CLASS_DECORATORS:
            return True
    return False
