"""Personas of the independent scenario: ConnectWise and Autotask clients."""

from __future__ import annotations

import rmm as r
import vendors as v
from vendors import at

PERSONAS = ["fjord", "grove", "heron", "ivy", "mira"]


def fjord() -> None:
    """Partner; the MSP cancelled and moved meetings at short notice, not the client."""
    r.noisy_ninja("fjord", [(1600 + i, f"FJORD-PC-{i:02d}") for i in range(1, 26)], 1.0)
    for booked, day, status, changed_h in (
        (0, 7, "Verschoben - MSP", 7.5),
        (7, 14, "Abgesagt - MSP", 8.0),
        (14, 21, "Erledigt", None),
    ):
        v.cw_schedule(
            "fjord",
            at(booked, 15),
            at(day, 10),
            1.5,
            "Quartalsgespräch",
            "Quartalsgespräch",
            status,
            tech="mkraus",
            where="Fernwartung",
            changed=at(day, changed_h) if changed_h else None,
            meeting=True,
        )
    v.cw_schedule(
        "fjord",
        at(25, 9),
        at(30, 14),
        0.5,
        "Monatstelefonat",
        "Telefonat",
        "Abgesagt - MSP",
        tech="mkraus",
        where="Fernwartung",
        changed=at(30, 13.0),
        meeting=True,
    )
    v.cw_schedule(
        "fjord",
        at(30, 13),
        at(33, 14),
        0.5,
        "Monatstelefonat",
        "Telefonat",
        "Erledigt",
        tech="mkraus",
        where="Fernwartung",
        meeting=True,
    )
    for day, summary, typ in (
        (3, "Hafenbüro WLAN langsam", "Störung"),
        (17, "Neues Diensthandy für Disponentin", "Serviceanfrage"),
        (38, "Zugriff auf Frachtportal für neuen Kollegen", "Serviceanfrage"),
    ):
        v.cw_ticket("fjord", at(day, 9), summary, typ=typ)
    # technicians open their own next step of a client's request, with no follow-up word
    v.cw_ticket(
        "fjord",
        at(5, 11),
        "Hafenbüro: zweiten Access Point montieren",
        source="",
        by="mkraus",
        tech="mkraus",
    )
    v.cw_ticket(
        "fjord",
        at(19, 11),
        "Diensthandy Disponentin: MDM-Profil einspielen",
        typ="Serviceanfrage",
        source="",
        by="tberg",
        tech="tberg",
    )
    # the client answers the vCIO's recommendations: one approved, one approved late
    v.cw_recommendation(
        "fjord", at(2, 14), at(25, 17), "Server-Austausch 2027 planen", "Genehmigt", at(9, 10)
    )
    v.cw_recommendation(
        "fjord", at(20, 14), at(34, 17), "Backup in zweites Rechenzentrum", "Genehmigt", at(33, 16)
    )
    v.health["fjord"] = "green"


def grove() -> None:
    """No-shows and cancels its reviews (Autotask QBR queue), short notice."""
    r.noisy_ninja("grove", [(1700 + i, f"GROVE-LAB-{i:02d}") for i in range(1, 21)], 0.5)
    skipped = []
    for created, due, status, changed in (
        (1, at(8, 10), 18, at(8, 10.7)),
        (9, at(20, 10), 17, at(20, 7.25)),
        (21, at(34, 14), 17, at(34, 9.0)),
    ):
        skipped.append(
            v.at_ticket(
                "grove",
                at(created, 11),
                "QBR Q4 - Grove School",
                ttype=1,
                source=2,
                prio=3,
                creator=v.AT_RES["mkraus"],
                queue=v.QBR_QUEUE,
                final_status=status,
                status_at=changed,
                extra={"dueDateTime": v.iso(due)},
            )
        )
    v.at_ticket(
        "grove",
        at(35, 11),
        "QBR Q4 - Grove School",
        ttype=1,
        source=2,
        prio=3,
        creator=v.AT_RES["mkraus"],
        queue=v.QBR_QUEUE,
        resolve_after_h=None,
        extra={"dueDateTime": v.iso(at(60, 10))},
    )
    for day, title, tt, src in (
        (5, "Smartboard Raum 4 ohne Bild", 2, 4),
        (15, "Accounts für neue Lehrkräfte", 1, -1),
        (29, "Drucker Lehrerzimmer Papierstau", 2, 4),
    ):
        v.at_ticket("grove", at(day, 8), title, ttype=tt, source=src)
    v.signals.append(
        {
            "client": "grove",
            "behaviour": "skipped_meeting",
            "evidence": [f"autotask:ticket:{t}" for t in skipped],
        }
    )
    v.health["grove"] = "yellow"


def heron() -> None:
    """Announces every new device with a procurement/onboarding ticket naming it or its user."""
    r.noisy_ninja("heron", [(1800 + i, f"HERON-PC-{i:02d}") for i in range(1, 16)], 0.5)
    v.cw_ticket(
        "heron",
        at(5, 9),
        "Neuer Laptop für Ana Silva (Einrichtung)",
        typ="Serviceanfrage",
        source="Kundenportal",
        by="Kundenportal",
        hours=1.0,
    )
    r.ninja_node("heron", 1821, "HERON-LT-21", at(8, 10), "HERON\\ana.silva", "WINDOWS_WORKSTATION")
    v.cw_ticket(
        "heron",
        at(19, 9),
        "Bestellung: Ersatz für HERON-PC-04, neuer PC HERON-PC-22",
        typ="Serviceanfrage",
        source="Kundenportal",
        by="Kundenportal",
        hours=1.0,
    )
    r.ninja_node(
        "heron", 1822, "HERON-PC-22", at(24, 10), "HERON\\jonas.meier", "WINDOWS_WORKSTATION"
    )
    v.cw_ticket(
        "heron",
        at(33, 9),
        "Onboarding neue Mitarbeiterin Clara Wolf ab Montag",
        typ="Serviceanfrage",
        source="E-Mail-Connector",
        hours=1.0,
    )
    r.ninja_node(
        "heron", 1823, "HERON-LT-23", at(37, 10), "HERON\\clara.wolf", "WINDOWS_WORKSTATION"
    )
    # ordered with the usual supplier lead time: the laptops arrive three weeks later
    v.cw_ticket(
        "heron",
        at(9, 9),
        "Bestellung: 2 neue Laptops für Außendienst (Paul Klee, Eva Roth)",
        typ="Serviceanfrage",
        source="Kundenportal",
        by="Kundenportal",
        hours=0.5,
    )
    r.ninja_node(
        "heron", 1824, "HERON-LT-24", at(30, 10), "HERON\\paul.klee", "WINDOWS_WORKSTATION"
    )
    r.ninja_node("heron", 1825, "HERON-LT-25", at(31, 10), "HERON\\eva.roth", "WINDOWS_WORKSTATION")
    for day, summary in ((12, "Plotter druckt Pläne verschoben"), (28, "CAD-Lizenz abgelaufen")):
        v.cw_ticket("heron", at(day, 9), summary)
    # MSP-initiated proactive tickets a technician enters by hand
    v.cw_ticket(
        "heron",
        at(14, 7),
        "Firmware-Update Firewall HERON-FW-01 (Wartungsfenster)",
        typ="Wartung",
        source="",
        by="tberg",
        tech="tberg",
        work_type="Wartung",
    )
    v.cw_ticket(
        "heron",
        at(40, 7),
        "Lifecycle: 4 PCs älter als 5 Jahre, Austausch planen",
        typ="Wartung",
        source="",
        by="lvogt",
        work_type="Wartung",
    )
    v.health["heron"] = "green"


def ivy() -> None:
    """New devices and a remote-access tool appear with only unrelated requests before them."""
    r.noisy_ninja("ivy", [(1900 + i, f"IVY-BO-{i:02d}") for i in range(1, 6)], 0.4)
    v.cw_ticket("ivy", at(3, 9), "Passwort zurücksetzen Kasse 2", typ="Serviceanfrage")
    v.cw_ticket(
        "ivy",
        at(9, 9),
        "Bitte Adobe Reader Update auf IVY-BO-02 installieren",
        typ="Serviceanfrage",
    )
    r.ninja_node("ivy", 1907, "IVY-POS-07", at(11, 15), "IVY\\kasse7", "WINDOWS_WORKSTATION")
    v.cw_ticket("ivy", at(20, 9), "Papierstau Bondrucker Filiale Nord")
    r.ninja_node("ivy", 1908, "IVY-LT-08", at(25, 18), "IVY\\owner", "WINDOWS_WORKSTATION")
    r.ninja_software("ivy", 1901, "IVY-BO-01", at(29, 20), "AnyDesk")
    v.cw_ticket("ivy", at(35, 9), "Kassensystem langsam beim Tagesabschluss")
    v.signals.append(
        {
            "client": "ivy",
            "behaviour": "unannounced_change",
            "evidence": ["ninjaone:device:1907", "ninjaone:device:1908", "ninjaone:device:1901"],
        }
    )
    v.health["ivy"] = "yellow"


def mira() -> None:
    """Cancels reviews by phone an hour or two before; the account manager sets the PSA
    status to plain "Abgesagt" under his own login (the usual record of it)."""
    skipped: list[str] = []
    for booked, day, status, changed_h in (
        (0, 9, "Abgesagt", 8.0),
        (10, 23, "Abgesagt", 9.0),
        (24, 37, "Erledigt", None),
    ):
        sid = v.cw_schedule(
            "mira",
            at(booked, 15),
            at(day, 10),
            1.0,
            "Quartalsgespräch",
            "Quartalsgespräch",
            status,
            tech="mkraus",
            where="Fernwartung",
            changed=at(day, changed_h) if changed_h else None,
            meeting=True,
        )
        if status == "Abgesagt":
            skipped.append(f"connectwise:schedule:{sid}")
    v.signals.append({"client": "mira", "behaviour": "skipped_meeting", "evidence": skipped})
    v.cw_ticket("mira", at(15, 9), "Kassenscanner liest keine Brillenpässe")
    v.health["mira"] = "yellow"
