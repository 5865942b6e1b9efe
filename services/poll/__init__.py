"""The poller: reads what webhooks do not deliver from the vendors' REST APIs and posts it
to ingest as deliveries, so journal, dedupe, DLQ and metrics apply (issue 14)."""
