"""Independent scenario for issue 12 (twelve clients, 45 days, a German-speaking MSP).

Written only from ../../shared/scenario-format.md, domain.md and the tenant-file
documentation (no code of services/), to find where the behaviour detectors over-fire or
miss. Truth is what each client persona did, judged as an account manager would.

Run: python tests/scenarios/independent/generate.py  (stdlib + pyyaml; deterministic).
"""

from __future__ import annotations

import json
import sys
from datetime import timedelta
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import vendors as v  # noqa: E402
from vendors import at  # noqa: E402

SIG: list[dict] = []
HEALTH: dict[str, str] = {}


def alpen() -> None:
    """Good partner, noisy RMM: self-healing alerts everywhere, tickets about other things."""
    hosts = [(1100 + i, f"ALPEN-WS-{i:02d}") for i in range(1, 31)] + [(1150, "ALPEN-SRV-01")]
    v.noisy_ninja("alpen", hosts, 3.0)
    # a CPU alert on WS-05 resolved in 9 minutes, two days before an unrelated Outlook ticket
    v.ninja_alert("alpen", 1105, "ALPEN-WS-05", at(10, 11.2), at(10, 11.35), "CPU above 90%")
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
    v.ninja_alert("alpen", 1150, "ALPEN-SRV-01", at(23, 7.0), at(23, 9.5),
                  "Device ALPEN-SRV-01 is offline", "CRITICAL", "Offline")
    v.cw_ticket("alpen", at(23, 7.17), "Server ALPEN-SRV-01 nicht erreichbar, niemand kann "
                "arbeiten", prio=1, source="Telefon", by="telefonzentrale", where="Vor Ort",
                hours=2.0, tech="tberg", work_type="Vor-Ort-Einsatz")
    # RMM automation ticket: reactive work found by the MSP first
    v.cw_ticket("alpen", at(30, 2.0), "Disk C: below 10% on ALPEN-SRV-01", source="Überwachung",
                by="RMM Integration", configs=["ALPEN-SRV-01"], hours=0.5, tech="mkraus")
    # technicians' own follow-ups (German follow-up channel and words)
    v.cw_ticket("alpen", at(24, 10.0), "Wiedervorlage: Backup-Job nach Serverausfall prüfen",
                typ="Wartung", source="Nachverfolgung", by="tberg", tech="tberg",
                work_type="Wartung")
    v.cw_ticket("alpen", at(13, 15.0), "Nachtrag: Druckertreiber auf ALPEN-WS-12 nachinstallieren",
                source="Nachverfolgung", by="lvogt")
    for day in (5, 33):  # monthly maintenance visit, booked a week ahead
        sid = v.cw_schedule("alpen", at(day - 7, 14), at(day, 8), 3.0, "Wartungseinsatz",
                            "Einsatz", "Erledigt")
        v.work[f"connectwise:schedule:{sid}"] = "proactive"
        v.cw_time("alpen", at(day, 8), 3.0, "tberg", "Wartung", None, "proactive",
                  "Monatliche Wartung vor Ort")
    # stale low-severity alerts left open for weeks at the site; the tickets in between
    # name no device and are about something else: not late reporting
    v.ninja_alert("alpen", 1117, "ALPEN-WS-17", at(14, 4), at(40, 4),
                  "3 updates pending reboot", "MINOR", "Patch Status")
    v.ninja_alert("alpen", 1122, "ALPEN-WS-22", at(28, 4), at(44, 4),
                  "Disk active time above 90%", "MINOR", "Disk Active Time")
    # the MSP reinstalled the agent on a known PC: a new node id, not a new device
    v.ninja_alert("alpen", 1120, "ALPEN-WS-20", at(2, 12), at(2, 12.2), "CPU above 90%")
    v.ninja_node("alpen", 1199, "ALPEN-WS-20", at(36, 10), "ALPEN\\k.maier",
                 "WINDOWS_WORKSTATION")
    HEALTH["alpen"] = "green"


def cedar() -> None:
    """Genuinely late reporter: each problem sat in the RMM 9+ days before the call."""
    hosts = [(1300 + i, f"CEDAR-WS-{i:02d}") for i in range(1, 21)]
    v.noisy_ninja("cedar", hosts, 1.0)
    late = []
    cases = [
        (3, 13, 1302, "CEDAR-RECEP-02", "Disk C: free space below 5%", "Disk Free Space",
         "Empfangs-PC CEDAR-RECEP-02 extrem langsam, Programme speichern nicht mehr", 2),
        (17, 27, 1350, "CEDAR-SRV-01", "Backup job failed", "Backup",
         "Seit Tagen Backup-Meldungen auf CEDAR-SRV-01, jetzt ist eine Datei weg", 1),
        (30, 40, 1307, "CEDAR-WS-07", "SMART: disk failure predicted", "Disk Health",
         "CEDAR-WS-07 startet nicht mehr, Behandlungsraum 3 steht", 1),
    ]
    for a_day, t_day, dev, host, subj, src, summary, prio in cases:
        v.ninja_alert("cedar", dev, host, at(a_day, 6.3), at(t_day, 15.0), subj, "MAJOR", src)
        late.append(v.cw_ticket("cedar", at(t_day, 9.1), summary, prio=prio,
                                where="Vor Ort" if prio == 1 else "Fernwartung", hours=1.5,
                                tech="tberg", work_type="Vor-Ort-Einsatz"))
    # the MSP replaced the dead PC under the same name the day after the incident ticket
    v.ninja_node("cedar", 1399, "CEDAR-WS-07", at(41, 12), "CEDAR\\raum3",
                 "WINDOWS_WORKSTATION")
    # same-day onsite visit for the outage: reactive
    sid = v.cw_schedule("cedar", at(40, 9.5), at(40, 11), 2.0, "Einsatz WS-07", "Einsatz",
                        "Erledigt")
    v.work[f"connectwise:schedule:{sid}"] = "reactive"
    for day, summary in ((8, "Neue Mitarbeiterin Empfang: Konto anlegen"),
                         (22, "Bitte zweiten Bildschirm für Labor bestellen")):
        v.cw_ticket("cedar", at(day, 10), summary, typ="Serviceanfrage", source="Kundenportal",
                    by="Kundenportal")
    SIG.append({"client": "cedar", "behaviour": "late_reporting",
                "evidence": [f"connectwise:ticket:{t}" for t in late]})
    HEALTH["cedar"] = "yellow"


def elm() -> None:
    """Calls and mails technicians directly; a few desk tickets too."""
    v.noisy_datto("elm", [f"ELM-PC-{i:02d}" for i in range(1, 16)], 0.7)
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
        direct.append(f"connectwise:ticket:"
                      f"{v.cw_ticket('elm', at(day, 16.2), summary, source=src, by=tech, tech=tech)}")
    for day, tech in ((8, "mkraus"), (26, "tberg")):  # time with no ticket: a direct call
        eid = v.cw_time("elm", at(day, 17.5), 0.5, tech, "Fernwartung", None, "reactive",
                        "Anruf von Elm auf dem Handy, Outlook-Hilfe")
        direct.append(f"connectwise:time:{eid}")
    for day, summary in ((4, "Bitte neuen Benutzer für Azubi anlegen"),
                         (24, "Monitor flackert Empfang")):
        v.cw_ticket("elm", at(day, 9), summary, typ="Serviceanfrage" if day == 4 else "Störung")
    SIG.append({"client": "elm", "behaviour": "direct_to_tech", "evidence": direct})
    HEALTH["elm"] = "yellow"


def fjord() -> None:
    """Partner; the MSP cancelled and moved meetings at short notice, not the client."""
    v.noisy_ninja("fjord", [(1600 + i, f"FJORD-PC-{i:02d}") for i in range(1, 26)], 1.0)
    for booked, day, status, changed_h in ((0, 7, "Verschoben - MSP", 7.5),
                                           (7, 14, "Abgesagt - MSP", 8.0),
                                           (14, 21, "Erledigt", None)):
        v.cw_schedule("fjord", at(booked, 15), at(day, 10), 1.5, "Quartalsgespräch",
                      "Quartalsgespräch", status, tech="mkraus", where="Fernwartung",
                      changed=at(day, changed_h) if changed_h else None, meeting=True)
    v.cw_schedule("fjord", at(25, 9), at(30, 14), 0.5, "Monatstelefonat", "Telefonat",
                  "Abgesagt - MSP", tech="mkraus", where="Fernwartung", changed=at(30, 13.0),
                  meeting=True)
    v.cw_schedule("fjord", at(30, 13), at(33, 14), 0.5, "Monatstelefonat", "Telefonat",
                  "Erledigt", tech="mkraus", where="Fernwartung", meeting=True)
    for day, summary, typ in ((3, "Hafenbüro WLAN langsam", "Störung"),
                              (17, "Neues Diensthandy für Disponentin", "Serviceanfrage"),
                              (38, "Zugriff auf Frachtportal für neuen Kollegen",
                               "Serviceanfrage")):
        v.cw_ticket("fjord", at(day, 9), summary, typ=typ)
    # technicians open their own next step of a client's request, with no follow-up word
    v.cw_ticket("fjord", at(5, 11), "Hafenbüro: zweiten Access Point montieren", source="",
                by="mkraus", tech="mkraus")
    v.cw_ticket("fjord", at(19, 11), "Diensthandy Disponentin: MDM-Profil einspielen",
                typ="Serviceanfrage", source="", by="tberg", tech="tberg")
    HEALTH["fjord"] = "green"


def grove() -> None:
    """No-shows and cancels its reviews (Autotask QBR queue), short notice."""
    v.noisy_ninja("grove", [(1700 + i, f"GROVE-LAB-{i:02d}") for i in range(1, 21)], 0.5)
    skipped = []
    for created, due, status, changed in ((1, at(8, 10), 18, at(8, 10.7)),
                                          (9, at(20, 10), 17, at(20, 7.25)),
                                          (21, at(34, 14), 17, at(34, 9.0))):
        skipped.append(v.at_ticket("grove", at(created, 11), "QBR Q4 - Grove School", ttype=1,
                                   source=2, prio=3, creator=v.AT_RES["mkraus"],
                                   queue=v.QBR_QUEUE, final_status=status, status_at=changed,
                                   extra={"dueDateTime": v.iso(due)}))
    v.at_ticket("grove", at(35, 11), "QBR Q4 - Grove School", ttype=1, source=2, prio=3,
                creator=v.AT_RES["mkraus"], queue=v.QBR_QUEUE, resolve_after_h=None,
                extra={"dueDateTime": v.iso(at(60, 10))})
    for day, title, tt, src in ((5, "Smartboard Raum 4 ohne Bild", 2, 4),
                                (15, "Accounts für neue Lehrkräfte", 1, -1),
                                (29, "Drucker Lehrerzimmer Papierstau", 2, 4)):
        v.at_ticket("grove", at(day, 8), title, ttype=tt, source=src)
    SIG.append({"client": "grove", "behaviour": "skipped_meeting",
                "evidence": [f"autotask:ticket:{t}" for t in skipped]})
    HEALTH["grove"] = "yellow"


def heron() -> None:
    """Announces every new device with a procurement/onboarding ticket naming it or its user."""
    v.noisy_ninja("heron", [(1800 + i, f"HERON-PC-{i:02d}") for i in range(1, 16)], 0.5)
    v.cw_ticket("heron", at(5, 9), "Neuer Laptop für Ana Silva (Einrichtung)",
                typ="Serviceanfrage", source="Kundenportal", by="Kundenportal", hours=1.0)
    v.ninja_node("heron", 1821, "HERON-LT-21", at(8, 10), "HERON\\ana.silva", "WINDOWS_WORKSTATION")
    v.cw_ticket("heron", at(19, 9), "Bestellung: Ersatz für HERON-PC-04, neuer PC HERON-PC-22",
                typ="Serviceanfrage", source="Kundenportal", by="Kundenportal", hours=1.0)
    v.ninja_node("heron", 1822, "HERON-PC-22", at(24, 10), "HERON\\jonas.meier",
                 "WINDOWS_WORKSTATION")
    v.cw_ticket("heron", at(33, 9), "Onboarding neue Mitarbeiterin Clara Wolf ab Montag",
                typ="Serviceanfrage", source="E-Mail-Connector", hours=1.0)
    v.ninja_node("heron", 1823, "HERON-LT-23", at(37, 10), "HERON\\clara.wolf",
                 "WINDOWS_WORKSTATION")
    for day, summary in ((12, "Plotter druckt Pläne verschoben"), (28, "CAD-Lizenz abgelaufen")):
        v.cw_ticket("heron", at(day, 9), summary)
    # MSP-initiated proactive tickets a technician enters by hand
    v.cw_ticket("heron", at(14, 7), "Firmware-Update Firewall HERON-FW-01 (Wartungsfenster)",
                typ="Wartung", source="", by="tberg", tech="tberg", work_type="Wartung")
    v.cw_ticket("heron", at(40, 7), "Lifecycle: 4 PCs älter als 5 Jahre, Austausch planen",
                typ="Wartung", source="", by="lvogt", work_type="Wartung")
    HEALTH["heron"] = "green"


def ivy() -> None:
    """New devices and a remote-access tool appear with only unrelated requests before them."""
    v.noisy_ninja("ivy", [(1900 + i, f"IVY-BO-{i:02d}") for i in range(1, 6)], 0.4)
    v.cw_ticket("ivy", at(3, 9), "Passwort zurücksetzen Kasse 2", typ="Serviceanfrage")
    v.cw_ticket("ivy", at(9, 9), "Bitte Adobe Reader Update auf IVY-BO-02 installieren",
                typ="Serviceanfrage")
    v.ninja_node("ivy", 1907, "IVY-POS-07", at(11, 15), "IVY\\kasse7", "WINDOWS_WORKSTATION")
    v.cw_ticket("ivy", at(20, 9), "Papierstau Bondrucker Filiale Nord")
    v.ninja_node("ivy", 1908, "IVY-LT-08", at(25, 18), "IVY\\owner", "WINDOWS_WORKSTATION")
    v.ninja_software("ivy", 1901, "IVY-BO-01", at(29, 20), "AnyDesk")
    v.cw_ticket("ivy", at(35, 9), "Kassensystem langsam beim Tagesabschluss")
    SIG.append({"client": "ivy", "behaviour": "unannounced_change",
                "evidence": ["ninjaone:device:1907", "ninjaone:device:1908",
                             "ninjaone:device:1901"]})
    HEALTH["ivy"] = "yellow"


def delta() -> None:
    """Co-managed: their IT logs tickets in Halo; our techs open their own follow-ups."""
    hosts = [f"DLT-WH-{i:02d}" for i in range(1, 21)]
    for d in range(v.DAYS):
        t = at(d, 3 + (d * 7) % 17)
        v.tactical("delta", "Delta Freight", hosts[d % 20], t, t + timedelta(minutes=6 + d % 11),
                   "check", f"{hosts[d % 20]} has a CPU Load check: above 90% that failed.")
    for i, day in enumerate((1, 5, 9, 14, 18, 25, 32, 39)):
        v.halo_ticket("delta", at(day, 8 + i % 3), ["Lagerscanner verbindet nicht",
                      "Neuer Benutzer Disposition", "Etikettendrucker Halle 2",
                      "Outlook-Signatur zentral", "SAP-Client Update verteilen",
                      "Switch Halle 3 Port defekt", "Zugang Lieferantenportal",
                      "Tablet Fahrer 12 sperren"][i], ttype=1 if i % 2 == 0 else 4, agent=9,
                      who="Priya Shah")
    v.halo_ticket("delta", at(7, 14), "Follow-up: toner drum replacement after last visit",
                  ttype=1, agent=4, who="Max Kraus")
    v.halo_ticket("delta", at(22, 14), "Nachtrag: Firewall-Regel für Lagerscanner", ttype=1,
                  agent=5, who="Lena Vogt")
    v.halo_ticket("delta", at(29, 13), "Firewall firmware update (scheduled maintenance window)",
                  ttype=6, agent=6, who="Tom Berg", label="proactive", hours=1.0)
    for day in (11, 36):
        v.halo_ticket("delta", at(day, 9), "Kann nicht drucken", user_email="k.ahn@deltafreight.example",
                      who="K. Ahn")
    HEALTH["delta"] = "green"


def kestrel() -> None:
    """Noisy RMM; reports promptly (alert minutes before the ticket)."""
    hosts = [f"KES-CAD-{i:02d}" for i in range(1, 21)] + ["KES-PLOT-01"]
    v.noisy_datto("kestrel", hosts, 2.0)
    v.datto_alert("kestrel", "KES-PLOT-01", at(4, 8.17), at(4, 10), "Online Status Monitor",
                  "Device went offline", "High")
    v.halo_ticket("kestrel", at(4, 8.58), "Plotter-PC KES-PLOT-01 offline",
                  occurred=at(4, 8.1), user_email="office@kestrel.example", who="Office", prio=2)
    v.datto_alert("kestrel", "KES-CAD-03", at(22, 14), at(22, 17), "Disk Usage Monitor",
                  "Disk D: usage is 96%", "High")
    v.halo_ticket("kestrel", at(22, 15.2), "KES-CAD-03 Projektlaufwerk voll",
                  occurred=at(22, 14.5), user_email="cad@kestrel.example", who="CAD", prio=2)
    v.halo_ticket("kestrel", at(16, 10), "Scanner spinnt seit Montag", occurred=at(14, 8),
                  user_email="office@kestrel.example", who="Office")
    for day, summary in ((9, "New CAD workstation for intern"), (30, "Laptop for site visits"),
                         (40, "Add user to drawings share")):
        v.halo_ticket("kestrel", at(day, 10), summary, ttype=4,
                      user_email="office@kestrel.example", who="Office")
    HEALTH["kestrel"] = "green"


def birch() -> None:
    """Noisy Datto site; RMM makes tickets; the client sends service requests via the portal."""
    hosts = [f"BIRCH-LT-{i:02d}" for i in range(1, 31)]
    v.noisy_datto("birch", hosts, 2.5)
    v.datto_alert("birch", "BIRCH-LT-05", at(17, 13), at(17, 13.3), "Antivirus Monitor",
                  "Definitions older than 2 days", "Low")
    v.at_ticket("birch", at(19, 9), "BIRCH-LT-05: Word crashes when opening court templates",
                ttype=2, source=4)
    for day in range(3, v.DAYS, 4):
        h = hosts[day % 30]
        v.datto_alert("birch", h, at(day, 2), at(day, 5), "Disk Usage Monitor",
                      "Disk C: usage is 94%", "High")
        v.at_ticket("birch", at(day, 2.02), f"Disk C: usage 94% on {h}", ttype=5, source=8,
                    prio=1, creator=v.AT_AUTO, extra={"rmmAlertID": v.uid("datto", h, day)})
    # the MSP's own stale alerts (AV definitions, missing patches) open on a device for days
    # before the client reports a different problem on it: not late reporting
    for a_day, t_day, r_day, h, typ, msg, title in (
        (5, 15, 18, "BIRCH-LT-11", "Antivirus Monitor", "Definitions older than 7 days",
         "BIRCH-LT-11: Outlook very slow"),
        (25, 35, 44, "BIRCH-LT-23", "Patch Monitor", "12 patches missing",
         "BIRCH-LT-23 cannot print to 2nd floor printer"),
    ):
        v.datto_alert("birch", h, at(a_day, 3), at(r_day, 3), typ, msg, "Moderate")
        v.at_ticket("birch", at(t_day, 9), title, ttype=2, source=4)
    for day, title, tt, src in ((2, "New starter Monday: laptop and accounts for J. Patel", 1, -1),
                                (10, "Please set up the new meeting room display", 1, -1),
                                (24, "Outlook calendar not syncing on phone", 2, 4),
                                (38, "Quote for two replacement laptops", 1, -1)):
        v.at_ticket("birch", at(day, 9), title, ttype=tt, source=src)
    HEALTH["birch"] = "green"


def larch() -> None:
    """Quiet partner; a sudden critical outage reported within minutes of the alerts."""
    hosts = [f"LRH-FRONT-{i:02d}" for i in range(1, 13)]
    for d in range(0, v.DAYS, 1):
        t = at(d, 1 + (d * 5) % 20)
        v.tactical("larch", "Larch Hotels", hosts[d % 12], t, t + timedelta(minutes=4 + d % 9),
                   "check", f"{hosts[d % 12]} has a Memory check: above 85% that failed.")
    for i, h in enumerate(hosts[:6]):
        t = at(30, 6.83 + i * 0.01)
        v.tactical("larch", "Larch Hotels", h, t, at(30, 9.5), "availability",
                   f"{h} in Larch Hotels, East Wing is overdue.", "error", "East Wing")
    v.at_ticket("larch", at(30, 7.08), "Stromausfall Ostflügel - alle Rezeptions-PCs aus",
                ttype=2, source=2, prio=4)
    for day, title, tt in ((4, "Neues Kassenterminal Bar einrichten", 1),
                           (14, "WLAN Gäste Etage 3 schwach", 2)):
        v.at_ticket("larch", at(day, 10), title, ttype=tt, source=4)
    HEALTH["larch"] = "green"


def juniper() -> None:
    """Silent client: nothing at all in 45 days."""
    HEALTH["juniper"] = "green"


def main() -> None:
    for persona in (alpen, birch, cedar, delta, elm, fjord, grove, heron, ivy, juniper,
                    kestrel, larch):
        persona()
    rows = sorted(v.deliveries, key=lambda d: d["at"])
    # vendor retries (the same body again seconds later) and a little reordering
    out: list[dict] = []
    for i, row in enumerate(rows):
        out.append(row)
        if i % 37 == 5:
            out.append(dict(row))
    for i in range(10, len(out) - 1, 53):
        out[i], out[i + 1] = out[i + 1], out[i]
    with (v.OUT / "deliveries.jsonl").open("w") as f:
        for seq, row in enumerate(out, 1):
            f.write(json.dumps({"seq": seq, **row}, ensure_ascii=False) + "\n")
    truth = {"work": v.work, "signals": SIG, "health": HEALTH}
    (v.OUT / "truth.json").write_text(json.dumps(truth, indent=1, ensure_ascii=False) + "\n")
    tenant = yaml.safe_load((v.OUT / "tenant.base.yaml").read_text())
    (v.OUT / "tenant.yaml").write_text(
        "# Generated by generate.py from tenant.base.yaml (Datto site uids filled in).\n"
        + yaml.safe_dump(fill_datto(tenant), allow_unicode=True, sort_keys=False)
    )
    print(f"{len(out)} deliveries, {len(v.work)} work labels, {len(SIG)} signals")


def fill_datto(tenant: dict) -> dict:
    for c in tenant["clients"]:
        if c["id"] in v.DATTO_SITE:
            c["identities"]["dattormm"] = [v.DATTO_SITE[c["id"]]]
    return tenant


if __name__ == "__main__":
    main()
