"""What a worker's local store holds, for a replay of the journal into a new broker.

With a RocksDB store and a known broker incarnation, each checkpoint records, per
events partition, the offset below which the local store holds everything
(services/runtime/covered.py); the relay may then leave those events out of a replay.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from services.classifier.settings import ClassifierSettings
from services.runtime import covered as replay_cover


def worker_dir(settings: ClassifierSettings) -> Path:
    """The worker's data dir: not faust's <app id>-data in the working directory; one per
    worker (several workers of one group may share a data dir, each on its own port)."""
    return settings.data_dir / "classifier" / f"worker-{settings.classifier_port}"


class StoreCover:
    """Writes what the local store covers after each checkpoint (or nothing, and forgets
    an earlier record, when the store does not outlive the process)."""

    def __init__(self, settings: ClassifierSettings) -> None:
        self._dir = worker_dir(settings)
        self._incarnation = settings.broker_incarnation
        self._covers = settings.classifier_store == "rocksdb://" and bool(self._incarnation)
        self._covered: dict[int, int] = {}
        self._store_id = replay_cover.store_id(self._dir) if self._covers else ""
        if not self._covers:
            replay_cover.forget(self._dir)

    def record(self, positions: Mapping[Any, int]) -> None:
        """The local store now holds every event below these positions (RocksDB writes
        are synchronous): the relay may leave them out of a replay (runtime/covered.py)."""
        if not self._covers or not positions:
            return
        for tp, offset in positions.items():
            self._covered[tp.partition] = offset
        replay_cover.write(
            self._dir, replay_cover.Covered(self._store_id, self._incarnation, self._covered)
        )
