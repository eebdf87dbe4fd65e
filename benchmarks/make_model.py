"""Build a random-weight, real-shaped StarCoder2 GGUF for speed benchmarks.

Owns: the per-size shape table (HF config.json values, notes §3.1) and the
f16 -> llama.cpp-quantizer pipeline. The GGUF writing itself lives in
``tests/gguf_factory.py``. Weights are random because speed does not depend on them; the
vocabulary is the real 49,152-token one so tokenization and logits cost what they would.

    python -m benchmarks.make_model --shape 3b --quant q4_k_m
"""

from __future__ import annotations

import argparse
import ctypes
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from tests.gguf_factory import STARCODER2_VOCAB, load_vocab, synthetic_vocab, write_starcoder2

ROOT = Path(__file__).resolve().parents[1]

MODELS_DIR = ROOT / "benchmarks" / ".models"


@dataclass(frozen=True)
class ModelShape:
    n_layer: int
    n_embd: int
    n_head: int
    n_head_kv: int
    n_ff: int
    rope_freq_base: float
    tie_embeddings: bool


SHAPES: dict[str, ModelShape] = {
    "tiny": ModelShape(2, 64, 4, 2, 128, 999999.4420358813, True),
    "3b": ModelShape(30, 3072, 24, 2, 12288, 999999.4420358813, True),
    "7b": ModelShape(32, 4608, 36, 4, 18432, 1_000_000.0, True),
    "15b": ModelShape(40, 6144, 48, 4, 24576, 100_000.0, False),
}

QUANT_FTYPES = ("q4_k_m", "q8_0", "f16")


def log(msg: str) -> None:
    print(f"[make_model] {msg}", file=sys.stderr, flush=True)


def default_out(shape: str, quant: str) -> Path:
    return MODELS_DIR / f"sc2-{shape}-random-{quant}.gguf"


def write_f16(path: Path, shape_name: str, vocab_path: Path | None) -> None:
    shape = SHAPES[shape_name]
    if vocab_path is not None:
        vocab = load_vocab(vocab_path)
    else:
        log("no vocab file: using the synthetic vocab (token costs will not be realistic)")
        vocab = synthetic_vocab()
    started = time.monotonic()

    def progress(i: int, n: int, name: str) -> None:
        if name.endswith("attn_norm.weight") or i == n - 1:
            log(f"  tensor {i + 1}/{n} {name} ({time.monotonic() - started:.0f}s)")

    log(f"writing f16 {shape_name} ({len(vocab.tokens)} tokens) -> {path}")
    write_starcoder2(
        path,
        vocab=vocab,
        n_embd=shape.n_embd,
        n_layer=shape.n_layer,
        n_head=shape.n_head,
        n_head_kv=shape.n_head_kv,
        n_ff=shape.n_ff,
        rope_freq_base=shape.rope_freq_base,
        tie_embeddings=shape.tie_embeddings,
        dtype="f16",
        name=f"starcoder2-{shape_name}-random",
        progress=progress,
    )
    log(f"f16 written: {path.stat().st_size / 2**30:.2f} GiB in {time.monotonic() - started:.0f}s")


def quantize(src: Path, dst: Path, quant: str, nthread: int) -> None:
    import llama_cpp  # imported late: --help and f16 builds don't need the native library

    ftype = {
        "q4_k_m": llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_K_M,
        "q8_0": llama_cpp.LLAMA_FTYPE_MOSTLY_Q8_0,
    }[quant]
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = ftype
    params.nthread = nthread
    started = time.monotonic()
    log(f"quantizing to {quant} with {nthread} threads -> {dst}")
    rc = llama_cpp.llama_model_quantize(str(src).encode(), str(dst).encode(), ctypes.byref(params))
    if rc != 0:
        raise RuntimeError(f"llama_model_quantize failed with code {rc}")
    log(f"quantized in {time.monotonic() - started:.0f}s")


def build(
    out: Path, shape: str, quant: str, vocab_path: Path | None, force: bool, nthread: int
) -> Path:
    if out.exists() and not force:
        log(f"{out} exists, skipping (use --force to rebuild)")
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    # Write under a temporary name so an interrupted build never looks finished.
    partial = out.with_name(out.name + ".partial")
    if quant == "f16":
        write_f16(partial, shape, vocab_path)
    else:
        f16 = out.with_name(out.name + ".f16.tmp")
        try:
            write_f16(f16, shape, vocab_path)
            quantize(f16, partial, quant, nthread)
        finally:
            f16.unlink(missing_ok=True)
    partial.replace(out)
    log(f"done: {out} ({out.stat().st_size / 2**30:.2f} GiB)")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", choices=sorted(SHAPES), default="3b")
    parser.add_argument("--quant", choices=QUANT_FTYPES, default="q4_k_m")
    parser.add_argument(
        "--vocab",
        type=Path,
        default=STARCODER2_VOCAB,
        help="GGUF to copy the tokenizer from (default: the 49k StarCoder2 vocabulary in tests/data)",
    )
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--force", action="store_true", help="rebuild even if --out exists")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args(argv)
    out = args.out or default_out(args.shape, args.quant)
    started = time.monotonic()
    build(out, args.shape, args.quant, args.vocab, args.force, args.threads)
    log(f"total {time.monotonic() - started:.0f}s")
    print(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
