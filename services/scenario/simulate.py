"""From a seed to a scenario: the MSP, its clients, their records, the deliveries, the truth.

Deterministic: the same configuration gives the same bytes. Each client is
played once, with its own random stream; the truth is what its persona meant
(`truth`), so a client is not replayed until it looks clear-cut: some are
ambiguous on purpose. The `hard` profile makes every client a hard case of
issue 12 (`personas.HARD_CASES`).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from services.events.models import Channel, Nature, Priority, Source
from services.events.outputs import Band, Behaviour, Initiator
from services.scenario import truth as truths
from services.scenario import vendors
from services.scenario.model import PSAS, RMMS, ClientWorld, EnteredBy, Records, Ticket
from services.scenario.personas import HardCase, Persona, choose_personas, hard_personas
from services.scenario.play import ClientPlay, Context, next_psa_id
from services.scenario.rhythm import local_midnight
from services.scenario.vendors import apis, reviews
from services.scenario.vendors.common import Emission, WriterSettings, iso_z
from services.scenario.vendors.picklists import tenant_mappings
from services.scenario.world import (
    Ids,
    client_names,
    make_client,
    make_uuid,
    technicians,
    tenant_accepts,
    tenant_document,
)

DEFAULT_START = date(2026, 1, 5)
TENANT_ID = "sim-msp"
PROFILES = ("standard", "hard")


@dataclass(frozen=True)
class SimulationConfig:
    clients: int = 20
    days: int = 90
    seed: int = 1
    start: date = DEFAULT_START
    max_endpoints: int = 150  # clients manage between 12 (20 with a habit) and this many
    retry_share: float = 0.03  # deliveries a vendor sends twice
    delay_share: float = 0.03  # deliveries held back minutes to hours (out of order)
    profile: str = "standard"  # "hard": every client a hard case of issue 12
    # api: the vendors' APIs hold what no webhook carries (api.jsonl), and `lost_share`
    # of the webhooks never arrive; without: a pretend poller posts canonical events.
    api: bool = False
    lost_share: float = 0.2

    def __post_init__(self) -> None:
        if self.profile not in PROFILES:
            raise ValueError(f"profile: one of {', '.join(PROFILES)}, not {self.profile!r}")
        if self.clients < 1:
            raise ValueError("clients: at least 1")
        if not 7 <= self.days <= 365:
            raise ValueError("days: between 7 and 365")
        if not 25 <= self.max_endpoints <= 5000:
            raise ValueError("max_endpoints: between 25 and 5000")
        if not 0 <= self.lost_share < 1:
            raise ValueError("lost_share: at least 0, below 1")


@dataclass
class Scenario:
    config: SimulationConfig
    tenant: dict[str, Any]
    deliveries: list[dict[str, Any]]
    truth: dict[str, Any]
    clients: list[ClientWorld]
    personas: dict[str, Persona]
    records: Records = field(repr=False)
    start: datetime
    end: datetime
    api: list[dict[str, Any]] = field(default_factory=list, repr=False)  # api.jsonl lines


def key_port(seed: int) -> int:
    """The loopback port of ConnectWise's key_url: fixed per scenario, since it is in
    the bodies; spread over a range so two scenarios rarely share one."""
    return 18100 + seed % 800


def simulate(config: SimulationConfig) -> Scenario:
    rng = random.Random(f"partnerpulse-scenario:{config.seed}")
    start = local_midnight(config.start)
    end = start + timedelta(days=config.days)
    ids = Ids()
    ctx = Context(TENANT_ID, start, end, ids, technicians(TENANT_ID))
    if config.profile == "hard":
        personas = hard_personas(config.clients)
    else:
        personas = choose_personas(rng, config.clients, config.days)
    names = client_names(config.clients + 1, rng)
    psas = _spread(rng, PSAS, config.clients)
    rmms = _spread(rng, RMMS, config.clients)
    records = Records()
    clients: list[ClientWorld] = []
    for index, persona in enumerate(personas):
        # Only NinjaOne reports new devices and software: the habit needs it to show.
        shows_changes = persona.shows(Behaviour.unannounced_change)
        rmm = persona.rmm or (Source.ninjaone if shows_changes else rmms[index])
        psa = persona.psa or psas[index]
        client, played = _play_client(ctx, config, index, names[index], persona, psa, rmm)
        clients.append(client)
        records.extend(played)
    records.tickets.append(_prospect_ticket(ctx, config, names[-1], psas[0]))

    settings = WriterSettings(
        tenant_id=TENANT_ID,
        key_url=f"http://127.0.0.1:{key_port(config.seed)}/v4_6_release/apis/3.0/system/"
        f"callbackkey/{TENANT_ID}",
        autotask_webhook_guid=make_uuid(rng),
        end=end,
    )
    sent, api = vendors.emissions(settings, records, api=config.api)
    if config.api and config.lost_share:
        lost_rng = random.Random(f"partnerpulse-lost:{config.seed}")
        sent, failed_callouts = apis.lose(sent, lost_rng, config.lost_share)
        api += failed_callouts
    deliveries = _schedule(sent, rng, config)
    by_client = {c.id: p for c, p in zip(clients, personas, strict=True)}
    meeting_sides = tenant_accepts("meeting_sides")
    mappings = tenant_mappings(meeting_sides=meeting_sides)
    for source, picklists in reviews.review_mappings(meeting_sides).items():
        mappings[source] |= picklists  # QBR tickets (vendors/reviews.py)
    if config.api:  # the time entries' work types, as the poller reads them
        for source, picklist in apis.work_type_mappings().items():
            mappings[source]["work_type"] = picklist
    return Scenario(
        config=config,
        tenant=tenant_document(TENANT_ID, clients, mappings),
        deliveries=deliveries,
        truth=_truth(records, clients, by_client),
        clients=clients,
        personas=by_client,
        records=records,
        start=start,
        end=end,
        api=sorted(api, key=lambda a: (a["at"], a["source"], a["entity"], a["id"])),
    )


def _spread(rng: random.Random, options: tuple[Source, ...], count: int) -> list[Source]:
    """Every option about equally often, in a random order."""
    cycle = list(options) * math.ceil(count / len(options))
    rng.shuffle(cycle)
    return cycle[:count]


def _endpoints(rng: random.Random, persona: Persona, most: int) -> int:
    """Log-uniform: many small clients, a few large ones. A client with a habit has at
    least 20, so its habit's tickets stay a share of its work, not all of it."""
    low = 20 if persona.habits or persona.reformed else 12
    return round(math.exp(rng.uniform(math.log(low), math.log(most))))


def _play_client(
    ctx: Context,
    config: SimulationConfig,
    index: int,
    name: str,
    persona: Persona,
    psa: Source,
    rmm: Source,
) -> tuple[ClientWorld, Records]:
    """The client, played once: what it does is what its persona meant."""
    rng = random.Random(f"partnerpulse-client:{config.seed}:{index}")
    locale = "en"
    if psa is Source.connectwise and HardCase.multilingual in persona.hard:
        locale = rng.choice(("de", "fr"))
    client = make_client(
        index,
        name,
        persona.label,
        persona.habits,
        persona.reformed,
        _endpoints(rng, persona, config.max_endpoints),
        psa,
        rmm,
        rng,
        ctx.ids,
        locale=locale,
        co_managed=HardCase.co_managed in persona.hard,
    )
    return client, ClientPlay(ctx, client, persona, rng).run()


def _prospect_ticket(ctx: Context, config: SimulationConfig, name: str, psa: Source) -> Ticket:
    """A ticket for a company the tenant file does not name yet (accepted and flagged)."""
    rng = random.Random(f"partnerpulse-prospect:{config.seed}")
    prospect = make_client(
        config.clients + 50,
        name,
        "prospect",
        frozenset(),
        frozenset(),
        5,
        psa,
        Source.dattormm,
        rng,
        ctx.ids,
    )
    created = ctx.start + timedelta(days=config.days / 2, hours=3)
    return Ticket(
        client=prospect,
        source=psa,
        id=next_psa_id(ctx.ids, psa, "ticket"),
        created_at=created,
        summary="Quote request: managed services for 5 PCs",
        nature=Nature.request,
        channel=Channel.email if psa is not Source.autotask else Channel.portal,
        initiator=Initiator.service_desk,
        entered_by=EnteredBy.intake,
        technician=ctx.technicians[0],
        priority=Priority.low,
        contact=prospect.contacts[0],
        known_client=False,
    )


def _schedule(
    sent: list[Emission], rng: random.Random, config: SimulationConfig
) -> list[dict[str, Any]]:
    """When each body is sent: seconds after the event, some held back (out of order),
    some sent twice (a vendor retry)."""
    timed: list[tuple[datetime, int, Emission]] = []
    for index, emission in enumerate(sorted(sent, key=lambda e: (e.at, e.source, e.body))):
        at = emission.at + timedelta(seconds=rng.uniform(1, 20))
        if rng.random() < config.delay_share:
            at += timedelta(minutes=rng.uniform(5, 360))
        timed.append((at, index, emission))
        if rng.random() < config.retry_share:
            timed.append((at + timedelta(seconds=rng.uniform(2, 90)), index, emission))
    timed.sort(key=lambda t: (t[0], t[1]))
    return [
        {
            "seq": seq,
            "at": iso_z(at),
            "source": str(emission.source),
            "headers": {
                "content-type": "application/x-ndjson"
                if emission.body.count("\n") > 1 and emission.source is Source.canonical
                else "application/json"
            },
            "body": emission.body,
        }
        for seq, (at, _, emission) in enumerate(timed, start=1)
    ]


def _truth(
    records: Records, clients: list[ClientWorld], personas: dict[str, Persona]
) -> dict[str, Any]:
    """truth.json from the personas' intent (see `truth`)."""
    shown = truths.shown_habits(records.evidence)
    health: dict[str, Band] = {
        c.id: personas[c.id].band_for(shown.get(c.id, frozenset())) for c in clients
    }
    return truths.truth_document(
        work=truths.work_labels(records),
        signals=truths.signals(records.evidence),
        health=health,
        personas={c.id: personas[c.id].label for c in clients},
    )
