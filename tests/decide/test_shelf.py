"""Serving processes share fitted models through a shelf: one fits, the others load, and a
process asking for training while another trains takes the other's result."""

from __future__ import annotations

import pickle
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import numpy as np
import pytest

from tests.conftest import Workspace
from tests.decide.helpers import create_placement, decide, ids, stock, view
from unico.container import Container
from unico.core.clock import ManualClock
from unico.core.settings import Settings
from unico.decide.models import Factory, default_factories
from unico.decide.request import DecideRequest, parse_request
from unico.decide.shelf import ModelShelf
from unico.recommend.als import ALSRecommender
from unico.recommend.base import Recommender


@pytest.fixture
def shared_settings(settings: Settings, tmp_path: Path) -> Settings:
    return settings.model_copy(update={"models_dir": str(tmp_path / "models")})


@pytest.fixture
def container(shared_settings: Settings, clock: ManualClock) -> Iterator[Container]:
    c = Container.build(shared_settings, clock)
    yield c
    c.ingestor.stop()
    c.store.dispose()


@pytest.fixture
def twin(container: Container) -> Iterator[Container]:
    """A second serving process's container on the same store and shelf."""
    c = Container.build(container.settings, container.clock)
    yield c
    c.store.dispose()


def _waiting_for(lock: Path) -> int:
    """How many ``flock`` requests wait for ``lock`` now: Linux lists each waiter in
    /proc/locks behind the holder, marked ``->``."""
    table = Path("/proc/locks")
    if not table.exists():
        pytest.skip("no /proc/locks: which lock requests wait is Linux's to tell")
    inode = lock.stat().st_ino
    waiting = 0
    for line in table.read_text().splitlines():
        fields = line.split()
        if "->" in fields and "FLOCK" in fields:
            device = fields[fields.index("FLOCK") + 4]  # major:minor:inode
            waiting += int(device.rsplit(":", 1)[1]) == inode
    return waiting


def _shop(container: Container, ws: Workspace) -> None:
    stock(container, ws)
    create_placement(ws, name="for_you", strategy="als", size=3)
    create_placement(ws, name="pdp", strategy="also_viewed", size=2)
    view(ws, "bo", "s1", "s3")
    view(ws, "cy", "s1", "s3", "s4")
    view(ws, "di", "t1", "t2")
    view(ws, "ada", "s1")


def _counting(container: Container) -> list[str]:
    """Record every model the container's registry builds (that is, fits)."""
    built: list[str] = []
    for name, factory in default_factories(3.0).items():

        def counted(name: str = name, factory: Factory = factory) -> Recommender:
            built.append(name)
            return factory()

        container.models.register(name, counted)
    return built


def test_one_process_fits_and_the_other_serves_the_same_models(
    container: Container, twin: Container, ws: Workspace
) -> None:
    _shop(container, ws)
    fitted_by_twin = _counting(twin)
    status = container.models.train_now(ws.id)
    assert twin.models.get(ws.id, "als") is None
    assert twin.models.sync_shelf() == 1
    assert twin.models.sync_shelf() == 0  # nothing new
    assert fitted_by_twin == []
    assert twin.models.status(ws.id)["models"] == status["models"]
    mine = container.decisions.decide(
        ws.id, _request(user="ada", placements=["for_you", "pdp"], item="s1")
    )
    theirs = twin.decisions.decide(
        ws.id, _request(user="ada", placements=["for_you", "pdp"], item="s1")
    )
    for name in ("for_you", "pdp"):
        assert mine["decisions"][name]["is_default"] is False
        assert ids(theirs["decisions"][name]) == ids(mine["decisions"][name])
    # And the twin keeps learning in real time from the store's tail, like the trainer.
    view(ws, "eve", "t1", "s4")
    view(ws, "fay", "t1", "s4")
    assert twin.models.poll_once(ws.id) == container.models.poll_once(ws.id) == 4
    again = decide(ws, "pdp", anonymousId="x", context={"item": "t1"})["pdp"]
    twin_again = twin.decisions.decide(
        ws.id, _request(anonymous="x", placements=["pdp"], item="t1")
    )
    assert ids(twin_again["decisions"]["pdp"]) == ids(again) and "s4" in ids(again)


def test_a_process_asking_while_another_trains_takes_its_models(
    container: Container, twin: Container, ws: Workspace
) -> None:
    _shop(container, ws)
    fitted_by_twin = _counting(twin)
    holding, release = threading.Event(), threading.Event()

    def slow_als() -> Recommender:  # built inside the fit, under the training lock
        holding.set()
        release.wait(30)
        return ALSRecommender()

    container.models.register("als", slow_als)
    first = threading.Thread(target=container.models.train_now, args=(ws.id,))
    first.start()
    assert holding.wait(30)
    assert twin.models.status(ws.id)["training"] is True  # the lock is seen by all
    second = threading.Thread(target=twin.models.train_now, args=(ws.id,))
    second.start()
    # It waits for the other fit instead of fitting alongside it: the kernel lists its
    # request behind the holder of the workspace's training lock.
    assert twin.models.shelf is not None
    lock = twin.models.shelf._path(ws.id, ".lock")
    deadline = time.monotonic() + 30
    while _waiting_for(lock) < 1:
        assert second.is_alive() and time.monotonic() < deadline, "it did not wait"
        time.sleep(0.01)
    assert fitted_by_twin == [] and second.is_alive()
    release.set()
    first.join(60)
    second.join(60)
    assert fitted_by_twin == []  # it took the other's models
    assert twin.models.status(ws.id) == container.models.status(ws.id)
    assert twin.models.status(ws.id)["training"] is False
    # Asked again later, with nobody training, it fits (and publishes) itself.
    twin.models.train_now(ws.id)
    assert sorted(fitted_by_twin) == ["als", "also_viewed", "popular"]
    assert container.models.sync_shelf() == 1


def test_a_snapshot_that_cannot_be_published_is_still_served_here(
    container: Container, ws: Workspace, shared_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    _shop(container, ws)
    # A directory where the snapshot's file goes: the rename into place fails.
    (Path(shared_settings.models_dir or "") / f"{ws.id}.models").mkdir()
    container.models.train_now(ws.id)
    assert "publishing the models" in caplog.text
    assert container.models.get(ws.id, "als") is not None
    assert list(Path(shared_settings.models_dir or "").glob(".publishing-*")) == []


def _request(
    *,
    placements: list[str],
    user: str | None = None,
    anonymous: str | None = None,
    item: str | None = None,
) -> DecideRequest:
    body: dict[str, object] = {"placements": placements, "context": {"item": item} if item else {}}
    if user:
        body["userId"] = user
    if anonymous:
        body["anonymousId"] = anonymous
    return parse_request(body, 10)


def test_snapshots_are_mapped_copy_on_write(tmp_path: Path) -> None:
    """Large arrays come back mapped from the file (shared between processes); one that a
    process changes is its own copy: the file and other loads keep the published values."""
    shelf = ModelShelf(tmp_path)
    big = np.arange(100_000, dtype=np.float32)
    shelf.publish("ws", cast(Any, {"big": big, "small": np.arange(3), "text": "x"}))
    first = cast(Any, shelf.load("ws"))[0]
    second = cast(Any, shelf.load("ws"))[0]
    assert np.array_equal(first["big"], big) and first["text"] == "x"
    root = first["big"]
    while isinstance(root, np.ndarray):
        root = root.base
    assert isinstance(root, memoryview)  # a view of the mapped file, not a copy
    first["big"][0] = -1.0
    assert second["big"][0] == 0.0
    assert cast(Any, shelf.load("ws"))[0]["big"][0] == 0.0


def test_an_unreadable_snapshot_is_trained_anew(container: Container, ws: Workspace) -> None:
    """A snapshot in another format (an older version's plain pickle) or damaged counts as
    none: nothing is loaded from it, and training publishes a readable one."""
    _shop(container, ws)
    shelf = container.models.shelf
    assert shelf is not None
    path = shelf._path(ws.id, ".models")
    path.write_bytes(pickle.dumps({"models": {}}))
    assert shelf.load(ws.id) is None
    assert container.models.sync_shelf() == 0
    container.models.train_now(ws.id)
    loaded = shelf.load(ws.id)
    assert loaded is not None and "als" in loaded[0].models
