"""Private acceptance statistics: exact counts over a replayed session, the file they share,
and that nothing of the code is ever kept."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from sc2_lsp.acceptance import AcceptanceLog, StatsFile, Tally, report
from sc2_lsp.suggestions import SuggestionCache

SECRET_CODE = "def launch_codes(): return 'zebra-7741'"


def replay(log: AcceptanceLog) -> None:
    """A session: each line is what an editor did, with the answers the server gave."""
    cache = SuggestionCache()
    uri = "file:///w/app.py"
    # 1. A suggestion with two alternatives, shown, accepted in full (Tab).
    first, first_line = cache.put(uri, "x = ", "\n", [SECRET_CODE + "\nmore()", SECRET_CODE])
    answer = log.answered(
        "python", "m.gguf", 120.0, [(first.lineage, 47), (first_line.lineage, 40)]
    )
    assert log.accepted(answer, 0)
    assert not log.accepted(answer, 0)  # a second run of the same command counts nothing
    # 2. Shown, the user types along it (continuations: not shown again), takes a word, then
    #    the rest with Tab: one suggestion, accepted, every character of it.
    (second,) = cache.put(uri, "y = ", "\n", ["compute(total)"])
    answer = log.answered("python", "m.gguf", 80.0, [(second.lineage, 14)])
    for typed in ("c", "co"):
        (hit,) = cache.get_all(uri, "y = " + typed, "\n", limit=3)
        log.answered("python", "m.gguf", 1.0, [(hit.lineage, len(hit.text))])
    (hit,) = cache.get_all(uri, "y = co", "\n", limit=3)
    answer = log.answered("python", "m.gguf", 1.0, [(hit.lineage, len(hit.text))])
    assert log.partially_accepted(answer, 0, 5)  # "mpute"
    (rest,) = cache.get_all(uri, "y = compute", "\n", limit=3)
    answer = log.answered("python", "m.gguf", 1.0, [(rest.lineage, len(rest.text))])
    assert log.accepted(answer, 0)  # "(total)": 7 characters
    # 3. Shown, a line taken, the rest never: partly accepted.
    (third,) = cache.put(uri, "z = ", "\n", ["a\nb"])
    answer = log.answered("python", "m.gguf", 200.0, [(third.lineage, 3)])
    assert log.partially_accepted(answer, 0, 1)
    # 4. Shown and ignored, in another language and model.
    (fourth,) = cache.put("file:///w/a.go", "var ", "\n", ["x int"])
    log.answered("go", "other.gguf", 300.0, [(fourth.lineage, 5)])
    # 5. The user cycles to the second alternative and accepts it: shown then, accepted.
    (fifth, fifth_alt) = cache.put(uri, "w = ", "\n", ["1", "2"])
    answer = log.answered("python", "m.gguf", 90.0, [(fifth.lineage, 1), (fifth_alt.lineage, 1)])
    assert log.accepted(answer, 1, length=1)
    # 6. Signals for answers the server never gave count nothing.
    assert not log.accepted("a999", 0)
    assert not log.partially_accepted(answer, 7, 3)


def test_a_replayed_session_gives_exact_counts(tmp_path: Path) -> None:
    store = StatsFile(tmp_path / "stats.json")
    log = AcceptanceLog(store)
    replay(log)
    log.flush()
    tallies = store.read()
    assert set(tallies) == {("python", "m.gguf"), ("go", "other.gguf")}
    python = tallies[("python", "m.gguf")]
    # Shown: 1, 2, 3, 5 and the alternative of 5 that was accepted (when it was).
    assert (python.shown, python.accepted, python.partly_accepted) == (5, 3, 1)
    # 1: all 47; 2: the word (5) and the rest (7), not what was typed; 3: a line; 5: one.
    assert python.chars_accepted == 47 + 5 + 7 + 1 + 1
    assert python.latencies_ms == [120.0, 80.0, 200.0, 90.0]
    go = tallies[("go", "other.gguf")]
    assert (go.shown, go.accepted, go.partly_accepted, go.chars_accepted) == (1, 0, 0, 0)
    assert go.latencies_ms == [300.0]


def test_the_file_never_holds_code_or_paths(tmp_path: Path) -> None:
    store = StatsFile(tmp_path / "stats.json")
    log = AcceptanceLog(store)
    replay(log)
    log.flush()
    written = store.path.read_text()
    for fragment in ("launch_codes", "zebra", "compute", "total", "app.py", "file://", "/w/"):
        assert fragment not in written
    data = json.loads(written)
    assert set(data) == {"version", "entries"}
    for entry in data["entries"]:
        assert set(entry) == {
            "language",
            "model",
            "shown",
            "accepted",
            "partlyAccepted",
            "charsAccepted",
            "latenciesMs",
        }


def test_servers_sharing_the_file_add_up_and_reset_clears_it(tmp_path: Path) -> None:
    store = StatsFile(tmp_path / "state" / "stats.json")
    logs = [AcceptanceLog(StatsFile(store.path)) for _ in range(4)]
    for log in logs:
        for _ in range(25):
            answer = log.answered("python", "m.gguf", 10.0, [(f"s{id(log)}-{_}", 3)])
            log.accepted(answer, 0)
    threads = [threading.Thread(target=log.flush) for log in logs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    tally = store.read()[("python", "m.gguf")]
    assert (tally.shown, tally.accepted, tally.chars_accepted) == (100, 100, 300)
    store.reset()
    assert store.read() == {}


def test_switched_off_it_counts_nothing(tmp_path: Path) -> None:
    store = StatsFile(tmp_path / "stats.json")
    log = AcceptanceLog(store, enabled=False)
    answer = log.answered("python", "m.gguf", 10.0, [("s1", 3)])
    assert not log.accepted(answer, 0)
    log.flush()
    assert not store.path.exists()


def test_a_broken_file_counts_as_empty_and_is_replaced(tmp_path: Path) -> None:
    store = StatsFile(tmp_path / "stats.json")
    store.path.write_text("{not json")
    assert store.read() == {}
    store.add({("python", "m.gguf"): Tally(shown=2)})
    assert store.read()[("python", "m.gguf")].shown == 2


def test_percentiles_and_the_report() -> None:
    tally = Tally(shown=4, accepted=1, latencies_ms=[float(ms) for ms in range(1, 101)])
    assert (tally.percentile(0.5), tally.percentile(0.9), tally.percentile(0.99)) == (
        50.0,
        90.0,
        99.0,
    )
    lines = report({("python", "m.gguf"): tally})
    assert lines[0].split() == [
        "language", "model", "shown", "accepted", "partly", "chars", "p50", "p90", "p99"
    ]  # fmt: skip
    assert "1 (25%)" in lines[1] and "50 ms" in lines[1] and "99 ms" in lines[1]
