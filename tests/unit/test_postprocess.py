"""Cleaning model output into ghost text (sc2_lsp.postprocess), table-driven plus properties."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sc2_lsp.postprocess import PostContext, clean, should_stop
from sc2_lsp.syntax import CompletionMode, analyze


def ctx(
    mode: CompletionMode = "line",
    *,
    indent: str = "",
    prefix: str = "",
    suffix: str = "",
    after: tuple[str, ...] = (),
    max_lines: int = 16,
) -> PostContext:
    return PostContext(mode, indent, prefix, suffix, after, max_lines)


PY_DEF = ctx("block", indent="    ", prefix="def f():")
JS_FN = ctx("block", indent="  ", prefix="function f() {")

CLEAN = [
    # --- line mode -----------------------------------------------------------------------
    pytest.param(ctx(prefix="x = "), "compute()\ny = 2", "compute()", id="line-cut-at-newline"),
    pytest.param(ctx(prefix="x = "), "\ny = 2", "", id="line-leading-newline-after-code"),
    pytest.param(ctx(prefix="x = "), "compute()   ", "compute()", id="line-trailing-space"),
    pytest.param(ctx(prefix="x = "), "   \n", "", id="line-whitespace-only"),
    pytest.param(ctx(prefix="x = "), "a\r\nb", "a", id="line-crlf-output"),
    pytest.param(ctx(prefix="foo(", suffix=")"), "a, b)", "a, b", id="line-autoclosed-paren"),
    pytest.param(ctx(prefix="print(len(", suffix=")"), "x)", "x)", id="line-keeps-needed-paren"),
    pytest.param(ctx(prefix='print("', suffix='")'), 'hi")', "hi", id="line-quote-and-paren"),
    pytest.param(ctx(prefix='x = ["', suffix='"]'), 'a"', "a", id="line-suffix-prefix-overlap"),
    pytest.param(ctx(prefix="let x = ", suffix=";"), "5;", "5", id="line-repeated-semicolon"),
    pytest.param(ctx(prefix="if (", suffix=") {"), "ok) {", "ok", id="line-whole-suffix-repeat"),
    pytest.param(ctx(prefix="foo(", suffix=")"), ")", "", id="line-only-repeats-suffix"),
    pytest.param(
        ctx(prefix="    x = ", after=("", "    x = compute()")),
        "compute()",
        "",
        id="line-repeats-next-line",
    ),
    pytest.param(
        ctx(prefix="    x = ", after=("    x = compute()",)),
        "other()",
        "other()",
        id="line-differs-from-next-line",
    ),
    pytest.param(
        ctx(indent="    ", prefix="    "), "    return x", "return x", id="line-undouble-indent"
    ),
    pytest.param(
        ctx(indent="    ", prefix="    "), "\n\nreturn x\nmore", "return x", id="line-blank-lead"
    ),
    pytest.param(ctx("skip", prefix="x"), "anything", "", id="skip-mode"),
    # --- block mode ----------------------------------------------------------------------
    pytest.param(
        PY_DEF, "\n    return 1\n\ndef g():\n    pass", "\n    return 1", id="block-py-dedent"
    ),
    pytest.param(PY_DEF, "\n    x = 1\n\n\n", "\n    x = 1", id="block-trailing-blank-lines"),
    pytest.param(
        ctx("block", indent="    ", prefix="function f() {", suffix="}"),
        "\n  return 1;\n}",
        "\n  return 1;\n",
        id="block-model-indents-less-than-guessed-unit",
    ),
    pytest.param(
        ctx("block", indent="        ", prefix="    A =>"),
        " 1,\n    B => 2,\n}",
        " 1,",
        id="block-rust-arm-inline-body",
    ),
    pytest.param(
        ctx("block", indent="    ", prefix="if x:"),
        "\n    a()\nelse:\n    b()\nc()",
        "\n    a()\nelse:\n    b()",
        id="block-keeps-else",
    ),
    pytest.param(
        ctx("block", indent="    ", prefix="    "),
        "    x = 1\n    return x\nprint()",
        "x = 1\n    return x",
        id="block-undouble-first-line",
    ),
    pytest.param(
        ctx("block", indent="    ", prefix=""), "return 1", "    return 1", id="block-add-indent"
    ),
    pytest.param(ctx("block", indent="\t"), "return 1", "\treturn 1", id="block-tab-indent"),
    pytest.param(
        ctx("block", indent="  ", prefix="function f() {", suffix="}"),
        "\n  return 1;\n}",
        "\n  return 1;\n",
        id="block-brace-autoclosed-on-line",
    ),
    pytest.param(
        ctx("block", indent="  ", prefix="function f() {", suffix="}"),
        "\n  return 1;",
        "\n  return 1;\n",
        id="block-moves-suffix-to-own-line",
    ),
    pytest.param(
        ctx("block", indent="  ", prefix="function f() {", after=("}",)),
        "\n  return 1;\n}\n",
        "\n  return 1;",
        id="block-brace-on-next-line",
    ),
    pytest.param(
        JS_FN, "\n  return 1;\n}\n\nfunction g() {}", "\n  return 1;\n}", id="block-adds-closer"
    ),
    pytest.param(
        ctx("block", indent="  ", prefix="if (x) {", after=("}",)),
        "\n  a();\n} else {\n  b();\n}\nfoo();",
        "\n  a();\n} else {\n  b();",
        id="block-js-else-chain",
    ),
    pytest.param(
        ctx("block", indent="    ", prefix="foo(", suffix=")"),
        "a, b)",
        "a, b",
        id="block-one-line-call-args",
    ),
    pytest.param(
        ctx("block", indent="    ", prefix="foo(", suffix=")"),
        "\n    a,\n    b,\n)",
        "\n    a,\n    b,\n",
        id="block-multiline-call-args",
    ),
    pytest.param(
        ctx("block", indent="    ", prefix="", suffix="}"),
        "return 1;",
        "    return 1;\n",
        id="block-before-closer-on-blank-line",
    ),
    pytest.param(
        ctx("block", indent="\t", prefix="func main() {", after=("}",)),
        "\n\tfmt.Println(1)\n}",
        "\n\tfmt.Println(1)",
        id="block-go-tabs",
    ),
    pytest.param(
        ctx("block", indent="    ", prefix="    ", after=("    return x",)),
        "return x",
        "",
        id="block-repeats-next-line",
    ),
    pytest.param(ctx("block", max_lines=3), "a\nb\nc\nd\ne", "a\nb\nc", id="block-max-lines"),
    pytest.param(PY_DEF, "\n\n   \n", "", id="block-whitespace-only"),
]


@pytest.mark.parametrize(("context", "raw", "expected"), CLEAN)
def test_clean(context: PostContext, raw: str, expected: str) -> None:
    assert clean(raw, context) == expected


STOP = [
    pytest.param(ctx(prefix="x = "), "foo", False, id="line-no-newline-yet"),
    pytest.param(ctx(prefix="x = "), "foo\n", True, id="line-newline"),
    pytest.param(ctx(prefix="x = "), "\n", True, id="line-leading-newline-after-code"),
    pytest.param(ctx(prefix="    "), "\n", False, id="line-blank-line-may-lead"),
    pytest.param(ctx(prefix="    "), "\nfoo\n", True, id="line-content-then-newline"),
    pytest.param(PY_DEF, "\n    return 1\n", False, id="block-inside"),
    pytest.param(PY_DEF, "\n    return 1\ndef", False, id="block-dedent-line-incomplete"),
    pytest.param(PY_DEF, "\n    return 1\ndef g():\n", True, id="block-dedent-line-complete"),
    pytest.param(PY_DEF, "\n    return 1\n\n", False, id="block-blank-line"),
    pytest.param(
        ctx("block", indent="    ", prefix="if x:"), "\n    a\nelse:\n", False, id="block-else"
    ),
    pytest.param(JS_FN, "\n  return 1;\n}\n", True, id="block-closer"),
    pytest.param(ctx("block", max_lines=2), "a\nb\n", True, id="block-max-lines"),
    pytest.param(ctx("skip"), "", True, id="skip"),
]


@pytest.mark.parametrize(("context", "text", "stop"), STOP)
def test_should_stop(context: PostContext, text: str, stop: bool) -> None:
    assert should_stop(text, context) is stop


def context_at(document: str, language: str) -> tuple[str, int, PostContext]:
    """How a caller wires analyze() into PostContext; ‸ marks the cursor."""
    offset = document.index("‸")
    text = document.replace("‸", "", 1)
    syntax = analyze(text, offset, language)
    start, end = text.rfind("\n", 0, offset) + 1, (text + "\n").index("\n", offset)
    after = tuple(text[end + 1 :].split("\n")[:5]) if end < len(text) else ()
    context = PostContext(syntax.mode, syntax.indent, text[start:offset], text[offset:end], after)
    return text, offset, context


SCENARIOS = [
    pytest.param(
        "def area(r):‸\n\nprint(area(2))\n",
        "python",
        "\n    return 3.14 * r * r\n\nprint(area(3))",
        "def area(r):\n    return 3.14 * r * r\n\nprint(area(2))\n",
        id="py-function-body",
    ),
    pytest.param(
        "def f():\n    ‸\n",
        "python",
        "    x = 1\n    return x\n\nf()",
        "def f():\n    x = 1\n    return x\n",
        id="py-indented-blank-line",
    ),
    pytest.param(
        "total = sum(‸)\n",
        "python",
        "values)\nprint(total)",
        "total = sum(values)\n",
        id="py-autoclosed-call",
    ),
    pytest.param(
        "function f() {‸}\n",
        "javascript",
        "\n  return 1;\n}\n",
        "function f() {\n  return 1;\n}\n",
        id="js-braces-on-one-line",
    ),
    pytest.param(
        "func main() {\n\t‸\n}\n",
        "go",
        'fmt.Println("hi")\n}\n',
        'func main() {\n\tfmt.Println("hi")\n}\n',
        id="go-empty-body",
    ),
    pytest.param("x = foo‸bar\n", "python", "_baz", "x = foobar\n", id="py-mid-word-shows-nothing"),
]


@pytest.mark.parametrize(("document", "language", "raw", "expected"), SCENARIOS)
def test_analyze_then_clean(document: str, language: str, raw: str, expected: str) -> None:
    text, offset, context = context_at(document, language)
    inserted = clean(raw, context)
    assert text[:offset] + inserted + text[offset:] == expected


# --- properties ----------------------------------------------------------------------------

CODE_CHARS = "ab_( ){}[]\"';,:\t xé"
code_text = st.text(alphabet=st.sampled_from(CODE_CHARS + "\n\n\r"), max_size=60)
code_line = st.text(alphabet=st.sampled_from(CODE_CHARS), max_size=20)
whitespace = st.sampled_from(["", "  ", "    ", "\t", "        "])
code_prefix = st.sampled_from(["x = ", "def f():", "foo(", "    if (a) {"])


def contexts(
    prefix: st.SearchStrategy[str], suffix: st.SearchStrategy[str]
) -> st.SearchStrategy[PostContext]:
    return st.builds(
        PostContext,
        mode=st.sampled_from(["skip", "line", "block"]),
        indent=whitespace,
        line_prefix=prefix,
        line_suffix=suffix,
        next_lines=st.lists(code_line, max_size=3).map(tuple),
        max_lines=st.integers(min_value=1, max_value=6),
    )


any_context = contexts(
    st.one_of(whitespace, code_prefix), st.sampled_from(["", ")", '")', "}", ";", " ]", "x)"])
)


@given(text=code_text, context=any_context)
def test_clean_shape(text: str, context: PostContext) -> None:
    result = clean(text, context)
    if context.mode == "line":
        assert "\n" not in result
    if not context.line_suffix:
        assert all(line == line.rstrip() for line in result.split("\n"))
        if context.mode == "block":
            assert result.count("\n") < context.max_lines


@given(text=code_text, context=contexts(code_prefix, st.just("")))
def test_clean_is_idempotent(text: str, context: PostContext) -> None:
    once = clean(text, context)
    assert clean(once, context) == once


@given(text=code_text, extra=code_text, context=any_context)
def test_stopping_early_never_changes_the_result(
    text: str, extra: str, context: PostContext
) -> None:
    if should_stop(text, context):
        assert clean(text + extra, context) == clean(text, context)
