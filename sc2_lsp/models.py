"""Model files: which ones we offer, where they live, how they are fetched and resolved.

Owns ``KNOWN_MODELS`` (what ``sc2-lsp model pull 3b|7b|15b`` downloads), the on-disk layout
``model_dir()/OWNER/REPO/FILE.gguf``, ``pull`` / ``list_models`` / ``remove`` for the CLI, and
``resolve``, which turns a ``--model`` value (or none) into a local file without downloading.
File inspection and validation live in ``sc2_lsp.gguf_info`` and are re-exported here.

Default files: ``QuantFactory/starcoder2-{3b,7b,15b}-GGUF``, ``starcoder2-{N}b.Q4_K_M.gguf``
(1.89 / 4.46 / 9.86 GB). One uploader and one naming scheme for all three sizes, uploaded in
September 2024, long after llama.cpp PR #6920 (2024-04) made the converter write
``tokenizer.ggml.pre = starcoder``; the March-2024 b2308 builds (second-state's) lack it. The
files were not opened here (no network); ``pull`` validates and reports warnings anyway.
Q4_K_M is the usual size/quality point for CPU inference. Any other file works as
``OWNER/REPO:FILE.gguf``, e.g. ``mradermacher/starcoder2-3b-GGUF:starcoder2-3b.Q4_K_M.gguf``.

Downloads resume across runs (``sc2_lsp.hub_download``); ``resolve`` never downloads.
"""

from __future__ import annotations

import errno
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs
from huggingface_hub import constants
from huggingface_hub.errors import (
    GatedRepoError,
    HfHubHTTPError,
    HFValidationError,
    OfflineModeIsEnabled,
    RemoteEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from huggingface_hub.utils import validate_repo_id  # type: ignore[attr-defined]

from sc2_lsp.gguf_info import GgufInfo, ModelError, check_usable, inspect_gguf, validate
from sc2_lsp.hub_download import download, partial_files
from sc2_lsp.vocabulary import pull_vocabulary, vocab_path

__all__ = [
    "DEFAULT_MODEL",
    "KNOWN_MODELS",
    "GgufInfo",
    "LocalModel",
    "ModelError",
    "ModelSource",
    "inspect_gguf",
    "list_models",
    "local_path",
    "model_dir",
    "parse_spec",
    "pull",
    "remove",
    "resolve",
    "validate",
]

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelSource:
    """One file in one Hugging Face model repository."""

    repo_id: str
    filename: str

    @property
    def spec(self) -> str:
        return f"{self.repo_id}:{self.filename}"


KNOWN_MODELS: dict[str, ModelSource] = {
    "3b": ModelSource("QuantFactory/starcoder2-3b-GGUF", "starcoder2-3b.Q4_K_M.gguf"),
    "7b": ModelSource("QuantFactory/starcoder2-7b-GGUF", "starcoder2-7b.Q4_K_M.gguf"),
    "15b": ModelSource("QuantFactory/starcoder2-15b-GGUF", "starcoder2-15b.Q4_K_M.gguf"),
}
DEFAULT_MODEL = "3b"
_APPROX_SIZE = {"3b": "1.9 GB", "7b": "4.5 GB", "15b": "9.9 GB"}
_NO_MODEL_HINT = "or pass --model PATH to a GGUF file you already have"


@dataclass(frozen=True)
class LocalModel:
    """A downloaded ``.gguf`` under ``model_dir()``; ``error`` is set when it is unusable."""

    path: Path
    size_bytes: int
    spec: str  # "OWNER/REPO:FILE" (or the path relative to model_dir() for stray files)
    alias: str | None  # "3b" etc. when it is a KNOWN_MODELS file
    info: GgufInfo | None
    error: str | None

    @property
    def summary(self) -> str:
        if self.info is None:
            return f"unusable: {self.error}"
        info = self.info
        parts = [info.architecture, info.quantization, f"FIM: {info.fim_family or 'none'}"]
        if info.n_ctx_train:
            parts.append(f"trained ctx {info.n_ctx_train}")
        if self.error:
            parts.append(f"unusable: {self.error}")
        elif info.warnings:
            parts.append(f"{len(info.warnings)} warning(s)")
        return ", ".join(p for p in parts if p)


def model_dir() -> Path:
    """Where pulled models live: ``$SC2_LSP_MODEL_DIR`` or the per-user cache dir."""
    override = os.environ.get("SC2_LSP_MODEL_DIR", "").strip()
    if override:
        return Path(override).expanduser()
    return platformdirs.user_cache_path("sc2-lsp", appauthor=False) / "models"


def parse_spec(spec: str) -> ModelSource:
    """``"3b"`` / ``"starcoder2-7b"`` / ``"OWNER/REPO:FILE.gguf"`` -> ``ModelSource``."""
    text = spec.strip()
    known = KNOWN_MODELS.get(text.lower().removeprefix("starcoder2-"))
    if known is not None:
        return known
    names = ", ".join(KNOWN_MODELS)
    repo_id, sep, filename = text.partition(":")
    if not sep:
        raise ModelError(
            f"unknown model {spec!r}: use one of {names}, OWNER/REPO:FILE.gguf, "
            "or --model PATH to a .gguf file."
        )
    try:
        validate_repo_id(repo_id)
    except HFValidationError:
        repo_id = ""
    if "/" not in repo_id:
        raise ModelError(
            f"{spec!r}: the part before ':' must be a Hugging Face repo id OWNER/NAME."
        )
    parts = filename.split("/")
    if (
        not filename.lower().endswith(".gguf")
        or "\\" in filename
        or any(part in ("", ".", "..") for part in parts)
    ):
        raise ModelError(f"{spec!r}: the part after ':' must be a .gguf file name in that repo.")
    return ModelSource(repo_id, filename)


def local_path(source: ModelSource) -> Path:
    """Where ``source`` is (or would be) stored."""
    return model_dir() / source.repo_id / source.filename


def _lock_path(dest: Path) -> Path:
    """Lock files live apart (like huggingface_hub's .locks) so they never clutter listings."""
    root = model_dir()
    rel = dest.relative_to(root) if dest.is_relative_to(root) else Path(dest.name)
    return root / ".locks" / rel.with_name(rel.name + ".lock")


def _pull_command(spec: str) -> str:
    return f"sc2-lsp model pull {spec}" if spec != DEFAULT_MODEL else "sc2-lsp model pull"


def _env_true(name: str) -> bool:
    return os.environ.get(name, "").strip().upper() in constants.ENV_VARS_TRUE_VALUES


def pull(
    spec: str = DEFAULT_MODEL, *, progress: bool = True, force: bool = False, vocab: bool = False
) -> Path:
    """Download ``spec`` into ``model_dir()`` (resuming a partial download), validate, return it.

    An already-downloaded file is validated and returned without touching the network unless
    ``force``. ``vocab``: only its vocabulary (``sc2_lsp.vocabulary``), for a remote engine.
    Every failure is a ``ModelError`` whose message says what to do next.
    """
    source = parse_spec(spec)
    dest = vocab_path(local_path(source)) if vocab else local_path(source)
    if dest.is_file() and not force:
        _log.info("%s is already downloaded: %s", source.spec, dest)
        try:
            return (inspect_gguf if vocab else validate)(dest).path
        except ModelError as exc:
            raise ModelError(
                f"{exc} Remove it with `sc2-lsp model rm {spec}` and pull again."
            ) from exc
    if _env_true("HF_HUB_OFFLINE") or constants.is_offline_mode():
        raise ModelError(
            f"cannot download {source.spec}: HF_HUB_OFFLINE is set. Unset it and run "
            f"`{_pull_command(spec)}`, {_NO_MODEL_HINT}."
        )
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ModelError(
            f"cannot create the model directory {dest.parent}: {exc.strerror or exc}. "
            f"Set SC2_LSP_MODEL_DIR to a writable directory, {_NO_MODEL_HINT}."
        ) from exc
    if force:
        dest.unlink(missing_ok=True)
    endpoint = os.environ.get("HF_ENDPOINT", "").strip().rstrip("/") or None
    try:
        if vocab:
            return inspect_gguf(
                pull_vocabulary(source.repo_id, source.filename, dest, endpoint)
            ).path
        download(source.repo_id, source.filename, dest, _lock_path(dest), endpoint, progress)
    except ModelError:
        raise
    except Exception as exc:
        raise ModelError(
            _download_error(exc, spec, source, endpoint or constants.ENDPOINT)
        ) from exc
    try:
        return validate(dest).path
    except ModelError as exc:
        dest.unlink(missing_ok=True)
        raise ModelError(
            f"downloaded {source.spec}, but it is not a usable model and was deleted: {exc}"
        ) from exc


def _download_error(exc: Exception, spec: str, source: ModelSource, host: str) -> str:
    again = f"run `{_pull_command(spec)}` again to resume, {_NO_MODEL_HINT}"
    if isinstance(exc, OfflineModeIsEnabled):
        return (
            f"cannot download {source.spec}: offline mode is on (HF_HUB_OFFLINE); {_NO_MODEL_HINT}."
        )
    if isinstance(exc, GatedRepoError):
        return (
            f"{source.repo_id} is gated: accept its terms on the Hugging Face website and log in "
            f"(`hf auth login` or HF_TOKEN), {_NO_MODEL_HINT}."
        )
    if isinstance(exc, RepositoryNotFoundError):
        return (
            f"repository {source.repo_id} was not found on {host} (or is private); check "
            f"the name, {_NO_MODEL_HINT}."
        )
    if isinstance(exc, (RemoteEntryNotFoundError, RevisionNotFoundError)):
        return (
            f"{source.filename} was not found in {source.repo_id} on {host}; check the file "
            f"name in the repo's file list, {_NO_MODEL_HINT}."
        )
    if isinstance(exc, HfHubHTTPError):
        status = exc.response.status_code if exc.response is not None else "an error"
        return f"{host} answered HTTP {status} while downloading {source.filename}; {again}."
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", -1)):
        return (
            f"the disk filled up while downloading {source.filename}. Free some space (or set "
            f"SC2_LSP_MODEL_DIR to another disk) and {again}."
        )
    if isinstance(exc, OSError) and exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return (
            f"cannot write to {model_dir()}: {exc.strerror}. Set SC2_LSP_MODEL_DIR to a "
            f"writable directory, {_NO_MODEL_HINT}."
        )
    if isinstance(exc, OSError) and exc.filename is None:
        return f"the download of {source.filename} was cut short ({exc}); {again}."
    return (
        f"could not download {source.spec} from {host} ({type(exc).__name__}: {exc}). "
        f"Check the network connection, proxy and HF_ENDPOINT, then {again}."
    )


def _local_ggufs() -> list[Path]:
    root = model_dir()
    if not root.is_dir():
        return []
    return sorted(
        p
        for p in root.rglob("*")
        if p.suffix.lower() == ".gguf"
        and p.is_file()
        and not any(part.startswith(".") for part in p.relative_to(root).parts)
    )


def _describe(path: Path) -> tuple[str, str | None]:
    rel = path.relative_to(model_dir())
    if len(rel.parts) < 3:
        return rel.as_posix(), None
    source = ModelSource("/".join(rel.parts[:2]), "/".join(rel.parts[2:]))
    return source.spec, _alias(source)


def _alias(source: ModelSource) -> str | None:
    return next((name for name, known in KNOWN_MODELS.items() if known == source), None)


def list_models() -> list[LocalModel]:
    """Every ``.gguf`` under ``model_dir()`` with its size and validation result."""
    out: list[LocalModel] = []
    for path in _local_ggufs():
        spec, alias = _describe(path)
        info: GgufInfo | None = None
        error: str | None = None
        try:
            info = inspect_gguf(path)
            check_usable(info)
        except ModelError as exc:
            error = str(exc)
        out.append(LocalModel(path, path.stat().st_size, spec, alias, info, error))
    return out


def remove(spec_or_path: str) -> list[Path]:
    """Delete a downloaded model (and any partial download of it); returns what was deleted."""
    root = model_dir()
    try:
        dest = local_path(parse_spec(spec_or_path))
    except ModelError:
        candidate = Path(spec_or_path.strip()).expanduser()
        if not candidate.exists():
            raise
        real, real_root = candidate.resolve(), root.resolve()
        if not real.is_relative_to(real_root) or real == real_root:
            raise ModelError(
                f"{candidate} is not a file inside the model directory {root}; sc2-lsp only "
                "deletes models it downloaded."
            ) from None
        if not real.is_file():
            raise ModelError(
                f"{candidate} is a directory; name a model file or spec instead."
            ) from None
        dest = real
    removed: list[Path] = []
    try:
        for path in [dest, *partial_files(dest)]:
            if path.is_file():
                path.unlink()
                removed.append(path)
    except OSError as exc:
        raise ModelError(f"cannot delete {exc.filename}: {exc.strerror or exc}") from exc
    if not removed:
        raise ModelError(
            f"{spec_or_path} is not downloaded (nothing under {root}); "
            "`sc2-lsp model list` shows what is."
        )
    parent = dest.parent
    while parent != root and parent.is_relative_to(root):
        try:
            parent.rmdir()
        except OSError:
            break
        parent = parent.parent
    return removed


def resolve(spec: str | None) -> Path:
    """Turn a ``--model`` value into a local GGUF path; never downloads.

    ``None``/empty: the default model if downloaded, else the first downloaded known model,
    else the only downloaded file. A path to an existing file is returned as is (not
    validated: call ``validate``). A known name or ``OWNER/REPO:FILE`` maps to its download.
    """
    if spec is None or not spec.strip():
        return _implicit_model()
    text = spec.strip()
    path = Path(text).expanduser()
    if path.is_file():
        return path.resolve()
    try:
        source = parse_spec(text)
    except ModelError:
        if path.is_dir():
            raise ModelError(f"{path} is a directory; pass --model PATH to a .gguf file.") from None
        if any(c in text for c in "/\\~") or text.lower().endswith(".gguf"):
            raise ModelError(
                f"model file not found: {path}. Pass --model PATH to an existing .gguf file, "
                "or a model name such as 3b."
            ) from None
        raise
    dest = local_path(source)
    for found in (dest, vocab_path(dest)):  # a remote engine needs only the vocabulary
        if found.is_file():
            return found
    alias = _alias(source)
    size = f" ({_APPROX_SIZE[alias]})" if alias in _APPROX_SIZE else ""
    if partial_files(dest):
        raise ModelError(
            f"the download of {text} is incomplete; run `{_pull_command(text)}` to resume it, "
            f"{_NO_MODEL_HINT}."
        )
    raise ModelError(
        f"model {text} is not downloaded; run `{_pull_command(text)}`{size}, {_NO_MODEL_HINT}."
    )


def _implicit_model() -> Path:
    for name in (DEFAULT_MODEL, *KNOWN_MODELS):
        dest = local_path(KNOWN_MODELS[name])
        for path in (dest, vocab_path(dest)):
            if path.is_file():
                return path
    found = _local_ggufs()
    if len(found) == 1:
        return found[0]
    if found:
        names = ", ".join(_describe(p)[0] for p in found)
        raise ModelError(f"several models are downloaded ({names}); choose one with --model.")
    raise ModelError(
        "no model found: run `sc2-lsp model pull` to download StarCoder2-3B "
        f"({_APPROX_SIZE[DEFAULT_MODEL]}), {_NO_MODEL_HINT}."
    )
