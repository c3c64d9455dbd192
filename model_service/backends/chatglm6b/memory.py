"""Tune glibc's malloc for a prompt's activations: hand large freed blocks back at once where memory is
tight; keep them for the next layer where it is not.

A prompt's prefill allocates and frees many activation buffers. glibc's defaults keep freed blocks in
per-thread arenas and raise the mmap threshold as blocks are freed, so the process keeps its high-water
mark: the int4 model on CPU was killed in a 6 GiB memory cgroup by memory it had already freed. With
blocks over 128 KiB always mmap'd (and unmapped on free) and two arenas, the same run stays under
6.0 GB. It costs speed (the KV cache grows by a new block per token, faulted in afresh each time), so
the loader asks for it only when the machine has little memory to spare (figures in
docs/PERFORMANCE.md).

Elsewhere the loader keeps large freed blocks instead: glibc's mmap threshold stops growing at 32 MiB, so
a 600-token prompt's MLP activations (600 x 16,384 floats, 39 MB) were mmap'd and unmapped on every call,
and every layer faulted the same megabytes in afresh (0.9 s of a 5.6–6.9 s prompt on the Xeon). Blocks up
to 256 MiB now come from the heap and go back to it.
"""

from __future__ import annotations

import ctypes
import logging
import sys

log = logging.getLogger(__name__)

# mallopt(3) parameters.
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8
LARGE_BLOCK = 128 * 1024  # glibc's initial mmap threshold, kept fixed instead of growing
ARENAS = 2


KEPT_BLOCK = 256 * 1024 * 1024  # blocks up to this come from the heap, for reuse (a 2,048-token prompt: 134 MB)


def keep_freed_memory() -> bool:
    """Let freed blocks up to KEPT_BLOCK stay in the heap for the next call (see above); False where libc is not
    glibc. The heap is trimmed once twice that is free at its top."""
    return _mallopt(((M_MMAP_THRESHOLD, KEPT_BLOCK), (M_TRIM_THRESHOLD, 2 * KEPT_BLOCK)))


def _mallopt(settings: tuple[tuple[int, int], ...]) -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):  # musl and other C libraries: leave their defaults
        return False
    return all(mallopt(option, value) == 1 for option, value in settings)


def return_freed_memory() -> bool:
    """Tune glibc's malloc as above; False (and nothing changed) where libc is not glibc."""
    if not sys.platform.startswith("linux"):
        return False
    done = _mallopt(((M_MMAP_THRESHOLD, LARGE_BLOCK), (M_TRIM_THRESHOLD, LARGE_BLOCK), (M_ARENA_MAX, ARENAS)))
    if not done:
        log.warning("could not tune malloc to return freed memory; the model may hold more RAM than it uses")
    return done
