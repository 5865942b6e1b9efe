"""The classifier's pure domain rules that stand apart from the engine's fold.

`schedule_join`: ConnectWise schedule entries joined to their ticket's client, or
parked until the ticket arrives, behind the ports `TicketOwners` and `Parking`.
Nothing here imports faust, Kafka or HTTP (tests/unit/classifier/test_shape.py).
"""
