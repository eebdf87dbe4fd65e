"""`sc2-lsp doctor`: what this machine, llama.cpp build and model can do, as lines of a report.

Everything that runs the model goes through a `SupervisedEngine`, so a model that crashes
llama.cpp is reported ("crashes: SIGSEGV …") instead of ending the doctor. When a fallback
applies (a known fault avoided, remembered, or safe mode), the speed is measured with it and,
in a second engine process, without it, so the report says what the fallback costs. A remote
engine (`engine.kind` other than `local`) is checked step by step instead: reachable,
authorised, the tokenizer it serves, the round trip, and tokens/s through the real engine.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from sc2_lsp import __version__, models
from sc2_lsp.config import ModelSettings, Settings, load_options
from sc2_lsp.engine import CancelToken, Engine, EngineError, GenerationParams, LoadOptions, Safety
from sc2_lsp.engine.faults import AMX_QUANT_TYPES, amx_available
from sc2_lsp.engine.memory import FallbackMemory, fingerprint
from sc2_lsp.engine.supervisor import EngineEvent, SupervisedEngine

PROBE_TEXT = (
    "def fibonacci(n):\n    if n < 2:\n        return n\n"
    "    return fibonacci(n - 1) + fibonacci(n - 2)\n"
) * 8


@dataclass(frozen=True, slots=True)
class Speed:
    prompt_tokens: int
    prompt_rate: float
    generated_tokens: int
    generate_rate: float
    seconds: float

    def describe(self) -> str:
        return (
            f"prompt {self.prompt_rate:.1f} tok/s ({self.prompt_tokens} tokens), "
            f"generation {self.generate_rate:.1f} tok/s ({self.generated_tokens} tokens), "
            f"{self.seconds:.2f}s total"
        )


def speed_probe(engine: Engine, prompt_tokens: int = 256, max_tokens: int = 32) -> Speed:
    """Evaluate a prompt from scratch and generate after it; raises EngineError if it cannot."""
    tokenizer = engine.tokenizer
    if tokenizer is None or not engine.ready:
        raise EngineError("the model is not loaded")
    prompt = tokenizer.tokenize(PROBE_TEXT)[:prompt_tokens]
    params = GenerationParams(max_tokens=max_tokens, temperature=0.0)
    started = time.monotonic()
    generation = engine.generate(prompt, params, CancelToken()).result()
    if generation.stop_reason == "unavailable":
        raise EngineError("the model process ended during the probe")
    elapsed = time.monotonic() - started
    generated = max(len(generation.tokens) - 1, 1)
    return Speed(
        len(prompt),
        len(prompt) / max(generation.prompt_seconds, 1e-9),
        len(generation.tokens),
        generated / max(generation.generate_seconds, 1e-9),
        elapsed,
    )


def report(model: ModelSettings, probe: bool = True) -> Iterator[str | int]:
    """Lines to print; a final int is the exit status when something is wrong."""
    from sc2_lsp.engine import llama

    system_info = llama.system_info()
    yield f"sc2-lsp {__version__}, llama-cpp-python {llama.llama_cpp_version()}"
    yield f"llama.cpp system info: {system_info}"
    offload = llama.gpu_offload_supported()
    yield f"GPU offload: {'available' if offload else 'not in this build'}"
    if not offload:
        yield (
            '  for a GPU build: CMAKE_ARGS="-DGGML_CUDA=on" (NVIDIA) or "-DGGML_METAL=on" (Apple) '
            "pip install --force-reinstall --no-cache-dir llama-cpp-python"
        )
    try:
        path = models.resolve(model.path)
        info = models.validate(path)
    except models.ModelError as error:
        yield f"model: {error}"
        yield 1
        return
    yield (
        f"model: {path} ({info.size_bytes / 1e9:.2f} GB, {info.architecture}, "
        f"{info.quantization or 'unknown quantization'}, "
        f"pre-tokenizer {info.tokenizer_pre or 'missing'})"
    )
    yield f"FIM tokens: {json.dumps(info.fim_ids, ensure_ascii=False)}"
    for warning in info.warnings:
        yield f"warning: {warning}"
    yield from _amx_lines(system_info, info.weight_types)
    if probe:
        yield from _probe_lines(load_options(model, path))


def _amx_lines(system_info: str, weight_types: frozenset[str]) -> Iterator[str]:
    if not amx_available(system_info):
        yield "AMX: not on this CPU (llama.cpp issue 20824 cannot happen here)"
        return
    affected = sorted(AMX_QUANT_TYPES & weight_types)
    if affected:
        yield (
            f"AMX: on this CPU, and the weights have {', '.join(affected)}, which llama.cpp's "
            "AMX kernels crash on (issue 20824): AMX is refused to llama.cpp in the engine process"
        )
    else:
        yield "AMX: on this CPU; the weights have no type llama.cpp's AMX kernels are known to crash on"


def _probe_lines(options: LoadOptions) -> Iterator[str]:
    events: list[EngineEvent] = []
    engine = SupervisedEngine(on_event=events.append)
    try:
        loaded = engine.load(options).result()
        yield (
            f"loaded in {loaded.load_seconds:.2f}s in process {engine.health.pid}; template "
            f"{loaded.template.name}; GPU layers {loaded.n_gpu_layers}; n_ctx {loaded.n_ctx}; "
            f"weights in {', '.join(loaded.weight_buffers) or 'unknown'} buffers"
        )
        speed = speed_probe(engine)
    except EngineError as error:
        yield from (f"engine: {event.message}" for event in events)
        yield f"speed: not measured: {error}"
        return
    finally:
        engine.close()
    yield from (f"engine: {event.message}" for event in events)
    yield f"speed: {speed.describe()}"
    fallback = engine.health.fallback
    safety = loaded.safety
    if safety == Safety() and fallback is None:
        yield "fallback: none"
        return
    why = fallback.reason if fallback else "safe mode"
    yield f"fallback: {safety.describe()} ({why})"
    yield f"  without it: {_unprotected(options)}; forget it with `sc2-lsp doctor --forget-fallback`"


def _unprotected(options: LoadOptions) -> str:
    """The speed with no fallback at all, in a throwaway engine process (it may well crash)."""
    plain = replace(options, safety=Safety(), fallbacks=False)  # nothing is remembered either
    engine = SupervisedEngine(crash_limit=1)
    try:
        engine.load(plain).result()
        return speed_probe(engine).describe()
    except EngineError:
        return f"crashes ({engine.health.last_cause or 'no cause given'})"
    finally:
        engine.close()


def forget_fallback(model: ModelSettings) -> str:
    """Drop the remembered fallback of this machine, llama.cpp build and model."""
    from sc2_lsp.engine import llama

    path = models.resolve(model.path)
    key = fingerprint(path, llama.llama_cpp_version(), llama.system_info())
    memory = FallbackMemory()
    if memory.recall(key) is None:
        return f"no fallback is remembered for {path.name} here"
    memory.forget(key)
    return f"forgot the fallback for {path.name}; the next start tries without it"


def remote_report(settings: Settings, probe: bool = True) -> Iterator[str | int]:
    """The remote engine's checks, one line each; a final 1 when one fails."""
    from sc2_lsp.engine.vocab import Tokenizer

    engine = settings.engine
    yield f"sc2-lsp {__version__}, engine {engine.kind} at {engine.url}"
    try:
        path = models.resolve(settings.model.path)
        tokenizer = Tokenizer.load(path)
        template = tokenizer.template(settings.model.template)
    except (models.ModelError, EngineError) as error:
        yield f"vocabulary (model.path): {error}"
        yield 1
        return
    yield f"vocabulary (model.path): {path}, template {template.name}"
    lines: list[str] = []
    passed = asyncio.run(_remote_checks(settings, tokenizer, template, lines))
    yield from lines
    if not passed:
        yield 1
    elif probe:
        yield from _remote_speed(settings, path)


async def _remote_checks(
    settings: Settings, tokenizer: Any, template: Any, lines: list[str]
) -> bool:
    from sc2_lsp.engine.backends import affinity_id
    from sc2_lsp.engine.remote.dialect import check_tokenizer, describe
    from sc2_lsp.engine.remote.http import RemoteError, connection, get_json

    try:
        client = connection(settings.engine, affinity_id(())).client()
    except RemoteError as error:
        lines.append(f"settings: {error}")
        return False
    async with client:
        trips: list[float] = []
        for _ in range(5):
            started = time.perf_counter()
            try:
                await get_json(client, "/health")
            except RemoteError as error:
                lines.append(f"reachable: no: {error}")
                return False
            trips.append((time.perf_counter() - started) * 1000)
        lines.append(
            f"reachable: yes; round trip {statistics.median(trips):.1f} ms (median of 5 GET /health)"
        )
        try:
            server = await describe(client, settings.engine.model)
        except RemoteError as error:
            lines.append(f"{'authorised: no' if error.kind == 'auth' else 'serving'}: {error}")
            return False
        key = (
            f"the key in ${settings.engine.api_key_env}"
            if settings.engine.api_key_env
            else "no key"
        )
        lines.append(f"authorised: yes ({key})")
        lines.append(
            f"serves: {server.model!r} on {server.flavour}, context {server.n_ctx or 'not said'}"
        )
        try:
            warning = await check_tokenizer(client, server, tokenizer, template)
        except RemoteError as error:
            lines.append(f"tokenizer: {error}")
            return False
        lines.append(f"tokenizer: {warning or 'the same as the local vocabulary'}")
    return True


def _remote_speed(settings: Settings, path: Path) -> Iterator[str]:
    from sc2_lsp.engine.backends import Hooks, make_engine

    events: list[EngineEvent] = []
    engine = make_engine(replace(settings.engine, fallback="none"), Hooks(on_event=events.append))
    try:
        engine.load(load_options(settings.model, path)).result()
        speed = speed_probe(engine)
    except EngineError as error:
        yield f"speed: not measured: {error}"
        return
    finally:
        engine.close()
    yield f"speed (network included): {speed.describe()}"
