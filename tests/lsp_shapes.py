"""Hypothesis strategies for LSP params, derived from lsprotocol's attrs classes (no hand list).

`valid(annotation)` draws JSON that fits a type; `corrupted(annotation)` draws the same with
one field, anywhere inside, of a JSON type that field does not take, and says which field.
The unit tests check the server's wire check against them; the fuzz sends them to a server.
"""

from __future__ import annotations

import collections.abc
import enum
import functools
import types as pytypes
import typing
from typing import Any

import attrs
from hypothesis import strategies as st
from lsprotocol import types

MAX_DEPTH = 4
"""Below this many nested objects only required fields are drawn (ClientCapabilities is deep)."""

KIND_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "string": st.sampled_from(["", "x", "file:///wrong.py", "0"]),
    "integer": st.sampled_from([0, 1, -1, 7, 2**31]),
    "number": st.sampled_from([1.5, -0.25]),
    "boolean": st.booleans(),
    "null": st.none(),
    "array": st.sampled_from([[], [1], ["x"]]),
    "object": st.sampled_from([{}, {"x": 1}]),
}


@functools.cache
def fields_of(cls: type) -> tuple[tuple[str, Any, bool], ...]:
    """(JSON key, annotation, required) per field, as lsprotocol spells and resolves them."""
    hints = typing.get_type_hints(cls, vars(types))
    out = []
    for field in attrs.fields(cls):
        first, *rest = field.name.removesuffix("_").split("_")
        key = first + "".join(part.title() for part in rest)
        out.append((key, hints[field.name], field.default is attrs.NOTHING))
    return tuple(out)


def _origin(annotation: Any) -> Any:
    origin = typing.get_origin(annotation)
    return typing.Union if origin is pytypes.UnionType else origin


def accepted_kinds(annotation: Any) -> set[str]:
    """The JSON kinds a value of `annotation` may have; every kind for LSPAny."""
    origin = _origin(annotation)
    if annotation is Any or annotation is object:
        return set(KIND_VALUES)
    if origin is typing.Union:
        return set().union(*(accepted_kinds(member) for member in typing.get_args(annotation)))
    if origin is typing.Literal:
        return {_kind_of(value) for value in typing.get_args(annotation)}
    if origin in (list, tuple, collections.abc.Sequence):
        return {"array"}
    if origin in (dict, collections.abc.Mapping) or annotation is types.LSPObject:
        return {"object"}
    if attrs.has(annotation):
        return {"object"}
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return {_kind_of(member.value) for member in annotation}
    simple = {str: "string", bool: "boolean", type(None): "null", list: "array", dict: "object"}
    if annotation is int:
        return {"integer"}
    if annotation is float:
        return {"integer", "number"}
    return {simple[annotation]}


def _kind_of(value: Any) -> str:
    kinds = {str: "string", bool: "boolean", int: "integer", float: "number", type(None): "null"}
    return kinds[type(value)]


@functools.cache
def valid(annotation: Any, depth: int = 0) -> st.SearchStrategy[Any]:
    """JSON values that fit `annotation`."""
    origin = _origin(annotation)
    args = typing.get_args(annotation)
    if annotation is Any or annotation is object:
        return st.one_of(st.none(), st.integers(0, 9), st.sampled_from(["a", "b"]))
    if annotation is types.LSPObject:
        return st.dictionaries(st.sampled_from(["a", "b"]), st.integers(0, 9), max_size=2)
    if origin is typing.Union:
        return st.one_of([valid(member, depth) for member in args])
    if origin is typing.Literal:
        return st.sampled_from(args)
    if origin in (list, tuple, collections.abc.Sequence):
        if len(args) > 1 and args[-1] is not Ellipsis:
            return st.tuples(*(valid(arg, depth) for arg in args)).map(list)
        return st.lists(valid(args[0], depth), max_size=0 if depth >= MAX_DEPTH else 2)
    if origin in (dict, collections.abc.Mapping):
        return st.dictionaries(st.sampled_from(["k", "l"]), valid(args[1], depth), max_size=2)
    if attrs.has(annotation):
        return st.deferred(lambda: _valid_object(annotation, depth))
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return st.sampled_from([member.value for member in annotation])
    scalars: dict[Any, st.SearchStrategy[Any]] = {
        str: st.sampled_from(["", "python", "file:///ws/a.py", "x y"]),
        int: st.integers(0, 40),
        float: st.floats(0, 10, allow_nan=False),
        bool: st.booleans(),
        type(None): st.none(),
    }
    return scalars[annotation]


def _valid_object(cls: type, depth: int) -> st.SearchStrategy[dict[str, Any]]:
    required = {key: valid(kind, depth + 1) for key, kind, need in fields_of(cls) if need}
    optional = {
        key: valid(kind, depth + 1)
        for key, kind, need in fields_of(cls)
        if not need and depth < MAX_DEPTH
    }
    return st.fixed_dictionaries(required, optional=optional)


def wrong(annotation: Any) -> st.SearchStrategy[Any]:
    """JSON values of a kind `annotation` does not take (nothing for LSPAny)."""
    kinds = sorted(set(KIND_VALUES) - accepted_kinds(annotation))
    return st.one_of([KIND_VALUES[kind] for kind in kinds]) if kinds else st.nothing()


@st.composite
def corrupted(draw: st.DrawFn, cls: type) -> tuple[dict[str, Any], str, bool]:
    """(params, path of the wrong field, whether that path is exact): a valid `cls` object with
    one field, at any depth, replaced by a wrong kind. Through a union the value may still fit
    another member, so such paths are not exact."""
    value: dict[str, Any] = draw(_valid_object(cls, MAX_DEPTH))  # required fields only
    exact = True
    path, target, annotation = "params", value, cls
    while True:
        candidates = [
            (key, kind)
            for key, kind, _need in fields_of(annotation)
            if accepted_kinds(kind) != set(KIND_VALUES)
        ]
        if not candidates:
            return value, path, False
        key, kind = draw(st.sampled_from(candidates))
        path = f"{path}.{key}"
        inner = _object_member(kind)
        if inner is not None and draw(st.integers(0, 3)):  # mostly deeper, where fields are
            exact = exact and _only_object_member(kind)
            target[key] = draw(_valid_object(inner, MAX_DEPTH))
            target, annotation = target[key], inner
            continue
        target[key] = draw(wrong(kind))
        return value, path, exact


def _object_member(annotation: Any) -> type | None:
    """The attrs class a field holds directly or as one member of an optional/union."""
    if attrs.has(annotation):
        return annotation if fields_of(annotation) else None
    if _origin(annotation) is typing.Union:
        members = [member for member in typing.get_args(annotation) if attrs.has(member)]
        return members[0] if len(members) == 1 and fields_of(members[0]) else None
    return None


def _only_object_member(annotation: Any) -> bool:
    """Whether an object value can fit only one member of `annotation`."""
    if _origin(annotation) is not typing.Union:
        return True
    members = typing.get_args(annotation)
    return sum("object" in accepted_kinds(member) for member in members) == 1


def params_types() -> dict[str, type]:
    """Every LSP method with params, and its params class."""
    return {
        method: params
        for method, (_message, _result, params, _options) in types.METHOD_TO_TYPES.items()
        if isinstance(params, type) and attrs.has(params)
    }
