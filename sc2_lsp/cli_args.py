"""The command line's grammar: every command, its options and their help.

Each command names itself (`args.command`); `cli` maps the names to what they do.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from sc2_lsp import __version__, models
from sc2_lsp.eval.tasks import CURSOR_MODES, SUITES


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sc2-lsp",
        description="Code-completion language server running StarCoder2 GGUF models locally.",
    )
    parser.add_argument("--version", action="version", version=f"sc2-lsp {__version__}")
    common(parser)
    transport = parser.add_mutually_exclusive_group()
    transport.add_argument(
        "--stdio", action="store_true", help="serve LSP over stdin/stdout (default)"
    )
    transport.add_argument("--tcp", action="store_true", help="serve LSP over TCP")
    parser.add_argument(
        "--host", default="127.0.0.1", help="TCP address to bind (default 127.0.0.1)"
    )
    parser.add_argument("--port", type=int, default=2087, help="TCP port (default 2087)")
    parser.set_defaults(command="serve")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    _oneshot(commands)
    _model(commands)
    _doctor(commands)
    _stats(commands)
    _eval(commands)
    return parser


def _oneshot(commands: Any) -> None:
    for name, text in (
        ("complete", "complete once at a position and print the suggestion"),
        ("prompt", "print the exact prompt the model would get (needs only the tokenizer)"),
    ):
        command = commands.add_parser(name, help=text, description=text)
        common(command)
        command.add_argument("file", type=Path, nargs="?" if name == "prompt" else None)
        command.add_argument("--line", type=int, help="0-based line")
        command.add_argument("--col", type=int, help="0-based column in characters")
        command.add_argument(
            "--workspace",
            type=Path,
            help="workspace folder: indexed for repository context (default: the file's folder, not indexed)",
        )
        command.add_argument("--max-prompt-tokens", type=int, help="budget for the whole prompt")
        command.set_defaults(command=name)
        if name == "complete":
            command.add_argument("--json", action="store_true", help="print JSON with timings")
        else:
            command.add_argument(
                "--explain",
                action="store_true",
                help="say what token healing backed off and list the context snippets, on stderr",
            )
            command.add_argument(
                "--batch",
                type=Path,
                help='JSONL of {"file", "line", "col"} (file relative to --workspace): one JSON '
                "line out per position",
            )


def _model(commands: Any) -> None:
    model = commands.add_parser("model", help="download, list and remove models")
    model_commands = model.add_subparsers(title="model commands", metavar="ACTION", required=True)
    pull = model_commands.add_parser(
        "pull", help="download a StarCoder2 GGUF from the Hugging Face Hub"
    )
    pull.add_argument(
        "spec",
        nargs="?",
        default=models.DEFAULT_MODEL,
        help=f"{', '.join(models.KNOWN_MODELS)} or REPO:FILE (default {models.DEFAULT_MODEL})",
    )
    pull.add_argument(
        "--vocab-only",
        action="store_true",
        help="only its vocabulary (a few MB): enough to build prompts for a remote engine",
    )
    pull.set_defaults(command="model pull")
    listing = model_commands.add_parser("list", help="list downloaded models")
    listing.set_defaults(command="model list")
    remove = model_commands.add_parser("rm", help="delete a downloaded model")
    remove.add_argument("spec")
    remove.set_defaults(command="model rm")
    for sub in (pull, listing, remove):
        sub.add_argument("-v", "--verbose", action="count", default=0)
        sub.add_argument("--log-file", type=Path)


def _doctor(commands: Any) -> None:
    doctor = commands.add_parser(
        "doctor", help="check llama.cpp, GPU offload, the model, and speed"
    )
    common(doctor)
    doctor.add_argument("--no-probe", action="store_true", help="skip the speed probe")
    doctor.add_argument(
        "--forget-fallback",
        action="store_true",
        help="forget the fallback remembered after a llama.cpp crash with this model",
    )
    doctor.set_defaults(command="doctor")


def _stats(commands: Any) -> None:
    stats = commands.add_parser(
        "stats", help="suggestions shown and accepted, per language and model (local only)"
    )
    stats.add_argument("--json", action="store_true", help="print the counts as JSON")
    stats.add_argument("--reset", action="store_true", help="delete the counts")
    stats.add_argument("-v", "--verbose", action="count", default=0)
    stats.add_argument("--log-file", type=Path)
    stats.set_defaults(command="stats")


def _eval(commands: Any) -> None:
    text = "measure completion quality and latency: HumanEval single-line infilling or your repo"
    evaluation = commands.add_parser("eval", help=text, description=text)
    common(evaluation)
    evaluation.add_argument("--suite", choices=SUITES, required=True)
    evaluation.add_argument("--workspace", type=Path, help="the repository of --suite repo")
    evaluation.add_argument(
        "--cursor",
        choices=CURSOR_MODES,
        default="line",
        help="after the masked line's indentation (default), or inside one of its words",
    )
    evaluation.add_argument("--limit", type=int, help="tasks drawn at random (repo default 200)")
    evaluation.add_argument("--seed", type=int, default=0, help="for the draw (default 0)")
    evaluation.add_argument(
        "--compare",
        help='a second arm: settings JSON layered on --settings, or "raw" (no post-processing)',
    )
    evaluation.add_argument(
        "--timeout", type=float, default=3.0, help="seconds per HumanEval program (default 3)"
    )
    evaluation.add_argument("--json", dest="json_out", type=Path, help="write every outcome here")
    evaluation.add_argument("--markdown", type=Path, help="write the table here too")
    evaluation.set_defaults(command="eval")


def common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", help="GGUF path or model name (3b, 7b, 15b, REPO:FILE)")
    parser.add_argument(
        "--settings", help="settings as JSON (the `sc2` object), applied over defaults"
    )
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="more logging (-vv for debug)"
    )
    parser.add_argument("--log-file", type=Path, help="log here instead of stderr")
