"""Language detection (sc2_lsp.languages) and the cursor's completion mode (sc2_lsp.syntax), table-driven."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sc2_lsp.languages import get_parser, language_for
from sc2_lsp.syntax import CursorSyntax, analyze

CURSOR = "‸"
FOUR, TWO, TAB = "    ", "  ", "\t"


def at_cursor(source: str, language: str | None, **kwargs: int) -> CursorSyntax:
    offset = source.index(CURSOR)
    return analyze(source.replace(CURSOR, "", 1), offset, language, **kwargs)


# (language, source with ‸ at the cursor, mode, indent)
MODES = [
    # --- Python ------------------------------------------------------------------------
    pytest.param("python", "def f():‸", "block", FOUR, id="py-def-colon-opens-block"),
    pytest.param("python", "class A:\n    def f(self):‸", "block", 8 * " ", id="py-method-colon"),
    pytest.param("python", "if x:  ‸", "block", FOUR, id="py-if-colon-trailing-space"),
    pytest.param("python", "def f(\n    a,\n):‸", "block", FOUR, id="py-multiline-signature"),
    pytest.param("python", "d = {'a':‸}", "line", "", id="py-dict-colon-is-not-a-block"),
    pytest.param("python", "a[1:‸]", "line", "", id="py-slice-colon-is-not-a-block"),
    pytest.param("python", "def f(x:‸)", "line", "", id="py-annotation-colon"),
    pytest.param("python", "x = foo(‸", "block", FOUR, id="py-open-paren-at-line-end"),
    pytest.param("python", "f = lambda x:‸", "line", "", id="py-lambda-colon"),
    pytest.param("python", "x = foo(‸)", "line", "", id="py-call-args-stay-on-the-line"),
    pytest.param("python", "def f():\n    ‸", "block", FOUR, id="py-first-line-of-empty-body"),
    pytest.param("python", "def f():\n‸", "block", FOUR, id="py-unindented-line-after-def"),
    pytest.param("python", "def f():\n    ‸\n    pass\n", "block", FOUR, id="py-before-pass"),
    pytest.param(
        "python", "def f():\n    pass\n    ‸\n\nx = 1\n", "block", FOUR, id="py-after-pass"
    ),
    pytest.param(
        "python", 'def f():\n    """Doc."""\n    ‸\n', "block", FOUR, id="py-docstring-only-body"
    ),
    pytest.param(
        "python",
        'def f():\n    """Doc\n\n    more.\n    """\n    ‸\n',
        "block",
        FOUR,
        id="py-multiline-docstring-body",
    ),
    pytest.param(
        "python", "def f():\n    return 1\n    ‸\n\nx = 1\n", "line", FOUR, id="py-nonempty-body"
    ),
    pytest.param("python", "x = 1\n‸", "block", "", id="py-module-level-eof"),
    pytest.param("python", "‸", "block", "", id="py-empty-file"),
    pytest.param("python", "x = 1\n‸\n\n", "block", "", id="py-module-level-blank-tail"),
    pytest.param("python", "x = 1\n‸\ny = 2\n", "line", "", id="py-module-level-mid-file"),
    pytest.param(
        "python",
        "class A:\n    def f(self):\n        return 1\n    ‸\n",
        "block",
        FOUR,
        id="py-class-level-eof",
    ),
    pytest.param(
        "python",
        "class A:\n    x = 1\n    ‸\n\ndef g():\n    pass\n",
        "block",
        FOUR,
        id="py-class-level-end-of-class",
    ),
    pytest.param("python", "x = compute(‸", "block", FOUR, id="py-unclosed-paren-eol"),
    pytest.param("python", "value = some_func‸", "line", "", id="py-end-of-identifier"),
    pytest.param("python", "x = foo‸bar", "skip", "", id="py-inside-a-word"),
    pytest.param("python", "x = ‸foo(a, b, c, d)", "skip", "", id="py-long-real-suffix"),
    pytest.param("python", "x = foo(‸, b)", "line", "", id="py-short-real-suffix"),
    pytest.param("python", "    ‸return x", "skip", FOUR, id="py-before-existing-statement"),
    pytest.param("python", "print('hello ‸')", "line", "", id="py-in-string-closers-after"),
    pytest.param("python", "x = 1  # note: ‸", "line", "", id="py-comment-colon-not-opener"),
    pytest.param("python", "def f():\n\tif x:‸", "block", "\t\t", id="py-tab-indented-file"),
    pytest.param(
        "python", "def f():\n  if x:\n    y = 1\n  if z:‸", "block", 4 * " ", id="py-2-space-unit"
    ),
    # --- JavaScript / TypeScript ---------------------------------------------------------
    pytest.param("javascript", "function f() {‸}", "block", FOUR, id="js-brace-autoclosed"),
    pytest.param("javascript", "function f() {\n  ‸\n}", "block", TWO, id="js-empty-braces"),
    pytest.param("javascript", "function f() {\n‸}", "block", FOUR, id="js-cursor-before-closer"),
    pytest.param("javascript", "const a = [‸];", "line", "", id="js-array-literal-on-the-line"),
    pytest.param("javascript", "foo(‸);", "line", "", id="js-call-args-on-the-line"),
    pytest.param("javascript", "const x = 1;\n‸\nfoo();", "line", "", id="js-mid-file-blank"),
    pytest.param(
        "javascript",
        "function f() {\n  const x = 1;\n  ‸\n}",
        "line",
        TWO,
        id="js-nonempty-function-body",
    ),
    pytest.param("typescript", "const f = (x: number) =>‸", "block", FOUR, id="ts-arrow"),
    pytest.param("typescript", "const s = `abc ‸`;", "line", "", id="ts-template-string"),
    pytest.param(
        "typescript",
        "class A {\n  f(): void {}\n  ‸\n}\n",
        "block",
        TWO,
        id="ts-end-of-class-body",
    ),
    pytest.param("tsx", "const el = <span>{‸}</span>;", "skip", "", id="tsx-long-jsx-suffix"),
    # --- Go ---------------------------------------------------------------------------------
    pytest.param("go", "func main() {‸\n}", "block", TAB, id="go-brace-default-tab"),
    pytest.param("go", "func main() {\n\t‸\n}", "block", TAB, id="go-empty-body-tab"),
    pytest.param("go", "switch x {\ncase 1:‸", "block", TAB, id="go-case-colon"),
    pytest.param("go", 'fmt.Println("hi‸")', "line", "", id="go-in-string"),
    # --- Rust --------------------------------------------------------------------------------
    pytest.param(
        "rust", "fn main() {\n    let x = 1;\n    ‸\n}", "line", FOUR, id="rust-nonempty-body"
    ),
    pytest.param("rust", "match x {\n    A =>‸", "block", 8 * " ", id="rust-match-arm-arrow"),
    pytest.param("rust", "fn f() {\n    todo!()\n    ‸\n}", "block", FOUR, id="rust-todo-body"),
    pytest.param("rust", "let v = vec![1, 2‸];", "line", "", id="rust-macro-closers"),
    # --- C --------------------------------------------------------------------------------
    pytest.param("c", "int main(void) {‸", "block", FOUR, id="c-brace-eol"),
    pytest.param("c", "int x = 1; // see {‸", "line", "", id="c-brace-in-comment"),
    pytest.param("c", "  /* comment‸ */", "line", TWO, id="c-block-comment"),
    pytest.param("c", "for (int i = 0; i < n; i++‸)", "line", "", id="c-for-header"),
    # --- languages without a grammar -------------------------------------------------------
    pytest.param(None, "foo {‸", "block", FOUR, id="unknown-brace"),
    pytest.param(None, "section:‸", "block", FOUR, id="unknown-colon"),
    pytest.param(None, "some text‸", "line", "", id="unknown-plain-line"),
    pytest.param(None, "word‸word", "skip", "", id="unknown-inside-word"),
    pytest.param("cobol", "x‸", "line", "", id="grammar-that-hangs-is-not-parsed"),
    pytest.param("zig", "fn f() void {‸", "block", FOUR, id="pack-language-without-rules"),
]


@pytest.mark.parametrize(("language", "source", "mode", "indent"), MODES)
def test_mode_and_indent(language: str | None, source: str, mode: str, indent: str) -> None:
    result = at_cursor(source, language)
    assert (result.mode, result.indent) == (mode, indent)


LEXICAL = [
    pytest.param("python", "x = 1  # hello‸", True, False, id="py-end-of-line-comment"),
    pytest.param("python", "s = 'abc‸'", False, True, id="py-inside-string"),
    pytest.param("python", "s = 'abc'‸", False, False, id="py-after-closing-quote"),
    pytest.param("python", "s = f'{va‸}'", False, False, id="py-fstring-interpolation"),
    pytest.param("python", 's = """\nabc ‸\n"""', False, True, id="py-multiline-string"),
    pytest.param("python", "print('unterminated ‸", False, True, id="py-unterminated-string"),
    pytest.param("c", "/* a */‸", False, False, id="c-after-block-comment"),
    pytest.param("c", "/* a ‸ */", True, False, id="c-inside-block-comment"),
    pytest.param("rust", 'let s = "x‸";', False, True, id="rust-string"),
    pytest.param("go", "x := 1 // why‸", True, False, id="go-line-comment"),
    pytest.param("javascript", "const s = `a ${b‸}`;", False, False, id="js-template-expr"),
    pytest.param(None, "# note‸", True, False, id="unknown-hash-comment"),
    pytest.param(None, 'say "hi‸', False, True, id="unknown-open-quote"),
]


@pytest.mark.parametrize(("language", "source", "in_comment", "in_string"), LEXICAL)
def test_comment_and_string(
    language: str | None, source: str, in_comment: bool, in_string: bool
) -> None:
    result = at_cursor(source, language)
    assert (result.in_comment, result.in_string) == (in_comment, in_string)


@pytest.mark.parametrize(
    ("max_line_suffix", "mode"),
    [pytest.param(8, "skip", id="default-skips"), pytest.param(20, "line", id="raised-limit")],
)
def test_max_line_suffix(max_line_suffix: int, mode: str) -> None:
    source = "x = ‸compute(value)"
    assert at_cursor(source, "python", max_line_suffix=max_line_suffix).mode == mode


LANGUAGES = [
    pytest.param("python", None, "python", id="id-python"),
    pytest.param("typescriptreact", "a.tsx", "tsx", id="id-tsx"),
    pytest.param("javascriptreact", None, "javascript", id="id-jsx"),
    pytest.param("shellscript", None, "bash", id="id-shellscript"),
    pytest.param("csharp", None, "csharp", id="id-csharp"),
    pytest.param("CPP", None, "cpp", id="id-case-insensitive"),
    pytest.param("plaintext", "file:///src/main.rs", "rust", id="unknown-id-falls-back-to-ext"),
    pytest.param(None, "/src/lib.GO", "go", id="ext-case-insensitive"),
    pytest.param(None, "C:\\proj\\util.hpp", "cpp", id="windows-path"),
    pytest.param(None, "/repo/Makefile", "make", id="file-name"),
    pytest.param(None, "/repo/notes.xyz", None, id="unknown-ext"),
    pytest.param(None, "/repo/README", None, id="no-ext"),
    pytest.param(None, None, None, id="nothing"),
]


@pytest.mark.parametrize(("language_id", "path", "expected"), LANGUAGES)
def test_language_for(language_id: str | None, path: str | None, expected: str | None) -> None:
    assert language_for(language_id, path) == expected


def test_parser_is_cached_and_missing_grammar_is_none() -> None:
    assert get_parser("python") is get_parser("python")
    assert get_parser("no-such-language") is None
    assert get_parser("cobol") is None  # its grammar never returns


def test_large_file_uses_nearby_context() -> None:
    filler = "".join(f"def f{i}(x):\n    return x + {i}\n\n" for i in range(4000))
    source = filler + "def g():\n    ‸\n" + filler
    assert at_cursor(source, "python") == CursorSyntax("block", FOUR, False, False)


def test_minified_line_is_skipped() -> None:
    line = "var a=1;" * 1000
    assert at_cursor(line + "‸", "javascript").mode == "skip"


def test_crlf_lines() -> None:
    assert at_cursor("def f():\r\n    ‸\r\n", "python").mode == "block"


@given(
    text=st.text(alphabet=st.sampled_from("ab ():{}\"'#/*\n\t\r=>é😀"), max_size=80),
    offset=st.integers(min_value=-5, max_value=100),
    language=st.sampled_from(["python", "javascript", "c", "rust", "go", None]),
)
def test_analyze_never_raises(text: str, offset: int, language: str | None) -> None:
    result = analyze(text, offset, language)
    assert result.mode in ("skip", "line", "block")
    assert not result.indent.strip()
