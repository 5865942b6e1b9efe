"""Stand-ins of the vendors' REST APIs (Autotask, ConnectWise PSA, HaloPSA, NinjaOne,
Datto RMM, Tactical RMM) serving a scenario's api.jsonl on a replay clock, for tests
and evaluation. One app serves every vendor under its own prefix (`/autotask`, ...)."""
