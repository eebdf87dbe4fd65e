"""Load: a typing storm with cancellations, and an hour-long editing session replayed fast.

Both run the real server over stdio on the random-weight tiny StarCoder2 model (so outputs
vary and post-processing, the suggestion cache and prefetch all do real work) with default
settings, in a copy of the multi-language fixture projects (so the index and repository
context are live). They assert answered counts and memory ratios, not speed: every request
gets a result or RequestCancelled, RSS after warm-up grows by less than 5 %, and the
session's late completions are not slower than its early ones (no leak or creeping state).
"""

from __future__ import annotations

import random
import shutil
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from sc2_lsp.documents import position_of
from tests.reliability.conftest import CANCELLED, Figures, LspProcess, rss_kib

pytestmark = [pytest.mark.e2e, pytest.mark.model, pytest.mark.slow]

PROJECTS = Path(__file__).resolve().parents[1] / "data" / "projects"
SETTINGS = {"completion": {"maxPredictMs": 3000}}  # defaults otherwise (debounce, cache, prefetch)


class Doc:
    """A document the test edits through incremental didChange, mirroring the server's copy."""

    def __init__(self, server: LspProcess, path: Path, language: str) -> None:
        self.server, self.uri = server, path.as_uri()
        self.path = path
        self.text = path.read_text()
        self.version = 1
        self.offset = len(self.text)
        server.open(self.uri, self.text, language)

    def position(self, offset: int | None = None) -> tuple[int, int]:
        return position_of(self.text, self.offset if offset is None else offset, "utf-16")

    def replace(self, start: int, end: int, new: str) -> None:
        (sl, sc), (el, ec) = self.position(start), self.position(end)
        self.version += 1
        self.server.change(
            self.uri,
            self.version,
            {
                "range": {
                    "start": {"line": sl, "character": sc},
                    "end": {"line": el, "character": ec},
                },
                "text": new,
            },
        )
        self.text = self.text[:start] + new + self.text[end:]
        self.offset = start + len(new)

    def type(self, text: str) -> None:
        self.replace(self.offset, self.offset, text)

    def inline(self, invoked: bool = False) -> int | str:
        line, character = self.position()
        return self.server.inline_id(self.uri, line, character, invoked=invoked)


def settle(server: LspProcess, pending: list[int | str]) -> dict[str, int]:
    """Wait for every pending answer; count results and cancellations (anything else fails)."""
    counts = {"result": 0, "cancelled": 0}
    for msg_id in pending:
        answer = server.wait(msg_id, 60)
        if "result" in answer:
            result = answer["result"]
            assert not isinstance(result, dict) or isinstance(result.get("items", []), list)
            counts["result"] += 1
        else:
            assert answer["error"]["code"] == CANCELLED, answer
            counts["cancelled"] += 1
    pending.clear()
    deadline = time.monotonic() + 30
    while server.status()["generating"]:  # prefetches finish or get cancelled
        assert time.monotonic() < deadline, "the engine never went idle"
        time.sleep(0.05)
    time.sleep(0.3)
    return counts


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "projects"
    shutil.copytree(PROJECTS, root)
    return root


def test_typing_storm_1000_requests_at_20_per_second(
    lsp_factory: Callable[..., LspProcess], tiny_model_path: Path, workspace: Path, figures: Figures
) -> None:
    server = lsp_factory(model=tiny_model_path)
    server.initialize(workspace, SETTINGS)
    server.wait_model()
    source = (workspace / "python" / "src" / "shop" / "cart.py").read_text()
    target = workspace / "python" / "src" / "shop" / "storm.py"
    target.write_text(source * 6)  # longer than the prompt window from the first keystroke
    doc = Doc(server, target, "python")
    rng = random.Random(20)
    pending: list[int | str] = []
    totals = {"result": 0, "cancelled": 0}
    cancels = 0
    # Warm-up: the same storm, uncounted, until llama.cpp's compute buffers have grown to the
    # largest prompt and the caches have filled (RSS steps up over the first ~350 requests).
    total, warmup, interval = 1000, 400, 0.05
    rss_warm = 0
    started = time.monotonic()
    for i in range(warmup + total):
        if i == warmup:
            settle(server, pending)
            rss_warm = rss_kib(server.pid)
            started = time.monotonic() - i * interval
        delay = started + i * interval - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        doc.type(source[i % len(source)])
        pending.append(doc.inline())
        if len(pending) >= 2 and rng.random() < 0.4:
            # As editors do when the next keystroke arrives: cancel the outstanding request.
            server.notify("$/cancelRequest", {"id": pending[-2]})
            cancels += i >= warmup
    storm_seconds = time.monotonic() - started - warmup * interval
    for key, value in settle(server, pending).items():
        totals[key] += value
    rss_end = rss_kib(server.pid)
    assert totals["result"] + totals["cancelled"] == total  # every request answered
    assert not server.duplicates
    # No deadlock, nothing stuck: a completion right after the storm is answered normally.
    answer = server.wait(doc.inline(invoked=True), 60)
    assert "result" in answer
    growth = rss_end / rss_warm
    figures.record(
        "typing_storm",
        {
            "requests": total,
            "warmup_requests_before": warmup,
            "rate_per_second": round(total / storm_seconds, 1),
            "answered_with_result": totals["result"],
            "answered_request_cancelled": totals["cancelled"],
            "cancel_notifications": cancels,
            "unanswered": 0,
            "rss_after_warmup_mib": round(rss_warm / 1024, 1),
            "rss_end_mib": round(rss_end / 1024, 1),
            "rss_growth_percent": round((growth - 1) * 100, 2),
            "server_stats": {
                k: server.status()[k]
                for k in ("requests", "generations", "cancelled", "cacheHits", "prefetchHits")
            },
        },
    )
    assert growth < 1.05, f"RSS grew {growth:.3f}x after warm-up"
    assert server.shutdown() == 0


# -- an hour of editing, compressed ------------------------------------------------------------------

SESSION_SECONDS = 3600
KEY_SECONDS = 0.5  # simulated time per keystroke (120 characters a minute while typing)
KEY_PACING = 0.02  # real seconds between replayed keystrokes
WARM_UP_SECONDS = 900
SESSION = {"completion": {"maxPredictMs": 3000}, "prompt": {"maxPromptTokens": 1024}}
"""A 1k-token prompt budget: the probe's own text fills it, so its prompt is the same all hour."""
PROBE_LINES = 400


def test_hour_long_session_keeps_latency_and_memory_stable(
    lsp_factory: Callable[..., LspProcess],
    emit_model_factory: Callable[[str], Path],
    workspace: Path,
    figures: Figures,
) -> None:
    """An hour of editing in six files and four languages, replayed ~60x faster than real time.

    Simulated time advances by the event (0.5 s a keystroke, 15-75 s of reading when idle);
    real time is only what the server takes to answer. Every 100 simulated seconds an invoked
    completion at the same spot of an unchanging file (cache cleared first) measures latency
    under identical work, so creeping state would show as a slower late hour.
    """
    # The emit model writes the same number of tokens for every prompt, so the probe's cost
    # varies only with the prompt (a random-weight model stops after 1 or 48 tokens at random).
    server = lsp_factory(model=emit_model_factory("x"))
    server.initialize(workspace, SESSION)
    server.wait_model()
    rng = random.Random(3600)
    files = [
        (workspace / "python" / "src" / "shop" / "cart.py", "python"),
        (workspace / "python" / "src" / "shop" / "pricing.py", "python"),
        (workspace / "python" / "app" / "main.py", "python"),
        (workspace / "typescript" / "src" / "lib" / "format.ts", "typescript"),
        (workspace / "go" / "store" / "store.go", "go"),
        (workspace / "rust" / "src" / "model" / "store.rs", "rust"),
    ]
    corpus = [line.strip()[:40] for path, _ in files for line in path.read_text().splitlines()]
    corpus = [line for line in corpus if line]
    docs: dict[Path, Doc] = {}

    def focus(index: int) -> Doc:
        path, language = files[index]
        if path not in docs:
            docs[path] = Doc(server, path, language)
        return docs[path]

    probe_path = workspace / "python" / "app" / "probe.py"
    probe_text = "".join(f"value_{i} = price_{i} * (1 + rate)\n" for i in range(PROBE_LINES))
    probe_text += "total = "
    probe_path.write_text(probe_text)
    server.open(probe_path.as_uri(), probe_text)
    probe_prompts: set[str] = set()  # its text never changes; only context from edits can
    sim = 0.0
    probes: list[tuple[float, float]] = []  # (simulated second, real ms)
    rss: list[tuple[float, int]] = []
    counts = {"keystrokes": 0, "requests": 0, "cancelled": 0, "accepted": 0, "saves": 0}
    counts |= {"switches": 0, "config": 0, "popup": 0, "probes": 0}
    pending: list[int | str] = []
    next_sample = next_probe = 0.0
    order = list(range(len(files)))  # the first quarter hour visits every file once, in turn
    doc = focus(order.pop(0))
    started = time.monotonic()

    def type_a_line() -> None:
        nonlocal sim
        line_end = doc.text.find("\n", rng.randrange(max(1, len(doc.text))))
        doc.offset = len(doc.text) if line_end < 0 else line_end
        doc.type("\n")
        last = None
        for char in rng.choice(corpus):
            doc.type(char)
            last = doc.inline()
            pending.append(last)
            counts["keystrokes"] += 1
            counts["requests"] += 1
            sim += KEY_SECONDS
            time.sleep(KEY_PACING)
        assert last is not None, "a corpus line to type is never empty"
        answer = server.wait(last, 60)
        items = answer.get("result", {}).get("items", [])
        if items and items[0]["insertText"].strip() and rng.random() < 0.3:
            doc.type(items[0]["insertText"])  # accept the suggestion
            counts["accepted"] += 1
        sim += 2

    while sim < SESSION_SECONDS:
        if sim >= next_sample:
            settle(server, pending)
            rss.append((sim, rss_kib(server.pid)))
            next_sample += 300
        if sim >= next_probe:
            settle(server, pending)  # measured at rest: nothing queued before it
            server.notify("workspace/didChangeConfiguration", {"settings": {"sc2": SESSION}})
            sent = time.monotonic()
            answer = server.wait(server.inline_id(probe_path.as_uri(), PROBE_LINES, 8), 60)
            probes.append((sim, (time.monotonic() - sent) * 1000))
            assert answer["result"]["items"], answer
            probe_prompts.add(server.last_prompt() or "")
            counts["probes"] += 1
            next_probe += 100
        if order:  # warm-up: every file, every language, once
            doc = focus(order.pop(0))
            counts["switches"] += 1
            type_a_line()
            continue
        action = rng.choices(
            ["type", "popup", "switch", "trim", "save", "command", "config", "idle"],
            [45, 8, 8, 8, 6, 3, 2, 20],
        )[0]
        if action == "type":
            type_a_line()
        elif action == "popup":
            line, character = doc.position()
            params = {
                "textDocument": {"uri": doc.uri},
                "position": {"line": line, "character": character},
                "context": {"triggerKind": 1},
            }
            pending.append(server.request("textDocument/completion", params))
            counts["requests"] += 1
            counts["popup"] += 1
            sim += 1
        elif action == "switch":
            doc = focus(rng.randrange(len(files)))
            counts["switches"] += 1
            sim += 3
        elif action == "trim":
            # Back to the file as it was on disk at the start (a revert): files do not grow
            # without bound over the hour, so early and late latency are comparable.
            doc.replace(0, len(doc.text), doc.path.read_text())
            sim += 1
        elif action == "save":
            server.notify("textDocument/didSave", {"textDocument": {"uri": doc.uri}})
            changes = [{"uri": doc.uri, "type": 2}]
            server.notify("workspace/didChangeWatchedFiles", {"changes": changes})
            counts["saves"] += 1
            sim += 0.5
        elif action == "command":
            command = rng.choice(["sc2.status", "sc2.lastPrompt"])
            pending.append(server.request("workspace/executeCommand", {"command": command}))
            sim += 0.5
        elif action == "config":
            completion = {**SESSION["completion"], "multiline": rng.choice(["auto", "never"])}
            server.notify(
                "workspace/didChangeConfiguration",
                {"settings": {"sc2": {**SESSION, "completion": completion}}},
            )
            counts["config"] += 1
            sim += 5
        else:
            sim += rng.uniform(15, 75)  # reading code, thinking: no traffic
        for msg_id in list(pending):
            if msg_id in server.responses:
                answer = server.responses[msg_id]
                assert "result" in answer or answer["error"]["code"] == CANCELLED, answer
                counts["cancelled"] += "error" in answer
                pending.remove(msg_id)
    settle(server, pending)
    rss.append((sim, rss_kib(server.pid)))
    real = time.monotonic() - started

    def p50(low: float, high: float) -> float:
        return statistics.median(ms for at, ms in probes if low <= at < high)

    warm, late = p50(WARM_UP_SECONDS, 1800), p50(2700, SESSION_SECONDS + 1)
    rss_warm = next(kib for at, kib in rss if at >= WARM_UP_SECONDS)
    growth = rss[-1][1] / rss_warm
    stats = server.status()
    keys = ("requests", "generations", "cancelled", "cacheHits", "prefetchHits", "prefetches")
    figures.record(
        "hour_session",
        {
            "simulated_seconds": round(sim),
            "real_seconds": round(real, 1),
            "compression": round(sim / real, 1),
            **counts,
            "probe_latency_p50_ms_min_15_to_30": round(warm, 1),
            "probe_latency_p50_ms_min_45_to_60": round(late, 1),
            "probe_prompt_chars_min_max": [
                min(map(len, probe_prompts)),
                max(map(len, probe_prompts)),
            ],
            "rss_mib_every_5_min": [round(kib / 1024, 1) for _, kib in rss],
            "rss_growth_percent_min_15_to_60": round((growth - 1) * 100, 2),
            "server_stats": {key: stats[key] for key in keys},
        },
    )
    assert sim >= SESSION_SECONDS and counts["keystrokes"] > 1000
    assert stats["requests"] >= counts["requests"] - counts["popup"]
    assert late < 1.5 * warm + 20, (warm, late)  # no creeping slowdown
    assert growth < 1.05, f"RSS grew {growth:.3f}x between minute 15 and minute 60"
    server.assert_completion_works(workspace)
    assert server.shutdown() == 0
