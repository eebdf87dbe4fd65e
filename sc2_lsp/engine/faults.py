"""Known llama.cpp faults: seeing them coming, recognising them after a crash, and the `Safety`
that avoids each. Pure functions over what the server can observe: llama.cpp's system info,
the weights' quant types, the engine's exit status and the last lines it wrote.

- **AMX** (upstream #20824): on CPUs with AMX, llama.cpp puts weights of these quant types in
  AMX buffers and its AMX kernels segfault. Seen coming from the system info (`AMX_INT8 = 1`)
  plus the weights' types; recognised by an AMX buffer or AMX frames next to a crash. Avoided
  by refusing AMX (`engine.amx`), keeping the CPU weight repacking; if that is impossible or
  not enough, by turning extra buffers off altogether.
- **GPU**: an initialisation failure or out-of-memory error. Avoided with half the offloaded
  layers, then none.
"""

from __future__ import annotations

import re
import signal
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from typing import Literal

from sc2_lsp.engine import Safety

AMX_QUANT_TYPES = frozenset({"Q4_0", "Q4_1", "Q8_0", "Q4_K", "Q5_K", "Q6_K", "IQ4_XS"})
"""Weight types llama.cpp's AMX buffer takes (`qtype_has_amx_kernels`), all affected by #20824."""

_AMX_FLAG = re.compile(r"\bAMX_INT8 = 1\b")
_AMX_TRACE = re.compile(r"ggml_backend_amx|ggml-cpu/amx/|\bAMX model buffer\b|tinygemm_kernel_amx")
_GPU_TRACE = re.compile(
    r"CUDA error|cudaMalloc|ggml_cuda|out of memory|ErrorOutOfDeviceMemory|vk::|"
    r"ggml_metal|MTLCommandBuffer|hipMalloc|ROCm error|"
    r"(?:CUDA|ROCm|Metal|Vulkan|SYCL)\d*[ _].*(?:buffer|alloc)",
    re.IGNORECASE,
)
_MEMORY_TRACE = re.compile(r"MemoryError|std::bad_alloc|Cannot allocate memory", re.IGNORECASE)

Phase = Literal["load", "prompt", "generate", "idle"]
Kind = Literal["amx", "gpu", "memory", "hang", "unknown"]

_PHASE_WORDS = {
    "load": "while loading the model",
    "prompt": "while evaluating a prompt",
    "generate": "while generating",
    "idle": "while idle",
}


@dataclass(frozen=True, slots=True)
class Crash:
    """How the engine process ended (or was ended) and what it last wrote."""

    phase: Phase
    exit_code: int | None
    """The process's exit status; negative: the signal that ended it."""
    output: tuple[str, ...] = ()
    hung: bool = False
    """It stopped answering and the watchdog killed it."""
    error: str | None = None
    """An unexpected error it reported before the server ended it (e.g. a MemoryError)."""

    @property
    def signal_name(self) -> str | None:
        if self.exit_code is None or self.exit_code >= 0:
            return None
        try:
            return signal.Signals(-self.exit_code).name
        except ValueError:
            return f"signal {-self.exit_code}"

    def describe(self) -> str:
        """One line for the user: what happened and when."""
        where = _PHASE_WORDS[self.phase]
        if self.hung:
            return f"stopped answering {where}"
        if self.error is not None:
            return f"failed {where} ({self.error})"
        name = self.signal_name
        if name is not None:
            meaning = _SIGNAL_MEANINGS.get(name, "")
            return f"crashed with {name}{f' ({meaning})' if meaning else ''} {where}"
        return f"exited with status {self.exit_code} {where}"


_SIGNAL_MEANINGS = {
    "SIGSEGV": "segmentation fault",
    "SIGABRT": "aborted",
    "SIGBUS": "bus error",
    "SIGILL": "illegal instruction",
    "SIGFPE": "arithmetic error",
    "SIGKILL": "killed, often by the system when memory runs out",
}


@dataclass(frozen=True, slots=True)
class Diagnosis:
    kind: Kind
    explanation: str
    """Plain words for the user, e.g. "llama.cpp's AMX kernels crash on this CPU (#20824)";
    empty when the cause is not a known one."""
    safety: Safety | None
    """What to load with next time; None: no known way around it."""


def amx_available(system_info: str) -> bool:
    return bool(_AMX_FLAG.search(system_info))


def amx_risk(system_info: str, weight_types: Collection[str]) -> bool:
    """This CPU has AMX and the weights include a type llama.cpp would run on it."""
    return amx_available(system_info) and bool(AMX_QUANT_TYPES & set(weight_types))


def avoid_amx(safety: Safety) -> Safety | None:
    """The next step away from the AMX kernels, or None when both steps are taken."""
    if safety.amx and safety.extra_buffers:
        return replace(safety, amx=False)
    if safety.extra_buffers:
        return replace(safety, extra_buffers=False)
    return None


def fewer_gpu_layers(safety: Safety, layers_used: int, n_layer: int | None) -> Safety | None:
    """Half the offloaded layers, then none; None once nothing is offloaded."""
    if layers_used == 0:
        return None
    if layers_used < 0:  # "all": the model's layer count plus the output layer
        layers_used = (n_layer or 32) + 1
    half = layers_used // 2
    return replace(safety, max_gpu_layers=half if half >= 4 else 0)


def diagnose(
    crash: Crash,
    safety: Safety,
    system_info: str,
    weight_buffers: Sequence[str] = (),
    gpu_layers: int = 0,
    n_layer: int | None = None,
) -> Diagnosis:
    """Which known fault this crash is, and the safety to load with instead."""
    output = "\n".join(crash.output)
    if gpu_layers != 0 and _GPU_TRACE.search(output):
        return Diagnosis(
            "gpu",
            "the GPU ran out of memory or failed to initialise",
            fewer_gpu_layers(safety, gpu_layers, n_layer),
        )
    native = crash.signal_name in ("SIGSEGV", "SIGBUS", "SIGILL", "SIGABRT")
    amx_seen = _AMX_TRACE.search(output) is not None or "AMX" in weight_buffers
    # Before the load log is in, an unrefused AMX on an AMX CPU is the prime suspect.
    amx_possible = (
        safety.amx and safety.extra_buffers and amx_available(system_info) and not weight_buffers
    )
    if native and (amx_seen or amx_possible):
        return Diagnosis(
            "amx",
            "llama.cpp's AMX kernels crash on this CPU (llama.cpp issue 20824)",
            avoid_amx(safety),
        )
    if (crash.signal_name == "SIGKILL" and not crash.hung) or _MEMORY_TRACE.search(output):
        return Diagnosis("memory", "it ran out of memory", None)
    if crash.hung:
        return Diagnosis("hang", "llama.cpp stopped making progress", None)
    return Diagnosis("unknown", "", None)


def diagnose_load_error(
    message: str,
    output: Sequence[str],
    safety: Safety,
    gpu_layers: int,
    n_layer: int | None = None,
) -> Diagnosis | None:
    """A load that failed cleanly because of the GPU gets fewer layers; others are final."""
    text = message + "\n" + "\n".join(output)
    if gpu_layers != 0 and _GPU_TRACE.search(text):
        step = fewer_gpu_layers(safety, gpu_layers, n_layer)
        if step is not None:
            return Diagnosis("gpu", "the GPU could not hold the model", step)
    return None
