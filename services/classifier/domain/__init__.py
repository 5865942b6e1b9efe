"""The classifier's pure domain: events folded into a client's state, work labelled,
behaviours detected, health scored; no faust, Kafka, HTTP or clock of its own (the
watermark and the wall clock are passed in). tests/unit/classifier/test_shape.py checks
that these modules import only the standard library, orjson, `services.events` and each
other.

- `engine`: the composition the processor calls (`apply` an event, `judge` a client);
- `folding` (events into records), `state` (a client's records), `layout` (a state as
  bounded changelog records), `daily` (per-day totals kept 400 days), `times`;
- `labels` (proactive or reactive, and why), `devices` (one device across PSA and RMM),
  `words`, `announcing` (a ticket that announces a change);
- `detectors` and `late` (the behaviours and their evidence), `review_cadence`, `emit`
  (episodes into signals), `health` (the score and band);
- `schedule_join`: ConnectWise schedule entries joined to their ticket's client, or
  parked until the ticket arrives, behind the ports `TicketOwners` and `Parking`.
"""
