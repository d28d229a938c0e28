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
and NumPy/SciPy objects that pickle compactly; the shelf is private to the processes of
one server, which wrote it themselves, so nothing untrusted is ever unpickled. Online
models (item-to-item, trending) are published as fitted and then learn new interactions
in each process from the store's tail, as they do in a single process.

>>> # shelf.publish("ws_1", fitted); shelf.version("ws_1"); shelf.load("ws_1")
"""

from __future__ import annotations

import contextlib
import copyreg
import fcntl
import os
import pickle
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from unico.decide.models import Fitted

#: A file's identity: a rename replaces the inode, so (inode, mtime, size) changes with it.
Version = tuple[int, int, int]


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
                _Pickler(out, protocol=5).dump(fitted)
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
                fitted: Fitted = pickle.load(f)  # written by this server only
        except FileNotFoundError:
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
