"""The poller's I/O: vendor API clients, the SQLite state, the ingest poster."""
