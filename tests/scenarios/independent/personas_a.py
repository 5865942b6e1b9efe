"""Personas of the independent scenario: ConnectWise clients (1). Truth is their intent."""

from __future__ import annotations

import rmm as r
import vendors as v
from vendors import at

PERSONAS = ["alpen", "cedar", "elm"]


def alpen() -> None:
    """Good partner, noisy RMM: self-healing alerts everywhere, tickets about other things."""
    hosts = [(1100 + i, f"ALPEN-WS-{i:02d}") for i in range(1, 31)] + [(1150, "ALPEN-SRV-01")]
    r.noisy_ninja("alpen", hosts, 3.0)
    # a CPU alert on WS-05 resolved in 9 minutes, two days before an unrelated Outlook ticket
    r.ninja_alert("alpen", 1105, "ALPEN-WS-05", at(10, 11.2), at(10, 11.35), "CPU above 90%")
    reqs = [
        (2, "Neuer Laptop für Bauleiter Huber", "Serviceanfrage"),
        (6, "Drucker Büro 2 druckt streifig", "Störung"),
        (12, "Outlook-Profil defekt auf ALPEN-WS-05", "Störung"),
        (16, "Zugang für neuen Polier Schmid einrichten", "Serviceanfrage"),
        (20, "Teams-Besprechungsraum Kamera geht nicht", "Störung"),
        (27, "Zusätzlicher Monitor für Lohnbuchhaltung", "Serviceanfrage"),
        (34, "VPN bricht auf Baustellen-Laptop ab", "Störung"),
        (41, "Excel-Makro in Kalkulation fehlerhaft", "Störung"),
    ]
    for day, summary, typ in reqs:
        src = "Kundenportal" if typ == "Serviceanfrage" else "E-Mail-Connector"
        v.cw_ticket("alpen", at(day, 8.5), summary, typ=typ, source=src, by=src)
    # a prompt top-priority report after a quiet spell: the server alert is 10 minutes older
    r.ninja_alert(
        "alpen",
        1150,
        "ALPEN-SRV-01",
        at(23, 7.0),
        at(23, 9.5),
        "Device ALPEN-SRV-01 is offline",
        "CRITICAL",
        "Offline",
    )
    v.cw_ticket(
        "alpen",
        at(23, 7.17),
        "Server ALPEN-SRV-01 nicht erreichbar, niemand kann arbeiten",
        prio=1,
        source="Telefon",
        by="telefonzentrale",
        where="Vor Ort",
        hours=2.0,
        tech="tberg",
        work_type="Vor-Ort-Einsatz",
    )
    # RMM automation ticket: reactive work found by the MSP first
    v.cw_ticket(
        "alpen",
        at(30, 2.0),
        "Disk C: below 10% on ALPEN-SRV-01",
        source="Überwachung",
        by="RMM Integration",
        configs=["ALPEN-SRV-01"],
        hours=0.5,
        tech="mkraus",
    )
    # technicians' own follow-ups (German follow-up channel and words)
    v.cw_ticket(
        "alpen",
        at(24, 10.0),
        "Wiedervorlage: Backup-Job nach Serverausfall prüfen",
        typ="Wartung",
        source="Nachverfolgung",
        by="tberg",
        tech="tberg",
        work_type="Wartung",
    )
    v.cw_ticket(
        "alpen",
        at(13, 15.0),
        "Nachtrag: Druckertreiber auf ALPEN-WS-12 nachinstallieren",
        source="Nachverfolgung",
        by="lvogt",
    )
    for day in (5, 33):  # monthly maintenance visit, booked a week ahead
        sid = v.cw_schedule(
            "alpen", at(day - 7, 14), at(day, 8), 3.0, "Wartungseinsatz", "Einsatz", "Erledigt"
        )
        v.work[f"connectwise:schedule:{sid}"] = "proactive"
        v.cw_time(
            "alpen",
            at(day, 8),
            3.0,
            "tberg",
            "Wartung",
            None,
            "proactive",
            "Monatliche Wartung vor Ort",
        )
    # stale low-severity alerts left open for weeks at the site; the tickets in between
    # name no device and are about something else: not late reporting
    r.ninja_alert(
        "alpen",
        1117,
        "ALPEN-WS-17",
        at(14, 4),
        at(40, 4),
        "3 updates pending reboot",
        "MINOR",
        "Patch Status",
    )
    r.ninja_alert(
        "alpen",
        1122,
        "ALPEN-WS-22",
        at(28, 4),
        at(44, 4),
        "Disk active time above 90%",
        "MINOR",
        "Disk Active Time",
    )
    # the MSP reinstalled the agent on a known PC: a new node id, not a new device
    r.ninja_alert("alpen", 1120, "ALPEN-WS-20", at(2, 12), at(2, 12.2), "CPU above 90%")
    r.ninja_node("alpen", 1199, "ALPEN-WS-20", at(36, 10), "ALPEN\\k.maier", "WINDOWS_WORKSTATION")
    v.health["alpen"] = "green"


def cedar() -> None:
    """Genuinely late reporter: each problem sat in the RMM 9+ days before the call."""
    hosts = [(1300 + i, f"CEDAR-WS-{i:02d}") for i in range(1, 21)]
    r.noisy_ninja("cedar", hosts, 1.0)
    late = []
    cases = [
        (
            3,
            13,
            1302,
            "CEDAR-RECEP-02",
            "Disk C: free space below 5%",
            "Disk Free Space",
            "Empfangs-PC CEDAR-RECEP-02 extrem langsam, Programme speichern nicht mehr",
            2,
        ),
        (
            17,
            27,
            1350,
            "CEDAR-SRV-01",
            "Backup job failed",
            "Backup",
            "Seit Tagen Backup-Meldungen auf CEDAR-SRV-01, jetzt ist eine Datei weg",
            1,
        ),
        (
            30,
            40,
            1307,
            "CEDAR-WS-07",
            "SMART: disk failure predicted",
            "Disk Health",
            "CEDAR-WS-07 startet nicht mehr, Behandlungsraum 3 steht",
            1,
        ),
    ]
    for a_day, t_day, dev, host, subj, src, summary, prio in cases:
        r.ninja_alert("cedar", dev, host, at(a_day, 6.3), at(t_day, 15.0), subj, "MAJOR", src)
        late.append(
            v.cw_ticket(
                "cedar",
                at(t_day, 9.1),
                summary,
                prio=prio,
                where="Vor Ort" if prio == 1 else "Fernwartung",
                hours=1.5,
                tech="tberg",
                work_type="Vor-Ort-Einsatz",
            )
        )
    # the MSP replaced the dead PC under the same name the day after the incident ticket
    r.ninja_node("cedar", 1399, "CEDAR-WS-07", at(41, 12), "CEDAR\\raum3", "WINDOWS_WORKSTATION")
    # same-day onsite visit for the outage: reactive
    sid = v.cw_schedule(
        "cedar", at(40, 9.5), at(40, 11), 2.0, "Einsatz WS-07", "Einsatz", "Erledigt"
    )
    v.work[f"connectwise:schedule:{sid}"] = "reactive"
    for day, summary in (
        (8, "Neue Mitarbeiterin Empfang: Konto anlegen"),
        (22, "Bitte zweiten Bildschirm für Labor bestellen"),
    ):
        v.cw_ticket(
            "cedar",
            at(day, 10),
            summary,
            typ="Serviceanfrage",
            source="Kundenportal",
            by="Kundenportal",
        )
    v.signals.append(
        {
            "client": "cedar",
            "behaviour": "late_reporting",
            "evidence": [f"connectwise:ticket:{t}" for t in late],
        }
    )
    v.health["cedar"] = "yellow"


def elm() -> None:
    """Calls and mails technicians directly; a few desk tickets too."""
    r.noisy_datto("elm", [f"ELM-PC-{i:02d}" for i in range(1, 16)], 0.7)
    direct = []
    calls = [
        (2, "telefon", "mkraus", "Herr Ulm rief Max an: VPN geht nicht"),
        (6, "mail", "tberg", "Mail von Frau Weber an Tom: Scanner scannt nicht in Ordner"),
        (11, "telefon", "mkraus", "Anruf auf Handy: Buchhaltungssoftware hängt"),
        (15, "mail", "mkraus", "Frau Weber per Mail an Max: Drucker offline"),
        (20, "telefon", "tberg", "Herr Ulm rief Tom an: E-Mails kommen nicht an"),
        (31, "telefon", "mkraus", "Anruf Herr Ulm: DATEV startet nicht"),
        (36, "mail", "tberg", "Direkt an Tom: Laptop Akku lädt nicht"),
        (41, "telefon", "mkraus", "Anruf auf Handy: Kennwort abgelaufen, gesperrt"),
    ]
    for day, how, tech, summary in calls:
        src = "Telefon" if how == "telefon" else "Direkt-E-Mail"
        tid = v.cw_ticket("elm", at(day, 16.2), summary, source=src, by=tech, tech=tech)
        direct.append(f"connectwise:ticket:{tid}")
    for day, tech in ((8, "mkraus"), (26, "tberg")):  # time with no ticket: a direct call
        eid = v.cw_time(
            "elm",
            at(day, 17.5),
            0.5,
            tech,
            "Fernwartung",
            None,
            "reactive",
            "Anruf von Elm auf dem Handy, Outlook-Hilfe",
        )
        direct.append(f"connectwise:time:{eid}")
    for day, summary in (
        (4, "Bitte neuen Benutzer für Azubi anlegen"),
        (24, "Monitor flackert Empfang"),
    ):
        v.cw_ticket("elm", at(day, 9), summary, typ="Serviceanfrage" if day == 4 else "Störung")
    v.signals.append({"client": "elm", "behaviour": "direct_to_tech", "evidence": direct})
    # vCIO recommendations left unanswered past their due date
    ignored = [
        v.cw_recommendation("elm", at(5, 14), at(20, 17), "Firewall ersetzen (End of Life)"),
        v.cw_recommendation("elm", at(12, 14), at(30, 17), "MFA für alle Konten einführen"),
    ]
    v.signals.append(
        {
            "client": "elm",
            "behaviour": "ignored_recommendation",
            "evidence": [f"connectwise:ticket:{t}" for t in ignored],
        }
    )
    v.health["elm"] = "red"  # two habits
