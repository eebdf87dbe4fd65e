"""Where the latency benchmark's inputs and outputs live, and the engine settings it fixes."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "benchmarks"
SESSION_ROOT = BENCH / "latency_session"
MAIN_FILE = "pygls/workspace/text_document.py"
OPEN_TABS = ("pygls/workspace/position_codec.py",)
RESULTS = BENCH / "results"
WORK = BENCH / ".work"
FULL_MODEL = BENCH / ".models" / "sc2-3b-random-q4_k_m.gguf"
QUICK_MODEL = BENCH / ".models" / "sc2-quick-random-f16.gguf"
VOCAB = ROOT / "tests" / "data" / "starcoder2-vocab.gguf"
PROBE_ENV = "SC2_LATENCY_PROBE"
"""Read by the `--serve` probe of commits before the trace existed (a `--baseline` run)."""
LOG_ENV = "SC2_LATENCY_SERVER_LOG"
N_CTX = 4096
N_BATCH = 512  # what sc2_lsp.engine.llama uses for n_ctx >= 512
ANSWER_TIMEOUT_S = 900.0


def log(message: str) -> None:
    print(f"[latency] {message}", file=sys.stderr, flush=True)
