"""Kafka plumbing shared by services: topic creation, producer and consumer settings."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable

from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

log = logging.getLogger(__name__)


def ensure_topics(
    bootstrap: str,
    topics: Iterable[str],
    *,
    partitions: int = 4,
    replication_factor: int = 1,
    timeout: float = 30.0,
) -> None:
    """Create the topics that do not exist yet (explicitly: never rely on auto-creation)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="partnerpulse-admin")
            break
        except KafkaError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    try:
        existing = set(admin.list_topics())
        missing = [t for t in topics if t not in existing]
        if missing:
            try:
                admin.create_topics(
                    [NewTopic(t, partitions, replication_factor) for t in missing],
                    timeout_ms=int(timeout * 1000),
                )
            except TopicAlreadyExistsError:
                pass
            log.info("created topics %s", ", ".join(missing))
    except KafkaError as exc:
        raise RuntimeError(f"could not create topics on {bootstrap}: {exc}") from exc
    finally:
        admin.close()
