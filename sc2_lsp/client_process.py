"""The client process named in `initialize`: LSP asks a server to exit once its `processId` is
gone, also when the pipes stay open (a wrapper or a daemon still holds them).

Standard library only, the same on Linux and macOS: `kill(pid, 0)` says whether a process
exists. A process that has died but not yet been reaped (a zombie) still exists for
`kill`; where `/proc` shows process states (Linux) it counts as gone.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

POLL_SECONDS = 1.0
"""How often the process is looked at: one system call a second."""


def process_alive(pid: int) -> bool:
    """Whether `pid` names a live process on this machine."""
    if pid <= 0:  # 0 and negative numbers name process groups, not a process
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, and belongs to another user
    except (OverflowError, OSError):
        return False
    return not _zombie(pid)


def _zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    # "pid (command) state ...": the command may contain spaces and parentheses.
    fields = stat.rsplit(")", 1)[-1].split()
    return bool(fields) and fields[0] == "Z"


async def gone(pid: int, poll: float = POLL_SECONDS) -> None:
    """Return once process `pid` no longer exists."""
    while process_alive(pid):
        await asyncio.sleep(poll)
