"""The language table: which language a document is in, its grammar and its comment syntax.

Owns `LANGUAGES`, one row per language the server recognises (its name, which is also its
tree-sitter-language-pack grammar; file extensions and file names; the LSP language ids that
name it besides its own name; its comment markers), `language_for`, which maps an LSP
language id or a path to a row's name, and the per-thread parser cache both the cursor
analysis and repository context parse with.  Pure lookups; never raises on odd input.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import cache
from pathlib import PurePath
from typing import cast, get_args

import tree_sitter
from tree_sitter_language_pack import SupportedLanguage
from tree_sitter_language_pack import get_language as _pack_language

C_COMMENTS = ("//", "/*")


@dataclass(frozen=True, slots=True)
class Language:
    """One row of the table; the strings hold space-separated items."""

    name: str
    """Our name for the language, which is also its tree-sitter-language-pack grammar."""
    extensions: str = ""
    """File extensions without the dot, matched case-insensitively."""
    language_ids: str = ""
    """LSP language ids that mean this language, besides `name` itself."""
    file_names: str = ""
    """Whole file names (`Makefile`), checked before the extension."""
    comments: tuple[str, ...] = C_COMMENTS
    """What starts a comment; `/*` also ends at `*/`."""


# A `.h` header may be C or C++: the C++ grammar also parses C declarations, while the C grammar
# fails on classes, namespaces and templates (VS Code and Neovim open `.h` as C++ too).
LANGUAGES: tuple[Language, ...] = (
    Language("python", "py pyi pyw", comments=("#",)),
    Language("javascript", "js mjs cjs jsx", "javascriptreact jsx"),
    Language("typescript", "ts mts cts"),
    Language("tsx", "tsx", "typescriptreact"),
    Language("c", "c"),
    Language("cpp", "cc cpp cxx c++ h hpp hh hxx h++ ipp inl", "c++"),
    Language("cuda", "cu cuh", "cuda-cpp"),
    Language("rust", "rs"),
    Language("go", "go", "golang"),
    Language("java", "java"),
    Language("kotlin", "kt kts"),
    Language("scala", "scala sc"),
    Language("csharp", "cs", "c#"),
    Language("ruby", "rb rake gemspec", file_names="Gemfile Rakefile", comments=("#",)),
    Language("lua", "lua", comments=("--",)),
    Language("bash", "sh bash zsh", "shellscript sh zsh shell", comments=("#",)),
    Language("fish", "fish", comments=("#",)),
    Language("php", "php"),
    Language("swift", "swift"),
    Language("objc", "m mm", "objective-c objective-cpp"),
    Language("dart", "dart"),
    Language("elixir", "ex exs", comments=("#",)),
    Language("erlang", "erl hrl", comments=("%",)),
    Language("haskell", "hs", comments=("--",)),
    Language("ocaml", "ml", comments=("(*",)),
    Language("julia", "jl", comments=("#",)),
    Language("r", "r", comments=("#",)),
    Language("perl", "pl pm", comments=("#",)),
    Language("zig", "zig", comments=("//",)),
    Language("sql", "sql", comments=("--", "/*")),
    Language("html", "html htm", comments=("<!--",)),
    Language("css", "css", comments=("/*",)),
    Language("scss", "scss"),
    Language("json", "json", "jsonc json5"),
    Language("yaml", "yaml yml", comments=("#",)),
    Language("toml", "toml", comments=("#",)),
    Language("markdown", "md markdown", comments=("<!--",)),
    Language("terraform", "tf tfvars", comments=("#", "//", "/*")),
    Language("hcl", "hcl", comments=("#", "//", "/*")),
    Language("proto", "proto"),
    Language("graphql", "graphql gql", comments=("#",)),
    Language("make", "mk", "makefile", "Makefile makefile GNUmakefile", comments=("#",)),
    Language("dockerfile", "", "docker", "Dockerfile Containerfile", comments=("#",)),
    Language("cmake", "", "", "CMakeLists.txt", comments=("#",)),
    Language("vue", "vue"),
    Language("svelte", "svelte"),
    Language("solidity", "sol"),
    Language("elisp", "el", comments=(";",)),
    Language("clojure", "clj cljs cljc edn", comments=(";",)),
    Language("commonlisp", "lisp", comments=(";",)),
    Language("scheme", "scm ss", comments=(";",)),
    Language("racket", "rkt", comments=(";",)),
    Language("powershell", "ps1 psm1", comments=("#",)),
    Language("groovy", "groovy gradle"),
    Language("verilog", "sv svh"),
    Language("vhdl", "vhd vhdl", comments=("--",)),
    Language("fortran", "f90 f95 f03 f08", comments=("!",)),
    Language("latex", "tex", "tex", comments=("%",)),
    Language("elm", "elm", comments=("--",)),
    Language("fsharp", "fs fsx", comments=("//", "(*")),
    Language("gdscript", "gd", comments=("#",)),
    Language("nix", "nix", comments=("#",)),
    Language("starlark", "bzl star", "bazel", "BUILD BUILD.bazel WORKSPACE", comments=("#",)),
    Language("glsl", "glsl vert frag"),
    Language("hlsl", "hlsl"),
    Language("wgsl", "wgsl", comments=("//",)),
    Language("gitcommit", "", "git-commit", comments=("#",)),
)

BY_NAME: dict[str, Language] = {language.name: language for language in LANGUAGES}
_BY_EXTENSION = {ext: row.name for row in LANGUAGES for ext in row.extensions.split()}
_BY_FILE_NAME = {name: row.name for row in LANGUAGES for name in row.file_names.split()}
_BY_LANGUAGE_ID = {lid: row.name for row in LANGUAGES for lid in row.language_ids.split()}
_PACK_LANGUAGES = frozenset(get_args(SupportedLanguage))
# These grammars (pack 0.13) never return from parsing inputs as small as "x".
_HANGING_GRAMMARS = frozenset(("cobol", "perl"))


def language_for(language_id: str | None, path: str | PurePath | None) -> str | None:
    """The language an LSP language id names (preferred), else the one a path or URI has.

    A language id that names any grammar of the pack is taken as is, table row or not.
    """
    if language_id:
        lid = language_id.strip().lower()
        name = _BY_LANGUAGE_ID.get(lid, lid)
        if name in _PACK_LANGUAGES:
            return name
    if path:
        base = str(path).split("?", 1)[0].replace("\\", "/").rsplit("/", 1)[-1]
        if base in _BY_FILE_NAME:
            return _BY_FILE_NAME[base]
        if "." in base:
            return _BY_EXTENSION.get(base.rsplit(".", 1)[1].lower())
    return None


def comments_of(name: str) -> tuple[str, ...]:
    """The comment markers of a language, C's for one the table lacks."""
    row = BY_NAME.get(name)
    return row.comments if row is not None else C_COMMENTS


@cache
def _grammar(name: str) -> tree_sitter.Language | None:
    if name not in _PACK_LANGUAGES or name in _HANGING_GRAMMARS:
        return None
    try:
        return _pack_language(cast(SupportedLanguage, name))
    except Exception:  # a language listed by the pack but missing its binary
        return None


class _ParserCache(threading.local):
    """tree_sitter.Parser is not thread-safe, so every thread keeps its own parsers."""

    def __init__(self) -> None:
        self.parsers: dict[str, tree_sitter.Parser | None] = {}


_PARSERS = _ParserCache()


def get_parser(name: str) -> tree_sitter.Parser | None:
    """This thread's cached parser for a language; None if the pack lacks (or can't run) it."""
    parsers = _PARSERS.parsers
    if name not in parsers:
        grammar = _grammar(name)
        parsers[name] = tree_sitter.Parser(grammar) if grammar is not None else None
    return parsers[name]
