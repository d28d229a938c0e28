"""The model shelf: fitted models trained once and shared by every serving process.

``unico serve --workers N`` runs N serving processes on one machine. Without a shelf each
would fit its own models: N times the training CPU (a 100,000-person ALS fit takes
seconds of both cores) and N times the training memory peak, at the same moment. With a
shelf (a directory the processes share), one process fits a workspace's models under
an exclusive file lock and publishes them as one file, written aside and renamed into
place; the others notice the new file within a tail period and load it. A process that
asked for training while another held the lock takes the other's result instead of
fitting again.

The file is a pickle (protocol 5) of the `Fitted` snapshot: the models are plain Python
and NumPy/SciPy objects; the shelf is private to the processes of one server, which wrote
it themselves, so nothing untrusted is ever unpickled. Large arrays (ALS factors,
item-to-item matrices) are written out of band after the pickle, and loading maps the
file copy-on-write instead of reading it: every process serves the same physical pages
(one copy in memory and in the CPU cache for all workers, where each used to hold its
own), and a process that changes an array gets its own copy of the pages it wrote.
Online models (item-to-item, trending) are published as fitted and then learn new
interactions in each process from the store's tail, as they do in a single process.

Layout: ``MAGIC``, the header's length (8 bytes, little-endian), the header (JSON: the
pickle's and each buffer's offset and length), then the pickle and the buffers, each at
an offset aligned to ``ALIGN`` bytes.

>>> # shelf.publish("ws_1", fitted); shelf.version("ws_1"); shelf.load("ws_1")
"""

from __future__ import annotations

import contextlib
import copyreg
import fcntl
import io
import json
import logging
import mmap
import os
import pickle
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, BinaryIO

if TYPE_CHECKING:
    from unico.decide.fitted import Fitted

log = logging.getLogger("unico.decide")

#: A file's identity: a rename replaces the inode, so (inode, mtime, size) changes with it.
Version = tuple[int, int, int]
MAGIC = b"UNICOSH1"
#: Buffers at least this large are written out of band and mapped, not copied, on load.
OUT_OF_BAND = 64 * 1024
#: Alignment of the pickle and of each buffer in the file (a cache line).
ALIGN = 64


def _proxy(mapping: dict[Any, Any]) -> MappingProxyType[Any, Any]:
    return MappingProxyType(mapping)


def _reduce_proxy(proxy: MappingProxyType[Any, Any]) -> tuple[Any, ...]:
    return _proxy, (dict(proxy),)


class _Pickler(pickle.Pickler):
    """Pickles read-only mappings too (catalog snapshots hand models `MappingProxyType`s)."""

    dispatch_table = {**copyreg.dispatch_table, MappingProxyType: _reduce_proxy}


class ModelShelf:
    """Published model snapshots per workspace in ``directory``."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)

    def _path(self, workspace_id: str, suffix: str) -> Path:
        # Workspace ids are tokens; anything else is replaced, never used as a path part.
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", workspace_id)
        return self.directory / f"{safe}{suffix}"

    def workspaces(self) -> list[str]:
        """The workspaces with a published snapshot."""
        return sorted(p.stem for p in self.directory.glob("*.models"))

    def version(self, workspace_id: str) -> Version | None:
        """The published snapshot's identity (a ``stat``), or None when none is."""
        try:
            st = os.stat(self._path(workspace_id, ".models"))
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def publish(self, workspace_id: str, fitted: Fitted) -> Version:
        """Write ``fitted`` aside and rename it into place (readers see old or new, whole)."""
        target = self._path(workspace_id, ".models")
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".publishing-")
        try:
            with os.fdopen(fd, "wb") as out:
                _write(out, fitted)
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        found = self.version(workspace_id)
        assert found is not None
        return found

    def load(self, workspace_id: str) -> tuple[Fitted, Version] | None:
        """The published snapshot and its identity, or None when none is."""
        path = self._path(workspace_id, ".models")
        try:
            # Open first: the identity read from the open file is the one loaded, even if a
            # newer snapshot is renamed into place meanwhile.
            with path.open("rb") as f:
                st = os.fstat(f.fileno())
                # Copy-on-write: pages stay shared until this process writes to them.
                mapped = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_COPY)
        except FileNotFoundError:
            return None
        try:
            fitted: Fitted = _read(mapped)  # written by this server only
        except (ValueError, pickle.UnpicklingError, EOFError):
            # Another format (an older version's plain pickle) or a damaged file: as if
            # nothing were published, so the workspace is trained and published anew.
            log.warning("ignoring the unreadable model snapshot %s", path, exc_info=True)
            return None
        return fitted, (st.st_ino, st.st_mtime_ns, st.st_size)

    @contextlib.contextmanager
    def training(self, workspace_id: str) -> Iterator[None]:
        """Hold the workspace's training lock (waits while another process trains)."""
        with self._path(workspace_id, ".lock").open("a+b") as f:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f.fileno(), fcntl.LOCK_UN)

    def busy(self, workspace_id: str) -> bool:
        """Whether some process (this one included) holds the workspace's training lock."""
        path = self._path(workspace_id, ".lock")
        if not path.exists():
            return False
        with path.open("a+b") as f:
            try:
                fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)
            return False


def _aligned(n: int) -> int:
    return -(-n // ALIGN) * ALIGN


def _write(out: BinaryIO, fitted: Fitted) -> None:
    buffers: list[pickle.PickleBuffer] = []

    def out_of_band(buffer: pickle.PickleBuffer) -> bool:
        if buffer.raw().nbytes < OUT_OF_BAND:
            return True  # small: in the pickle
        buffers.append(buffer)
        return False

    stream = io.BytesIO()
    _Pickler(stream, protocol=5, buffer_callback=out_of_band).dump(fitted)
    data = stream.getbuffer()
    sizes = [data.nbytes] + [b.raw().nbytes for b in buffers]
    # The header's length depends on the offsets, which depend on the header's length:
    # reserve room for the widest offsets first.
    reserve = len(json.dumps({"parts": [[2**62, n] for n in sizes]})) + 16
    offset = _aligned(len(MAGIC) + 8 + reserve)
    parts = []
    for n in sizes:
        parts.append([offset, n])
        offset = _aligned(offset + n)
    header = json.dumps({"parts": parts}).encode().ljust(reserve)
    out.write(MAGIC + len(header).to_bytes(8, "little") + header)
    for (start, _), part in zip(parts, [data, *(b.raw() for b in buffers)], strict=True):
        out.seek(start)
        out.write(part)


def _read(mapped: mmap.mmap) -> Any:
    if mapped[: len(MAGIC)] != MAGIC:
        raise ValueError("not a model shelf file")
    size = int.from_bytes(mapped[len(MAGIC) : len(MAGIC) + 8], "little")
    start = len(MAGIC) + 8
    parts = json.loads(mapped[start : start + size])["parts"]
    view = memoryview(mapped)
    (p, n), *rest = parts
    return pickle.loads(view[p : p + n], buffers=[view[o : o + k] for o, k in rest])
