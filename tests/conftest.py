"""Shared pytest fixtures.

Each block below is owned by the module named in its header; add new blocks rather than
editing someone else's.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

# Engine fallbacks remembered by tests (and by the servers they start) stay out of the user's
# state dir; each run starts with an empty memory.
os.environ["SC2_LSP_STATE_DIR"] = tempfile.mkdtemp(prefix="sc2-lsp-test-state-")

# ---------------------------------------------------------------------------
# Block: tiny GGUF models (owner: tests/gguf_factory.py)
# ---------------------------------------------------------------------------
from tests.gguf_factory import emit_token_for, synthetic_vocab, with_token, write_starcoder2


@pytest.fixture(scope="session")
def tiny_model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Random-weight 2-layer StarCoder2 GGUF with the synthetic vocab (~0.3 MB)."""
    return write_starcoder2(tmp_path_factory.mktemp("gguf") / "tiny.gguf")


@pytest.fixture(scope="session")
def emit_model_factory(
    tmp_path_factory: pytest.TempPathFactory,
) -> Callable[[int | str], Path]:
    """``factory(token_id_or_text)`` -> GGUF whose greedy output is always that token.

    Text is looked up in the synthetic vocab (``"a"``, ``"\\n"``, ``"<file_sep>"`` ...); text
    that is no single token there becomes one (``"x\\n"``: every suggestion a block of lines).
    Files are cached per argument for the whole session.
    """
    vocab = synthetic_vocab()
    cache: dict[int | str, Path] = {}
    base = tmp_path_factory.mktemp("gguf-emit")

    def factory(token_or_text: int | str) -> Path:
        if token_or_text not in cache:
            if isinstance(token_or_text, int):
                model_vocab, token = vocab, token_or_text
            else:
                model_vocab, token = with_token(vocab, token_or_text)
            name = f"emit-{token}-{len(model_vocab.tokens)}.gguf"
            cache[token_or_text] = write_starcoder2(
                base / name, vocab=model_vocab, emit_token=token
            )
        return cache[token_or_text]

    return factory


# ---------------------------------------------------------------------------


# ---------------------------------------------------------------------------
# Block: engine and server fixtures (owner: the lead)
# ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def slow_model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Big enough that a long generation takes many seconds on a laptop CPU; always emits 'x'."""
    vocab = synthetic_vocab()
    return write_starcoder2(
        tmp_path_factory.mktemp("slow") / "slow.gguf",
        vocab=vocab,
        n_embd=512,
        n_layer=8,
        n_head=8,
        n_head_kv=2,
        n_ff=2048,
        emit_token=emit_token_for(vocab, "x"),
    )


# ---------------------------------------------------------------------------
# Block: workspace indexes (owner: tests/workspaces.py)
# ---------------------------------------------------------------------------
from collections.abc import Iterator  # noqa: E402

from sc2_lsp.context.index import WorkspaceIndex  # noqa: E402


@pytest.fixture
def indexes() -> Iterator[list[WorkspaceIndex]]:
    """Indexes a test started (see `tests.workspaces.indexed`), closed when it ends."""
    opened: list[WorkspaceIndex] = []
    yield opened
    for index in opened:
        index.close()
