"""Tests for sc2_lsp.models and sc2_lsp.gguf_info: specs, GGUF inspection, resolve, pull."""

from __future__ import annotations

import shutil
import struct
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import SimpleNamespace

import huggingface_hub.constants
import numpy as np
import pytest
from gguf import GGUFReader, GGUFWriter

from sc2_lsp.models import (
    DEFAULT_MODEL,
    KNOWN_MODELS,
    ModelError,
    ModelSource,
    inspect_gguf,
    list_models,
    local_path,
    model_dir,
    parse_spec,
    pull,
    remove,
    resolve,
    validate,
)
from tests.fakehub import FakeHub, refused_url, silent_server
from tests.gguf_factory import STARCODER2_SPECIALS, STARCODER2_VOCAB, bytes_to_unicode

BYTE_SYMBOLS = list(bytes_to_unicode().values())
BYTE_SET = frozenset(BYTE_SYMBOLS)
SC2_TOKENS = [*STARCODER2_SPECIALS, *BYTE_SYMBOLS]
SC2_FIM = {
    "<fim_prefix>": 1,
    "<fim_middle>": 2,
    "<fim_suffix>": 3,
    "<fim_pad>": 4,
    "<repo_name>": 5,
    "<file_sep>": 6,
}


def write_gguf(
    path: Path,
    *,
    arch: str = "starcoder2",
    tokens: Sequence[str] | None = SC2_TOKENS,
    pre: str | None = "starcoder",
    tokenizer_model: str = "gpt2",
    tensors: bool = True,
    tensor_rows: int = 64,
) -> Path:
    """Small model-shaped GGUF: StarCoder2 specials + byte symbols, a few merges, 2 tensors."""
    writer = GGUFWriter(path, arch)
    writer.add_name(f"test-{arch}")
    writer.add_context_length(16384)
    writer.add_embedding_length(16)
    writer.add_block_count(2)
    writer.add_file_type(0)
    if tokens is not None:
        writer.add_tokenizer_model(tokenizer_model)
        if pre is not None:
            writer.add_tokenizer_pre(pre)
        writer.add_token_list(list(tokens))
        writer.add_token_types([1 if t in BYTE_SET else 3 for t in tokens])
        writer.add_token_merges(["Ġ Ġ", "d e", "de f"])
        writer.add_bos_token_id(0)
        writer.add_eos_token_id(0)
    if tensors:
        rng = np.random.default_rng(0)
        writer.add_tensor("token_embd.weight", rng.random((tensor_rows, 16), dtype=np.float32))
        writer.add_tensor("output_norm.weight", np.ones(16, dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


@pytest.fixture
def mdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty SC2_LSP_MODEL_DIR; hub env cleared."""
    root = tmp_path / "models"
    monkeypatch.setenv("SC2_LSP_MODEL_DIR", str(root))
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_ENDPOINT", "HF_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    return root


@pytest.fixture
def good_gguf(tmp_path: Path) -> Path:
    return write_gguf(tmp_path / "good.gguf")


@pytest.fixture
def hub(mdir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHub]:
    # Small chunks so a connection cut mid-file leaves whole chunks on disk to resume from.
    monkeypatch.setattr(huggingface_hub.constants, "DOWNLOAD_CHUNK_SIZE", 1024)
    with FakeHub() as fake:
        monkeypatch.setenv("HF_ENDPOINT", fake.url)
        yield fake


def place(source: ModelSource, data: bytes) -> Path:
    dest = local_path(source)
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(data)
    return dest


# --- specs and directories ---------------------------------------------------------------


def test_known_models_table() -> None:
    assert DEFAULT_MODEL == "3b"
    assert set(KNOWN_MODELS) == {"3b", "7b", "15b"}
    for name, source in KNOWN_MODELS.items():
        assert source.repo_id.count("/") == 1
        assert source.filename == f"starcoder2-{name}.Q4_K_M.gguf"


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("3b", KNOWN_MODELS["3b"]),
        (" 7B ", KNOWN_MODELS["7b"]),
        ("starcoder2-15b", KNOWN_MODELS["15b"]),
        ("me/repo:model.gguf", ModelSource("me/repo", "model.gguf")),
        (
            "me/my.repo-GGUF:sub/dir/M.Q8_0.GGUF",
            ModelSource("me/my.repo-GGUF", "sub/dir/M.Q8_0.GGUF"),
        ),
    ],
)
def test_parse_spec(spec: str, expected: ModelSource) -> None:
    assert parse_spec(spec) == expected


@pytest.mark.parametrize(
    "spec",
    [
        "",
        "4b",
        "me/repo",
        "repo:model.gguf",
        "me/repo:model.bin",
        "me/repo:",
        "me/repo:../escape.gguf",
        "me/repo:/abs.gguf",
        "me/repo:a\\b.gguf",
        "bad repo/x:model.gguf",
    ],
)
def test_parse_spec_rejects_junk(spec: str) -> None:
    with pytest.raises(ModelError):
        parse_spec(spec)


def test_model_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SC2_LSP_MODEL_DIR", str(tmp_path / "x"))
    assert model_dir() == tmp_path / "x"
    monkeypatch.delenv("SC2_LSP_MODEL_DIR")
    assert model_dir().name == "models"
    assert "sc2-lsp" in model_dir().parts
    assert local_path(KNOWN_MODELS["3b"]).relative_to(model_dir()).parts[-1].endswith(".gguf")


# --- inspect_gguf / validate ---------------------------------------------------------------


def test_inspect_good_file(good_gguf: Path) -> None:
    info = validate(good_gguf)
    assert info.architecture == "starcoder2"
    assert info.name == "test-starcoder2"
    assert (info.n_ctx_train, info.n_layer, info.n_embd) == (16384, 2, 16)
    assert (info.tokenizer_model, info.tokenizer_pre) == ("gpt2", "starcoder")
    assert info.n_vocab == len(SC2_TOKENS)
    assert info.fim_ids == SC2_FIM
    assert info.fim_family == "starcoder"
    assert info.special_ids == {"bos": 0, "eos": 0}
    assert info.quantization == "F32"
    assert info.n_tensors == 2
    assert info.size_bytes == good_gguf.stat().st_size
    assert info.warnings == ()


def test_inspect_agrees_with_gguf_reader(good_gguf: Path) -> None:
    reader = GGUFReader(good_gguf)
    info = inspect_gguf(good_gguf)
    assert info.architecture == reader.fields["general.architecture"].contents()
    assert info.n_vocab == len(reader.fields["tokenizer.ggml.tokens"].data)
    assert info.n_tensors == len(reader.tensors)


def test_inspect_real_vocab_is_fast() -> None:
    start = time.perf_counter()
    info = inspect_gguf(STARCODER2_VOCAB)
    elapsed = time.perf_counter() - start
    assert elapsed < 0.5, elapsed
    assert info.n_vocab == 49152
    assert info.fim_ids == SC2_FIM
    assert info.warnings == ()
    with pytest.raises(ModelError, match="vocabulary-only"):
        validate(STARCODER2_VOCAB)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="not found") as err:
        inspect_gguf(tmp_path / "nope.gguf")
    assert "--model" in str(err.value)


@pytest.mark.parametrize(
    ("content", "hint"),
    [
        (b"", "empty"),
        (b"hello world, not a model", "not b'GGUF'"),
        (b"version https://git-lfs.github.com/spec/v1\noid sha256:abc\n", "LFS pointer"),
        (b"<!DOCTYPE html><html>Not Found</html>", "HTML"),
        (struct.pack("<Q", 20) + b'{"a": {"dtype": 1}}', "safetensors"),
    ],
)
def test_not_a_gguf(tmp_path: Path, content: bytes, hint: str) -> None:
    path = tmp_path / "x.gguf"
    path.write_bytes(content)
    with pytest.raises(ModelError, match="not a GGUF") as err:
        inspect_gguf(path)
    assert hint in str(err.value)


@pytest.mark.parametrize("keep", [10, 30, 200, 0.5, 0.97, -1])
def test_truncated_file(good_gguf: Path, tmp_path: Path, keep: float) -> None:
    data = good_gguf.read_bytes()
    n = int(len(data) * keep) if isinstance(keep, float) else keep % len(data)
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(data[:n])
    with pytest.raises(ModelError, match="truncated"):
        inspect_gguf(cut)


def test_no_architecture(tmp_path: Path) -> None:
    key, value = b"general.name", b"x"
    raw = struct.pack("<IIQQ", 0x46554747, 3, 0, 1)
    raw += struct.pack("<Q", len(key)) + key + struct.pack("<I", 8)
    raw += struct.pack("<Q", len(value)) + value
    path = tmp_path / "noarch.gguf"
    path.write_bytes(raw)
    with pytest.raises(ModelError, match=r"general\.architecture"):
        inspect_gguf(path)


def test_wrong_architecture_files(tmp_path: Path) -> None:
    vocab_only = write_gguf(tmp_path / "vocab.gguf", tensors=False)
    assert inspect_gguf(vocab_only).n_tensors == 0
    with pytest.raises(ModelError, match="vocabulary-only"):
        validate(vocab_only)
    no_tokenizer = write_gguf(tmp_path / "notok.gguf", arch="llama", tokens=None)
    with pytest.raises(ModelError, match="no tokenizer"):
        validate(no_tokenizer)
    encoder = write_gguf(tmp_path / "clip.gguf", arch="clip")
    with pytest.raises(ModelError, match="cannot generate"):
        validate(encoder)


def test_missing_pre_tokenizer_warns(tmp_path: Path) -> None:
    info = validate(write_gguf(tmp_path / "old.gguf", pre=None))
    assert info.tokenizer_pre is None
    (warning,) = info.warnings
    assert "tokenizer.ggml.pre" in warning
    assert "gguf-new-metadata --pre-tokenizer starcoder" in warning


def test_starcoder2_with_foreign_vocab_warns(tmp_path: Path) -> None:
    sc1_order = ["<|endoftext|>", "<fim_prefix>", "<fim_middle>", "<fim_suffix>", "<fim_pad>"]
    tokens = [*sc1_order, "<filename>", "<gh_stars>", *BYTE_SYMBOLS]
    info = validate(write_gguf(tmp_path / "sc1.gguf", tokens=tokens))
    assert info.fim_family == "starcoder"
    assert any("ids 1-6" in w for w in info.warnings)


def test_wrong_pre_on_starcoder2_vocab_warns(tmp_path: Path) -> None:
    info = validate(write_gguf(tmp_path / "pre.gguf", pre="default"))
    assert any("'default'" in w and "starcoder" in w for w in info.warnings)


OTHER_FAMILIES = {
    # family: (arch, tokenizer model, pre, leading special tokens)
    "qwen": (
        "qwen2",
        "gpt2",
        "qwen2",
        ["<|endoftext|>", "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>"],
    ),
    "codegemma": (
        "gemma",
        "llama",
        None,
        ["<pad>", "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>", "<|file_separator|>"],
    ),
    "codellama": ("llama", "llama", None, ["<unk>", "▁<PRE>", "▁<SUF>", "▁<MID>", "▁<EOT>"]),
    "deepseek": (
        "llama",
        "gpt2",
        "deepseek-coder",
        ["<｜begin▁of▁sentence｜>", "<｜fim▁hole｜>", "<｜fim▁begin｜>", "<｜fim▁end｜>"],
    ),
}


@pytest.mark.parametrize("family", OTHER_FAMILIES)
def test_other_fim_families(tmp_path: Path, family: str) -> None:
    arch, tokenizer_model, pre, specials = OTHER_FAMILIES[family]
    path = write_gguf(
        tmp_path / "m.gguf",
        arch=arch,
        tokens=[*specials, *BYTE_SYMBOLS],
        tokenizer_model=tokenizer_model,
        pre=pre,
    )
    info = validate(path)
    assert info.fim_family == ("qwen" if family == "codegemma" else family)
    assert set(info.fim_ids) == set(specials[1:])
    assert info.warnings == ()


def test_no_fim_tokens_is_prefix_only(tmp_path: Path) -> None:
    info = validate(
        write_gguf(tmp_path / "plain.gguf", arch="gpt2", tokens=BYTE_SYMBOLS, pre="gpt-2")
    )
    assert info.fim_ids == {}
    assert info.fim_family is None
    assert any("before the cursor" in w for w in info.warnings)


# --- resolve -------------------------------------------------------------------------------


def test_resolve_paths(
    mdir: Path, good_gguf: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert resolve(str(good_gguf)) == good_gguf.resolve()
    with pytest.raises(ModelError, match="directory"):
        resolve(str(tmp_path))
    (tmp_path / "7b").mkdir()
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ModelError, match="model pull 7b"):
        resolve("7b")  # a known name wins over a same-named directory
    with pytest.raises(ModelError, match="not found"):
        resolve(str(tmp_path / "missing.gguf"))
    with pytest.raises(ModelError, match="unknown model"):
        resolve("4b")


def test_resolve_names_never_download(mdir: Path, good_gguf: Path) -> None:
    with pytest.raises(ModelError) as err:
        resolve("7b")
    assert "sc2-lsp model pull 7b" in str(err.value)
    assert "--model" in str(err.value)
    spec = "me/repo:m.gguf"
    with pytest.raises(ModelError, match=f"sc2-lsp model pull {spec}"):
        resolve(spec)
    dest = place(parse_spec(spec), good_gguf.read_bytes())
    assert resolve(spec) == dest
    partial = local_path(KNOWN_MODELS["7b"]).with_name("starcoder2-7b.Q4_K_M.gguf.abc.part")
    partial.parent.mkdir(parents=True)
    partial.write_bytes(b"GGUF")
    with pytest.raises(ModelError, match="incomplete"):
        resolve("7b")


def test_resolve_default(mdir: Path, good_gguf: Path) -> None:
    with pytest.raises(ModelError, match="no model found") as err:
        resolve(None)
    assert "sc2-lsp model pull" in str(err.value)
    assert "--model PATH" in str(err.value)
    other = place(ModelSource("me/one", "a.gguf"), good_gguf.read_bytes())
    assert resolve(None) == other  # the only downloaded file
    place(ModelSource("me/two", "b.gguf"), good_gguf.read_bytes())
    with pytest.raises(ModelError, match="several"):
        resolve("")
    seven = place(KNOWN_MODELS["7b"], good_gguf.read_bytes())
    assert resolve(None) == seven
    three = place(KNOWN_MODELS["3b"], good_gguf.read_bytes())
    assert resolve(None) == three
    assert resolve("3b") == three


# --- list / remove -------------------------------------------------------------------------


def test_list_and_remove(mdir: Path, good_gguf: Path, tmp_path: Path) -> None:
    assert list_models() == []
    three = place(KNOWN_MODELS["3b"], good_gguf.read_bytes())
    junk = place(ModelSource("me/repo", "junk.gguf"), b"<html>oops</html>")
    partial = three.with_name(three.name + ".0123.part")
    partial.write_bytes(b"GG")
    by_spec = {m.spec: m for m in list_models()}
    assert set(by_spec) == {KNOWN_MODELS["3b"].spec, "me/repo:junk.gguf"}
    ok, bad = by_spec[KNOWN_MODELS["3b"].spec], by_spec["me/repo:junk.gguf"]
    assert (ok.alias, ok.path, ok.size_bytes, ok.error) == ("3b", three, three.stat().st_size, None)
    assert ok.info is not None and "starcoder2" in ok.summary and "FIM: starcoder" in ok.summary
    assert bad.alias is None and bad.info is None and bad.error and "not a GGUF" in bad.error
    assert bad.summary.startswith("unusable")

    assert remove("3b") == [three, partial]
    assert not three.parent.exists()  # empty repo folders are pruned
    with pytest.raises(ModelError, match="not downloaded"):
        remove("3b")
    assert remove(str(junk)) == [junk]
    assert list_models() == []

    outside = tmp_path / "keep.gguf"
    outside.write_bytes(b"x")
    with pytest.raises(ModelError, match="only deletes"):
        remove(str(outside))
    assert outside.exists()
    with pytest.raises(ModelError):
        remove("nonsense")


# --- pull against a local fake hub ---------------------------------------------------------


SPEC = "me/sc2-GGUF:tiny.Q4_K_M.gguf"


@pytest.fixture
def payload(tmp_path: Path) -> bytes:
    return write_gguf(tmp_path / "payload.gguf", tensor_rows=512).read_bytes()


def test_pull_downloads_with_progress(
    hub: FakeHub, payload: bytes, capsys: pytest.CaptureFixture[str]
) -> None:
    hub.add("me/sc2-GGUF", "tiny.Q4_K_M.gguf", payload)
    path = pull(SPEC)
    assert path == local_path(parse_spec(SPEC))
    assert path.read_bytes() == payload
    out, err = capsys.readouterr()
    assert out == ""  # stdout is the LSP channel
    assert "tiny.Q4_K_M.gguf" in err and "100%" in err
    assert [p.name for p in path.parent.iterdir()] == [path.name]
    n_requests = len(hub.requests)
    assert pull(SPEC, progress=False) == path  # already there: no network
    assert len(hub.requests) == n_requests


def test_pull_without_progress_is_quiet(
    hub: FakeHub, payload: bytes, capsys: pytest.CaptureFixture[str]
) -> None:
    hub.add("me/sc2-GGUF", "tiny.Q4_K_M.gguf", payload)
    pull(SPEC, progress=False)
    assert capsys.readouterr() == ("", "")


def test_pull_resumes_after_dropped_connection(hub: FakeHub, payload: bytes) -> None:
    hub.add("me/sc2-GGUF", "tiny.Q4_K_M.gguf", payload)
    hub.drop_gets, hub.drop_after, hub.fail_gets = 1, len(payload) // 2 + 100, 1
    with pytest.raises(ModelError, match="again to resume"):
        pull(SPEC, progress=False)
    dest = local_path(parse_spec(SPEC))
    assert not dest.exists()
    (partial,) = dest.parent.glob("*.part")
    kept = partial.stat().st_size
    assert 0 < kept <= len(payload) // 2 + 100
    first_attempt = len(hub.gets())
    assert first_attempt == 2  # the cut GET, then huggingface_hub's own resume got a 503

    assert pull(SPEC, progress=False) == dest
    resumed = hub.gets()[first_attempt]
    assert resumed.range_start == kept > 0
    assert dest.read_bytes() == payload
    assert not partial.exists()


def test_pull_discards_partial_of_an_older_upload(hub: FakeHub, payload: bytes) -> None:
    hub.add("me/sc2-GGUF", "tiny.Q4_K_M.gguf", payload)
    dest = local_path(parse_spec(SPEC))
    dest.parent.mkdir(parents=True)
    stale = dest.with_name(dest.name + ".feedfeedfeedfeed.part")
    stale.write_bytes(b"old bytes")
    assert pull(SPEC, progress=False).read_bytes() == payload
    assert not stale.exists()
    assert hub.gets()[0].range_start is None


def test_pull_rejects_non_gguf(hub: FakeHub) -> None:
    hub.add("me/sc2-GGUF", "tiny.Q4_K_M.gguf", b"<html>rate limited</html>" * 100)
    with pytest.raises(ModelError, match="not a GGUF"):
        pull(SPEC, progress=False)
    leftovers = [p for p in model_dir().rglob("*") if p.is_file() and not p.name.endswith(".lock")]
    assert leftovers == []


def test_pull_missing_file_and_repo(hub: FakeHub, payload: bytes) -> None:
    hub.add("me/sc2-GGUF", "other.gguf", payload)
    with pytest.raises(ModelError, match="was not found in me/sc2-GGUF"):
        pull(SPEC, progress=False)
    with pytest.raises(ModelError, match="repository nobody/none was not found"):
        pull("nobody/none:x.gguf", progress=False)


def test_pull_offline(mdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_ENDPOINT", refused_url())
    start = time.monotonic()
    with pytest.raises(ModelError, match="HF_HUB_OFFLINE") as err:
        pull()
    assert time.monotonic() - start < 1
    assert "--model" in str(err.value)


def test_pull_dead_endpoint_fails_fast(mdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_ENDPOINT", refused_url())
    start = time.monotonic()
    with pytest.raises(ModelError, match="could not download") as err:
        pull("7b", progress=False)
    assert time.monotonic() - start < 5
    assert "--model" in str(err.value)


def test_pull_silent_endpoint_times_out(mdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_ETAG_TIMEOUT", "1")
    with silent_server() as sock:
        host, port = sock.getsockname()
        monkeypatch.setenv("HF_ENDPOINT", f"http://{host}:{port}")
        start = time.monotonic()
        with pytest.raises(ModelError, match="could not download"):
            pull("3b", progress=False)
        assert time.monotonic() - start < 4


def test_pull_checks_disk_space(
    hub: FakeHub, payload: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    hub.add("me/sc2-GGUF", "tiny.Q4_K_M.gguf", payload)

    def tiny_disk(path: object) -> SimpleNamespace:
        return SimpleNamespace(total=10**9, used=10**9 - 100, free=100)

    monkeypatch.setattr(shutil, "disk_usage", tiny_disk)
    with pytest.raises(ModelError, match="not enough disk space"):
        pull(SPEC, progress=False)
    assert hub.gets() == []


def test_pull_unwritable_model_dir(
    mdir: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    blocker = tmp_path / "file"
    blocker.write_bytes(b"")
    monkeypatch.setenv("SC2_LSP_MODEL_DIR", str(blocker / "models"))
    with pytest.raises(ModelError, match="SC2_LSP_MODEL_DIR"):
        pull(SPEC, progress=False)
