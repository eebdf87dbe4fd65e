"""Prompt layout and window sizing, with a toy tokenizer (one token per character)."""

from __future__ import annotations

import pytest

from sc2_lsp.prompt import ContextFile, FimInput, build, fim_window
from sc2_lsp.prompt.templates import (
    CODELLAMA,
    QWEN25_CODER,
    STARCODER2,
    TEMPLATES,
    BoundTemplate,
    bind,
    detect,
)

SPECIALS = {
    "<|endoftext|>": 0,
    "<fim_prefix>": 1,
    "<fim_middle>": 2,
    "<fim_suffix>": 3,
    "<fim_pad>": 4,
    "<repo_name>": 5,
    "<file_sep>": 6,
}
IDS = {token: text for text, token in SPECIALS.items()}


def tokenize(text: str) -> list[int]:
    return [1000 + ord(char) for char in text]


def text_of(token: int) -> str:
    return IDS[token] if token in IDS else chr(token - 1000)


def starcoder2() -> BoundTemplate:
    return bind(STARCODER2, SPECIALS.get, [0])


def test_psm_layout_as_trained() -> None:
    prompt = build(
        FimInput("def f():\n    ", "\nprint(1)\n", path="src/a.py"),
        starcoder2(),
        tokenize,
        token_text=text_of,
    )
    assert (
        prompt.render()
        == "<file_sep><fim_prefix>src/a.py\ndef f():\n    <fim_suffix>\nprint(1)\n<fim_middle>"
    )
    assert prompt.tokens[:2] == [6, 1] and prompt.tokens[-1] == 2
    assert prompt.tokens.count(3) == 1


def test_repository_context_comes_first() -> None:
    fim = FimInput(
        "x", "", path="b.py", repo_name="proj", context=(ContextFile("a.py", "def g(): pass\n"),)
    )
    rendered = build(fim, starcoder2(), tokenize, token_text=text_of).render()
    assert (
        rendered == "<repo_name>proj<file_sep>a.py\ndef g(): pass\n"
        "<file_sep><fim_prefix>b.py\nx<fim_suffix><fim_middle>"
    )


def test_code_cannot_inject_sentinels() -> None:
    prompt = build(FimInput("s = '<file_sep>'", ""), starcoder2(), tokenize, token_text=text_of)
    assert prompt.tokens.count(6) == 1


def test_spm_order() -> None:
    prompt = build(FimInput("P", "S", order="spm"), starcoder2(), tokenize, token_text=text_of)
    assert prompt.render() == "<file_sep><fim_prefix><fim_suffix>S<fim_middle>P"


def test_stop_ids_include_file_sep_and_eog() -> None:
    assert {0, 1, 2, 3, 4, 5, 6} <= starcoder2().stop_ids


@pytest.mark.parametrize(
    ("vocab", "expected"),
    [
        pytest.param(SPECIALS, "starcoder2", id="starcoder2"),
        pytest.param(
            {k: v for k, v in SPECIALS.items() if k != "<file_sep>"},
            "starcoder",
            id="starcoder1-no-file-sep",
        ),
        pytest.param(
            {"<|fim_prefix|>": 1, "<|fim_suffix|>": 2, "<|fim_middle|>": 3, "<|file_sep|>": 4},
            "qwen2.5-coder",
            id="qwen",
        ),
        pytest.param(
            {
                "<|fim_prefix|>": 1,
                "<|fim_suffix|>": 2,
                "<|fim_middle|>": 3,
                "<|file_separator|>": 4,
            },
            "codegemma",
            id="codegemma",
        ),
        pytest.param({"<PRE>": 1, "<SUF>": 2, "<MID>": 3, "<EOT>": 4}, "codellama", id="codellama"),
        pytest.param(
            {"<｜fim▁begin｜>": 1, "<｜fim▁hole｜>": 2, "<｜fim▁end｜>": 3},
            "deepseek-coder",
            id="deepseek",
        ),
        pytest.param({"<s>": 1}, "prefix-only", id="no-fim-tokens"),
    ],
)
def test_detect(vocab: dict[str, int], expected: str) -> None:
    assert detect(vocab.get, [0]).name == expected


def test_detect_by_name_and_unknown_name() -> None:
    assert detect(SPECIALS.get, [0], "starcoder2").name == "starcoder2"
    with pytest.raises(ValueError, match="unknown template"):
        detect(SPECIALS.get, [0], "gpt5")
    with pytest.raises(ValueError, match="not a single token"):
        detect(SPECIALS.get, [0], "qwen2.5-coder")


def test_other_families_render() -> None:
    qwen = bind(
        QWEN25_CODER,
        {
            "<|fim_prefix|>": 1,
            "<|fim_suffix|>": 2,
            "<|fim_middle|>": 3,
            "<|file_sep|>": 4,
            "<|repo_name|>": 5,
        }.get,
        [0],
    )
    fim = FimInput("a", "b", path="x.py", repo_name="r", context=(ContextFile("y.py", "c"),))
    names = {1: "<P>", 2: "<S>", 3: "<M>", 4: "<F>", 5: "<R>"}
    assert (
        build(
            fim, qwen, tokenize, token_text=lambda t: names[t] if t in names else chr(t - 1000)
        ).render()
        == "<R>r\n<F>y.py\nc\n<F>x.py\n<P>a<S>b<M>"
    )
    llama = bind(CODELLAMA, {"<PRE>": 1, "<SUF>": 2, "<MID>": 3, "<EOT>": 4}.get, [0])
    assert (
        build(
            FimInput("a", "b"),
            llama,
            tokenize,
            token_text=lambda t: names[t] if t in names else chr(t - 1000),
        ).render()
        == "<P> a<S>b <M>"
    )
    assert len(TEMPLATES) == len({t.name for t in TEMPLATES})


def count(text: str) -> int:
    return len(text)


LINES = "".join(f"line {i:03d}\n" for i in range(100))  # 9 chars per line


def test_window_takes_whole_lines_within_budget() -> None:
    offset = LINES.index("line 050") + 4
    start, end = fim_window(LINES, offset, prefix_budget=40, suffix_budget=20, count_tokens=count)
    assert LINES[start:offset] == "line 048\nline 049\nline"
    assert LINES[offset:end] == " 050\nline 051\n"


def test_window_start_moves_in_steps_for_cache_reuse() -> None:
    starts = set()
    for line in range(60, 76):
        offset = LINES.index(f"line {line:03d}")
        start, _ = fim_window(
            LINES, offset, prefix_budget=9 * 40, suffix_budget=0, count_tokens=count
        )
        starts.add(start)
        assert offset - start <= 9 * 40
    assert len(starts) <= 2


def test_window_start_is_kept_while_the_prefix_fits() -> None:
    offset = LINES.index("line 070")
    fresh, _ = fim_window(LINES, offset, 9 * 30, 0, count)
    # Typing on (and deleting back) keeps it while the prefix fits the larger keep budget...
    for line in (70, 72, 69, 73):
        at = LINES.index(f"line {line:03d}")
        kept, _ = fim_window(LINES, at, 9 * 30, 0, count, keep_start=fresh, keep_budget=9 * 34)
        assert kept == fresh
    # ...and chooses afresh once it does not, or when the kept start is no line start.
    at = LINES.index("line 084")
    assert fim_window(LINES, at, 9 * 30, 0, count, fresh, 9 * 34)[0] > fresh
    assert fim_window(LINES, offset, 9 * 30, 0, count, fresh + 1, 9 * 34)[0] == fresh


def test_window_whole_file_when_it_fits() -> None:
    offset = LINES.index("line 010")
    assert fim_window(LINES, offset, 10_000, 10_000, count) == (0, len(LINES))


def test_window_cuts_a_long_cursor_line_suffix() -> None:
    text = "x = " + "a" * 500
    start, end = fim_window(text, 4, 100, 10, count)
    assert (start, end) == (0, 14)


@pytest.mark.parametrize(
    ("base", "interval", "expected"),
    [(30, 0, 30), (30, 120, 120), (30, 10, 30), (30, 900, 250), (400, 900, 400)],
)
def test_adaptive_debounce(base: float, interval: float, expected: float) -> None:
    from sc2_lsp.rhythm import adaptive_debounce

    assert adaptive_debounce(base, interval) == expected


def test_no_adaptive_wait_when_the_model_answers_faster_than_the_user_types() -> None:
    from sc2_lsp.rhythm import adaptive_debounce

    assert adaptive_debounce(30, 120, model_ms=80) == 30  # an answer before the next key
    assert adaptive_debounce(30, 120, model_ms=4000) == 120  # it would be thrown away


def test_no_debounce_right_after_an_accept() -> None:
    from sc2_lsp.config import resolve
    from sc2_lsp.documents import Snapshot, cursor_at
    from sc2_lsp.prompting import Request
    from sc2_lsp.rhythm import TypingRhythm

    def at(text: str) -> Request:
        return Request(Snapshot("file:///a.py", 1, "python", text), cursor_at(text, 0, len(text)))

    settings, _ = resolve({"completion": {"debounceMs": 40, "prefetch": False}})
    rhythm = TypingRhythm()
    rhythm.answered("file:///a.py", "value = ", "compute(1)")
    assert rhythm.delay_ms("file:///a.py", 0.0, settings, at("value = compute(1)")) == 0
    assert rhythm.delay_ms("file:///a.py", 0.1, settings, at("value = comp")) == 100
    assert rhythm.delay_ms("file:///a.py", 0.2, settings, at("value = x")) == 100


def test_typing_rhythm_ignores_pauses() -> None:
    from sc2_lsp.config import resolve
    from sc2_lsp.rhythm import TypingRhythm

    settings, _ = resolve({"completion": {"debounceMs": 0}})
    rhythm = TypingRhythm()
    for step in range(6):
        delay = rhythm.delay_ms("file:///a.py", step * 0.1, settings)
    assert round(delay) == 100
    # Five seconds of reading is not part of the rhythm: the next burst is not held back longer.
    assert round(rhythm.delay_ms("file:///a.py", 5.5, settings)) == 100


def test_token_cache_stays_within_its_byte_bound() -> None:
    from sc2_lsp.prompting import TokenCache

    def tokenize(text: str) -> list[int]:
        return [ord(char) for char in text]  # one id per character: ids outweigh text 4:1

    cache = TokenCache(tokenize, max_bytes=64 * 1024)
    line = "value = compute(item)\n"
    for keystroke in range(5000):  # a new prefix every keystroke, the same line each time
        assert cache(line * 10 + "x" * (keystroke % 97) + str(keystroke)) > 0
        assert cache.ids(line) == tokenize(line)
    assert cache.bytes <= cache.max_bytes
    assert cache._cache.get(line) is not None  # what repeats stays
