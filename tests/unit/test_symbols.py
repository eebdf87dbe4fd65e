"""Tree-sitter extraction of imports/definitions and definition rendering (sc2_lsp.context)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sc2_lsp.context.languages import SUPPORTED, extract_symbols, structure_language
from sc2_lsp.context.retrieval.render import render_definition, render_selection
from sc2_lsp.context.symbols import FileSymbols

PROJECTS = Path(__file__).resolve().parents[1] / "data" / "projects"


def symbols_of(relative: str) -> tuple[bytes, FileSymbols]:
    path = PROJECTS / relative
    language = structure_language(None, path)
    assert language is not None
    data = path.read_bytes()
    return data, extract_symbols(language, data)


def table(symbols: FileSymbols) -> list[tuple[str, str, str | None]]:
    return [(d.name, d.kind, d.container) for d in symbols.definitions]


def signature(data: bytes, symbols: FileSymbols, name: str, *, full: bool = False) -> str:
    index = next(i for i, d in enumerate(symbols.definitions) if d.name == name)
    rendered = render_definition(data, symbols, index, full=full, max_lines=80)
    assert rendered is not None
    return rendered.text


@pytest.mark.parametrize(
    ("relative", "expected"),
    [
        pytest.param(
            "python/src/shop/cart.py",
            [
                ("LineItem", "class", None),
                ("Cart", "class", None),
                ("add", "method", "Cart"),
                ("subtotal", "method", "Cart"),
                ("total", "method", "Cart"),
            ],
            id="python",
        ),
        pytest.param(
            "typescript/src/lib/math.ts",
            [
                ("add", "function", None),
                ("Vector", "class", None),
                ("constructor", "method", "Vector"),
                ("length", "method", "Vector"),
                ("scale", "method", "Vector"),
                ("ORIGIN", "constant", None),
            ],
            id="typescript",
        ),
        pytest.param(
            "go/store/store.go",
            [("Store", "type", None), ("Add", "method", "Store"), ("Count", "method", "Store")],
            id="go",
        ),
        pytest.param(
            "rust/src/model.rs",
            [("Item", "type", None), ("Item", "impl", None), ("gross", "method", "Item")],
            id="rust",
        ),
        pytest.param(
            "java/src/main/java/com/acme/model/Item.java",
            [("Item", "class", None), ("Item", "method", "Item"), ("getPrice", "method", "Item")],
            id="java",
        ),
        pytest.param(
            "c/include/shop/item.h",
            [
                ("SHOP_ITEM_H", "macro", None),
                ("item", "type", None),
                ("item_gross", "function", None),
            ],
            id="c-header-inside-include-guard",
        ),
        pytest.param(
            "cpp/lib/cart.hpp",
            [("Cart", "class", None), ("add", "method", "Cart"), ("total", "method", "Cart")],
            id="cpp-class-in-namespace",
        ),
        pytest.param(
            "cpp/lib/cart.cpp",
            [("add", "method", "Cart"), ("total", "method", "Cart")],
            id="cpp-out-of-class-methods",
        ),
    ],
)
def test_definitions_per_language(
    relative: str, expected: list[tuple[str, str, str | None]]
) -> None:
    _, symbols = symbols_of(relative)
    assert table(symbols) == expected


@pytest.mark.parametrize(
    ("relative", "expected"),
    [
        pytest.param(
            "python/app/main.py",
            [
                ("module", "shop.util.text", (), "text_helpers"),
                ("from", "shop", (("Cart", "Cart"),), None),
                ("from", "shop.pricing", (("apply_discount", "apply_discount"),), None),
            ],
            id="python",
        ),
        pytest.param(
            "typescript/src/app/main.ts",
            [
                ("from", "../lib/math", (("add", "add"),), None),
                ("from", "@lib/math", (("Vector", "Vector"),), None),
                ("from", "../lib", (("format", "format"),), None),
            ],
            id="typescript",
        ),
        pytest.param(
            "typescript/src/lib/index.ts",
            [
                ("reexport", "./math", (("*", "*"),), None),
                ("reexport", "./format", (("format", "format"),), None),
            ],
            id="typescript-reexports",
        ),
        pytest.param(
            "typescript/src/legacy/main.js",
            [("from", "./util", (("legacyHelper", "legacyHelper"),), None)],
            id="commonjs-require",
        ),
        pytest.param(
            "go/cmd/shop/main.go",
            [
                ("module", "fmt", (), None),
                ("module", "example.com/shop/internal/model", (), "m"),
                ("module", "example.com/shop/store", (), None),
            ],
            id="go",
        ),
        pytest.param(
            "rust/src/lib.rs",
            [
                ("mod", "model", (), None),
                ("mod", "util", (), None),
                ("use", "crate::model", (("Item", "Item"),), None),
            ],
            id="rust",
        ),
        pytest.param(
            "java/src/main/java/com/acme/shop/Cart.java",
            [
                ("from", "com.acme.util", (("Strings", "Strings"),), None),
                ("from", "com.acme.util.MathUtil", (("clamp", "clamp"),), None),
                ("from", "com.acme.model", (("*", "*"),), None),
                ("from", "java.util", (("ArrayList", "ArrayList"),), None),
                ("from", "java.util", (("List", "List"),), None),
            ],
            id="java",
        ),
        pytest.param(
            "c/src/main.c",
            [
                ("system_include", "stdio.h", (), None),
                ("system_include", "shop/item.h", (), None),
                ("include", "util.h", (), None),
            ],
            id="c",
        ),
    ],
)
def test_imports_per_language(relative: str, expected: list[tuple[object, ...]]) -> None:
    _, symbols = symbols_of(relative)
    assert [(i.kind, i.module, i.names, i.alias) for i in symbols.imports] == expected


def test_python_import_forms() -> None:
    source = b"""
import os.path as osp, sys
from . import sibling
from ..pkg.mod import Name, Other as O
from pkg import *
if TYPE_CHECKING:
    from typing_extensions import Self
try:
    import ujson as json
except ImportError:
    import json
"""
    symbols = extract_symbols("python", source)
    assert [(i.kind, i.module, i.names, i.alias) for i in symbols.imports] == [
        ("module", "os.path", (), "osp"),
        ("module", "sys", (), None),
        ("from", ".", (("sibling", "sibling"),), None),
        ("from", "..pkg.mod", (("Name", "Name"), ("Other", "O")), None),
        ("from", "pkg", (("*", "*"),), None),
        ("from", "typing_extensions", (("Self", "Self"),), None),
        ("module", "ujson", (), "json"),
        ("module", "json", (), None),
    ]


def test_rust_use_trees_are_flattened() -> None:
    source = b"use crate::model::{Item, store::Store as S};\nuse super::helpers::*;\n"
    symbols = extract_symbols("rust", source)
    assert [(i.module, i.names) for i in symbols.imports] == [
        ("crate::model", (("Item", "Item"),)),
        ("crate::model::store", (("Store", "S"),)),
        ("super::helpers", (("*", "*"),)),
    ]


def test_python_signature_keeps_decorators_and_docstring() -> None:
    data, symbols = symbols_of("python/src/shop/pricing.py")
    assert signature(data, symbols, "apply_discount") == (
        "def apply_discount(price: float, percent: float) -> float:\n"
        '    """Return `price` reduced by `percent` percent."""\n'
        "    ..."
    )
    assert "raise ValueError" in signature(data, symbols, "apply_discount", full=True)
    assert signature(data, symbols, "TAX_RATE") == "TAX_RATE = 0.2"


def test_class_outline_elides_method_bodies_only() -> None:
    data, symbols = symbols_of("python/src/shop/cart.py")
    outline = signature(data, symbols, "Cart")
    assert outline.startswith("@dataclass\nclass Cart:\n")
    assert "items: list[LineItem] = field(default_factory=list)" in outline
    assert '        """Add `quantity` units of `sku`."""\n        ...' in outline
    assert "self.items.append" not in outline


def test_member_rendered_alone_keeps_its_class_header() -> None:
    data, symbols = symbols_of("python/src/shop/cart.py")
    text = signature(data, symbols, "subtotal", full=True)
    assert text.splitlines()[:2] == ["@dataclass", "class Cart:"]
    assert "return sum(" in text


@pytest.mark.parametrize(
    ("relative", "name", "expected"),
    [
        ("typescript/src/lib/math.ts", "add", "/** Adds two numbers. */\nexport function add"),
        ("go/store/store.go", "Add", "// Add stores one item.\nfunc (s *Store) Add(item"),
        ("rust/src/util/mod.rs", "round_cents", "/// Round to two decimals.\npub fn round_cents"),
        ("java/src/main/java/com/acme/util/Strings.java", "padLeft", "public final class Strings"),
        ("c/include/shop/item.h", "item_gross", "/* Price in cents including tax. */\nint item"),
    ],
)
def test_signature_includes_leading_doc_comment(relative: str, name: str, expected: str) -> None:
    data, symbols = symbols_of(relative)
    text = signature(data, symbols, name)
    assert text.startswith(expected)
    assert "{ ... }" in text or text.rstrip().endswith(";")


def test_rendering_a_selection_merges_members_into_the_outline() -> None:
    data, symbols = symbols_of("python/src/shop/cart.py")
    names = [d.name for d in symbols.definitions]
    selection = {names.index("Cart"): False, names.index("total"): True}
    pieces = render_selection(data, symbols, selection, max_lines=80)
    assert len(pieces) == 1
    assert "return with_tax(apply_discount(self.subtotal(), discount))" in pieces[0].text
    assert "self.items.append" not in pieces[0].text


def test_full_body_over_the_line_limit_is_unavailable() -> None:
    data, symbols = symbols_of("python/src/shop/cart.py")
    index = next(i for i, d in enumerate(symbols.definitions) if d.name == "Cart")
    assert render_definition(data, symbols, index, full=True, max_lines=5) is None
    assert render_definition(data, symbols, index, full=False, max_lines=5) is not None


@pytest.mark.parametrize(
    ("language_id", "path", "expected"),
    [
        ("typescriptreact", "a.tsx", "tsx"),
        ("javascriptreact", "a.jsx", "javascript"),
        (None, "x/y.hpp", "cpp"),
        (None, "x/y.rs", "rust"),
        ("plaintext", "notes.txt", None),
        (None, "README.md", None),
    ],
)
def test_language_detection(language_id: str | None, path: str, expected: str | None) -> None:
    assert structure_language(language_id, Path(path)) == expected


@settings(max_examples=60, deadline=None)
@given(
    language=st.sampled_from(sorted(name for support in SUPPORTED for name in support.languages)),
    data=st.binary(max_size=400)
    | st.text(alphabet="def class(){}[];:\n =import from#include\"<>.,*'", max_size=300).map(
        str.encode
    ),
)
def test_extraction_never_raises_and_spans_are_in_bounds(language: str, data: bytes) -> None:
    symbols = extract_symbols(language, data)
    for index, definition in enumerate(symbols.definitions):
        assert 0 <= definition.start_byte <= definition.end_byte <= len(data)
        render_definition(data, symbols, index, full=False, max_lines=40)
        render_definition(data, symbols, index, full=True, max_lines=40)
