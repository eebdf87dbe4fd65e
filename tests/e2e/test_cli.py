"""The command line as a user runs it: prompt, complete, doctor, and clear errors."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from sc2_lsp.acceptance import StatsFile, Tally

pytestmark = [pytest.mark.e2e, pytest.mark.model]

SOURCE = "import os\n\n\ndef add(a, b):\n    return a + b\n\n\ndef main():\n    total = add(1, \n    print(total)\n"


def sc2(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sc2_lsp", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={
            "HF_HUB_OFFLINE": "1",
            "SC2_LSP_MODEL_DIR": str(cwd / "models"),
            "SC2_LSP_STATE_DIR": str(cwd / "state"),
            "PATH": "/usr/bin:/bin",
            **(env or {}),
        },
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "app.py").write_text(SOURCE)
    return tmp_path


def test_prompt_shows_the_exact_fim_layout(project: Path, tiny_model_path: Path) -> None:
    result = sc2(
        "prompt",
        "pkg/app.py",
        "--line",
        "8",
        "--col",
        "19",
        "--workspace",
        ".",
        "--model",
        str(tiny_model_path),
        "--explain",
        cwd=project,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    # The far part of the suffix first, as a snippet of the same file; the FIM suffix holds the
    # rest of the cursor's line. The space after `add(1,` is healed: the prompt stops before it,
    # the model spells it.
    assert out.startswith(
        f"<repo_name>{project.name}<file_sep>pkg/app.py\n    print(total)\n"
        "<file_sep><fim_prefix>pkg/app.py\nimport os\n"
    )
    assert out.endswith("    total = add(1,<fim_suffix>\n<fim_middle>")
    assert "healed: ' ' backed off the prompt" in result.stderr
    assert "tokens" in result.stderr and "starcoder2" in result.stderr


def test_complete_prints_the_suggestion(
    project: Path, emit_model_factory: Callable[[str], Path]
) -> None:
    args = (
        "complete",
        "pkg/app.py",
        "--line",
        "8",
        "--col",
        "19",
        "--model",
        str(emit_model_factory("x")),
    )
    plain = sc2(*args, "--settings", '{"completion": {"maxTokensLine": 6}}', cwd=project)
    assert (plain.returncode, plain.stdout) == (0, "xxxxxx\n"), plain.stderr
    as_json = sc2(
        *args, "--json", "--settings", '{"completion": {"maxPredictMs": 120000}}', cwd=project
    )
    payload = json.loads(as_json.stdout)
    assert payload["text"] == "x" * 48 and payload["mode"] == "line" and payload["promptTokens"] > 0


def test_doctor_reports_build_model_and_speed(project: Path, tiny_model_path: Path) -> None:
    result = sc2("doctor", "--model", str(tiny_model_path), cwd=project)
    assert result.returncode == 0, result.stderr
    assert "GPU offload:" in result.stdout
    assert '"<fim_prefix>": 1' in result.stdout and '"<file_sep>": 6' in result.stdout
    assert "speed: prompt" in result.stdout and "tok/s" in result.stdout


COMPLETE_AT = ("complete", "pkg/app.py", "--line", "8", "--col", "19")


def test_complete_and_doctor_survive_a_crashing_engine(
    project: Path, emit_model_factory: Callable[[str], Path]
) -> None:
    """llama.cpp's AMX crash (#20824), as an AMX CPU shows it, injected in the engine process:
    both commands recover through the fallback and exit 0."""
    model = str(emit_model_factory("x"))
    env = {"SC2_ENGINE_FAULT": "amx@prompt"}
    settings = '{"completion": {"maxTokensLine": 6}}'
    done = sc2(*COMPLETE_AT, "--model", model, "--settings", settings, cwd=project, env=env)
    assert (done.returncode, done.stdout) == (0, "xxxxxx\n"), done.stderr
    assert "SIGSEGV" in done.stderr and "AMX off" in done.stderr
    # Remembered: the next run avoids AMX before anything crashes.
    again = sc2(*COMPLETE_AT, "--model", model, "--settings", settings, cwd=project, env=env)
    assert (again.returncode, again.stdout, again.stderr) == (0, "xxxxxx\n", "")
    doctor = sc2("doctor", "--model", model, cwd=project, env=env)
    assert doctor.returncode == 0, doctor.stderr
    assert "fallback: AMX off (llama.cpp's AMX kernels crash" in doctor.stdout
    assert "without it: crashes (crashed with SIGSEGV" in doctor.stdout
    assert "speed: prompt" in doctor.stdout
    forget = sc2("doctor", "--model", model, "--forget-fallback", cwd=project, env=env)
    assert forget.returncode == 0 and "forgot the fallback" in forget.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("complete", "pkg/app.py", "--line", "0", "--col", "0"), "sc2-lsp model pull"),
        (
            ("prompt", "pkg/missing.py", "--line", "0", "--col", "0", "--model", "x.gguf"),
            "cannot read",
        ),
        (("prompt", "pkg/app.py", "--line", "-1", "--col", "0", "--model", "x.gguf"), "0-based"),
        (
            ("complete", "pkg/app.py", "--line", "0", "--col", "0", "--settings", "{nope"),
            "not valid JSON",
        ),
        (("model", "pull", "3b"), "--model"),
    ],
)
def test_errors_are_one_clear_line(project: Path, args: tuple[str, ...], message: str) -> None:
    result = sc2(*args, cwd=project)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_stats_prints_resets_and_says_where_they_live(tmp_path: Path) -> None:
    empty = sc2("stats", cwd=tmp_path)
    assert empty.returncode == 0 and "no statistics yet" in empty.stdout
    StatsFile(tmp_path / "state" / "stats.json").add(
        {("python", "sc2-3b.gguf"): Tally(4, 1, 1, 30, [12.0, 40.0, 90.0])}
    )
    table = sc2("stats", cwd=tmp_path).stdout.splitlines()
    assert table[0].split()[:6] == ["language", "model", "shown", "accepted", "partly", "chars"]
    assert table[1].split()[:7] == ["python", "sc2-3b.gguf", "4", "1", "(25%)", "1", "30"]
    as_json = json.loads(sc2("stats", "--json", cwd=tmp_path).stdout)
    assert as_json["entries"][0]["latenciesMs"] == [12.0, 40.0, 90.0]
    assert as_json["file"] == str(tmp_path / "state" / "stats.json")
    assert sc2("stats", "--reset", cwd=tmp_path).returncode == 0
    assert not (tmp_path / "state" / "stats.json").exists()
    assert "no statistics yet" in sc2("stats", cwd=tmp_path).stdout
