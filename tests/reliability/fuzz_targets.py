"""What the fuzz aims at, derived rather than listed: the server's own method and command
names, names its source uses for itself, and params of every LSP method with one field of a
wrong JSON type (tests/lsp_shapes.py), sent as requests, as notifications, and as
notification methods carrying an id.
"""

from __future__ import annotations

import ast
import functools
import re
from pathlib import Path
from typing import Any

import attrs
from hypothesis import strategies as st
from lsprotocol import types

from sc2_lsp.server import build_server
from tests.lsp_shapes import corrupted, params_types, valid

PACKAGE = Path(__file__).resolve().parents[2] / "sc2_lsp"
SESSION_ENDING = {types.EXIT, types.SHUTDOWN}
"""Never sent as what they are (they would end the session); `exit` is sent with an id."""
METHOD_LIKE = re.compile(r"^(\$/|sc2[/.])[\w./$]+$")


@functools.cache
def own_names() -> tuple[list[str], list[str]]:
    """(methods, commands): what the server registers, plus method-like strings in its source
    (`sc2/status`, or any internal marker someone names like a method)."""
    server = build_server()
    try:
        manager = server.protocol.fm
        methods = set(manager.features) | set(manager.builtin_features)
        commands = sorted(manager.commands)
    finally:
        server.engine.close()
        server.repository.close()
    for source in PACKAGE.rglob("*.py"):
        methods.update(
            node.value
            for node in ast.walk(ast.parse(source.read_text()))
            if isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and METHOD_LIKE.match(node.value)
        )
    return sorted(methods), commands


def is_notification(method: str) -> bool:
    message = types.METHOD_TO_TYPES.get(method, (None,))[0]
    return message is not None and "id" not in attrs.fields_dict(message)


def with_uris(value: Any, uris: list[str], draw: st.DrawFn) -> Any:
    """`value` with every `uri` field pointed at one of the fuzz's documents."""
    if isinstance(value, dict):
        return {
            key: draw(st.sampled_from(uris))
            if key == "uri" and isinstance(item, str)
            else with_uris(item, uris, draw)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [with_uris(item, uris, draw) for item in value]
    return value


@st.composite
def own_method_message(
    draw: st.DrawFn, uris: list[str], other_params: st.SearchStrategy[Any]
) -> tuple[str, Any, bool]:
    """(method, params, with an id): one of the server's own names, as request or not."""
    methods, commands = own_names()
    method = draw(st.sampled_from([name for name in methods if name not in SESSION_ENDING]))
    params_class = params_types().get(method)
    if method == types.WORKSPACE_EXECUTE_COMMAND:
        params: Any = {"command": draw(st.sampled_from(commands)), "arguments": []}
    elif params_class is not None and draw(st.booleans()):
        params = with_uris(draw(valid(params_class)), uris, draw)
    else:
        params = draw(other_params)
    return method, params, draw(st.booleans())


@st.composite
def wrong_type_message(draw: st.DrawFn, uris: list[str]) -> tuple[str, Any, bool]:
    """(method, params, with an id): an LSP method, one field of its params wrongly typed;
    three times in four one the server handles."""
    handled = [method for method in own_names()[0] if method in params_types()]
    methods = handled if draw(st.integers(0, 3)) else sorted(params_types())
    method = draw(st.sampled_from([name for name in methods if name not in SESSION_ENDING]))
    params, _path, _exact = draw(corrupted(params_types()[method]))
    return method, with_uris(params, uris, draw), not is_notification(method)


@st.composite
def notification_with_id(draw: st.DrawFn, uris: list[str]) -> tuple[str, Any, bool]:
    """(method, params, True): a notification method, well-typed params, sent with an id."""
    methods = sorted(method for method in types.METHOD_TO_TYPES if is_notification(method))
    method = draw(st.sampled_from(methods))
    params_class = params_types().get(method)
    params = None if params_class is None else with_uris(draw(valid(params_class)), uris, draw)
    return method, params, True
