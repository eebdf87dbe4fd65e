"""`model pull --vocab-only`: a model's vocabulary read from its GGUF head, kept as a GGUF."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sc2_lsp.engine.vocab import Tokenizer
from sc2_lsp.models import ModelError, inspect_gguf, pull, resolve
from sc2_lsp.vocabulary import metadata_end
from tests.fakehub import FakeHub
from tests.gguf_factory import STARCODER2_VOCAB, load_vocab, write_starcoder2

SAMPLE = "def parse(line: str) -> list[int]:\n    return [int(x) for x in line.split(',')]  # ü\n"


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real-vocabulary model with weights big enough that reading all of it would show."""
    path = tmp_path_factory.mktemp("vocab") / "big.gguf"
    return write_starcoder2(path, vocab=load_vocab(STARCODER2_VOCAB), n_embd=256, n_head=4)


@pytest.fixture
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHub]:
    monkeypatch.setenv("SC2_LSP_MODEL_DIR", str(tmp_path / "models"))
    for name in ("HF_HUB_OFFLINE", "HF_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    with FakeHub() as fake:
        monkeypatch.setenv("HF_ENDPOINT", fake.url)
        yield fake


def test_pulls_only_the_vocabulary_and_it_tokenizes_like_the_model(
    hub: FakeHub, model: Path
) -> None:
    hub.add("team/sc2-GGUF", "big.gguf", model.read_bytes())
    path = pull("team/sc2-GGUF:big.gguf", vocab=True, progress=False)
    assert resolve("team/sc2-GGUF:big.gguf") == path  # no model there: its vocabulary serves
    assert path.name == "big.vocab.gguf" and path.stat().st_size < model.stat().st_size / 10
    info = inspect_gguf(path)
    assert info.n_tensors == 0 and info.n_vocab == 49152
    assert Tokenizer.load(path).tokenize(SAMPLE) == Tokenizer.load(model).tokenize(SAMPLE)
    assert Tokenizer.load(path).single_token("<file_sep>") == 6


def test_metadata_end_needs_the_whole_metadata(model: Path) -> None:
    data = model.read_bytes()
    end = metadata_end(data)
    assert end is not None and end < len(data)
    assert metadata_end(data[: end - 1]) is None
    assert metadata_end(data[:10]) is None
    with pytest.raises(ModelError):
        metadata_end(b"PK\x03\x04" + bytes(40))
