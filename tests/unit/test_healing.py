"""Token healing: what is backed off (on the real StarCoder2 vocabulary), the token sets the mask
allows, the prompt and parameters `prepare` builds with it, and the completer's suggestion."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sc2_lsp import healing
from sc2_lsp.completer import Completer
from sc2_lsp.config import Settings, resolve
from sc2_lsp.documents import Snapshot, cursor_at
from sc2_lsp.engine.vocab import Tokenizer
from sc2_lsp.prompting import Prepared, Request, prepare
from tests.fakes import ScriptedEngine
from tests.gguf_factory import STARCODER2_VOCAB

URI = "file:///w/a.py"


@pytest.fixture(scope="module")
def vocab() -> Tokenizer:
    return Tokenizer.load(STARCODER2_VOCAB)


def at(text: str) -> Request:
    line = text.count("\n")
    column = len(text) - (text.rfind("\n") + 1)
    return Request(Snapshot(URI, 1, "python", text), cursor_at(text, line, column, "utf-32"))


def configured(healing_on: bool = True) -> Settings:
    resolved, errors = resolve(
        {
            "prompt": {"tokenHealing": healing_on},
            "completion": {"debounceMs": 0, "cache": False, "multiline": "never"},
        }
    )
    assert not errors
    return resolved


def prepared_for(text: str, vocab: Tokenizer, healing_on: bool = True) -> Prepared:
    result = prepare(at(text), configured(healing_on), vocab, vocab.template(), 4096)
    assert result is not None
    return result


def prefix_part(prepared: Prepared) -> str:
    return "".join(part.text for part in prepared.prompt.parts if part.role == "prefix")


def prefix_tokens(prepared: Prepared) -> list[int]:
    return [t for part in prepared.prompt.parts if part.role == "prefix" for t in part.tokens]


@pytest.mark.parametrize(
    ("text", "start"),
    [
        ("print(gre", 6),
        ("os.listd", 3),
        ("x = foo.bar_baz", 8),
        ("def f():\n    ", 8),
        ("print(", 5),
        ("if x ==", 5),
        ("", 0),
    ],
)
def test_the_run_at_the_end_is_one_kind_of_character(text: str, start: int) -> None:
    assert healing.run_start(text) == start


@pytest.mark.parametrize(
    ("prefix", "healed"),
    [
        ("print(gre", "gre"),  # the word the cursor is in
        ("os.listd", "listd"),  # two tokens, `list` + `d`
        ("x = foo.bar_baz", "_baz"),  # three tokens in the word: the last two only
        ("def f(n):\n    ", "\n    "),  # an indented empty line ends on one `\n    ` token
        ("if x ==", " =="),  # an operator, with the space its token carries
        ("print(", "("),
    ],
)
def test_prepare_backs_off_the_tokens_in_the_word_at_the_cursor(
    vocab: Tokenizer, prefix: str, healed: str
) -> None:
    text = "import os\n" + prefix
    prepared = prepared_for(text, vocab)
    assert prepared.params.healed == healed
    assert prefix_part(prepared).endswith(text[: len(text) - len(healed)])
    unhealed = prepared_for(text, vocab, healing_on=False)
    assert unhealed.params.healed == ""
    assert prefix_part(unhealed).endswith(text)
    tokens, all_tokens = prefix_tokens(prepared), prefix_tokens(unhealed)
    assert 1 <= len(all_tokens) - len(tokens) <= healing.MAX_TOKENS
    assert tokens == all_tokens[: len(tokens)]


CODE = st.text(alphabet="abcdefxyz_ AZ09().,:=+-\n\t\"'é", min_size=1, max_size=40)


@settings(max_examples=150, deadline=None)
@given(prefix=CODE)
def test_a_healed_prompt_never_ends_inside_a_word_it_could_back_off(
    vocab: Tokenizer, prefix: str
) -> None:
    """The kept prompt ends before the run at the cursor, unless two tokens were backed off."""
    text = "x = 1\n" + prefix
    prepared, unhealed = prepared_for(text, vocab), prepared_for(text, vocab, healing_on=False)
    healed = prepared.params.healed
    kept = text[: len(text) - len(healed)]
    assert text.endswith(healed) and prefix_part(prepared).endswith(kept)
    if _spelled_exactly(vocab, "a.py\n" + text):
        backed = len(prefix_tokens(unhealed)) - len(prefix_tokens(prepared))
        assert healed and (backed == healing.MAX_TOKENS or len(kept) <= healing.run_start(text))


def _spelled_exactly(vocab: Tokenizer, text: str) -> bool:
    return b"".join(vocab.piece(token) for token in vocab.tokenize(text)) == text.encode()


def test_tokens_that_do_not_spell_the_text_are_not_backed_off() -> None:
    pieces = {1: b"ab", 2: b"c"}
    assert healing.back_off([1, 2], "abc", pieces.__getitem__) == (2, "abc")
    assert healing.back_off([1, 2], "abd", pieces.__getitem__) == (0, "")
    split_character = {1: "é".encode()[:1], 2: "é".encode()[1:] + b"x", 3: b"y"}
    assert healing.back_off([1, 2, 3], "éxy", split_character.__getitem__) == (0, "")


def test_the_trie_allows_tokens_that_spell_the_text_or_start_it() -> None:
    pieces = [b"", b"g", b"gr", b"gre", b"greet", b"grey", b"go", b"r", b"gre\xff", b"\xff"]
    trie = healing.TokenTrie(pieces)
    assert sorted(trie.agreeing(b"gre")) == [1, 2, 3, 4, 5, 8]
    assert sorted(trie.agreeing(b"\xff")) == [9]
    assert trie.agreeing(b"") == ()


@settings(max_examples=200, deadline=None)
@given(
    pieces=st.lists(st.binary(min_size=0, max_size=4), min_size=1, max_size=40),
    text=st.binary(min_size=1, max_size=5),
)
def test_the_trie_agrees_with_a_linear_scan(pieces: list[bytes], text: bytes) -> None:
    expected = {
        token
        for token, data in enumerate(pieces)
        if data and (data.startswith(text) or text.startswith(data))
    }
    assert set(healing.TokenTrie(pieces).agreeing(text)) == expected


def test_the_real_vocabulary_spells_any_healed_text(vocab: Tokenizer) -> None:
    long_indent = "\n" + " " * 40
    assert [vocab.piece(t) for t in vocab.tokenize(long_indent)] == [long_indent.encode()]
    trie = healing.TokenTrie([vocab.piece(token) for token in range(vocab.n_vocab)])
    for text in ("gre", "\n    ", " ==", "listd", "é"):
        remaining = text.encode()
        agreeing = trie.agreeing(remaining)
        assert agreeing and not set(agreeing) & vocab.eog_ids
        assert all(vocab.piece(t).startswith(remaining[:1]) for t in agreeing)
        while remaining:  # the mask never leaves the sampler without a choice
            longest = max(trie.agreeing(remaining), key=lambda t: len(vocab.piece(t)))
            remaining = healing.advance(remaining, vocab.piece(longest))


def test_strip_and_stop_see_only_the_text_after_the_healed_part() -> None:
    assert healing.strip("greet(name)", "gre") == "et(name)"
    assert healing.strip("gr", "gre") == ""  # stopped before spelling it out
    seen: list[str] = []

    def stop(text: str) -> bool:
        seen.append(text)
        return "\n" in text

    assert not healing.should_stop_after("\n   ", "\n    ", stop)
    assert healing.should_stop_after("\n    return\n", "\n    ", stop)
    assert seen == ["return\n"]


async def test_the_completer_shows_the_word_completed_at_the_cursor() -> None:
    def script(prompt: str) -> str:
        # A model that knows `greet`, but only continues it from a token boundary.
        return "reet(name)\n" if "print(g<fim_suffix>" in prompt else "ath(name)\n"

    engine = ScriptedEngine(script=script)
    try:
        completer = Completer(engine)
        text = "def greet(name):\n    pass\n\nprint(gre"
        healed = await completer.complete(at(text), configured())
        plain = await completer.complete(at(text), configured(healing_on=False))
    finally:
        engine.close()
    assert engine.jobs[0].params.healed == "re"  # one character per token: the last two
    assert healed is not None and healed.text == "et(name)"
    assert engine.jobs[1].params.healed == ""
    assert plain is not None and plain.text == "ath(name)"


def test_typing_on_inside_one_token_word_keeps_the_whole_prompt(vocab: Tokenizer) -> None:
    """KV reuse: while the word at the cursor is one token, every keystroke sends the same ids."""
    before = "def greet(name):\n    pass\n\nprint("
    prompts = [prepared_for(before + typed, vocab) for typed in ("gr", "gre", "gree")]
    assert [p.params.healed for p in prompts] == ["gr", "gre", "gree"]
    assert prompts[0].prompt.tokens == prompts[1].prompt.tokens == prompts[2].prompt.tokens


async def test_healed_suggestions_feed_the_typed_ahead_cache_and_the_prefetch() -> None:
    def script(prompt: str) -> str:
        if "print(g<fim_suffix>" in prompt:
            return "reet(name)\n"
        return "))\n" if "print(greet(name<fim_suffix>" in prompt else "\n"

    engine = ScriptedEngine(script=script)
    chosen, _ = resolve({"completion": {"debounceMs": 0, "adaptiveDebounce": False}})
    try:
        completer = Completer(engine)
        text = "def greet(name):\n    pass\n\nprint(gre"
        shown = await completer.complete(at(text), chosen)
        assert shown is not None and shown.text == "et(name)"
        typed = await completer.complete(at(text + "et("), chosen)
        assert typed is not None and typed.source == "cache" and typed.text == "name)"
        while completer.speculator.prefetches < 1:  # the state "et(name)" accepted, healed too
            await asyncio.sleep(0.005)
        accepted = await completer.complete(at(text + "et(name)"), chosen)
    finally:
        engine.close()
    prefetch = next(job for job in engine.jobs[1:] if not job.params.branches)  # not alternatives
    assert prefetch.params.healed == ")"
    assert "\nprint(greet(name<fim_suffix>" in engine.rendered(prefetch)
    assert accepted is not None and accepted.source == "prefetch" and accepted.text == ")"
