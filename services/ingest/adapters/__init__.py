"""Vendor adapters: one module per source, each exporting `ADAPTER`."""

from __future__ import annotations

from services.events.models import Source
from services.ingest.adapters import (
    autotask,
    canonical,
    connectwise,
    dattormm,
    halopsa,
    ninjaone,
    tacticalrmm,
)
from services.ingest.adapters.base import VendorAdapter

ADAPTERS: dict[Source, VendorAdapter] = {
    module.ADAPTER.source: module.ADAPTER
    for module in (connectwise, autotask, halopsa, ninjaone, dattormm, tacticalrmm, canonical)
}
assert set(ADAPTERS) == set(Source), "every source needs an adapter"
