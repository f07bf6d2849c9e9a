"""Local candidates: what one file alone can say a callee or reference names.

This never looks at another file. Cross-file resolution (MRO, re-exports, return values) happens
later over the store; here a candidate is a dotted name plus the kind of evidence behind it.
"""

from __future__ import annotations

import builtins
import re
from dataclasses import dataclass, field

from tree_sitter import Node

from graphsvc.extract.scopes import Binding, Scope, lookup
from graphsvc.facts import CandidateKind
from graphsvc.parsing import (
    F_ARGUMENTS,
    F_ATTRIBUTE,
    F_FUNCTION,
    F_LEFT,
    F_OBJECT,
    F_RIGHT,
    F_SUBSCRIPT,
    F_VALUE,
    string_value,
    text,
)

BUILTIN_NAMES = frozenset(name for name in dir(builtins) if not name.startswith("__"))
_CAPWORDS = re.compile(r"^_*[A-Z][A-Za-z0-9_]*[a-z][A-Za-z0-9_]*$")
_MAX_HOPS = 8

Candidate = tuple[str | None, CandidateKind]
_UNKNOWN: Candidate = (None, "unknown")


def _join(head: str, rest: list[str]) -> str:
    """``head.rest``; a union of classes (``a.A|b.B``, from an annotation) joins each."""
    if not rest:
        return head
    if "|" in head:
        return "|".join(".".join([h, *rest]) for h in head.split("|"))
    return ".".join([head, *rest])


# Annotation forms that say "one of these" (Optional[X] is X or None) or "X, described".
_UNIONS = frozenset({"Optional", "Union"})
_WRAPPERS = frozenset({"Annotated", "Final", "ClassVar"})
_TYPING = ("typing.", "typing_extensions.")
_ANNOTATION_NAME = re.compile(r"^[A-Za-z_][\w]*(?:\.[A-Za-z_][\w]*)*$")


@dataclass(slots=True)
class Resolver:
    """Resolves expressions to local candidates within one file."""

    classes: set[str] = field(default_factory=set)  # qualnames of classes defined in the file
    bases: dict[str, list[Node]] = field(default_factory=dict)  # class qualname -> base exprs
    attrs: dict[str, dict[str, list[Binding]]] = field(default_factory=dict)  # class -> attr
    star_import: bool = False  # the file has `from x import *`: any unbound name may come from it
    # (scope, name, rest) -> candidate. A name rebound many times (x = x.strip()) would otherwise
    # make resolution exponential; an entry in progress reads as "variable", which cuts cycles.
    _memo: dict[tuple[int, str, tuple[str, ...], bool], Candidate] = field(default_factory=dict)
    # (node id, scope id, callee) -> candidate of a name or a.b.c chain asked for from outside
    # (no hops, no member): the calls, channel, handle and flow passes ask for the same callee
    # nodes, and each would walk the chain and read its names again to reach the same _memo key
    _nodes: dict[tuple[int, int, bool], Candidate] = field(default_factory=dict)

    def is_constructor(self, candidate: str | None, kind: CandidateKind) -> bool:
        """Whether calling ``candidate`` makes an instance (a class by definition or by name)."""
        if candidate is None:
            return False
        if candidate in self.classes:
            return True
        last = candidate.rsplit(".", 1)[-1]
        return kind != "builtin" and bool(_CAPWORDS.match(last))

    def candidate(
        self,
        node: Node,
        scope: Scope,
        hops: int = 0,
        member: str | None = None,
        callee: bool = True,
        *,
        written: str | None = None,
    ) -> Candidate:
        """The local candidate of an expression used as a callee (or, ``callee=False``, a value).

        ``member`` names an attribute of the expression (``getattr(node, "member")``).
        ``written`` is the node's text, when the caller has it already (a name is not re-read).
        """
        if hops > _MAX_HOPS:
            return _UNKNOWN
        if hops or member:
            return self._candidate(node, scope, hops, member, callee, written)[0]
        key = (node.id, id(scope), callee)
        known = self._nodes.get(key)
        if known is None:
            known, named = self._candidate(node, scope, 0, None, callee, written)
            if named:  # what _name answered is final (_memo): so is this
                self._nodes[key] = known
        return known

    def _candidate(
        self,
        node: Node,
        scope: Scope,
        hops: int,
        member: str | None,
        callee: bool,
        written: str | None,
    ) -> tuple[Candidate, bool]:
        """:meth:`candidate`, and whether :meth:`_name` gave it."""
        rest: list[str] = [member] if member else []
        kind = node.type
        if kind == "identifier":
            name = written if written is not None else text(node)
            return self._name(name, scope, rest, hops, callee), True
        if kind == "call":
            return self._call_value(node, scope, rest, hops), False
        if kind != "attribute":
            return _UNKNOWN, False
        obj: Node | None = node
        while kind == "attribute":  # a.b.c: c, b (reversed below); stops at a
            attr = obj.child_by_field_id(F_ATTRIBUTE)  # type: ignore[union-attr]
            rest.append(text(attr) if attr is not None else "")
            obj = obj.child_by_field_id(F_OBJECT)  # type: ignore[union-attr]
            if obj is None:
                return _UNKNOWN, False
            kind = obj.type
        rest.reverse()  # [member, c, b] -> [b, c, member]
        if kind == "identifier":
            return self._name(text(obj), scope, rest, hops, True), True  # type: ignore[arg-type]
        if kind == "call":
            return self._call_value(obj, scope, rest, hops), False  # type: ignore[arg-type]
        return _UNKNOWN, False

    def _call_value(self, call: Node, scope: Scope, rest: list[str], hops: int) -> Candidate:
        """``getattr(o, "m")`` names ``o.m``; ``C()`` with attributes names ``C.attr``."""
        function = call.child_by_field_id(F_FUNCTION)
        if function is None:
            return _UNKNOWN
        written = text(function)
        args = call.child_by_field_id(F_ARGUMENTS) if written == "getattr" else None
        if args is not None:
            positional = [a for a in args.named_children if a.type != "comment"]
            if (
                len(positional) >= 2
                and positional[1].type == "string"
                and lookup(scope, "getattr") is None
            ):
                name = string_value(positional[1])
                if name is not None:
                    base, kind = self.candidate(positional[0], scope, hops + 1, member=name)
                    return (_join(base, rest) if base else None), kind
        if not rest:
            return _UNKNOWN
        return self._call_receiver(function, written, scope, rest, hops)

    def _call_receiver(
        self, function: Node, written: str, scope: Scope, rest: list[str], hops: int
    ) -> Candidate:
        if written == "super" and lookup(scope, "super") is None:
            return self._super(scope, rest, hops)
        target, kind = self.candidate(function, scope, hops + 1, written=written)
        if self.is_constructor(target, kind):
            return _join(target or "", rest), "instance"
        return _UNKNOWN

    def _super(self, scope: Scope, rest: list[str], hops: int) -> Candidate:
        cls = scope.enclosing_class()
        if cls is None or cls.parent is None:
            return None, "super"
        bases = self.bases.get(cls.qualname, [])
        if not bases:
            return None, "super"
        base, _ = self.candidate(bases[0], cls.parent, hops + 1)
        return (_join(base, rest) if base else None), "super"

    def _name(self, name: str, scope: Scope, rest: list[str], hops: int, callee: bool) -> Candidate:
        key = (id(scope), name, tuple(rest), callee)
        known = self._memo.get(key)
        if known is not None:
            return known
        self._memo[key] = (None, "variable")
        result = self._lookup_name(name, scope, rest, hops, callee)
        self._memo[key] = result
        return result

    def _lookup_name(
        self, name: str, scope: Scope, rest: list[str], hops: int, callee: bool
    ) -> Candidate:
        bindings = lookup(scope, name)
        if not bindings:
            if name in BUILTIN_NAMES and not self.star_import:  # `from x import *` may shadow
                return _join(f"<builtin>.{name}", rest), "builtin"
            return _UNKNOWN
        if len(bindings) == 1 and bindings[0].kind != "global":  # the usual case: no set
            return self._binding(bindings[0], rest, hops, callee)
        results = {self._binding(b, rest, hops, callee) for b in bindings if b.kind != "global"}
        if len(results) == 1:
            return results.pop()
        return None, "ambiguous"

    def _binding(self, binding: Binding, rest: list[str], hops: int, callee: bool) -> Candidate:
        kind = binding.kind
        if kind == "def" and binding.target:
            return _join(binding.target, rest), "local"
        if kind == "import" and binding.target:
            return _join(binding.target, rest), "import"
        if kind == "self" and binding.scope is not None:
            return self._receiver(binding, rest, hops)
        if kind == "annotation" and binding.node is not None and binding.scope is not None:
            return self._annotated(binding, rest, hops, callee)
        if kind in ("call", "alias") and binding.node is not None and binding.scope is not None:
            return self._value(binding, rest, hops, callee)
        return None, "variable"

    def _value(self, binding: Binding, rest: list[str], hops: int, callee: bool) -> Candidate:
        assert binding.node is not None and binding.scope is not None
        if binding.kind == "alias":
            # y = x; y.a.m(): x.a, then .m (x itself would be its value, or its __call__)
            member = rest[0] if rest else None
            target, kind = self.candidate(
                binding.node, binding.scope, hops + 1, member=member, callee=callee
            )
            return (_join(target, rest[1:]) if target else None), kind
        function = binding.node.child_by_field_id(F_FUNCTION)
        if function is None:
            return None, "variable"
        target, kind = self.candidate(function, binding.scope, hops + 1)
        if not self.is_constructor(target, kind) or not (rest or callee):
            return None, "variable"
        return _join(target or "", rest or ["__call__"]), "instance"

    def _annotated(self, binding: Binding, rest: list[str], hops: int, callee: bool) -> Candidate:
        """A name annotated with a class (``model: Model``, ``Optional[Model]``, ``"Model"``,
        ``Model | None``): an instance of it, so ``model.m`` is ``Model.m``. Several classes
        (``A | B``) give ``A.m|B.m``. An annotation naming anything else (``int``,
        ``list[Model]``, ``Callable``) says nothing: the value's binding decides, if any."""
        assert binding.node is not None and binding.scope is not None
        classes = self.annotation_classes(binding.node, binding.scope, hops + 1)
        if not classes:
            if binding.fallback is not None:
                return self._binding(binding.fallback, rest, hops, callee)
            return None, "variable"
        if not (rest or callee):
            return None, "variable"  # the instance itself, as a value: no code
        if len(classes) == 1 and len(rest) >= 2 and classes[0] in self.classes:
            field = self._field(classes[0], rest, hops)  # out.flags.set(): Output.flags: Flags
            if field is not None:
                return field
        return _join("|".join(classes), rest or ["__call__"]), "annotation"

    def _field(self, cls: str, rest: list[str], hops: int) -> Candidate | None:
        """``x.a.m`` for ``x`` an instance of a class of this file whose ``a`` is typed
        (``a: A`` in the class body, ``self.a: A = ...``, ``self.a = A()``)."""
        values = self.attrs.get(cls, {}).get(rest[0])
        if not values:
            return None
        results = {r for v in values if (r := self._attr_value(v, rest[1:], hops)) is not None}
        if len(results) != 1:
            return None
        target, _ = results.pop()
        return (target, "annotation") if target is not None else None

    def annotation_classes(self, node: Node, scope: Scope, hops: int = 0) -> list[str] | None:
        """The classes an annotation says a value is an instance of (None stripped from
        unions), or None when it names anything but classes of the tree or imported ones."""
        found: list[str] = []
        if not self._annotation(node, scope, hops, found) or not found:
            return None
        return list(dict.fromkeys(found))

    def _annotation(self, node: Node, scope: Scope, hops: int, found: list[str]) -> bool:
        if hops > _MAX_HOPS:
            return False
        kind = node.type
        if kind == "type" or kind == "parenthesized_expression":
            inner = node.named_children
            return len(inner) == 1 and self._annotation(inner[0], scope, hops + 1, found)
        if kind == "none":
            return True
        if kind == "binary_operator":  # A | B
            parts = [node.child_by_field_id(F_LEFT), node.child_by_field_id(F_RIGHT)]
            return all(p is not None and self._annotation(p, scope, hops + 1, found) for p in parts)
        if kind in ("string", "concatenated_string"):
            return self._annotation_text(string_value(node), scope, hops, found)
        if kind in ("generic_type", "subscript"):
            return self._generic(node, scope, hops, found)
        if kind not in ("identifier", "attribute"):
            return False
        target, target_kind = self.candidate(node, scope, hops + 1, callee=False)
        return self._class_name(target, target_kind, found)

    def _class_name(self, target: str | None, kind: CandidateKind, found: list[str]) -> bool:
        if (
            target is None
            or kind not in ("local", "import")
            or target.startswith(_TYPING)
            or "|" in target
            or not self.is_constructor(target, kind)
        ):
            return False
        found.append(target)
        return True

    def _annotation_text(
        self, written: str | None, scope: Scope, hops: int, found: list[str]
    ) -> bool:
        """A string annotation (``"Model"``, ``"pkg.Model | None"``): dotted names only."""
        if written is None:
            return False
        for part in (p.strip() for p in written.split("|")):
            if part == "None":
                continue
            if not _ANNOTATION_NAME.match(part):
                return False
            head, *rest = part.split(".")
            target, kind = self._name(head, scope, rest, hops + 1, False)
            if not self._class_name(target, kind, found):
                return False
        return True

    def _generic(self, node: Node, scope: Scope, hops: int, found: list[str]) -> bool:
        """``Optional[X]``, ``Union[A, B]``, ``Annotated[X, ...]``, ``Final[X]``: their
        arguments; any other generic (``list[X]``, ``Type[X]``) is not an instance of X."""
        if node.type == "generic_type":
            head = node.named_children[0] if node.named_child_count else None
            params = node.named_children[1] if node.named_child_count > 1 else None
            args = list(params.named_children) if params is not None else []
        else:
            head = node.child_by_field_id(F_VALUE)
            sub = node.child_by_field_id(F_SUBSCRIPT)
            args = [] if sub is None else (sub.named_children if sub.type == "tuple" else [sub])
        if head is None or not args:
            return False
        name = text(head).rsplit(".", 1)[-1]
        if name in _WRAPPERS:
            args = args[:1]
        elif name not in _UNIONS:
            return False
        return all(self._annotation(a, scope, hops + 1, found) for a in args)

    def _receiver(self, binding: Binding, rest: list[str], hops: int) -> Candidate:
        cls = binding.scope
        assert cls is not None
        if not rest:
            return None, "variable"
        receiver = binding.receiver or "self"
        if len(rest) == 1 or receiver == "cls":
            return _join(cls.qualname, rest), receiver
        values = self.attrs.get(cls.qualname, {}).get(rest[0])
        if not values:
            return None, "self_attr"
        results = {r for v in values if (r := self._attr_value(v, rest[1:], hops)) is not None}
        if not results:
            return None, "self_attr"
        return results.pop() if len(results) == 1 else (None, "ambiguous")

    def _attr_value(self, value: Binding, rest: list[str], hops: int) -> Candidate | None:
        """What ``self.a.rest`` names given one binding of ``a`` (None: the binding says
        nothing, an annotation without a value such as ``self.a: int``)."""
        if value.kind == "annotation" and value.node is not None and value.scope is not None:
            classes = self.annotation_classes(value.node, value.scope, hops + 1)
            if classes:
                return _join("|".join(classes), rest), "annotation"
            if value.fallback is None or value.fallback.kind == "unknown":
                return None if value.fallback is None else (None, "self_attr")
            value = value.fallback
        if value.kind == "call" and value.node is not None and value.scope is not None:
            function = value.node.child_by_field_id(F_FUNCTION)
            if function is not None:
                target, kind = self.candidate(function, value.scope, hops + 1)
                if self.is_constructor(target, kind):
                    return _join(target or "", rest), "self_attr"
        if value.kind == "alias" and value.node is not None and value.scope is not None:
            target, kind = self.candidate(value.node, value.scope, hops + 1, member=rest[0])
            if target is not None:
                joined = _join(target, rest[1:])
                return joined, "annotation" if kind == "annotation" else "self_attr"
        return None, "self_attr"
