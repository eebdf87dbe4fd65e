"""Fixtures for test/e2e.sh: deterministic GGUF models and a local stand-in for the HF Hub.

    fixtures.py models DIR      writes DIR/space-x.gguf (every completion is " x x x ..."),
                                DIR/x.gguf (every completion is "xxx...") and DIR/lines.gguf
                                (every completion a block of "x" lines)
    fixtures.py hub MODEL URLF  serves MODEL as test/tiny-GGUF:tiny.gguf, writes the base URL
                                to URLF and serves until killed (for `sc2-lsp model pull`)

Uses the repository's own test helpers (tests/gguf_factory.py, tests/fakehub.py).
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[4]
sys.path.insert(0, str(ROOT))

from tests.fakehub import FakeHub  # noqa: E402
from tests.gguf_factory import (  # noqa: E402
    emit_token_for,
    synthetic_vocab,
    with_token,
    write_starcoder2,
)


def models(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    vocab = synthetic_vocab()
    for name, token in (("space-x.gguf", " x"), ("x.gguf", "x")):
        write_starcoder2(out / name, vocab=vocab, emit_token=emit_token_for(vocab, token))
    lines_vocab, newline_x = with_token(vocab, "x\n")
    write_starcoder2(out / "lines.gguf", vocab=lines_vocab, emit_token=newline_x)


def hub(model: Path, url_file: Path) -> None:
    with FakeHub() as fake:
        fake.add("test/tiny-GGUF", "tiny.gguf", model.read_bytes())
        url_file.write_text(fake.url)
        signal.sigwait({signal.SIGTERM, signal.SIGINT})


if __name__ == "__main__":
    if sys.argv[1] == "models":
        models(Path(sys.argv[2]))
    elif sys.argv[1] == "hub":
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
        hub(Path(sys.argv[2]), Path(sys.argv[3]))
    else:
        raise SystemExit(__doc__)
