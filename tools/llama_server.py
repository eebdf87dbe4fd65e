"""llama.cpp's `llama-server`, built once from the llama.cpp vendored in llama-cpp-python's sdist.

Owns where the binary lives and how it gets there. The sdist is the one of the llama-cpp-python
installed in this environment, so the server runs the same llama.cpp as the local engine. The
build is cached outside the checkout, keyed by that version and the build flags
(`$SC2_LLAMA_SERVER_CACHE`, else the user cache dir: `~/.cache/sc2-lsp/llama-server/KEY/`), and
reused by every checkout and CI run on the machine.

    python -m tools.llama_server build    # `make llama-server`: fetch the sdist, build, cache
    python -m tools.llama_server path     # print the cached binary's path (exit 1 if not built)
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from importlib import metadata
from pathlib import Path

import platformdirs

PACKAGE = "llama-cpp-python"
FLAGS = (
    "-DCMAKE_BUILD_TYPE=Release",
    "-DBUILD_SHARED_LIBS=OFF",
    "-DLLAMA_BUILD_SERVER=ON",
    # Without these two the build downloads the web UI's assets.
    "-DLLAMA_BUILD_UI=OFF",
    "-DLLAMA_USE_PREBUILT_UI=OFF",
    "-DLLAMA_OPENSSL=OFF",
    "-DLLAMA_BUILD_TESTS=OFF",
    "-DLLAMA_BUILD_EXAMPLES=OFF",
)


def version() -> str:
    return metadata.version(PACKAGE)


def cache_root() -> Path:
    override = os.environ.get("SC2_LLAMA_SERVER_CACHE", "").strip()
    if override:
        return Path(override).expanduser()
    return platformdirs.user_cache_path("sc2-lsp", appauthor=False) / "llama-server"


def binary() -> Path:
    """Where the build for this llama-cpp-python version and these flags is (or will be)."""
    flags = hashlib.sha256(" ".join(FLAGS).encode()).hexdigest()[:8]
    return cache_root() / f"{version()}-{flags}" / "llama-server"


def built() -> Path | None:
    path = binary()
    return path if path.is_file() and os.access(path, os.X_OK) else None


def build(jobs: int | None = None) -> Path:
    """Build and cache llama-server unless it is cached already; its path."""
    target = binary()
    if built() is not None:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="build-", dir=target.parent) as scratch:
        work = Path(scratch)
        source = _vendored_llama_cpp(_sdist(work), work)
        started = time.monotonic()
        tree = work / "build"
        generator = ["-G", "Ninja"] if shutil.which("ninja") else []
        _run(["cmake", "-S", str(source), "-B", str(tree), *generator, *FLAGS])
        parallel = str(jobs or os.cpu_count() or 2)
        _run(["cmake", "--build", str(tree), "--target", "llama-server", "-j", parallel])
        staged = target.with_name(target.name + ".new")
        shutil.copy2(tree / "bin" / "llama-server", staged)
        staged.replace(target)  # atomic: a concurrent build or reader sees all or nothing
    print(f"built {target} in {time.monotonic() - started:.0f} s", file=sys.stderr)
    return target


def _sdist(work: Path) -> Path:
    """The sdist of the installed version, through pip (its cache, or the package index)."""
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-binary",
            ":all:",
            "--no-deps",
            f"{PACKAGE}=={version()}",
            "-d",
            str(work),
        ]
    )
    return next(work.glob("llama_cpp_python-*.tar.gz"))


def _vendored_llama_cpp(sdist: Path, work: Path) -> Path:
    prefix = sdist.name.removesuffix(".tar.gz") + "/vendor/llama.cpp/"
    with tarfile.open(sdist) as archive:
        members = [member for member in archive.getmembers() if member.name.startswith(prefix)]
        archive.extractall(work, members=members, filter="data")
    return work / prefix


def _run(command: list[str]) -> None:
    print("+ " + " ".join(command), file=sys.stderr, flush=True)
    subprocess.run(command, check=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("action", choices=("build", "path"))
    parser.add_argument("-j", "--jobs", type=int, help="parallel compile jobs (default: all cores)")
    args = parser.parse_args(argv)
    if args.action == "build":
        print(build(args.jobs))
        return 0
    found = built()
    if found is None:
        print(f"llama-server is not built ({binary()}): run `make llama-server`", file=sys.stderr)
        return 1
    print(found)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
