"""Injected faults: broken and oversized models, GPU offload that is not there, a cache dir that
is read-only or fills up during `model pull`, a download killed mid-way, a client that vanishes
mid-request, and settings that change while a generation runs.

Already covered elsewhere, not repeated here: missing / not-a-GGUF / wrong-architecture models
over LSP (tests/e2e/test_server.py::test_bad_model_is_reported_and_server_keeps_answering),
their validation and truncation in `sc2-lsp model` (tests/unit/test_models.py), a dropped
connection resumed in-process, the free-space pre-check, an unwritable model dir that cannot
be created, offline mode and dead or silent endpoints (tests/unit/test_models.py::test_pull_*).
"""

from __future__ import annotations

import contextlib
import errno
import os
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO, cast

import huggingface_hub.constants
import huggingface_hub.file_download
import pytest
from gguf import GGUFReader

from sc2_lsp import hub_download
from sc2_lsp.models import ModelError, local_path, parse_spec, pull
from tests.fakehub import FakeHub
from tests.gguf_factory import emit_token_for, synthetic_vocab, write_starcoder2
from tests.reliability.conftest import FAST, ROOT, Figures, LspProcess, rss_kib

SPEC = "me/sc2-GGUF:tiny.Q4_K_M.gguf"


# -- helpers ------------------------------------------------------------------------------------


@contextlib.contextmanager
def tmpfs(path: Path, options: str) -> Iterator[None]:
    """Mount a tmpfs at `path` (needs root with CAP_SYS_ADMIN); skips the test otherwise."""
    path.mkdir(parents=True, exist_ok=True)
    if shutil.which("mount") is None:
        pytest.skip("no mount(8)")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def remount(path: Path, options: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{options}", str(path)], check=True)


def model_error_messages(server: LspProcess) -> list[str]:
    return [
        note["params"]["message"]
        for note in server.notifications
        if note["method"] == "window/showMessage" and note["params"]["type"] == 1
    ]


def warnings_shown(server: LspProcess) -> list[str]:
    return [
        note["params"]["message"]
        for note in server.notifications
        if note["method"] == "window/showMessage" and note["params"]["type"] == 2
    ]


def peak_vm_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmPeak:"):
            return int(line.split()[1])
    raise AssertionError("no VmPeak")


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError):
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
    return found


# -- models ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def wide_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """256-wide, 4 layers, no GQA: at nCtx 131072 its KV cache alone is 2 GiB."""
    vocab = synthetic_vocab()
    return write_starcoder2(
        tmp_path_factory.mktemp("wide") / "wide.gguf",
        vocab=vocab,
        n_embd=256,
        n_layer=4,
        n_head=4,
        n_head_kv=4,
        n_ff=256,
        emit_token=emit_token_for(vocab, "x"),
    )


def check_failed_then_serving(server: LspProcess, tmp_path: Path, name: str) -> dict[str, Any]:
    status = server.wait_model("failed", timeout=120)
    errors = model_error_messages(server)
    assert errors and name in errors[0], errors
    assert status["model"]["error"]
    uri = server.open((tmp_path / "doc.py").as_uri(), "value = \n")
    assert server.inline(uri, 0, 8) == []  # answered, empty, while there is no model
    popup = server.wait(
        server.request(
            "textDocument/completion",
            {"textDocument": {"uri": uri}, "position": {"line": 0, "character": 8}},
        )
    )
    assert popup["result"]["items"] == []
    return status


@pytest.mark.e2e
@pytest.mark.model
@pytest.mark.parametrize("keep", [0.05, 0.6, 0.99])
def test_truncated_model_over_lsp(
    lsp_factory: Callable[..., LspProcess],
    tiny_model_path: Path,
    tmp_path: Path,
    figures: Figures,
    keep: float,
    emit_model_factory: Callable[[str], Path],
) -> None:
    data = tiny_model_path.read_bytes()
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(data[: int(len(data) * keep)])
    server = lsp_factory(model=cut)
    server.initialize(tmp_path, FAST)
    check_failed_then_serving(server, tmp_path, "cut.gguf")
    # The user fixes the setting: the good model loads and the open document completes.
    good = emit_model_factory("x")
    server.notify(
        "workspace/didChangeConfiguration",
        {"settings": {"sc2": {**FAST, "model": {"path": str(good)}}}},
    )
    server.wait_model("ready", timeout=120)
    assert server.inline((tmp_path / "doc.py").as_uri(), 0, 8)[:1] == ["xxxxxx"]
    assert server.shutdown() == 0
    figures.add("faults_injected", f"model truncated to {keep:.0%}")


@pytest.mark.e2e
@pytest.mark.model
def test_header_claiming_huge_tensors(
    lsp_factory: Callable[..., LspProcess], tiny_model_path: Path, tmp_path: Path, figures: Figures
) -> None:
    """A header that says token_embd is 64 × 2^40 values (256 TiB): refused, nothing allocated."""
    liar = tmp_path / "liar.gguf"
    shutil.copy(tiny_model_path, liar)
    reader = GGUFReader(liar, "r+")
    tensor = next(t for t in reader.tensors if t.name == "token_embd.weight")
    dims = tensor.field.parts[3]
    dims[-1] = 2**40
    reader.data.flush()
    del reader
    server = lsp_factory(model=liar)
    server.initialize(tmp_path, FAST)
    check_failed_then_serving(server, tmp_path, "liar.gguf")
    assert rss_kib(server.pid) < 1024 * 1024  # well under 1 GiB: nothing was allocated for it
    assert server.shutdown() == 0
    figures.add("faults_injected", "GGUF header claiming 256 TiB of tensors")


@pytest.mark.e2e
@pytest.mark.model
def test_context_too_large_for_memory(
    lsp_factory: Callable[..., LspProcess], wide_model: Path, tmp_path: Path, figures: Figures
) -> None:
    """nCtx 131072 needs a 2 GiB KV cache; the server may use 512 MiB more than it needs at 4k.

    The address-space limit (RLIMIT_AS) stands in for a machine without that much memory.
    """
    env = {"MALLOC_ARENA_MAX": "2"}
    probe = lsp_factory(model=wide_model, env=env)
    probe.initialize(tmp_path, FAST)
    probe.wait_model()
    probe.assert_completion_works(tmp_path)
    limit = (peak_vm_kib(probe.pid) + 512 * 1024) * 1024
    assert probe.shutdown() == 0

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    server = lsp_factory(model=wide_model, env=env, preexec_fn=cap)
    server.initialize(tmp_path, {**FAST, "model": {"nCtx": 131072}})
    status = check_failed_then_serving(server, tmp_path, "wide.gguf")
    assert "llama.cpp could not load" in status["model"]["error"]
    server.notify(
        "workspace/didChangeConfiguration", {"settings": {"sc2": {**FAST, "model": {"nCtx": 4096}}}}
    )
    server.wait_model("ready", timeout=120)
    assert server.inline((tmp_path / "doc.py").as_uri(), 0, 8)[:1] == ["xxxxxx"]
    assert server.shutdown() == 0
    figures.add(
        "faults_injected", "KV cache larger than the memory available (nCtx 131072 under RLIMIT_AS)"
    )


@pytest.mark.e2e
@pytest.mark.model
def test_gpu_layers_without_a_gpu_backend_warn_and_run_on_cpu(
    lsp_factory: Callable[..., LspProcess],
    emit_model_factory: Callable[[str], Path],
    tmp_path: Path,
    figures: Figures,
) -> None:
    import llama_cpp

    if llama_cpp.llama_supports_gpu_offload():
        pytest.skip("this llama.cpp build has a GPU backend")
    server = lsp_factory(model=emit_model_factory("x"))
    server.initialize(tmp_path, {**FAST, "model": {"nGpuLayers": 99}})
    status = server.wait_model()
    assert status["model"]["nGpuLayers"] == 0
    assert any(
        "nGpuLayers=99" in warning and "CPU" in warning for warning in warnings_shown(server)
    )
    server.assert_completion_works(tmp_path)
    assert server.shutdown() == 0
    figures.add("faults_injected", "nGpuLayers > 0 on a CPU-only build")


# -- model pull -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def payload(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    vocab = synthetic_vocab()
    path = write_starcoder2(tmp_path_factory.mktemp("payload") / "p.gguf", vocab=vocab, n_embd=128)
    return path.read_bytes()


@pytest.fixture
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, payload: bytes) -> Iterator[FakeHub]:
    monkeypatch.setenv("SC2_LSP_MODEL_DIR", str(tmp_path / "models"))
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "DOWNLOAD_CHUNK_SIZE", 1024)
    with FakeHub() as fake:
        fake.add("me/sc2-GGUF", "tiny.Q4_K_M.gguf", payload)
        monkeypatch.setenv("HF_ENDPOINT", fake.url)
        yield fake


class _Trickle:
    """A response stream that sends `size`-byte pieces with a pause between them."""

    def __init__(self, raw: Any, size: int, pause: float) -> None:
        self.raw, self.size, self.pause = raw, size, pause

    def write(self, data: bytes) -> int:
        for start in range(0, len(data), self.size):
            self.raw.write(data[start : start + self.size])
            self.raw.flush()
            time.sleep(self.pause)
        return len(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.raw, name)


def slow_down(hub: FakeHub, size: int = 1024, pause: float = 0.01) -> Callable[[], None]:
    """Make the hub trickle bodies; returns a function that restores full speed."""
    server = hub._server
    base = server.RequestHandlerClass
    on = [True]

    class Slow(base):  # type: ignore[misc, valid-type]
        def setup(self) -> None:
            super().setup()
            if on[0]:
                self.wfile: Any = _Trickle(self.wfile, size, pause)

    server.RequestHandlerClass = Slow

    def restore() -> None:
        on[0] = False

    return restore


def wait_for_partial(dest: Path, at_least: int, timeout: float = 30) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for partial in dest.parent.glob(f"{dest.name}.*.part"):
            if partial.stat().st_size >= at_least:
                return partial
        time.sleep(0.02)
    raise AssertionError(f"no partial download of {dest.name} reached {at_least} bytes")


def test_pull_into_a_read_only_cache_dir(
    hub: FakeHub, tmp_path: Path, figures: Figures, capsys: pytest.CaptureFixture[str]
) -> None:
    models = tmp_path / "models"
    with tmpfs(models, "ro,size=1m"):
        with pytest.raises(ModelError, match=r"SC2_LSP_MODEL_DIR") as error:
            pull(SPEC, progress=False)
        assert "Read-only file system" in str(error.value) or "cannot" in str(error.value)
        assert hub.gets() == []  # refused before downloading anything
        # The command line says it in one line and exits 2, stdout untouched.
        done = subprocess.run(
            [sys.executable, "-m", "sc2_lsp", "model", "pull", SPEC],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            timeout=60,
        )
        assert done.returncode == 2 and done.stdout == ""
        assert done.stderr.count("\n") == 1 and "SC2_LSP_MODEL_DIR" in done.stderr
    figures.add("faults_injected", "model cache dir read-only (ro tmpfs)")


def test_disk_fills_up_during_pull_then_resumes(
    hub: FakeHub, payload: bytes, tmp_path: Path, figures: Figures
) -> None:
    """A real full disk: a small tmpfs that another writer fills while the download runs."""
    models = tmp_path / "models"
    size = len(payload) * 2
    with tmpfs(models, f"size={size}"):
        restore = slow_down(hub)
        dest = local_path(parse_spec(SPEC))
        outcome: list[BaseException | Path] = []
        worker = threading.Thread(target=lambda: outcome.append(_pull_catching()), daemon=True)
        worker.start()
        wait_for_partial(dest, 16 * 1024)
        filler = models / "filler.bin"
        with contextlib.suppress(OSError), filler.open("wb") as handle:
            while True:
                handle.write(b"\0" * 65536)  # until ENOSPC: the disk is now full
        worker.join(60)
        assert not worker.is_alive()
        (error,) = outcome
        assert isinstance(error, ModelError) and "disk filled up" in str(error), error
        (partial,) = dest.parent.glob("*.part")
        kept = partial.stat().st_size
        assert 16 * 1024 <= kept < len(payload)
        # Space comes back: the next pull resumes where the bytes stopped.
        restore()
        filler.unlink()
        assert pull(SPEC, progress=False) == dest
        assert hub.gets()[-1].range_start == kept
        assert dest.read_bytes() == payload
    figures.add("faults_injected", "disk full during model pull (tmpfs filled mid-download)")


def _pull_catching() -> BaseException | Path:
    try:
        return pull(SPEC, progress=False)
    except BaseException as error:
        return error


def test_disk_full_write_error_during_pull_then_resumes(
    hub: FakeHub, payload: bytes, monkeypatch: pytest.MonkeyPatch, figures: Figures
) -> None:
    """The same without root: the partial file's writes fail with ENOSPC after 40 KB."""
    real = huggingface_hub.file_download.http_get  # what hub_download calls
    budget = [40 * 1024]

    class FullDisk:
        def __init__(self, handle: Any) -> None:
            self.handle = handle

        def write(self, data: bytes) -> int:
            if len(data) > budget[0]:
                self.handle.write(data[: budget[0]])
                budget[0] = 0
                raise OSError(errno.ENOSPC, "No space left on device")
            budget[0] -= len(data)
            return int(self.handle.write(data))

        def __getattr__(self, name: str) -> Any:
            return getattr(self.handle, name)

    def full_disk_get(url: str, temp_file: BinaryIO, **kwargs: Any) -> None:
        # A stand-in for the file, duck-typed: its writes fail once the budget is spent.
        real(url, cast(BinaryIO, FullDisk(temp_file)), **kwargs)

    monkeypatch.setattr(hub_download, "http_get", full_disk_get)
    with pytest.raises(ModelError, match="disk filled up") as error:
        pull(SPEC, progress=False)
    assert "again to resume" in str(error.value)
    dest = local_path(parse_spec(SPEC))
    (partial,) = dest.parent.glob("*.part")
    assert partial.stat().st_size == 40 * 1024
    monkeypatch.setattr(hub_download, "http_get", real)
    assert pull(SPEC, progress=False).read_bytes() == payload
    assert hub.gets()[-1].range_start == 40 * 1024
    figures.add("faults_injected", "disk full during model pull (ENOSPC from the write)")


def test_pull_killed_mid_download_resumes_in_a_new_process(
    hub: FakeHub, payload: bytes, tmp_path: Path, figures: Figures
) -> None:
    """SIGKILL mid-download leaves a partial file and a lock; the next run resumes, unblocked."""
    restore = slow_down(hub)
    code = (
        "import sys, huggingface_hub.constants as c; c.DOWNLOAD_CHUNK_SIZE = 1024; "
        "from sc2_lsp.cli import main; sys.exit(main(['model', 'pull', sys.argv[1]]))"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen(
        [sys.executable, "-c", code, SPEC], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        dest = local_path(parse_spec(SPEC))
        partial = wait_for_partial(dest, 32 * 1024)
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    finally:
        if child.poll() is None:
            child.kill()
    kept = partial.stat().st_size
    assert 32 * 1024 <= kept < len(payload) and not dest.exists()
    restore()
    done = subprocess.run(
        [sys.executable, "-m", "sc2_lsp", "model", "pull", SPEC],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(dest)
    assert hub.gets()[-1].range_start == kept  # resumed, not restarted
    assert dest.read_bytes() == payload and not partial.exists()
    figures.add(
        "faults_injected", "model pull killed (SIGKILL) mid-download, resumed by a new process"
    )


# -- the client ---------------------------------------------------------------------------------------


def wait_reloaded(server: LspProcess, seen: int, timeout: float = 60) -> None:
    """Wait for a `sc2/status` push saying "ready" after notification number `seen`."""
    deadline = time.monotonic() + timeout
    while True:
        pushed = [n for n in server.notifications[seen:] if n["method"] == "sc2/status"]
        states = [n["params"]["model"]["state"] for n in pushed]
        if "loading" in states and states[-1] == "ready":
            return
        assert time.monotonic() < deadline, states
        time.sleep(0.05)


def long_generation(server: LspProcess, tmp_path: Path) -> Any:
    uri = server.open((tmp_path / "long.py").as_uri(), "value = \n")
    msg_id = server.inline_id(uri, 0, 8)
    deadline = time.monotonic() + 30
    while not server.status()["generating"]:
        assert time.monotonic() < deadline, "the generation never started"
        time.sleep(0.05)
    time.sleep(0.3)
    return msg_id


SLOW = {
    "completion": {
        "maxTokensLine": 1000,
        "maxPredictMs": 60000,
        "debounceMs": 0,
        "cache": False,
        "prefetch": False,
    }
}


@pytest.mark.e2e
@pytest.mark.model
@pytest.mark.parametrize("how", ["stdin closed", "exit without shutdown"])
def test_client_vanishing_mid_request(
    lsp_factory: Callable[..., LspProcess],
    slow_model_path: Path,
    tmp_path: Path,
    figures: Figures,
    how: str,
) -> None:
    server = lsp_factory(model=slow_model_path)
    server.initialize(tmp_path, SLOW)
    server.wait_model()
    long_generation(server, tmp_path)
    threads = len(os.listdir(f"/proc/{server.pid}/task"))
    engines = children_of(server.pid)
    assert threads >= 2 and len(engines) == 1, engines  # the model runs in one engine process
    started = time.monotonic()
    if how == "stdin closed":
        assert server.process.stdin is not None
        server.process.stdin.close()
    else:
        server.notify("exit")
    code = server.process.wait(10)
    elapsed = time.monotonic() - started
    assert elapsed < 5, f"took {elapsed:.1f}s to exit"
    assert not Path(f"/proc/{server.pid}").exists()  # every thread went with it
    while Path(f"/proc/{engines[0]}").exists():  # and the engine process with the server
        assert time.monotonic() - started < 10, "the engine process outlived the server"
        time.sleep(0.05)
    log = server.tail(10**6)
    # Replies that can no longer be sent after `exit` are logged (a few), with no error storm.
    assert "RecursionError" not in log and log.count("Traceback") <= 10 and len(log) < 100_000
    expected = 1 if how == "exit without shutdown" else 0
    assert code == expected, (code, server.tail())
    figures.record(
        f"client_vanishing_{how.replace(' ', '_')}",
        {"exit_code": code, "exit_seconds": round(elapsed, 2), "threads_before": threads},
    )
    figures.add("faults_injected", f"client vanished mid-request ({how})")


CLIENT = """
import sys, time
from pathlib import Path
from tests.reliability.conftest import LspProcess
from tests.reliability.test_faults import SLOW, long_generation
tmp = Path(sys.argv[2])
server = LspProcess(tmp, model=sys.argv[1])
server.initialize(tmp, SLOW)
server.wait_model()
long_generation(server, tmp)
print(server.pid, flush=True)
time.sleep(600)
"""


@contextlib.contextmanager
def subreaper() -> Iterator[None]:
    """Orphaned descendants are re-parented to this process, so it can reap them (Linux)."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(36, 1, 0, 0, 0) != 0:  # PR_SET_CHILD_SUBREAPER
        pytest.skip("prctl(PR_SET_CHILD_SUBREAPER) is not available")
    try:
        yield
    finally:
        libc.prctl(36, 0, 0, 0, 0)


@pytest.mark.e2e
@pytest.mark.model
def test_client_killed_mid_request(slow_model_path: Path, tmp_path: Path, figures: Figures) -> None:
    """The editor dies (SIGKILL): the server sees EOF on stdin and a broken stdout, and exits."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with subreaper():
        client = subprocess.Popen(
            [sys.executable, "-c", CLIENT, str(slow_model_path), str(tmp_path)],
            stdout=subprocess.PIPE,
            env=env,
            cwd=ROOT,
        )
        try:
            assert client.stdout is not None
            line = client.stdout.readline()
            assert line.strip().isdigit(), "the client never got a generation going"
            server_pid = int(line)
            assert Path(f"/proc/{server_pid}").exists()
            started = time.monotonic()
            client.kill()
            client.wait(10)
            code = None
            while time.monotonic() - started < 10:
                pid, status = os.waitpid(server_pid, os.WNOHANG)
                if pid:
                    code = os.waitstatus_to_exitcode(status)
                    break
                time.sleep(0.05)
            elapsed = time.monotonic() - started
        finally:
            client.kill()
    assert code is not None, "the server outlived its client by 10 s"
    assert elapsed < 5 and code == 0, (elapsed, code)
    assert not Path(f"/proc/{server_pid}").exists()
    figures.record(
        "client_vanishing_client_killed", {"exit_code": code, "exit_seconds": round(elapsed, 2)}
    )
    figures.add("faults_injected", "client vanished mid-request (client killed)")


@pytest.mark.e2e
@pytest.mark.model
def test_settings_change_during_generation_reloads_and_keeps_documents(
    lsp_factory: Callable[..., LspProcess],
    slow_model_path: Path,
    emit_model_factory: Callable[[str], Path],
    tmp_path: Path,
    figures: Figures,
) -> None:
    server = lsp_factory(model=slow_model_path)
    server.initialize(tmp_path, SLOW)
    server.wait_model()
    other = server.open((tmp_path / "other.py").as_uri(), "kept = \n")
    running = long_generation(server, tmp_path)
    started = time.monotonic()
    new: dict[str, dict[str, Any]] = {
        "completion": {**FAST["completion"]},
        "model": {"path": str(emit_model_factory("a"))},
        "prompt": {"tokenHealing": False},  # the prompt must end at the cursor: see below
    }
    seen = len(server.notifications)
    server.notify("workspace/didChangeConfiguration", {"settings": {"sc2": new}})
    # An edit typed while the model reloads must not be lost either.
    server.change(
        other,
        2,
        {
            "range": {"start": {"line": 0, "character": 7}, "end": {"line": 0, "character": 7}},
            "text": "b + ",
        },
    )
    answer = server.wait(running, 10)
    assert time.monotonic() - started < 5, "the old generation held up the reload"
    assert "result" in answer or answer["error"]["code"] == -32800
    wait_reloaded(server, seen)
    assert "emit-" in server.status()["model"]["path"]
    assert server.inline(other, 0, 11) == ["aaaaaa"]  # same document, new model, no re-open
    prompt = server.last_prompt()
    assert prompt is not None and "kept = b + <fim_suffix>" in prompt
    assert server.inline((tmp_path / "long.py").as_uri(), 0, 8) == ["aaaaaa"]  # not a stale 'x'
    # A context-size change reloads the same model; documents survive that too.
    seen = len(server.notifications)
    server.notify(
        "workspace/didChangeConfiguration",
        {"settings": {"sc2": {**new, "model": {**new["model"], "nCtx": 2048}}}},
    )
    wait_reloaded(server, seen)
    assert server.inline(other, 0, 11) == ["aaaaaa"]
    assert server.shutdown() == 0
    figures.add("faults_injected", "settings changed during a generation (model and nCtx reload)")
