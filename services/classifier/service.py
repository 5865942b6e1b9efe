"""The classifier as `bootstrap` wires it: what the entrypoint runs and the views read."""

from __future__ import annotations

import gc
import logging
from dataclasses import dataclass
from pathlib import Path

import faust

from services.classifier.agent import Agent
from services.classifier.metrics import ClassifierMetrics
from services.classifier.processor import Processor
from services.classifier.publish import Publisher
from services.classifier.settings import ClassifierSettings
from services.classifier.tables import Tables
from services.events.tenant import Tenant

GC_THRESHOLDS = (50_000, 20, 10)


@dataclass
class Classifier:
    """One classifier worker: its faust app, tables, agent and processor."""

    settings: ClassifierSettings
    tenant: Tenant
    app: faust.App
    tables: Tables
    publisher: Publisher
    metrics: ClassifierMetrics
    processor: Processor
    agent: Agent

    def worker(self) -> faust.Worker:
        # The libraries' loggers at our level: otherwise aiokafka and faust build a debug
        # record for every message produced (the handler drops it), about 5% of the CPU.
        for name in ("aiokafka", "faust", "mode"):
            logging.getLogger(name).setLevel(self.settings.log_level.upper())
        Path(self.app.conf.datadir).mkdir(parents=True, exist_ok=True)
        # Everything imported and built so far lives as long as the process: out of the
        # cyclic collector's sight. The states' records are long-lived too, so collect
        # the young generation less often (CPython's 700 made the collector a third of
        # the engine's time in a backlog).
        gc.freeze()
        gc.set_threshold(*GC_THRESHOLDS)
        return faust.Worker(self.app, loglevel=self.settings.log_level.lower(), quiet=True)
