"""Kafka topic names: the contract between services."""

from __future__ import annotations

EVENTS = "partnerpulse.events"  # canonical events, keyed by canonical client id
DLQ = "partnerpulse.dlq"  # raw payloads that could not be processed, with the reason
WORK = "partnerpulse.work"  # labelled work items
SIGNALS = "partnerpulse.signals"  # behaviour signals
HEALTH = "partnerpulse.health"  # per-client health snapshots

ALL = (EVENTS, DLQ, WORK, SIGNALS, HEALTH)

# Headers on every record, Kafka Connect style for errors (`__connect.errors.*`).
H_EVENT_ID = "partnerpulse.event_id"
H_SOURCE = "partnerpulse.source"
H_KIND = "partnerpulse.kind"
H_ERROR_REASON = "partnerpulse.errors.reason"
H_ERROR_MESSAGE = "partnerpulse.errors.message"
H_ERROR_STAGE = "partnerpulse.errors.stage"
H_RECEIVED_AT = "partnerpulse.received_at"
