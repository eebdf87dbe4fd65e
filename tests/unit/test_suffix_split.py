"""The near/far suffix layout: what goes where, and what a keystroke then re-evaluates.

Measured with the real StarCoder2 vocabulary (tests/data, vocab only) on a method typed back
into a method of a real 315-line file, with the product's default prompt sizes: with the
split, typing inside one block re-evaluates a handful of tokens per keystroke; inline, the
whole suffix.
"""

from __future__ import annotations

import itertools
import statistics
from dataclasses import replace
from pathlib import Path

import pytest

from sc2_lsp.config import Settings, resolve
from sc2_lsp.documents import Snapshot, cursor_at
from sc2_lsp.engine import common_prefix
from sc2_lsp.engine.vocab import Tokenizer
from sc2_lsp.prompt import FimInput, build, near_suffix_end
from sc2_lsp.prompting import Request, TokenCache, prepare
from tests.unit.test_prompt import starcoder2, text_of, tokenize

ROOT = Path(__file__).resolve().parents[2]
VOCAB = ROOT / "tests" / "data" / "starcoder2-vocab.gguf"
SESSION = ROOT / "benchmarks" / "latency_session" / "pygls" / "workspace" / "text_document.py"
TYPED = """        if self._source is None and self.path is not None:
            return pathlib.Path(self.path).read_text(encoding="utf-8")

        return self._source or \"\""""


def chars(text: str) -> int:
    return len(text)


def test_the_far_suffix_comes_before_the_file_and_the_near_suffix_after_the_cursor() -> None:
    fim = FimInput("def f():\n    x = ", "\n", path="a.py", far_suffix="    return x\n")
    assert build(fim, starcoder2(), tokenize, token_text=text_of).render() == (
        "<file_sep>a.py\n    return x\n"
        "<file_sep><fim_prefix>a.py\ndef f():\n    x = <fim_suffix>\n<fim_middle>"
    )
    spm = build(replace(fim, order="psm", path=None), starcoder2(), tokenize, token_text=text_of)
    assert spm.render().startswith("<file_sep>    return x\n<file_sep><fim_prefix>def f():")


def test_the_near_suffix_is_the_rest_of_the_line_then_the_block_within_budget() -> None:
    text = "def f():\n    x = g(|)\n    y = 2\n\n    return y\nz = 3\n"
    offset = text.index("|")
    text = text.replace("|", "")
    end = len(text)
    rest_of_line = offset + len(")\n")
    assert near_suffix_end(text, offset, end, 0, chars) == rest_of_line
    assert near_suffix_end(text, offset, end, 2, chars) == rest_of_line  # `)\n` alone costs 2
    assert near_suffix_end(text, offset, end, 12, chars) == rest_of_line + len("    y = 2\n")
    # The block's lines, blank ones included, never the dedented line after it.
    block_end = text.index("z = 3")
    assert near_suffix_end(text, offset, end, 1000, chars) == block_end
    assert near_suffix_end(text, offset, offset + 2, 1000, chars) == offset + 2  # the window end


@pytest.fixture(scope="module")
def counter() -> TokenCache:
    return TokenCache(Tokenizer.load(VOCAB).tokenize)


def typing_prompts(settings: Settings, counter: TokenCache) -> list[list[int]]:
    """The prompts while `TYPED` is typed back into the middle of the file, char by char."""
    tokenizer = Tokenizer.load(VOCAB)
    template = tokenizer.template()
    original = SESSION.read_text(encoding="utf-8")
    at = original.index(TYPED)
    removed = original[:at] + original[at + len(TYPED) :]
    prompts: list[list[int]] = []
    keep = None
    for typed in range(1, len(TYPED) + 1):
        text = removed[:at] + TYPED[:typed] + removed[at:]
        offset = at + typed
        line = text.count("\n", 0, offset)
        cursor = cursor_at(text, line, offset - (text.rfind("\n", 0, offset) + 1), "utf-32")
        request = Request(Snapshot(SESSION.as_uri(), typed, "python", text), cursor, ROOT)
        request = replace(request, trigger="invoked", keep_start=keep)
        prepared = prepare(request, settings, tokenizer, template, 4096, counter)
        assert prepared is not None
        keep = prepared.window[0]
        prompts.append(prepared.prompt.tokens)
    return prompts


def evaluated_per_keystroke(prompts: list[list[int]]) -> list[int]:
    return [len(now) - common_prefix(before, now) for before, now in itertools.pairwise(prompts)]


def test_typing_inside_a_block_re_evaluates_a_few_tokens_not_the_suffix(
    counter: TokenCache,
) -> None:
    # Healing off: with it the prompt stays put while a word is typed (it ends before the word),
    # which hides what the layout costs at every other keystroke.
    split, _ = resolve({"prompt": {"tokenHealing": False}})  # 256 suffix tokens, split layout
    inline, _ = resolve({"prompt": {"suffixLayout": "inline", "tokenHealing": False}})
    with_split = evaluated_per_keystroke(typing_prompts(split, counter))
    with_inline = evaluated_per_keystroke(typing_prompts(inline, counter))
    assert statistics.median(with_split) <= 8, with_split
    assert statistics.median(with_inline) >= 200, with_inline  # the whole suffix, every time
    # Newlines move text between the near part and the far part: the far part, and with it
    # everything after it, is then evaluated again; in between, it stays put.
    assert sum(count > 50 for count in with_split) <= TYPED.count("\n") + 1
