"""A takeover starts warm: with N workers each keeps a standby of every other partition.

When a worker dies, the group hands its partitions to the others. Faust's assignor spreads
them for balance, not to the worker that holds a standby, so with one standby a takeover
may read the partition's whole changelog (38 s for one partition of `make bench-scale`'s
history). With N-1 standbys every worker holds every partition it does not own.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from services.classifier.bootstrap import faust_app
from services.classifier.settings import ClassifierSettings
from services.cli.stack import _classifier_specs

VAR = "PARTNERPULSE_CLASSIFIER_STANDBY_REPLICAS"


def standbys(workers: int) -> set[str]:
    return {spec.env[VAR] for spec in _classifier_specs(workers)}


def test_n_workers_keep_n_minus_one_standbys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(VAR, raising=False)
    assert standbys(3) == {"2"}
    assert standbys(2) == {"1"}
    assert standbys(1) == {"1"}  # faust's own default: ready for a second worker


def test_a_configured_number_of_standbys_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(VAR, "1")
    assert standbys(3) == {"1"}


def test_the_worker_gives_faust_its_standbys(tmp_path: Path) -> None:
    settings = ClassifierSettings(data_dir=tmp_path, classifier_standby_replicas=2)
    app = faust_app(settings, "127.0.0.1:9")
    assert app.conf.table_standby_replicas == 2
