"""Keeping llama.cpp's Intel AMX kernels out of the engine process, and only them.

llama.cpp puts a model's weights in an AMX buffer when the CPU has AMX, and its AMX matrix
kernels segfault on the common quant types (upstream issue #20824, unfixed). Turning off all
extra buffer types avoids that but also loses the CPU weight repacking that makes the other
kernels fast. llama.cpp only offers the AMX buffer after asking Linux for permission to use
AMX tile data (`arch_prctl(ARCH_REQ_XCOMP_PERM)`); refusing that one request with a seccomp
filter makes llama.cpp skip AMX ("AMX is not ready to be used!") and keep the repacking.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import platform
import sys

_SYS_ARCH_PRCTL = 158
_SYS_SECCOMP = 317
_ARCH_REQ_XCOMP_PERM = 0x1023
_XFEATURE_XTILEDATA = 18
_AUDIT_ARCH_X86_64 = 0xC000003E
_PR_SET_NO_NEW_PRIVS = 38
_SECCOMP_SET_MODE_FILTER = 1
_SECCOMP_FILTER_FLAG_TSYNC = 1
_RET_ALLOW = 0x7FFF0000
_RET_EPERM = 0x00050000 | errno.EPERM
_LOAD_WORD, _JUMP_IF_EQUAL, _RETURN = 0x20, 0x15, 0x06
# struct seccomp_data: int nr @0, u32 arch @4, u64 ip @8, u64 args[6] @16 (little-endian)
_NR, _ARCH, _ARG0 = 0, 4, 16


class _Instruction(ctypes.Structure):
    _fields_ = (
        ("code", ctypes.c_uint16),
        ("jt", ctypes.c_uint8),
        ("jf", ctypes.c_uint8),
        ("k", ctypes.c_uint32),
    )


class _Program(ctypes.Structure):
    _fields_ = (("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_Instruction)))


def supported() -> bool:
    """AMX exists only on x86-64, and the permission request only on Linux."""
    return sys.platform == "linux" and platform.machine() in ("x86_64", "AMD64")


def deny() -> None:
    """Refuse AMX to every thread of this process from now on; raises OSError if impossible."""
    if not supported():
        raise OSError(errno.ENOSYS, "AMX can only be refused on Linux x86-64")
    program = (_Instruction * 8)(
        _Instruction(_LOAD_WORD, 0, 0, _ARCH),
        _Instruction(_JUMP_IF_EQUAL, 0, 5, _AUDIT_ARCH_X86_64),
        _Instruction(_LOAD_WORD, 0, 0, _NR),
        _Instruction(_JUMP_IF_EQUAL, 0, 3, _SYS_ARCH_PRCTL),
        _Instruction(_LOAD_WORD, 0, 0, _ARG0),
        _Instruction(_JUMP_IF_EQUAL, 0, 1, _ARCH_REQ_XCOMP_PERM),
        _Instruction(_RETURN, 0, 0, _RET_EPERM),
        _Instruction(_RETURN, 0, 0, _RET_ALLOW),
    )
    fprog = _Program(len(program), program)
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"prctl(PR_SET_NO_NEW_PRIVS): {errno.errorcode.get(code, code)}")
    flags = _SECCOMP_FILTER_FLAG_TSYNC  # the threads already running get the filter too
    if libc.syscall(_SYS_SECCOMP, _SECCOMP_SET_MODE_FILTER, flags, ctypes.byref(fprog)) != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"seccomp: {errno.errorcode.get(code, code)}")


def request_error() -> int:
    """What asking for AMX tile data returns here: 0, or the errno (EPERM once denied)."""
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    if libc.syscall(_SYS_ARCH_PRCTL, _ARCH_REQ_XCOMP_PERM, _XFEATURE_XTILEDATA) == 0:
        return 0
    return ctypes.get_errno()
