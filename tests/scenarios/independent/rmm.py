"""RMM bodies (NinjaOne, Datto RMM, Tactical RMM) exactly as domain.md documents them."""

from __future__ import annotations

from datetime import datetime, timedelta

from vendors import DAYS, RNG, at, iso, send, uid

# ---------------------------------------------------------------- NinjaOne
NINJA_ORG = {"alpen": 11, "cedar": 13, "fjord": 16, "grove": 17, "heron": 18, "ivy": 19}
_nact = [2_000_000]


def ninja_dev(org_client: str, dev_id: int, host: str, cls: str = "WINDOWS_WORKSTATION") -> dict:
    return {
        "id": dev_id,
        "organizationId": NINJA_ORG[org_client],
        "locationId": 1,
        "nodeClass": cls,
        "displayName": host,
        "systemName": host,
        "dnsName": f"{host.lower()}.local",
    }


def ninja_alert(
    client: str,
    dev_id: int,
    host: str,
    t: datetime,
    reset: datetime | None,
    subject: str,
    severity: str = "MODERATE",
    source_name: str = "CPU",
) -> str:
    series = uid("ninja", client, dev_id, t)
    dev = ninja_dev(client, dev_id, host)
    org = {"id": NINJA_ORG[client], "name": client.title()}
    for status, when in (("TRIGGERED", t), ("RESET", reset)):
        if when is None:
            continue
        _nact[0] += RNG.randint(1, 9)
        body = {
            "id": _nact[0],
            "activityTime": int(when.timestamp()),
            "deviceId": dev_id,
            "severity": severity,
            "priority": "HIGH" if severity in ("MAJOR", "CRITICAL") else "MEDIUM",
            "seriesUid": series,
            "activityType": "CONDITION",
            "statusCode": status,
            "status": status.title(),
            "sourceConfigUid": uid("cfg", source_name),
            "sourceName": source_name,
            "subject": subject,
            "message": subject if status == "TRIGGERED" else f"{subject}: back to normal",
            "type": "Condition",
            "device": dev,
            "organization": org,
        }
        send(when, "ninjaone", body, lag_s=3)
    return series


def ninja_node(client: str, dev_id: int, host: str, t: datetime, user: str, cls: str) -> int:
    _nact[0] += 5
    dev = ninja_dev(client, dev_id, host, cls)
    dev["lastLoggedInUser"] = user
    body = {
        "id": _nact[0],
        "activityTime": int(t.timestamp()),
        "deviceId": dev_id,
        "activityType": "SYSTEM",
        "statusCode": "NODE_CREATED",
        "status": "Node created",
        "message": f"Device {host} was added to {client.title()}",
        "type": "System",
        "device": dev,
    }
    send(t, "ninjaone", body)
    return _nact[0]


def ninja_software(client: str, dev_id: int, host: str, t: datetime, name: str) -> int:
    _nact[0] += 5
    body = {
        "id": _nact[0],
        "activityTime": int(t.timestamp()),
        "deviceId": dev_id,
        "activityType": "MONITOR",
        "statusCode": "SOFTWARE_ADDED",
        "status": "Software added",
        "message": f"Software '{name}' version '8.1.2' was installed",
        "type": "Monitor",
        "data": {
            "message": {
                "code": "agent_act_software_added",
                "params": {"name": name, "version": "8.1.2"},
            }
        },
        "device": ninja_dev(client, dev_id, host),
        "organization": {"id": NINJA_ORG[client], "name": client.title()},
    }
    send(t, "ninjaone", body)
    return _nact[0]


def noisy_ninja(client: str, hosts: list[tuple[int, str]], per_day: float) -> None:
    """Self-healing alerts: fire, reset minutes later, nothing to do with any ticket."""
    subjects = [
        ("CPU", "CPU utilisation above 90% for 5 minutes"),
        ("Memory", "Memory utilisation above 95%"),
        ("Disk Active Time", "Disk active time above 90%"),
        ("Windows Event", "Event 7031 Service Control Manager"),
    ]
    for d in range(DAYS):
        for _ in range(int(per_day) + (RNG.random() < per_day % 1)):
            dev_id, host = RNG.choice(hosts)
            src, subj = RNG.choice(subjects)
            t = at(d, RNG.uniform(0, 23.5))
            ninja_alert(
                client,
                dev_id,
                host,
                t,
                t + timedelta(minutes=RNG.randint(3, 25)),
                subj,
                "MINOR",
                src,
            )


# ---------------------------------------------------------------- Datto / Tactical
DATTO_SITE = {
    "birch": uid("datto-site", "birch"),
    "elm": uid("datto-site", "elm"),
    "kestrel": uid("datto-site", "kestrel"),
}
DATTO_NAME = {"birch": "Birch Legal", "elm": "Elm Accounting", "kestrel": "Kestrel Engineering"}


def datto_alert(
    client: str,
    host: str,
    t: datetime,
    resolved: datetime | None,
    typ: str,
    msg: str,
    prio: str = "Moderate",
) -> str:
    auid = uid("datto", client, host, t)
    base = {
        "alert_uid": auid,
        "alert_type": typ,
        "alert_category": typ.split()[0],
        "alert_priority": prio,
        "alert_message_en": msg,
        "device_uid": uid("datto-dev", client, host),
        "device_hostname": host,
        "device_ip": f"10.{len(client)}.0.{sum(map(ord, host)) % 250}",
        "last_user": f"{client.upper()}\\user",
        "site_uid": DATTO_SITE[client],
        "site_name": DATTO_NAME[client],
        "platform": "merlot",
    }
    send(t, "dattormm", {"status": "raised", **base, "timestamp": iso(t)})
    if resolved:
        send(
            resolved,
            "dattormm",
            {"status": "resolved", **base, "timestamp": str(int(resolved.timestamp() * 1000))},
        )
    return auid


def noisy_datto(client: str, hosts: list[str], per_day: float) -> None:
    kinds = [
        ("Performance Monitor", "CPU usage above 95% for 10 minutes"),
        ("Online Status Monitor", "Device went offline"),
        ("Antivirus Monitor", "Definitions older than 2 days"),
    ]
    for d in range(DAYS):
        for _ in range(int(per_day) + (RNG.random() < per_day % 1)):
            typ, msg = RNG.choice(kinds)
            t = at(d, RNG.uniform(0, 23.5))
            datto_alert(
                client,
                RNG.choice(hosts),
                t,
                t + timedelta(minutes=RNG.randint(2, 30)),
                typ,
                msg,
                "Low",
            )


_tac = [9100]


def tactical(
    client: str,
    cname: str,
    host: str,
    t: datetime,
    resolved: datetime | None,
    typ: str,
    msg: str,
    sev: str = "warning",
    site: str = "Main",
) -> str:
    _tac[0] += 1
    aid = str(_tac[0])
    body = {
        "event": "trigger",
        "alert_id": aid,
        "alert_type": typ,
        "severity": sev,
        "alert_time": t.strftime("%Y-%m-%d %H:%M:%S.%f+00:00"),
        "resolved_on": "None",
        "message": msg,
        "agent_id": uid("agent", host)[:20],
        "hostname": host,
        "client": cname,
        "site": site,
    }
    send(t, "tacticalrmm", body)
    if resolved:
        send(
            resolved,
            "tacticalrmm",
            dict(
                body, event="resolved", resolved_on=resolved.strftime("%Y-%m-%d %H:%M:%S.%f+00:00")
            ),
        )
    return aid
