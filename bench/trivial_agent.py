"""The transport ceiling: a Faust agent that only counts events (`make bench-classifier`).

Same faust app settings and transport as the classifier (50 ms fetch wait), no
parsing, no state. Writes {"first": t, "last": t, "count": n, "cpu": s} once it
has seen `--expect` events (`cpu`: the process's CPU seconds between the first
and the last event).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import faust

from services.classifier.transport import BROKER_SETTINGS, ClassifierFaust
from services.events import topics


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--expect", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--app-id", default="bench-trivial")
    parser.add_argument("--web-port", type=int, default=0)
    args = parser.parse_args()

    app = ClassifierFaust(
        args.app_id,
        broker=f"kafka://{args.bootstrap}",
        store="memory://",
        datadir=str(args.out.parent / f"{args.app_id}-data"),
        **BROKER_SETTINGS,
        web_enabled=False,
    )
    source = app.topic(topics.EVENTS, key_type=bytes, value_type=bytes, value_serializer="raw")
    seen = {"count": 0, "first": 0.0, "cpu": 0.0}

    @app.agent(source)
    async def count(stream: faust.StreamT[bytes]) -> None:
        async for _ in stream:
            seen["count"] += 1
            if seen["count"] == 1:
                seen["first"], seen["cpu"] = time.time(), time.process_time()
            if seen["count"] == args.expect:
                result = {
                    "first": seen["first"],
                    "last": time.time(),
                    "count": args.expect,
                    "cpu": time.process_time() - seen["cpu"],
                }
                args.out.write_text(json.dumps(result))

    Path(app.conf.datadir).mkdir(parents=True, exist_ok=True)
    faust.Worker(app, loglevel="warning", quiet=True).execute_from_commandline()


if __name__ == "__main__":
    main()
