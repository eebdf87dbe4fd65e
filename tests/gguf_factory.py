"""Random-weight StarCoder2-architecture GGUF writer for tests and benchmarks.

Owns: the StarCoder2 special-token table, a small synthetic byte-level BPE vocabulary,
reading the real vocabulary out of an existing GGUF, and ``write_starcoder2`` which emits a
GGUF that llama.cpp loads as arch ``starcoder2`` (every metadata key and tensor llama.cpp's
StarCoder2 loader reads, biases included). Tensors are generated and written one at a time,
so a 3B-shaped file never needs more than one tensor's worth of numpy memory.

``emit_token=k`` makes a model whose greedy output is always token ``k``: the final
LayerNorm has weight 0, so its output is its bias ``b`` whatever the input; with tied
embeddings the logits are ``E @ b``. Embedding column 0 is zero for every row except ``k``
(where it is 1) and ``b = EMIT_LOGIT * e_0``, so logit[k] = EMIT_LOGIT and every other
logit is exactly 0, independent of vocabulary size.
"""

from __future__ import annotations

import itertools
import struct
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from gguf import GGUF_MAGIC, GGUFValueType, GGUFWriter, LlamaFileType

_SPECIALS_TEXT = """
    <|endoftext|> <fim_prefix> <fim_middle> <fim_suffix> <fim_pad> <repo_name> <file_sep>
    <issue_start> <issue_comment> <issue_closed> <jupyter_start> <jupyter_text>
    <jupyter_code> <jupyter_output> <jupyter_script> <empty_output> <code_to_intermediate>
    <intermediate_to_code> <pr> <pr_status> <pr_is_merged> <pr_base> <pr_file>
    <pr_base_code> <pr_diff> <pr_diff_hunk> <pr_comment> <pr_event_id> <pr_review>
    <pr_review_state> <pr_review_comment> <pr_in_reply_to_review_id>
    <pr_in_reply_to_comment_id> <pr_diff_hunk_comment_line> <NAME> <EMAIL> <KEY> <PASSWORD>
"""
STARCODER2_SPECIALS: tuple[str, ...] = tuple(_SPECIALS_TEXT.split())

STARCODER2_VOCAB = Path(__file__).resolve().parent / "data" / "starcoder2-vocab.gguf"
"""The real 49,152-token StarCoder2 vocabulary, vocab-only (source and licence: data/NOTICE)."""

TOKEN_NORMAL = 1
TOKEN_CONTROL = 3

# Logit of the emitted token; all others are exactly 0, so this is also the greedy margin.
EMIT_LOGIT = 40.0
WEIGHT_STD = 0.02
ROPE_FREQ_BASE_3B = 999999.4420358813

# Code pieces the synthetic vocab makes single tokens (GPT-2 byte-level spelling:
# "Ġ" = space, "Ċ" = newline).
_PIECES_TEXT = """
    ĠĠ ĠĠĠ ĠĠĠĠ ĊĠĠĠ ĊĠĠĠĠĠĠĠ Ġ= Ġ== Ġ+ Ġ( () ): (): Ġa Ġb Ġf Ġx Ġi Ġn def Ġdef Ġreturn Ġif Ġin
    Ġfor Ġself self print import Ġimport from class
"""
_SYNTHETIC_PIECES: tuple[str, ...] = tuple(_PIECES_TEXT.split())


@dataclass(frozen=True)
class Vocab:
    tokens: list[str]
    token_types: list[int]
    merges: list[str]
    pre: str = "starcoder"


@dataclass(frozen=True)
class Shape:
    n_embd: int
    n_layer: int
    n_head: int
    n_head_kv: int
    n_ff: int


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's byte -> printable-character table, in its canonical order."""
    bs = [
        *range(ord("!"), ord("~") + 1),
        *range(ord("¡"), ord("¬") + 1),
        *range(ord("®"), ord("ÿ") + 1),
    ]
    cs = list(bs)
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs, strict=True)}


def byte_encode(text: str) -> str:
    """Spell UTF-8 ``text`` the way GPT-2 byte-level BPE vocab entries are spelled."""
    table = bytes_to_unicode()
    return "".join(table[b] for b in text.encode("utf-8"))


def _bpe(word: str, ranks: dict[tuple[str, str], int]) -> list[str]:
    """Byte-level BPE of one pre-token: repeatedly merge the best-ranked (then leftmost) pair."""
    parts = list(word)
    while len(parts) > 1:
        candidates = [
            (ranks[pair], i) for i, pair in enumerate(itertools.pairwise(parts)) if pair in ranks
        ]
        if not candidates:
            break
        _, i = min(candidates)
        parts[i : i + 2] = [parts[i] + parts[i + 1]]
    return parts


def synthetic_vocab() -> Vocab:
    """38 StarCoder2 specials + the 256 byte symbols + a few dozen code-piece merges."""
    tokens = list(STARCODER2_SPECIALS)
    types = [TOKEN_CONTROL] * len(tokens)
    tokens += list(bytes_to_unicode().values())
    types += [TOKEN_NORMAL] * 256
    ranks: dict[tuple[str, str], int] = {}
    for piece in _SYNTHETIC_PIECES:
        # Merge whatever the existing merges leave of the piece, so earlier (higher-priority)
        # merges such as "Ġ Ġ" can't stop a later piece such as "ĊĠĠĠ" from forming.
        while len(parts := _bpe(piece, ranks)) > 1:
            ranks[(parts[0], parts[1])] = len(ranks)
            if parts[0] + parts[1] not in tokens:
                tokens.append(parts[0] + parts[1])
                types.append(TOKEN_NORMAL)
    merges = [f"{left} {right}" for left, right in ranks]
    return Vocab(tokens=tokens, token_types=types, merges=merges)


_SCALAR_FORMATS: dict[int, str] = {
    GGUFValueType.UINT8: "B",
    GGUFValueType.INT8: "b",
    GGUFValueType.UINT16: "H",
    GGUFValueType.INT16: "h",
    GGUFValueType.UINT32: "I",
    GGUFValueType.INT32: "i",
    GGUFValueType.FLOAT32: "f",
    GGUFValueType.BOOL: "?",
    GGUFValueType.UINT64: "Q",
    GGUFValueType.INT64: "q",
    GGUFValueType.FLOAT64: "d",
}


def read_gguf_kv(path: Path) -> dict[str, Any]:
    """Metadata of a little-endian GGUF as plain Python values (arrays become lists).

    Hand-rolled because ``gguf.GGUFReader`` takes ~5 s on the 49k-token vocabulary (it
    builds a numpy view per array element); this takes well under a second.
    """
    with open(path, "rb") as fh:
        magic, _version, _n_tensors, n_kv = struct.unpack("<IIQQ", fh.read(24))
        if magic != GGUF_MAGIC:
            raise ValueError(f"{path} is not a GGUF file")
        buf = fh.read()
    pos = 0

    def read_str() -> str:
        nonlocal pos
        (n,) = struct.unpack_from("<Q", buf, pos)
        pos += 8 + n
        return buf[pos - n : pos].decode("utf-8", errors="replace")

    def read_val(vtype: int) -> Any:
        nonlocal pos
        if vtype == GGUFValueType.STRING:
            return read_str()
        if vtype == GGUFValueType.ARRAY:
            sub, count = struct.unpack_from("<IQ", buf, pos)
            pos += 12
            if sub in _SCALAR_FORMATS:
                fmt = f"<{count}{_SCALAR_FORMATS[sub]}"
                values = list(struct.unpack_from(fmt, buf, pos))
                pos += struct.calcsize(fmt)
                return values
            return [read_val(sub) for _ in range(count)]
        fmt = "<" + _SCALAR_FORMATS[vtype]
        (value,) = struct.unpack_from(fmt, buf, pos)
        pos += struct.calcsize(fmt)
        return value

    kv: dict[str, Any] = {}
    for _ in range(n_kv):
        key = read_str()
        (vtype,) = struct.unpack_from("<I", buf, pos)
        pos += 4
        kv[key] = read_val(vtype)
    return kv


def load_vocab(path: Path) -> Vocab:
    """Read tokens / token types / merges / pre-tokenizer name out of an existing GGUF."""
    kv = read_gguf_kv(path)
    return Vocab(
        tokens=list(kv["tokenizer.ggml.tokens"]),
        token_types=[int(t) for t in kv["tokenizer.ggml.token_type"]],
        merges=list(kv.get("tokenizer.ggml.merges", [])),
        pre=str(kv.get("tokenizer.ggml.pre", "starcoder")),
    )


def emit_token_for(vocab: Vocab, text: str) -> int:
    """Id of the single token whose text is ``text`` (a special's literal name also works)."""
    try:
        idx = vocab.tokens.index(text)
        if vocab.token_types[idx] == TOKEN_CONTROL:
            return idx
    except ValueError:
        pass
    try:
        return vocab.tokens.index(byte_encode(text))
    except ValueError:
        raise KeyError(f"{text!r} is not a single token in this vocabulary") from None


def with_token(vocab: Vocab, text: str) -> tuple[Vocab, int]:
    """``vocab`` and the id of a token spelling ``text``, appended if it has none.

    An appended token has no merge that forms it: prompts never contain it, an emit model
    still generates it (``"x\n"`` makes every suggestion a block of ``x`` lines)."""
    try:
        return vocab, emit_token_for(vocab, text)
    except KeyError:
        tokens = [*vocab.tokens, byte_encode(text)]
        types = [*vocab.token_types, TOKEN_NORMAL]
        return Vocab(tokens, types, vocab.merges, vocab.pre), len(vocab.tokens)


def _tensor_specs(
    shape: Shape, n_vocab: int, tie_embeddings: bool
) -> list[tuple[str, tuple[int, ...]]]:
    """(name, numpy shape) in file order; numpy shape is ggml ``ne`` reversed."""
    e, ff = shape.n_embd, shape.n_ff
    gqa = (e // shape.n_head) * shape.n_head_kv
    specs: list[tuple[str, tuple[int, ...]]] = [("token_embd.weight", (n_vocab, e))]
    for i in range(shape.n_layer):
        p = f"blk.{i}."
        specs += [
            (p + "attn_norm.weight", (e,)),
            (p + "attn_norm.bias", (e,)),
            (p + "attn_q.weight", (e, e)),
            (p + "attn_q.bias", (e,)),
            (p + "attn_k.weight", (gqa, e)),
            (p + "attn_k.bias", (gqa,)),
            (p + "attn_v.weight", (gqa, e)),
            (p + "attn_v.bias", (gqa,)),
            (p + "attn_output.weight", (e, e)),
            (p + "attn_output.bias", (e,)),
            (p + "ffn_norm.weight", (e,)),
            (p + "ffn_norm.bias", (e,)),
            (p + "ffn_up.weight", (ff, e)),
            (p + "ffn_up.bias", (ff,)),
            (p + "ffn_down.weight", (e, ff)),
            (p + "ffn_down.bias", (e,)),
        ]
    specs += [("output_norm.weight", (e,)), ("output_norm.bias", (e,))]
    if not tie_embeddings:
        specs.append(("output.weight", (n_vocab, e)))
    return specs


def _make_tensor(
    name: str, np_shape: tuple[int, ...], index: int, seed: int, emit_token: int | None
) -> np.ndarray[Any, Any]:
    """Deterministic per-tensor values (seeded by index, so order of generation is free)."""
    if name.endswith("norm.weight"):
        if name == "output_norm.weight" and emit_token is not None:
            return np.zeros(np_shape, dtype=np.float32)
        return np.ones(np_shape, dtype=np.float32)
    if name.endswith("norm.bias"):
        bias = np.zeros(np_shape, dtype=np.float32)
        if name == "output_norm.bias" and emit_token is not None:
            bias[0] = EMIT_LOGIT
        return bias
    rng = np.random.default_rng([seed, index])
    data = rng.standard_normal(np_shape, dtype=np.float32)
    data *= WEIGHT_STD
    if name in ("token_embd.weight", "output.weight") and emit_token is not None:
        data[:, 0] = 0.0
        data[emit_token, 0] = 1.0
    return data


def _add_kv(writer: GGUFWriter, key: str, value: Any) -> None:
    """Type a plain Python value for GGUF; pass ``(value, GGUFValueType)`` to force a type."""
    if isinstance(value, tuple):
        writer.add_key_value(key, value[0], value[1])
    elif isinstance(value, bool):
        writer.add_bool(key, value)
    elif isinstance(value, int):
        (writer.add_uint32 if value >= 0 else writer.add_int32)(key, value)
    elif isinstance(value, float):
        writer.add_float32(key, value)
    elif isinstance(value, str):
        writer.add_string(key, value)
    elif isinstance(value, list):
        writer.add_array(key, value)
    else:
        raise TypeError(f"unsupported GGUF value for {key!r}: {type(value).__name__}")


def write_starcoder2(
    path: Path,
    *,
    vocab: Vocab | None = None,
    n_embd: int = 64,
    n_layer: int = 2,
    n_head: int = 4,
    n_head_kv: int = 2,
    n_ff: int = 128,
    n_ctx_train: int = 16384,
    seed: int = 0,
    dtype: str = "f32",
    emit_token: int | None = None,
    name: str = "tiny-starcoder2",
    extra_kv: dict[str, Any] | None = None,
    rope_freq_base: float = ROPE_FREQ_BASE_3B,
    tie_embeddings: bool = True,
    progress: Callable[[int, int, str], None] | None = None,
) -> Path:
    """Write a random-weight StarCoder2 GGUF and return ``path``.

    ``dtype`` ("f32" or "f16") applies to the 2-D matrices; norms and biases stay f32 as
    the HF converter writes them. ``tie_embeddings=False`` adds ``output.weight`` (as in
    StarCoder2-15B). ``progress(i, n, name)`` is called before each tensor.
    """
    if dtype not in ("f32", "f16"):
        raise ValueError(f"dtype must be 'f32' or 'f16', not {dtype!r}")
    if n_embd % n_head:
        raise ValueError("n_embd must be a multiple of n_head")
    vocab = vocab if vocab is not None else synthetic_vocab()
    n_vocab = len(vocab.tokens)
    if emit_token is not None and not 0 <= emit_token < n_vocab:
        raise ValueError(f"emit_token {emit_token} outside vocab of {n_vocab}")
    shape = Shape(n_embd, n_layer, n_head, n_head_kv, n_ff)
    specs = _tensor_specs(shape, n_vocab, tie_embeddings)
    matrix_dtype = np.float16 if dtype == "f16" else np.float32

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = GGUFWriter(path, "starcoder2")
    writer.add_name(name)
    writer.add_context_length(n_ctx_train)
    writer.add_embedding_length(n_embd)
    writer.add_block_count(n_layer)
    writer.add_feed_forward_length(n_ff)
    writer.add_head_count(n_head)
    writer.add_head_count_kv(n_head_kv)
    writer.add_rope_freq_base(rope_freq_base)
    writer.add_layer_norm_eps(1e-5)
    writer.add_file_type(LlamaFileType.MOSTLY_F16 if dtype == "f16" else LlamaFileType.ALL_F32)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre(vocab.pre)
    writer.add_token_list(vocab.tokens)
    writer.add_token_types(vocab.token_types)
    writer.add_token_merges(vocab.merges)
    writer.add_bos_token_id(0)
    writer.add_eos_token_id(0)
    writer.add_unk_token_id(0)
    for key, value in (extra_kv or {}).items():
        _add_kv(writer, key, value)

    def out_dtype(np_shape: tuple[int, ...]) -> type[np.floating[Any]]:
        return matrix_dtype if len(np_shape) == 2 else np.float32

    for tname, np_shape in specs:
        dt = np.dtype(out_dtype(np_shape))
        writer.add_tensor_info(tname, np_shape, dt, int(np.prod(np_shape)) * dt.itemsize)

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    for i, tensor in enumerate(_iter_tensors(specs, seed, emit_token, out_dtype)):
        if progress is not None:
            progress(i, len(specs), specs[i][0])
        writer.write_tensor_data(tensor)
    writer.close()
    return path


def _iter_tensors(
    specs: list[tuple[str, tuple[int, ...]]],
    seed: int,
    emit_token: int | None,
    out_dtype: Callable[[tuple[int, ...]], type[np.floating[Any]]],
) -> Iterator[np.ndarray[Any, Any]]:
    for i, (tname, np_shape) in enumerate(specs):
        data = _make_tensor(tname, np_shape, i, seed, emit_token)
        yield data.astype(out_dtype(np_shape), copy=False)


if __name__ == "__main__":
    out = write_starcoder2(Path(sys.argv[1] if len(sys.argv) > 1 else "tiny-starcoder2.gguf"))
    print(out)
