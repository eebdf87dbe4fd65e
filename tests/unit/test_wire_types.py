"""The wire check against every params class lsprotocol defines: well-typed JSON fits, and a
field of the wrong JSON type anywhere is refused by its path (what cattrs would coerce)."""

from __future__ import annotations

import typing
from typing import Any

import attrs
from hypothesis import given, settings
from hypothesis import strategies as st
from lsprotocol import types

from sc2_lsp.wire_types import describe, mismatch
from tests.lsp_shapes import corrupted, fields_of, params_types, valid

PARAMS = params_types()
METHODS = sorted(PARAMS)


def test_every_annotation_in_every_params_class_has_a_known_json_shape() -> None:
    seen: set[Any] = set()
    pending: list[Any] = list(PARAMS.values())
    while pending:
        annotation = pending.pop()
        if annotation in seen:
            continue
        seen.add(annotation)
        mismatch(None, annotation, "params")  # raises TypeError for an unknown form
        assert describe(annotation)
        if attrs.has(annotation):
            pending.extend(kind for _key, kind, _required in fields_of(annotation))
        pending.extend(typing.get_args(annotation))
    assert len(seen) > 300  # the walk reached the whole type tree


@settings(max_examples=400, deadline=None)
@given(st.data())
def test_well_typed_params_fit(data: st.DataObject) -> None:
    method = data.draw(st.sampled_from(METHODS))
    value = data.draw(valid(PARAMS[method]))
    assert mismatch(value, PARAMS[method], "params") is None, (method, value)


@settings(max_examples=400, deadline=None)
@given(st.data())
def test_a_field_of_the_wrong_type_is_refused_by_its_path(data: st.DataObject) -> None:
    method = data.draw(st.sampled_from(METHODS))
    value, path, exact = data.draw(corrupted(PARAMS[method]))
    found = mismatch(value, PARAMS[method], "params")
    if exact:
        assert found is not None and found.startswith(path + ":"), (method, path, found)


def test_the_coercions_cattrs_would_make_are_refused() -> None:
    item = {"uri": "file:///a.py", "languageId": "python", "version": 1, "text": "x"}
    cases = [
        ({**item, "languageId": 1}, "params.languageId: expected string, got integer"),
        ({**item, "text": 5}, "params.text: expected string, got integer"),
        ({**item, "version": "1"}, "params.version: expected integer, got string"),
        ({**item, "version": 1.5}, "params.version: expected integer, got number"),
        ({**item, "version": True}, "params.version: expected integer, got boolean"),
        ({key: value for key, value in item.items() if key != "text"}, "params.text: missing"),
    ]
    for value, reason in cases:
        found = mismatch(value, types.TextDocumentItem, "params")
        assert found is not None and found.startswith(reason), found
    assert mismatch({**item, "version": 2.0}, types.TextDocumentItem, "params") is None
    assert mismatch({**item, "extra": [1]}, types.TextDocumentItem, "params") is None
