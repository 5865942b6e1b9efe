"""Scenarios: simulated MSP event streams with ground truth, and their evaluation.

A scenario (../shared/scenario-format.md) is a folder with the tenant file,
the vendor deliveries in the order sent, and the right answers. This package
writes them (`simulate`), replays them through a running pipeline and scores
what it published (`evaluate`), and shows the result to a newcomer (`demo`).

Generation is pure (a seed in, files out); replay, the stack and Kafka reads
live in their own modules so the scoring stays a pure function.

- `model`: what the simulated world is made of (clients, devices, tickets, ...);
- `world`: the MSP, its clients and its tenant file;
- `rhythm`: business hours, weekdays, seasons, patch Tuesdays;
- `personas`: the kinds of client, their habits and their volumes;
- `play`: one client played through the scenario, its records and its evidence;
- `vendors`: each vendor's webhook bodies for those records;
- `truth`: the expected labels, signals and bands, from the personas' intent;
- `files`: reading and writing scenario folders (the format contract);
- `simulate`: the whole generation, from a seed to a scenario;
- `replay`, `stack`, `collect`, `scoring`, `evaluate`, `demo`: evaluation.
"""
