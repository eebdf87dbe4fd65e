"""Settings: the typed, fully defaulted tree, and how raw client JSON becomes it.

Sources, lowest precedence first: field defaults, command-line flags, the client's
`initializationOptions`, then `workspace/configuration` section "sc2" (re-pulled, or pushed
with `workspace/didChangeConfiguration`). Keys are camelCase on the wire and snake_case here.
An invalid value never sinks the rest: that one field keeps its previous value and the
problem is reported as a readable string, which the server shows to the user.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar
from urllib.parse import urlsplit

from sc2_lsp.context.settings import RepoContextSettings
from sc2_lsp.engine import SAFEST, LoadOptions

SECTION = "sc2"


def _range(low: float, high: float) -> dict[str, tuple[float, float]]:
    return {"range": (low, high)}


def _url(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "expected an http:// or https:// URL"  # not echoed: it may hold a password
    if parts.username or parts.password:
        return (
            "credentials never go in settings: put the API key in an environment variable and "
            "name that variable in engine.apiKeyEnv"
        )
    return None


def _headers(value: object) -> str | None:
    names = {str(name).lower() for name in value} if isinstance(value, dict) else set()
    if names & {"authorization", "x-api-key", "proxy-authorization"}:
        return (
            "credentials never go in settings: put the API key in an environment variable and "
            "name that variable in engine.apiKeyEnv"
        )
    return None


@dataclass(frozen=True)
class ModelSettings:
    """Which GGUF to run and how llama.cpp runs it."""

    path: str | None = None
    """A GGUF path or a `model pull` name (`3b`, `7b`, `15b`, `REPO:FILE`); `null` = the
    downloaded default."""
    n_ctx: int = field(default=4096, metadata=_range(256, 131072))
    """Context length (StarCoder2's trained attention window is 4k; llama.cpp applies no sliding
    window)."""
    n_threads: int = field(default=0, metadata=_range(0, 1024))
    """CPU threads; 0 = the number of physical cores."""
    n_gpu_layers: int = field(default=-1, metadata=_range(-1, 1000))
    """Layers offloaded to the GPU; -1 = all when this llama.cpp build has a GPU backend, else 0."""
    template: str = "auto"
    """FIM template: `auto` (detected from the vocabulary), `starcoder2`, `starcoder`,
    `qwen2.5-coder`, `codegemma`, `codellama`, `deepseek-coder` or `prefix-only`."""
    safe_mode: Literal["auto", "on", "off"] = "auto"
    """Known llama.cpp faults: "auto" avoids them (AMX on affected weights, a GPU that fails)
    and remembers what worked; "on" always runs plain CPU kernels (no AMX, no weight repacking,
    no GPU); "off" never changes what was asked."""
    watchdog_seconds: float = field(default=30.0, metadata=_range(0, 3600))
    """Restart the model process when llama.cpp shows no progress for this long; 0 = never."""
    idle_unload_minutes: float = field(default=0.0, metadata=_range(0, 100000))
    """Free the model's RAM and VRAM (the engine process ends) after this long without typing;
    the next edit, opened file or window focus loads it again and evaluates the prompt at the
    last cursor before the first keystroke. 0 = never."""


EngineKind = Literal["local", "openai", "llama-server"]


@dataclass(frozen=True)
class EngineSettings:
    """Where the model runs: here (`local`), or on a shared server the team runs."""

    kind: EngineKind = "local"
    """`local` (the model in a process of sc2-lsp's own), `openai` (`/v1/completions` of vLLM,
    SGLang or llama-server) or `llama-server` (its native `/completion`). Remote engines still
    need `model.path`: a GGUF of the served model (its vocabulary is enough) to build prompts."""
    url: str | None = field(default=None, metadata={"check": _url})
    """The server's base URL, e.g. `http://gpu-box:8000` (without `/v1`)."""
    model: str | None = None
    """The served model name; `null` = the first one the server lists."""
    api_key_env: str | None = None
    """The name of the environment variable that holds the API key (sent as
    `Authorization: Bearer`); the key itself never goes in settings or logs."""
    headers: dict[str, str] = field(default_factory=dict, metadata={"check": _headers})
    """Extra HTTP headers sent with every request (credentials excepted)."""
    affinity_header: str = "X-Session-ID"
    """Header carrying a stable per-user, per-workspace id, so a session-affine router keeps
    each developer on the replica that holds their prefix cache; "" = none."""
    connect_timeout_ms: int = field(default=3000, metadata=_range(100, 120000))
    """Give up connecting after this long."""
    read_timeout_ms: int = field(default=30000, metadata=_range(100, 600000))
    """Give up on a request when the server sends nothing for this long."""
    tls_verify: bool = True
    """Verify the server's TLS certificate (https URLs)."""
    ca_bundle: str | None = None
    """A PEM file of CA certificates to verify the server with (a private CA); `null` = the
    system's. Proxies come from the standard environment variables (`HTTPS_PROXY`,
    `NO_PROXY`, …) and are used for this URL only."""
    slot: int = field(default=-1, metadata=_range(-1, 1024))
    """llama-server: the slot to generate in (`id_slot`); -1 = the one whose cache fits best."""
    prefetch: bool = False
    """Allow `completion.prefetch` on a remote engine (off: it spends shared GPU time)."""
    fallback: Literal["none", "local"] = "none"
    """`local`: while the server cannot be used, generate with `model.path` here (it must then
    be a full model, not a vocabulary)."""


@dataclass(frozen=True)
class CompletionSettings:
    """When to complete and how much to generate."""

    enable: bool = True
    """Switch completions off."""
    disabled_languages: tuple[str, ...] = ()
    """LSP language ids that never get completions."""
    disabled_globs: tuple[str, ...] = ()
    """Files that never get completions and never appear in another file's context
    (gitignore-style patterns, matched against workspace-relative paths), on top of `.gitignore`,
    `.aiignore`, `.aiexclude`, `.cursorignore` and `.codeiumignore`."""
    suggestions: int = field(default=3, metadata=_range(1, 8))
    """Alternatives offered per answer, to cycle through (1 = only the best). Until the engine
    computes alternatives itself they are the suggestion, its first line, and other
    suggestions already computed for the same state."""
    multiline: Literal["auto", "never", "always"] = "auto"
    """`auto` (tree-sitter decides), `never` or `always`."""
    max_tokens: int = field(default=128, metadata=_range(1, 4096))
    """Token cap for a multi-line (block) suggestion."""
    max_tokens_line: int = field(default=48, metadata=_range(1, 1024))
    """Token cap for a single-line suggestion."""
    max_lines: int = field(default=16, metadata=_range(1, 500))
    """Line cap for a multi-line suggestion."""
    max_line_suffix: int = field(default=8, metadata=_range(0, 10000))
    """No completion when more than this many characters follow the cursor on its line."""
    temperature: float = field(default=0.0, metadata=_range(0.0, 2.0))
    """0 = greedy."""
    top_k: int = field(default=40, metadata=_range(0, 1000))
    """Top-k sampling when temperature > 0."""
    top_p: float = field(default=0.95, metadata=_range(0.0, 1.0))
    """Top-p sampling when temperature > 0."""
    debounce_ms: int = field(default=30, metadata=_range(0, 5000))
    """Wait this long for more keystrokes before starting a generation."""
    adaptive_debounce: bool = True
    """Stretch the debounce towards the user's typing rhythm (at most 250 ms)."""
    max_prompt_ms: int = field(default=2000, metadata=_range(0, 600000))
    """Prompt evaluation budget: when the measured speed says a prompt would take longer (a
    jump to another place on a slow machine), drop repository context, then shrink the window,
    so a suggestion still comes in seconds, not minutes. 0 = no limit."""
    max_predict_ms: int = field(default=3000, metadata=_range(50, 120000))
    """Time budget for generation; once spent, stop at the next line end."""
    cache: bool = True
    """Answer from suggestions already computed when the user types through one."""
    prefetch: bool = True
    """While idle, compute the suggestion that follows accepting the current one."""


@dataclass(frozen=True)
class PromptSettings:
    """How the fill-in-the-middle prompt is framed and sized (in tokens)."""

    max_prompt_tokens: int = field(default=3072, metadata=_range(64, 131072))
    """Whole prompt budget; capped at `model.nCtx` minus the generation cap."""
    prefix_tokens: int = field(default=1024, metadata=_range(16, 131072))
    """Tokens of the file before the cursor."""
    suffix_tokens: int = field(default=256, metadata=_range(0, 131072))
    """Tokens of the file after the cursor."""
    include_path: bool = True
    """Put the file's workspace-relative path inside the FIM prefix, as StarCoder2 was trained."""
    repo_name: bool = True
    """Start the prompt with `<repo_name>` and the workspace folder name when context is added."""
    fim_order: Literal["psm", "spm"] = "psm"
    """`psm` (trained) or `spm` (experimental: typing then only appends to the prompt)."""
    reuse_chunks: bool = True
    """Keep the KV cache of unchanged chunks after a deletion or a dropped snippet, shifted."""
    suffix_layout: Literal["split", "inline"] = "split"
    """`split`: in PSM, the FIM suffix holds only the rest of the cursor's line (and of its
    block, as far as `nearSuffixMs` allows) and the rest of the suffix is shown before the file
    as a snippet of it, so a keystroke re-evaluates a few tokens instead of the whole suffix;
    `inline`: the whole suffix after `<fim_suffix>`."""
    near_suffix_ms: int = field(default=100, metadata=_range(0, 10000))
    """With `split`: following lines of the cursor's block join the FIM suffix while the
    measured prompt speed evaluates them in this time; 0 = the rest of the cursor's line only.
    Decided when the file window is placed, and kept while it is."""
    token_healing: bool = True
    """When the cursor is inside a word, operator or run of spaces, end the prompt before the
    last one or two tokens of it and make the model spell them again (`gre|` → `greet(`).
    Local engine only: remote servers cannot constrain the first tokens that way."""


@dataclass(frozen=True)
class StatsSettings:
    """Private acceptance statistics (`sc2-lsp stats`)."""

    enable: bool = True
    """Count suggestions shown and accepted, per language and model, in a local file under the
    state directory (never sent anywhere, never any code); `sc2-lsp stats --reset` clears it."""


@dataclass(frozen=True)
class Settings:
    """Everything the server can be told."""

    model: ModelSettings = field(default_factory=ModelSettings)
    engine: EngineSettings = field(default_factory=EngineSettings)
    completion: CompletionSettings = field(default_factory=CompletionSettings)
    prompt: PromptSettings = field(default_factory=PromptSettings)
    repository: RepoContextSettings = field(default_factory=RepoContextSettings)
    stats: StatsSettings = field(default_factory=StatsSettings)
    log_level: Literal["error", "warning", "info", "debug"] = "info"
    """`error`, `warning`, `info` or `debug`."""
    log_document_text: bool = False
    """Allow document text in logs (off: logs never contain code)."""

    @property
    def prefetch(self) -> bool:
        """Prefetch is on: asked for, with the cache it fills, and allowed on this engine."""
        completion = self.completion
        allowed = self.engine.kind == "local" or self.engine.prefetch
        return completion.prefetch and completion.cache and allowed

    @property
    def healing(self) -> bool:
        """Token healing is on: asked for, and the engine can mask the first tokens (a remote
        server cannot)."""
        return self.prompt.token_healing and self.engine.kind == "local"

    @property
    def engine_alternatives(self) -> int:
        """Alternatives the engine branches from the prompt of a suggestion it answered: the
        local engine only (a remote server holds no KV sequence to branch)."""
        return self.completion.suggestions - 1 if self.engine.kind == "local" else 0


T = TypeVar("T")


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def merge(base: T, raw: object, where: str = "") -> tuple[T, list[str]]:
    """Overlay the raw JSON object `raw` on the dataclass `base`.

    Returns the new value and one message per rejected entry. Unknown keys are reported too
    (they are usually typos), and the rest of the object still applies.
    """
    if raw is None:
        return base, []
    if not isinstance(raw, dict):
        return base, [f"{where or SECTION}: expected an object, got {_json_type(raw)}"]
    hints = typing.get_type_hints(type(base))
    fields = {f.name: f for f in dataclasses.fields(base)}  # type: ignore[arg-type]
    changes: dict[str, Any] = {}
    errors: list[str] = []
    for key, value in raw.items():
        name = snake(str(key))
        dotted = f"{where}.{key}" if where else str(key)
        if name not in fields:
            errors.append(f"{dotted}: unknown setting")
            continue
        current = getattr(base, name)
        if dataclasses.is_dataclass(current):
            nested, nested_errors = merge(current, value, dotted)
            changes[name] = nested
            errors.extend(nested_errors)
            continue
        converted, problem = _convert(value, hints[name], fields[name])
        check = fields[name].metadata.get("check")
        if not problem and check is not None:
            problem = check(converted)
        if problem:
            errors.append(f"{dotted}: {problem}")
        else:
            changes[name] = converted
    return dataclasses.replace(base, **changes), errors  # type: ignore[type-var]


def resolve(*layers: object, base: Settings | None = None) -> tuple[Settings, list[str]]:
    """Apply raw JSON layers in order of increasing precedence on top of `base`."""
    settings = base or Settings()
    errors: list[str] = []
    for layer in layers:
        settings, layer_errors = merge(settings, layer)
        errors.extend(layer_errors)
    return settings, errors


def to_json(value: object) -> Any:
    """The camelCase JSON form of a settings dataclass (for logs and the README)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {camel(f.name): to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple):
        return list(value)
    return value


def _convert(value: object, hint: Any, spec: dataclasses.Field[Any]) -> tuple[Any, str | None]:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None, None
        inner = next(arg for arg in args if arg is not type(None))
        return _convert(value, inner, spec)
    if origin is Literal:
        if value in args:
            return value, None
        return None, f"expected one of {', '.join(map(repr, args))}, got {value!r}"
    if origin is tuple:
        if isinstance(value, list) and all(isinstance(item, str) for item in value):
            return tuple(value), None
        return None, f"expected a list of strings, got {_json_type(value)}"
    if origin is dict:
        if isinstance(value, dict) and all(isinstance(item, str) for item in value.values()):
            return dict(value), None
        return None, f"expected an object of strings, got {_json_type(value)}"
    if hint is bool:
        if isinstance(value, bool):
            return value, None
        return None, f"expected true or false, got {_json_type(value)}"
    if hint is int or hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None, f"expected a number, got {_json_type(value)}"
        if hint is int and value != int(value):
            return None, f"expected a whole number, got {value!r}"
        number = hint(value)
        low, high = spec.metadata.get("range", (float("-inf"), float("inf")))
        if not low <= number <= high:
            return None, f"{number!r} is out of range [{low:g}, {high:g}]"
        return number, None
    if hint is str:
        if isinstance(value, str):
            return value, None
        return None, f"expected a string, got {_json_type(value)}"
    return None, f"unsupported setting type {hint!r}"


def _json_type(value: object) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return "a number"
    return names.get(type(value), type(value).__name__)


def load_options(model: ModelSettings, path: Path) -> LoadOptions:
    """How the engine should load the model file at `path` under these settings."""
    options = LoadOptions(
        path,
        n_ctx=model.n_ctx,
        n_threads=model.n_threads,
        n_gpu_layers=model.n_gpu_layers,
        template=model.template,
        fallbacks=model.safe_mode == "auto",
        watchdog_s=model.watchdog_seconds,
    )
    return dataclasses.replace(options, safety=SAFEST) if model.safe_mode == "on" else options
