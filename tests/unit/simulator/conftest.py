"""Helpers for the simulator's rule tests: one client played on its own."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date, timedelta

import pytest

from services.events.models import Source
from services.scenario.model import Records
from services.scenario.personas import HardCase, Persona
from services.scenario.play import ClientPlay, Context
from services.scenario.rhythm import local_midnight
from services.scenario.world import Ids, make_client, technicians

PlayFor = Callable[..., ClientPlay]


def play_for(
    persona: Persona,
    *,
    psa: Source = Source.connectwise,
    rmm: Source = Source.ninjaone,
    days: int = 60,
    seed: int = 1,
    endpoints: int = 40,
) -> ClientPlay:
    """A client of this persona, ready to play (nothing played yet)."""
    ids = Ids()
    start = local_midnight(date(2026, 1, 5))
    ctx = Context("t", start, start + timedelta(days=days), ids, technicians("t"))
    rng = random.Random(f"test:{seed}")
    client = make_client(
        0,
        "Acme Dental",
        persona.label,
        persona.habits,
        persona.reformed,
        endpoints,
        psa,
        rmm,
        rng,
        ids,
        co_managed=HardCase.co_managed in persona.hard,
    )
    return ClientPlay(ctx, client, persona, rng)


@pytest.fixture
def make_play() -> PlayFor:
    return play_for


def evidence_of(records: Records, behaviour: object) -> list[object]:
    return [e for e in records.evidence if e.behaviour == behaviour]
