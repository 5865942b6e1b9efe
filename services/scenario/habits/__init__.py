"""One client played through a scenario, one module per habit (as the detectors are).

- `catalogue`: the words of the world (summaries, alerts, recommendations);
- `base`: the play's state and its record builders (tickets, work, visits, alerts);
- `planned_work`: the MSP's planned work and visits;
- `service_desk`: client demand and every client ticket, with its evidence;
- `monitoring`: RMM noise, monitoring tickets, NinjaOne activity;
- `direct_to_tech`, `late_reporting`, `skipped_meeting`, `ignored_recommendation`,
  `unannounced_change`: each habit, as the persona means it;
- `hard_cases`: the issue-12 cases that are no habit (site alerts, co-managed
  staff, technicians' follow-ups).

`services.scenario.play.ClientPlay` puts them together in the order they must run.
"""
