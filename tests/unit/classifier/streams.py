"""Realistic multi-client canonical streams with known behaviour, for tests and the bench.

- acme: reports through technicians directly (direct_to_tech), otherwise ordinary;
- globex: reports problems late (RMM alerts hours before its tickets);
- vandelay: a partner (service desk, mostly proactive work, nothing to flag).
"""

from __future__ import annotations

import random

from services.events.models import CanonicalEvent

from .factory import DESK, RMM, TECH, alert, at, device_change, meeting, ticket, time_entry, visit

DIRECT = "acme"
LATE = "globex"
PARTNER = "vandelay"


def three_clients(
    days: int = 60, seed: int = 1, names: tuple[str, str, str] = (DIRECT, LATE, PARTNER)
) -> list[CanonicalEvent]:
    """The three habits, by the clients `names` (direct-to-tech, late, partner)."""
    rng = random.Random(seed)
    events: list[CanonicalEvent] = []
    direct, late, _ = names
    for day in range(days):
        for client in names:
            n = f"{client}-{day}"
            # Planned work every client gets: patching and monitoring.
            events += [
                ticket(
                    f"pm-{n}",
                    at(day, 8),
                    client=client,
                    nature="maintenance",
                    channel="scheduled",
                    entered_by=RMM,
                ),
                time_entry(f"tpm-{n}", at(day, 9), 1.5, ticket_id=f"pm-{n}", client=client),
            ]
            if day % 7 == 3:
                events.append(
                    visit(
                        f"v-{n}",
                        at(day, 13),
                        booked=at(day - 5),
                        ticket_id=f"pm-{n}",
                        client=client,
                    )
                )
            if day % 3 == 0:
                # One break/fix request in three days, through each client's habit.
                device = f"{client}-pc-{rng.randrange(20)}"
                created = at(day, 10 + rng.random() * 6)
                if client == direct:
                    events.append(
                        ticket(f"i-{n}", created, client=client, channel="phone", entered_by=TECH)
                    )
                elif client == late:
                    events.append(alert(f"a-{n}", at(day - 1, 9), device=device, client=client))
                    events.append(ticket(f"i-{n}", created, client=client, devices=[device]))
                else:
                    events.append(
                        ticket(f"i-{n}", created, client=client, channel="portal", entered_by=DESK)
                    )
                events.append(
                    time_entry(f"ti-{n}", at(day, 17), 0.5, ticket_id=f"i-{n}", client=client)
                )
    return events


def shuffled_within(
    events: list[CanonicalEvent], window: int, seed: int = 2
) -> list[CanonicalEvent]:
    """Deliveries out of order within a sliding window, as vendors and networks do."""
    rng = random.Random(seed)
    out = list(events)
    for i in range(0, len(out), window):
        chunk = out[i : i + window]
        rng.shuffle(chunk)
        out[i : i + window] = chunk
    return out


def large_client_day(
    client: str, day: int, per_day: int, endpoints: int, start_day: float = 0
) -> list[CanonicalEvent]:
    """A large client's ordinary day: mostly monitoring alerts over its endpoints, tickets
    with their time, a few visits and new devices, a weekly meeting; `per_day` events."""
    d = start_day + day
    events: list[CanonicalEvent] = []
    for i in range(per_day // 6):
        tid = f"{client}-{day}-{i}"
        events.append(ticket(tid, at(d, 8 + i % 9), client=client, channel="email"))
        events.append(time_entry(f"t{tid}", at(d, 9 + i % 8), 0.5, ticket_id=tid, client=client))
    for i in range(per_day // 60):
        tid = f"{client}-{day}-{i}"
        events.append(visit(f"v{tid}", at(d, 10), booked=at(d - 7), ticket_id=tid, client=client))
        events.append(device_change(f"c{tid}", at(d, 11), client=client))
    if day % 7 == 0:
        events.append(meeting(f"m{client}-{day}", at(d, 15), client=client))
    n = 0
    while len(events) < per_day:
        device = f"{client}-ws-{(day * per_day + n) % endpoints:05d}"
        events.append(alert(f"a{client}-{day}-{n}", at(d, n % 24), device=device, client=client))
        n += 1
    return events
