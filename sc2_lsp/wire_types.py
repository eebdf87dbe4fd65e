"""What JSON each lsprotocol type accepts: the check that runs before cattrs structures params.

cattrs, as lsprotocol configures it, converts rather than checks: a `str` field takes
`str(5)`, an `int` field `int("7")` or `int(1.5)`, a `bool` field `bool("false")`, and
lsprotocol's union hooks let any primitive through (a `languageId` of 1 stays the int 1 and
poisons the document). `mismatch` walks the raw JSON against the type annotations of the
lsprotocol attrs classes, so a value of the wrong JSON type is refused with its path before
cattrs sees it, whatever field it is in. Value ranges (LSP's `uinteger` and so on) stay with
lsprotocol's own validators.
"""

from __future__ import annotations

import collections.abc
import enum
import functools
import types as pytypes
import typing
from typing import Any

import attrs
from lsprotocol import types

JSON_KINDS: dict[type, str] = {
    dict: "object",
    list: "array",
    str: "string",
    bool: "boolean",
    int: "integer",
    float: "number",
    type(None): "null",
}
_SEQUENCES = (list, collections.abc.Sequence, tuple)
_MAPPINGS = (dict, collections.abc.Mapping)


def json_kind(value: object) -> str:
    """The JSON type name of a value `json.loads` returned."""
    return JSON_KINDS.get(type(value), type(value).__name__)


def mismatch(value: object, annotation: Any, path: str) -> str | None:
    """Where `value` does not fit `annotation`, in words ("params.x: expected string, got
    integer"); None when it fits. Unknown keys in objects are allowed (LSP extends objects)."""
    if annotation is Any or annotation is object:
        return None
    if annotation is types.LSPObject:
        return None if isinstance(value, dict) else _expected(path, "object", value)
    origin = typing.get_origin(annotation)
    if origin is typing.Union or origin is pytypes.UnionType:
        return _union_mismatch(value, typing.get_args(annotation), path)
    if origin is typing.Literal:
        allowed = typing.get_args(annotation)
        fits = any(value == item and type(value) is type(item) for item in allowed)
        return None if fits else f"{path}: expected {describe(annotation)}, got {_short(value)}"
    if origin in _SEQUENCES:
        return _sequence_mismatch(value, typing.get_args(annotation), path)
    if origin in _MAPPINGS:
        if not isinstance(value, dict):
            return _expected(path, "object", value)
        item_type = typing.get_args(annotation)[1]
        return _first(mismatch(item, item_type, f"{path}.{key}") for key, item in value.items())
    if isinstance(annotation, type):
        return _class_mismatch(value, annotation, path)
    raise TypeError(f"{path}: no JSON shape is known for {annotation!r}")


def describe(annotation: Any) -> str:
    """What an annotation accepts, for messages: "one of 1, 2", or its JSON kinds ("string or
    null") when it is a union."""
    origin = typing.get_origin(annotation)
    if origin is typing.Union or origin is pytypes.UnionType:
        return _kinds(typing.get_args(annotation))
    if origin is typing.Literal:
        return " or ".join(repr(arg) for arg in typing.get_args(annotation))
    if origin in _SEQUENCES:
        return "array"
    if origin in _MAPPINGS or annotation is types.LSPObject or attrs.has(annotation):
        return "object"
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return "one of " + ", ".join(repr(member.value) for member in annotation)
    if annotation is float:
        return "number"
    if isinstance(annotation, type) and annotation in JSON_KINDS:
        return JSON_KINDS[annotation]
    return "any value"


def _kinds(members: tuple[Any, ...]) -> str:
    return " or ".join(dict.fromkeys(_kind(member) for member in members))


def _kind(annotation: Any) -> str:
    """The JSON kind of a union member: an enum or a literal by the kind of its values."""
    if typing.get_origin(annotation) is typing.Literal:
        return json_kind(typing.get_args(annotation)[0])
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return json_kind(next(iter(annotation)).value)
    return describe(annotation)


@functools.cache
def field_types(cls: type) -> tuple[tuple[str, str, Any, bool], ...]:
    """(attribute, JSON key, resolved annotation, required) for each field of an attrs class.

    The JSON key is lsprotocol's camelCase spelling; forward references are resolved in
    lsprotocol's namespace."""
    hints = typing.get_type_hints(cls, vars(types))
    return tuple(
        (field.name, _camel_case(field.name), hints[field.name], field.default is attrs.NOTHING)
        for field in attrs.fields(cls)
    )


def _class_mismatch(value: object, annotation: type, path: str) -> str | None:
    if attrs.has(annotation):
        if not isinstance(value, dict):
            return _expected(path, "object", value)
        for _name, key, field_type, required in field_types(annotation):
            if key in value:
                found = mismatch(value[key], field_type, f"{path}.{key}")
                if found:
                    return found
            elif required:
                return f"{path}.{key}: missing"
        return None
    if issubclass(annotation, enum.Enum):
        fits = any(
            value == member.value and type(value) is type(member.value) for member in annotation
        )
        return None if fits else f"{path}: expected {describe(annotation)}, got {_short(value)}"
    if annotation is float:
        fits = isinstance(value, int | float) and not isinstance(value, bool)
        return None if fits else _expected(path, "number", value)
    if annotation is int:
        fits = type(value) is int or (type(value) is float and value.is_integer())
        return None if fits else _expected(path, "integer", value)
    if annotation in JSON_KINDS:
        return None if type(value) is annotation else _expected(path, describe(annotation), value)
    raise TypeError(f"{path}: no JSON shape is known for {annotation!r}")


def _union_mismatch(value: object, members: tuple[Any, ...], path: str) -> str | None:
    misses = [mismatch(value, member, path) for member in members]
    if not all(misses):
        return None
    # One member takes this JSON kind: its complaint is the precise one (a deeper path).
    same_kind = [
        miss
        for member, miss in zip(members, misses, strict=True)
        if _kind(member) == json_kind(value)
    ]
    if len(same_kind) == 1:
        return same_kind[0]
    return _expected(path, _kinds(members), value)


def _sequence_mismatch(value: object, args: tuple[Any, ...], path: str) -> str | None:
    if not isinstance(value, list):
        return _expected(path, "array", value)
    if len(args) > 1 and args[-1] is not Ellipsis:  # a fixed tuple, e.g. Tuple[int, int]
        if len(value) != len(args):
            return f"{path}: expected an array of {len(args)}, got {len(value)} items"
        return _first(
            mismatch(item, arg, f"{path}[{index}]")
            for index, (item, arg) in enumerate(zip(value, args, strict=True))
        )
    item_type = args[0] if args else Any
    return _first(mismatch(item, item_type, f"{path}[{index}]") for index, item in enumerate(value))


def _first(misses: collections.abc.Iterable[str | None]) -> str | None:
    return next((miss for miss in misses if miss), None)


def _short(value: object) -> str:
    """A value for an error message: enough to recognise it, never a whole document."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _expected(path: str, wanted: str, value: object) -> str:
    return f"{path}: expected {wanted}, got {json_kind(value)}"


def _camel_case(name: str) -> str:
    """lsprotocol's JSON spelling of an attribute (`text_document` → `textDocument`)."""
    first, *rest = name.removesuffix("_").split("_")
    return first + "".join(part.title() for part in rest)
