"""The simulated MSP: its technicians, its clients and their devices, and its tenant file.

Each client is on one PSA (ConnectWise, Autotask or HaloPSA) and one RMM
(NinjaOne, Datto RMM or Tactical RMM), as if the MSP had grown by merging
shops that each kept their tools. The tenant file names them the way each
system does, maps the picklist values this MSP uses, and holds test secrets.
"""

from __future__ import annotations

import base64
import hashlib
import random
import re
import uuid
from datetime import datetime
from functools import cache
from typing import Any

from services.events.models import Source
from services.events.tenant import TenantConfigError, parse_tenant
from services.scenario.model import ClientWorld, CoManagedStaff, Contact, Device, Person

TECHNICIANS = (
    Person("Sam Tech", "sam.tech@{msp}", "stech", "29682844", "4"),
    Person("Rita Onsite", "rita.onsite@{msp}", "ronsite", "29682845", "5"),
    Person("Jon Morgan", "jon.morgan@{msp}", "jmorgan", "29682846", "6"),
    Person("Priya Nair", "priya.nair@{msp}", "pnair", "29682847", "7"),
    Person("Leo Brandt", "leo.brandt@{msp}", "lbrandt", "29682848", "8"),
    Person("Mia Santos", "mia.santos@{msp}", "msantos", "29682849", "9"),
)
VCIO = Person("Vera Lead", "vera.lead@{msp}", "vlead", "29682850", "10")

# How each PSA names its service-desk intake paths and its RMM integration.
INTAKE = {
    Source.connectwise: ["Email Connector", "Portal", "helpdesk"],
    Source.autotask: ["29682800"],
    Source.halopsa: ["1"],
}
AUTOMATION = {
    Source.connectwise: ["RMM Integration"],
    Source.autotask: ["29682801"],
    Source.halopsa: ["2"],
}

REMOTE_TOOLS = ["TeamViewer", "AnyDesk", "ScreenConnect", "Splashtop", "LogMeIn", "RustDesk"]

_PREFIXES = (
    "Acme", "Globex", "Initech", "Umbrella", "Stark", "Wayne", "Hooli", "Vandelay",
    "Soylent", "Tyrell", "Cyberdyne", "Wonka", "Gringotts", "Oceanic", "Pied Piper",
    "Massive", "Dunder", "Sterling", "Bluth", "Prestige", "Monarch", "Aperture",
    "Black Mesa", "Nakatomi", "Rekall", "Duff", "Krusty", "Oscorp", "Virtucon", "Wernham",
)  # fmt: skip
_TRADES = (
    "Dental", "Logistics", "Legal", "Pharmacy", "Fabrication", "Accounting", "Clinic",
    "Realty", "Architects", "Bakery", "Insurance", "Veterinary", "Engineering", "Foods",
    "Travel", "Print", "Marine", "Freight", "Optics", "Labs",
)  # fmt: skip
_FIRST = ("Dana", "Chris", "Alex", "Jordan", "Robin", "Taylor", "Morgan", "Casey", "Jamie", "Pat")
_LAST = ("Reyes", "Kim", "Novak", "Okafor", "Schmidt", "Rossi", "Larsen", "Dubois", "Ito", "Haas")
_SITES = ("Main", "Warehouse", "Downtown", "North", "Lab", "Annex")
_LEADS = (("Alice Lead", "alice.lead"), ("Bob Lead", "bob.lead"), ("Carol Lead", "carol.lead"))


def msp_domain(tenant_id: str) -> str:
    return f"{tenant_id}.example"


def technicians(tenant_id: str) -> list[Person]:
    domain = msp_domain(tenant_id)
    return [
        Person(p.name, p.email.format(msp=domain), p.connectwise, p.autotask, p.halopsa)
        for p in (*TECHNICIANS, VCIO)
    ]


def client_names(count: int, rng: random.Random) -> list[str]:
    names = [f"{p} {t}" for t in _TRADES for p in _PREFIXES]
    rng.shuffle(names)
    if count > len(names):
        names += [f"Client {i:04d}" for i in range(count - len(names))]
    return names[:count]


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def make_uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def make_client(
    index: int,
    name: str,
    persona: str,
    habits: frozenset[Any],
    reformed: frozenset[Any],
    endpoints: int,
    psa: Source,
    rmm: Source,
    rng: random.Random,
    ids: Ids,
    *,
    locale: str = "en",
    co_managed: bool = False,
) -> ClientWorld:
    client_id = slug(name)
    domain = f"{client_id.replace('-', '')}.example"
    company_id = 250 + index if psa is Source.connectwise else 0
    if psa is Source.autotask:
        company_id = 29683 + index
    elif psa is Source.halopsa:
        company_id = 12 + index
    identifier = re.sub(r"[^A-Za-z0-9]", "", name)[:20]
    rmm_org = {
        Source.ninjaone: str(3 + index),
        Source.dattormm: make_uuid(rng),
        Source.tacticalrmm: name,
    }[rmm]
    sites = ["Main", *rng.sample(_SITES[1:], k=rng.choice((0, 0, 1, 2)))]
    contacts = [
        Contact(
            f"{first} {last}",
            f"{first.lower()}.{last.lower()}@{domain}",
            30000 + index * 100 + i,
        )
        for i, (first, last) in enumerate(
            zip(rng.sample(_FIRST, 3), rng.sample(_LAST, 3), strict=True)
        )
    ]
    prefix = re.sub(r"[^A-Z]", "", identifier.upper())[:4] or "CLT"
    servers = max(1, endpoints // 15)
    devices = [
        new_device(
            rng,
            ids,
            rmm,
            f"{prefix}-{'SRV' if i < servers else 'WS'}{i:03d}",
            sites[0] if i < servers else rng.choice(sites),
            i < servers,
        )
        for i in range(endpoints)
    ]
    lead_name, lead_user = _LEADS[index % len(_LEADS)]
    staff = []
    if co_managed:
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        login = {
            Source.connectwise: f"{identifier[:8].lower()}-it",
            Source.autotask: str(29683700 + index),
            Source.halopsa: str(200 + index),
        }[psa]
        staff.append(
            CoManagedStaff(f"{first} {last}", f"{first.lower()}.{last.lower()}@{domain}", login)
        )
    return ClientWorld(
        index=index,
        id=client_id,
        name=name,
        domain=domain,
        persona=persona,
        habits=habits,
        reformed=reformed,
        endpoints=endpoints,
        psa=psa,
        rmm=rmm,
        psa_company_id=company_id,
        psa_identifier=identifier,
        rmm_org=rmm_org,
        sites=sites,
        devices=devices,
        contacts=contacts,
        lead_name=lead_name,
        lead_email=f"{lead_user}@{{msp}}",
        locale=locale,
        co_managed_staff=staff,
    )


class Ids:
    """Record ids per kind, increasing as a vendor allocates them."""

    def __init__(self) -> None:
        self._next: dict[str, int] = {}

    def next(self, kind: str, first: int) -> int:
        value = self._next.get(kind, first)
        self._next[kind] = value + 1
        return value


def new_device(
    rng: random.Random,
    ids: Ids,
    rmm: Source,
    hostname: str,
    site: str,
    server: bool,
    added_at: datetime | None = None,
) -> Device:
    """A device as its RMM names it, and its asset in the PSA: the two systems never share
    ids (issue 12, rule 3), only the host name."""
    if rmm is Source.ninjaone:
        rmm_id = str(ids.next("ninjaone:device", 1041))
    elif rmm is Source.dattormm:
        rmm_id = make_uuid(rng)
    else:
        rmm_id = base64.b64encode(rng.randbytes(15)).decode().replace("/", "x").replace("+", "y")
    asset_id = ids.next("psa:asset", 70001)
    return Device(hostname, rmm_id, asset_id, site, server, added_at)


def secret(tenant_id: str, name: str) -> str:
    return f"sim-{name}-" + hashlib.sha256(f"{tenant_id}:{name}".encode()).hexdigest()[:24]


def whsec(tenant_id: str) -> str:
    raw = hashlib.sha256(f"{tenant_id}:canonical".encode()).digest()[:24]
    return "whsec_" + base64.b64encode(raw).decode()


_PROBE_CLIENT = {"id": "probe", "name": "Probe", "account_lead": {"name": "L", "email": "l@x.io"}}


@cache
def tenant_accepts(setting: str) -> bool:
    """Whether this project's tenant file accepts a setting of issue 12 yet: `co_managed_staff`
    (per client) or `meeting_sides` (meeting statuses mapped to cancelled_by_msp and
    cancelled_by_client). The simulator writes them once the tenant file can hold them."""
    document: dict[str, Any] = {"tenant": "probe", "clients": [dict(_PROBE_CLIENT)]}
    if setting == "co_managed_staff":
        document["clients"][0]["co_managed_staff"] = [
            {"email": "it@x.io", "psa_ids": {"connectwise": ["x-it"]}}
        ]
    else:
        document["mappings"] = {
            "connectwise": {
                "meeting_status": {
                    "values": {"a": "cancelled_by_msp", "b": "cancelled_by_client"},
                    "default": "scheduled",
                }
            }
        }
    try:
        parse_tenant(document)
    except (TenantConfigError, ValueError):
        return False
    return True


def _client_entry(client: ClientWorld, domain: str, co_managed: bool) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "id": client.id,
        "name": client.name,
        "account_lead": {"name": client.lead_name, "email": client.lead_email.format(msp=domain)},
        "endpoints": client.endpoints,
        "identities": {str(s): ids for s, ids in client.source_ids().items()},
        "contacts": [contact.email for contact in client.contacts],
        "email_domains": [client.domain],
    }
    if co_managed and client.co_managed_staff:
        entry["co_managed_staff"] = [
            {"email": staff.email, "psa_ids": {str(client.psa): [staff.psa_id]}}
            for staff in client.co_managed_staff
        ]
    return entry


def tenant_document(
    tenant_id: str, clients: list[ClientWorld], mappings: dict[str, Any]
) -> dict[str, Any]:
    """The tenant file the pipeline runs the scenario with (a plain YAML mapping)."""
    domain = msp_domain(tenant_id)
    people = technicians(tenant_id)
    co_managed = tenant_accepts("co_managed_staff")
    return {
        "tenant": tenant_id,
        "clients": [_client_entry(c, domain, co_managed) for c in clients],
        "technicians": [
            {
                "name": p.name,
                "email": p.email,
                "identities": {
                    "connectwise": [p.connectwise],
                    "autotask": [p.autotask],
                    "halopsa": [p.halopsa],
                },
            }
            for p in people
        ],
        "service_desk": {
            "emails": [f"help@{domain}"],
            "identities": {str(s): ids for s, ids in INTAKE.items()},
        },
        "automation": {"identities": {str(s): ids for s, ids in AUTOMATION.items()}},
        "mappings": mappings,
        "remote_tools": REMOTE_TOOLS,
        "webhooks": {
            # The evaluator serves ConnectWise's signing key on loopback (key_url).
            "connectwise": {"key_url_hosts": ["*.myconnectwise.net", "127.0.0.1:*"]},
            "autotask": {"secrets": [secret(tenant_id, "autotask")]},
            "halopsa": {"username": "partnerpulse", "secrets": [secret(tenant_id, "halo")]},
            "ninjaone": {"header": "x-ninja-secret", "secrets": [secret(tenant_id, "ninja")]},
            "dattormm": {"header": "x-datto-secret", "secrets": [secret(tenant_id, "datto")]},
            "tacticalrmm": {
                "header": "x-tactical-secret",
                "secrets": [secret(tenant_id, "tactical")],
            },
            "canonical": {"secrets": [whsec(tenant_id)]},
            # A scenario is history dated from its start: no age check on its vendor
            # times (a live tenant keeps it; `evaluate` turns it off for any scenario).
            "freshness": {"max_event_age_hours": None},
        },
        "classifier": {
            # This MSP's Autotask portal form writes "Computer: <hostname>" into a ticket's
            # description (Autotask's ticket webhook names its configuration item by id).
            "device_identity": {"ticket_text_hostname": r"Computer: ([A-Za-z0-9-]+)"},
        },
    }
