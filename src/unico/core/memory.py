"""Memory habits of a long-running server process."""

from __future__ import annotations

import ctypes
import gc


def settle_garbage_collector() -> None:
    """Collect once, then leave what is alive now out of every later collection.

    Called once a server has started and after each training run. Fitted models and
    catalog snapshots are millions of long-lived objects (100,000 people's
    histories); each full collection walked them all and paused the serving thread for
    hundreds of milliseconds, the worst of a decision's latency tail. Frozen objects are
    still freed by reference counting when a newer model replaces them; the unfreeze and
    collect first return the cycles among older frozen objects once per training run.
    """
    gc.unfreeze()
    gc.collect()
    gc.freeze()
    release_free_memory()


def release_free_memory() -> None:
    """Give the heap pages that training freed back to the operating system.

    A fit allocates hundreds of megabytes (the training matrix, ALS's per-person factors)
    and frees them at the end, but glibc keeps freed pages in its arenas: the server's RSS
    stayed at its training peak. ``malloc_trim`` returns them; elsewhere this does nothing.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        return
