"""What a classifier worker's local store already holds, for a replay into a new broker.

The embedded broker keeps nothing across restarts, so `partnerpulse up` has the relay
send the journal again into the new broker. A classifier worker whose tables live in
RocksDB already holds every event it folded before: replaying them costs a read and a
duplicate check each, which for a long history is most of a restart. So at each
checkpoint a worker writes `covered.json` in its data dir: the broker incarnation and,
per events partition, the offset below which everything is folded into its local store
(the positions it records), with the id of that store. The relay, replaying, leaves out
the rows it had placed below those offsets in that incarnation, and remembers them as
covered for later replays.

Only one worker's file may steer a replay: with several workers, a partition may be
assigned after the restart to a worker that never held it, which needs every row, so
with more than one `covered.json` (or none) everything is replayed as before.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

FILE = "covered.json"
STORE_ID_FILE = "store-id"


@dataclass(frozen=True)
class Covered:
    store: str  # the id of the local store that holds the events
    incarnation: str  # of the broker the offsets belong to
    partitions: dict[int, int]  # events partition -> next offset not yet covered


def store_id(worker_dir: Path) -> str:
    """The id of the store in `worker_dir`, made with it (a wiped store gets a new one)."""
    path = worker_dir / STORE_ID_FILE
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        worker_dir.mkdir(parents=True, exist_ok=True)
        value = uuid.uuid4().hex
        _replace(path, value)
        return value


def write(worker_dir: Path, covered: Covered) -> None:
    body = {
        "store": covered.store,
        "incarnation": covered.incarnation,
        "partitions": {str(p): o for p, o in sorted(covered.partitions.items())},
    }
    _replace(worker_dir / FILE, json.dumps(body))


def forget(worker_dir: Path) -> None:
    """This worker keeps no store across restarts (memory tables): it covers nothing."""
    (worker_dir / FILE).unlink(missing_ok=True)


def for_replay(data_dir: Path) -> Covered | None:
    """The one worker's covered offsets, or None when a replay must send everything."""
    files = sorted((data_dir / "classifier").glob(f"*/{FILE}"))
    if len(files) != 1:
        if files:
            log.info("%d classifier workers keep stores: replaying every row", len(files))
        return None
    try:
        raw = json.loads(files[0].read_text())
        store_file = files[0].parent / STORE_ID_FILE
        if store_file.read_text().strip() != raw["store"]:
            return None  # the store was replaced after the file was written
        return Covered(
            store=str(raw["store"]),
            incarnation=str(raw["incarnation"]),
            partitions={int(p): int(o) for p, o in raw["partitions"].items()},
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("ignoring %s (%s): replaying every row", files[0], exc)
        return None


def _replace(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
