"""Known-fault decisions from recorded llama.cpp output, the AMX refusal, the fallback memory."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sc2_lsp.engine import SAFEST, Safety, amx
from sc2_lsp.engine.faults import (
    Crash,
    amx_available,
    amx_risk,
    diagnose,
    diagnose_load_error,
)
from sc2_lsp.engine.memory import FallbackMemory, fingerprint

# `llama_print_system_info()` on a Sapphire Rapids Xeon (llama.cpp built with GGML_NATIVE) and
# on this project's AMD EPYC CI machine.
SAPPHIRE_RAPIDS = (
    "CPU : SSE3 = 1 | SSSE3 = 1 | AVX = 1 | AVX_VNNI = 1 | AVX2 = 1 | F16C = 1 | FMA = 1 | "
    "BMI2 = 1 | AVX512 = 1 | AVX512_VBMI = 1 | AVX512_VNNI = 1 | AVX512_BF16 = 1 | "
    "AMX_INT8 = 1 | LLAMAFILE = 1 | OPENMP = 1 | REPACK = 1 | "
)
EPYC = (
    "CPU : SSE3 = 1 | SSSE3 = 1 | AVX = 1 | AVX2 = 1 | F16C = 1 | FMA = 1 | BMI2 = 1 | "
    "LLAMAFILE = 1 | OPENMP = 1 | REPACK = 1 | "
)
Q4_K_M_TYPES = {"F32", "Q4_K", "Q6_K"}

# What the engine process wrote before dying of llama.cpp #20824: the load log's buffer lines,
# then faulthandler's report from inside `llama_decode`.
AMX_CRASH_OUTPUT = (
    "llama.cpp: load_tensors:          AMX model buffer size =  1953.78 MiB",
    "llama.cpp: load_tensors:   CPU_Mapped model buffer size =   120.00 MiB",
    "Fatal Python error: Segmentation fault",
    "",
    "Current thread 0x00007f3c2a9fe740 (most recent call first):",
    '  File ".../llama_cpp/_internals.py", line 329 in decode',
    '  File ".../llama_cpp/llama.py", line 680 in eval',
    '  File ".../sc2_lsp/engine/llama.py", line 373 in generate',
)
CUDA_OOM_OUTPUT = (
    "llama.cpp: ggml_backend_cuda_buffer_type_alloc_buffer: allocating 1872.00 MiB on device 0: "
    "cudaMalloc failed: out of memory",
    "llama.cpp: alloc_tensor_range: failed to allocate CUDA0 buffer of size 1962934272",
)
SEGV, ABRT, KILL = -11, -6, -9


def test_amx_is_seen_coming_from_the_system_info_and_the_weight_types() -> None:
    assert amx_available(SAPPHIRE_RAPIDS) and not amx_available(EPYC)
    assert amx_risk(SAPPHIRE_RAPIDS, Q4_K_M_TYPES)
    assert amx_risk(SAPPHIRE_RAPIDS, {"F32", "Q8_0"})
    assert not amx_risk(SAPPHIRE_RAPIDS, {"F32", "IQ4_NL"})  # no AMX kernel, no crash
    assert not amx_risk(EPYC, Q4_K_M_TYPES)


def test_an_amx_crash_is_avoided_step_by_step() -> None:
    crash = Crash("prompt", SEGV, AMX_CRASH_OUTPUT)
    first = diagnose(crash, Safety(), SAPPHIRE_RAPIDS, ("AMX", "CPU_Mapped"))
    assert first.kind == "amx" and "20824" in first.explanation
    assert first.safety == Safety(amx=False)  # AMX refused, weight repacking kept
    # Still AMX frames with AMX refused (the refusal did not work): no extra buffers at all.
    second = diagnose(crash, Safety(amx=False), SAPPHIRE_RAPIDS, ())
    assert second.safety == Safety(amx=False, extra_buffers=False)
    third = diagnose(crash, Safety(amx=False, extra_buffers=False), SAPPHIRE_RAPIDS, ())
    assert third.safety is None


def test_a_crash_while_loading_on_an_amx_cpu_is_blamed_on_amx() -> None:
    """#20824 also crashes while loading, before the buffer lines are reported."""
    crash = Crash("load", SEGV, ("Fatal Python error: Segmentation fault",))
    assert diagnose(crash, Safety(), SAPPHIRE_RAPIDS).kind == "amx"
    assert diagnose(crash, Safety(), EPYC).kind == "unknown"


def test_a_crash_where_amx_held_no_weights_is_not_amx() -> None:
    crash = Crash("prompt", SEGV, ("Fatal Python error: Segmentation fault",))
    found = diagnose(crash, Safety(), SAPPHIRE_RAPIDS, ("CPU_REPACK", "CPU_Mapped"))
    assert found.kind == "unknown" and found.safety is None and found.explanation == ""


def test_a_gpu_failure_halves_the_offload_then_drops_it() -> None:
    crash = Crash("prompt", ABRT, CUDA_OOM_OUTPUT)
    first = diagnose(crash, Safety(), EPYC, gpu_layers=-1, n_layer=30)
    assert first.kind == "gpu" and first.safety == Safety(max_gpu_layers=15)
    second = diagnose(crash, first.safety, EPYC, gpu_layers=15)
    assert second.safety == Safety(max_gpu_layers=7)
    assert diagnose(crash, second.safety, EPYC, gpu_layers=7).safety == Safety(max_gpu_layers=0)
    assert diagnose(crash, Safety(max_gpu_layers=0), EPYC, gpu_layers=0).kind != "gpu"
    # A GPU build that failed to load cleanly gets the same steps.
    step = diagnose_load_error("llama.cpp could not load m.gguf", CUDA_OOM_OUTPUT, Safety(), 33)
    assert step is not None and step.safety == Safety(max_gpu_layers=16)
    assert diagnose_load_error("not a GGUF file", (), Safety(), 0) is None


def test_memory_kills_and_hangs_are_named() -> None:
    killed = diagnose(Crash("generate", KILL), Safety(), EPYC)
    assert killed.kind == "memory" and killed.safety is None
    oom = diagnose(Crash("generate", None, ("MemoryError",), error="MemoryError"), Safety(), EPYC)
    assert oom.kind == "memory"
    hung = Crash("prompt", KILL, hung=True)
    assert diagnose(hung, Safety(), EPYC).kind == "hang"
    assert hung.describe() == "stopped answering while evaluating a prompt"
    assert Crash("load", SEGV).describe() == (
        "crashed with SIGSEGV (segmentation fault) while loading the model"
    )
    assert Crash("idle", 1).describe() == "exited with status 1 while idle"


def test_safety_in_words() -> None:
    assert Safety().describe() == "none"
    assert Safety(amx=False).describe() == "AMX off"
    assert SAFEST.describe() == "no extra CPU buffers (no AMX, no weight repacking), CPU only"


@pytest.mark.skipif(not amx.supported(), reason="AMX can only be refused on Linux x86-64")
def test_amx_is_refused_to_the_whole_process_and_only_that() -> None:
    code = (
        "import errno, threading, time\n"
        "from sc2_lsp.engine import amx\n"
        "before = amx.request_error()\n"
        "t = threading.Thread(target=time.sleep, args=(0.5,)); t.start()\n"
        "amx.deny()\n"
        "print(before, amx.request_error(), open('/proc/self/status').read().count('Seccomp'))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    before, after, _ = done.stdout.split()
    assert int(before) != errno.EPERM and int(after) == errno.EPERM


def test_fallbacks_are_remembered_per_model_and_build(tmp_path: Path) -> None:
    model = tmp_path / "m.gguf"
    model.write_bytes(b"GGUF")
    memory = FallbackMemory(tmp_path / "state" / "fallbacks.json")
    key = fingerprint(model, "0.3.36", SAPPHIRE_RAPIDS)
    assert memory.recall(key) is None
    memory.remember(key, Safety(amx=False), "AMX crash")
    remembered = FallbackMemory(memory.path).recall(key)
    assert remembered is not None and remembered.safety == Safety(amx=False)
    assert remembered.reason == "AMX crash" and remembered.since <= time.time()
    # Another llama.cpp build, or a replaced model file, gets its chance again.
    assert key != fingerprint(model, "0.3.37", SAPPHIRE_RAPIDS)
    os.utime(model, ns=(0, 10**9))
    assert key != fingerprint(model, "0.3.36", SAPPHIRE_RAPIDS)
    memory.forget(key)
    assert memory.recall(key) is None


def test_a_state_dir_that_cannot_be_written_costs_only_the_memory(tmp_path: Path) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    memory = FallbackMemory(blocked / "fallbacks.json")
    memory.remember("key", Safety(amx=False), "AMX crash")  # logged, not raised
    assert memory.recall("key") is None
    (tmp_path / "garbage.json").write_text("{not json")
    assert FallbackMemory(tmp_path / "garbage.json").recall("key") is None
