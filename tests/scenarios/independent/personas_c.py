"""Personas of the independent scenario: HaloPSA and Autotask clients, the silent one."""

from __future__ import annotations

from datetime import timedelta

import rmm as r
import vendors as v
from vendors import at

PERSONAS = ["delta", "kestrel", "birch", "larch", "juniper"]


def delta() -> None:
    """Co-managed: their IT logs tickets in Halo; our techs open their own follow-ups."""
    hosts = [f"DLT-WH-{i:02d}" for i in range(1, 21)]
    for d in range(v.DAYS):
        t = at(d, 3 + (d * 7) % 17)
        r.tactical(
            "delta",
            "Delta Freight",
            hosts[d % 20],
            t,
            t + timedelta(minutes=6 + d % 11),
            "check",
            f"{hosts[d % 20]} has a CPU Load check: above 90% that failed.",
        )
    for i, day in enumerate((1, 5, 9, 14, 18, 25, 32, 39)):
        v.halo_ticket(
            "delta",
            at(day, 8 + i % 3),
            [
                "Lagerscanner verbindet nicht",
                "Neuer Benutzer Disposition",
                "Etikettendrucker Halle 2",
                "Outlook-Signatur zentral",
                "SAP-Client Update verteilen",
                "Switch Halle 3 Port defekt",
                "Zugang Lieferantenportal",
                "Tablet Fahrer 12 sperren",
            ][i],
            ttype=1 if i % 2 == 0 else 4,
            agent=9,
            who="Priya Shah",
        )
    v.halo_ticket(
        "delta",
        at(7, 14),
        "Follow-up: toner drum replacement after last visit",
        ttype=1,
        agent=4,
        who="Max Kraus",
    )
    v.halo_ticket(
        "delta",
        at(22, 14),
        "Nachtrag: Firewall-Regel für Lagerscanner",
        ttype=1,
        agent=5,
        who="Lena Vogt",
    )
    v.halo_ticket(
        "delta",
        at(29, 13),
        "Firewall firmware update (scheduled maintenance window)",
        ttype=6,
        agent=6,
        who="Tom Berg",
        label="proactive",
        hours=1.0,
    )
    user = "k.ahn@deltafreight.example"
    for day in (11, 36):
        v.halo_ticket(
            "delta",
            at(day, 9),
            "Kann nicht drucken",
            user_email=user,
            who="K. Ahn",
        )
    v.health["delta"] = "green"


def kestrel() -> None:
    """Noisy RMM; reports promptly (alert minutes before the ticket)."""
    hosts = [f"KES-CAD-{i:02d}" for i in range(1, 21)] + ["KES-PLOT-01"]
    r.noisy_datto("kestrel", hosts, 2.0)
    r.datto_alert(
        "kestrel",
        "KES-PLOT-01",
        at(4, 8.17),
        at(4, 10),
        "Online Status Monitor",
        "Device went offline",
        "High",
    )
    v.halo_ticket(
        "kestrel",
        at(4, 8.58),
        "Plotter-PC KES-PLOT-01 offline",
        occurred=at(4, 8.1),
        user_email="office@kestrel.example",
        who="Office",
        prio=2,
    )
    r.datto_alert(
        "kestrel",
        "KES-CAD-03",
        at(22, 14),
        at(22, 17),
        "Disk Usage Monitor",
        "Disk D: usage is 96%",
        "High",
    )
    v.halo_ticket(
        "kestrel",
        at(22, 15.2),
        "KES-CAD-03 Projektlaufwerk voll",
        occurred=at(22, 14.5),
        user_email="cad@kestrel.example",
        who="CAD",
        prio=2,
    )
    v.halo_ticket(
        "kestrel",
        at(16, 10),
        "Scanner spinnt seit Montag",
        occurred=at(14, 8),
        user_email="office@kestrel.example",
        who="Office",
    )
    for day, summary in (
        (9, "New CAD workstation for intern"),
        (30, "Laptop for site visits"),
        (40, "Add user to drawings share"),
    ):
        v.halo_ticket(
            "kestrel",
            at(day, 10),
            summary,
            ttype=4,
            user_email="office@kestrel.example",
            who="Office",
        )
    v.health["kestrel"] = "green"


def birch() -> None:
    """Noisy Datto site; RMM makes tickets; the client sends service requests via the portal."""
    hosts = [f"BIRCH-LT-{i:02d}" for i in range(1, 31)]
    r.noisy_datto("birch", hosts, 2.5)
    r.datto_alert(
        "birch",
        "BIRCH-LT-05",
        at(17, 13),
        at(17, 13.3),
        "Antivirus Monitor",
        "Definitions older than 2 days",
        "Low",
    )
    v.at_ticket(
        "birch",
        at(19, 9),
        "BIRCH-LT-05: Word crashes when opening court templates",
        ttype=2,
        source=4,
    )
    for day in range(3, v.DAYS, 4):
        h = hosts[day % 30]
        r.datto_alert(
            "birch", h, at(day, 2), at(day, 5), "Disk Usage Monitor", "Disk C: usage is 94%", "High"
        )
        v.at_ticket(
            "birch",
            at(day, 2.02),
            f"Disk C: usage 94% on {h}",
            ttype=5,
            source=8,
            prio=1,
            creator=v.AT_AUTO,
            extra={"rmmAlertID": v.uid("datto", h, day)},
        )
    # the MSP's own stale alerts (AV definitions, missing patches) open on a device for days
    # before the client reports a different problem on it: not late reporting
    for a_day, t_day, r_day, h, typ, msg, title in (
        (
            5,
            15,
            18,
            "BIRCH-LT-11",
            "Antivirus Monitor",
            "Definitions older than 7 days",
            "BIRCH-LT-11: Outlook very slow",
        ),
        (
            25,
            35,
            44,
            "BIRCH-LT-23",
            "Patch Monitor",
            "12 patches missing",
            "BIRCH-LT-23 cannot print to 2nd floor printer",
        ),
    ):
        r.datto_alert("birch", h, at(a_day, 3), at(r_day, 3), typ, msg, "Moderate")
        v.at_ticket("birch", at(t_day, 9), title, ttype=2, source=4)
    for day, title, tt, src in (
        (2, "New starter Monday: laptop and accounts for J. Patel", 1, -1),
        (10, "Please set up the new meeting room display", 1, -1),
        (24, "Outlook calendar not syncing on phone", 2, 4),
        (38, "Quote for two replacement laptops", 1, -1),
    ):
        v.at_ticket("birch", at(day, 9), title, ttype=tt, source=src)
    v.health["birch"] = "green"


def larch() -> None:
    """Quiet partner; a sudden critical outage reported within minutes of the alerts."""
    hosts = [f"LRH-FRONT-{i:02d}" for i in range(1, 13)]
    for d in range(0, v.DAYS, 1):
        t = at(d, 1 + (d * 5) % 20)
        r.tactical(
            "larch",
            "Larch Hotels",
            hosts[d % 12],
            t,
            t + timedelta(minutes=4 + d % 9),
            "check",
            f"{hosts[d % 12]} has a Memory check: above 85% that failed.",
        )
    # two sudden outages, each phoned in minutes after the agents went overdue, each the
    # first ticket after two quiet weeks: prompt reports, not late ones
    outages = (
        (30, "East Wing", "Stromausfall Ostflügel - alle Rezeptions-PCs aus"),
        (44, "Main", "Internet komplett ausgefallen, keine Buchungen möglich"),
    )
    for day, site, title in outages:
        for i, h in enumerate(hosts[:6]):
            t = at(day, 6.83 + i * 0.01)
            msg = f"{h} in Larch Hotels, {site} is overdue."
            r.tactical(
                "larch", "Larch Hotels", h, t, at(day, 9.5), "availability", msg, "error", site
            )
        v.at_ticket("larch", at(day, 7.08), title, ttype=2, source=2, prio=4)
    for day, title, tt in (
        (4, "Neues Kassenterminal Bar einrichten", 1),
        (14, "WLAN Gäste Etage 3 schwach", 2),
    ):
        v.at_ticket("larch", at(day, 10), title, ttype=tt, source=4)
    v.health["larch"] = "green"


def juniper() -> None:
    """Silent client: nothing at all in 45 days."""
    v.health["juniper"] = "green"
