"""How the process's heap gives memory back: glibc's allocator, told so through ctypes.

- ``settle()`` at start: at most two malloc arenas, so the round's worker threads and kopf's do not
  each keep an arena of their own half empty; and blocks from 128 KiB up always mapped on their
  own, so a freed TLS read buffer or Prometheus answer goes back to the system at once (by default
  glibc raises that threshold after each such free, and later ones stay in the heap).
- ``trim()`` after a round: the heap's free top and free pages go back too.

Elsewhere than glibc (musl, macOS) both do nothing.
"""

from __future__ import annotations

import ctypes

__all__ = ["settle", "trim"]

_M_MMAP_THRESHOLD = -3  # mallopt's parameters, from glibc's malloc.h
_M_ARENA_MAX = -8
_ARENAS = 2
_MAPPED_FROM_BYTES = 128 * 1024


def _glibc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.malloc_trim.argtypes = [ctypes.c_size_t]
        libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
        return libc
    except (OSError, AttributeError):  # not glibc: nothing to set
        return None


_LIBC = _glibc()


def settle() -> None:
    if _LIBC is not None:
        _LIBC.mallopt(_M_ARENA_MAX, _ARENAS)
        _LIBC.mallopt(_M_MMAP_THRESHOLD, _MAPPED_FROM_BYTES)


def trim() -> None:
    if _LIBC is not None:
        _LIBC.malloc_trim(0)
