"""Memory the classifier's client states hold per kept event (docs/classifier.md, "Sizing").

Folds `bench.classifier`'s backlog into one state per client with the real `Engine`,
judges every client once, and reports what `tracemalloc` says the states hold, per
event: what a worker keeps in memory for the clients of its partitions, on top of its
fixed cost (faust, RocksDB, buffers).

    .venv/bin/python -m bench.state_memory --events 60000 --clients 100
"""

from __future__ import annotations

import argparse
import gc
import tempfile
import tracemalloc
from pathlib import Path

from bench.classifier import backlog, write_tenant
from services.classifier.domain.engine import Engine
from services.classifier.domain.state import ClientState
from services.classifier.domain.times import ts
from services.events.tenant import load_tenant


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--events", type=int, default=60000)
    parser.add_argument("--clients", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        tenant = load_tenant(write_tenant(Path(work) / "tenant.yaml", args.clients))
    events = backlog(args.clients, args.events, seed=1)
    engine = Engine(tenant)
    gc.collect()
    tracemalloc.start()
    states: dict[str, ClientState] = {}
    watermark = 0.0
    for event in events:
        state = states.setdefault(event.client_id, ClientState(event.client_id))
        engine.apply(state, event, watermark)
        watermark = max(watermark, ts(event.occurred_at))
    for state in states.values():
        engine.judge(state, tenant.tenant, watermark, watermark)
    gc.collect()
    held, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(
        f"{len(events)} events of {len(states)} clients: the states hold "
        f"{held / 2**20:.1f} MiB, {held / len(events):.0f} bytes per event"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
