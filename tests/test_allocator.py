"""glibc's malloc, as the server sets it up: large blocks keep coming from mmap."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from glimpse.allocator import _glibc

PROBE = """
import ctypes, sys
from glimpse.allocator import tune_malloc

class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost".split()]

libc = ctypes.CDLL(None)
libc.mallinfo2.restype = MallInfo2
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
libc.free(libc.malloc(8 << 20))  # glibc now serves blocks up to 8 MiB from its arenas
if sys.argv[1] == "tuned":
    tune_malloc()
before = libc.mallinfo2().hblkhd
block = libc.malloc(1 << 20)
print(libc.mallinfo2().hblkhd - before)
"""


def _mmapped_bytes_of_a_1mib_block(mode: str, env: dict[str, str] | None = None) -> int:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, mode], capture_output=True, text=True, check=True, timeout=60, env=env
    )
    return int(done.stdout)


@pytest.mark.skipif(_glibc() is None, reason="mallopt is glibc's")
def test_tuned_malloc_serves_large_blocks_from_mmap() -> None:
    assert _mmapped_bytes_of_a_1mib_block("plain") == 0  # the dynamic threshold took it to the arena
    assert _mmapped_bytes_of_a_1mib_block("tuned") >= 1 << 20


@pytest.mark.skipif(_glibc() is None, reason="mallopt is glibc's")
def test_the_users_own_malloc_environment_wins() -> None:
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": str(16 << 20)}
    assert _mmapped_bytes_of_a_1mib_block("tuned", env) == 0
