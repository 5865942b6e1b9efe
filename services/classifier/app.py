"""The classifier's entrypoint: canonical events in; work, signals and health out.

`create_app` builds one worker (services/classifier/bootstrap.py wires it):
- the pure domain: `Engine` (engine.py) folds an event into its client's state
  (folding.py) and judges a client (detectors.py, health.py, emit.py);
  `ScheduleJoin` (domain/schedule_join.py) gives ConnectWise schedule entries their
  ticket's client, or parks them until the ticket arrives;
- `Processor` (processor.py, no faust): batches of raw events folded, judged, their
  outputs queued, bad events dead-lettered; client states in `ClientStates`
  (states.py) over the state table (layout.py);
- `Agent` (agent.py): the faust agent, its timers, offsets, checkpoints and
  rebalances, over the app of transport.py and the tables of tables.py;
- the HTTP views (views.py, queries.py, peers.py, report_views.py), apart from both.
"""

from __future__ import annotations

from services.classifier.bootstrap import bootstrap
from services.classifier.service import Classifier
from services.classifier.settings import ClassifierSettings
from services.events.tenant import Tenant


def create_app(settings: ClassifierSettings, tenant: Tenant, kafka_bootstrap: str) -> Classifier:
    return bootstrap(settings, tenant, kafka_bootstrap)
